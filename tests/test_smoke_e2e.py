"""The whole pipeline, end to end, on the smoke experiment with a tiny random model.

Real sample dump, real spaCy pipeline, every stage in dvc.yaml's order; only the model is the
tiny stand-in, so this checks the wiring between stages (contracts, paths, metrics) in about a
minute. `python -m pipeline.smoke` (run by `make test`) does the same with the real SmolLM2.
"""

from __future__ import annotations

import json

import pytest

from pipeline.smoke import run_pipeline, stage_plan, table_lines


@pytest.mark.integration
def test_smoke_pipeline_runs_every_stage_and_reports(tmp_path, tiny_model):
    out = tmp_path / "smoke"
    report = run_pipeline(out, ["model=hf", f"model.id_or_path={tiny_model}",
                                "corpus.max_pages=4", "eval.max_questions=6"])
    curricula = ["curated", "raw", "synthetic_all", "curated_shuffled"]
    assert [m for m, _ in stage_plan(curricula)].count("train") == 4

    metrics = out / "metrics"
    files = [metrics / "base_model.json", metrics / "prepare.json", metrics / "rewrite.json",
             metrics / "eval" / "base.json", metrics / "report.json"]
    for name in curricula:
        files += [metrics / "curate" / f"{name}.json", metrics / "train" / f"{name}.json",
                  metrics / "eval" / f"{name}.json"]
    for path in files:
        data = json.loads(path.read_text())
        assert data["energy_source"] and data["energy_j"] >= 0 and data["time_s"] > 0, path

    for name in curricula:
        train = json.loads((metrics / "train" / f"{name}.json").read_text())
        assert train["tokens"] == 2000, name            # the smoke budget, exactly
        evaluation = json.loads((metrics / "eval" / f"{name}.json").read_text())
        assert evaluation["n"] == 6 and 0 <= evaluation["f1"] <= 100
        assert len(evaluation["checkpoints"]) == len(train["checkpoints"])

    rows = table_lines(report.read_text())
    assert len(rows) >= 2 + len(curricula)               # header, rule, one row per curriculum
    assert all(any(name in row for row in rows) for name in curricula)
    assert (out / "reports" / "report.html").read_text().lstrip().lower().startswith("<!doctype")
