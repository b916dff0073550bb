"""Paired bootstrap comparisons and the verdict, on hand-made per-question scores."""

from __future__ import annotations

import numpy as np
import pytest

from joule.errors import JouleError
from reporting.evidence import Comparison, verdict
from reporting.paired import Bootstrap, Run, energy_to_target

IDS = [f"q{i:03d}" for i in range(200)]


def run(per_checkpoint: list[dict], energy=(100.0, 200.0), seed=0) -> Run:
    return Run(seed, [f"ckpt-{i}" for i in range(len(per_checkpoint))], list(energy),
               per_checkpoint)


def flat(value: float, ids=IDS) -> dict:
    return {q: value for q in ids}


def noisy(shift: float, seed: int, ids=IDS) -> dict:
    """F1 0 or 100 per question around 50 + shift (binary, like exact-ish SQuAD answers)."""
    rng = np.random.default_rng(seed)
    return {q: float(100 * (rng.random() < (0.5 + shift / 100))) for q in ids}


def test_interpolated_energy_to_target_not_first_checkpoint_past_it():
    boot = Bootstrap(200, 0)
    base = flat(20.0)
    b = [run([flat(40.0), flat(60.0)])]               # reaches 60 at its last checkpoint, 200 J
    a = [run([flat(50.0), flat(70.0)])]               # crosses 60 halfway: 150 J, not 200 J
    ratio = boot.energy_ratio(a, b, base, None, [b])
    assert ratio.value == pytest.approx(0.75) and ratio.low == ratio.high == pytest.approx(0.75)
    at_100 = boot.f1_difference(a, b, "energy", 100.0, base)
    assert at_100.value == pytest.approx(10.0)
    at_50 = boot.f1_difference(a, b, "energy", 50.0, base)   # halfway from the base model
    assert at_50.value == pytest.approx(35.0 - 30.0)
    fixed = boot.energy_ratio(a, b, base, 45.0, [b])
    # a: 20->50 over 0-100 J reaches 45 at 83.3 J; b: 40->60 over 100-200 J reaches 45 at 125 J
    assert fixed.value == pytest.approx((250 / 3) / 125)
    assert energy_to_target(np.array([100.0]), np.array([[30.0]]), 20.0, 80.0)[0] == np.inf


def test_paired_difference_uses_common_questions_only():
    """The last checkpoint on every question, earlier ones on a sample: pairs on shared ids."""
    sample = IDS[:50]
    a = [run([flat(60.0, sample), noisy(10, 1)])]
    b = [run([flat(40.0, sample), noisy(0, 1) | {"extra": 0.0}])]
    boot = Bootstrap(500, 0)
    last = boot.f1_difference(a, b)
    assert last.n == 200                              # "extra" is scored for b only
    curve = boot.f1_difference(a, b, "energy", 100.0, flat(20.0))
    assert curve.n == 50 and curve.value == pytest.approx(20.0)
    with pytest.raises(JouleError, match="share no question"):
        boot.f1_difference([run([{"x": 1.0}])], [run([{"y": 1.0}])])


def test_seed_spread_widens_the_interval():
    b = [run([noisy(0, 7), noisy(0, 7)])]
    one = [run([noisy(5, 7), noisy(5, 7)])]
    two = one + [run([noisy(-5, 7), noisy(-5, 7)], seed=1)]   # a second seed that disagrees
    boot = Bootstrap(1000, 0)
    narrow, wide = boot.f1_difference(one, b), boot.f1_difference(two, b)
    assert wide.seeds == (2, 1)
    assert (wide.high - wide.low) > (narrow.high - narrow.low)


def comparison(a, b, diff_shift, kind="baseline", removes=None, seed=3) -> Comparison:
    boot = Bootstrap(1000, 0)
    ra = [run([noisy(diff_shift, seed), noisy(diff_shift, seed)])]
    rb = [run([noisy(0, seed + 100), noisy(0, seed + 100)])]
    base = flat(10.0)
    return Comparison(a, b, kind, removes, boot.f1_difference(ra, rb),
                      boot.f1_difference(ra, rb, "energy", 200.0, base), 200.0,
                      boot.energy_ratio(ra, rb, base, None, [rb]))


def test_verdict_wording_for_win_tie_and_loss():
    win = comparison("curated", "synthetic_all", 30)
    tie = comparison("curated", "curated_shuffled", 0, "ablation", "the easy-to-hard order")
    text = verdict([win, tie], [0])
    assert win.last.low > 0 and tie.last.low < 0 < tie.last.high
    assert text.startswith(f"Curated beats synthetic_all by {win.last.value:.1f} F1 "
                           f"[{win.last.low:+.1f}, {win.last.high:+.1f}]")
    assert "the easy-to-hard order shows no measurable effect (curated vs curated_shuffled" in text
    assert "1 seed)" in text
    loss = comparison("curated", "raw", -30)
    assert loss.last.high < 0
    assert verdict([loss], [0, 1]).startswith(
        f"Curated scores below raw by {-loss.last.value:.1f} F1")
    assert "2 seeds" in verdict([loss], [0, 1])
    tie_baseline = comparison("curated", "raw", 0, seed=5)
    assert "curated and raw show no measurable difference" in verdict([tie_baseline], [0]).lower()
    assert "beats" not in verdict([tie_baseline], [0])
    helps = comparison("curated", "curated_shuffled", 30, "ablation", "the order")
    assert verdict([helps], [0]).startswith("The order helps")


def test_smallest_detectable_difference_follows_the_power_calculation():
    """2.80 standard errors of the paired difference, shrinking as 1/sqrt(questions)."""
    many = [f"q{i:05d}" for i in range(3200)]
    boot = Bootstrap(2000, 0)
    sizes = {}
    for n in (200, 800, 3200):
        ids = many[:n]
        a, b = [run([noisy(0, 11, ids)])], [run([noisy(0, 12, ids)])]
        iv = boot.f1_difference(a, b)
        diffs = np.array([a[0].scores[0][q] - b[0].scores[0][q] for q in ids])
        analytic = 2.8016 * diffs.std(ddof=1) / np.sqrt(n)   # z_0.975 + z_0.80 = 2.8016
        assert iv.detectable == pytest.approx(analytic, rel=0.1)
        sizes[n] = iv.detectable
    assert sizes[800] == pytest.approx(sizes[200] / 2, rel=0.15)
    assert sizes[3200] == pytest.approx(sizes[800] / 2, rel=0.15)
    assert "detectable_80" in iv.to_dict()


def test_verdict_says_what_a_null_result_rules_out():
    tie = comparison("curated", "raw", 0, seed=5)
    text = verdict([tie], [0])
    assert f"detect a difference of {tie.last.detectable:.1f}+ F1 80% of the time" in text
    win = comparison("curated", "synthetic_all", 30)
    assert "detect a difference" not in verdict([win], [0])   # a measured win needs no caveat
