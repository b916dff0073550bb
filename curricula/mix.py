"""Mixing: draw each format's share of the token budget, by weight, with the seed."""

from __future__ import annotations

import random
from collections.abc import Iterator

from curricula.base import Context, Step
from curricula.exact_fill import fill_gap
from joule.errors import JouleError
from joule.records import FORMAT_FIELDS, format_name


class Mix(Step):
    """Keep a seeded random sample of each format worth `weight / sum(weights)` of `tokens`,
    then fill what is left to exactly `tokens` with whole records.

    weights: format name -> relative weight (formats not listed, or weighted 0, are dropped).
    tokens: tokens to mix (null: the experiment's token budget).
    swap_window / fill_candidates: limits of the exact fill (see `curricula.exact_fill`).
    1. Each format's records, shuffled with the seed, are taken while they fit in its share.
    2. What is left of `tokens` (the shares' rounding gaps, and the shares of formats that have
       too few records, named in `short_formats`) is drawn from the remaining records of the
       weighted formats, in one seeded shuffle, while they fit.
    3. The last gap is filled exactly (`fill_gap`), so the mix holds exactly `tokens` when the
       records allow; then the budget step cuts nothing, whatever order comes between.
    Kept records stay in input order.
    """

    def __init__(self, weights: dict[str, float], tokens: int | None = None,
                 swap_window: int = 20, fill_candidates: int = 500, name: str | None = None):
        super().__init__(name)
        unknown = sorted(set(weights) - set(FORMAT_FIELDS))
        if unknown:
            raise JouleError(f"mix.weights: unknown format(s) {unknown}")
        if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
            raise JouleError(f"mix.weights must be >= 0 with one > 0, got {dict(weights)}")
        self.weights = {k: float(v) for k, v in weights.items() if v > 0}
        self.tokens = tokens
        self.swap_window, self.fill_candidates = swap_window, fill_candidates

    def run(self, records: list[dict], ctx: Context) -> Iterator[dict]:
        total = self.tokens if self.tokens is not None else ctx.token_budget
        if total is None:
            raise JouleError("mix needs a token total (mix.tokens or experiment.token_budget)")
        sizes = [ctx.tokens(r) for r in records]
        weight_sum = sum(self.weights.values())
        by_format: dict[str, list[int]] = {}
        for i, record in enumerate(records):
            by_format.setdefault(format_name(record["format"]), []).append(i)

        taken: list[int] = []     # in the order taken (the exact fill may swap the last ones)
        rest: list[int] = []
        targets, short = {}, {}
        for fmt, weight in sorted(self.weights.items()):
            target = int(total * weight / weight_sum)
            order = list(by_format.get(fmt, []))
            # One stream per format, so adding a format does not reshuffle the others.
            random.Random(f"{ctx.seed}:{self.name}:{fmt}").shuffle(order)
            used = 0
            for i in order:
                if used + sizes[i] <= target:
                    used += sizes[i]
                    taken.append(i)
                else:
                    rest.append(i)
            targets[fmt] = target
            if sum(sizes[i] for i in order) < target:
                short[fmt] = {"target_tokens": target, "available_tokens": used}
        random.Random(f"{ctx.seed}:{self.name}:rest").shuffle(rest)
        used = sum(sizes[i] for i in taken)
        left = []
        for i in rest:
            if used + sizes[i] <= total:
                used += sizes[i]
                taken.append(i)
            else:
                left.append(i)
        plan = fill_gap(taken, left, sizes, total - used, self.swap_window, self.fill_candidates)
        swapped_out = None
        if plan is not None:
            swapped_out, added = plan
            taken = [i for i in taken if i != swapped_out] + added
        chosen = set(taken)
        mixed: dict[str, int] = {}
        for i in chosen:
            fmt = format_name(records[i]["format"])
            mixed[fmt] = mixed.get(fmt, 0) + sizes[i]
        self.info.update(target_tokens=targets, mixed_tokens=dict(sorted(mixed.items())),
                         short_formats=short, tokens=total,
                         exact=sum(mixed.values()) == total)
        for i, record in enumerate(records):
            if i in chosen:
                yield record
            elif format_name(record["format"]) in self.weights:
                self.drop(record, "format_share_full")
            else:
                self.drop(record, "format_not_in_mix", format_name(record["format"]))
