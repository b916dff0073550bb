"""`accelerate launch --multi_gpu --num_processes 2` on CPUs (gloo) trains what one process does.

The plan lays a run out for WORLD_SIZE processes (`train.data.plan_batches`): each optimizer step
takes one batch per process. Two processes with `train.rows_per_batch=1` and one process with
`rows_per_batch=2` see the same rows in each step here (checked below from the plans themselves),
and the loss is normalised by the step's labelled tokens across processes
(`average_tokens_across_devices`), so the gradients are the same sums; they differ only in
float32 summation order (per-process sums + gloo all-reduce vs one sum), ~1e-7 relative per
step. The tolerance on the final adapter, 1e-4 relative (max |a-b| / max |a|), leaves room for
that rounding to compound over the run's steps through AdamW, and is ~100x below how far the
adapter moves between its first checkpoint (2% of the tokens) and the end, which a wrong data
split or a missing step would show as (the assertion on `moved`). Measured: 0 difference.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from joule.config import compose
from joule.io import write_table
from tests.test_train import FRACTIONS, _records
from train.data import plan_batches

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None,
                       reason="the accelerate command is not installed beside this python"),
]
REPO = Path(__file__).resolve().parent.parent
ARGS = ["experiment.token_budget=100000", "train.max_seq_len=128", "train.logging_steps=1",
        "train.mixed_precision=no", "energy.use_zeus=false", "curriculum=c",
        f"train.checkpoint_fractions=[{','.join(map(str, FRACTIONS))}]"]


def _run(root: Path, model_dir: Path, processes: int, rows_per_batch: int) -> Path:
    curriculum = root / "data" / "curricula" / "c"
    curriculum.mkdir(parents=True)
    write_table(curriculum / "train.parquet", _records())
    args = [f"data_dir={root / 'data'}", f"metrics_dir={root / 'metrics'}",
            f"model.dir={model_dir}", f"train.rows_per_batch={rows_per_batch}", *ARGS]
    bindir = Path(sys.executable).parent
    if processes == 1:
        cmd = [sys.executable, "-m", "pipeline.train", *args]
    else:
        # `--cpu` alone uses the single-process launcher (multi-CPU there means mpirun);
        # `--multi_gpu` is accelerate's torchrun launcher, and ACCELERATE_USE_CPU makes its
        # processes CPU ones on gloo.
        cmd = [str(bindir / "accelerate"), "launch", "--multi_gpu",
               "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "pipeline.train", *args]
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                        "ACCELERATE_USE_CPU": "true", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


def _adapter(root: Path, name: str = "ckpt-100") -> dict[str, torch.Tensor]:
    return load_file(str(root / "data" / "models" / "c" / name / "adapter_model.safetensors"))


def test_two_processes_match_one(tmp_path, tiny_model):
    from transformers import AutoTokenizer

    from joule.formats import record_tokens

    tok = AutoTokenizer.from_pretrained(tiny_model)
    lengths = [record_tokens(r, tok) for r in _records()]
    one_plan = plan_batches(lengths, 128, 2, int(compose([]).train.pack_window), FRACTIONS, 1)
    two_plan = plan_batches(lengths, 128, 1, int(compose([]).train.pack_window), FRACTIONS, 2)
    assert two_plan.tokens_after == one_plan.tokens_after    # same rows in every step
    assert two_plan.checkpoints == one_plan.checkpoints

    one = _run(tmp_path / "one", tiny_model, 1, 2)
    two = _run(tmp_path / "two", tiny_model, 2, 1)
    m1 = json.loads((one / "metrics" / "train" / "c.json").read_text())
    m2 = json.loads((two / "metrics" / "train" / "c.json").read_text())
    assert m2["world_size"] == 2 and m1["world_size"] == 1
    assert m2["steps"] == m1["steps"] == len(two_plan.tokens_after)
    # tokens per step: the loss curve carries the tokens seen after each step
    assert [e["tokens"] for e in m2["loss_curve"]] == two_plan.tokens_after
    assert [e["tokens"] for e in m1["loss_curve"]] == one_plan.tokens_after
    # checkpoint marks: same names, steps and tokens
    marks = [(c["name"], c["step"], c["tokens"]) for c in m1["checkpoints"]]
    assert [(c["name"], c["step"], c["tokens"]) for c in m2["checkpoints"]] == marks
    assert m2["tokens"] == m1["tokens"] == sum(lengths)
    a, b = _adapter(one), _adapter(two)
    assert a.keys() == b.keys() and a
    scale = max(v.abs().max().item() for v in a.values())
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    tolerance = 1e-4 * scale
    assert diff <= tolerance, (diff, scale)
    early = _adapter(one, "ckpt-002")
    moved = max((a[k] - early[k]).abs().max().item() for k in a)
    assert moved > 10 * tolerance      # the tolerance is small against what training changes
    print(f"adapter max |diff| {diff:.3g} of max |w| {scale:.3g}; ckpt-002 vs final {moved:.3g}")
