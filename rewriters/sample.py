"""Random records of every format as Markdown, for a person to read.

`python -m rewriters.sample [--data-dir data] [--n 5] [--seed 0] [--out samples.md]`
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from joule.errors import JouleError
from joule.formats import prompt_and_answer
from joule.io import read_table


def render(record: dict) -> str:
    """One record as Markdown: what the model is shown and what it must answer."""
    pair = prompt_and_answer(record)
    head = f"**{record['title']}** (`{record['id']}`, meta `{record['meta']}`)\n\n"
    if pair is None:
        return head + "\n".join(f"> {line}" for line in record["text"].splitlines()) + "\n"
    prompt, answer = pair
    quoted = "\n".join(f"> {line}" if line else ">" for line in prompt.splitlines())
    return head + f"{quoted}\n\nAnswer:\n\n" + "\n".join(
        f"    {line}" for line in answer.splitlines()) + "\n"


def sample_markdown(data_dir: Path, n: int, seed: int) -> str:
    """N random records (seeded) of every format under `<data_dir>/records/`."""
    formats = sorted(p.name for p in (data_dir / "records").glob("*") if p.is_dir())
    if not formats:
        raise JouleError(f"no formats under {data_dir / 'records'} (run pipeline.rewrite)")
    parts = [f"# Sample records ({n} per format, seed {seed})\n"]
    for name in formats:
        rows = read_table(data_dir / "records" / name).to_pylist()
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
    args = parser.parse_args(argv)
    try:
        text = sample_markdown(args.data_dir, args.n, args.seed)
    except JouleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
