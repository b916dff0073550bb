"""Rule-based wh-question generation from a spaCy dependency parse (Heilman & Smith 2010 style).

One sentence and one answer span (an entity or a noun chunk) in, one question out:

1. simplify the sentence to its main clause: drop parentheticals, appositions, non-restrictive
   relative and participial clauses, adverbial clauses, conjoined clauses and sentence-initial
   adverbials (Heilman & Smith's "simplified factual statements");
2. pick the wh-phrase from the answer's entity label and its role ("who", "when", "where",
   "how many <noun>", "how much", "what percentage", "which <noun>", "what");
3. a subject answer is replaced in place; any other answer moves to the front with
   subject-auxiliary inversion, or do-support on the verb's lemma when there is no auxiliary;
4. drop (counted by reason) what reads badly: the answer still in the question, no verb, too long,
   a fragment for a source;
5. overgenerate over every answer of a sentence, score, keep the best few.

Everything is deterministic: the same parse gives the same questions in the same order.

The parts: `rewriters.question_words` (the rules' vocabulary), `rewriters.clause` (step 1 and the
word order of step 3), `rewriters.wh` (step 2 and the label checks); this module builds and
filters candidates (steps 3 to 5) and ranks a page's questions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from spacy.tokens import Span, Token

from rewriters.base import Rewriter
from rewriters.clause import Clause, balanced, run_on
from rewriters.pronouns import PronounResolver
from rewriters.question_words import (
    BROKEN_TEXT,
    CONTEXT_WORDS,
    COUNT_LABELS,
    DANGLING,
    DEMONSTRATIVES,
    GLUE,
    LIGHT_OBJECTS,
    LIST_WORDS,
    NOUN_CHUNK,
    OBJECT_DEPS,
    ORDINAL_WORDS,
    TIME_WORDS,
    WHEN_ANSWER,
    WHEN_LABELS,
    YEAR_LIKE,
)
from rewriters.spans import SentenceIndex
from rewriters.support import unsupported
from rewriters.wh import (
    NO_PAGE,
    PageContext,
    has_extra_modifier,
    noun_phrase,
    person_check,
    person_inside,
    wh_phrase,
)


@dataclass(frozen=True)
class Question:
    """A generated question about one answer span of one sentence.

    answer_start/answer_end: character offsets of the answer in the parsed text (the page).
    rule: which generation rule made it (e.g. `subject:who`, `object:do:what`, `pp:aux:when`).
    score: higher is better (used only to rank candidates of one sentence and one page).
    """

    question: str
    answer: str
    answer_start: int
    answer_end: int
    label: str
    rule: str
    score: float
    sent_start: int
    sent_end: int


class QuestionGenerator:
    """Makes wh-questions from the sentences of a spaCy `Doc`.

    labels: entity labels used as answers; noun_chunks: also use noun chunks (labelled
    NOUN_CHUNK); max_question_words / min_question_words: question length bounds (words);
    max_per_sentence: questions kept per sentence after ranking; max_answer_words: longest answer
    (words); resolve_pronouns: replace a he/she subject by its antecedent where certain.
    """

    def __init__(self, labels: Iterable[str] = (), noun_chunks: bool = True,
                 max_question_words: int = 20, min_question_words: int = 4,
                 max_per_sentence: int = 2, max_answer_words: int = 6,
                 resolve_pronouns: bool = True):
        self.labels = frozenset(labels)
        self.noun_chunks = noun_chunks
        self.max_question_words = max_question_words
        self.min_question_words = min_question_words
        self.max_per_sentence = max_per_sentence
        self.max_answer_words = max_answer_words
        self.resolve_pronouns = resolve_pronouns

    # Inverted questions (wh-phrase fronted, auxiliary or do moved) longer than this are mostly
    # built on a wrong parse; subject questions keep the sentence's word order and read fine.
    max_fronted_words = 16

    # ----- public API -------------------------------------------------------------------------

    def sentence_questions(self, sent: Span, drop: Callable[[str], None],
                           page: PageContext = NO_PAGE) -> list[Question]:
        """The best questions of one sentence (at most `max_per_sentence`), best first.

        Each rejected candidate (or a rejected sentence) is reported once through `drop(reason)`.
        A he/she subject becomes `page.antecedent`'s name where that is certain (worked out from
        the sentence's own doc when `page.antecedent` is None); otherwise such questions are
        dropped with the reason (`rewriters.pronouns`).
        """
        clause = Clause.shared(sent)
        if isinstance(clause, str):
            drop(clause)
            return []
        if page.antecedent is None:
            page = replace(page, antecedent=PronounResolver(
                sent.doc, page.subject_name).antecedent(sent))
        kept: list[Question] = []
        for answer, label in self.answers(sent):
            made = self.make(clause, answer, label, page)
            if isinstance(made, str):
                drop(made)
            else:
                kept.append(made)
        kept.sort(key=lambda q: (-q.score, q.answer_start, q.question))
        for _ in kept[self.max_per_sentence:]:
            drop("ranked_out")
        return kept[:self.max_per_sentence]

    def answers(self, sent: Span) -> Iterator[tuple[Span, str]]:
        """Candidate answers of a sentence: entities of the chosen labels, then noun chunks that
        overlap no entity (every one once, in text order)."""
        index = SentenceIndex.of(sent.doc)   # sent.ents / sent.noun_chunks walk the whole doc
        sent_ents = index.span_ents(sent)
        yield from ((e, e.label_) for e in sent_ents if e.label_ in self.labels)
        if not self.noun_chunks:
            return
        taken = {t.i for e in sent_ents for t in e}
        for chunk in index.span_chunks(sent):
            if chunk.root.pos_ in ("PRON", "PROPN") or any(t.i in taken for t in chunk) \
                    or chunk[0].lower_ == "such":   # "such compounds": named a sentence before
                continue
            # A capitalised "noun" inside a sentence is a name the NER missed ("Connes"):
            # "what" would be a guess.
            if chunk.root.pos_ == "NOUN" and not (chunk.root.text[:1].isupper()
                                                  and chunk.root.i > sent.start):
                yield chunk, NOUN_CHUNK

    # ----- one candidate ----------------------------------------------------------------------

    def make(self, clause: Clause, answer: Span, label: str,
             page: PageContext) -> Question | str:
        """A question for `answer` in `clause`, or the reason there is none."""
        label = person_check(answer, label, page)
        if label is None:
            return "uncertain_label"
        if answer[-1].tag_ == "POS":
            return "answer_not_a_phrase"   # "Manet's" names the owner, not the thing
        if person_inside(answer, label, page):
            return "person_in_name"   # "What adopted ...?" (Ludwig Wittgenstein as ORG)
        head = answer.root
        if label in COUNT_LABELS:
            # "ranked 3", "in 1990s", "one delegate": no "how many <plural noun>".
            if head.dep_ != "nummod" or head.head.tag_ != "NNS" or head.lower_ in ("one", "1"):
                return "count_without_noun"
            noun = head.head
            between = noun.doc[answer.end:noun.i]
            # The counted noun follows the number ("12 games", "two large lakes") and is a count
            # of its own: not a rate ("2.14 migrants per 1,000"), not a copula's noun ("How many
            # examples are the Sieve ...").
            if noun.i < answer.end or any(t.pos_ not in ("ADJ", "NOUN") for t in between) \
                    or any(c.lower_ == "per" for c in noun.children) \
                    or noun.dep_ in ("attr", "acomp") and noun.head.lemma_ == "be":
                return "count_without_noun"
            head = noun
            if any(c.dep_ == "poss" for c in noun.children) or YEAR_LIKE.fullmatch(answer.text):
                return "count_not_a_number"   # "In how many Schopenhauer's notes ...?" (1815/16)
        if label == NOUN_CHUNK:
            answer = noun_phrase(answer, clause)
            if answer is None:
                return "vague_answer"
        if len(answer) > self.max_answer_words:
            return "answer_too_long"
        if label not in (NOUN_CHUNK, *COUNT_LABELS) and has_extra_modifier(answer, head):
            return "answer_not_a_phrase"   # "the average American": "American" is not it
        if any(c.dep_ == "conj" for c in head.children) or head.dep_ == "conj":
            return "answer_in_list"   # "the Moon, planets, stars": one item is not the answer
        if head.i in clause.cut and head.i not in clause.initial:
            return "answer_in_side_clause"
        # The phrase the wh-words stand for: the head's subtree within the clause.
        phrase = [t for t in head.subtree if t.i not in clause.cut or t.i in clause.initial]
        if not set(range(answer.start, answer.end)) <= {t.i for t in phrase}:
            return "answer_not_a_phrase"
        role, prep = self.role(clause, head)
        if role is None:
            return "unsupported_role"
        wh = wh_phrase(answer, label, head, phrase, role, prep)
        if wh is None:
            return "unsupported_prep"
        words, rule_wh, stranded = wh
        moved = {t.i for t in phrase} | ({prep.i} if prep is not None else set())
        if role == "subject":
            if clause.conflicts(words[0]):
                return "label_conflict"
            body = clause.subject_question(words, moved)
            rule = f"subject:{rule_wh}"
        else:
            body = clause.fronted_question(words, moved, stranded, page.antecedent,
                                           self.resolve_pronouns)
            if isinstance(body, str):
                return body
            rule = f"{role}:{clause.inversion}:{rule_wh}"
        left = [t for t in clause.tokens if t.i not in moved and not t.is_punct]
        if run_on(clause, moved):
            return "run_on"   # "... misattributed to him a common practice ...?"
        if rule_wh == "how_many" and any(
                t.lower_ in ORDINAL_WORDS or t.ent_type_ == "ORDINAL" for t in phrase
                if not answer.start <= t.i < answer.end):
            return "count_with_ordinal"   # "How many first alkanes are used ...?"
        if rule_wh == "how_many" and any(t.like_num for t in phrase
                                         if not answer.start <= t.i < answer.end):
            return "count_with_number"   # "Of how many 14 upper and lower jaw molars ...?"
        if prep is not None and prep.lower_ == "as" and rule_wh in (
                "how_many", "how_much", "what_percentage"):
            return "amount_as"   # "As what percentage did the Bureau report the population?"
        if any(t.lower_ in DEMONSTRATIVES or t.lower_ == "that" and t.pos_ == "PRON"
               for t in [*left, *answer]):
            return "vague_reference"   # "What is typical of these?", "this approach"
        if role == "pp" and rule_wh in ("what", "which", "who"):
            return "stranded_prep"   # "What did Tarkovsky apply at?": the preposition misleads
        if role == "object" and clause.inversion == "be":
            return "copula_object"   # "Who is the core martial art ...?": subject and
            # predicate of a copula swap roles too easily to ask about either from the front
        if role == "object" and clause.verb.lemma_ == "be":
            return "copula_object_aux"   # "What can Persistent fog be from May to September?"
        if role == "object" and any(c.dep_ in OBJECT_DEPS and c.i != head.i
                                    for c in clause.verb.children if c.i not in clause.cut):
            return "second_object"   # "Who did Dwan direct Rebecca of Sunnybrook Farm?"
        if label != NOUN_CHUNK and any(t.ent_type_ == answer.root.ent_type_ for t in left):
            return "ambiguous_answer"   # "When was X founded in 1843?" (answer: 1842)
        if role == "pp" and clause.inversion == "be" and rule_wh not in ("when", "where"):
            return "copula_pp"   # "With how many letters is the largest abjad Sindhi?"
        if role == "subject" and clause.verb.lemma_ == "be" and any(
                c.dep_ == "attr" for c in clause.verb.children):
            # "What is the northernmost?", "What is the specific shape?": "X is Y" reads both
            # ways, so a question for X by Y is as likely to ask for Y's definition.
            return "copula_identity"
        if role == "subject" and any(c.tag_ == "JJR" or c.dep_ == "acomp" and any(
                g.lower_ in ("more", "less") for g in c.children) for c in clause.verb.children):
            return "comparison"   # "What is more moderate?": the other side of it was cut
        if rule_wh == "where" and TIME_WORDS.search(answer.text):
            return "not_a_place"   # "Where were two more letters added?" (the Middle Ages)
        if rule_wh == "when" and not WHEN_ANSWER.search(answer.text):
            return "not_a_time"   # "When did temperatures soar?" (answer: "just one hour")
        if role == "object" and head.lemma_.lower() in LIGHT_OBJECTS:
            return "light_verb_object"   # "What do alkanes play?" (answer: "a role")
        attrs = [c for c in clause.verb.children if c.dep_ == "attr" and c.i not in clause.cut]
        if clause.verb.lemma_ == "be" and any(
                a.pos_ == "PROPN" or role == "subject" and a.tag_ in ("NNS", "NNPS")
                for a in attrs if a.i not in moved):
            return "copula_name"   # "What is Patient lifts?", "When was the first woman X?"
        if not balanced(answer.text) or re.search(r"\d\.[A-Za-z]", answer.text):
            return "broken_text"   # "TAI(NPL", "1.the record"
        if answer[-1].pos_ in ("ADP", "DET", "CCONJ", "SCONJ"):
            return "answer_not_a_phrase"   # "The Northwest Ordinance of": the NER cut it short
        if prep is not None and prep.lower_ == "since" and (
                clause.aux is None or clause.aux.lemma_ != "have"):
            return "perfect_when"   # "Since when does Nepal emerge?": "since" wants a perfect
        if role == "object" and clause.verb.lemma_ in ("call", "name", "term", "dub", "know"):
            return "naming_verb"   # "Who was the award called?": the object is a name
        if rule_wh == "when" and clause.aux is not None and clause.aux.lemma_ == "have" \
                and (prep is None or prep.lower_ != "since"):
            return "perfect_when"   # "When has the population grown?": perfect wants "since"
        if left and left[-1].i == clause.verb.i and any(
                c.i in clause.cut and c.i > clause.verb.i and not c.is_punct
                and c.dep_ not in ("advmod", "npadvmod") for c in clause.verb.children):
            return "bare_verb"   # "Since when has the nation worked?" (to repair ...: cut)
        if role == "subject" and left and left[-1].pos_ == "ADP":
            return "dangling_word"   # "What has a letter for?": the parse lost the object
        question = tidy(body)
        reason = self.check(question, answer, clause, role)
        if reason:
            return reason
        substituted = page.antecedent.name if (
            page.antecedent is not None and clause.subject.pos_ == "PRON"
            and role != "subject") else None
        reason = unsupported(question, answer.start_char, answer.end_char, clause.sent,
                             substituted)
        if reason:
            return reason
        return Question(question=question, answer=answer.text, answer_start=answer.start_char,
                        answer_end=answer.end_char, label=label, rule=rule,
                        score=score(question, label, role), sent_start=clause.sent.start_char,
                        sent_end=clause.sent.start_char + len(clause.sent.text.rstrip()))

    @staticmethod
    def role(clause: Clause, head: Token) -> tuple[str | None, Token | None]:
        """The answer phrase's role in the main clause: subject, object, pp (with its
        preposition) or time adverb; (None, None) for anything else."""
        verb = clause.verb
        if head.i == clause.subject.i:
            return "subject", None
        if head.head.i == verb.i and head.dep_ in OBJECT_DEPS:
            return "object", None
        if head.head.i == verb.i and head.dep_ == "npadvmod" and head.ent_type_ in WHEN_LABELS:
            return "adverb", None
        prep = head.head
        if head.dep_ == "pobj" and prep.dep_ == "prep" and prep.head.i == verb.i:
            return "pp", prep
        return None, None

    def check(self, question: str, answer: Span, clause: Clause, role: str) -> str | None:
        """The reason a finished question is dropped, or None."""
        words = question.rstrip("?").split()
        if len(words) > self.max_question_words:
            return "too_long"
        if len(words) < self.min_question_words:
            return "too_short"
        lowered = {w.lower().strip(",;:") for w in words}
        content = [t.lower_ for t in answer if t.is_alpha and not t.is_stop or t.like_num]
        if answer.text.lower() in question.lower() or any(w in lowered for w in content):
            return "answer_in_question"
        if not any(t.pos_ in ("VERB", "AUX") for t in clause.tokens):
            return "no_verb"
        if lowered & LIST_WORDS:
            return "broken_list"   # "... within 10 days of either the judgment?"
        if words[-1].lower() in DANGLING:
            return "dangling_word"   # "What is added on top of the?", "How many legs may?"
        if words[-1].endswith(("'s", "’s")):
            return "dangling_possessive"   # "... with the first meeting of the Association's?"
        if role != "subject" and len(words) > self.max_fronted_words:
            return "long_fronted"   # inverted questions this long are mostly misparses
        if BROKEN_TEXT.search(question.rstrip("?")):
            return "broken_text"   # "... of Proto-Mon-?": the source lost a word
        return None


# ----- finishing -----------------------------------------------------------------------------

def tidy(words: list[str]) -> str:
    """Words into a question: capitalised, spaced like prose, one question mark."""
    text = " ".join(w for w in words if w).replace(GLUE + " ", "").replace(GLUE, "")
    text = re.sub(r"\s+([,;:.%)\]'’]|n't|'s)", r"\1", text)
    text = re.sub(r"([(\[$£€])\s+", r"\1", text)
    text = re.sub(r"(\s*[,;:.-])+$", "", text.strip())
    text = re.sub(r"(\s*,)?\s+(and|or|but|as well as)$", "", text)
    text = re.sub(r",(\s*,)+", ",", text)
    return text[:1].upper() + text[1:] + "?"


def score(question: str, label: str, role: str) -> float:
    """Rank of a candidate (higher first): named answers over noun chunks, subjects and
    adjuncts over objects, shorter questions over longer ones."""
    s = 0.0 if label == NOUN_CHUNK else 1.0
    # Front-moved questions (inversion, do-support) rank above subject ones: they are the
    # form most human questions take, and a plain subject swap is the easier pattern to learn.
    s += {"subject": 0.4, "pp": 0.5, "adverb": 0.5, "object": 0.45}[role]
    return s - 0.02 * len(question.split())


def needs_context(question: str) -> bool:
    """Whether a question points at its passage ("this", "it", "his" ...)."""
    return any(w.lower().strip(",.?") in CONTEXT_WORDS for w in question.split())


def paragraph_bounds(text: str, pos: int) -> tuple[int, int]:
    """(start, end) character offsets of the "\\n\\n"-separated paragraph of `text` at `pos`."""
    start = text.rfind("\n\n", 0, pos)
    start = 0 if start < 0 else start + 2
    end = text.find("\n\n", pos)
    return start, len(text) if end < 0 else end


def page_subject(title: str, doc) -> str | None:
    """The name a he/she subject of this page most likely refers to: the title, when the page's
    first sentence names it as a PERSON (a biography); otherwise None (no resolution)."""
    first = next(iter(doc.sents), None)
    if first is None:
        return None
    name = re.sub(r"\s*\(.*\)$", "", title).strip()
    for ent in first.ents:
        if ent.label_ == "PERSON" and (ent.text in name or name in ent.text):
            return name
    return None


def page_questions(page: dict, doc, generator: QuestionGenerator, drop: Callable[[str], None],
                   max_per_page: int) -> list[Question]:
    """The best `max_per_page` questions of a page (by score), returned in text order."""
    people = frozenset(w for e in doc.ents if e.label_ == "PERSON" and len(e) > 1
                       and not any(c.isdigit() for c in e.text) for w in e.text.split())
    votes: dict[str, Counter[str]] = {}
    for e in doc.ents:
        if len(e) == 1:
            votes.setdefault(e.text, Counter())[e.label_] += 1
    # Ties go to the alphabetically first label, so the choice never depends on dict order.
    majority = {text: min(c, key=lambda lab: (-c[lab], lab)) for text, c in votes.items()}
    context = PageContext(subject_name=page_subject(page["title"], doc), people=people,
                          title=re.sub(r"\s*\(.*\)$", "", page["title"]).strip(),
                          majority=majority,
                          votes={text: votes[text][lab] for text, lab in majority.items()},
                          mentions={text: c.total() for text, c in votes.items()})
    resolver = PronounResolver(doc, context.subject_name)
    found: list[Question] = []
    for sent in doc.sents:
        found.extend(generator.sentence_questions(
            sent, drop, replace(context, antecedent=resolver.antecedent(sent))))
    found.sort(key=lambda q: (-q.score, q.answer_start, q.question))
    for _ in found[max_per_page:]:
        drop("ranked_out")
    return sorted(found[:max_per_page], key=lambda q: (q.answer_start, q.question))


class QuestionRewriter(Rewriter):
    """A rewriter whose records are generated questions (extractive and closed-book QA).

    Knobs (conf/rewriter/<name>.yaml): labels, noun_chunks, max_per_page, max_per_sentence,
    max_question_words, min_question_words, max_answer_words, resolve_pronouns (see
    `QuestionGenerator`); the seed is kept for the interface (generation is deterministic).
    """

    def __init__(self, seed: int = 0, labels: Iterable[str] = (), noun_chunks: bool = True,
                 max_per_page: int = 20, max_per_sentence: int = 2,
                 max_question_words: int = 20, min_question_words: int = 4,
                 max_answer_words: int = 6, resolve_pronouns: bool = True):
        super().__init__(seed=seed)
        self.max_per_page = max_per_page
        self.generator = QuestionGenerator(
            labels=labels, noun_chunks=noun_chunks, max_question_words=max_question_words,
            min_question_words=min_question_words, max_per_sentence=max_per_sentence,
            max_answer_words=max_answer_words, resolve_pronouns=resolve_pronouns)

    def questions(self, page: dict, doc) -> list[Question]:
        """The page's kept questions in text order; counts a page that yields none."""
        found = page_questions(page, doc, self.generator, self.drop, self.max_per_page)
        if not found:
            self.pages_without_records += 1
        return found

    @staticmethod
    def meta(q: Question) -> dict:
        """Provenance of a record: sentence offsets in the page, answer label, rule."""
        return {"sent_start": q.sent_start, "sent_end": q.sent_end, "label": q.label,
                "rule": q.rule, "answer_start_in_page": q.answer_start}
