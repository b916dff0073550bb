"""Extractive QA over a retrieved passage: the question is made from one sentence of the page and
asked of another paragraph whose sentence holds the same answer and shares the question's words.

Rule-made questions copy their sentence, so a reader trained on them learns string lookup, while
people's questions paraphrase the passage. Asking the question of a different sentence that states
the same answer (Fabbri et al. 2020, "Template-Based Question Generation from Retrieved Sentences
for Improved Unsupervised Question Answering") lowers the overlap between the question and the
sentence that answers it. The source sentence must not be in the passage, so the copy is not there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from spacy.lang.en.stop_words import STOP_WORDS

from rewriters.question_words import NOUN_CHUNK
from rewriters.questions import Question, QuestionRewriter, paragraph_bounds

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def content_words(text: str) -> set[str]:
    """Lower-cased words of `text` that are not stop words."""
    return {w for w in (m.group().lower() for m in _WORD.finditer(text)) if w not in STOP_WORDS}


class QARetrieved(QuestionRewriter):
    """Records with `context`, `question`, `answer`, `answer_start`, like `qa_extractive`, but the
    context is the paragraph of a retrieved sentence, not of the question's own sentence.

    For each generated question (entity answers only: a noun chunk such as "the city" repeats with
    other meanings), the page's other sentences that contain the answer as whole words are
    candidates; a candidate must share at least `min_shared` of the question's content words
    (answer words left out, its words or lemmas) and at least `min_share` of them, and lie outside
    the source sentence's paragraph. The best candidate (most shared words, then nearest the
    source) gives the context. Drop reasons: `noun_chunk_answer`,
    `no_retrieved_sentence`, `source_in_paragraph`.
    Knobs beyond `QuestionRewriter`'s: min_shared (words), min_share (0-1).
    """

    name = "qa_retrieved"

    def __init__(self, min_shared: int = 2, min_share: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.min_shared, self.min_share = min_shared, min_share

    def rewrite(self, page: dict, doc) -> Iterator[dict]:
        text = page["text"]
        sentences = [(s.start_char, s.end_char,
                      {t.lower_ for t in s} | {t.lemma_.lower() for t in s}) for s in doc.sents]
        for q in self.questions(page, doc):
            if q.label == NOUN_CHUNK:
                self.drop("noun_chunk_answer")
                continue
            found = self.retrieve(text, q, sentences)
            if isinstance(found, str):
                self.drop(found)
                continue
            at, shared = found
            start, end = paragraph_bounds(text, at)
            yield self.make_record(
                page,
                {"context": text[start:end], "question": q.question, "answer": q.answer,
                 "answer_start": at - start},
                {**self.meta(q), "context_start": start, "retrieved_at": at,
                 "shared_words": sorted(shared)})

    def retrieve(self, text: str, q: Question,
                 sentences: list[tuple[int, int, set[str]]]) -> tuple[int, set[str]] | str:
        """(answer offset in the page, shared words) of the best other sentence, or a reason."""
        asked = content_words(q.question) - content_words(q.answer)
        pattern = re.compile(rf"(?<!\w){re.escape(q.answer)}(?!\w)")
        source_start, source_end = paragraph_bounds(text, q.sent_start)
        best, beside_source = None, False
        for start, end, words in sentences:
            shared = asked & words
            if len(shared) < self.min_shared or len(shared) < self.min_share * len(asked):
                continue
            hit = pattern.search(text, start, end)
            if hit is None or start <= q.answer_start < end:
                continue   # no answer here, or the source sentence itself
            if source_start <= start < source_end:
                beside_source = True   # the source sentence would be in the passage
                continue
            rank = (len(shared), -abs(start - q.sent_start))
            if best is None or rank > best[0]:
                best = (rank, hit.start(), shared)
        if best is None:
            return "source_in_paragraph" if beside_source else "no_retrieved_sentence"
        return best[1], best[2]
