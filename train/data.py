"""From a curriculum table to the exact sequence of training batches, in the curriculum's order.

Why by hand: transformers' collators either pad whole examples (wasting compute on padding) or
flatten a batch into one row (`DataCollatorWithFlattening`, whose block-diagonal attention covers
batch x length squared positions on CPU). Neither knows about checkpoints at token marks. Here:

1. Each record becomes (input_ids, labels) with `joule.formats.tokenize_record`; a record
   longer than `max_seq_len` is SPLIT into consecutive chunks of `max_seq_len` (never truncated),
   so every token of the budget is trained on exactly once.
2. The budget is cut into stretches that end at the record where the cumulative token count first
   reaches each checkpoint fraction; a checkpoint is taken at the end of its stretch, so the
   checkpoint's `tokens` is the fraction's mark rounded up to the next record boundary.
3. Within a stretch, chunks are packed into rows of `max_seq_len` tokens by a bounded first-fit
   over the `pack_window` most recently opened rows, so a record moves at most that many rows
   from its place in the curriculum's order. Rows are grouped `rows_per_batch` to a batch and
   trimmed to their longest row.
4. Position ids restart at 0 for every chunk and no attention mask is passed: the attention
   then keeps records apart (`packed_sdpa` runs one causal call per record, `train.attention`;
   transformers' `sdpa` detects packed sequences and builds a block-diagonal causal mask), and
   RoPE sees each record at its own positions. The first label of each chunk is -100: it
   would otherwise be predicted from the previous record's last token.

Under `accelerate launch` with W processes, one optimizer step consumes W consecutive batches
(process k takes batch k of each group), so a stretch is laid out as a multiple of W batches.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from joule.errors import JouleError
from joule.formats import tokenize_record


def read_curriculum(path: str | Path) -> list[dict]:
    """Rows of a curriculum's `train.parquet`, in file order (the training order)."""
    path = Path(path)
    if not path.is_file():
        raise JouleError(f"{path} does not exist (has `python -m pipeline.curate` run?)")
    rows = pq.read_table(str(path)).to_pylist()
    if not rows:
        raise JouleError(f"{path} has no records to train on")
    return rows


def tokenize_records(rows: list[dict], tokenizer, source: str = "curriculum") \
        -> list[tuple[list[int], list[int]]]:
    """(input_ids, labels) of every row, in order; a row that cannot be formatted is an error."""
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(tokenize_record(row, tokenizer))
        except (KeyError, ValueError, TypeError) as exc:
            raise JouleError(f"{source}: record {i} (id {row.get('id')!r}) cannot be "
                             f"formatted for training: {exc}") from exc
    return out


@dataclass(frozen=True)
class Chunk:
    """Tokens [start, end) of example `example`."""

    example: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass
class Plan:
    """Every optimizer step's batches, and where checkpoints fall.

    `steps[s]` is the list of batches (one per process) of optimizer step s+1; a batch is a list
    of rows; a row a list of chunks. `tokens_after[s]` is the count of real (non-padding) tokens
    trained on after step s+1. `checkpoints` maps a fraction to the step after which it is saved.
    """

    steps: list[list[list[list[Chunk]]]]
    tokens_after: list[int]
    checkpoints: dict[float, int]
    total_tokens: int
    max_seq_len: int
    padded_tokens: int = 0          # tokens computed including padding (rows x trimmed length)
    batches: list = field(default_factory=list)  # steps flattened: the dataset's items in order

    @property
    def padding_fraction(self) -> float:
        """Share of computed positions that are padding (0 = perfect packing)."""
        return 1.0 - self.total_tokens / self.padded_tokens if self.padded_tokens else 0.0


def _chunks(lengths: list[int], lo: int, hi: int, max_seq_len: int) -> list[Chunk]:
    out = []
    for i in range(lo, hi):
        out += [Chunk(i, s, min(s + max_seq_len, lengths[i]))
                for s in range(0, lengths[i], max_seq_len)]
    return out


def _pack(chunks: list[Chunk], max_seq_len: int, open_rows: int) -> list[list[Chunk]]:
    """Bounded first-fit: each chunk, in order, goes to the first of the `open_rows` most recently
    opened rows with room, else opens a row; the oldest row closes when too many are open.

    Rows come out in the order they were opened, so a chunk lands at most `open_rows` rows
    before its place in the curriculum (1 = strict order, next-fit).
    """
    done: list[list[Chunk]] = []
    rows: list[list[Chunk]] = []
    free: list[int] = []
    for chunk in chunks:
        for j, room in enumerate(free):
            if chunk.size <= room:
                rows[j].append(chunk)
                free[j] -= chunk.size
                break
        else:
            rows.append([chunk])
            free.append(max_seq_len - chunk.size)
            if len(rows) > open_rows:
                done.append(rows.pop(0))
                free.pop(0)
    return done + rows


def _split_rows(rows: list, rows_per_batch: int, world_size: int) -> list[list]:
    """Rows into batches; the count is a multiple of `world_size` (one batch per process)."""
    per_step = rows_per_batch * world_size
    n_batches = world_size * max(1, math.ceil(len(rows) / per_step))
    base, extra = divmod(len(rows), n_batches)
    batches, i = [], 0
    for b in range(n_batches):
        n = base + (b < extra)
        batches.append(rows[i:i + n])
        i += n
    return batches


def checkpoint_fractions(fractions) -> list[float]:
    """Validated, sorted fractions; 1.0 (the end of the budget) is always included."""
    out = sorted({float(f) for f in fractions} | {1.0})
    if out[0] <= 0 or out[-1] > 1:
        raise JouleError(f"train.checkpoint_fractions must lie in (0, 1]; got {list(fractions)}")
    names = [checkpoint_name(f) for f in out]
    if len(set(names)) != len(names):
        raise JouleError(f"train.checkpoint_fractions {out} give duplicate names {names} "
                         "(names use whole percents)")
    return out


def checkpoint_name(fraction: float) -> str:
    """`ckpt-002` for 0.02, `ckpt-100` for 1.0."""
    return f"ckpt-{round(fraction * 100):03d}"


def plan_batches(lengths: list[int], max_seq_len: int, rows_per_batch: int, pack_window: int,
                 fractions: list[float], world_size: int = 1) -> Plan:
    """Lay out the whole run (see the module docstring). `lengths`: tokens of each example."""
    if max_seq_len < 2 or rows_per_batch < 1 or pack_window < 1:
        raise JouleError("train.max_seq_len >= 2, train.rows_per_batch >= 1 and "
                         "train.pack_window >= 1 are required")
    total = sum(lengths)
    if total == 0:
        raise JouleError("the curriculum has no tokens to train on")
    ends = list(itertools.accumulate(lengths))
    # Stretch boundaries: after the first record whose cumulative count reaches each mark.
    bounds: dict[float, int] = {}
    for f in fractions:
        mark = f * total
        bounds[f] = next(i + 1 for i, e in enumerate(ends) if e >= mark - 1e-9)
    steps, tokens_after, checkpoints = [], [], {}
    lo = 0
    padded = 0
    for f in fractions:
        hi = bounds[f]
        if hi > lo:
            rows = _pack(_chunks(lengths, lo, hi, max_seq_len), max_seq_len, pack_window)
            batches = _split_rows(rows, rows_per_batch, world_size)
            for s in range(0, len(batches), world_size):
                step = batches[s:s + world_size]
                steps.append(step)
                seen = sum(c.size for b in step for row in b for c in row)
                padded += sum(len(b) * max((sum(c.size for c in r) for r in b), default=0)
                              for b in step)
                tokens_after.append((tokens_after[-1] if tokens_after else 0) + seen)
            lo = hi
        checkpoints[f] = len(steps)
    plan = Plan(steps, tokens_after, checkpoints, total, max_seq_len, padded)
    plan.batches = [b for step in steps for b in step]
    return plan


def batch_tensors(batch: list[list[Chunk]], examples: list[tuple[list[int], list[int]]],
                  pad_id: int) -> dict:
    """input_ids, labels, position_ids of one batch ([rows, longest row] tensors)."""
    import torch

    width = max((sum(c.size for c in row) for row in batch), default=1) or 1
    n = max(len(batch), 1)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    labels = torch.full((n, width), -100, dtype=torch.long)
    pos = torch.zeros((n, width), dtype=torch.long)
    for r, row in enumerate(batch):
        at = 0
        for c in row:
            x, y = examples[c.example]
            ids[r, at:at + c.size] = torch.tensor(x[c.start:c.end])
            lab = list(y[c.start:c.end])
            lab[0] = -100   # not predicted from the previous chunk's last token
            labels[r, at:at + c.size] = torch.tensor(lab)
            pos[r, at:at + c.size] = torch.arange(c.size)
            at += c.size
        # Padding is its own segment (positions restart), so it never joins a record's block.
        pos[r, at:] = torch.arange(width - at)
    return {"input_ids": ids, "labels": labels, "position_ids": pos}


def labelled_tokens_after(plan: Plan, examples: list[tuple[list[int], list[int]]]) -> list[int]:
    """Per optimizer step, the count of labelled positions trained on so far: where the output
    head runs (`train.head_loss`). A chunk's first token is never labelled (`batch_tensors`)."""
    counts, total = [], 0
    for step in plan.steps:
        for batch in step:
            for row in batch:
                for c in row:
                    labels = examples[c.example][1]
                    total += sum(1 for y in labels[c.start + 1:c.end] if y != -100)
        counts.append(total)
    return counts


class PackedBatches:
    """A map-style dataset whose item i is batch i of the plan, built on demand (torch Dataset)."""

    def __init__(self, plan: Plan, examples, pad_id: int):
        self.plan, self.examples, self.pad_id = plan, examples, pad_id

    def __len__(self) -> int:
        return len(self.plan.batches)

    def __getitem__(self, i: int) -> dict:
        return batch_tensors(self.plan.batches[i], self.examples, self.pad_id)


def unwrap(items: list[dict]) -> dict:
    """Collate for a DataLoader of batch size 1 whose items are whole batches already."""
    if len(items) != 1:
        raise ValueError("PackedBatches items are whole batches: use per-device batch size 1")
    return items[0]
