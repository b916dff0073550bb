"""The vocabulary of the question rules: dependency labels, entity labels, word lists and
patterns that `rewriters.questions`, `rewriters.clause` and `rewriters.wh` test tokens against.

Each list says in its comment why its words matter; `is_person_noun` is the one lookup that needs
more than set membership.
"""

from __future__ import annotations

import re

from spacy.tokens import Token

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


def is_person_noun(head: Token) -> bool:
    """A heuristic: does a common noun name people ("the king", "a physicist")?"""
    lemma = head.lemma_.lower()
    return lemma in PERSON_NOUNS or lemma.endswith(PERSON_SUFFIXES) and len(lemma) > 5 \
        and lemma not in NOT_PERSON_NOUNS
