"""`python -m pipeline.smoke`: the whole pipeline on the smoke experiment, then its report table.

Runs every stage in dvc.yaml's order, in this one process (imports and the model conversion are
paid once), into `--out` (default `build/smoke`), with `experiment=smoke`: a few pages, a tiny
token budget, a few questions. Extra arguments are Hydra overrides, e.g. `model=hf
model.id_or_path=<dir>`. It ends by printing the report's table, so every CI log carries an
energy-per-accuracy report. Use `dvc exp run -S experiment=smoke` for the DVC-tracked version.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from joule.config import compose
from joule.errors import JouleError

BASE = "base"  # the `curriculum` value that makes evaluate score the base model, no adapter


def stage_plan(curricula: list[str]) -> list[tuple[str, str | None]]:
    """(stage module, curriculum) pairs in dependency order, as dvc.yaml orders them."""
    plan: list[tuple[str, str | None]] = [("base_model", None), ("prepare", None),
                                          ("rewrite", None)]
    for name in curricula:
        plan += [("curate", name), ("train", name), ("evaluate", name)]
    plan += [("evaluate", BASE), ("report", None)]
    return plan


def run_pipeline(out: Path, overrides: list[str]) -> Path:
    """Run every stage of the smoke experiment into `out`; return the report's Markdown path."""
    common = ["experiment=smoke", f"data_dir={out}/data", f"metrics_dir={out}/metrics",
              f"reports_dir={out}/reports", *overrides]
    curricula = list(compose(common).curricula)
    for module, curriculum in stage_plan(curricula):
        cfg = compose(common + ([f"curriculum={curriculum}"] if curriculum else []))
        label = module + (f"@{curriculum}" if curriculum else "")
        print(f"[smoke] {label} ...", flush=True)
        start = time.monotonic()
        importlib.import_module(f"pipeline.{module}").main(cfg)
        print(f"[smoke] {label} done in {time.monotonic() - start:.1f} s", flush=True)
    return out / "reports" / "report.md"


def table_lines(markdown: str) -> list[str]:
    """The rows of the report's first Markdown table (the results), header included."""
    lines = markdown.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), len(lines))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/smoke"))
    parser.add_argument("overrides", nargs="*", help="Hydra overrides")
    args = parser.parse_args(argv)
    try:
        report = run_pipeline(args.out, args.overrides)
    except JouleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"\nSmoke report ({report}):\n")
    print("\n".join(table_lines(report.read_text())))


if __name__ == "__main__":
    main()
