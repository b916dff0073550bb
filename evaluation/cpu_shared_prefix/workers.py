"""Independent jobs shared out among forked worker processes, each on its own torch threads.

Why processes rather than threads: a decode step of a small model is hundreds of small ops, each
an OpenMP parallel region that ends in a barrier; one-thread processes wait on none (figures:
docs/benchmarks.md, Evaluation). Why fork: a forked worker starts from the parent's loaded,
adapter-merged model at once and shares its weights copy-on-write (as torch's DataLoader forks);
`multiprocessing`'s pools would pickle the model into every worker for every call. CPU only:
CUDA does not survive a fork.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(threads: int | None):
    """Run the block on `threads` intra-op torch threads (None: leave torch's setting alone)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def resolve(workers: int | None, threads: int | None, jobs: int | None = None
            ) -> tuple[int, int | None]:
    """(workers, torch threads per worker) to run `jobs` jobs with. workers None: one per
    usable core where the platform can fork, else 1; never more than `jobs`. With several
    workers each runs one thread (threads None or 1; more is a ValueError: GNU OpenMP, which
    torch uses here, hangs in a forked child that starts more threads once the parent has run
    with several); with one worker threads None keeps torch's own setting."""
    if workers is None:
        workers = usable_cores() if can_fork() else 1
    workers = max(1, int(workers) if jobs is None else min(int(workers), jobs))
    if workers > 1:
        if threads is not None and int(threads) != 1:
            raise ValueError(f"engine.threads={threads} with {workers} workers: forked workers "
                             f"run one thread each (a forked child that starts more OpenMP "
                             f"threads hangs); set threads to 1 or null, or workers to 1")
        threads = 1
    return workers, threads


def run_jobs(run: Callable, jobs: Sequence, costs: Sequence[float], workers: int,
             threads: int | None) -> list:
    """`run(job)` for every job, on `threads` torch threads (None: torch's setting), results
    in job order. With `workers` > 1, the parent and `workers` - 1 forked children each take
    the next job not yet taken, costliest (by `costs`) first, until none is left: the cost
    estimates only order the jobs, so an estimate that is off unbalances nothing but the last
    job. A failing child raises RuntimeError here with its traceback."""
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        with torch_threads(threads):
            return [run(job) for job in jobs]
    if not can_fork():
        raise ValueError(f"{workers} generation workers need the 'fork' start method, which "
                         f"this platform lacks; use 1 worker")
    order = sorted(range(len(jobs)), key=lambda j: -costs[j])
    context = multiprocessing.get_context("fork")
    taken = context.Value("i", 0)   # how many of `order` have been taken; shared, with a lock
    children = []
    try:
        for _ in range(workers - 1):
            reader, writer = context.Pipe(duplex=False)
            child = context.Process(target=_work, args=(run, jobs, order, taken, threads,
                                                        writer), daemon=True)
            child.start()
            writer.close()
            children.append((child, reader))
        results = [None] * len(jobs)
        with torch_threads(threads):
            for j, result in _take_jobs(run, jobs, order, taken):
                results[j] = result
        for child, reader in children:
            try:
                status, payload = reader.recv()
            except EOFError:
                child.join()
                status, payload = "error", f"worker exited with code {child.exitcode}"
            if status == "error":
                raise RuntimeError(f"a generation worker failed:\n{payload}")
            for j, result in payload:
                results[j] = result
        return results
    finally:
        for child, reader in children:
            reader.close()
            if child.is_alive():
                child.terminate()
            child.join()


def _take_jobs(run: Callable, jobs: Sequence, order: list[int], taken) -> list[tuple[int, object]]:
    """Run the next job of `order` not yet taken until none is left: (job index, result)s."""
    done = []
    while True:
        with taken.get_lock():
            k = taken.value
            taken.value += 1
        if k >= len(order):
            return done
        done.append((order[k], run(jobs[order[k]])))


def _work(run: Callable, jobs: Sequence, order: list[int], taken, threads: int | None,
          writer) -> None:
    """A forked worker: take and run jobs, then send ("ok", results) or ("error", traceback)."""
    try:
        with torch_threads(threads):
            writer.send(("ok", _take_jobs(run, jobs, order, taken)))
    except BaseException:
        writer.send(("error", traceback.format_exc()))
    finally:
        writer.close()
