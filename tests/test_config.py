"""The Hydra config composes, params.yaml is its current form, and bad keys fail clearly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

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


# Both entry points, one schema (issue 22, kind 6)

def _through_hydra(monkeypatch, overrides):
    seen = []
    monkeypatch.setattr(sys, "argv", ["stage", *overrides])
    run(lambda cfg: seen.append(cfg))
    return seen[0]


def _through_params(monkeypatch, tmp_path, overrides):
    path = tmp_path / "p.yaml"
    path.write_text(to_yaml(compose()))
    seen = []
    monkeypatch.setattr(sys, "argv", ["stage", "--params", str(path), *overrides])
    run(lambda cfg: seen.append(cfg))
    return seen[0]


@pytest.mark.parametrize("overrides", [
    ["corpus.min_words=2e1", "corpus.keep_lists=no"],
    ["corpus.keep_lists=YES", "train.lora.r=8.0", "eval.max_questions=null"],
    ["train.lr=1e-4", "seed=3", "energy.use_zeus=0", "train.checkpoint_fractions=[0.5,1]"],
    ["train.mixed_precision=no", "engine.workers='2'", "experiment.token_budget=1_000"],
    # keys that conf/ derives by interpolation follow the override on both entry points
    ["data_dir=/tmp/elsewhere", "seed=3", "rewrite_llm.cache_dir=/tmp/my_cache"],
])
def test_both_entry_points_compose_the_same_typed_config(monkeypatch, tmp_path, overrides):
    hydra_cfg = _through_hydra(monkeypatch, overrides)
    params_cfg = _through_params(monkeypatch, tmp_path, overrides)
    from omegaconf import OmegaConf
    a = OmegaConf.to_container(hydra_cfg, resolve=True)
    b = OmegaConf.to_container(params_cfg, resolve=True)
    assert a == b
    assert a != OmegaConf.to_container(compose(), resolve=True)


def test_values_are_coerced_to_their_declared_types():
    cfg = compose(["corpus.min_words=2e1", "corpus.keep_lists=no", "train.lora.r=8.0",
                   "energy.use_zeus=True", "train.mixed_precision=no"])
    assert cfg.corpus.min_words == 20 and type(cfg.corpus.min_words) is int
    assert cfg.corpus.keep_lists is False
    assert cfg.train.lora.r == 8 and type(cfg.train.lora.r) is int
    assert cfg.energy.use_zeus is True
    assert cfg.train.mixed_precision == "no"
    assert compose(["corpus.keep_lists=Yes"]).corpus.keep_lists is True


@pytest.mark.parametrize("override, key, kind", [
    ("corpus.keep_lists=maybe", "corpus.keep_lists", "boolean"),
    ("corpus.keep_lists=2", "corpus.keep_lists", "boolean"),
    ("corpus.min_words=2.5", "corpus.min_words", "integer"),
    ("corpus.min_words=many", "corpus.min_words", "integer"),
    ("train.lr=fast", "train.lr", "number"),
    ("train.mixed_precision=bf8", "train.mixed_precision", "one of no, bf16, fp16"),
    ("seed=-1", "seed", "integer >= 0"),
    ("train.checkpoint_fractions=[a,1]", "train.checkpoint_fractions", "list of a number"),
    ("experiment.token_budget=null", "experiment.token_budget", "null is not allowed"),
])
def test_bad_values_are_one_error_line_naming_key_and_type(monkeypatch, tmp_path, capsys,
                                                           override, key, kind):
    for argv in (["stage", override],
                 ["stage", "--params", str(tmp_path / "p.yaml"), override]):
        (tmp_path / "p.yaml").write_text(to_yaml(compose()))
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as exit_:
            run(lambda cfg: pytest.fail("a bad value must not run the stage"))
        assert exit_.value.code == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and key in err[0], err
        assert kind in err[0], err


def test_group_without_schema_is_accepted(tmp_path):
    from omegaconf import OmegaConf

    from joule.schema import SCHEMA, Str, validate

    assert "newgroup" not in SCHEMA
    cfg = OmegaConf.create({"newgroup": {"name": "hf", "device": 3}, "seed": "4"})
    validate(cfg)
    assert cfg.newgroup.device == 3 and cfg.seed == 4   # newgroup untouched, seed coerced
    schema = {**SCHEMA, "newgroup": {"device": Str()}}
    assert validate(cfg, schema).newgroup.device == "3"


def test_group_option_under_params_is_a_clear_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(to_yaml(compose()))
    with pytest.raises(JouleError, match="'eval' must be a mapping"):
        load_params(path, ["eval=squad"])


def test_stale_params_yaml_is_refused_unless_dvc_exp_run(tmp_path, monkeypatch):
    """`dvc repro` after a conf/ edit without `make params` must not run on old values."""
    import joule.config as config

    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setattr(config, "PROJECT_ROOT", root)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    params = root / "params.yaml"
    params.write_text(to_yaml(compose()))
    config.check_params(params)                       # current: accepted
    params.write_text(to_yaml(compose(["train.lr=1e-3"])))
    with pytest.raises(JouleError, match="make params"):
        config.check_params(params)
    monkeypatch.setenv("DVC_EXP_NAME", "exp-1")       # dvc exp run -S train.lr=1e-3
    config.check_params(params)
    monkeypatch.delenv("DVC_EXP_NAME")
    other = tmp_path / "mine.yaml"
    other.write_text(params.read_text())
    config.check_params(other)                        # the caller's own file: not checked


def test_curriculum_outside_the_experiment_composes_under_hydra(monkeypatch, tmp_path):
    """README "Add a curriculum": `python -m pipeline.curate curriculum=mine` (Hydra entry)."""
    import shutil

    import joule.config as config

    conf = tmp_path / "conf"
    shutil.copytree(config.CONF_DIR, conf)
    shutil.copy(conf / "curricula" / "curated.yaml", conf / "curricula" / "mine.yaml")
    monkeypatch.setattr(config, "CONF_DIR", conf)
    seen = []
    monkeypatch.setattr(sys, "argv", ["stage", "curriculum=mine"])
    run(lambda cfg: seen.append(curriculum_config(cfg)))
    assert list(seen[0].steps) == list(compose().curricula.curated.steps)


def test_custom_eval_path_is_named_after_its_file(monkeypatch, tmp_path):
    overrides = ["eval.path=data/my_squad.json"]
    assert compose(overrides).eval.name == "my_squad"
    assert _through_hydra(monkeypatch, overrides).eval.name == "my_squad"
    assert _through_params(monkeypatch, tmp_path, overrides).eval.name == "my_squad"
    assert compose(overrides + ["eval.name=mine"]).eval.name == "mine"
    assert compose().eval.name == "xquad_en"


def test_project_params_yaml_takes_a_typed_override(monkeypatch):
    """Issue 22: `python -m pipeline.prepare --params params.yaml corpus.min_words=2e1` was a
    traceback; the project's params.yaml is also checked against conf/ on the way."""
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    seen = []
    monkeypatch.setattr(sys, "argv", ["stage", "--params", str(PROJECT_ROOT / "params.yaml"),
                                      "corpus.min_words=2e1", "corpus.keep_lists=no"])
    run(lambda cfg: seen.append(cfg))
    assert seen[0].corpus.min_words == 20 and seen[0].corpus.keep_lists is False


def test_derived_keys_follow_an_override_under_params(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(to_yaml(compose()))
    cfg = load_params(path, ["seed=3", "data_dir=/x"])
    assert cfg.rewrite_llm.generation.seed == 3
    assert cfg.eval.predictions_dir == "/x/predictions"
    # a derived key the params file itself set to something else keeps its value
    path.write_text(to_yaml(compose(["eval.predictions_dir=/mine"])))
    assert load_params(path, ["data_dir=/x"]).eval.predictions_dir == "/mine"


@pytest.mark.parametrize("name", sorted(p.stem for p in (PROJECT_ROOT / "conf" / "experiment")
                                        .glob("*.yaml")))
def test_every_shipped_experiment_composes_with_its_runs(name):
    """`dvc exp run -S experiment=<name>` must compose: every curriculum x seed is a run."""
    cfg = compose([f"experiment={name}"])
    assert cfg.experiment.name == name
    runs = OmegaConf.to_container(cfg, resolve=True)["runs"]
    assert len(runs) == len(cfg.curricula) * len(cfg.experiment.seeds)
    if name == "full":   # the larger budget, every question at every checkpoint
        assert cfg.experiment.token_budget > compose().experiment.token_budget
        assert cfg.eval.max_questions is None
