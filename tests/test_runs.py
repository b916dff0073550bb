"""Training runs (`joule.runs`): run keys, `runs` in params.yaml, DVC's stages, and a tiny
train + evaluate of a further seed whose outputs land under its own key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from omegaconf import OmegaConf
from safetensors.torch import load_file

from joule.config import PROJECT_ROOT, compose, load_params, to_yaml
from joule.errors import JouleError
from joule.io import write_table
from joule.runs import Run, experiment_runs, parse_run


def _seeds(*overrides: str):
    return compose(["experiment.seeds=[0,1]", *overrides])


def test_run_keys_name_a_curriculum_and_a_training_seed():
    cfg = _seeds()
    assert parse_run(cfg, "curated") == Run("curated", "curated", 0)
    assert parse_run(cfg, "curated-seed1") == Run("curated-seed1", "curated", 1)
    assert parse_run(cfg, "curated_shuffled-seed1") == Run("curated_shuffled-seed1",
                                                           "curated_shuffled", 1)
    # a plain key is any curriculum, also one outside the experiment (conf/curricula/<name>)
    assert parse_run(cfg, "curated_round_trip") == Run("curated_round_trip",
                                                       "curated_round_trip", 0)


@pytest.mark.parametrize(("key", "match"), [
    ("curated-seed2", r"curriculum='curated-seed2': seed 2 is not in experiment.seeds \[0, 1\]"),
    ("curated-seed0", r"seed 0 is the first of experiment.seeds .* keyed 'curated'"),
    ("curated-seedx", r"curriculum='curated-seedx'.*'x' is not an integer seed"),
    ("curated_round_trip-seed1", r"'curated_round_trip' is not a curriculum of the experiment"),
])
def test_bad_run_keys_are_one_error_naming_the_key(key, match):
    with pytest.raises(JouleError, match=match):
        parse_run(_seeds(), key)


@pytest.mark.parametrize(("overrides", "match"), [
    (["seed=3", "experiment.seeds=[0,1]"], r"'experiment.seeds' must start with `seed` \(3\)"),
    (["experiment.seeds=[0,1,1]"], "must list distinct seeds"),
    (["experiment.seeds=[]"], "must list distinct seeds"),
])
def test_bad_seed_lists_are_one_error_naming_the_key(overrides, match):
    with pytest.raises(JouleError, match=match):
        experiment_runs(compose(overrides))


def test_runs_in_params_are_curricula_times_seeds():
    one = yaml.safe_load(to_yaml(compose(["experiment.seeds=[${seed}]"])))
    curricula = list(one["curricula"])
    assert one["experiment"]["seeds"] == [0]
    assert one["runs"] == {n: {"curriculum": n, "seed": 0} for n in curricula}
    two = yaml.safe_load(to_yaml(_seeds()))
    assert list(two["runs"]) == curricula + [f"{n}-seed1" for n in curricula]
    assert two["runs"]["raw-seed1"] == {"curriculum": "raw", "seed": 1}
    # the default first seed is `seed`: `dvc exp run -S seed=3` needs nothing else
    three = yaml.safe_load(to_yaml(compose(["seed=3"])))
    assert three["experiment"]["seeds"] == [3, 1] and three["runs"]["raw"]["seed"] == 3
    assert three["runs"]["raw-seed1"]["seed"] == 1


def test_params_file_overrides_recompute_seeds_and_runs(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(to_yaml(compose()))
    cfg = load_params(params, ["seed=3"])
    assert list(cfg.experiment.seeds) == [3, 1] and cfg.runs.curated.seed == 3
    cfg = load_params(params, ["experiment.seeds=[0,2]"])
    assert "curated-seed2" in cfg.runs and parse_run(cfg, "curated-seed2").seed == 2


def test_the_config_cli_refuses_a_bad_seed_list_in_one_line(monkeypatch, capsys):
    from joule import config

    monkeypatch.setattr("sys.argv", ["joule.config", "seed=3", "experiment.seeds=[0,1]"])
    with pytest.raises(SystemExit) as exit_:
        config.main()
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: config key 'experiment.seeds'") and "\n" not in err


_DVC_SCRIPT = """
import json, sys
from omegaconf import OmegaConf
from dvc.repo import Repo
from dvc.utils.hydra import compose_and_dump
assert not OmegaConf.has_resolver("joule.runs")
root = sys.argv[1]
compose_and_dump("params.yaml", root + "/conf", None, "config", root, ["experiment.seeds=[0,1]"])
Repo.init(".", no_scm=True)
with Repo(".") as repo:
    stages = {s.addressing: {"cmd": s.cmd, "deps": [d.def_path for d in s.deps]}
              for s in repo.index.stages}
print(json.dumps(stages))
"""


@pytest.mark.slow
def test_dvc_composes_the_same_runs_and_stages_per_run(tmp_path):
    """DVC's own composition (`dvc exp run -S`) finds the resolver through hydra_plugins/, and
    dvc.yaml makes train@ and evaluate@ stages per run, the first seed's named as before."""
    shutil.copy(PROJECT_ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", _DVC_SCRIPT, str(PROJECT_ROOT)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    stages = json.loads(done.stdout.strip().splitlines()[-1])
    assert (tmp_path / "params.yaml").read_text() == to_yaml(_seeds())
    curricula = list(OmegaConf.load(tmp_path / "params.yaml").curricula)
    for n in curricula:
        for stage in ("curate", "train", "evaluate"):
            assert f"{stage}@{n}" in stages
        assert {f"train@{n}-seed1", f"evaluate@{n}-seed1"} <= stages.keys()
        assert f"curate@{n}-seed1" not in stages
        assert stages[f"train@{n}"]["cmd"] == (
            f"python -m pipeline.train --params params.yaml curriculum={n}")   # as before
    train = stages["train@raw-seed1"]
    assert train["cmd"] == "python -m pipeline.train --params params.yaml curriculum=raw-seed1"
    assert "data/curricula/raw" in train["deps"]   # the curriculum's one curated set
    assert "data/models/raw-seed1" in stages["evaluate@raw-seed1"]["deps"]


# --- a further seed, end to end on the tiny model ----------------------------------------------

_QUESTIONS = {"version": "1.1", "data": [{"title": "Quillmere", "paragraphs": [
    {"context": "Quillmere is a harbour town founded in 1642 by salt traders.",
     "qas": [{"id": "q1", "question": "When was Quillmere founded?",
              "answers": [{"text": "1642", "answer_start": 39}]},
             {"id": "q2", "question": "Who founded Quillmere?",
              "answers": [{"text": "salt traders", "answer_start": 47}]}]}]}]}


def _rows(n: int = 12) -> list[dict]:
    keys = ("id", "page_id", "title", "format", "meta", "context", "question", "answer",
            "answer_start", "text")
    rows = [{"id": f"qa{i}", "format": "qa_extractive.v1", "page_id": "p1", "title": "T",
             "meta": "{}", "context": "Aristotle taught Alexander the Great in Macedon.",
             "question": "Who taught Alexander?", "answer": "Aristotle", "answer_start": 0}
            for i in range(n)]
    return [{k: r.get(k) for k in keys} for r in rows]


@pytest.mark.slow
def test_a_further_seed_trains_the_same_set_and_writes_under_its_key(tmp_path, tiny_model):
    from pipeline.evaluate import main as evaluate
    from pipeline.train import main as train

    data, metrics = tmp_path / "data", tmp_path / "metrics"
    (data / "curricula" / "curated").mkdir(parents=True)
    write_table(data / "curricula" / "curated" / "train.parquet", _rows())
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps(_QUESTIONS))
    overrides = ["experiment.seeds=[0,1]", f"data_dir={data}", f"metrics_dir={metrics}",
                 f"model.dir={tiny_model}", "experiment.token_budget=100000",
                 "train.max_seq_len=64", "train.rows_per_batch=2",
                 "train.checkpoint_fractions=[0.5,1.0]", f"eval.path={questions}",
                 "eval.max_questions=null", "eval.bootstrap_samples=10", "eval.max_new_tokens=3",
                 "eval.dtype=float32", "engine.batch_size=2"]
    for key in ("curated", "curated-seed1"):
        train(compose([*overrides, f"curriculum={key}"]))
        evaluate(compose([*overrides, f"curriculum={key}"]))

    first = load_file(str(data / "models/curated/ckpt-100/adapter_model.safetensors"))
    other = load_file(str(data / "models/curated-seed1/ckpt-100/adapter_model.safetensors"))
    assert first.keys() == other.keys()
    assert not all(torch.equal(first[k], other[k]) for k in first)   # another training seed
    trained = json.loads((metrics / "train" / "curated-seed1.json").read_text())
    assert (trained["curriculum"], trained["run"], trained["training_seed"]) == (
        "curated", "curated-seed1", 1)
    assert trained["records"] == 12   # the same curated set as seed 0's
    scored = json.loads((metrics / "eval" / "curated-seed1.json").read_text())
    assert (scored["run"], scored["training_seed"], scored["n"]) == ("curated-seed1", 1, 2)
    ids = {s: sorted(json.loads(line)["id"] for line in
                     (data / "predictions" / s / "ckpt-100.jsonl").read_text().splitlines())
           for s in ("curated", "curated-seed1")}
    assert ids["curated"] == ids["curated-seed1"] == ["q1", "q2"]   # paired questions
    assert not (data / "curricula" / "curated-seed1").exists()

    with pytest.raises(JouleError, match="curriculum='curated-seed5'"):
        train(compose([*overrides, "curriculum=curated-seed5"]))
    assert not (data / "models" / "curated-seed5").exists()
