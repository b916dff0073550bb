"""Stage `prepare`: Wikipedia (dump, HF or jsonl) into clean pages.

`python -m pipeline.prepare [corpus=wiki_sample|wiki_dump|wiki_hf|jsonl] [corpus.key=value]`

Writes `<data_dir>/pages/part-NNNNN.parquet` (columns id, title, text, sections; pages in source
order, `corpus.pages_per_shard` per file) and `<metrics_dir>/prepare.json` (pages read, kept,
skipped by reason, words, chars, the source). Pages stream through: memory is bounded by one
shard, not by the size of the source. A bad source leaves `<data_dir>/pages/` as it was.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from omegaconf import DictConfig

from joule.config import require, run
from joule.errors import JouleError
from joule.io import atomic_dir, write_table
from pipeline.stage import stage_run
from runners import runner_name
from wiki.clean import clean_plain, clean_wikicode, parse
from wiki.filters import SKIP_REASONS, is_disambiguation, skip_before_cleaning
from wiki.sources import Source, open_source

SECTION = pa.struct([("title", pa.string()), ("level", pa.int32()), ("start", pa.int64()),
                     ("end", pa.int64())])
PAGES_SCHEMA = pa.schema([("id", pa.string()), ("title", pa.string()), ("text", pa.string()),
                          ("sections", pa.list_(SECTION))])


def write_pages(source: Source, out_dir: Path, *, min_words: int, max_pages: int | None,
                keep_lists: bool, pages_per_shard: int) -> dict:
    """Stream `source` into Parquet shards under `out_dir`; return the counts for the metrics
    (a source with no page kept writes nothing and returns `pages_kept` 0)."""
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    read = kept = words = chars = markup_dropped = shards = 0
    rows: list[dict] = []

    def flush():
        nonlocal shards, rows
        write_table(out_dir / f"part-{shards:05d}.parquet", rows, schema=PAGES_SCHEMA)
        shards, rows = shards + 1, []

    for raw in source.pages():
        read += 1
        reason = skip_before_cleaning(raw)
        if reason is None and raw.markup == "wikitext":
            code = parse(raw.text)
            page = None if is_disambiguation(code) else clean_wikicode(code, keep_lists)
            reason = "disambiguation" if page is None else None
        elif reason is None:
            page = clean_plain(raw.text)
        if reason is None:
            markup_dropped += page.markup_paragraphs_dropped
            if page.words < min_words:
                reason = "too_short"
        if reason is not None:
            skipped[reason] += 1
            continue
        rows.append({"id": raw.id, "title": raw.title, "text": page.text,
                     "sections": [s.to_dict() for s in page.sections]})
        kept += 1
        words += page.words
        chars += len(page.text)
        if len(rows) == pages_per_shard:
            flush()
        if max_pages is not None and kept >= max_pages:
            break
    if rows:
        flush()
    return {"pages_read": read, "pages_kept": kept, "skipped": skipped, "words": words,
            "chars": chars, "markup_paragraphs_dropped": markup_dropped, "shards": shards}


def main(cfg: DictConfig) -> dict:
    """Run the stage with a composed config; returns the metrics written."""
    corpus = require(cfg, "corpus")
    min_words = int(require(cfg, "corpus.min_words"))
    max_pages = corpus.get("max_pages")
    if max_pages is not None and int(max_pages) < 1:
        raise JouleError(f"corpus.max_pages must be null or >= 1, not {max_pages}")
    pages_per_shard = int(require(cfg, "corpus.pages_per_shard"))
    if pages_per_shard < 1:
        raise JouleError(f"corpus.pages_per_shard must be >= 1, not {pages_per_shard}")
    with stage_run(cfg, "prepare") as stage:
        source = open_source(corpus)
        with atomic_dir(Path(cfg.data_dir) / "pages") as tmp:
            knobs = {"min_words": min_words, "pages_per_shard": pages_per_shard,
                     "keep_lists": bool(require(cfg, "corpus.keep_lists"))}
            if runner_name(cfg) == "ray":
                from runners.ray_prepare import ray_write_pages
                counts = ray_write_pages(cfg, source, tmp, write_pages=write_pages, **knobs)
            else:
                counts = write_pages(source, tmp, **knobs,
                                     max_pages=None if max_pages is None else int(max_pages))
            if counts["pages_kept"] == 0:
                raise JouleError(
                    f"{source.name}: no page kept out of {counts['pages_read']} read (skipped: "
                    f"{', '.join(f'{k} {v}' for k, v in counts['skipped'].items())}); "
                    f"is it the right file, and corpus.min_words={min_words} sensible?")
        stage.metrics.update(counts, source=source.description)
    return stage.metrics


if __name__ == "__main__":
    run(main)
