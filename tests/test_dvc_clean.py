"""On a fresh clone, DVC sees the code dependencies as git has them (issue 22, kind 10).

Ordinary use writes byte code and tool caches into the code directories that stages depend on
(`train`, `rewriters`, `wiki`...); `.dvcignore` keeps them out of DVC's hashes. Checked on a
`git clone` of the committed tree: compiling the code (what an import with byte code on
writes) must not change DVC's hash of any code dependency. Whether `dvc.lock` matches the
committed code is a property of a finished `dvc repro`, so that check runs in `.ci/run`
(JOULE_CHECK_DVC_LOCK=1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from joule.config import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.integration]
CODE_PACKAGES = ("joule", "wiki", "pipeline", "rewriters", "curricula", "train", "evaluation",
                 "reporting")


def _dvc() -> str:
    found = Path(sys.executable).with_name("dvc")
    return str(found) if found.exists() else (shutil.which("dvc") or "dvc")


def code_dep_status(repo: Path) -> dict[str, dict[str, str]]:
    """`dvc status` of every git-tracked dependency (code, not data): {stage: {path: status}}."""
    # DVC leaves a tracked .gitignore in a folder of outputs (data/predictions/): not code
    tracked = [f for f in subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True,
                                         text=True, check=True).stdout.splitlines()
               if not f.endswith(".gitignore")]

    def is_code(path: str) -> bool:
        return any(f == path or f.startswith(path.rstrip("/") + "/") for f in tracked)

    out = subprocess.run([_dvc(), "status", "--json"], cwd=repo, capture_output=True, text=True,
                         check=True).stdout
    status = {}
    for stage, entries in json.loads(out or "{}").items():
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for path, state in entry.get("changed deps", {}).items():
                if isinstance(state, str) and path != "params.yaml" and is_code(path):
                    status.setdefault(stage, {})[path] = state
    return status


HASHES = """
import json, sys
from dvc.repo import Repo
with Repo(sys.argv[1]) as repo:
    print(json.dumps({dep.def_path: dep.get_hash().value
                      for stage in repo.index.stages for dep in stage.deps
                      if dep.def_path in sys.argv[2:]}))
"""


def code_dep_hashes(repo: Path) -> dict[str, str]:
    """DVC's hash of every git-tracked dependency path as the workspace has it (what dvc.lock
    would record), computed with .dvcignore applied: {path: md5}."""
    # DVC leaves a tracked .gitignore in a folder of outputs (data/predictions/): not code
    tracked = [f for f in subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True,
                                         text=True, check=True).stdout.splitlines()
               if not f.endswith(".gitignore")]
    paths = sorted({p for f in tracked for p in _prefixes(f)})
    out = subprocess.run([sys.executable, "-c", HASHES, str(repo), *paths], cwd=repo,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def _prefixes(file: str) -> list[str]:
    parts = file.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _fresh_clone(tmp_path: Path) -> Path:
    if not (PROJECT_ROOT / ".git").exists():
        pytest.skip(f"{PROJECT_ROOT} is not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(clone)], check=True)
    if not (clone / "dvc.lock").is_file():
        pytest.skip("dvc.lock is not committed: nothing records the code's hashes")
    return clone


def test_compiled_code_leaves_code_dependencies_unchanged(tmp_path):
    clone = _fresh_clone(tmp_path)
    before = code_dep_hashes(clone)
    assert "train" in before and "pipeline/train.py" in before
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", *CODE_PACKAGES], cwd=clone,
                   env=env, check=True, capture_output=True)
    for cache in (".pytest_cache", ".ruff_cache"):
        (clone / "train" / cache).mkdir()
        (clone / "train" / cache / "x").write_text("x")
    assert list((clone / "train").glob("__pycache__/*.pyc")), "byte code was not written"
    assert code_dep_hashes(clone) == before


@pytest.mark.skipif(os.environ.get("JOULE_CHECK_DVC_LOCK") != "1",
                    reason="dvc.lock must match the code only after `dvc repro` is committed: "
                           ".ci/run checks it (JOULE_CHECK_DVC_LOCK=1)")
def test_dvc_lock_matches_the_committed_code(tmp_path):
    clone = _fresh_clone(tmp_path)
    assert code_dep_status(clone) == {}, "dvc.lock records other code: run `dvc repro`/commit"
