"""Multiple choice: a blanked sentence and four options, one right, three of the same kind.

Distractors share the answer's entity label (and, for numbers and dates, its shape: a year is
offered among years), drawn from the same page first (they are plausible there), then from a
bounded pool of entities seen on earlier pages. Questions an early page cannot fill yet wait for
`finish()`, when the pool is complete.
"""

from __future__ import annotations

import random
from collections import OrderedDict, defaultdict
from collections.abc import Iterator

from joule.records import CLOZE_MASK
from rewriters.base import Rewriter
from rewriters.cloze import Cloze
from rewriters.spans import Blank, clean_span_text, page_rng

N_OPTIONS = 4
QUESTION = f"Which option fills the blank ({CLOZE_MASK})?"


def _word_shape(word: str) -> str:
    if any(c.isdigit() for c in word):
        return "d" if not any(c.isalpha() for c in word) else "dx"
    return "X" if word[:1].isupper() else "x"


def kind(label: str, text: str) -> tuple[str, str]:
    """What makes two entities interchangeable as options: the label plus a shape.

    With digits, the shape is word by word (number, number+letters, Capitalised, lower), so
    "March 1928" is offered among "February 1928", not "the 1920s" or "30 to 40 years";
    without digits, whether the name is capitalised after an optional "the", so "supreme court"
    is not offered against "the United States Court of Appeals".
    """
    if any(c.isdigit() for c in text):
        return label, " ".join(_word_shape(w) for w in text.split())
    head = text[4:] if text.startswith("the ") else text
    return label, "Capitalised" if head[:1].isupper() else "lower"


def _clash(a: str, b: str) -> bool:
    """Two options that are the same, or one inside the other ("Lincoln" / "Abraham Lincoln")."""
    a, b = a.casefold(), b.casefold()
    return a in b or b in a


class MultipleChoice(Rewriter):
    """Fields: `question`, `options` (4 strings), `answer_index` (0-3), `answer`.

    The right option's position cycles through shuffled blocks of A-D (seeded), so every letter
    is right equally often, up to one block.
    """

    name = "multiple_choice"
    version = 1
    corpus_wide = True    # the distractor pool, pending blanks and answer positions

    def __init__(self, seed: int = 0, max_per_page: int = 5, min_words: int = 6,
                 max_words: int = 40, max_answer_words: int = 5, pool_size: int = 200,
                 max_pending: int = 10000, entity_labels: list[str] | None = None):
        super().__init__(seed)
        # Blanks are the cloze rewriter's, restricted to entities (noun chunks have no type to
        # draw distractors of).
        self._cloze = Cloze(seed, max_per_page=max_per_page, min_words=min_words,
                            max_words=max_words, max_answer_words=max_answer_words,
                            noun_chunks=False, entity_labels=entity_labels)
        self._cloze.drops = self.drops
        self.max_per_page = max_per_page
        self.pool_size = pool_size
        self.max_pending = max_pending
        self._pool: dict[tuple[str, str], OrderedDict[str, None]] = defaultdict(OrderedDict)
        self._pending: list[tuple[dict, Blank]] = []
        self._positions: list[int] = []
        self._position_rng = random.Random(f"{seed}:{self.name}:positions")

    def _next_position(self) -> int:
        if not self._positions:
            self._positions = self._position_rng.sample(range(N_OPTIONS), N_OPTIONS)
        return self._positions.pop()

    def _distractors(self, blank: Blank, page_ents: dict, rng: random.Random) -> list[str] | None:
        key = kind(blank.label, blank.answer)
        sentence = blank.sentence.casefold()
        picked: list[str] = []

        def fits(text: str) -> bool:
            return (text.casefold() not in sentence and not _clash(text, blank.answer)
                    and not any(_clash(text, p) for p in picked))

        for source in (page_ents.get(key, ()), self._pool.get(key, ())):
            options = [t for t in source if fits(t)]
            rng.shuffle(options)
            for text in options:
                if len(picked) == N_OPTIONS - 1:
                    break
                if fits(text):
                    picked.append(text)
        return picked if len(picked) == N_OPTIONS - 1 else None

    def _record(self, page: dict, blank: Blank, distractors: list[str], source: str) -> dict:
        i = self._next_position()
        options = list(distractors)
        options.insert(i, blank.answer)
        meta = blank.meta() | {"distractors_from": source}
        return self.make_record(page, {"question": f"{QUESTION} {blank.cloze}",
                                       "options": options, "answer_index": i,
                                       "answer": blank.answer}, meta)

    def analyse(self, page: dict, doc) -> tuple:
        """(chosen blanks, the page's entities by kind, the page's rng): the per-page part,
        which needs no other page; `emit` does the rest in page order."""
        rng = page_rng(self.seed, self.name, page["id"])
        page_ents: dict[tuple[str, str], OrderedDict[str, None]] = defaultdict(OrderedDict)
        for ent in doc.ents:
            text = ent.text.strip()
            if text and "\n" not in text and clean_span_text(text):
                page_ents[kind(ent.label_, text)][text] = None
        chosen = self._cloze.candidates(page, doc, rng)
        if len(chosen) > self.max_per_page:
            self.drops["page_limit"] += len(chosen) - self.max_per_page
            chosen = sorted(rng.sample(chosen, self.max_per_page), key=lambda b: b.start)
        return chosen, dict(page_ents), rng

    def emit(self, page: dict, analysis: tuple) -> Iterator[dict]:
        """Records of one analysed page: distractors from the page, then from the pool of
        earlier pages (so pages must come in order); the page's entities then join the pool."""
        chosen, page_ents, rng = analysis
        stub = {"id": page["id"], "title": page["title"]}
        for blank in chosen:
            distractors = self._distractors(blank, page_ents, rng)
            if distractors is not None:
                yield self._record(page, blank, distractors, "page+corpus")
            elif len(self._pending) < self.max_pending:
                self._pending.append((stub, blank))
            else:
                self.drop("no_distractors")
        # The page's entities join the corpus pool only now: a page's own options come first.
        for key, texts in page_ents.items():
            pool = self._pool[key]
            for text in texts:
                pool.pop(text, None)
                pool[text] = None
            while len(pool) > self.pool_size:
                pool.popitem(last=False)

    def rewrite(self, page: dict, doc) -> Iterator[dict]:
        return self.emit(page, self.analyse(page, doc))

    def finish(self) -> Iterator[dict]:
        pending, self._pending = self._pending, []
        for page, blank in pending:
            rng = random.Random(f"{self.seed}:{self.name}:{page['id']}:finish:{blank.start}")
            distractors = self._distractors(blank, {}, rng)
            if distractors is None:
                self.drop("no_distractors")
            else:
                yield self._record(page, blank, distractors, "corpus")
