"""A test helper for forked workers (`workers`): make sure a child surely runs a job."""

from __future__ import annotations

import multiprocessing
import os


def after_a_child_started(run):
    """`run`, except that the parent's first job waits until a forked child has begun one: each
    process then surely runs a job, however the scheduler orders them."""
    parent, started = os.getpid(), multiprocessing.get_context("fork").Event()

    def wrapped(job):
        if os.getpid() == parent:
            assert started.wait(timeout=60), "no child took a job within 60 s"
        else:
            started.set()
        return run(job)
    return wrapped
