"""The Hydra config composes, params.yaml is its current form, and bad keys fail clearly."""

from __future__ import annotations

import pytest

from pipeline.config import PROJECT_ROOT, compose, curriculum_config, load_params, to_yaml
from pipeline.errors import JouleError


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
    with pytest.raises(JouleError, match="conf/curriculum/nope.yaml"):
        curriculum_config(compose(), "nope")
