"""Paired comparisons of curricula on the same questions, with bootstrap 95% intervals.

Inputs are per-question F1 scores (0-100) keyed by question id, one mapping per evaluated
checkpoint, for every training seed of a curriculum. Every comparison uses only the question ids
that all the runs compared were scored on (the last checkpoint may be scored on the whole
evaluation file and earlier ones on a sample: then curves use the sample, the last-checkpoint
difference uses every question both last checkpoints share).

Resampling (the interval includes seed-to-seed spread): each replicate draws the questions with
replacement (the same draw for both sides: paired) and, independently for each side, its seeds
with replacement; a side's figure is the mean over its drawn seeds. With one seed per side this
is the ordinary paired bootstrap over questions. Percentile intervals; numpy's seeded Generator.

Smallest detectable difference: (z_0.975 + z_0.80) x the bootstrap standard error of the
difference, i.e. the true difference a paired comparison of this many questions (and seeds) would
find with 95% intervals excluding 0 in 80% of repeats (the usual power calculation, e.g. Cohen
1988; the normal approximation). A difference under it can be "no measurable difference" whether
or not it is real.

Energy to target: along a curve (0 J, base F1) -> each checkpoint (cumulative training J, F1),
the energy where F1 first reaches the target, interpolated linearly between the two checkpoints
around the crossing (not the first checkpoint past it); +inf when the curve never reaches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from joule.errors import JouleError


@dataclass
class Run:
    """One trained seed of one curriculum: its evaluated checkpoints in training order.

    `energy_j[i]` is the cumulative training energy (J) at checkpoint i and `scores[i]` its
    per-question F1 {question id: F1 0-100}.
    """

    seed: int
    names: list[str]
    energy_j: list[float]
    scores: list[dict[str, float]]


@dataclass
class Interval:
    """A point estimate and its 95% interval; `n` questions, `seeds` (side a, side b)."""

    value: float
    low: float
    high: float
    n: int
    seeds: tuple[int, int]
    unreached: float = 0.0     # energy ratios: share of replicates where a side missed the target
    detectable: float | None = None   # F1 differences: the smallest one detectable (80% power)

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict:
        out = {"value": _finite(self.value), "ci95": [_finite(self.low), _finite(self.high)],
               "n_questions": self.n, "seeds": list(self.seeds)}
        if self.unreached:
            out["unreached_share"] = self.unreached
        if self.detectable is not None:
            out["detectable_80"] = self.detectable
        return out


# Standard errors in the smallest detectable difference: z of a two-sided 95% test + z of 80% power
DETECTABLE_Z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.80)


def _finite(x: float):
    """JSON has no inf: an unreachable figure is written as null (said in the report)."""
    return float(x) if math.isfinite(x) else None


def common_ids(score_maps: list[dict[str, float]]) -> list[str]:
    """Ids present in every mapping, sorted (a stable order for the seeded bootstrap)."""
    if not score_maps:
        return []
    ids = set(score_maps[0])
    for scores in score_maps[1:]:
        ids &= set(scores)
    return sorted(ids)


def _matrix(run: Run, ids: list[str], checkpoints: list[int] | None = None) -> np.ndarray:
    """(checkpoints, questions) F1 array of `run` on `ids`."""
    picks = range(len(run.scores)) if checkpoints is None else checkpoints
    return np.array([[run.scores[i][q] for q in ids] for i in picks], dtype=float)


def energy_to_target(energy_j: np.ndarray, f1: np.ndarray, base_f1, target) -> np.ndarray:
    """Interpolated energy (J) where each curve first reaches `target`; +inf if never.

    `energy_j`: (checkpoints,), increasing. `f1`: (checkpoints, replicates) mean F1 per
    checkpoint; `base_f1`, `target`: (replicates,) or scalars. Returns (replicates,).
    """
    xs = np.concatenate([[0.0], energy_j])
    ys = np.vstack([np.broadcast_to(base_f1, f1.shape[1:]), f1])
    target = np.broadcast_to(target, ys.shape[1:])
    out = np.full(ys.shape[1:], np.inf)
    done = ys[0] >= target
    out[done] = 0.0
    for i in range(1, len(xs)):
        cross = ~done & (ys[i] >= target)
        if cross.any():
            y0, y1 = ys[i - 1][cross], ys[i][cross]
            t = np.where(y1 > y0, (target[cross] - y0) / np.where(y1 > y0, y1 - y0, 1), 1.0)
            out[cross] = xs[i - 1] + np.clip(t, 0, 1) * (xs[i] - xs[i - 1])
            done |= cross
    return out


def interpolate_at(energy_j: list[float], f1: np.ndarray, at_j: float, base: np.ndarray):
    """Per-question F1 at training energy `at_j` (J), linear between checkpoints.

    `f1`: (checkpoints, questions); `base`: (questions,) the base model's F1 at 0 J.
    """
    xs = np.concatenate([[0.0], np.asarray(energy_j, dtype=float)])
    ys = np.vstack([base, f1])
    i = int(np.searchsorted(xs, at_j, side="left"))
    if i == 0:
        return ys[0]
    if i >= len(xs):
        return ys[-1]
    t = (at_j - xs[i - 1]) / (xs[i] - xs[i - 1]) if xs[i] > xs[i - 1] else 1.0
    return ys[i - 1] + t * (ys[i] - ys[i - 1])


class Bootstrap:
    """Seeded paired resampling over questions and seeds (see the module docstring)."""

    def __init__(self, samples: int = 1000, seed: int = 0):
        if samples < 100:
            raise JouleError(f"bootstrap samples must be at least 100 for a 95% interval; "
                             f"got {samples}")
        self.samples, self.seed = samples, seed

    def _draws(self, n_questions: int, n_a: int, n_b: int):
        rng = np.random.default_rng(self.seed)
        q = rng.integers(0, n_questions, size=(self.samples, n_questions))
        sa = rng.integers(0, n_a, size=(self.samples, n_a))
        sb = rng.integers(0, n_b, size=(self.samples, n_b))
        return q, sa, sb

    @staticmethod
    def _side(per_seed: np.ndarray, q, s) -> np.ndarray:
        """per_seed: (seeds, questions) -> (replicates,) mean over drawn seeds and questions."""
        by_seed = per_seed[:, q].mean(axis=2)              # (seeds, replicates)
        return np.take_along_axis(by_seed.T, s, axis=1).mean(axis=1)

    def f1_difference(self, a: list[Run], b: list[Run], which: str = "last",
                      at_j: float | None = None, base: dict[str, float] | None = None
                      ) -> Interval:
        """Mean F1 of `a` minus `b` (points), at the last checkpoint (`which="last"`) or at
        training energy `at_j` (J, `which="energy"`, interpolated; needs the base model's
        per-question F1 `base`), on the questions every run involved shares."""
        if which == "last":
            ids = common_ids([r.scores[-1] for r in a + b])
        else:
            ids = common_ids([s for r in a + b for s in r.scores] + [base or {}])
        if not ids:
            raise JouleError("the runs compared share no question id (predictions files)")

        def per_seed(runs):
            if which == "last":
                return np.stack([_matrix(r, ids, [len(r.scores) - 1])[0] for r in runs])
            base_row = np.array([base[q] for q in ids])
            return np.stack([interpolate_at(r.energy_j, _matrix(r, ids), at_j, base_row)
                             for r in runs])

        pa, pb = per_seed(a), per_seed(b)
        q, sa, sb = self._draws(len(ids), len(a), len(b))
        diffs = self._side(pa, q, sa) - self._side(pb, q, sb)
        low, high = np.percentile(diffs, [2.5, 97.5])
        detectable = DETECTABLE_Z * float(diffs.std(ddof=1))
        return Interval(float(pa.mean() - pb.mean()), float(low), float(high), len(ids),
                        (len(a), len(b)), detectable=detectable)

    def energy_ratio(self, a: list[Run], b: list[Run], base: dict[str, float],
                     target_f1: float | None, baselines: list[list[Run]]) -> Interval:
        """Energy to target of `a` / that of `b` (interpolated, mean curve over seeds).

        `target_f1` fixed, or None: in each replicate the best checkpoint F1 of any baseline
        (`baselines`: their runs) on that replicate's questions. Uses the questions every
        checkpoint of every run involved shares. `unreached`: share of replicates where
        either side never reaches the target (ratio inf or 0 there; the percentiles keep them).
        """
        everyone = a + b + [r for runs in baselines for r in runs]
        ids = common_ids([s for r in everyone for s in r.scores] + [base])
        if not ids:
            raise JouleError("the runs compared share no question id across their checkpoints")
        n = len(ids)
        q, sa, sb = self._draws(n, len(a), len(b))
        base_rep = np.array([base[i] for i in ids])[q].mean(axis=1)      # (replicates,)
        base_point = float(np.mean([base[i] for i in ids]))

        def curves(runs, seeds_draw):
            """(checkpoints, replicates) mean F1 over drawn seeds; runs share checkpoint energy."""
            per = np.stack([_matrix(r, ids)[:, q].mean(axis=2) for r in runs])  # (S, C, R)
            picked = np.take_along_axis(per.transpose(2, 0, 1), seeds_draw[:, :, None], axis=1)
            return picked.mean(axis=1).T, np.stack([_matrix(r, ids).mean(axis=1)
                                                    for r in runs]).mean(axis=0)

        def energy(runs):
            return np.mean([r.energy_j for r in runs], axis=0)

        ca, pa = curves(a, sa)
        cb, pb = curves(b, sb)
        if target_f1 is None:
            rep_targets, point_targets = [], []
            for runs in baselines:
                all_seeds = np.tile(np.arange(len(runs)), (self.samples, 1))
                c, p = curves(runs, all_seeds)
                rep_targets.append(c.max(axis=0))
                point_targets.append(p.max())
            target_rep, target_point = np.max(rep_targets, axis=0), max(point_targets)
        else:
            target_rep, target_point = np.full(self.samples, float(target_f1)), float(target_f1)
        ea = energy_to_target(energy(a), ca, base_rep, target_rep)
        eb = energy_to_target(energy(b), cb, base_rep, target_rep)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(np.isinf(ea) & np.isinf(eb), np.nan, ea / eb)
        missed = float(np.mean(np.isinf(ea) | np.isinf(eb)))
        finite = ratios[~np.isnan(ratios)]
        if finite.size == 0:
            low = high = math.inf
        else:   # "lower"/"higher": no interpolation towards an infinite neighbour
            low = float(np.percentile(finite, 2.5, method="lower"))
            high = float(np.percentile(finite, 97.5, method="higher"))
        pa_e = energy_to_target(energy(a), pa[:, None], base_point, target_point)[0]
        pb_e = energy_to_target(energy(b), pb[:, None], base_point, target_point)[0]
        # undefined (null in JSON) when the reference never reaches the target
        value = pa_e / pb_e if math.isfinite(pb_e) and pb_e > 0 else math.nan
        return Interval(float(value), low, high, n, (len(a), len(b)), unreached=missed)
