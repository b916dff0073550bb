"""Key facts: "Key facts about <title>" answered with the page's most informative sentences.

The rule: a sentence's score is its named entities per word (entity density: names, dates and
numbers are what a reader would want to recall). The top `max_facts` sentences of the lead
section (the page's summary) are taken; if the lead has fewer usable sentences, the best of the
rest of the page fill up. The facts are listed in page order, verbatim.
"""

from __future__ import annotations

from collections.abc import Iterator

from rewriters.base import Rewriter
from rewriters.spans import SentenceIndex, sentence_problem, word_count


def lead_end(page: dict, default: int) -> int:
    """Character offset where the lead section ends (the whole text when there are no sections)."""
    for section in page.get("sections") or ():
        if section["title"] == "" and section["level"] == 1:
            return int(section["end"])
    return default


class KeyFacts(Rewriter):
    """One record per page: field `facts`, a list of sentences copied from the page."""

    name = "key_facts"
    version = 1

    def __init__(self, seed: int = 0, max_facts: int = 5, min_facts: int = 2,
                 min_words: int = 6, max_words: int = 45, min_entities: int = 1):
        super().__init__(seed)
        self.max_facts = max_facts
        self.min_facts = min_facts
        self.min_words = min_words
        self.max_words = max_words
        self.min_entities = min_entities

    def rewrite(self, page: dict, doc) -> Iterator[dict]:
        end_of_lead = lead_end(page, len(doc.text))
        scored = []   # (in lead, density, -position, sentence span)
        index = SentenceIndex.of(doc)
        for sent, ents in zip(index.sents, index.ents, strict=True):
            # Facts are read as a list after the title, so a leading "He" still has its referent.
            problem = sentence_problem(sent, self.min_words, self.max_words,
                                       allow_pronoun_start=True)
            if problem:
                self.drop(problem)
                continue
            n_ents = len(ents)
            if n_ents < self.min_entities:
                self.drop("too_few_entities")
                continue
            scored.append((sent.start_char < end_of_lead, n_ents / word_count(sent),
                           -sent.start_char, sent))
        if len(scored) < self.min_facts:
            self.drop("too_few_facts")
            return
        best = sorted(scored, key=lambda s: s[:3], reverse=True)[: self.max_facts]
        best.sort(key=lambda s: -s[2])
        facts = [s[3].text.strip() for s in best]
        meta = {"rule": "entity_density_lead_first",
                "sentences": [[s[3].start_char, s[3].end_char] for s in best],
                "from_lead": sum(1 for s in best if s[0])}
        yield self.make_record(page, {"facts": facts}, meta)
