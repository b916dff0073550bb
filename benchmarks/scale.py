"""Throughput and memory of prepare and rewrite for runner=local and runner=ray at 1 and 2 workers.

`python -m benchmarks.scale [--raw-pages 206] [--rewrite-pages 12 24] [--out-dir /tmp/joule-scale]`

Same pages for every runner: the first `--raw-pages` raw pages of the shipped enwiki sample,
written as a multistream dump of 5 pages per stream (prepare: one range per stream), and the
first N pages prepare keeps for each N of `--rewrite-pages` (rewrite, every default format;
two sizes, to show whether memory grows with the input). Workers: ray@k is k actors
(`runner.prepare_tasks` / `runner.rewrite_actors`), local@2 is rewrite's `rewrite.n_process=2`
(prepare has no local workers). Each run is its own `python -m pipeline.<stage>`-like subprocess
(`--child`), so its figures are its own; Ray runs join one local cluster of 2 CPUs started here
(`ray.init(num_cpus=2)`), so they include the actors' start-up and spaCy loading, not the
cluster's start.

Figures: pages/s and records/s by wall clock (the stage's `main`, end to end), `uptime`'s
1-minute load average before and after each run (other users share the cores), and peak RSS:
the driver's (VmHWM of the child's own /proc/self/status: the high-water mark of its own
address space, which `ru_maxrss` is not after fork+exec: that one starts at the parent's RSS, the
1578 MB every configuration printed before) and each Ray actor's (`getrusage(RUSAGE_SELF)
.ru_maxrss`, returned by the actor with its results, against the pages it processed). The
spaCy processes of local@2 are not measured (forked by spaCy, not reported).
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

REPO = Path(__file__).resolve().parent.parent


def load() -> float:
    return os.getloadavg()[0]


def vm_hwm_mb() -> float:
    """Peak RSS (MB) of this process's own address space (VmHWM; reset by exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(stage: str, args: list[str]) -> None:
    """Run `pipeline.<stage>.main` here and print one JSON line of figures."""
    from joule.config import compose

    module = __import__(f"pipeline.{stage}", fromlist=["main"])
    cfg = compose(args)
    t0 = time.perf_counter()
    metrics = module.main(cfg)
    wall = time.perf_counter() - t0
    print("RESULT " + json.dumps({"wall_s": wall, "driver_peak_rss_mb": vm_hwm_mb(),
                                  "metrics": metrics}, default=str), flush=True)


def run(stage: str, args: list[str]) -> dict:
    before = load()
    done = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--child", stage, *args],
                          cwd=REPO, capture_output=True, text=True,
                          env=os.environ | {"PYTHONPATH": str(REPO)})
    if done.returncode != 0:
        raise SystemExit(f"{stage} {args} failed:\n{done.stderr[-3000:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):]) | {"load_before": before, "load_after": load()}


def sample_dump(out: Path, raw_pages: int) -> Path:
    from joule.config import compose
    from tests.test_multistream import write_multistream
    from wiki.sources import open_source

    source = open_source(compose([]).corpus)
    pages = [{"title": p.title, "text": p.text, "page_id": int(p.id), "ns": p.ns,
              "redirect": "x" if p.redirect else None}
             for p in itertools.islice(source.pages(), raw_pages)]
    out.mkdir(parents=True, exist_ok=True)
    return write_multistream(out, pages, per_stream=5)


def overrides(root: Path, stage: str, runner: str, workers: int, address: str) -> list[str]:
    base = [f"data_dir={root}", f"metrics_dir={root / 'metrics'}", "energy.use_zeus=false"]
    if runner == "local":
        return base + ([f"rewrite.n_process={workers}"] if stage == "rewrite" else [])
    base += ["runner=ray", f"runner.address={address}"]
    if stage == "prepare":
        return base + [f"runner.prepare_tasks={workers}", "runner.streams_per_range=1"]
    return base + [f"runner.rewrite_actors={workers}", "runner.pages_per_block=2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-pages", type=int, default=206)
    parser.add_argument("--rewrite-pages", type=int, nargs="+", default=[12, 24])
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/joule-scale"))
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    a = parser.parse_args()
    if a.child:
        return child(a.child[0], a.child[1:])

    import pyarrow.parquet as pq

    from joule.io import read_table
    from runners.cluster import import_ray

    dump = sample_dump(a.out_dir / "dump", a.raw_pages)
    corpus = ["corpus=wiki_dump", f"corpus.path={dump}", "corpus.pages_per_shard=5"]
    ray = import_ray()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    address = ray.get_runtime_context().gcs_address
    configs = (("local", 1), ("local", 2), ("ray", 1), ("ray", 2))
    rows = []
    try:
        for runner, workers in configs:
            if runner == "local" and workers == 2:
                continue      # prepare has no local workers
            root = a.out_dir / f"prepare-{runner}{workers}"
            r = run("prepare", overrides(root, "prepare", runner, workers, address) + corpus)
            m = r["metrics"]
            rows.append({"stage": "prepare", "runner": runner, "workers": workers,
                         "pages": m["pages_read"], "out": m["pages_kept"], **r})
        kept = read_table(a.out_dir / "prepare-local1" / "pages")
        for n in a.rewrite_pages:
            for runner, workers in configs:
                rw = a.out_dir / f"rewrite{n}-{runner}{workers}"
                (rw / "pages").mkdir(parents=True, exist_ok=True)
                for f in (rw / "pages").glob("*.parquet"):
                    f.unlink()
                pq.write_table(kept.slice(0, n), rw / "pages" / "part-00000.parquet")
                r = run("rewrite", overrides(rw, "rewrite", runner, workers, address))
                m = r["metrics"]
                rows.append({"stage": "rewrite", "runner": runner, "workers": workers,
                             "pages": m["pages"], "out": sum(m["records"].values()), **r})
    finally:
        ray.shutdown()
    report(rows)


def report(rows: list[dict]) -> None:
    print("| stage | pages | runner | workers | out | wall s | pages/s | out/s | driver peak "
          "RSS MB | per worker: pages, peak RSS MB | load 1m before/after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rate = {}
    for r in rows:
        wall, m = r["wall_s"], r["metrics"]
        rate[r["stage"], r["pages"], r["runner"], r["workers"]] = r["pages"] / wall
        workers = "; ".join(f"{w.get('pages', '-')}, {w['peak_rss_mb']:.0f}"
                            for w in m.get("workers", [])) or "n/a"
        print(f"| {r['stage']} | {r['pages']} | {r['runner']} | {r['workers']} | {r['out']} | "
              f"{wall:.1f} | {r['pages'] / wall:.2f} | {r['out'] / wall:.2f} | "
              f"{r['driver_peak_rss_mb']:.0f} | {workers} | "
              f"{r['load_before']:.2f}/{r['load_after']:.2f} |")
    print("(pages: read for prepare, parsed for rewrite; out: pages kept / records)")
    for stage, pages in sorted({(k[0], k[1]) for k in rate}):
        r1, r2 = rate[stage, pages, "ray", 1], rate[stage, pages, "ray", 2]
        lo = rate[stage, pages, "local", 1]
        line = (f"{stage} {pages} pages: ray@2 / ray@1 = {r2 / r1:.2f} (target >= 1.7); "
                f"ray@1 / local@1 = {r1 / lo:.2f} (target >= 0.8)")
        if (stage, pages, "local", 2) in rate:
            line += f"; local@2 / local@1 = {rate[stage, pages, 'local', 2] / lo:.2f}"
        print(line)


if __name__ == "__main__":
    main()
