"""The Hydra config composes, params.yaml is its current form, and bad keys fail clearly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from joule.config import (
    PROJECT_ROOT,
    compose,
    curriculum_config,
    load_params,
    project_path,
    run,
    to_yaml,
)
from joule.errors import JouleError


def test_default_config_composes_with_every_group():
    cfg = compose()
    for key in ("corpus", "rewrite", "rewriter", "model", "train", "eval", "energy",
                "experiment", "curricula", "data_dir", "metrics_dir", "seed", "curriculum"):
        assert key in cfg, key
    assert cfg.curriculum in cfg.curricula


def test_params_yaml_is_the_composed_default():
    """DVC tracks params.yaml; it must say what conf/ says (`make params` rewrites it)."""
    assert (PROJECT_ROOT / "params.yaml").read_text() == to_yaml(compose())


def test_load_params_applies_overrides_and_rejects_unknown_keys(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(to_yaml(compose()))
    cfg = load_params(path, ["data_dir=elsewhere", "eval.max_questions=5"])
    assert cfg.data_dir == "elsewhere" and cfg.eval.max_questions == 5
    with pytest.raises(JouleError, match="no_such_key"):
        load_params(path, ["no_such_key=1"])


def test_unknown_curriculum_names_the_file():
    with pytest.raises(JouleError, match="conf/curricula/nope.yaml"):
        curriculum_config(compose(), "nope")


def test_multirun_sweeps_curriculum_and_another_key(tmp_path, monkeypatch):
    """README: `python -m pipeline.curate -m curriculum=curated,curated_shuffled seed=0,1`."""
    seen = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["stage", "-m", "curriculum=raw,curated", "seed=0,1"])
    run(lambda cfg: seen.append((cfg.curriculum, cfg.seed)))
    assert sorted(seen) == [("curated", 0), ("curated", 1), ("raw", 0), ("raw", 1)]


def test_cfg_job_prints_the_curriculum_given(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["stage", "curriculum=raw", "train.lora.r=8", "--cfg", "job"])
    run(lambda cfg: pytest.fail("--cfg job must not run the stage"))
    out = capsys.readouterr().out
    assert "\ncurriculum: raw\n" in out and "    r: 8\n" in out


def test_project_path_finds_files_beside_the_repo_from_a_dvc_temp_copy(tmp_path):
    """`dvc exp run --temp` copies the repo to <repo>/.dvc/tmp/exps/standalone/<tmp>/."""
    repo = tmp_path / "repo"
    copy = repo / ".dvc" / "tmp" / "exps" / "standalone" / "tmpabc"
    copy.mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "q.json").write_text("{}")
    (copy / "inside.json").write_text("{}")
    assert project_path("../shared/q.json", root=repo) == repo / "../shared/q.json"
    assert project_path("../shared/q.json", root=copy) == repo / "../shared/q.json"
    assert project_path("inside.json", root=copy) == copy / "inside.json"
    assert project_path("missing.json", root=copy) == copy / "missing.json"
    assert project_path("/abs/q.json", root=copy) == Path("/abs/q.json")
