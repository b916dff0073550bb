"""The token budget: cut the training order at exactly the experiment's budget."""

from __future__ import annotations

from collections.abc import Iterator

from curricula.base import Context, Step
from curricula.exact_fill import fill_gap
from joule.errors import JouleError


class TokenBudget(Step):
    """Walk the records in training order and keep each one that still fits in the budget.

    tokens: the budget in training tokens (null: `experiment.token_budget`).
    exact_fill: when the greedy pass leaves a gap smaller than every record left over, swap one
        of the last kept records for left-over ones of exactly its size plus the gap
        (`curricula.exact_fill`), so that the budget is met to the token; records keep their
        place in the training order.
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
        swapped_out = None
        if self.exact_fill and used < budget:
            left = [i for i in range(len(sizes)) if i not in set(kept)]
            plan = fill_gap(kept, left, sizes, budget - used, self.swap_window,
                            self.fill_candidates)
            if plan is not None:
                swapped_out, added = plan
                kept = sorted((set(kept) - {swapped_out}) | set(added))
                used = budget
        chosen = set(kept)
        misfits = 0
        for i, record in enumerate(records):
            if i in chosen:
                yield record
            elif i == swapped_out:
                self.drop(record, "swapped_for_exact_fit", f"{sizes[i]} tokens")
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
                "left and no swap within the search limits fills it exactly" if misfits else
                f"the curriculum ran out of records: all it had came to {used} tokens")
