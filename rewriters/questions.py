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
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from spacy.tokens import Span, Token

from rewriters.base import Rewriter
from rewriters.spans import SentenceIndex

SUBJECT_DEPS = ("nsubj", "nsubjpass")
OBJECT_DEPS = ("dobj", "attr", "oprd", "dative")
# Children of the main verb that make a clause (or a side remark) of their own: cut away.
CLAUSE_DEPS = ("advcl", "parataxis", "conj", "cc", "preconj", "intj", "meta", "dep")
# Modifiers that ride on a noun phrase as a side remark once set off by a comma.
NONRESTRICTIVE_DEPS = ("relcl", "acl")

WHO_LABELS = ("PERSON",)
WHEN_LABELS = ("DATE", "TIME")
WHERE_LABELS = ("GPE", "LOC", "FAC")
COUNT_LABELS = ("CARDINAL", "QUANTITY")
NOUN_CHUNK = "NOUN_CHUNK"
NAME_LABELS = frozenset({"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT",
                         "WORK_OF_ART", "LAW", "LANGUAGE"})

# Prepositions that a "when"/"where" already says ("in 1860" -> "when").
WHEN_PREPS = frozenset({"in", "on", "at", "during"})
WHERE_PREPS = frozenset({"in", "at", "on", "near", "to", "into", "inside", "within"})
# Prepositions that stay in front of "when"/"where" ("until 1990" -> "until when").
WHEN_PIED = frozenset({"until", "since"})
# "from Paris" -> "where ... from?" was dropped: the small parser hangs "from X" on the verb
# when it belongs to a noun ("met Mary Owens from Kentucky" -> "Where did he meet her from?").
WHERE_STRANDED: frozenset[str] = frozenset()

# Heads of common-noun answers that name people: "who", not "what" (sm has no word vectors).
PERSON_NOUNS = frozenset("""
man woman men women boy girl child children king queen prince princess emperor empress pope
president minister chancellor governor mayor senator leader ruler founder father mother son
daughter wife husband brother sister uncle aunt cousin people person player author writer poet
philosopher scientist physicist chemist mathematician composer painter artist actor actress
singer director explorer general soldier officer bishop priest monk student teacher professor
scholar astronomer astronaut researcher expert critic observer member citizen resident worker
farmer engineer immigrant settler colonist slave prisoner voter commentator animator pilot
creator inventor designer owner reader viewer participant employee teenager adult patient victim
survivor refugee ancestor descendant inhabitant
""".split())
PERSON_SUFFIXES = ("ist", "ian")

# References to the passage: a question carrying one is unanswerable without its context.
CONTEXT_WORDS = frozenset({"this", "these", "those", "it", "its", "he", "she", "him", "her",
                           "his", "hers", "they", "them", "their", "theirs", "former", "latter"})
SUBJECT_PRONOUNS = frozenset({"he", "she"})
# Heads that stand for something named elsewhere: no answer, no fronted subject.
VAGUE_HEADS = frozenset({"one", "other", "others", "latter", "former", "some", "many", "most",
                         "all", "both", "each", "several", "few", "none", "majority", "rest",
                         "first", "second", "third", "last"})
# A question cannot end on these: the clause lost its verb or its object on the way.
DANGLING = frozenset({"the", "a", "an", "of", "and", "or", "may", "can", "could", "will",
                      "would", "shall", "should", "must", "might", "has", "have", "had", "be",
                      "to", "is", "are", "was", "were"})
# Sentence adverbs: left in a simplified clause they land in the wrong place ("What however
# has ...", "... appear only?"), and they add nothing a question needs.
SENTENCE_ADVERBS = frozenset({"however", "only", "also", "thus", "therefore", "hence",
                              "moreover", "furthermore", "further", "nevertheless", "instead",
                              "indeed", "still", "then", "especially", "particularly", "once",
                              "again", "likewise", "meanwhile", "consequently", "accordingly",
                              "nonetheless", "even", "too", "already", "later", "subsequently",
                              "purely", "largely", "partly", "simply", "merely"})
# "in particular", "in addition": prepositional phrases that work as sentence adverbs.
ADVERBIAL_PPS = frozenset({"particular", "addition", "general", "fact", "contrast", "turn",
                           "practice", "short", "total", "sum"})
# Words that need the rest of a list or a pairing the simplification cut away.
LIST_WORDS = frozenset({"namely", "respectively", "either", "neither", "i.e.", "e.g."})
# Words of dialogue or of the writer: such a sentence is a quotation or an aside, not a fact.
PERSONAL_PRONOUNS = frozenset({"i", "me", "my", "we", "us", "our", "you", "your"})
# Demonstratives standing alone ("typical of these") point back into the passage.
DEMONSTRATIVES = frozenset({"this", "these", "those"})
# Abbreviations the sentence splitter takes for a sentence end ("... ordered Brig. Gen. X").
ABBREVIATIONS = frozenset({"brig", "gen", "col", "capt", "lt", "sgt", "maj", "adm", "gov", "sen",
                           "rep", "rev", "dr", "mr", "mrs", "ms", "st", "no", "vol", "fig", "vs",
                           "jr", "sr", "co", "corp", "inc", "ltd", "mt", "ft", "cf", "ca"})
# Objects of light verbs ("play a role", "take place"): the verb says nothing without them.
LIGHT_OBJECTS = frozenset({"role", "part", "place", "effect", "impact", "influence", "rise",
                           "way", "use", "attention", "care", "advantage", "account", "step"})
# A "when" answer names a point in time: a year, a month, a century or decade, an age or era;
# not a length ("just one hour") or a relative word ("today").
WHEN_ANSWER = re.compile(r"\b\d{3,4}s?\b|centur|decade|\bera\b|\bages\b|period|"
                         r"January|February|March|April|May|June|July|August|September|October|"
                         r"November|December|spring|summer|autumn|winter", re.IGNORECASE)
# Signs in a finished question that the source lost a word on the way from wiki markup: a dash
# or slash at the end or after a word ("the Baku\u2013 become"), brackets, colons, a full stop
# inside, a word starting with a hyphen.
BROKEN_TEXT = re.compile(r"[-\u2013\u2014/]$|\w[-\u2013\u2014]\s|[:;()\[\]]|[a-z]\.\s|(^|\s)-\w")
# A number that reads as a year or a span of years ("1815/16", "1990-91"), not a count.
YEAR_LIKE = re.compile(r"1\d{3}|20\d{2}|\d{4}\s*[-/\u2013]\s*\d{2,4}")
# Words that make a GPE/LOC/FAC answer a stretch of time ("the Middle Ages"), not a place.
TIME_WORDS = re.compile(r"\b(ages|age|era|period|century|centuries|decade|epoch)\b",
                        re.IGNORECASE)
# Words ending like "-ist" that name no person.
NOT_PERSON_NOUNS = frozenset({"checklist", "playlist", "wishlist", "shortlist", "blacklist",
                              "whitelist", "twist", "mist", "wrist", "fist", "list"})
# Names labelled these ways by one mention only are often mislabelled (Achilles as GPE).
VOTED_LABELS = frozenset({"GPE", "LOC", "FAC", "NORP", "ORG", "PRODUCT", "WORK_OF_ART",
                          "EVENT", "LAW", "LANGUAGE"})
# Words that make a "PERSON" a church, a school or a firm.
NOT_NAME_WORDS = frozenset({"presbyterian", "church", "university", "college", "school",
                            "institute", "company", "society", "association", "bank", "hospital",
                            "street", "river", "island", "award", "prize", "act", "inc", "ltd"})
# Ordinals that make "how many" ungrammatical ("The first four alkanes" -> "How many first
# alkanes ...?").
ORDINAL_WORDS = frozenset({"first", "second", "third", "fourth", "fifth", "last", "next",
                           "final", "previous", "latter", "former", "top"})
# Tokens that start or end a noun phrase: two of them side by side, where a comma stood in the
# sentence, are two phrases run together ("misattributed to him a common practice").
NOMINAL_POS = frozenset({"NOUN", "PROPN", "PRON", "NUM"})
PHRASE_START_POS = frozenset({"DET", "NOUN", "PROPN", "NUM", "ADJ", "ADV"})
# Dashes and colons set an apposition off like a comma does.
SET_OFF = frozenset({",", "—", "–", "-", ":", ";"})
IRREGULAR_3SG = {"be": "is", "have": "has", "do": "does", "go": "goes"}
QUOTES = frozenset(['"', "''", "``", "'", "“", "”", "‘", "’", "«", "»"])  # noqa: RUF001
GLUE = "\x00"   # marks a word written without a space before the next one ("Canadian-American")


@dataclass(frozen=True)
class PageContext:
    """What a sentence's questions may use from the rest of its page.

    subject_name: the name a he/she subject refers to (a biography's title), or None;
    people: words of the page's multi-word PERSON names ("Ayn Rand" -> "Ayn", "Rand"), which
    confirm a one-word PERSON ("Rand") and correct a one-word ORG or GPE that is really a person.
    """

    subject_name: str | None = None
    title: str = ""
    people: frozenset[str] = frozenset()
    majority: dict[str, str] = field(default_factory=dict)   # one-word name -> its usual label
    votes: dict[str, int] = field(default_factory=dict)   # one-word name -> mentions with it
    mentions: dict[str, int] = field(default_factory=dict)   # one-word name -> all its mentions


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
    (words); resolve_pronouns: replace a he/she subject by `subject_name` when one is given.
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
                           page: PageContext = PageContext()) -> list[Question]:
        """The best questions of one sentence (at most `max_per_sentence`), best first.

        Each rejected candidate (or a rejected sentence) is reported once through `drop(reason)`.
        `page.subject_name` replaces a he/she subject; without it, such questions are dropped.
        """
        clause = Clause.shared(sent)
        if isinstance(clause, str):
            drop(clause)
            return []
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
            body = clause.fronted_question(words, moved, stranded, page.subject_name,
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


# ----- the main clause -----------------------------------------------------------------------

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
                         subject_name: str | None, resolve: bool) -> list[str] | str:
        """The answer is not the subject: wh-phrase first, then the inverted auxiliary (or do),
        the subject, the rest of the clause, and a stranded preposition."""
        subject = [t for t in self.tokens if t.i in self.subject_ids]
        if len(subject) > self.max_subject_words:
            return "long_subject"
        subject_words = [self.word(t, moved) for t in subject]
        if self.subject.pos_ == "NUM" or self.subject.lower_ in VAGUE_HEADS:
            return "vague_subject"   # "One remained with ...": who is "one"?
        if self.subject.pos_ == "PRON":
            if self.subject.lower_ in SUBJECT_PRONOUNS and resolve and subject_name:
                subject_words = [subject_name]
            else:
                return "pronoun_subject"
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


# ----- wh-phrases ----------------------------------------------------------------------------

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


def is_person_noun(head: Token) -> bool:
    """A heuristic: does a common noun name people ("the king", "a physicist")?"""
    lemma = head.lemma_.lower()
    return lemma in PERSON_NOUNS or lemma.endswith(PERSON_SUFFIXES) and len(lemma) > 5 \
        and lemma not in NOT_PERSON_NOUNS


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
    found: list[Question] = []
    for sent in doc.sents:
        found.extend(generator.sentence_questions(sent, drop, context))
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
