"""Reading and writing stage outputs: Parquet tables, JSON metrics, all-or-nothing directories."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from joule.errors import JouleError


@contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Build a directory in a sibling temp dir; move it into place only if the block succeeds.

    On any exception the temp dir is removed and an existing `final` is left untouched, so a
    failed stage never leaves partial output behind (DVC would otherwise cache half a result).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final) if final.is_dir() else final.unlink()
    tmp.rename(final)


def write_text(path: str | Path, text: str) -> None:
    """Write `text` atomically (temp file + rename): readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    tmp.rename(path)


def write_json(path: str | Path, data: dict) -> None:
    """Write `data` as sorted, indented JSON, atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(value):
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_json(path: str | Path) -> dict:
    """Read a JSON file, or a JouleError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise JouleError(f"{path} does not exist (has the stage that writes it run?)") from exc
    except json.JSONDecodeError as exc:
        raise JouleError(f"{path} is not valid JSON: {exc}") from exc


def write_table(path: str | Path, table: pa.Table | list[dict],
                schema: pa.Schema | None = None) -> None:
    """Write rows (a table or a list of dicts) to one Parquet file, deterministically.

    No timestamps or writer-dependent metadata go in, so the same rows give the same bytes.
    """
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pylist(table, schema=schema)
    pq.write_table(table, str(path), compression="zstd", store_schema=True,
                   write_statistics=False)


def read_table(directory: str | Path, columns: list[str] | None = None) -> pa.Table:
    """Read every `*.parquet` file of a directory, in file-name order, as one table."""
    directory = Path(directory)
    files = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
    if not files:
        raise JouleError(f"no Parquet files in {directory} (has the stage that writes it run?)")
    tables = [pq.read_table(str(f), columns=columns) for f in files]
    return pa.concat_tables(tables, promote_options="default")
