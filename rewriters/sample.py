"""Random records of every format as Markdown, for a person to read.

`python -m rewriters.sample [--data-dir data] [--n 5] [--seed 0] [--out samples.md]`
`python -m rewriters.sample --curriculum curated`: the same from a curriculum's training set
(`<data_dir>/curricula/<name>/train.parquet`), where steps may have made records (qa_passage).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import pyarrow.parquet as pq

from joule.errors import JouleError
from joule.formats import chat_turns
from joule.io import read_table
from joule.records import format_name


def render(record: dict) -> str:
    """One record as Markdown: what the model is shown and what it must answer."""
    turns = chat_turns(record)
    head = f"**{record['title']}** (`{record['id']}`, meta `{record['meta']}`)\n\n"
    if turns is None:
        return head + "\n".join(f"> {line}" for line in record["text"].splitlines()) + "\n"
    parts = []
    for prompt, answer in turns:
        quoted = "\n".join(f"> {line}" if line else ">" for line in prompt.splitlines())
        parts.append(f"{quoted}\n\nAnswer:\n\n" + "\n".join(
            f"    {line}" for line in answer.splitlines()) + "\n")
    return head + "\n".join(parts)


def sample_markdown(data_dir: Path, n: int, seed: int, curriculum: str | None = None) -> str:
    """N random records (seeded) of every format under `<data_dir>/records/`, or of the
    training set of `curriculum`. Raises JouleError when there are none."""
    if curriculum is not None:
        path = data_dir / "curricula" / curriculum / "train.parquet"
        if not path.is_file():
            raise JouleError(f"no training set at {path} (run pipeline.curate "
                             f"curriculum={curriculum})")
        by_format: dict[str, list[dict]] = {}
        for row in pq.read_table(path).to_pylist():
            by_format.setdefault(format_name(row["format"]), []).append(row)
    else:
        names = sorted(p.name for p in (data_dir / "records").glob("*") if p.is_dir())
        if not names:
            raise JouleError(f"no formats under {data_dir / 'records'} (run pipeline.rewrite)")
        by_format = {name: read_table(data_dir / "records" / name).to_pylist() for name in names}
    where = f"curriculum {curriculum}" if curriculum else "records"
    parts = [f"# Sample records ({n} per format, seed {seed}, {where})\n"]
    for name, rows in sorted(by_format.items()):
        picked = random.Random(f"{seed}:{name}").sample(rows, min(n, len(rows)))
        parts.append(f"## {name} ({len(rows)} records)\n")
        parts.extend(render(r) for r in picked)
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", type=Path)
    parser.add_argument("--n", default=5, type=int, help="records per format")
    parser.add_argument("--seed", default=0, type=int)
    parser.add_argument("--out", default=Path("samples.md"), type=Path)
    parser.add_argument("--curriculum", default=None,
                        help="sample a curriculum's training set instead of the records")
    args = parser.parse_args(argv)
    try:
        text = sample_markdown(args.data_dir, args.n, args.seed, args.curriculum)
    except JouleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
