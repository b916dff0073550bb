"""Mixing: draw each format's share of the token budget, by weight, with the seed."""

from __future__ import annotations

import random
from collections.abc import Iterator

from curricula.base import Context, Step
from pipeline.errors import JouleError
from pipeline.records import FORMAT_FIELDS, format_name


class Mix(Step):
    """Keep a seeded random sample of each format worth `weight / sum(weights)` of `tokens`.

    weights: format name -> relative weight (formats not listed, or weighted 0, are dropped).
    tokens: tokens to mix (null: the experiment's token budget).
    headroom: factor on `tokens`: mix a little more than the budget so that the budget step,
        which never splits a record, can fill the budget exactly (it drops the surplus from the
        end of the training order).
    Each format's records are shuffled with the seed and taken until its share is reached (the
    last one taken may overshoot by one record). A format with fewer tokens than its share is
    taken whole and named in the metrics (`short_formats`). Kept records stay in input order.
    """

    def __init__(self, weights: dict[str, float], tokens: int | None = None,
                 headroom: float = 1.05, name: str | None = None):
        super().__init__(name)
        unknown = sorted(set(weights) - set(FORMAT_FIELDS))
        if unknown:
            raise JouleError(f"mix.weights: unknown format(s) {unknown}")
        if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
            raise JouleError(f"mix.weights must be >= 0 with one > 0, got {dict(weights)}")
        if headroom < 1:
            raise JouleError(f"mix.headroom must be >= 1, got {headroom}")
        self.weights = {k: float(v) for k, v in weights.items() if v > 0}
        self.tokens, self.headroom = tokens, headroom

    def run(self, records: list[dict], ctx: Context) -> Iterator[dict]:
        total = self.tokens if self.tokens is not None else ctx.token_budget
        if total is None:
            raise JouleError("mix needs a token total (mix.tokens or experiment.token_budget)")
        total *= self.headroom
        weight_sum = sum(self.weights.values())
        by_format: dict[str, list[int]] = {}
        for i, record in enumerate(records):
            by_format.setdefault(format_name(record["format"]), []).append(i)
        chosen: set[int] = set()
        targets, taken, short = {}, {}, {}
        for fmt, weight in sorted(self.weights.items()):
            target = total * weight / weight_sum
            order = list(by_format.get(fmt, []))
            # One stream per format, so adding a format does not reshuffle the others.
            random.Random(f"{ctx.seed}:{self.name}:{fmt}").shuffle(order)
            used = 0
            for i in order:
                if used >= target:
                    break
                chosen.add(i)
                used += ctx.tokens(records[i])
            targets[fmt], taken[fmt] = round(target), used
            if used < target:
                short[fmt] = {"target_tokens": round(target), "available_tokens": used}
        self.info.update(target_tokens=targets, mixed_tokens=taken, short_formats=short)
        for i, record in enumerate(records):
            if i in chosen:
                yield record
            elif format_name(record["format"]) in self.weights:
                self.drop(record, "format_share_full")
            else:
                self.drop(record, "format_not_in_mix", format_name(record["format"]))
