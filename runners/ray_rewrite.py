"""`rewrite` on Ray Data: the pages' Parquet shards are cut into blocks of
`runner.pages_per_block` pages (a fixed, resumable unit: Ray's own read splitting is not stable
from run to run), and `map_batches` hands each block to a pool of `runner.rewrite_actors`
actors (a callable class: each loads spaCy and the rewriters once). An actor parses its block,
runs every per-page rewriter on it and writes their records; for a corpus-wide rewriter
(`Rewriter.corpus_wide`, e.g. multiple_choice, whose distractor pool and answer positions
depend on every earlier page) it stores only `analyse`'s per-page value. The driver then reads
the blocks in page order and runs those rewriters' `emit` and `finish`: cheap next to parsing,
and the reason the records are the ones `runner=local` makes, byte for byte and in the same
order (`records/<format>/part-BBBBB.parquet`, block order = page order; `finish`'s records in
the last part).

Resumes at block granularity: finished blocks live in `<data_dir>/.records.ray-work/` (each
renamed into place only once complete) and are skipped by the next run with the same pages and
config (`fingerprint.json`; any change starts afresh). Progress: Ray Data's progress bars.
No resource deadlock: blocks are made in the driver (`from_items`: no read tasks to wait for a
CPU the actors hold), and the actor pool is refused when the cluster has fewer CPUs than actors.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf

from joule.errors import JouleError
from joule.io import atomic_dir, read_json, write_json, write_table
from runners import positive
from runners.cluster import check_cpus, cluster, work_dir, worker_usage

WORK_DIR = ".records.ray-work"
PAGE_COLUMNS = ["id", "title", "text", "sections"]


@dataclass
class RayRewrite:
    """What the runner made: the stage's counts, per format, and Ray's own figures (`extra`)."""

    stats: Counter
    records: dict[str, int]
    drops: dict[str, dict]
    pages_without_records: dict[str, int]
    extra: dict = field(default_factory=dict)


def read_rows(path: str, start: int, n: int) -> list[dict]:
    """Rows [start, start + n) of a Parquet file, streamed (one block of batches in memory)."""
    rows: list[dict] = []
    offset = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=max(n, 1), columns=PAGE_COLUMNS):
        end = offset + batch.num_rows
        if end > start and offset < start + n:
            lo = max(start - offset, 0)
            rows.extend(batch.slice(lo, min(start + n, end) - offset - lo).to_pylist())
        if end >= start + n:
            break
        offset = end
    return rows


class _RewriteBlocks:
    """One actor: spaCy and the rewriters loaded once; a batch of blocks (number, file, first
    row, rows) in, each block written to `work/block-BBBBB/` (all or nothing), one row of usage
    figures per block out."""

    def __init__(self, cfg_yaml: str, work: Path, fns: dict[str, Callable]):
        cfg = OmegaConf.create(cfg_yaml)
        self.rw, self.work, self.fns = cfg.rewrite, work, fns
        self.nlp = fns["load_spacy"](self.rw.spacy_model)
        rewriters = fns["load_rewriters"](cfg)
        self.per_page = {n: r for n, r in rewriters.items() if not r.corpus_wide}
        self.wide = {n: r for n, r in rewriters.items() if r.corpus_wide}
        self.pages = 0

    def __call__(self, batch: dict) -> dict:
        rows: dict[str, list] = {"block": [], "pages": [], "pid": [], "cpu_s": [],
                                 "peak_rss_mb": [], "actor_pages": []}
        for i, path, start, rows_in in zip(batch["block"], batch["path"], batch["start"],
                                           batch["rows"], strict=True):
            i = int(i)
            n = self.write_block(i, str(path), int(start), int(rows_in))
            self.pages += n
            rows["block"].append(i)
            rows["pages"].append(n)
            rows["actor_pages"].append(self.pages)
            for key, value in worker_usage().items():
                rows[key].append(value)
        return rows

    def write_block(self, i: int, path: str, start: int, n: int) -> int:
        for rewriter in (*self.per_page.values(), *self.wide.values()):
            rewriter.drops.clear()           # per block (multiple_choice shares this Counter)
            rewriter.pages_without_records = 0
        stats: Counter = Counter()
        out: dict[str, list] = {name: [] for name in self.per_page}
        analyses = []
        pairs = self.fns["parsed_pages"](self.nlp, iter(read_rows(path, start, n)), stats,
                                         batch_size=int(self.rw.batch_size), n_process=1,
                                         max_chars=int(self.rw.max_chars_per_parse))
        for page, doc in pairs:
            made = self.fns["rewrite_page"](page, doc, self.per_page, out, stats)
            analyses.append(({"id": page["id"], "title": page["title"]}, made,
                             {name: r.analyse(page, doc) for name, r in self.wide.items()}))
        with atomic_dir(self.work / f"block-{i:05d}") as tmp:
            for name, rows in out.items():
                write_table(tmp / f"{name}.parquet", rows, schema=self.fns["record_schema"](name))
            with open(tmp / "analyses.pkl", "wb") as f:
                pickle.dump(analyses, f)
            rewriters = {**self.per_page, **self.wide}
            write_json(tmp / "counts.json", {
                "stats": dict(stats),
                "drops": {name: dict(r.drops) for name, r in rewriters.items()},
                "pages_without_records": {name: r.pages_without_records
                                          for name, r in rewriters.items()}})
        return len(analyses)


def plan_blocks(pages_dir: Path, per_block: int) -> list[tuple[str, int, int]]:
    """(file, first row, rows) of every block, in page order."""
    files = sorted(Path(pages_dir).glob("*.parquet"))
    if not files:
        raise JouleError(f"no Parquet files in {pages_dir} (has the stage that writes it run?)")
    blocks = []
    for f in files:
        rows = pq.read_metadata(f).num_rows
        blocks += [(str(f), s, min(per_block, rows - s)) for s in range(0, rows, per_block)]
    return blocks


def _fingerprint(cfg: DictConfig, blocks: list) -> str:
    stamp = {"rewriter": OmegaConf.to_container(cfg.rewriter, resolve=True),
             "rewrite": OmegaConf.to_container(cfg.rewrite, resolve=True), "seed": cfg.seed,
             "blocks": [(Path(f).name, s, n, os.stat(f).st_size, os.stat(f).st_mtime_ns)
                        for f, s, n in blocks]}
    return hashlib.sha256(json.dumps(stamp, sort_keys=True, default=str).encode()).hexdigest()


def ray_rewrite(cfg: DictConfig, pages_dir: Path, out: Path, stage, *,
                load_spacy: Callable, load_rewriters: Callable, parsed_pages: Callable,
                rewrite_page: Callable, record_schema: Callable) -> RayRewrite:
    """Rewrite the pages under `pages_dir` into `out/<format>/part-BBBBB.parquet` on Ray.

    The callables are the stage's own (the same parsing and per-page loop as runner=local).
    `stage` (a `pipeline.stage.StageRun`) is credited with the actors' CPU seconds, so its
    energy estimate covers them. Raises JouleError on an empty pages dir or too few CPUs."""
    actors = positive(cfg, "rewrite_actors")
    blocks = plan_blocks(pages_dir, positive(cfg, "pages_per_block"))
    work = work_dir(Path(cfg.data_dir) / WORK_DIR, _fingerprint(cfg, blocks))
    todo = [i for i in range(len(blocks)) if not (work / f"block-{i:05d}" / "counts.json").exists()]
    usage: dict[int, dict] = {}
    if todo:
        fns = {"load_spacy": load_spacy, "load_rewriters": load_rewriters,
               "parsed_pages": parsed_pages, "rewrite_page": rewrite_page,
               "record_schema": record_schema}
        runner = OmegaConf.create(OmegaConf.to_container(cfg.runner))
        with cluster(runner) as ray:
            pool = min(actors, len(todo))
            check_cpus(ray, pool, "runner.rewrite_actors")
            ds = ray.data.from_items([{"block": i, "path": blocks[i][0], "start": blocks[i][1],
                                       "rows": blocks[i][2]} for i in todo],
                                     override_num_blocks=len(todo))
            ds = ds.map_batches(_RewriteBlocks, batch_size=1, num_cpus=1,
                                compute=ray.data.ActorPoolStrategy(size=pool),
                                fn_constructor_args=(OmegaConf.to_yaml(cfg, resolve=True),
                                                     work, fns))
            for row in ds.take_all():     # one small row per block
                if row["cpu_s"] >= usage.get(row["pid"], {}).get("cpu_s", -1):
                    usage[row["pid"]] = {k: row[k] for k in ("cpu_s", "peak_rss_mb",
                                                             "actor_pages")}
        workers_cpu = sum(u["cpu_s"] for u in usage.values())
        stage.add_worker_cpu_time(workers_cpu, f"{len(usage)} Ray actor process(es)")
    return _assemble(cfg, blocks, work, out, load_rewriters, record_schema,
                     extra={"runner": "ray", "blocks": len(blocks),
                            "blocks_resumed": len(blocks) - len(todo), "rewrite_actors": actors,
                            "workers": [{"pages": u["actor_pages"], "cpu_s": round(u["cpu_s"], 3),
                                         "peak_rss_mb": round(u["peak_rss_mb"], 1)}
                                        for _, u in sorted(usage.items())]})


def _assemble(cfg, blocks, work: Path, out: Path, load_rewriters, record_schema,
              extra: dict) -> RayRewrite:
    """The driver's ordered pass: per-page records moved into `out`, corpus-wide rewriters'
    `emit` run block by block in page order, then their `finish`; counts summed."""
    rewriters = load_rewriters(cfg)
    wide = {n: r for n, r in rewriters.items() if r.corpus_wide}
    stats: Counter = Counter()
    drops = {n: Counter() for n in rewriters}
    without = dict.fromkeys(rewriters, 0)
    records = dict.fromkeys(rewriters, 0)
    for name in rewriters:
        (out / name).mkdir()

    def put(name: str, part: int, rows: list[dict]) -> None:
        write_table(out / name / f"part-{part:05d}.parquet", rows, schema=record_schema(name))
        records[name] += len(rows)

    for i in range(len(blocks)):
        block = work / f"block-{i:05d}"
        counts = read_json(block / "counts.json")
        stats.update(counts["stats"])
        for name in rewriters:
            drops[name].update(counts["drops"][name])
            without[name] += counts["pages_without_records"][name]
        made_wide: dict[str, list] = {name: [] for name in wide}
        with open(block / "analyses.pkl", "rb") as f:
            for stub, made, analyses in pickle.load(f):
                for name, rewriter in wide.items():
                    rows = list(rewriter.emit(stub, analyses[name]))
                    if not rows:
                        rewriter.pages_without_records += 1
                    made_wide[name] += rows
                    made += len(rows)
                if not made:
                    stats["pages_without_any_record"] += 1
        for name in rewriters:
            if name in wide:
                if made_wide[name]:
                    put(name, i, made_wide[name])
            elif (n := pq.read_metadata(block / f"{name}.parquet").num_rows):
                (block / f"{name}.parquet").rename(out / name / f"part-{i:05d}.parquet")
                records[name] += n
    for name, rewriter in wide.items():
        rows = list(rewriter.finish())
        if rows:
            put(name, len(blocks), rows)
        drops[name].update(rewriter.drops)
        without[name] += rewriter.pages_without_records
    for name in rewriters:
        if not any((out / name).iterdir()):     # no records: one empty file, as runner=local
            put(name, 0, [])
    shutil.rmtree(work)
    return RayRewrite(stats, records, {n: dict(d) for n, d in drops.items()}, without, extra)
