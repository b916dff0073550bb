"""The evaluate stage on the tiny model: checkpoints from a peft run, base mode, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from joule.config import PROJECT_ROOT, compose
from joule.errors import JouleError
from pipeline.evaluate import main

# Invented passages and questions in the SQuAD v1.1 layout (no real eval text in the repo).
_FIXTURE = {"version": "1.1", "data": [
    {"title": "Quillmere", "paragraphs": [
        {"context": "Quillmere is a harbour town founded in 1642 by salt traders. Its lighthouse "
                    "was painted green in 1901.",
         "qas": [{"id": "q1", "question": "When was Quillmere founded?",
                  "answers": [{"text": "1642", "answer_start": 39}]},
                 {"id": "q2", "question": "Who founded Quillmere?",
                  "answers": [{"text": "salt traders", "answer_start": 47},
                              {"text": "by salt traders", "answer_start": 44}]}]},
        {"context": "The lighthouse keeper, Odile Marsh, kept bees.",
         "qas": [{"id": "q3", "question": "What did Odile Marsh keep?",
                  "answers": [{"text": "bees", "answer_start": 41}]}]}]},
    {"title": "Tarn river", "paragraphs": [
        {"context": "The Tarn river freezes each January.",
         "qas": [{"id": "q4", "question": "When does the Tarn freeze?",
                  "answers": [{"text": "each January", "answer_start": 23}]}]}]}]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model):
    """Two peft checkpoints of curriculum `curated` and their checkpoints.json (made once)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    models = tmp_path_factory.mktemp("trained") / "curated"
    entries = []
    for i, (fraction, tokens, joules) in enumerate([(0.5, 500, 12.5), (1.0, 1000, 25.0)]):
        name = f"ckpt-{round(fraction * 100):03d}"
        base = AutoModelForCausalLM.from_pretrained(str(tiny_model))
        lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        torch.manual_seed(i)
        get_peft_model(base, lora).save_pretrained(models / name)
        entries.append({"name": name, "fraction": fraction, "tokens": tokens, "path": name,
                        "time_s": 1.0 + i, "energy_j": joules, "energy_source": "estimated:tdp",
                        "flops": 10 ** 9 * (i + 1)})
    (models / "checkpoints.json").write_text(json.dumps({"checkpoints": entries,
                                                         "final": "ckpt-100"}))
    return models


@pytest.fixture()
def project(tmp_path, tiny_model, trained):
    """A data dir holding the trained checkpoints, an eval file, and the overrides to use them."""
    shutil.copytree(trained, tmp_path / "data" / "models" / "curated")
    eval_file = tmp_path / "questions.json"
    eval_file.write_text(json.dumps(_FIXTURE))
    overrides = [f"data_dir={tmp_path / 'data'}", f"metrics_dir={tmp_path / 'metrics'}",
                 f"model.dir={tiny_model}", f"eval.path={eval_file}", "eval.max_questions=null",
                 "eval.bootstrap_samples=50", "engine.batch_size=3", "eval.max_new_tokens=4",
                 "eval.dtype=float32"]
    return tmp_path, overrides


def _read(path):
    return json.loads(path.read_text())


def test_every_checkpoint_is_scored_with_its_training_cost(project):
    root, overrides = project
    metrics = main(compose(overrides + ["curriculum=curated"]))
    written = _read(root / "metrics" / "eval" / "curated.json")
    assert written == {**written, **json.loads(json.dumps(metrics))}
    assert [c["name"] for c in written["checkpoints"]] == ["ckpt-050", "ckpt-100"]
    assert [c["tokens"] for c in written["checkpoints"]] == [500, 1000]
    assert [c["energy_j"] for c in written["checkpoints"]] == [12.5, 25.0]
    final = written["checkpoints"][-1]
    assert written["final"] == "ckpt-100" and written["n"] == 4
    for key in ("f1", "em", "f1_ci95", "em_ci95"):
        assert written[key] == final[key]
    for c in written["checkpoints"]:
        assert 0 <= c["f1_ci95"][0] <= c["f1"] <= c["f1_ci95"][1] <= 100
        assert c["inference_flops"] > 0 and c["generated_tokens"] <= 4 * 4
    for key in ("time_s", "energy_j", "energy_source", "inference_flops"):
        assert key in written
    lines = (root / "data" / "predictions" / "curated" / "ckpt-050.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4"]
    assert rows[1]["answers"] == ["salt traders", "by salt traders"]
    assert {"question", "prediction", "f1", "em"} <= set(rows[0])
    assert sorted(p.name for p in (root / "data" / "predictions" / "curated").iterdir()) == [
        "ckpt-050.jsonl", "ckpt-100.jsonl"]


def test_the_final_checkpoint_is_scored_on_every_question_earlier_ones_on_the_sample(project):
    root, overrides = project
    metrics = main(compose(overrides + ["curriculum=curated", "eval.max_questions=2"]))
    first, final = metrics["checkpoints"]
    # every checkpoint: the same seeded sample of 2 (one curve on one set of questions)
    assert (first["n"], first["question_set"]) == (2, "sample") == (final["n"],
                                                                  final["question_set"])
    assert "full" not in first and first["questions_asked"] == 2
    # the final one: also all 4 questions of the file, beside its sample scores
    assert final["full"]["n"] == 4 and final["full"]["question_set"] == "full"
    assert final["questions_asked"] == 4 and metrics["eval_file_questions"] == 4
    assert metrics["full"] == final["full"] and metrics["n"] == 2 and metrics["f1"] == final["f1"]
    predictions = root / "data" / "predictions" / "curated"
    rows = [json.loads(line) for line in (predictions / "ckpt-100.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == ["q1", "q2", "q3", "q4"]
    sample = [r for r in rows if r["in_sample"]]
    assert len(sample) == 2 and [r["id"] for r in rows[:2]] == [r["id"] for r in sample]
    assert final["full"]["f1"] == pytest.approx(100 * sum(r["f1"] for r in rows) / 4)
    assert final["f1"] == pytest.approx(100 * sum(r["f1"] for r in sample) / 2)
    # the earlier checkpoint's sample is the final one's
    early = [json.loads(line) for line in (predictions / "ckpt-050.jsonl").read_text().splitlines()]
    assert [r["id"] for r in early] == [r["id"] for r in sample]
    # the knob off: the final checkpoint too answers the sample only
    metrics = main(compose(overrides + ["curriculum=curated", "eval.max_questions=2",
                                        "eval.last_on_full=false"]))
    assert "full" not in metrics and metrics["checkpoints"][-1]["questions_asked"] == 2


def test_engine_hf_evaluates_end_to_end(project):
    root, overrides = project
    metrics = main(compose(overrides + ["curriculum=curated", "engine=hf"]))
    assert (metrics["engine"], metrics["device"]) == ("hf", "cpu")
    reference = main(compose(overrides + ["curriculum=curated", "metrics_dir=" +
                                          str(root / "other")]))
    assert reference["engine"] == "cpu_shared_prefix"
    # float32 here: the same answers, so the same scores
    for got, want in zip(metrics["checkpoints"], reference["checkpoints"], strict=True):
        assert (got["f1"], got["em"], got["generated_tokens"]) == \
               (want["f1"], want["em"], want["generated_tokens"])
        assert got["computed_prompt_tokens"] == got["prompt_tokens"]   # hf shares no prefix


def test_a_cuda_request_without_cuda_is_one_error_before_any_output(project, monkeypatch):
    import torch

    root, overrides = project
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(JouleError, match="engine.device='cuda', but torch sees no CUDA"):
        main(compose(overrides + ["curriculum=curated", "engine=hf", "engine.device=cuda"]))
    assert not (root / "metrics" / "eval" / "curated.json").exists()
    assert not (root / "data" / "predictions" / "curated").exists()


def test_base_mode_scores_the_model_without_adapter(project):
    root, overrides = project
    main(compose(overrides + ["curriculum=base"]))
    written = _read(root / "metrics" / "eval" / "base.json")
    (only,) = written["checkpoints"]
    assert (only["name"], only["tokens"], only["energy_j"]) == ("base", 0, 0.0)
    assert written["n"] == 4
    assert (root / "data" / "predictions" / "base" / "base.jsonl").is_file()


def test_last_only_scores_the_final_checkpoint_from_the_command_line(project, tmp_path):
    root, overrides = project
    out = tmp_path / "quick"
    # the quick check of the issue, as a user types it (plus where the tiny test project lives)
    cmd = [sys.executable, "-m", "pipeline.evaluate", "curriculum=curated",
           f"eval.path={root / 'questions.json'}", "eval.checkpoints=last", f"metrics_dir={out}"]
    cmd += [o for o in overrides if not o.startswith(("metrics_dir=", "eval.path="))]
    # run outside the repo: Hydra writes its job log into the working directory
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    written = _read(out / "eval" / "curated.json")
    assert [c["name"] for c in written["checkpoints"]] == ["ckpt-100"]
    assert [p.name for p in (root / "data" / "predictions" / "curated").iterdir()] == [
        "ckpt-100.jsonl"]


def test_missing_eval_file_and_no_hub_names_what_was_tried(project, monkeypatch):
    import datasets

    root, overrides = project

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    cfg = compose(overrides + ["curriculum=curated", f"eval.path={root / 'nope.json'}"])
    with pytest.raises(JouleError) as err:
        main(cfg)
    message = str(err.value)
    assert str(root / "nope.json") in message and "google/xquad" in message
    assert "no network" in message
    assert not (root / "metrics" / "eval" / "curated.json").exists()
    assert not (root / "data" / "predictions" / "curated").exists()


def test_squad_option_reads_rajpurkar_squad_validation(monkeypatch):
    import datasets

    from joule.evalset import load_eval_set

    calls = []

    def fake(name, config, split):
        calls.append((name, config, split))
        return [{"id": "s1", "title": "T", "context": "Bees hum.", "question": "What hums?",
                 "answers": {"text": ["Bees"], "answer_start": [0]}}]

    monkeypatch.setattr(datasets, "load_dataset", fake)
    rows = load_eval_set(compose(["eval=squad"]).eval)
    assert calls == [("rajpurkar/squad", None, "validation")]
    assert rows[0]["answers"] == ["Bees"]


@pytest.mark.parametrize(("index", "match"), [
    ({"checkpoints": [], "final": "x"}, "lists no checkpoints"),
    ({"checkpoints": [{"name": "ckpt-100", "path": "ckpt-100"}]}, "missing 'final'"),
    ({"checkpoints": [{"name": "ckpt-100", "path": "gone", "tokens": 1, "energy_j": 1.0,
                       "energy_source": "x"}], "final": "ckpt-100"}, "no peft adapter"),
])
def test_bad_checkpoints_index_names_the_file(project, index, match):
    root, overrides = project
    (root / "data" / "models" / "curated" / "checkpoints.json").write_text(json.dumps(index))
    with pytest.raises(JouleError, match=match) as err:
        main(compose(overrides + ["curriculum=curated"]))
    assert "checkpoints.json" in str(err.value)


def test_bad_mode_and_checkpoint_choice_are_config_errors(project):
    _, overrides = project
    with pytest.raises(JouleError, match="eval.mode"):
        main(compose(overrides + ["eval.mode=oracle"]))
    with pytest.raises(JouleError, match="eval.checkpoints"):
        main(compose(overrides + ["eval.checkpoints=some"]))
