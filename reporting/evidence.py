"""The report's evidence: paired comparisons with intervals, and the one-sentence verdict.

Every curriculum that is neither a baseline nor an ablation is compared with the best baseline
(highest mean last-checkpoint F1 over seeds); every ablation (`experiment.ablations`) with the
curriculum it ablates. Each comparison gives, on the questions both sides share
(`reporting.paired`): the F1 difference at the last checkpoint, the F1 difference at equal
training energy (the most both sides spent, interpolated between checkpoints), and the ratio of
energies to reach the target F1, each with a 95% interval over questions and seeds.

Runs of several seeds: the first seed's files are keyed by the curriculum's name, seed s's by
`<name>-seed<s>` (metrics/train/<key>.json, metrics/eval/<key>.json, <predictions_dir>/<key>/).
Per-question F1 comes from the evaluate stage's predictions files,
`<predictions_dir>/<key>/<checkpoint>.jsonl` (rows with `id` and `f1`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from joule.errors import JouleError
from joule.io import read_json
from joule.runs import run_key
from reporting.figures import checkpoint_training_j
from reporting.paired import Bootstrap, Interval, Run


def read_scores(path: Path) -> dict[str, float]:
    """{question id: F1 (0-100)} of one predictions file, whose rows carry the per-question SQuAD
    F1 as a fraction (0-1, as evaluation writes it); JouleError naming the file if unusable."""
    if not path.is_file():
        raise JouleError(f"{path} does not exist: the report pairs curricula question by "
                         "question from the evaluate stage's predictions")
    scores = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            f1 = float(row["f1"])
            if not 0.0 <= f1 <= 1.0:
                raise ValueError(f"f1 {f1} is not a fraction in [0, 1]")
            scores[str(row["id"])] = 100.0 * f1
        except (ValueError, KeyError, TypeError) as exc:
            raise JouleError(f"{path}, line {number}: not a prediction row with id and f1 "
                             f"({exc})") from exc
    if not scores:
        raise JouleError(f"{path} holds no predictions")
    return scores


def load_run(metrics_dir: Path, predictions_dir: Path, name: str, seed: int,
             seeds: list[int]) -> Run:
    """One seed of one curriculum: checkpoints in training order, cumulative training energy
    from the train stage's metrics (`checkpoint_training_j`), per-question F1."""
    key = run_key(name, seed, seeds)
    eval_file = metrics_dir / "eval" / f"{key}.json"
    train_file = metrics_dir / "train" / f"{key}.json"
    evaluated = read_json(eval_file).get("checkpoints") or []
    trained = checkpoint_training_j(read_json(train_file))
    if not evaluated:
        raise JouleError(f"{eval_file} lists no checkpoints")
    try:
        ordered = sorted(evaluated, key=lambda c: (int(c["tokens"]), float(c["energy_j"])))
        energy = [float(trained.get(c["name"], c["energy_j"])) for c in ordered]
    except (KeyError, TypeError, ValueError) as exc:
        raise JouleError(f"{eval_file}: a checkpoint lacks tokens or energy_j ({exc})") from exc
    return Run(seed, [c["name"] for c in ordered], energy,
               [read_scores(predictions_dir / key / f"{c['name']}.jsonl") for c in ordered])


@dataclass
class Comparison:
    """`a` against `b`: F1 differences (points) and energy-to-target ratio, with intervals."""

    a: str
    b: str
    kind: str                    # "baseline" | "ablation"
    removes: str | None          # ablations: what the ablation removes, in words
    last: Interval               # F1(a) - F1(b) at the last checkpoint
    equal_energy: Interval       # F1(a) - F1(b) at `at_j` joules of training
    at_j: float
    energy_ratio: Interval       # energy to target of a / of b

    def to_dict(self) -> dict:
        return {"f1_diff": self.last.value, "f1_diff_low": self.last.low,
                "f1_diff_high": self.last.high, "n_questions": self.last.n,
                "f1_diff_detectable_80": self.last.detectable,
                "f1_diff_equal_energy": self.equal_energy.value,
                "f1_diff_equal_energy_low": self.equal_energy.low,
                "f1_diff_equal_energy_high": self.equal_energy.high,
                "equal_energy_j": self.at_j,
                "energy_to_target_ratio": _num(self.energy_ratio.value),
                "energy_to_target_ratio_low": _num(self.energy_ratio.low),
                "energy_to_target_ratio_high": _num(self.energy_ratio.high),
                "target_missed_share": self.energy_ratio.unreached,
                "n_questions_curve": self.equal_energy.n,
                "seeds": list(self.last.seeds)}


def _num(x: float):
    import math

    return float(x) if math.isfinite(x) else None


@dataclass
class Evidence:
    best_baseline: str
    comparisons: list[Comparison]
    runs: dict[str, list[Run]]
    seeds: list[int]
    verdict: str = ""
    notes: list[str] = field(default_factory=list)


def ablation_pairs(ablations, curricula: list[str]) -> dict[str, tuple[str, str]]:
    """{ablation: (ablated curriculum, what it removes)} for those in the experiment."""
    out = {}
    for name, spec in (ablations or {}).items():
        of = spec.get("of") if hasattr(spec, "get") else spec
        if name not in curricula:
            continue
        if of not in curricula:
            raise JouleError(f"config key 'experiment.ablations.{name}.of' = {of!r} is not a "
                             f"curriculum of the experiment ({', '.join(curricula)})")
        removes = spec.get("removes") if hasattr(spec, "get") else None
        out[name] = (str(of), str(removes or f"what {name} changes"))
    return out


def gather(metrics_dir: str | Path, predictions_dir: str | Path, curricula: list[str],
           baselines: list[str], ablations, seeds: list[int], target_f1: float | None,
           samples: int = 2000, seed: int = 0) -> Evidence:
    """Every paired comparison of the experiment and the verdict (see the module docstring)."""
    metrics_dir, predictions_dir = Path(metrics_dir), Path(predictions_dir)
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise JouleError(f"config key 'experiment.seeds' must list distinct seeds; got {seeds}")
    runs = {n: [load_run(metrics_dir, predictions_dir, n, s, seeds) for s in seeds]
            for n in curricula}
    base = read_scores(predictions_dir / "base" / "base.jsonl")
    boot = Bootstrap(samples, seed)
    best = max(baselines, key=lambda b: sum(sum(r.scores[-1].values()) / len(r.scores[-1])
                                            for r in runs[b]))
    pairs = ablation_pairs(ablations, curricula)
    plan = [(n, best, "baseline", None) for n in curricula
            if n not in baselines and n not in pairs]
    plan += [(of, name, "ablation", removes) for name, (of, removes) in pairs.items()]
    base_runs = [runs[b] for b in baselines]
    comparisons = []
    for a, b, kind, removes in plan:
        at_j = min(min(r.energy_j[-1] for r in runs[a]), min(r.energy_j[-1] for r in runs[b]))
        comparisons.append(Comparison(
            a, b, kind, removes, boot.f1_difference(runs[a], runs[b]),
            boot.f1_difference(runs[a], runs[b], "energy", at_j, base), at_j,
            boot.energy_ratio(runs[a], runs[b], base, target_f1, base_runs)))
    evidence = Evidence(best, comparisons, runs, seeds)
    evidence.verdict = verdict(comparisons, seeds)
    return evidence


def _ci(iv: Interval, unit: str = " F1") -> str:
    return f"{iv.value:+.1f}{unit} [{iv.low:+.1f}, {iv.high:+.1f}]"


def _power(iv: Interval) -> str:
    """What a null result can rule out: the smallest difference these questions detect."""
    if iv.detectable is None:
        return ""
    return (f"; these questions detect a difference of {iv.detectable:.1f}+ F1 "
            f"80% of the time")


def verdict(comparisons: list[Comparison], seeds: list[int]) -> str:
    """One sentence that claims only what the 95% intervals support.

    A difference is called a win or a loss only when its interval excludes 0; otherwise it is
    "no measurable difference" / "no measurable effect", with the smallest difference the
    questions would detect (80% power), so a reader sees what the null rules out. An energy
    ratio is mentioned only when its interval lies wholly below or above 1.
    """
    clauses = []
    for c in comparisons:
        iv = c.last
        if c.kind == "baseline":
            if iv.low > 0:
                text = f"{c.a} beats {c.b} by {iv.value:.1f} F1 [{iv.low:+.1f}, {iv.high:+.1f}]"
            elif iv.high < 0:
                text = (f"{c.a} scores below {c.b} by {-iv.value:.1f} F1 "
                        f"[{iv.low:+.1f}, {iv.high:+.1f}]")
            else:
                text = f"{c.a} and {c.b} show no measurable difference ({_ci(iv)}{_power(iv)})"
            r = c.energy_ratio
            if not r.unreached and r.high < 1:
                text += (f", and {c.a} reaches the target F1 with {r.value:.2f}x "
                         f"[{r.low:.2f}, {r.high:.2f}] of {c.b}'s training energy")
            elif not r.unreached and r.low > 1:
                text += (f", and {c.a} needs {r.value:.2f}x [{r.low:.2f}, {r.high:.2f}] "
                         f"{c.b}'s training energy to reach the target F1")
        else:
            if iv.low > 0:
                text = f"{c.removes} helps ({c.a} vs {c.b}: {_ci(iv)})"
            elif iv.high < 0:
                text = f"{c.removes} hurts ({c.a} vs {c.b}: {_ci(iv)})"
            else:
                text = (f"{c.removes} shows no measurable effect ({c.a} vs {c.b}: {_ci(iv)}"
                        f"{_power(iv)})")
        clauses.append(text)
    if not clauses:
        return "No curated curriculum or ablation to compare in this experiment."
    n = min(c.last.n for c in comparisons)
    sentence = "; ".join(clauses)
    return (sentence[0].upper() + sentence[1:] + f" (F1 at the last checkpoint, 95% intervals "
            f"over {n}+ paired questions and {len(seeds)} seed{'s' if len(seeds) > 1 else ''}).")
