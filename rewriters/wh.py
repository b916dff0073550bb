"""Choosing the wh-phrase for an answer: "who", "when", "where", "how many <noun>", "how much",
"what percentage", "which <noun>" or "what", from the answer's entity label, its role and its
preposition; and the checks on the label itself (the small NER's persons, places and groups are
often wrong) and on the answer phrase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spacy.tokens import Span, Token

from rewriters.clause import keeps_capital
from rewriters.pronouns import Antecedent
from rewriters.question_words import (
    CONTEXT_WORDS,
    COUNT_LABELS,
    NAME_LABELS,
    NOT_NAME_WORDS,
    NOUN_CHUNK,
    VAGUE_HEADS,
    VOTED_LABELS,
    WHEN_LABELS,
    WHEN_PIED,
    WHEN_PREPS,
    WHERE_LABELS,
    WHERE_PREPS,
    WHERE_STRANDED,
    WHO_LABELS,
    is_person_noun,
)

if TYPE_CHECKING:
    from rewriters.clause import Clause


@dataclass(frozen=True)
class PageContext:
    """What a sentence's questions may use from the rest of its page.

    subject_name: the biography's subject (its title), or None;
    antecedent: what the current sentence's he/she subject stands for (`rewriters.pronouns`);
    None: not worked out yet (a sentence asked on its own: worked out from its own doc);
    people: words of the page's multi-word PERSON names ("Ayn Rand" -> "Ayn", "Rand"), which
    confirm a one-word PERSON ("Rand") and correct a one-word ORG or GPE that is really a person.
    """

    subject_name: str | None = None
    title: str = ""
    people: frozenset[str] = frozenset()
    majority: dict[str, str] = field(default_factory=dict)   # one-word name -> its usual label
    votes: dict[str, int] = field(default_factory=dict)   # one-word name -> mentions with it
    mentions: dict[str, int] = field(default_factory=dict)   # one-word name -> all its mentions
    antecedent: Antecedent | None = None


NO_PAGE = PageContext()   # a sentence asked about on its own: nothing known of its page


def wh_phrase(answer: Span, label: str, head: Token, phrase: list[Token], role: str,
              prep: Token | None) -> tuple[list[str], str, list[str]] | None:
    """(wh-words in front, the rule's name, words stranded at the end), or None when the
    preposition does not fit the wh-word."""
    p = prep.lower_ if prep is not None else None
    in_answer = {t.i for t in answer}
    # The answer's own modifiers ("up to" 250,000) go with it, not into the wh-phrase.
    with_answer = in_answer | {s.i for t in answer for c in t.children if c.dep_ != "prep"
                               for s in c.subtree}
    with_answer |= {s.i for c in head.children if c.dep_ in ("relcl", "acl") for s in c.subtree}
    rest = [t.text.lower() if not keeps_capital(t) else t.text for t in phrase
            if t.i not in with_answer and not (t.dep_ == "det" and t.head.i == head.i)
            and not t.is_punct]
    if label in WHEN_LABELS:
        if role == "subject" or role == "object":
            return None
        if p is None or p in WHEN_PREPS:
            return ["when"], "when", []
        if p in WHEN_PIED:
            return [p, "when"], "when", []
        return None
    if label in COUNT_LABELS:
        # "12 games" -> "how many games"; the noun phrase's own modifiers stay with it.
        words = ["how", "many", *rest]
        return ([p, *words] if p else words), "how_many", []
    if label == "MONEY":
        return ([p, "how", "much"] if p else ["how", "much"]), "how_much", []
    if label == "PERCENT":
        words = ["what", "percentage", *rest]
        return ([p, *words] if p else words), "what_percentage", []
    if label in WHERE_LABELS and role == "pp":
        if p in WHERE_PREPS:
            return ["where"], "where", []
        if p in WHERE_STRANDED:
            return ["where"], "where", [p]
    # A NORP answer got here only as a plural noun ("the Romans"): people.
    # A role after a copula or "elected" is asked with "what" ("What was Lincoln elected?").
    people = label in WHO_LABELS or label == "NORP" or (
        label == NOUN_CHUNK and is_person_noun(head) and head.dep_ not in ("attr", "oprd"))
    wh = "who" if people else "what"
    if label != NOUN_CHUNK and descriptor(head, in_answer) and wh == "what":
        wh_words, rule = ["which", descriptor(head, in_answer)], "which"
    else:
        wh_words, rule = [wh], wh
    return wh_words, rule, ([p] if p else [])


def descriptor(head: Token, in_answer: set[int]) -> str | None:
    """A common noun the answer entity is named by ("the river Thames" -> "river"), if any."""
    for t in head.children:
        if t.i not in in_answer and t.pos_ == "NOUN" and t.dep_ in ("compound", "appos") \
                and t.i < head.i:
            return t.lower_
    if head.i not in in_answer and head.pos_ == "NOUN":   # "the city of Paris" is not reached
        return head.lower_
    return None


def person_check(answer: Span, label: str, page: PageContext) -> str | None:
    """The label to ask with, or None for a PERSON the page does not confirm.

    The small pipeline's NER calls many one-word names PERSON that are not ("Earthrise") and
    many persons ORG ("Rand"); a one-word name counts as a person when it is a word of one of
    the page's multi-word PERSON names or of a biography's title.
    """
    words = page.people | set((page.subject_name or "").split())
    usual = page.majority.get(answer.text, label)
    place = usual in WHERE_LABELS   # "Aruba" inside "Queen Beatrix of Aruba" stays a place
    title_words = page.title.split()
    if len(answer) == 1 and answer.text in title_words:
        # The page's own name (or a word of it, "Apollo" of "Apollo 8"): the small NER guesses
        # its label ("Who consists of mountains?" Andorra; Achilles as GPE). On a biography
        # it is the person; elsewhere there is no telling.
        return "PERSON" if page.subject_name else None
    if label == "PERSON":
        if any(c.isdigit() for c in answer.text):
            return None
        if any(t.text.isupper() and len(t) > 1 or t.lower_ in NOT_NAME_WORDS for t in answer):
            return None   # "ANSI", "ASCII", "Webster Presbyterian": not people
        if len(answer) > 1:
            # "Sorani Kurdish": a word the page labels a group, a language or a place
            if any(page.majority.get(t.text) in ("NORP", "LANGUAGE", "GPE", "LOC")
                   for t in answer):
                return None
            return label
        return label if answer.text in words and not place else None
    if label == "NORP" and (answer.root.tag_ not in ("NNS", "NNPS") or answer.text.islower()
                            or answer.start == answer.sent.start):
        # "American" in "the American NC-4" is a modifier, not a group of people; a capital at
        # the start of a sentence says nothing ("Amphibians" is labelled NORP).
        return None
    if label in ("ORG", "GPE", "PRODUCT", "WORK_OF_ART") and len(answer) == 1 \
            and answer.text in words and not place:
        return "PERSON"
    if label in VOTED_LABELS and len(answer) == 1:
        # One-word names: the small NER often labels persons ORG or GPE (Herodotus, Achilles);
        # trust an acronym ORG, or a label the page gives the name at least twice, most often.
        if label == "ORG" and not answer.text.isupper():
            return None
        agree = page.votes.get(answer.text, 0)
        if usual != label or agree < 2 or 3 * agree < 2 * page.mentions.get(answer.text, 0):
            return None   # fewer than two mentions, or under two thirds, agree on the label
    return label


def person_inside(answer: Span, label: str, page: PageContext) -> bool:
    """Whether a multi-word name not labelled PERSON is made of words of the page's person
    names ("Ludwig Wittgenstein" as ORG): the small NER mislabels people, and "what"/"where"
    would then ask for a person."""
    if label == "PERSON" or label not in NAME_LABELS or len(answer) < 2:
        return False
    # Every word of the name: one shared word says little ("Jefferson County", "Lincoln
    # Memorial" on a page that names Thomas Jefferson and Abraham Lincoln).
    words = [t.text for t in answer if not t.is_stop and not t.is_punct]
    return len(words) > 1 and all(w in page.people for w in words)


def has_extra_modifier(answer: Span, head: Token) -> bool:
    """Whether the answer's phrase has a word in front that the answer lacks, other than a
    determiner or a naming common noun ("the river Thames" is fine)."""
    ids = {t.i for t in answer}
    for c in head.lefts:
        if c.i in ids or c.dep_ in ("det", "punct"):
            continue
        if c.pos_ == "NOUN" and c.dep_ in ("compound", "appos"):
            continue
        return True
    return False


def noun_phrase(chunk: Span, clause: Clause) -> Span | None:
    """The whole noun phrase a noun chunk heads ("the majority" -> "the majority of modern
    scholars"), within the clause; None for a vague or broken one."""
    head = chunk.root
    if head.lower_ in VAGUE_HEADS or head.is_stop or any(
            t.lower_ in CONTEXT_WORDS for t in chunk):
        return None
    ids = sorted(t.i for t in head.subtree if t.i not in clause.cut)
    if not ids or ids != list(range(ids[0], ids[-1] + 1)):
        return None
    span = chunk.doc[ids[0]:ids[-1] + 1]
    while len(span) > 1 and span[-1].is_punct:
        span = span[:-1]
    return span
