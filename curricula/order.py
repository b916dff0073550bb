"""Ordering: the training order, easy to hard by `curricula.difficulty`, or shuffled."""

from __future__ import annotations

import random
from collections.abc import Iterator

from curricula.base import Context, Step
from curricula.difficulty import difficulty
from joule.errors import JouleError

MODES = ("easy_to_hard", "hard_to_easy", "shuffle")


class Order(Step):
    """Reorder the records; drops nothing.

    mode: easy_to_hard | hard_to_easy (by difficulty, ties by id) | shuffle (with the seed).
    lookup_weight, length_weight, answer_weight, length_scale, answer_scale: the difficulty
        score's knobs (see curricula/difficulty.py).
    """

    def __init__(self, mode: str = "easy_to_hard", lookup_weight: float = 1.0,
                 length_weight: float = 1.0, answer_weight: float = 1.0,
                 length_scale: int = 300, answer_scale: int = 10, name: str | None = None):
        super().__init__(name)
        if mode not in MODES:
            raise JouleError(f"order.mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.knobs = dict(lookup_weight=lookup_weight, length_weight=length_weight,
                          answer_weight=answer_weight, length_scale=length_scale,
                          answer_scale=answer_scale)

    def run(self, records: list[dict], ctx: Context) -> Iterator[dict]:
        records = list(records)
        if self.mode == "shuffle":
            random.Random(f"{ctx.seed}:{self.name}").shuffle(records)
            return iter(records)
        scored = [(difficulty(r, **self.knobs), r["id"], i) for i, r in enumerate(records)]
        scored.sort(reverse=self.mode == "hard_to_easy")
        if scored:
            self.info.update(difficulty_first=round(scored[0][0], 4),
                             difficulty_last=round(scored[-1][0], 4))
        return iter(records[i] for _, _, i in scored)
