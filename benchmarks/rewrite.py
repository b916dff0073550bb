"""Throughput of the rewrite stage against bare spaCy, same pipeline, same process count.

`python -m benchmarks.rewrite [--data-dir data] [--max-words 30000] [--processes 1 2]
                              [--rewriters cloze,multiple_choice,key_facts,raw]`

Reads `<data-dir>/pages` (the prepare stage's output), keeps the first pages up to `--max-words`
words (so a run stays under ~3 minutes), and for each process count times
  - bare: `spacy.load` + `for doc in nlp.pipe(texts)`, nothing else;
  - stage: `pipeline.rewrite.main` end to end (load, read pages, parse, rewrite, write Parquet).
Words are whitespace-separated words of the page texts. Figures in words per second (wall clock).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pipeline.config import compose
from pipeline.io import read_table, write_table
from pipeline.rewrite import PAGE_COLUMNS, load_spacy
from pipeline.rewrite import main as rewrite_main


def bare_words_per_s(model: str, texts: list[str], batch_size: int, n_process: int) -> float:
    """Words/s of loading the pipeline and parsing `texts` with `nlp.pipe`."""
    t0 = time.perf_counter()
    nlp = load_spacy(model)
    for _doc in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
        pass
    return sum(len(t.split()) for t in texts) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", type=Path)
    parser.add_argument("--max-words", default=30000, type=int)
    parser.add_argument("--processes", default=[1, 2], type=int, nargs="+")
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
        print(f"{'processes':>9} {'bare w/s':>10} {'stage w/s':>10} {'ratio':>6} "
              f"{'stage loop w/s':>14}")
        for n in args.processes:
            cfg = compose(overrides + [f"rewrite.n_process={n}"])
            bare = bare_words_per_s(cfg.rewrite.spacy_model, texts,
                                    int(cfg.rewrite.batch_size), n)
            t0 = time.perf_counter()
            metrics = rewrite_main(cfg)
            stage = words / (time.perf_counter() - t0)
            print(f"{n:>9} {bare:>10.0f} {stage:>10.0f} {stage / bare:>6.2f} "
                  f"{metrics['words_per_s']:>14.0f}")


if __name__ == "__main__":
    main()
