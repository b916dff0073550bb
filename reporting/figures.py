"""The report's figures, computed from the stages' metrics files. Units: joules, tokens, F1 0-100.

Rules (stated in the report too):
- data energy of a curriculum = (prepare + rewrite energy) * share + its own curate energy,
  share = min(1, records it trains on / records rewrite made): every record made is charged the
  same average cost, and a curriculum that repeats records is charged at most all of them. The
  base_model stage (shared by every model, the base model included) is charged to none.
- training energy = the train stage's energy (its FLOPs' estimate where no counter exists, else
  measured, model loading included); total = data + training.
  Evaluation energy is shown per stage but charged to no curriculum: it measures, it does not make.
- energy to target = the cumulative training energy where the F1 curve (base model at 0 J, then
  each evaluated checkpoint) first reaches the target F1, interpolated linearly between the two
  checkpoints around the crossing (`reporting.paired.energy_to_target`); target =
  `experiment.target_f1`, or the best F1 any baseline curriculum (`experiment.baselines`) reached
  at any checkpoint.
- joules per F1 point = total energy / (F1 - base model F1), when F1 exceeds the base model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from joule.errors import JouleError
from joule.io import read_json
from reporting.paired import energy_to_target

# Equal F1s compare equal although computed in different files (floating point sums).
_F1_TOLERANCE = 1e-9


@dataclass
class Metrics:
    """Every metrics file the report reads, by label ("prepare", "train/raw", ...), and its path."""

    files: dict[str, dict]
    paths: dict[str, Path]

    def get(self, label: str, key: str):
        data = self.files[label]
        if key not in data or data[key] is None:
            raise JouleError(f"{self.paths[label]} has no {key!r} (written by an older stage?)")
        return data[key]


def load_metrics(metrics_dir: str | Path, curricula: list[str],
                 extra_runs: list[str] = ()) -> Metrics:
    """Read prepare, rewrite, base_model, eval/base and curate/train/eval of every curriculum,
    and train/eval of every extra run key (further seeds: `curated-seed1`)."""
    metrics_dir = Path(metrics_dir)
    labels = ["prepare", "rewrite", "base_model", "eval/base"]
    if (metrics_dir / "rewrite_llm.json").is_file():   # the LLM rewrite's stage, where it ran
        labels.append("rewrite_llm")
    for name in curricula:
        labels += [f"curate/{name}", f"train/{name}", f"eval/{name}"]
    for key in extra_runs:
        labels += [f"train/{key}", f"eval/{key}"]
    paths = {label: metrics_dir / f"{label}.json" for label in labels}
    return Metrics({label: read_json(path) for label, path in paths.items()}, paths)


def checkpoint_training_j(train: dict) -> dict[str, float]:
    """Cumulative training energy (J) per checkpoint name of one train metrics file.

    Where the stage's energy is `estimated:flops` (no counter), each checkpoint's is its FLOPs x
    the same joules per FLOP, so the curve and the stage total share one basis (the checkpoint
    rows themselves were written during training, from CPU time); else the rows' own figures.
    """
    parts = (train.get("energy") or {}).get("components") or {}
    cpu = parts.get("cpu") or {}
    if set(parts) == {"cpu"} and cpu.get("source") == "estimated:flops":
        return {c["name"]: float(c["flops"]) * float(cpu["joules_per_flop"])
                for c in train.get("checkpoints") or []}
    return {c["name"]: float(c["energy_j"]) for c in train.get("checkpoints") or []}


def combine_sources(*sources: str) -> str:
    """The label of a sum of figures: its distinct parts, e.g. `measured:nvml+estimated:tdp`."""
    parts = [p for s in sources for p in s.split("+")]
    return "+".join(dict.fromkeys(parts))


@dataclass
class Point:
    """One evaluated checkpoint: tokens trained on, cumulative training energy (J), scores."""

    name: str
    tokens: int
    energy_j: float
    f1: float
    em: float


@dataclass
class Row:
    """One curriculum's line of the table."""

    name: str
    baseline: bool
    tokens: int
    training_flops: int          # counted from parameters and tokens (joule/flops.py)
    training_j: float
    training_source: str
    data_j: float
    data_source: str
    data_parts: dict             # prepare_share_j, rewrite_share_j, curate_j, share
    f1: float
    em: float
    f1_ci95: list
    em_ci95: list
    curve: list[Point]
    j_per_f1_point: float | None = None      # None: no gain over the base model
    energy_to_target_j: float | None = None  # None: target not reached
    target_checkpoint: str | None = None
    ratio_to_baselines: dict = field(default_factory=dict)

    @property
    def total_j(self) -> float:
        return self.training_j + self.data_j

    @property
    def total_source(self) -> str:
        return combine_sources(self.training_source, self.data_source)


@dataclass
class Figures:
    base: Point
    base_ci95: dict
    rows: list[Row]
    target_f1: float
    target_basis: str
    payback: list[str]


def _curve(metrics: Metrics, label: str, trained: dict | None = None) -> list[Point]:
    """Evaluated checkpoints; cumulative training energy `trained[name]` (J, from
    `checkpoint_training_j`) where present, else eval's copy of the checkpoint row."""
    checkpoints = metrics.get(label, "checkpoints")
    trained = trained or {}
    if not checkpoints:
        raise JouleError(f"{metrics.paths[label]} lists no checkpoints")
    try:
        points = [Point(c["name"], int(c["tokens"]),
                        float(trained.get(c["name"], c["energy_j"])), float(c["f1"]),
                        float(c["em"])) for c in checkpoints]
    except KeyError as exc:
        raise JouleError(f"a checkpoint in {metrics.paths[label]} has no {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise JouleError(f"a checkpoint in {metrics.paths[label]} has a non-numeric figure: "
                         f"{exc}") from exc
    return sorted(points, key=lambda p: (p.tokens, p.energy_j))


def compute(metrics: Metrics, curricula: list[str], baselines: list[str],
            target_f1: float | None, llm_curricula: frozenset[str] = frozenset()) -> Figures:
    """The table, energy to target and payback lines of the report.

    A curriculum in `llm_curricula` trains on the LLM rewrite's records: its data energy shares
    `rewrite_llm`'s energy (by the records it keeps out of those rewrite_llm made) instead of the
    spaCy rewrite's."""
    unknown = [b for b in baselines if b not in curricula]
    if not baselines or unknown:
        raise JouleError(f"config key 'experiment.baselines' must name curricula of the "
                         f"experiment ({', '.join(curricula)}); got {list(baselines)}")
    made = metrics.get("rewrite", "records")
    records_made = sum(int(n) for n in made.values())
    if records_made <= 0:
        raise JouleError(f"{metrics.paths['rewrite']} says no records were made")
    base = Point("base", 0, 0.0, float(metrics.get("eval/base", "f1")),
                 float(metrics.get("eval/base", "em")))

    if llm_curricula and "rewrite_llm" not in metrics.files:
        raise JouleError(f"curricula {sorted(llm_curricula)} train on LLM records but "
                         "metrics has no rewrite_llm.json: run `python -m pipeline.rewrite_llm`")
    rows = []
    for name in curricula:
        synth = "rewrite_llm" if name in llm_curricula else "rewrite"
        made_n = records_made if synth == "rewrite" else sum(
            int(n) for n in metrics.get("rewrite_llm", "records").values())
        if made_n <= 0:
            raise JouleError(f"{metrics.paths[synth]} says no records were made")
        share = min(1.0, int(metrics.get(f"curate/{name}", "records_out")) / made_n)
        shared_j = metrics.get("prepare", "energy_j") + metrics.get(synth, "energy_j")
        shared_source = combine_sources(metrics.get("prepare", "energy_source"),
                                        metrics.get(synth, "energy_source"))
        curate_j = float(metrics.get(f"curate/{name}", "energy_j"))
        train_label, eval_label = f"train/{name}", f"eval/{name}"
        train_points = metrics.get(train_label, "checkpoints")
        if not train_points:
            raise JouleError(f"{metrics.paths[train_label]} lists no checkpoints")
        rows.append(Row(
            name=name, baseline=name in baselines,
            tokens=int(max(int(c["tokens"]) for c in train_points)),
            training_flops=int(max(int(c.get("flops") or 0) for c in train_points)),
            training_j=float(metrics.get(train_label, "energy_j")),
            training_source=metrics.get(train_label, "energy_source"),
            data_j=shared_j * share + curate_j,
            data_source=combine_sources(shared_source,
                                        metrics.get(f"curate/{name}", "energy_source")),
            data_parts={"share": share,
                        "prepare_share_j": metrics.get("prepare", "energy_j") * share,
                        "rewrite_share_j": metrics.get(synth, "energy_j") * share,
                        "curate_j": curate_j},
            f1=float(metrics.get(eval_label, "f1")), em=float(metrics.get(eval_label, "em")),
            f1_ci95=list(metrics.get(eval_label, "f1_ci95")),
            em_ci95=list(metrics.get(eval_label, "em_ci95")),
            curve=_curve(metrics, eval_label, checkpoint_training_j(metrics.files[train_label]))))

    by_name = {row.name: row for row in rows}
    if target_f1 is None:
        best = max((p for b in baselines for p in by_name[b].curve), key=lambda p: p.f1)
        owner = next(b for b in baselines if best in by_name[b].curve)
        target_f1 = best.f1
        basis = (f"best F1 of the uncurated baselines ({', '.join(baselines)}): {owner} at "
                 f"checkpoint {best.name}")
    else:
        target_f1 = float(target_f1)
        basis = "configured (experiment.target_f1)"

    for row in rows:
        gain = row.f1 - base.f1
        row.j_per_f1_point = row.total_j / gain if gain > 0 else None
        reached = next((p for p in row.curve if p.f1 >= target_f1 - _F1_TOLERANCE), None)
        if reached:
            crossing = energy_to_target(np.array([p.energy_j for p in row.curve]),
                                        np.array([[p.f1] for p in row.curve]), base.f1,
                                        target_f1 - _F1_TOLERANCE)[0]
            row.energy_to_target_j, row.target_checkpoint = float(crossing), reached.name
    for row in rows:
        for b in baselines:
            other = by_name[b]
            if b != row.name and row.energy_to_target_j is not None \
                    and other.energy_to_target_j:
                row.ratio_to_baselines[b] = row.energy_to_target_j / other.energy_to_target_j

    return Figures(base=base, base_ci95={"f1": list(metrics.get("eval/base", "f1_ci95")),
                                         "em": list(metrics.get("eval/base", "em_ci95"))},
                   rows=rows, target_f1=target_f1, target_basis=basis,
                   payback=payback_lines(rows, baselines))


def payback_lines(rows: list[Row], baselines: list[str]) -> list[str]:
    """Synthesis payback per curated curriculum: energy making its data vs training energy saved.

    Saved = energy to target of the cheapest baseline that reached the target, minus the
    curriculum's own energy to target.
    """
    reached = [r for r in rows if r.baseline and r.energy_to_target_j is not None]
    ref = min(reached, key=lambda r: r.energy_to_target_j) if reached else None
    lines = []
    for row in rows:
        if row.baseline:
            continue
        spent = f"making its data cost {kj(row.data_j)} kJ"
        if row.energy_to_target_j is None:
            lines.append(f"{row.name}: {spent}; it did not reach the target F1, so it saved no "
                         "training energy: no payback.")
        elif ref is None:
            lines.append(f"{row.name}: {spent}; no baseline reached the target F1, so there is "
                         "no saving to compare with.")
        else:
            saved = ref.energy_to_target_j - row.energy_to_target_j
            versus = (f"{kj(row.energy_to_target_j)} kJ of training to reach the target vs "
                      f"{kj(ref.energy_to_target_j)} kJ for {ref.name}")
            if saved > 0:
                lines.append(f"{row.name}: {spent}; it saved {kj(saved)} kJ of training energy "
                             f"({versus}): the saving repays {saved / row.data_j:.2f}x the cost "
                             f"of making the data." if row.data_j > 0 else
                             f"{row.name}: it saved {kj(saved)} kJ ({versus}) at no data cost.")
            else:
                lines.append(f"{row.name}: {spent}; it saved no training energy ({versus}): "
                             "no payback.")
    return lines


def kj(joules: float) -> str:
    """Joules as kJ with 3 decimals, the unit of every energy figure in the report."""
    return f"{joules / 1000:.3f}"
