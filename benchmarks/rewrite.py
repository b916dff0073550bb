"""Throughput of the rewrite stage against bare spaCy, same pipeline, same process count.

`python -m benchmarks.rewrite [--data-dir data] [--max-words 30000] [--processes 1 2]
                              [--rewriters cloze,multiple_choice,key_facts,raw]`

Reads `<data-dir>/pages` (the prepare stage's output), keeps the first pages up to `--max-words`
words (so a run stays under ~3 minutes), and for each process count times
  - bare: `spacy.load` + `for doc in nlp.pipe(texts)`, nothing else;
  - stage: `pipeline.rewrite.main` end to end (load, read pages, parse, rewrite, write Parquet).
Words are whitespace-separated words of the page texts. Figures in words per second, by wall
clock and by CPU time (this process and its spaCy workers): on a shared machine the CPU figure is
the one that other jobs do not skew. Bare and stage runs alternate, `--repeats` times each; the
best run of each counts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

from joule.config import compose
from joule.energy import process_cpu_time_s
from joule.io import read_table, write_table
from pipeline.rewrite import PAGE_COLUMNS, load_spacy
from pipeline.rewrite import main as rewrite_main


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its waited-for children) of `fn()`."""
    wall, cpu = time.perf_counter(), process_cpu_time_s()
    fn()
    return time.perf_counter() - wall, process_cpu_time_s() - cpu


def bare(model: str, texts: list[str], batch_size: int, n_process: int) -> None:
    """Load the pipeline and parse `texts` with `nlp.pipe`, nothing else."""
    nlp = load_spacy(model)
    for _doc in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", type=Path)
    parser.add_argument("--max-words", default=20000, type=int)
    parser.add_argument("--processes", default=[1, 2], type=int, nargs="+")
    parser.add_argument("--repeats", default=1, type=int)
    parser.add_argument("--rewriters", default=None,
                        help="comma-separated rewriter names (default: the configured list)")
    args = parser.parse_args()

    pages, words = [], 0
    for row in read_table(args.data_dir / "pages", columns=list(PAGE_COLUMNS)).to_pylist():
        if pages and words + len(row["text"].split()) > args.max_words:
            break
        pages.append(row)
        words += len(row["text"].split())
    texts = [p["text"] for p in pages]

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        (data / "pages").mkdir(parents=True)
        write_table(data / "pages" / "part-00000.parquet", pages)
        overrides = [f"data_dir={data}", f"metrics_dir={Path(tmp) / 'metrics'}"]
        if args.rewriters:
            overrides.append(f"rewriter=[{args.rewriters}]")
        print(f"{len(pages)} pages, {words} words; rewriters: "
              f"{args.rewriters or 'configured'}")
        print(f"{'processes':>9} {'bare w/s':>9} {'stage w/s':>9} {'ratio':>6}  "
              f"{'bare w/cpu-s':>12} {'stage w/cpu-s':>13} {'ratio':>6}")
        # Warm-up: the first load pays for imports and a cold disk cache; neither side should.
        cfg = compose(overrides)
        bare(cfg.rewrite.spacy_model, texts[:1], 1, 1)
        rewrite_main(cfg)
        for n in args.processes:
            cfg = compose(overrides + [f"rewrite.n_process={n}"])
            jobs = {"bare": partial(bare, cfg.rewrite.spacy_model, texts,
                                    int(cfg.rewrite.batch_size), n),
                    "stage": partial(rewrite_main, cfg)}
            runs = {"bare": [], "stage": []}
            for _ in range(args.repeats):
                for name, job in jobs.items():
                    runs[name].append(timed(job))
            bw, sw = (min(w for w, _ in runs[k]) for k in ("bare", "stage"))
            bcpu, scpu = (min(c for _, c in runs[k]) for k in ("bare", "stage"))
            print(f"{n:>9} {words / bw:>9.0f} {words / sw:>9.0f} {bw / sw:>6.2f}  "
                  f"{words / bcpu:>12.0f} {words / scpu:>13.0f} {bcpu / scpu:>6.2f}")


if __name__ == "__main__":
    main()
