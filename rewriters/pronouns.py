"""Which name a sentence's he/she subject stands for, resolved only when nothing else could.

A question fronts the wh-phrase and names the clause's subject; when that subject is "he" or
"she", the question needs the person's name. On a biography the page's subject is the usual
antecedent, but not always ("Her father, Karl Weber, was a baker. He died in Leiden in 1979."
must not become "Where did Anna Weber die in 1979?"). The rule (conservative, one pass over the
page in reading order):

- the page subject's grammatical gender is the gender of (at least 3/4 of) the gendered pronouns
  written while no other person had been mentioned since the subject was last named; none, or
  no clear majority: unknown, nothing is resolved;
- a pronoun resolves to the page subject only when its gender agrees and no other person was
  mentioned since the subject was last named (in earlier sentences, or earlier in the sentence).
  A named person of unknown gender counts as either gender; a kin or title noun ("her father",
  "the queen") counts as a person of its gender.

Otherwise the sentence's pronoun-subject questions are dropped with the reason (the strings of
`Antecedent.reason`), counted in the rewrite metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token

MALE_PRONOUNS = frozenset({"he", "him", "his", "himself"})
FEMALE_PRONOUNS = frozenset({"she", "her", "hers", "herself"})
SUBJECT_PRONOUNS = frozenset({"he", "she"})
# Common nouns that name a person of one gender: a mention of another man or woman.
MALE_NOUNS = frozenset({
    "father", "brother", "son", "husband", "uncle", "nephew", "grandfather", "grandson",
    "stepfather", "stepson", "half-brother", "boyfriend", "fiancé", "king", "prince", "emperor",
    "duke", "earl", "count", "baron", "lord", "monk", "priest", "pope", "sultan", "tsar", "czar",
    "widower", "man", "boy", "gentleman", "godfather", "father-in-law", "brother-in-law",
    "son-in-law"})
FEMALE_NOUNS = frozenset({
    "mother", "sister", "daughter", "wife", "aunt", "niece", "grandmother", "granddaughter",
    "stepmother", "stepdaughter", "half-sister", "girlfriend", "fiancée", "queen", "princess",
    "empress", "duchess", "countess", "baroness", "lady", "nun", "abbess", "widow", "woman",
    "girl", "godmother", "mother-in-law", "sister-in-law", "daughter-in-law"})
UNKNOWN = "?"   # a named person whose gender the rules cannot tell
GENDER_SHARE = 0.75   # share of the subject's unambiguous pronouns that must agree on a gender


@dataclass(frozen=True)
class Antecedent:
    """The name a sentence's he/she subject resolves to (`name`), or why it does not (`reason`:
    `pronoun_not_biography`, `pronoun_gender_unknown`, `pronoun_gender_mismatch`,
    `pronoun_ambiguous`)."""

    name: str | None
    reason: str | None = None


def pronoun_gender(token: Token) -> str | None:
    """"m" or "f" for a gendered personal pronoun, else None."""
    if token.pos_ != "PRON":
        return None
    word = token.lower_
    return "m" if word in MALE_PRONOUNS else "f" if word in FEMALE_PRONOUNS else None


def noun_gender(token: Token) -> str | None:
    """"m" or "f" for a common noun that names a person of one gender ("father"), else None."""
    if token.pos_ != "NOUN":
        return None
    lemma = token.lemma_.lower()
    return "m" if lemma in MALE_NOUNS else "f" if lemma in FEMALE_NOUNS else None


class PronounResolver:
    """Per-sentence antecedents of he/she subjects on one page (see the module docstring).

    doc: the page's parse; subject_name: the biography's subject (None: not a biography, nothing
    resolves). Built once per page; `antecedent(sent)` then answers in O(1).
    """

    def __init__(self, doc: Doc, subject_name: str | None):
        self.subject_name = subject_name
        self.subject_words = frozenset((subject_name or "").split())
        self.gender = self._subject_gender(doc)
        self._by_sentence: dict[int, Antecedent] = {}
        if subject_name:
            self._walk(doc)

    def antecedent(self, sent: Span) -> Antecedent:
        """What the he/she subject of `sent` (a sentence of the page's doc) stands for."""
        if not self.subject_name:
            return Antecedent(None, "pronoun_not_biography")
        return self._by_sentence.get(sent.start, Antecedent(None, "pronoun_ambiguous"))

    # ----- the page walk -------------------------------------------------------------------

    def _is_full_subject(self, ent: Span) -> bool:
        return bool(self.subject_name) and (ent.text == self.subject_name
                                            or self.subject_name in ent.text)

    def _names_subject(self, ent: Span) -> bool:
        """A PERSON mention of the page subject: the full name, or words of it only ("Dwan" on
        Allan Dwan's page: Wikipedia names an article's subject by surname)."""
        if self._is_full_subject(ent):
            return True
        words = set(ent.text.split())
        return bool(words) and words <= self.subject_words

    def _mentions(self, sent: Span) -> list[tuple[int, str]]:
        """(token index, kind) in the sentence: kind "s" (the subject named), "m"/"f"/"?"
        (another person of that gender), "pm"/"pf" (a gendered pronoun)."""
        found: list[tuple[int, str]] = []
        inside: set[int] = set()
        for ent in sent.ents:
            if ent.label_ != "PERSON":
                continue
            inside |= set(range(ent.start, ent.end))
            if self._names_subject(ent):
                found.append((ent.start, "s"))
            else:
                found.append((ent.start, self._named_gender(ent)))
        for t in sent:
            if t.i in inside:
                continue
            if t.pos_ == "PROPN" and t.text in self.subject_words:
                found.append((t.i, "s"))   # the subject's name where the NER missed it
                continue
            g = pronoun_gender(t)
            if g:
                found.append((t.i, "p" + g))
                continue
            g = noun_gender(t)
            if g and not any(c.dep_ == "appos" and c.ent_type_ == "PERSON" for c in t.children):
                found.append((t.i, g))   # "her father, Karl Weber": counted once, as the name
        return sorted(found)

    @staticmethod
    def _named_gender(ent: Span) -> str:
        """A name's gender from a gendered noun it is in apposition with ("Her father, Karl
        Weber", "Karl Weber, her father"); unknown otherwise."""
        root = ent.root
        for t in (root.head, *root.children):
            if t.i != root.i and (t.dep_ == "appos" or root.dep_ == "appos"):
                g = noun_gender(t)
                if g:
                    return g
        return UNKNOWN

    def _subject_gender(self, doc: Doc) -> str | None:
        """The gender of the gendered pronouns written while no other person had been mentioned
        since the subject was last named, when at least `GENDER_SHARE` of them agree."""
        if not self.subject_name:
            return None
        counts = {"m": 0, "f": 0}
        others: set[str] = set()
        for sent in doc.sents:
            for _, kind in self._mentions(sent):
                if kind.startswith("p") and not others:
                    counts[kind[1]] += 1
                others = self._update(others, kind)
        total = counts["m"] + counts["f"]
        best = max(counts, key=lambda g: counts[g])
        return best if total and counts[best] >= GENDER_SHARE * total else None

    def _walk(self, doc: Doc) -> None:
        others: set[str] = set()   # genders of other persons mentioned since the subject was named
        for sent in doc.sents:
            pronoun = next((t for t in sent if t.lower_ in SUBJECT_PRONOUNS
                            and t.dep_ in ("nsubj", "nsubjpass") and t.head.i == sent.root.i),
                           None)
            before = others.copy()
            for i, kind in self._mentions(sent):
                if pronoun is not None and i < pronoun.i:
                    before = self._update(before, kind)
                others = self._update(others, kind)
            if pronoun is None:
                continue
            g = "m" if pronoun.lower_ == "he" else "f"
            if self.gender is None:
                result = Antecedent(None, "pronoun_gender_unknown")
            elif g != self.gender:
                result = Antecedent(None, "pronoun_gender_mismatch")
            elif g in before or UNKNOWN in before:
                result = Antecedent(None, "pronoun_ambiguous")
            else:
                result = Antecedent(self.subject_name)
            self._by_sentence[sent.start] = result

    @staticmethod
    def _update(others: set[str], kind: str) -> set[str]:
        if kind == "s":
            return set()
        if kind in ("m", "f", UNKNOWN):
            return others | {kind}
        return others
