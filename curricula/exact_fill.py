"""Filling a token gap exactly with whole records: a small subset-sum search.

Records are never split, so a greedy cut usually stops a few tokens short of a budget. This
finds left-over records whose sizes sum to exactly the gap, or, when every left-over record is
larger than the gap, swaps one of the last chosen records for left-overs of exactly its size
plus the gap. Shared by the mix and the budget step.
"""

from __future__ import annotations


def subset_sums(candidates: list[int], sizes: list[int], limit: int) -> dict[int, tuple[int, int]]:
    """sum -> (previous sum, candidate index added) for every subset sum <= `limit`; each sum is
    reached first in candidate order, so the result is deterministic."""
    reach: dict[int, tuple[int, int]] = {0: (0, -1)}
    for i in candidates:
        for total in sorted(reach, reverse=True):   # descending: each record used at most once
            new = total + sizes[i]
            if new <= limit and new not in reach:
                reach[new] = (total, i)
    return reach


def _walk(reach: dict[int, tuple[int, int]], total: int) -> list[int]:
    chosen = []
    while total:
        total, i = reach[total]
        chosen.append(i)
    return sorted(chosen)


def fill_gap(chosen: list[int], candidates: list[int], sizes: list[int], gap: int,
             swap_window: int = 20, max_candidates: int = 500
             ) -> tuple[int | None, list[int]] | None:
    """How to add exactly `gap` tokens: (index to drop or None, indices to add), or None.

    chosen: indices already taken, in the order they were taken (the last ones may be swapped).
    candidates: indices that may be added, in preference order (the first `max_candidates`).
    sizes: tokens of every index.
    """
    if gap == 0:
        return None, []
    pool = candidates[:max_candidates]
    window = chosen[::-1][:swap_window]
    limit = gap + max((sizes[i] for i in window), default=0)
    reach = subset_sums(pool, sizes, limit)
    if gap in reach:
        return None, _walk(reach, gap)
    for out in window:
        if sizes[out] + gap in reach:
            return out, _walk(reach, sizes[out] + gap)
    return None
