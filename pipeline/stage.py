"""The frame every stage runs in: an energy window around the work, its metrics file, and one
summary line on stdout."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from joule.energy import EnergyMeter, meter_from_config
from joule.io import write_json


@dataclass
class StageRun:
    """Handed to the stage body: the meter (for nested windows), the metrics to write, and the
    one-line `summary`: `wrote` (the output path) and a few key figures, in insertion order."""

    meter: EnergyMeter
    metrics: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    name: str = ""

    def add_worker_cpu_time(self, seconds: float, what: str) -> None:
        """Count CPU seconds of worker processes that are not this process's children (Ray
        actors) in the stage's energy window (`EnergyMeter.add_cpu_time`)."""
        self.meter.add_cpu_time(self.name, seconds, what)


def summary_line(name: str, summary: dict, metrics_path: Path, time_s: float, energy_j: float,
                 source: str) -> str:
    """`<stage>: wrote <path>; <k> <v>, ...; <s> s, <J> J (<source>); metrics <path>`."""
    figures = dict(summary)
    wrote = figures.pop("wrote", None)
    parts = [f"wrote {wrote}"] if wrote is not None else []
    if figures:
        parts.append(", ".join(f"{k} {_fmt(v)}" for k, v in figures.items()))
    parts.append(f"{time_s:.1f} s, {energy_j:.1f} J ({source})")
    parts.append(f"metrics {metrics_path}")
    return f"{name}: " + "; ".join(parts)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


@contextmanager
def stage_run(cfg: DictConfig, name: str, metrics_file: str | None = None) -> Iterator[StageRun]:
    """Run a stage body inside an energy window named `name`.

    On success writes `<metrics_dir>/<metrics_file or name + '.json'>` with the body's metrics plus
    `time_s`, `energy_j`, `energy_source` and the window's detail, then prints the summary line
    (`summary_line`). On failure writes and prints nothing: the exception propagates and the
    stage's outputs (built with `joule.io.atomic_dir`) are not moved into place.
    """
    meter = meter_from_config(cfg.energy)
    run = StageRun(meter, name=name)
    with meter.window(name) as window:
        yield run
        # FLOPs the body counted (train: flops, evaluate: inference_flops): estimated:flops
        window["flops"] = run.metrics.get("flops", run.metrics.get("inference_flops"))
    measured = window["result"]
    metrics = dict(run.metrics)
    metrics.update(time_s=measured.time_s, energy_j=measured.energy_j,
                   energy_source=measured.energy_source, energy=measured.to_dict())
    path = Path(cfg.metrics_dir) / (metrics_file or f"{name}.json")
    write_json(path, metrics)
    print(summary_line(name, run.summary, path, measured.time_s, measured.energy_j,
                       measured.energy_source), flush=True)
