"""What the energy meter costs, against what a stage takes.

    .venv/bin/python -m benchmarks.energy [--calls 2000] [--metrics-dir metrics]

Prints (1) the one-time cost of building the meter in a fresh process (Zeus probe included),
(2) the cost of one begin / read / end, (3) the meter's share of each stage's time found in
`<metrics-dir>/**/*.json` (after `dvc repro`), assuming one read per checkpoint for training,
and (4) the share measured end to end on a fixed CPU workload with a window per 1% of it.
Runs in well under a minute. The goal is under 1% of a stage's time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def per_call_us(fn, calls: int) -> float:
    """Median of 5 runs of the mean time of `calls` calls of fn(i), in microseconds."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for i in range(calls):
            fn(i)
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


def workload(seconds_hint: float) -> None:
    """Fixed CPU work (pure Python) taking about `seconds_hint` seconds on our machines."""
    total = 0
    for i in range(int(seconds_hint * 2.5e7)):
        total += i * i
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--metrics-dir", default="metrics")
    args = parser.parse_args()

    start = time.perf_counter()
    from joule.config import compose
    from joule.energy import meter_from_config

    cfg = compose()
    t0 = time.perf_counter()
    meter = meter_from_config(cfg.energy)
    setup_s = time.perf_counter() - t0
    print(f"python imports (joule.config, hydra): {t0 - start:.3f} s (not counted)")
    print(f"meter setup, cold (Zeus probe + TDP lookup): {setup_s * 1e3:.1f} ms")
    print(f"  source: {meter.counters.gpu_source or '-'} / "
          f"{meter.counters.cpu_source or 'estimated:tdp'}; {meter.cpu.basis}")

    names = [f"w{i}" for i in range(args.calls)]
    # begin and end pair up; time them separately on fresh names each run.
    begin_runs, end_runs = [], []
    for _ in range(5):
        t = time.perf_counter()
        for n in names:
            meter.begin(n)
        begin_runs.append((time.perf_counter() - t) / args.calls * 1e6)
        t = time.perf_counter()
        for n in names:
            meter.end(n)
        end_runs.append((time.perf_counter() - t) / args.calls * 1e6)
    begin_us, end_us = statistics.median(begin_runs), statistics.median(end_runs)
    meter.begin("held")
    read_us = per_call_us(lambda i: meter.read("held"), args.calls)
    meter.end("held")
    print(f"begin: {begin_us:.1f} us   read: {read_us:.1f} us   end: {end_us:.1f} us "
          f"(median of 5 x {args.calls} calls)")

    def cost_s(reads: int) -> float:
        return setup_s + (begin_us + end_us + reads * read_us) / 1e6

    files = sorted(Path(args.metrics_dir).glob("**/*.json"))
    stages = []
    for file in files:
        data = json.loads(file.read_text())
        if not isinstance(data, dict):   # plot data (metrics/plots/*.json) is a list of rows
            continue
        if isinstance(data.get("time_s"), (int, float)) and data["time_s"] > 0:
            reads = len(data.get("checkpoints", [])) if "train" in file.parts else 0
            stages.append((str(file), data["time_s"], reads))
    if stages:
        print(f"\nshare of each stage's time ({args.metrics_dir}):")
        for name, seconds, reads in stages:
            share = cost_s(reads) / seconds * 100
            print(f"  {name:45s} {seconds:9.1f} s  {reads:3d} reads  meter {share:6.3f} %")
    else:
        print(f"\n(no stage metrics under {args.metrics_dir}/: run `dvc repro` for shares)")

    # End to end: the same work bare and inside a stage window with 100 nested segment windows,
    # interleaved and the fastest of 5 kept, since other processes share the CPU.
    def bare_run() -> None:
        for _ in range(100):
            workload(0.01)

    def metered_run() -> None:
        fresh = meter_from_config(cfg.energy)   # warm probe: what a second stage in-process pays
        fresh.begin("stage")
        for k in range(100):
            fresh.begin(f"segment{k}")
            workload(0.01)
            fresh.end(f"segment{k}")
            fresh.read("stage")
        fresh.end("stage")

    timings: dict = {bare_run: [], metered_run: []}
    for _ in range(5):
        for fn, times in timings.items():
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    b, m = min(timings[bare_run]), min(timings[metered_run])
    noise = (max(timings[bare_run]) - b) / b * 100
    expected = 100 * (begin_us + end_us + read_us) / 1e6
    print(f"\nend to end, 100 segment windows + 100 reads over {b:.2f} s of work: "
          f"bare {b:.3f} s, metered {m:.3f} s, difference {(m - b) / b * 100:+.2f} %")
    print(f"  spread of the bare runs (timing noise): {noise:.2f} %; cost the per-call figures "
          f"predict: {expected * 1e3:.2f} ms = {expected / b * 100:.3f} %")
    for seconds in (10, 60, 600):
        print(f"  one-time setup + begin/end + 10 reads vs a {seconds:4d} s stage: "
              f"{cost_s(10) / seconds * 100:.3f} %")


if __name__ == "__main__":
    main()
