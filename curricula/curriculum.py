"""A curriculum: steps built from config, run in order over the records, with per-step stats.

nanochat's TaskSequence idea at the level of a whole run: each step sees what the previous one
kept. The runner, not the steps, keeps the books: records and tokens in and out of every step,
drops by reason, and the check that every record that went in either came out or was dropped
with a reason (so `excluded.parquet` explains the whole difference).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import hydra
from omegaconf import DictConfig

from curricula.base import Context, Step
from joule.errors import JouleError
from joule.records import format_name


@dataclass
class Curated:
    """What a run gives: the training records in order, the dropped ones (with `step`,
    `reason`, `detail`), and one stats dict per step."""

    records: list[dict]
    excluded: list[dict]
    steps: list[dict]


def build_steps(curriculum: DictConfig) -> list[Step]:
    """Instantiate a curriculum's `steps:`, a mapping of step name -> config with `_target_`,
    in file order. The key is the step's name (in drop reasons and stats) and the address of its
    knobs (`curricula.<name>.steps.<step>.<knob>`), so inserting a step retargets nothing; a
    derived curriculum (`defaults: [curated]`) overrides a step by its key or removes it with
    `<step>: null`. Errors name the curriculum and the step key."""
    name = curriculum.get("name", "?")
    steps_cfg = curriculum.get("steps")
    if not steps_cfg:
        raise JouleError(f"curriculum {name!r} has no `steps:`")
    if not isinstance(steps_cfg, DictConfig):
        raise JouleError(f"curriculum {name!r}: `steps:` must be a mapping of step name -> "
                         "config (`steps: {mix: {_target_: curricula.mix.Mix, ...}}`), not a list")
    steps = []
    for key, item in steps_cfg.items():
        if item is None:          # removed by a derived curriculum
            continue
        if not isinstance(item, DictConfig) or "_target_" not in item:
            raise JouleError(f"curriculum {name!r}: steps.{key} has no `_target_`")
        try:
            step = hydra.utils.instantiate(item, _convert_="all", name=item.get("name", key))
        except Exception as exc:   # hydra wraps import/argument errors in its own types
            raise JouleError(f"curriculum {name!r}: steps.{key} ({item._target_}) cannot be "
                             f"built: {exc}") from exc
        if not isinstance(step, Step):
            raise JouleError(f"curriculum {name!r}: steps.{key} ({item._target_}) is not a "
                             "curricula.base.Step")
        steps.append(step)
    if not steps:
        raise JouleError(f"curriculum {name!r}: every step is removed")
    names = [s.name for s in steps]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise JouleError(f"curriculum {name!r}: step names {repeated} repeat; give each a "
                         "`name:` so drops can be told apart")
    return steps


def _tokens(records: list[dict], ctx: Context) -> int | None:
    return sum(ctx.tokens(r) for r in records) if ctx.tokenizer is not None else None


def run_steps(records: list[dict], steps: list[Step], ctx: Context) -> Curated:
    """Run `steps` in order over `records`; see `Curated`."""
    current = list(records)
    excluded: list[dict] = []
    stats: list[dict] = []
    for step in steps:
        step.reset()
        tokens_in = _tokens(current, ctx)      # (counted once per record, then cached)
        started = time.perf_counter()
        out = list(step.run(current, ctx))
        elapsed = time.perf_counter() - started
        if len(out) + len(step.dropped) + step.merged != len(current):
            raise RuntimeError(f"step {step.name}: {len(current)} records in, {len(out)} out, "
                               f"{len(step.dropped)} dropped and {step.merged} merged: a step "
                               "lost or made records")
        reasons = Counter(reason for _, reason, _ in step.dropped)
        excluded += [{**r, "step": step.name, "reason": reason, "detail": detail}
                     for r, reason, detail in step.dropped]
        stats.append({
            "step": step.name,
            "target": f"{type(step).__module__}.{type(step).__qualname__}",
            "records_in": len(current), "records_out": len(out),
            "tokens_in": tokens_in, "tokens_out": _tokens(out, ctx),
            "dropped": len(step.dropped), "merged": step.merged,
            "drops_by_reason": dict(sorted(reasons.items())),
            "time_s": round(elapsed, 3),
            **step.info,
        })
        current = out
    return Curated(current, excluded, stats)


def per_format(records: list[dict], ctx: Context) -> dict[str, dict[str, int]]:
    """{format name: {"records": n, "tokens": n}} of a set of records."""
    out: dict[str, dict[str, int]] = {}
    for record in records:
        entry = out.setdefault(format_name(record["format"]), {"records": 0, "tokens": 0})
        entry["records"] += 1
        entry["tokens"] += ctx.tokens(record)
    return dict(sorted(out.items()))
