"""A sentence simplified to its main clause (Heilman & Smith's "simplified factual statement"),
and the word order of a question built on it: the subject replaced in place, or the wh-phrase
fronted with subject-auxiliary inversion or do-support.

Also the parse checks that find a clause broken beyond use (a conjunct with no conjunction, an
apposition that runs into the verb, phrases run together where a comma was cut).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spacy.tokens import Span, Token

from rewriters.question_words import (
    ABBREVIATIONS,
    ADVERBIAL_PPS,
    CLAUSE_DEPS,
    GLUE,
    IRREGULAR_3SG,
    NAME_LABELS,
    NOMINAL_POS,
    NONRESTRICTIVE_DEPS,
    PERSONAL_PRONOUNS,
    PHRASE_START_POS,
    QUOTES,
    SENTENCE_ADVERBS,
    SET_OFF,
    SUBJECT_DEPS,
    SUBJECT_PRONOUNS,
    VAGUE_HEADS,
    is_person_noun,
)

if TYPE_CHECKING:
    from rewriters.pronouns import Antecedent


class Clause:
    """A sentence simplified to its main clause: subject, auxiliaries, verb and the rest.

    `cut` holds the token indices left out (side remarks, subordinate and conjoined clauses);
    `inversion` says how a fronted question inverts: `aux` (first auxiliary moves), `be` (a
    copula moves) or `do` (do-support).
    """

    max_subject_words = 8   # a longer fronted subject buries the question ("What have the ...")

    def __init__(self, sent: Span, verb: Token, subject: Token, cut: set[int],
                 initial: set[int]):
        self.sent, self.verb, self.subject, self.cut = sent, verb, subject, cut
        self.initial = initial   # a sentence-initial adverbial: cut, but its answer may front
        self.tokens = [t for t in sent if t.i not in cut]
        self.subject_ids = {t.i for t in subject.subtree if t.i not in cut}
        auxes = [c for c in verb.lefts if c.dep_ in ("aux", "auxpass") and c.i not in cut]
        self.aux = auxes[0] if auxes else None
        if self.aux is not None:
            self.inversion = "aux"
        elif verb.pos_ == "AUX":
            self.inversion = "be"
        else:
            self.inversion = "do"

    CACHE_KEY = "joule.clauses"

    @classmethod
    def shared(cls, sent: Span) -> Clause | str:
        """`Clause.of(sent)`, computed once per sentence and kept with the doc: the extractive
        and closed-book rewriters simplify the same sentences of the same parse."""
        owner, cache = sent.doc.user_data.get(cls.CACHE_KEY, (None, None))
        if owner is not sent.doc:   # absent, or copied over from another doc
            cache = {}
            sent.doc.user_data[cls.CACHE_KEY] = (sent.doc, cache)
        key = (sent.start, sent.end)
        if key not in cache:
            cache[key] = cls.of(sent)
        return cache[key]

    @classmethod
    def of(cls, sent: Span) -> Clause | str:
        """The clause of a sentence, or the reason the sentence is no source of questions."""
        text = sent.text.strip()
        verb = sent.root
        if not text or not text[0].isupper() or text[-1] not in ".!":
            return "fragment"
        if verb.pos_ not in ("VERB", "AUX") or verb.tag_ in ("VBG", "VBN") and not any(
                c.dep_ in ("aux", "auxpass") for c in verb.lefts):
            return "fragment"
        if "\n" in text:
            return "fragment"   # runs over a paragraph break: a heading or a list, not prose
        if any(t.text in QUOTES and t.tag_ != "POS" for t in sent):
            return "quotation"
        if any(c.dep_ == "neg" for c in verb.children):
            return "negation"
        if any(t.lower_ in PERSONAL_PRONOUNS and t.pos_ == "PRON" for t in sent):
            return "dialogue"
        if not balanced(text) or len(sent) > 1 and sent[-2].lower_ in ABBREVIATIONS:
            return "broken_text"
        if any(t.dep_ == "neg" or t.lower_ == "no" and t.dep_ == "det" for t in sent):
            return "negation"   # "What is specifically not orthoses?": a negated fact anywhere
        subjects = [c for c in verb.lefts if c.dep_ in SUBJECT_DEPS]
        if len(subjects) != 1 or subjects[0].dep_ == "expl" or subjects[0].lower_ in (
                "which", "who", "that", "what"):
            return "no_subject"
        subject = subjects[0]
        if any(unclosed_apposition(c, verb) for c in subject.rights):
            return "misparsed_subject"   # "Abraão Gourgel, the financial market ... grew"
        if any(stray_conj(c) for c in verb.children):
            return "stray_conj"   # "trained ... in case communication was lost": misparsed
        remarks = side_remarks(sent)
        cut = set(remarks)
        initial: set[int] = set()
        for child in verb.children:
            if child.dep_ in CLAUSE_DEPS or child.dep_ == "punct":
                cut |= {t.i for t in child.subtree}
            elif is_parenthetical(child):   # "X, with the power of review, contains"
                cut |= {t.i for t in child.subtree}
            elif child.i < subject.left_edge.i:   # sentence-initial adverbial ("In 1492, ...")
                cut |= {t.i for t in child.subtree}
                if child.dep_ == "prep":
                    initial |= {t.i for t in child.subtree} - remarks
        for t in sent:   # sentence adverbs: cut wherever they sit ("X, however, has")
            if t.dep_ == "advmod" and t.lower_ in SENTENCE_ADVERBS or t.dep_ == "prep" and any(
                    c.dep_ in ("pobj", "amod") and c.lower_ in ADVERBIAL_PPS for c in t.children):
                cut |= {s.i for s in t.subtree}
        # Commas left dangling once what they set off is gone; list commas stay.
        cut |= {t.i for t in sent if t.text in ",;:" and (
            t.i - 1 in cut or t.i + 1 in cut or t.i + 1 >= sent.end or t.i == sent.start)}
        if subject.i in cut or verb.i in cut:
            return "fragment"
        return cls(sent, verb, subject, cut, initial)

    def word(self, t: Token, skip: set[int], text: str | None = None) -> str:
        """A token's text for a question, glued to the next one when the page writes them
        without a space and the next one follows it in the question too."""
        text = t.text if text is None else text
        nxt = t.i + 1
        glued = not t.whitespace_ and nxt < self.sent.end and nxt not in self.cut \
            and nxt not in skip
        return text + GLUE if glued else text

    def conflicts(self, wh: str) -> bool:
        """Whether "who"/"what" contradicts a copula's noun ("Who is a book?")."""
        if self.verb.lemma_ != "be":
            return False
        attrs = [c for c in self.verb.children if c.dep_ == "attr" and c.pos_ == "NOUN"]
        return bool(attrs) and (wh == "who") != is_person_noun(attrs[0])

    def subject_question(self, wh: list[str], moved: set[int]) -> list[str]:
        """The answer is the subject: put the wh-phrase where the subject was; a plural present
        verb agrees with the singular wh-word ("many enzymes employ" -> "what employs")."""
        finite = self.aux if self.aux is not None else self.verb
        words: list[str] = []
        placed = False
        for t in self.tokens:
            if t.i in moved or t.i in self.subject_ids:
                if not placed:
                    words.extend(wh)
                    placed = True
                continue
            if t.i < self.subject.left_edge.i:
                continue
            # "VB" too: the tagger gives some present plurals the base form ("Terms give").
            plural = t.i == finite.i and (t.tag_ == "VBP" or t.tag_ == "VB" and self.aux is None
                                          ) and wh[:2] != ["how", "many"]
            words.append(self.word(t, moved, third_singular(t) if plural else None))
        return words

    def fronted_question(self, wh: list[str], moved: set[int], stranded: list[str],
                         antecedent: Antecedent | None, resolve: bool) -> list[str] | str:
        """The answer is not the subject: wh-phrase first, then the inverted auxiliary (or do),
        the subject, the rest of the clause, and a stranded preposition. A he/she subject becomes
        `antecedent.name` when `resolve` and the antecedent is certain; else the reason why not
        (`pronoun_subject` when resolving is off or the pronoun is another one)."""
        subject = [t for t in self.tokens if t.i in self.subject_ids]
        if len(subject) > self.max_subject_words:
            return "long_subject"
        subject_words = [self.word(t, moved) for t in subject]
        if self.subject.pos_ == "NUM" or self.subject.lower_ in VAGUE_HEADS:
            return "vague_subject"   # "One remained with ...": who is "one"?
        if self.subject.pos_ == "PRON":
            if self.subject.lower_ not in SUBJECT_PRONOUNS or not resolve or antecedent is None:
                return "pronoun_subject"
            if antecedent.name is None:
                return antecedent.reason or "pronoun_subject"
            subject_words = [antecedent.name]
        elif subject and (not keeps_capital(subject[0]) or subject[0].pos_ == "DET"):
            # "The" of "The Armed Islamic Group" is inside the name but still a determiner
            subject_words[0] = subject_words[0].lower()
        rest = [t for t in self.tokens
                if t.i not in moved and t.i not in self.subject_ids and t.i > self.subject.i]
        if self.inversion == "aux":
            front, rest = [self.aux.text.lower()], [t for t in rest if t.i != self.aux.i]
            rest_words = [self.word(t, moved) for t in rest]
        elif self.inversion == "be":
            front, rest = [self.verb.text.lower()], [t for t in rest if t.i != self.verb.i]
            rest_words = [self.word(t, moved) for t in rest]
        else:
            front = [do_form(self.verb)]
            if front[0] is None:
                return "no_verb"
            if front[0] == "does" and self.subject.tag_ in ("NNS", "NNPS"):
                return "agreement"   # "What does frogs mean?": the verb's tag is wrong
            rest_words = [self.word(t, moved, self.verb.lemma_.lower() if t.i == self.verb.i
                                    else None) for t in rest]
        return [*wh, *front, *subject_words, *rest_words, *stranded]


def balanced(text: str) -> bool:
    """Whether brackets pair up and straight double quotes come in pairs (else the source text
    was cut or garbled on the way from wiki markup)."""
    return text.count("(") == text.count(")") and text.count("[") == text.count("]") \
        and text.count('"') % 2 == 0


def is_parenthetical(t: Token) -> bool:
    """Whether a phrase is set off by commas on both sides ("X, however, is")."""
    doc = t.doc
    left, right = t.left_edge.i - 1, t.right_edge.i + 1
    return left >= 0 and right < len(doc) and doc[left].text == "," and doc[right].text == ","


def side_remarks(sent: Span) -> set[int]:
    """Token indices of parentheticals, appositions and comma-set non-restrictive clauses."""
    cut: set[int] = set()
    depth = 0
    for t in sent:   # (...) and [...] with what is inside
        if t.text in "([":
            depth += 1
        if depth:
            cut.add(t.i)
        if t.text in ")]" and depth:
            depth -= 1
    for t in sent:
        after_comma = t.left_edge.i > sent.start and t.doc[t.left_edge.i - 1].text == ","
        # An apposition is cut when set off ("Begich, mayor of Anchorage,"); a restrictive one
        # ("the term Allah", "his wife Pythias") is part of what the phrase means.
        set_off = t.left_edge.i > sent.start and t.doc[t.left_edge.i - 1].text in SET_OFF
        if t.dep_ == "appos" and set_off or t.dep_ in NONRESTRICTIVE_DEPS and after_comma or (
                t.dep_ in ("prep", "advmod", "amod") and after_comma and t.i > t.head.i
                and t.head.pos_ in ("NOUN", "PROPN", "PRON")):
            # (a modifier in front of its noun is no remark: ", visual anthropology")
            cut |= {s.i for s in t.subtree}
    return cut


def unclosed_apposition(child: Token, verb: Token) -> bool:
    """Whether a subject's apposition opens with a comma but runs straight into the verb: the
    apposition is the real subject and the "subject" belongs to what came before ("According
    to the Minister, Abraão Gourgel, the financial market of the country grew")."""
    doc = child.doc
    return child.dep_ == "appos" and doc[child.left_edge.i - 1].text == "," \
        and child.right_edge.i + 1 == verb.i


def stray_conj(child: Token) -> bool:
    """Whether a verb's conjunct comes with no conjunction and no comma before it: the parser
    made a clause of what belongs elsewhere ("in case communication was lost", "finished 2001
    ranked world no. 3"), and cutting it leaves a question that means something else."""
    if child.dep_ != "conj":
        return False
    verb, doc = child.head, child.doc
    if any(c.dep_ in ("cc", "preconj") for c in (*verb.children, *child.lefts)):
        return False
    before = child.left_edge.i - 1
    return before >= 0 and doc[before].text not in (",", ";", ":", "\u2014", "\u2013", "-")


def run_on(clause: Clause, moved: set[int]) -> bool:
    """Whether the question puts two phrases side by side that a comma kept apart in the sentence
    (the comma was cut with a side remark or as the verb's punctuation): "misattributed to him
    a common practice", "Nyaneka-Khumbi the Ovambo"."""
    kept = [t for t in clause.tokens if t.i not in moved]
    doc = clause.sent.doc
    for a, b in zip(kept, kept[1:], strict=False):
        if b.i - a.i > 1 and doc[b.i - 1].text == "," and b.i - 1 in clause.cut \
                and a.pos_ in NOMINAL_POS and b.pos_ in PHRASE_START_POS:
            return True
    return False


def third_singular(verb: Token) -> str:
    """A present-tense verb in the third person singular ("employ" -> "employs")."""
    lemma = verb.lemma_.lower()
    if lemma in IRREGULAR_3SG:
        return IRREGULAR_3SG[lemma]
    if lemma.endswith(("s", "sh", "ch", "x", "z", "o")):
        return lemma + "es"
    if lemma.endswith("y") and lemma[-2:-1] not in "aeiou":
        return lemma[:-1] + "ies"
    return lemma + "s"


def do_form(verb: Token) -> str | None:
    """The form of "do" that carries the verb's tense and agreement; None for a non-finite."""
    return {"VBD": "did", "VBZ": "does", "VBP": "do"}.get(verb.tag_)


def keeps_capital(token: Token) -> bool:
    """Whether a word keeps its capital away from the start of a sentence."""
    return token.pos_ == "PROPN" or token.text == "I" or token.tag_ in ("NNP", "NNPS") or (
        token.text.isupper() and len(token.text) > 1) or token.ent_type_ in NAME_LABELS
