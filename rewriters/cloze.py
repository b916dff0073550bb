"""Cloze: a sentence of the page with one entity or noun chunk blanked out; the answer is the
blanked text (Lewis et al. 2019 train on such clozes before turning them into questions)."""

from __future__ import annotations

from collections.abc import Iterator

from rewriters.base import Rewriter
from rewriters.spans import Blank, SentenceIndex, blanks, page_rng, sentence_problem


class Cloze(Rewriter):
    """One record per chosen sentence: fields `cloze` (sentence with CLOZE_MASK) and `answer`.

    Per sentence: an entity is blanked when one qualifies (entities carry the facts a reader
    should recall), else a noun chunk. At most `max_per_page` sentences per page, drawn at
    random (seeded per page) and kept in page order.
    """

    name = "cloze"
    version = 1

    def __init__(self, seed: int = 0, max_per_page: int = 10, min_words: int = 6,
                 max_words: int = 40, max_answer_words: int = 6, noun_chunks: bool = True,
                 entity_labels: list[str] | None = None):
        super().__init__(seed)
        self.max_per_page = max_per_page
        self.min_words = min_words
        self.max_words = max_words
        self.max_answer_words = max_answer_words
        self.noun_chunks = noun_chunks
        self.entity_labels = frozenset(entity_labels) if entity_labels else None

    def candidates(self, page: dict, doc, rng) -> list[Blank]:
        """One blank per usable sentence, in page order; every unusable sentence is a drop."""
        out = []
        index = SentenceIndex.of(doc)
        for i, sent in enumerate(index.sents):
            problem = sentence_problem(sent, self.min_words, self.max_words)
            if problem:
                self.drop(problem)
                continue
            ents, chunks = blanks(index, i, labels=self.entity_labels, noun_chunks=self.noun_chunks,
                                  max_answer_words=self.max_answer_words)
            pool = ents or chunks
            if not pool:
                self.drop("no_span_to_blank")
                continue
            out.append(rng.choice(pool))
        return out

    def rewrite(self, page: dict, doc) -> Iterator[dict]:
        rng = page_rng(self.seed, self.name, page["id"])
        chosen = self.candidates(page, doc, rng)
        if len(chosen) > self.max_per_page:
            self.drops["page_limit"] += len(chosen) - self.max_per_page
            chosen = sorted(rng.sample(chosen, self.max_per_page), key=lambda b: b.start)
        for blank in chosen:
            yield self.make_record(page, {"cloze": blank.cloze, "answer": blank.answer},
                                   blank.meta())
