"""The report's plots as PNG bytes (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from reporting.figures import Figures  # noqa: E402

_DPI = 110


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    # No timestamps in the file, so the same figures give the same bytes.
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def f1_curves(figures: Figures, x: str) -> bytes:
    """F1 against cumulative training energy (x="energy", kJ) or tokens (x="tokens")."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for row in figures.rows:
        xs = [(p.energy_j / 1000 if x == "energy" else p.tokens) for p in row.curve]
        style = "--" if row.baseline else "-"
        label = f"{row.name} (baseline)" if row.baseline else row.name
        ax.plot([0, *xs], [figures.base.f1, *(p.f1 for p in row.curve)], style, marker="o",
                markersize=4, label=label)
    ax.plot([0], [figures.base.f1], marker="*", markersize=14, color="black", linestyle="none",
            label=f"base model (F1 {figures.base.f1:.1f})")
    ax.axhline(figures.target_f1, color="grey", linestyle=":", linewidth=1,
               label=f"target F1 {figures.target_f1:.1f}")
    ax.set_xlabel("cumulative training energy (kJ)" if x == "energy" else "training tokens")
    ax.set_ylabel("F1 on held-out questions")
    ax.set_title("F1 vs training energy" if x == "energy" else "F1 vs training tokens")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def energy_by_stage(stages: list[tuple[str, float, str]]) -> bytes:
    """Horizontal bars: (label, joules, source) per stage run; hatched bars are estimates."""
    colours = {"prepare": "#4c72b0", "rewrite": "#55a868", "base_model": "#8172b2",
               "curate": "#ccb974", "train": "#c44e52", "eval": "#64b5cd"}
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(stages) + 1.2))
    labels = [label for label, _, _ in stages][::-1]
    values = [joules / 1000 for _, joules, _ in stages][::-1]
    sources = [source for _, _, source in stages][::-1]
    bars = ax.barh(labels, values, color=[colours.get(lb.split("/")[0], "grey") for lb in labels])
    for bar, source in zip(bars, sources, strict=True):
        if "estimated" in source:
            bar.set_hatch("//")
            bar.set_edgecolor("white")
    top = max(values) if values and max(values) > 0 else 1.0
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_width() + top * 0.01, bar.get_y() + bar.get_height() / 2,
                f"{value:.3f}", va="center", fontsize=7)
    ax.set_xlim(0, top * 1.15)
    ax.set_xlabel("energy (kJ); hatched: estimated")
    ax.set_title("Energy by stage")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def seed_curves(evidence, base_f1: float) -> bytes:
    """F1 (on each run's curve questions) against cumulative training energy, a line per seed."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, runs) in enumerate(evidence.runs.items()):
        for j, run in enumerate(runs):
            ids = set.intersection(*(set(s) for s in run.scores))
            f1 = [sum(s[q] for q in ids) / len(ids) for s in run.scores]
            ax.plot([0, *(e / 1000 for e in run.energy_j)], [base_f1, *f1], marker="o",
                    markersize=3, color=colours[i % len(colours)], alpha=0.9 if j == 0 else 0.5,
                    label=name if j == 0 else None)
    ax.set_xlabel("cumulative training energy (kJ)")
    ax.set_ylabel("F1 on the curve's questions")
    ax.set_title(f"F1 vs training energy, {len(evidence.seeds)} seed(s) per curriculum")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)
