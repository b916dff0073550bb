"""Jobs shared out among forked workers: every job once, results in job order, errors surface."""

from __future__ import annotations

import os

import pytest
import torch

import evaluation.cpu_shared_prefix.workers
from evaluation.cpu_shared_prefix.workers import resolve, run_jobs
from tests.forking import after_a_child_started


def test_jobs_run_once_each_in_two_processes_and_come_back_in_order():
    jobs = list(range(6))
    run = after_a_child_started(lambda job: (job, os.getpid(), torch.get_num_threads()))
    results = run_jobs(run, jobs, costs=[1, 5, 2, 4, 3, 6], workers=2, threads=1)
    assert [job for job, _, _ in results] == jobs
    pids = {pid for _, pid, _ in results}
    assert os.getpid() in pids and len(pids) == 2   # the parent took jobs, and so did a child
    assert {threads for _, _, threads in results} == {1}


def test_one_worker_runs_in_this_process_in_job_order():
    ran = []
    results = run_jobs(lambda job: ran.append(job) or job * 10, [3, 1, 2], costs=[1, 9, 5],
                       workers=1, threads=None)
    assert results == [30, 10, 20] and ran == [3, 1, 2]


def test_a_failing_child_raises_here_with_its_traceback():
    parent = os.getpid()

    def run(job):
        if os.getpid() != parent:
            raise ValueError(f"boom in job {job}")
        return job

    with pytest.raises(RuntimeError, match="(?s)a generation worker failed.*ValueError: boom"):
        run_jobs(after_a_child_started(run), [0, 1, 2, 3], costs=[1, 1, 1, 1], workers=2,
                 threads=1)


def test_worker_and_thread_counts_follow_the_cores(monkeypatch):
    monkeypatch.setattr(evaluation.cpu_shared_prefix.workers, "usable_cores", lambda: 4)
    assert resolve(None, None) == (4, 1)
    assert resolve(None, None, jobs=3) == (3, 1)     # never more workers than jobs
    assert resolve(2, None) == (2, 1)                # forked workers run one thread each
    assert resolve(2, 1) == (2, 1)
    with pytest.raises(ValueError, match="engine.threads=2 with 2 workers"):
        resolve(2, 2)                                # a forked OpenMP child would hang
    assert resolve(1, None) == (1, None)             # one worker: torch's own setting
    assert resolve(1, 3) == (1, 3)
    monkeypatch.setattr(evaluation.cpu_shared_prefix.workers, "can_fork", lambda: False)
    assert resolve(None, None) == (1, None)
    with pytest.raises(ValueError, match="'fork' start method"):
        run_jobs(lambda job: job, [1, 2], costs=[1, 1], workers=2, threads=1)
