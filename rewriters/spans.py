"""Sentence and span rules shared by the rule-based formats (cloze, multiple choice, key facts).

Cheap checks on spaCy's parse, run for every sentence of every page: they must cost little next
to the parse itself (the rewrite stage aims at >= 90% of bare `nlp.pipe` throughput).
"""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from joule.records import CLOZE_MASK

# A sentence must end like one; anything else is a caption, a list item or a cut-off fragment.
SENTENCE_END = ".!?"
# Letters in non-Latin scripts above this share mean the text is not English: the English
# pipeline's entities and parse are noise there.
MAX_NON_LATIN_SHARE = 0.1
# A subject pronoun or demonstrative at the start leaves a lone sentence without its referent
# ("He was born in ____.") so a reader cannot know what it is about.
UNRESOLVED_STARTS = frozenset({"he", "she", "it", "they", "this", "these", "those", "his", "her",
                               "its", "their", "there"})


def page_rng(seed: int, name: str, page_id: str) -> random.Random:
    """A generator that depends only on (seed, rewriter, page): a page's records do not change
    when other pages are added, removed or reordered."""
    return random.Random(f"{seed}:{name}:{page_id}")


def balanced(text: str) -> bool:
    """Brackets pair up and straight double quotes come in pairs: an unpaired one means the
    sentence splitter cut through a quotation or parenthesis."""
    return (text.count("(") == text.count(")") and text.count("[") == text.count("]")
            and text.count('"') % 2 == 0 and text.count("“") == text.count("”"))


# Two lower-case letters then a capital inside a word: words glued together where markup was
# removed ("ClarkDarrell"); "McDonald" passes.
GLUED = re.compile(r"[a-z]{2}[A-Z]")


def clean_span_text(text: str) -> bool:
    """A span fit to be an answer or an option: no unpaired quotes or brackets, no leftover wiki
    quote markup (''), no glued words."""
    return balanced(text) and "''" not in text and not GLUED.search(text)


def non_latin_share(text: str) -> float:
    """Share of letters outside Latin script (approximated as: non-ASCII and not a Latin letter
    with a diacritic, i.e. code point above U+024F)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if ord(c) > 0x024F) / len(letters)


class SentenceIndex:
    """A doc's sentences with their entities and noun chunks, computed once per doc and shared
    by every rewriter (kept in `doc.user_data`).

    Why: `Span.ents` and `Span.noun_chunks` each walk the whole doc, so asking every sentence
    for them costs time quadratic in the page length; bucketing `doc.ents` and
    `doc.noun_chunks` by sentence once is linear.
    """

    KEY = "joule.sentence_index"

    def __init__(self, doc):
        self.doc = doc
        self.sents = list(doc.sents) if len(doc) else []
        self._starts = [s.start for s in self.sents]
        flags = doc.to_array(["IS_PUNCT", "IS_SPACE"]) if len(doc) else np.zeros((0, 2))
        content = ~(flags[:, 0].astype(bool) | flags[:, 1].astype(bool))
        self._words = np.concatenate([[0], np.cumsum(content)])
        self.ents = self._bucket(doc.ents)
        self._chunks = None

    @classmethod
    def of(cls, doc) -> SentenceIndex:
        index = doc.user_data.get(cls.KEY)
        if index is None or index.doc is not doc:
            index = doc.user_data[cls.KEY] = cls(doc)
        return index

    def _bucket(self, spans) -> list[list]:
        out = [[] for _ in self.sents]
        for span in spans:
            out[bisect_right(self._starts, span.start) - 1].append(span)
        return out

    def chunks(self, i: int) -> list:
        """Noun chunks starting in sentence `i` (computed for the whole doc on first use)."""
        if self._chunks is None:
            self._chunks = self._bucket(self.doc.noun_chunks)
        return self._chunks[i]

    def span_ents(self, span) -> list:
        """What `span.ents` returns for a sentence or a span inside one (the entities lying
        wholly inside it), from the buckets."""
        return [e for e in self._bucket_of(span, self.ents) if e.start >= span.start
                and e.end <= span.end]

    def span_chunks(self, span) -> list:
        """What `span.noun_chunks` returns for a sentence or a span inside one, from the
        buckets (spaCy's own property re-runs the chunker over the whole doc every call)."""
        if self._chunks is None:
            self._chunks = self._bucket(self.doc.noun_chunks)
        return [c for c in self._bucket_of(span, self._chunks) if c.start >= span.start
                and c.end <= span.end]

    def _bucket_of(self, span, buckets: list[list]) -> list:
        """The bucket of the sentence `span` starts in."""
        if not self.sents:
            return []
        return buckets[bisect_right(self._starts, span.start) - 1]

    def words(self, span) -> int:
        """Tokens of `span` that are neither punctuation nor whitespace."""
        return int(self._words[span.end] - self._words[span.start])


def word_count(span) -> int:
    """Tokens that are neither punctuation nor whitespace."""
    return SentenceIndex.of(span.doc).words(span)


def sentence_problem(sent, min_words: int, max_words: int,
                     allow_pronoun_start: bool = False) -> str | None:
    """Why `sent` (a spaCy Span) is unfit to stand alone as a training sentence, or None."""
    text = sent.text.strip()
    if not text:
        return "empty_sentence"
    n = word_count(sent)
    if n < min_words:
        return "sentence_too_short"
    if n > max_words:
        return "sentence_too_long"
    if "\n" in text:
        return "spans_paragraphs"
    if not text[0].isupper():
        return "fragment_start"
    if text[-1] not in SENTENCE_END:
        return "no_final_punctuation"
    if CLOZE_MASK in text:
        return "mask_in_text"
    if not balanced(text):
        return "unbalanced_brackets"
    if non_latin_share(text) > MAX_NON_LATIN_SHARE:
        return "non_latin_text"
    if not allow_pronoun_start and sent[0].lower_ in UNRESOLVED_STARTS:
        return "unresolved_pronoun_start"
    return None


@dataclass(frozen=True)
class Blank:
    """A span of a sentence chosen to be masked. Offsets are characters into the page text."""

    sentence: str        # the sentence, stripped
    sent_start: int      # page offset of `sentence[0]`
    start: int           # page offset of the answer
    end: int             # page offset just past the answer
    label: str           # entity label, or NOUN_CHUNK
    rule: str            # "entity" or "noun_chunk"

    @property
    def answer(self) -> str:
        return self.sentence[self.start - self.sent_start:self.end - self.sent_start]

    @property
    def cloze(self) -> str:
        a, b = self.start - self.sent_start, self.end - self.sent_start
        return self.sentence[:a] + CLOZE_MASK + self.sentence[b:]

    def meta(self) -> dict:
        return {"sentence_start": self.sent_start,
                "sentence_end": self.sent_start + len(self.sentence),
                "answer_start": self.start, "answer_end": self.end,
                "label": self.label, "rule": self.rule}


def _noun_chunk_core(chunk):
    """A noun chunk without leading determiners/possessives ("the war" -> "war"): the determiner
    stays in the sentence as a cue, and the answer is the content words."""
    i = 0
    while i < len(chunk) and chunk[i].pos_ in ("DET", "PRON") and chunk[i].dep_ in ("det", "poss"):
        i += 1
    return chunk[i:]


def blanks(index: SentenceIndex, i: int, *, labels: frozenset[str] | None, noun_chunks: bool,
           max_answer_words: int) -> tuple[list[Blank], list[Blank]]:
    """(entity blanks, noun-chunk blanks) of sentence `i`, which passed `sentence_problem`.

    A span qualifies when it is at most `max_answer_words` words, its text occurs once in the
    sentence (so the blank is unambiguous and the answer is not left in plain sight), and it is
    not the whole sentence. Entities qualify when their label is in `labels` (None: any).
    """
    sent = index.sents[i]
    text = sent.text.strip()
    lead = len(sent.text) - len(sent.text.lstrip())
    s0 = sent.start_char + lead
    ents, chunks = [], []

    def make(span, label, rule):
        answer = span.text
        words = index.words(span)
        if (not answer or words == 0 or words > max_answer_words or not clean_span_text(answer)
                or text.count(answer) != 1 or len(answer) >= len(text) - 1):
            return None
        return Blank(text, s0, span.start_char, span.end_char, label, rule)

    ent_tokens = set()
    for ent in index.ents[i]:
        if labels is not None and ent.label_ not in labels:
            continue
        blank = make(ent, ent.label_, "entity")
        if blank:
            ents.append(blank)
            ent_tokens.update(range(ent.start, ent.end))
    if noun_chunks:
        for chunk in index.chunks(i):
            core = _noun_chunk_core(chunk)
            if (len(core) == 0 or core.root.pos_ == "PRON" or all(t.is_stop for t in core)
                    or any(t.i in ent_tokens for t in core)):
                continue
            blank = make(core, "NOUN_CHUNK", "noun_chunk")
            if blank:
                chunks.append(blank)
    return ents, chunks
