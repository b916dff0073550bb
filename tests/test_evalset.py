"""The eval-set loader checks every question against SQuAD v1.1's schema (issue 22, kind 5): a
question without a gold answer is an error naming the file, never a silent zero."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from joule.errors import JouleError
from joule.evalset import load_eval_set

CONTEXT = "The quay was built in 1852 by the harbour board of Leiden."


def squad(qas: list[dict], version: str = "1.1") -> dict:
    return {"version": version, "data": [{"title": "Quay", "paragraphs": [
        {"context": CONTEXT, "qas": qas}]}]}


def qa(qid: str, answers: list[str], **extra) -> dict:
    return {"id": qid, "question": "When was the quay built?",
            "answers": [{"text": a, "answer_start": CONTEXT.find(a)} for a in answers], **extra}


def load(tmp_path, data: dict, name: str = "set.json") -> list[dict]:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return load_eval_set(OmegaConf.create({"name": "mine", "path": str(path),
                                           "max_questions": None}))


def test_a_v1_file_loads_every_question(tmp_path):
    rows = load(tmp_path, squad([qa("a", ["1852"]),
                                 qa("b", ["the harbour board", "harbour board"])]))
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[1]["answers"] == ["the harbour board", "harbour board"]


def test_a_v2_file_with_unanswerable_questions_is_refused_naming_the_file(tmp_path):
    data = squad([qa("a", ["1852"]), qa("b", ["Leiden"]),
                  {**qa("c", []), "is_impossible": True, "plausible_answers": []}],
                 version="v2.0")
    with pytest.raises(JouleError, match=r"v2\.json: 1 SQuAD v2\.0 question\(s\) without a gold "
                                         r"answer \(e\.g\. id c\)"):
        load(tmp_path, data, "v2.json")


def test_a_question_without_answers_is_an_error_in_any_version(tmp_path):
    with pytest.raises(JouleError, match=r"set\.json: 1 question\(s\) without a gold answer"):
        load(tmp_path, squad([qa("a", ["1852"]), qa("b", [])]))
    with pytest.raises(JouleError, match="question b has an empty gold answer"):
        load(tmp_path, squad([qa("a", ["1852"]), qa("b", ["  "])]))


def test_a_v2_file_whose_questions_all_have_answers_is_scored(tmp_path):
    rows = load(tmp_path, squad([qa("a", ["1852"], is_impossible=False)], version="v2.0"))
    assert [r["id"] for r in rows] == ["a"]


def test_duplicate_ids_and_missing_keys_are_named(tmp_path):
    with pytest.raises(JouleError, match="question id a appears more than once"):
        load(tmp_path, squad([qa("a", ["1852"]), qa("a", ["Leiden"])]))
    bad = squad([qa("a", ["1852"])])
    del bad["data"][0]["paragraphs"][0]["qas"][0]["question"]
    with pytest.raises(JouleError, match=r"set\.json is not a SQuAD v1\.1-format file"):
        load(tmp_path, bad)
