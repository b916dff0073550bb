"""The README's quick commands work as written on a copy of the repository (issue 22, kind 11).

Each command below must appear verbatim in README.md (so the README cannot drift from what is
tested) and is run in a copy of the tracked files, with `.venv/bin/` standing for this Python's
environment. Commands that need `dvc repro`'s data are run until they reach their data: they
must fail on the missing input with one `error:` line, not earlier on the config.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from joule.config import PROJECT_ROOT, compose, to_yaml

pytestmark = pytest.mark.slow
README = (PROJECT_ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def _in_readme(command: str) -> None:
    assert command in README, f"README no longer says: {command}"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The tracked files of this checkout, as a fresh clone would have them (no data/)."""
    copy = tmp_path_factory.mktemp("readme") / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        src = PROJECT_ROOT / name
        if src.is_file() and not name.startswith(("data/", "metrics/", "reports/")):
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, copy / name)
    return copy


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    command = command.split("  #")[0].strip()
    argv = [str(BIN / a[len(".venv/bin/"):]) if a.startswith(".venv/bin/") else a
            for a in shlex.split(command)]
    env = os.environ | {"PYTHONPATH": str(cwd)}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_print_the_config(repo):
    command = ".venv/bin/python -m pipeline.train curriculum=curated train.lora.r=8 --cfg job"
    _in_readme(command)
    done = _run(command, repo)
    assert done.returncode == 0, done.stderr
    assert "\ncurriculum: curated\n" in done.stdout and "    r: 8\n" in done.stdout


def test_add_a_curriculum(repo):
    """`cp curated.yaml mine.yaml`, then the stage composes `mine` (it used to fail with
    `GlobalHydra is already initialized`); on a fresh clone it then stops at the missing records."""
    copy, command = ("cp conf/curricula/curated.yaml conf/curricula/mine.yaml",
                     ".venv/bin/python -m pipeline.curate curriculum=mine")
    _in_readme(copy)
    _in_readme(command)
    assert _run(copy, repo).returncode == 0
    done = _run(command, repo)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and lines[-1].startswith("error: ") and "records" in lines[-1]
    assert "curriculum" not in lines[-1]


def test_energy_benchmark_reads_metrics_with_plot_lists(repo):
    command = ".venv/bin/python -m benchmarks.energy"
    _in_readme(command)
    metrics = repo / "metrics"
    (metrics / "plots").mkdir(parents=True, exist_ok=True)
    (metrics / "plots" / "f1_vs_energy.json").write_text(json.dumps([{"f1": 1, "energy_j": 2}]))
    (metrics / "prepare.json").write_text(json.dumps({"time_s": 3.0, "energy_j": 1.0}))
    done = _run(command + " --calls 50", repo)
    assert done.returncode == 0, done.stderr
    assert "prepare.json" in done.stdout


def test_exp_show_keeps_f1_energy_and_budget_columns():
    """`dvc exp show --keep/--drop` match column names with `re.match` (from the start) over
    the flattened metric and param keys; the README's patterns must keep these columns."""
    line = next(x for x in README.splitlines() if x.startswith("dvc exp show --drop"))
    args = shlex.split(line)
    keep = re.compile("|".join([args[args.index("--keep") + 1]]))
    drop = re.compile(args[args.index("--drop") + 1])
    params = _flatten(json.loads(json.dumps(_yaml(to_yaml(compose())))))
    report = {"curricula": {name: {"f1": 1.0, "em": 1.0, "energy_to_target_j": 1.0,
                                   "energy_to_target_ratio": {"raw": 1.0}}
                            for name in compose().curricula}, "base": {"f1": 1.0}}
    columns = ["Experiment", "Created", *_flatten(report), *params]
    shown = [c for c in columns if keep.match(c) or not drop.match(c)]
    expected = {"Experiment", "experiment.token_budget"} | {
        f"curricula.{n}.{k}" for n in compose().curricula for k in ("f1", "energy_to_target_j")}
    assert set(shown) == expected


def _yaml(text: str):
    import yaml

    return yaml.safe_load(text)


def _flatten(tree, prefix: str = "") -> list[str]:
    if isinstance(tree, dict):
        return [k for key, value in tree.items() for k in _flatten(value, f"{prefix}{key}.")]
    return [prefix[:-1]]


def test_fast_lane_is_documented_and_the_marker_registered():
    _in_readme('.venv/bin/python -m pytest -m "not slow"')
    assert re.search(r'"slow: ', (PROJECT_ROOT / "pyproject.toml").read_text())
