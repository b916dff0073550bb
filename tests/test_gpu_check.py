"""scripts/gpu_check.sh on a machine without CUDA: its dry run, its refusal, and its checking
half (scripts/gpu_check_metrics.py) on hand-made metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from joule.config import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "gpu_check.sh"
CHECK = PROJECT_ROOT / "scripts" / "gpu_check_metrics.py"


def _run(*args, env=None):
    return subprocess.run([*args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_dry_run_names_the_smoke_run_with_hf_on_cuda():
    done = _run("bash", str(SCRIPT), "--dry-run", "--out", "/tmp/x", "eval.max_questions=4")
    assert done.returncode == 0, done.stderr
    assert ("pipeline.smoke --out /tmp/x engine=hf engine.device=cuda eval.max_questions=4"
            in done.stdout)
    assert "--energy measured:nvml" in done.stdout


def test_without_cuda_it_fails_loudly_and_runs_nothing(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = _run("bash", str(SCRIPT), "--out", str(tmp_path / "out"),
                env={"PYTHON": sys.executable})
    assert done.returncode == 2
    assert "error: gpu_check.sh needs a CUDA GPU, and torch sees none" in done.stderr
    assert not (tmp_path / "out").exists()


def _metrics(root, source="measured:nvml+estimated:tdp", engine="hf", device="cuda:0"):
    (root / "eval").mkdir(parents=True)
    (root / "train").mkdir()
    (root / "prepare.json").write_text(json.dumps(
        {"time_s": 1.0, "energy_j": 2.0, "energy_source": source}))
    (root / "train" / "curated.json").write_text(json.dumps(
        {"time_s": 30.0, "energy_j": 900.0, "energy_source": source}))
    (root / "eval" / "curated.json").write_text(json.dumps(
        {"curriculum": "curated", "f1": 41.5, "n": 12, "final": "ckpt-100", "time_s": 9.0,
         "energy_j": 1500.0, "energy_source": source, "engine": engine, "device": device,
         "full": {"f1": 40.1, "n": 631},
         "checkpoints": [{"name": "ckpt-100", "eval_energy_source": source}]}))


def test_the_check_passes_on_nvml_metrics_and_prints_the_figures(tmp_path):
    _metrics(tmp_path)
    done = _run(sys.executable, str(CHECK), str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "gpu check: ok" in done.stdout
    line = next(row for row in done.stdout.splitlines() if row.startswith("curated "))
    assert line.split() == ["curated", "41.5", "12", "40.1", "631", "9.0", "1500.0", "hf",
                            "cuda:0"]
    assert "train/curated" in done.stdout


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"source": "estimated:tdp"}, "has no measured:nvml"),
    ({"engine": "cpu_shared_prefix"}, "engine 'cpu_shared_prefix', expected 'hf'"),
    ({"device": "cpu"}, "device 'cpu', expected cuda"),
])
def test_the_check_fails_on_estimates_another_engine_or_the_cpu(tmp_path, kwargs, message):
    _metrics(tmp_path, **kwargs)
    done = _run(sys.executable, str(CHECK), str(tmp_path))
    assert done.returncode == 1 and "gpu check: FAILED" in done.stdout
    assert message in done.stderr


def test_the_check_fails_on_an_empty_run(tmp_path):
    done = _run(sys.executable, str(CHECK), str(tmp_path))
    assert done.returncode == 1 and "no stage metrics" in done.stderr
