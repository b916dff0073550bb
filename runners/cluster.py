"""Joining or starting the Ray cluster the `ray` runner works on."""

from __future__ import annotations

import os
import resource
import runpy
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig

from joule.errors import JouleError
from joule.io import read_json, write_json

ENV_DIR = Path(__file__).parent / "_ray_env"
REPO = Path(__file__).resolve().parent.parent


def import_ray():
    """`ray` and `ray.data`, or a JouleError saying how to install them.

    Guards the import against a broken `amdsmi` (see `_ray_env/sitecustomize.py`), here and,
    through PYTHONPATH, in every process the local cluster starts; the repository root goes on
    PYTHONPATH too, so workers import the same `wiki`, `rewriters` and `pipeline` code.
    """
    runpy.run_path(str(ENV_DIR / "sitecustomize.py"))   # this process
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ENV_DIR), str(REPO)] + [p for p in paths if p and p not in (str(ENV_DIR), str(REPO))])
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise JouleError("runner=ray needs Ray Data: pip install 'ray[data]' "
                         "(or the project's extra: pip install -e '.[ray]')") from exc
    return ray


@contextmanager
def cluster(runner: DictConfig) -> Iterator[object]:
    """Ray connected for the block: `runner.address` joins a running cluster, null starts a
    local one with `runner.num_cpus` CPUs (shut down afterwards). Ray Data keeps block order
    (`preserve_order`), which makes the output independent of which worker finishes first."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        address = runner.get("address")
        kwargs = {"include_dashboard": False, "configure_logging": True,
                  "logging_level": "WARNING"}
        if address is None:
            kwargs["num_cpus"] = runner.get("num_cpus")
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise JouleError(f"runner.address={address!r}: cannot start or join a Ray "
                             f"cluster: {exc}") from exc
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def check_cpus(ray, actors: int, key: str) -> None:
    """Refuse an actor pool of `actors` one-CPU actors that the cluster cannot hold at once:
    Ray Data would wait for them forever (the hang of an actor pool whose size cannot be
    scheduled)."""
    cpus = ray.cluster_resources().get("CPU", 0)
    if actors > cpus:
        raise JouleError(f"{key}={actors} needs {actors} CPUs, the Ray cluster has {cpus:g}: "
                         f"lower {key} or give the cluster more CPUs (runner.num_cpus)")


def worker_usage() -> dict:
    """This process's pid, CPU seconds (user + system) and peak RSS (MB) so far
    (`getrusage(RUSAGE_SELF)`): what a Ray actor reports of itself with its results."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"pid": os.getpid(), "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024}


def work_dir(root: Path, fingerprint: str) -> Path:
    """The resume folder `root`: kept when it was made for `fingerprint` (the same inputs and
    knobs), emptied otherwise, so a run resumes only from its own finished parts."""
    stamp = root / "fingerprint.json"
    if root.exists() and (not stamp.exists() or read_json(stamp).get("sha256") != fingerprint):
        shutil.rmtree(root)
    if not root.exists():
        root.mkdir(parents=True)
        write_json(stamp, {"sha256": fingerprint})
    return root
