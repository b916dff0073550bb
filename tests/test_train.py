"""The train stage on a tiny random Llama: learning, frozen base, budget, checkpoints, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from joule.config import compose
from joule.errors import JouleError
from joule.io import write_table
from train.data import checkpoint_name

FRACTIONS = [0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0]


def _records(n: int = 40) -> list[dict]:
    """Extractive-QA and raw records of varied lengths, all columns present (nulls elsewhere)."""
    rows = []
    for i in range(n):
        if i % 2:
            rows.append({"id": f"raw{i}", "format": "raw.v1",
                         "text": "Paris is the capital of France. " * (1 + i % 5)})
        else:
            context = "Aristotle taught Alexander the Great in Macedon. " * (1 + i % 3)
            rows.append({"id": f"qa{i}", "format": "qa_extractive.v1", "context": context,
                         "question": "Who taught Alexander?", "answer": "Aristotle",
                         "answer_start": 0})
    keys = ("id", "page_id", "title", "format", "meta", "context", "question", "answer",
            "answer_start", "text")
    common = {"page_id": "p1", "title": "T", "meta": "{}"}
    return [{k: (common | r).get(k) for k in keys} for r in rows]


def _setup(root: Path, model_dir: Path, rows: list[dict], *overrides: str):
    curriculum = root / "data" / "curricula" / "c"
    curriculum.mkdir(parents=True, exist_ok=True)
    write_table(curriculum / "train.parquet", rows)
    cfg = compose([f"data_dir={root / 'data'}", f"metrics_dir={root / 'metrics'}",
                   f"model.dir={model_dir}", "experiment.token_budget=100000",
                   "train.max_seq_len=128", "train.rows_per_batch=2", "train.logging_steps=1",
                   f"train.checkpoint_fractions={FRACTIONS}", *overrides])
    cfg.curriculum = "c"   # a name, not a config group: set after composing
    return cfg


class Kill(TrainerCallback):
    """Raise at the end of step `step`, once any checkpoint there is written: a killed stage."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step and not control.should_save:
            raise KeyboardInterrupt(f"killed after step {state.global_step}")
        return control

    def on_save(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            raise KeyboardInterrupt(f"killed after step {state.global_step}")
        return control


def _adapter(models: Path, name: str = "ckpt-100") -> dict[str, torch.Tensor]:
    return load_file(str(models / name / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model):
    """One uninterrupted run, shared by the tests that compare against it."""
    from pipeline.train import main

    root = tmp_path_factory.mktemp("ref")
    cfg = _setup(root, tiny_model, _records())
    main(cfg)
    return root


def test_outputs_checkpoints_and_budget(reference, tiny_model):
    from transformers import AutoTokenizer

    from joule.formats import record_tokens

    models = reference / "data" / "models" / "c"
    listing = json.loads((models / "checkpoints.json").read_text())
    assert listing["final"] == "ckpt-100"
    assert [c["name"] for c in listing["checkpoints"]] == [checkpoint_name(f) for f in FRACTIONS]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    budget = sum(record_tokens(r, tokenizer) for r in _records())
    tokens = [c["tokens"] for c in listing["checkpoints"]]
    assert tokens[-1] == budget                      # the whole curriculum, exactly once
    longest = max(record_tokens(r, tokenizer) for r in _records())
    for f, t in zip(FRACTIONS, tokens, strict=True):
        assert f * budget <= t < f * budget + longest   # at the mark's next record boundary
    for c in listing["checkpoints"]:
        assert (models / c["path"] / "adapter_model.safetensors").is_file()
        assert c["energy_source"] and c["energy_j"] > 0 and c["time_s"] > 0 and c["flops"] > 0
    assert [c["flops"] for c in listing["checkpoints"]] == sorted(
        c["flops"] for c in listing["checkpoints"])
    metrics = json.loads((reference / "metrics" / "train" / "c.json").read_text())
    assert metrics["tokens"] == budget and metrics["checkpoints"] == listing["checkpoints"]
    assert 0 <= metrics["padding_fraction"] < 0.5 and len(metrics["loss_curve"]) == metrics["steps"]
    assert not (reference / "data" / "models" / ".c.work").exists()   # no state left behind


def test_lora_weights_change_and_base_weights_do_not(tiny_model, tmp_path):
    """Train in-process, then compare every parameter with the checkpoint it started from."""
    from transformers import AutoModelForCausalLM

    from joule.energy import CpuPower, EnergyMeter
    from train.data import plan_batches, tokenize_records
    from train.loop import train_lora
    from train.model import load_checkpoint

    cfg = _setup(tmp_path, tiny_model, _records(8), "train.lr=1e-2")
    model, tokenizer = load_checkpoint(tiny_model)
    examples = tokenize_records(_records(8), tokenizer)
    plan = plan_batches([len(x) for x, _ in examples], 128, 2, 8, [1.0])
    meter = EnergyMeter(CpuPower(5.0, "test"))
    meter.begin("t")
    train_lora(cfg, model, tokenizer, examples, plan, tmp_path / "work",
               lambda: meter.read("t"))
    original = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    base = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
            for k, v in model.state_dict().items() if "lora_" not in k}
    assert set(original) <= set(base)
    for key, value in original.items():
        assert torch.equal(base[key], value), key
    lora_b = [v for k, v in model.state_dict().items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b)   # B starts at zero: it moved


def test_loss_falls_on_a_repeated_batch(tiny_model, tmp_path):
    from pipeline.train import main

    rows = [_records(2)[1]] * 16      # one raw record, one per step
    # The tiny random model's logits are near zero through its small tied embeddings: an adapter
    # on the output head too lets it become confident within a few steps.
    cfg = _setup(tmp_path, tiny_model, rows, "train.lr=2e-2", "train.rows_per_batch=1",
                 "train.max_seq_len=64", "train.warmup_ratio=0.0",
                 "train.lora.target_modules=[q_proj,v_proj,o_proj,down_proj,lm_head]",
                 "train.pack_window=1", "train.lora.dropout=0.0",
                 "train.checkpoint_fractions=[1.0]")
    main(cfg)
    curve = json.loads((tmp_path / "metrics" / "train" / "c.json").read_text())["loss_curve"]
    first, last = curve[0]["loss"], curve[-1]["loss"]
    assert last < 0.5 * first, (first, last)


def test_same_seed_same_adapter(reference, tiny_model, tmp_path):
    from pipeline.train import main

    main(_setup(tmp_path, tiny_model, _records()))
    a, b = _adapter(reference / "data" / "models" / "c"), _adapter(tmp_path / "data/models/c")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_killed_run_resumes_to_the_same_adapter(reference, tiny_model, tmp_path):
    from pipeline.train import main

    cfg = _setup(tmp_path, tiny_model, _records())
    listing = json.loads((reference / "data/models/c/checkpoints.json").read_text())
    kill_at = listing["checkpoints"][4]["step"] + 1     # one step past ckpt-040
    with pytest.raises(KeyboardInterrupt):
        main(cfg, callbacks=[Kill(kill_at)])
    work = tmp_path / "data" / "models" / ".c.work"
    assert not (tmp_path / "data" / "models" / "c").exists()     # no partial output
    assert (work / "adapters" / "ckpt-040").is_dir() and not (work / "adapters/ckpt-070").exists()
    main(cfg)
    metrics = json.loads((tmp_path / "metrics" / "train" / "c.json").read_text())
    assert metrics["resumed_from_step"] == listing["checkpoints"][4]["step"]
    a, b = _adapter(reference / "data" / "models" / "c"), _adapter(tmp_path / "data/models/c")
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-6, rtol=1e-5)
    ref_tokens = [c["tokens"] for c in listing["checkpoints"]]
    assert [c["tokens"] for c in metrics["checkpoints"]] == ref_tokens
    assert not work.exists()


def test_a_changed_curriculum_does_not_resume_stale_state(tiny_model, tmp_path):
    from pipeline.train import main

    cfg = _setup(tmp_path, tiny_model, _records(10), "train.checkpoint_fractions=[0.5]")
    with pytest.raises(KeyboardInterrupt):
        main(cfg, callbacks=[Kill(2)])
    cfg = _setup(tmp_path, tiny_model, _records(12), "train.checkpoint_fractions=[0.5]")
    main(cfg)
    metrics = json.loads((tmp_path / "metrics" / "train" / "c.json").read_text())
    assert metrics["resumed_from_step"] == 0 and metrics["records"] == 12


def test_changed_training_code_does_not_resume_stale_state(reference, tiny_model, tmp_path,
                                                           monkeypatch):
    import train.loop
    from pipeline.train import main

    cfg = _setup(tmp_path, tiny_model, _records())
    listing = json.loads((reference / "data/models/c/checkpoints.json").read_text())
    with pytest.raises(KeyboardInterrupt):
        main(cfg, callbacks=[Kill(listing["checkpoints"][4]["step"] + 1)])
    assert (tmp_path / "data" / "models" / ".c.work" / "adapters" / "ckpt-040").is_dir()
    version = train.loop.code_version()
    assert version == train.loop.code_version()          # stable: same code, same version
    monkeypatch.setattr(train.loop, "code_version", lambda: version + "-edited")
    main(cfg)
    metrics = json.loads((tmp_path / "metrics" / "train" / "c.json").read_text())
    assert metrics["resumed_from_step"] == 0              # started afresh


def test_over_budget_curriculum_and_missing_inputs_fail_clearly(tiny_model, tmp_path):
    from pipeline.train import main

    cfg = _setup(tmp_path, tiny_model, _records(4), "experiment.token_budget=10")
    with pytest.raises(JouleError, match="experiment.token_budget"):
        main(cfg)
    cfg.data_dir = str(tmp_path / "nowhere")
    with pytest.raises(JouleError, match="train.parquet"):
        main(cfg)
    shutil.rmtree(tmp_path / "metrics", ignore_errors=True)


def test_bf16_autocast_runs_on_the_cpu_when_there_is_no_gpu(tmp_path, monkeypatch):
    import train.loop as loop

    tcfg = compose(["train.mixed_precision=bf16"]).train
    monkeypatch.setattr(loop, "_has_gpu", lambda: False)  # (Trainer itself checks bf16 on GPUs)
    args = loop.training_arguments(tcfg, tmp_path, max_steps=2, seed=0)
    assert args.bf16 and args.use_cpu
    fp32 = loop.training_arguments(compose(["train.mixed_precision=no"]).train, tmp_path, 2, 0)
    assert not fp32.bf16 and not fp32.use_cpu


def test_new_base_weights_of_the_same_shapes_do_not_resume(tiny_model, tmp_path, capsys):
    """Issue 22 kind 8: the fingerprint reads the base model's bytes, not names and sizes."""
    from safetensors.torch import save_file

    from pipeline.train import main

    model_dir = tmp_path / "base"
    shutil.copytree(tiny_model, model_dir)
    cfg = _setup(tmp_path, model_dir, _records(10), "train.checkpoint_fractions=[0.5]")
    with pytest.raises(KeyboardInterrupt):
        main(cfg, callbacks=[Kill(2)])
    weights = next(model_dir.glob("*.safetensors"))
    size = weights.stat().st_size
    tensors = load_file(str(weights))
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name] = tensors[name] + 0.01                   # same shape, same dtype
    save_file(tensors, str(weights), metadata={"format": "pt"})
    assert weights.stat().st_size == size
    main(cfg)
    metrics = json.loads((tmp_path / "metrics" / "train" / "c.json").read_text())
    assert metrics["resumed_from_step"] == 0
    assert "starting afresh" in capsys.readouterr().out


def test_resume_says_so(tiny_model, tmp_path, capsys):
    from pipeline.train import main

    cfg = _setup(tmp_path, tiny_model, _records(20), "train.checkpoint_fractions=[0.3,1.0]")
    with pytest.raises(KeyboardInterrupt):
        main(cfg, callbacks=[Kill(5)])
    capsys.readouterr()
    main(cfg)
    metrics = json.loads((tmp_path / "metrics" / "train" / "c.json").read_text())
    assert metrics["resumed_from_step"] > 0
    assert f"train: resuming from step {metrics['resumed_from_step']} of" in capsys.readouterr().out


def test_accelerate_asking_for_processes_it_cannot_start_is_refused(monkeypatch):
    """`accelerate launch --num_processes 4` without GPUs starts one process (MASTER_ADDR set,
    no WORLD_SIZE): refused rather than training alone without a word."""
    from train.loop import world_size

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    assert world_size() == 1
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    with pytest.raises(JouleError, match="accelerate found no GPUs"):
        world_size()
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert world_size() == 4
