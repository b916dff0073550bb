"""Throughput and peak memory of `prepare` on the gensim sample and on dumps many times larger.

    .venv/bin/python benchmarks/prepare.py [--repeats 1,3,10] [--pages-per-shard 50]

The larger dumps repeat the sample's <page> elements (same header and footer), bz2-compressed
like the real ones, in a temp dir. Each measurement runs in a fresh process, so its peak RSS
(ru_maxrss) is its own. Two measurements per dump:
- `reader`: decompress + XML parse only (wiki.dump.read_dump);
- `stage`: the whole stage (python -m pipeline.prepare: parse, clean, filter, write Parquet).
Memory is bounded by the reader's chunk plus one shard of kept pages (corpus.pages_per_shard);
with the shard size fixed, peak RSS should stay flat as the dump grows. MB/s counts the
decompressed XML, pages/s all pages read; both per wall second (CPU seconds shown beside: on a
shared machine they are the steadier figure). ~1.5 min on a quiet machine with the defaults.
"""

from __future__ import annotations

import argparse
import bz2
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def sample_path() -> Path:
    from joule.config import compose
    from wiki.sources import _dump_path

    return _dump_path(compose().corpus)


def repeated_dump(sample_xml: bytes, times: int, out: Path) -> int:
    """Write the sample with its pages repeated `times` times (bz2); return the XML bytes."""
    first = sample_xml.index(b"  <page>")
    last = sample_xml.rindex(b"</page>") + len(b"</page>\n")
    head, pages, tail = sample_xml[:first], sample_xml[first:last], sample_xml[last:]
    comp = bz2.BZ2Compressor(9)
    with open(out, "wb") as f:
        f.write(comp.compress(head))
        for _ in range(times):
            f.write(comp.compress(pages))
        f.write(comp.compress(tail))
        f.write(comp.flush())
    return len(head) + times * len(pages) + len(tail)


def child(mode: str, dump: str, work: str, pages_per_shard: int) -> None:
    """Run one measurement in this (fresh) process and print it as JSON."""
    start = time.perf_counter()
    cpu0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    if mode == "reader":
        from wiki.dump import read_dump

        pages = sum(1 for _ in read_dump(dump))
        kept = None
    else:
        from joule.config import compose
        from pipeline.prepare import main

        metrics = main(compose(["corpus=wiki_dump", f"corpus.path={dump}",
                                f"corpus.pages_per_shard={pages_per_shard}",
                                f"data_dir={work}/data", f"metrics_dir={work}/metrics"]))
        pages, kept = metrics["pages_read"], metrics["pages_kept"]
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"pages": pages, "kept": kept, "wall_s": wall,
                      "cpu_s": usage.ru_utime + usage.ru_stime - cpu0,
                      "peak_rss_mib": usage.ru_maxrss / 1024}))


def measure(mode: str, dump: Path, work: Path, pages_per_shard: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(dump), str(work),
                          str(pages_per_shard)], check=True, capture_output=True, text=True,
                         cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", default="1,3,10", help="dump sizes, in copies of the sample")
    parser.add_argument("--pages-per-shard", type=int, default=50,
                        help="corpus.pages_per_shard for the stage runs (fixed across sizes)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, dump, work, shard = args.child
        child(mode, dump, work, int(shard))
        return

    sample = sample_path()
    sample_xml = bz2.decompress(sample.read_bytes())
    print(f"sample: {sample.name} ({sample.stat().st_size / 1e6:.1f} MB bz2, "
          f"{len(sample_xml) / 1e6:.1f} MB XML); stage runs with "
          f"corpus.pages_per_shard={args.pages_per_shard}")
    print(f"{'dump':>6} {'MB bz2':>7} {'MB xml':>7} {'what':>6} {'pages':>7} {'kept':>6} "
          f"{'wall s':>7} {'CPU s':>6} {'pages/s':>8} {'MB/s':>6} {'peak RSS MiB':>12}")
    peaks = []
    with tempfile.TemporaryDirectory() as tmp:
        for times in (int(x) for x in args.repeats.split(",")):
            dump = Path(tmp) / f"x{times}.xml.bz2"
            if times == 1:
                dump, xml_bytes = sample, len(sample_xml)
            else:
                xml_bytes = repeated_dump(sample_xml, times, dump)
            for mode in ("reader", "stage"):
                r = measure(mode, dump, Path(tmp) / f"work{times}", args.pages_per_shard)
                print(f"{f'x{times}':>6} {dump.stat().st_size / 1e6:7.1f} {xml_bytes / 1e6:7.1f} "
                      f"{mode:>6} {r['pages']:7d} {r['kept'] if r['kept'] is not None else '':>6} "
                      f"{r['wall_s']:7.2f} {r['cpu_s']:6.2f} {r['pages'] / r['wall_s']:8.1f} "
                      f"{xml_bytes / 1e6 / r['wall_s']:6.2f} {r['peak_rss_mib']:12.1f}")
                if mode == "stage":
                    peaks.append((times, r["peak_rss_mib"]))
            if dump != sample:
                dump.unlink()
    (small, small_peak), (big, big_peak) = peaks[0], peaks[-1]
    print(f"stage peak RSS x{big} / x{small}: {big_peak / small_peak:.2f} "
          f"(dump {big / small:.0f}x larger)")


if __name__ == "__main__":
    main()
