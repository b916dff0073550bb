"""Throughput of prepare and rewrite for runner=local and runner=ray at 1 and 2 workers.

`python -m benchmarks.scale [--raw-pages 60] [--rewrite-pages 8] [--out-dir /tmp/joule-scale]`

Same pages for every runner: the first `--raw-pages` raw pages of the shipped enwiki sample,
written as a multistream dump of 5 pages per stream (prepare reads one stream per Ray task), and
the first `--rewrite-pages` pages prepare keeps (rewrite, every default format). Ray runs join one
local cluster of 2 CPUs started here (`ray.init(num_cpus=2)`), so the figures include each run's
actor start-up and spaCy loading but not the cluster's start. Figures: pages/s and records/s by
wall clock (the stage's `main`, end to end), with `uptime`'s 1-minute load average beside each:
on a shared machine the load says how much of the 2 cores the run had. Then peak RSS against
pages processed: prepare and rewrite (runner=local) in a subprocess at half and all the pages,
`ru_maxrss` of that process from `os.wait4`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from joule.config import compose
from tests.test_multistream import write_multistream
from wiki.sources import open_source

REPO = Path(__file__).resolve().parent.parent


def load() -> float:
    return os.getloadavg()[0]


def sample_dump(out: Path, raw_pages: int) -> Path:
    source = open_source(compose([]).corpus)
    pages = [{"title": p.title, "text": p.text, "page_id": int(p.id), "ns": p.ns,
              "redirect": "x" if p.redirect else None}
             for p in itertools.islice(source.pages(), raw_pages)]
    out.mkdir(parents=True, exist_ok=True)
    return write_multistream(out, pages, per_stream=5)


def overrides(root: Path, runner: str, workers: int) -> list[str]:
    base = [f"data_dir={root}", f"metrics_dir={root / 'metrics'}", "energy.use_zeus=false"]
    if runner == "ray":
        base += ["runner=ray", f"runner.prepare_tasks={workers}", "runner.streams_per_range=1"]
    return base


def run_stage(stage: str, args: list[str]) -> tuple[float, dict, float]:
    """(wall s, metrics, load average at the start) of `pipeline.<stage>.main` in-process."""
    module = __import__(f"pipeline.{stage}", fromlist=["main"])
    before = load()
    t0 = time.perf_counter()
    metrics = module.main(compose(args))
    return time.perf_counter() - t0, metrics, before


def peak_rss_mb(stage: str, args: list[str]) -> float:
    """Peak RSS (MB) of `python -m pipeline.<stage> args` run in a subprocess."""
    proc = subprocess.Popen([sys.executable, "-m", f"pipeline.{stage}", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=os.environ | {"PYTHONPATH": str(REPO)})
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{stage} failed: {proc.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-pages", type=int, default=60)
    parser.add_argument("--rewrite-pages", type=int, default=8)
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/joule-scale"))
    parser.add_argument("--skip-rss", action="store_true")
    a = parser.parse_args()
    dump = sample_dump(a.out_dir / "dump", a.raw_pages)
    corpus = ["corpus=wiki_dump", f"corpus.path={dump}", "corpus.pages_per_shard=5"]

    from runners.cluster import import_ray

    ray = import_ray()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    rows = []
    for runner, workers in (("local", 1), ("ray", 1), ("ray", 2)):
        root = a.out_dir / f"{runner}{workers}"
        wall, m, ld = run_stage("prepare", overrides(root, runner, workers) + corpus)
        rows.append(("prepare", runner, workers, m["pages_read"], m["pages_kept"], wall, ld))
        if runner == "ray":   # rewrite on Ray refuses (pipeline/rewrite.py): local only
            continue
        # rewrite reads the first --rewrite-pages kept pages (the same for every runner)
        import pyarrow.parquet as pq

        from joule.io import read_table
        pages = read_table(root / "pages").slice(0, a.rewrite_pages)
        rw = a.out_dir / f"rw-{runner}{workers}"
        (rw / "pages").mkdir(parents=True, exist_ok=True)
        for f in (rw / "pages").glob("*.parquet"):
            f.unlink()
        for i in range(0, pages.num_rows, 2):
            pq.write_table(pages.slice(i, 2), rw / "pages" / f"part-{i:05d}.parquet")
        wall, m, ld = run_stage("rewrite", overrides(rw, runner, workers))
        rows.append(("rewrite", runner, workers, m["pages"], sum(m["records"].values()), wall,
                     ld))
    ray.shutdown()

    print("| stage | runner | workers | pages | out | wall s | pages/s | out/s | load 1m |")
    print("|---|---|---|---|---|---|---|---|---|")
    rate = {}
    for stage, runner, workers, pages, out, wall, ld in rows:
        rate[stage, runner, workers] = pages / wall
        print(f"| {stage} | {runner} | {workers} | {pages} | {out} | {wall:.1f} | "
              f"{pages / wall:.2f} | {out / wall:.2f} | {ld:.1f} |")
    print("(out: pages kept for prepare, records for rewrite; pages: read / parsed)")
    for stage in ("prepare",):
        r1, r2, lo = rate[stage, "ray", 1], rate[stage, "ray", 2], rate[stage, "local", 1]
        print(f"{stage}: ray@2 / ray@1 = {r2 / r1:.2f} (target >= 1.7); "
              f"ray@1 / local = {r1 / lo:.2f} (target >= 0.8)")
    if a.skip_rss:
        return
    print("\n| stage (local) | pages in | peak RSS MB | load 1m |\n|---|---|---|---|")
    for n in (a.raw_pages // 2, a.raw_pages):
        root = a.out_dir / f"rss{n}"
        d = sample_dump(a.out_dir / f"dump{n}", n)
        args = overrides(root, "local", 1) + ["corpus=wiki_dump", f"corpus.path={d}",
                                               "corpus.pages_per_shard=5"]
        ld = load()
        print(f"| prepare | {n} raw | {peak_rss_mb('prepare', args):.0f} | {ld:.1f} |")
    for n in (a.rewrite_pages // 2, a.rewrite_pages):
        rw = a.out_dir / f"rss-rw{n}"
        (rw / "pages").mkdir(parents=True, exist_ok=True)
        from joule.io import read_table, write_table
        write_table(rw / "pages" / "part-00000.parquet",
                    read_table(a.out_dir / "local1" / "pages").slice(0, n))
        ld = load()
        print(f"| rewrite | {n} pages | {peak_rss_mb('rewrite', overrides(rw, 'local', 1)):.0f} "
              f"| {ld:.1f} |")
    print(json.dumps({"note": "ru_maxrss of the stage process; Ray actors are not its children"}))


if __name__ == "__main__":
    main()
