"""The round-trip filter's lexical reader keeps pairs it answers from the answer's sentence."""

from __future__ import annotations

import pytest

from curricula.base import Context
from curricula.round_trip import RoundTrip, sentence_spans

CONTEXT = ("The bridge over the Elbe opened in 1936. The new station was built in 1950 by the "
           "city. The station was built again in 1950 after a fire.")


def record(question, answer, start=None, fmt="qa_extractive.v1"):
    start = CONTEXT.index(answer) if start is None else start
    return {"id": question, "format": fmt, "context": CONTEXT, "question": question,
            "answer": answer, "answer_start": start}


def test_sentence_spans_cover_the_sentences():
    spans = sentence_spans(CONTEXT)
    assert [CONTEXT[a:b] for a, b in spans][0] == "The bridge over the Elbe opened in 1936."
    assert len(spans) == 3


def test_keeps_what_the_reader_finds_and_drops_the_rest():
    step = RoundTrip()
    kept_one = record("When did the bridge over the Elbe open?", "1936")
    # Its words match the third sentence best ("again", "fire"), but the answer is the second's.
    wrong = record("When was the station built again after a fire?", "1950")
    # Two sentences match equally: the reader cannot choose.
    tie = record("When was the station built?", "1950")
    other = {"id": "c", "format": "cloze.v1", "cloze": "x", "answer": "y"}
    kept = list(step.run([kept_one, wrong, tie, other], Context()))
    assert kept == [kept_one, other]
    assert [reason for _, reason, _ in step.dropped] == ["reader_other_sentence"] * 2


def test_margin():
    q = record("When did the bridge over the Elbe open?", "1936")
    assert list(RoundTrip(min_margin=0.5).run([q], Context())) == [q]
    with pytest.raises(ValueError, match="min_margin"):
        RoundTrip(min_margin=2)
