"""The checking half of scripts/gpu_check.sh: read a smoke run's metrics directory, require that
evaluation ran with the expected engine on CUDA and that every stage's energy includes NVML
counters (`measured:nvml`), and print the figures. Exit status 0 only if every check passed.

    python scripts/gpu_check_metrics.py build/gpu_check/metrics [--engine hf] [--device cuda]
        [--energy measured:nvml]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read {path}: {exc}") from exc


def check(metrics_dir: Path, engine: str, device: str, energy: str) -> list[str]:
    """Print the figures of the run under `metrics_dir`; return the failed checks (empty: ok)."""
    failures = []
    stages = sorted(p for p in metrics_dir.rglob("*.json") if "plots" not in p.parts)
    if not stages:
        return [f"{metrics_dir}: no stage metrics (did the smoke run write here?)"]
    print(f"{'stage':32} {'time_s':>9} {'energy_j':>11}  energy_source")
    for path in stages:
        m = _load(path)
        if "energy_source" not in m:
            continue
        label = str(path.relative_to(metrics_dir).with_suffix(""))
        print(f"{label:32} {m.get('time_s', float('nan')):9.1f} "
              f"{m.get('energy_j', float('nan')):11.1f}  {m['energy_source']}")
        if energy not in str(m["energy_source"]).split("+"):
            failures.append(f"{path}: energy_source {m['energy_source']!r} has no {energy}")
    evals = sorted((metrics_dir / "eval").glob("*.json"))
    if not evals:
        failures.append(f"{metrics_dir / 'eval'}: no evaluate metrics")
    print(f"\n{'curriculum':20} {'F1':>6} {'n':>4} {'F1 full':>8} {'n':>4} {'eval_s':>8} "
          f"{'eval_J':>10}  engine  device")
    for path in evals:
        m = _load(path)
        full = m.get("full") or {}
        final = next((c for c in m.get("checkpoints", []) if c.get("name") == m.get("final")), {})
        print(f"{m.get('curriculum', path.stem):20} {m.get('f1', float('nan')):6.1f} "
              f"{m.get('n', 0):4d} {full.get('f1', float('nan')):8.1f} {full.get('n', 0):4d} "
              f"{m.get('time_s', float('nan')):8.1f} {m.get('energy_j', float('nan')):10.1f}  "
              f"{m.get('engine')}  {m.get('device')}")
        if m.get("engine") != engine:
            failures.append(f"{path}: engine {m.get('engine')!r}, expected {engine!r}")
        if not str(m.get("device", "")).startswith(device):
            failures.append(f"{path}: device {m.get('device')!r}, expected {device}")
        source = str(final.get("eval_energy_source", ""))
        if energy not in source.split("+"):
            failures.append(f"{path}: final checkpoint's eval_energy_source {source!r} has no "
                            f"{energy}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics_dir", type=Path)
    parser.add_argument("--engine", default="hf")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--energy", default="measured:nvml")
    args = parser.parse_args(argv)
    failures = check(args.metrics_dir, args.engine, args.device, args.energy)
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    print("\ngpu check: " + ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
