"""Stage `prepare`: Wikipedia (dump, HF or jsonl) into clean pages.

`python -m pipeline.prepare [corpus=wiki_sample|wiki_dump|wiki_hf|jsonl] [corpus.key=value]`

Writes `<data_dir>/pages/part-NNNNN.parquet` (columns id, title, text, sections; pages in source
order, `corpus.pages_per_shard` per file) and `<metrics_dir>/prepare.json` (pages read, kept,
skipped by reason, words, chars, the source; `write_pages` lists the breakdowns). Pages stream
through: memory is bounded by one shard, not by the size of the source. A bad source leaves
`<data_dir>/pages/` as it was.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
from omegaconf import DictConfig

from joule.config import require, run
from joule.errors import JouleError
from joule.io import atomic_dir, write_table
from pipeline.stage import stage_run
from runners import runner_name
from wiki.clean import ENGLISH, SiteNames, clean_plain, clean_wikicode, parse
from wiki.dump import RawPage
from wiki.filters import (
    DISAMBIGUATION_BY,
    SKIP_REASONS,
    disambiguation_reason,
    disambiguation_title,
    skip_before_cleaning,
)
from wiki.sources import Source, open_source
from wiki.words import unspaced_share

SECTION = pa.struct([("title", pa.string()), ("level", pa.int32()), ("start", pa.int64()),
                     ("end", pa.int64())])
PAGES_SCHEMA = pa.schema([("id", pa.string()), ("title", pa.string()), ("text", pa.string()),
                          ("sections", pa.list_(SECTION))])
UNRENDERED_TOP = 20  # template names listed in the metrics' unrendered breakdown
WORDS_RULE = ("whitespace tokens; characters of scripts written without spaces count as words "
              "by an estimate: CJK 1.5 characters per word, Thai/Lao/Khmer/Myanmar 4 "
              "(wiki/words.py)")
# A page whose letters are mostly in such scripts is counted apart ("unspaced"): its length is
# an estimate, and the rewrite stage later drops non-Latin sentences.
UNSPACED_PAGE_SHARE = 0.5


def write_pages(source: Source, out_dir: Path, *, min_words: int, max_pages: int | None,
                keep_lists: bool, pages_per_shard: int) -> dict:
    """Stream `source` into Parquet shards under `out_dir`; return the counts for the metrics.

    Besides pages read/kept/skipped by reason, words and chars, the counts break down
    `disambiguation_by` (title, template, category, switch), `too_short_by_script` (spaced
    scripts vs mostly unspaced ones, whose words are estimated: `words_rule`),
    `pages_kept_unspaced`, and the sentences dropped because they held a template that could not
    be rendered (`sentences_dropped_unrendered_template`, by template `unrendered_templates_top`).
    A source with no page kept writes nothing and returns `pages_kept` 0 (the caller refuses).
    """
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    dab_by = dict.fromkeys(DISAMBIGUATION_BY, 0)
    short_by_script = {"spaced": 0, "unspaced": 0}
    unrendered: Counter = Counter()
    read = kept = words = chars = markup_dropped = shards = kept_unspaced = 0
    rows: list[dict] = []
    sites: dict[int, SiteNames] = {}

    def site_of(raw: RawPage) -> SiteNames:  # one per dump header, not per page
        if raw.namespaces is None:
            return ENGLISH
        key = id(raw.namespaces)
        if key not in sites:
            sites[key] = SiteNames(raw.namespaces)
        return sites[key]

    def flush():
        nonlocal shards, rows
        write_table(out_dir / f"part-{shards:05d}.parquet", rows, schema=PAGES_SCHEMA)
        shards, rows = shards + 1, []

    for raw in source.pages():
        read += 1
        reason = skip_before_cleaning(raw)
        if reason == "disambiguation" and disambiguation_title(raw.title):
            dab_by["title"] += 1
        if reason is None and raw.markup == "wikitext":
            code = parse(raw.text)
            site = site_of(raw)
            dab = disambiguation_reason(code, site)
            if dab is not None:
                reason = "disambiguation"
                dab_by[dab] += 1
            else:
                page = clean_wikicode(code, keep_lists, site)
        elif reason is None:
            page = clean_plain(raw.text)
        if reason is None:
            markup_dropped += page.markup_paragraphs_dropped
            unrendered.update(page.unrendered)
            unspaced = unspaced_share(page.text) >= UNSPACED_PAGE_SHARE
            if page.words < min_words:
                reason = "too_short"
                short_by_script["unspaced" if unspaced else "spaced"] += 1
        if reason is not None:
            skipped[reason] += 1
            continue
        kept_unspaced += unspaced
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
    return {"pages_read": read, "pages_kept": kept, "skipped": skipped,
            "disambiguation_by": dab_by, "too_short_by_script": short_by_script,
            "pages_kept_unspaced": kept_unspaced, "words": words, "words_rule": WORDS_RULE,
            "chars": chars, "markup_paragraphs_dropped": markup_dropped,
            "sentences_dropped_unrendered_template": sum(unrendered.values()),
            "unrendered_templates_top": dict(unrendered.most_common(UNRENDERED_TOP)),
            "shards": shards}


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
                stage.add_worker_cpu_time(sum(w["cpu_s"] for w in counts["workers"]),
                                          f"{len(counts['workers'])} Ray actor process(es)")
            else:
                counts = write_pages(source, tmp, **knobs,
                                     max_pages=None if max_pages is None else int(max_pages))
            if counts["pages_kept"] == 0:
                raise JouleError(
                    f"{source.name}: no page kept out of {counts['pages_read']} read (skipped: "
                    f"{', '.join(f'{k} {v}' for k, v in counts['skipped'].items())}); "
                    f"is it the right file, and corpus.min_words={min_words} sensible?")
        stage.metrics.update(counts, source=source.description)
        stage.summary.update(wrote=Path(cfg.data_dir) / "pages", pages_kept=counts["pages_kept"],
                             pages_read=counts["pages_read"], words=counts["words"])
    return stage.metrics


if __name__ == "__main__":
    run(main)
