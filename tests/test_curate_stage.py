"""The curate stage end to end on fixture records: outputs, accounting, budget, determinism."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter

import pyarrow.parquet as pq
import pytest

from joule.config import PROJECT_ROOT, compose
from joule.errors import JouleError
from joule.records import COMMON_FIELDS, FORMAT_FIELDS
from pipeline.curate import main
from tests.curate_fixtures import (
    EVAL_SENTENCE,
    corpus,
    make_record,
    sentence,
    write_eval,
    write_records,
)

BUDGET = 1500
CURRICULA = ("curated", "raw", "synthetic_all", "curated_shuffled", "curated_passages")


def _paraphrase(text: str) -> str:
    words = text.split()
    words[4] = "zzqword"
    return " ".join(words)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_model):
    """Records of every format (with a planted eval sentence and a planted paraphrase), an
    eval file, and one stage run per shipped curriculum."""
    root = tmp_path_factory.mktemp("curate")
    records = corpus(pages=10)
    qa = records["qa_extractive"][0]
    contaminated = make_record(
        "qa_extractive", "p-planted", "Planted", context=f"{EVAL_SENTENCE} {qa['context']}",
        question=qa["question"], answer=qa["answer"],
        answer_start=qa["answer_start"] + len(EVAL_SENTENCE) + 1)
    rng = random.Random(7)
    facts = [sentence(rng, 12) for _ in range(4)]
    original = make_record("key_facts", "p-planted", "Planted", facts=facts)
    paraphrase = make_record("key_facts", "p-planted", "Planted",
                             facts=[_paraphrase(facts[0]), *facts[1:]])
    records["qa_extractive"][0] = contaminated       # (a copy beside it would be a near-dup)
    records["key_facts"] += [original, paraphrase]
    write_records(root / "data", records)
    overrides = [f"data_dir={root / 'data'}", f"metrics_dir={root / 'metrics'}",
                 f"model.dir={tiny_model}", f"eval.path={write_eval(root / 'eval.json')}",
                 f"experiment.token_budget={BUDGET}"]
    metrics = {name: main(compose([*overrides, f"curriculum={name}"])) for name in CURRICULA}
    return {"root": root, "records": records, "overrides": overrides, "metrics": metrics,
            "planted": {"contaminated": contaminated["id"], "paraphrase": paraphrase["id"]}}


def _source_ids(rows):
    """Ids of the input records behind `rows` (a qa_passage record stands for those it merged)."""
    for r in rows:
        if r["format"] == "qa_passage.v1":
            yield from json.loads(r["meta"])["from"]
        else:
            yield r["id"]


def _tables(ws, name):
    out = ws["root"] / "data" / "curricula" / name
    return pq.read_table(out / "train.parquet"), pq.read_table(out / "excluded.parquet")


@pytest.mark.parametrize("name", CURRICULA)
def test_every_curriculum_meets_the_budget_and_accounts_for_every_record(workspace, name,
                                                                         tiny_model):
    from transformers import AutoTokenizer

    from joule.formats import record_tokens

    train, excluded = _tables(workspace, name)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    assert sum(record_tokens(r, tokenizer) for r in train.to_pylist()) == BUDGET
    every = [r["id"] for rows in workspace["records"].values() for r in rows]
    assert Counter(_source_ids(train.to_pylist() + excluded.to_pylist())) == Counter(every)
    assert all(excluded["step"].to_pylist()) and all(excluded["reason"].to_pylist())
    metrics = json.loads((workspace["root"] / "metrics" / "curate" / f"{name}.json").read_text())
    assert metrics["budget_met"] is True and metrics["short_by_tokens"] == 0
    assert metrics["tokens_out"] == BUDGET == metrics["budget"]
    assert metrics["records_in"] == len(every)
    assert (metrics["records_out"] + metrics["records_excluded"] + metrics["records_merged"]
            == metrics["records_in"])
    assert (metrics["records_merged"] > 0) == (name == "curated_passages")
    assert sum(f["tokens"] for f in metrics["per_format"].values()) == BUDGET
    for key in ("time_s", "energy_j", "energy_source"):
        assert metrics[key] is not None
    steps = metrics["steps"]
    assert steps[0]["records_in"] == len(every) and steps[-1]["tokens_out"] == BUDGET
    dropped = Counter(excluded["step"].to_pylist())
    assert dropped == Counter({s["step"]: s["dropped"] for s in steps if s["dropped"]})


def test_training_set_has_the_union_of_the_format_columns(workspace):
    train, excluded = _tables(workspace, "synthetic_all")
    fields = set(COMMON_FIELDS).union(*(FORMAT_FIELDS[f] for f in workspace["records"]))
    assert set(train.column_names) == fields
    assert train.column_names[: len(COMMON_FIELDS)] == list(COMMON_FIELDS)
    assert set(excluded.column_names) == fields | {"step", "reason", "detail"}
    rows = train.to_pylist()
    assert len({r["format"] for r in rows}) >= 3
    raw = next(r for r in rows if r["format"] == "raw.v1")
    assert raw["question"] is None and raw["text"]


def test_raw_is_page_text_in_corpus_order(workspace):
    train, _ = _tables(workspace, "raw")
    position = {r["id"]: i for i, r in enumerate(workspace["records"]["raw"])}
    assert train["format"].to_pylist() == ["raw.v1"] * train.num_rows
    order = [position[i] for i in train["id"].to_pylist()]
    assert order == sorted(order) and order[0] == 0


def test_curated_drops_planted_contamination_and_paraphrase(workspace):
    train, excluded = _tables(workspace, "curated")
    ids = set(train["id"].to_pylist())
    planted = workspace["planted"]
    assert planted["contaminated"] not in ids and planted["paraphrase"] not in ids
    why = {r["id"]: (r["step"], r["reason"]) for r in excluded.to_pylist()}
    assert why[planted["contaminated"]] == ("decontaminate", "eval_overlap_context")
    assert why[planted["paraphrase"]] == ("near_dedup", "near_duplicate")
    metrics = workspace["metrics"]["curated"]
    assert metrics["drops"]["decontaminate"] == {"eval_overlap_context": 1}
    assert "raw" not in metrics["per_format"]
    # extractive QA is the largest share, as its weight says
    shares = {f: v["tokens"] for f, v in metrics["per_format"].items()}
    assert max(shares, key=shares.get) == "qa_extractive"


def test_curated_passages_groups_questions_by_passage(workspace):
    train, excluded = _tables(workspace, "curated_passages")
    shares = workspace["metrics"]["curated_passages"]["per_format"]
    assert max(shares, key=lambda f: shares[f]["tokens"]) == "qa_passage"
    assert "qa_extractive" not in shares
    passages = [r for r in train.to_pylist() if r["format"] == "qa_passage.v1"]
    assert max(len(r["questions"]) for r in passages) > 1
    for r in passages:   # every answer is its span, read back from Parquet's list columns
        assert [r["context"][s:s + len(a)] for s, a in zip(r["answer_starts"], r["answers"],
                                                            strict=True)] == r["answers"]


def test_curated_is_easy_to_hard_and_curated_shuffled_is_the_same_pool(workspace):
    from curricula.difficulty import difficulty

    curated, _ = _tables(workspace, "curated")
    scores = [difficulty(r) for r in curated.to_pylist()]
    assert scores == sorted(scores)
    shuffled, _ = _tables(workspace, "curated_shuffled")
    assert [difficulty(r) for r in shuffled.to_pylist()] != sorted(
        difficulty(r) for r in shuffled.to_pylist())
    # same pool before ordering: the mix step kept the same records in both
    c_mix = next(s for s in workspace["metrics"]["curated"]["steps"] if s["step"] == "mix")
    s_mix = next(s for s in workspace["metrics"]["curated_shuffled"]["steps"]
                 if s["step"] == "mix")
    assert c_mix["records_out"] == s_mix["records_out"]
    assert c_mix["tokens_out"] == s_mix["tokens_out"]


def test_outputs_are_byte_identical_for_the_same_seed(workspace):
    out = workspace["root"] / "data" / "curricula" / "curated"
    before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    main(compose([*workspace["overrides"], "curriculum=curated"]))
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before
    main(compose([*workspace["overrides"], "curriculum=curated", "seed=1"]))
    assert (out / "train.parquet").read_bytes() != before["train.parquet"]
    main(compose([*workspace["overrides"], "curriculum=curated"]))   # leave seed 0's output


def test_a_budget_too_large_is_reported_as_short(workspace):
    cfg = compose([*workspace["overrides"], "curriculum=raw", "experiment.token_budget=10000000",
                   f"data_dir={workspace['root'] / 'short'}"])
    write_records(workspace["root"] / "short", workspace["records"])
    metrics = main(cfg)
    assert metrics["budget_met"] is False
    assert metrics["short_by_tokens"] == 10000000 - metrics["tokens_out"] > 0
    assert "ran out of records" in metrics["short_reason"]


def test_missing_inputs_are_one_clear_error(workspace, tmp_path):
    base = [*workspace["overrides"], "curriculum=raw"]
    with pytest.raises(JouleError, match="records"):
        main(compose([*base, f"data_dir={tmp_path}"]))
    with pytest.raises(JouleError, match="model.dir"):
        main(compose([*base, f"model.dir={tmp_path / 'nope'}"]))
    assert not (tmp_path / "curricula").exists()


def test_cli_fails_in_one_line_naming_the_curriculum(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pipeline.curate", "curriculum=nope",
                           f"data_dir={tmp_path}", f"metrics_dir={tmp_path}"],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                          capture_output=True, text=True, timeout=120)  # Hydra logs into cwd
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: unknown curriculum 'nope'")
