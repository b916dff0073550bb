"""`prepare` on Ray Data: the source's independent ranges (a multistream dump's byte ranges; any
other source is one range) are the blocks; each task cleans its range with the stage's own
`write_pages` into Parquet shards. Pages and their order match `runner=local`: shards are named
`part-RRRRR-SSSSS.parquet` (range, shard), so file-name order is source order.

A killed run resumes at range granularity: finished ranges live in `<data_dir>/.pages.ray-work/`
(`part-RRRRR/` with `counts.json`, renamed into place only once complete) and are skipped on
the next run with the same source and knobs (`fingerprint.json`; any change starts afresh).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from joule.errors import JouleError
from joule.io import atomic_dir, read_json, write_json
from runners import positive
from runners.cluster import check_cpus, cluster, work_dir, worker_usage
from wiki.sources import Source

WORK_DIR = ".pages.ray-work"


def _fingerprint(source: Source, knobs: dict, n_parts: int) -> str:
    blob = json.dumps({"source": source.description, "knobs": knobs, "parts": n_parts},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class _PreparePart:
    """One task: range `part` of the source into `work/part-RRRRR/` (all or nothing)."""

    def __init__(self, parts: list, source: Source, work: Path, write_pages: Callable,
                 knobs: dict):
        self.parts, self.source, self.work = parts, source, work
        self.write_pages, self.knobs = write_pages, knobs

    def __call__(self, batch: dict) -> dict:
        out = []
        for i in batch["part"]:
            i = int(i)
            part = self.parts[i]
            if part is None:    # not splittable: the whole source
                src = self.source
            else:
                src = Source(f"{self.source.name} bytes {part.start}-{part.end}", {}, part.pages)
            with atomic_dir(self.work / f"part-{i:05d}") as tmp:
                counts = self.write_pages(src, tmp, max_pages=None, **self.knobs)
                write_json(tmp / "counts.json", counts)
            out.append(json.dumps(counts))
        usage = worker_usage()   # CPU s and peak RSS of this actor so far (energy, benchmark)
        return {"part": batch["part"], "counts": out,
                **{k: [v] * len(out) for k, v in usage.items()}}


def ray_write_pages(cfg: DictConfig, source: Source, out_dir: Path, *, write_pages: Callable,
                    min_words: int, keep_lists: bool, pages_per_shard: int) -> dict:
    """Clean `source` into `out_dir` on Ray; returns the summed counts of `write_pages` plus
    `ranges`, `ranges_resumed` and `workers` (each actor's CPU s and peak RSS MB).
    `write_pages(source, dir, *, min_words, max_pages, keep_lists, pages_per_shard) -> counts`
    is the stage's own (local) implementation."""
    if cfg.corpus.get("max_pages") is not None:
        raise JouleError("corpus.max_pages needs the pages in source order, one at a time: "
                         "use runner=local with it (runner=ray reads ranges in parallel)")
    tasks = positive(cfg, "prepare_tasks")
    streams = positive(cfg, "streams_per_range")
    parts = source.ranges(streams) if source.ranges is not None else [None]
    knobs = {"min_words": min_words, "keep_lists": keep_lists, "pages_per_shard": pages_per_shard}
    work = work_dir(Path(cfg.data_dir) / WORK_DIR,
                     _fingerprint(source, knobs | {"streams_per_range": streams}, len(parts)))
    todo = [i for i in range(len(parts)) if not (work / f"part-{i:05d}" / "counts.json").exists()]
    runner = OmegaConf.create(OmegaConf.to_container(cfg.runner))
    usage: dict[int, dict] = {}
    if todo:
        with cluster(runner) as ray:
            check_cpus(ray, min(tasks, len(todo)), "runner.prepare_tasks")  # else it waits
            ds = ray.data.from_items([{"part": i} for i in todo], override_num_blocks=len(todo))
            pool = ray.data.ActorPoolStrategy(size=min(tasks, len(todo)))
            ds = ds.map_batches(_PreparePart, batch_size=1, compute=pool, num_cpus=1,
                                fn_constructor_args=(parts, source, work, write_pages, knobs))
            for row in ds.take_all():       # one small row per range
                if row["cpu_s"] >= usage.get(row["pid"], {}).get("cpu_s", -1):
                    usage[row["pid"]] = {"cpu_s": row["cpu_s"], "peak_rss_mb": row["peak_rss_mb"]}
    totals: dict = {}
    for i in range(len(parts)):
        part_dir = work / f"part-{i:05d}"
        totals = add_counts(totals, read_json(part_dir / "counts.json"))
        for shard in sorted(part_dir.glob("part-*.parquet")):
            shard.rename(out_dir / f"part-{i:05d}-{shard.name[len('part-'):]}")
    shutil.rmtree(work)
    top = totals.get("unrendered_templates_top")
    if top:   # each range kept its own top names: the sum is re-ranked (an approximate top)
        totals["unrendered_templates_top"] = dict(Counter(top).most_common(20))  # as prepare
    return {**totals, "ranges": len(parts), "ranges_resumed": len(parts) - len(todo),
            "workers": [{"cpu_s": round(u["cpu_s"], 3), "peak_rss_mb": round(u["peak_rss_mb"], 1)}
                        for _, u in sorted(usage.items())]}


def add_counts(a: dict, b: dict) -> dict:
    """Two ranges' counts added: numbers summed, nested dicts added key by key, any other value
    (a label such as `words_rule`) must agree."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif isinstance(value, dict):
            out[key] = add_counts(out[key], value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = out[key] + value
        elif out[key] != value:
            raise ValueError(f"ranges disagree on {key!r}: {out[key]!r} vs {value!r}")
    return out
