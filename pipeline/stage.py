"""The frame every stage runs in: an energy window around the work, then its metrics file."""

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
    """Handed to the stage body: the meter (for nested windows) and the metrics to write."""

    meter: EnergyMeter
    metrics: dict = field(default_factory=dict)


@contextmanager
def stage_run(cfg: DictConfig, name: str, metrics_file: str | None = None) -> Iterator[StageRun]:
    """Run a stage body inside an energy window named `name`.

    On success writes `<metrics_dir>/<metrics_file or name + '.json'>` with the body's metrics plus
    `time_s`, `energy_j`, `energy_source` and the window's detail. On failure writes nothing: the
    exception propagates and the stage's outputs (built with `joule.io.atomic_dir`) are not
    moved into place.
    """
    meter = meter_from_config(cfg.energy)
    run = StageRun(meter)
    with meter.window(name) as window:
        yield run
        # FLOPs the body counted (train: flops, evaluate: inference_flops): estimated:flops
        window["flops"] = run.metrics.get("flops", run.metrics.get("inference_flops"))
    measured = window["result"]
    metrics = dict(run.metrics)
    metrics.update(time_s=measured.time_s, energy_j=measured.energy_j,
                   energy_source=measured.energy_source, energy=measured.to_dict())
    write_json(Path(cfg.metrics_dir) / (metrics_file or f"{name}.json"), metrics)
