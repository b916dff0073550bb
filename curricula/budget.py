"""The token budget: cut the training order at exactly the experiment's budget."""

from __future__ import annotations

from collections.abc import Iterator

from curricula.base import Context, Step
from pipeline.errors import JouleError


class TokenBudget(Step):
    """Walk the records in training order and keep each one that still fits in the budget.

    tokens: the budget in training tokens (null: `experiment.token_budget`).
    exact_fill: when the greedy pass leaves a gap smaller than every record left over, swap one
        of the last kept records for a few left-over ones of exactly its size plus the gap
        (a subset-sum search), so that the budget is met to the token; the swapped-in records
        keep their place in the training order.
    swap_window: how many of the last kept records may be swapped out.
    fill_candidates: how many left-over records (first in order) the search may swap in.
    A record is never split: one that does not fit is dropped and later, smaller records may
    fill the gap, so every curriculum lands on the same budget when its records allow. When
    they do not, `info` says so: budget_met false, short_by_tokens and a reason.
    """

    def __init__(self, tokens: int | None = None, exact_fill: bool = True,
                 swap_window: int = 20, fill_candidates: int = 500, name: str | None = None):
        super().__init__(name)
        self.tokens = tokens
        self.exact_fill, self.swap_window = exact_fill, swap_window
        self.fill_candidates = fill_candidates

    def run(self, records: list[dict], ctx: Context) -> Iterator[dict]:
        budget = self.tokens if self.tokens is not None else ctx.token_budget
        if budget is None or budget <= 0:
            raise JouleError(f"token budget must be a positive number, got {budget!r} "
                             "(experiment.token_budget)")
        sizes = [ctx.tokens(r) for r in records]
        kept: list[int] = []
        used = 0
        for i, n in enumerate(sizes):
            if used + n <= budget:
                used += n
                kept.append(i)
        swapped_out, swapped_in = (self._exact_fill(kept, sizes, budget - used)
                                   if self.exact_fill and used < budget else (None, []))
        if swapped_out is not None:
            kept = sorted((set(kept) - {swapped_out}) | set(swapped_in))
            used = budget
        chosen = set(kept)
        misfits = 0
        for i, record in enumerate(records):
            if i in chosen:
                yield record
            elif i == swapped_out:
                self.drop(record, "swapped_for_exact_fit",
                          f"{sizes[i]} tokens replaced by {len(swapped_in)} later records")
            elif used == budget:
                self.drop(record, "budget_full")
            else:
                misfits += 1
                self.drop(record, "does_not_fit", f"{sizes[i]} tokens, gap {budget - used}")
        self.info.update(budget=budget, tokens_used=used, budget_met=used == budget,
                         short_by_tokens=budget - used, swapped=swapped_out is not None)
        if used < budget:
            self.info["short_reason"] = (
                f"{misfits} remaining records were each longer than the {budget - used} tokens "
                "left" if misfits else
                f"the curriculum ran out of records: all it had came to {used} tokens")

    def _exact_fill(self, kept: list[int], sizes: list[int], gap: int
                    ) -> tuple[int | None, list[int]]:
        """(a kept index to swap out, left-over indices of exactly its size + gap) or
        (None, []) when no such swap exists within the search limits."""
        kept_set = set(kept)
        left = [i for i in range(len(sizes)) if i not in kept_set][: self.fill_candidates]
        window = kept[::-1][: self.swap_window]
        if not left or not window:
            return None, []
        limit = max(sizes[i] for i in window) + gap
        # reach[s] = (previous sum, index added): subset sums of the left-over records, each
        # reached first in order, so the search is deterministic.
        reach: dict[int, tuple[int, int]] = {0: (0, -1)}
        for i in left:
            for total in sorted(reach, reverse=True):
                new = total + sizes[i]
                if new <= limit and new not in reach:
                    reach[new] = (total, i)
        for out in window:
            target = sizes[out] + gap
            if target in reach:
                chosen, total = [], target
                while total:
                    total, i = reach[total]
                    chosen.append(i)
                return out, sorted(chosen)
        return None, []
