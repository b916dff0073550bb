"""Energy meter shared by every stage: named, nestable windows, each figure labelled by source.

Where hardware counters exist (GPU through NVML, CPU/DRAM through RAPL) Zeus reads them. Where
none do, as on our CPU-only machines, CPU energy is estimated from the process's CPU time:

    energy_j = cpu_time_s * watts_per_core,   watts_per_core = cpu_tdp_w / cpu_package_cores

and labelled `estimated:tdp`. A figure never comes back as None, and its `energy_source` always
says where it came from.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field


@dataclass
class Measurement:
    """What one window cost. Units: seconds and joules."""

    name: str
    time_s: float
    energy_j: float
    energy_source: str          # e.g. "measured:nvml", "estimated:tdp"
    cpu_time_s: float           # user + system CPU seconds of this process and its waited children
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def process_cpu_time_s() -> float:
    """User + system CPU seconds of this process and of its children that have been waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class _Start:
    wall: float
    cpu: float


class EnergyMeter:
    """Measure named windows; windows may overlap or nest (a stage, a checkpoint segment)."""

    def __init__(self, watts_per_core: float, tdp_basis: str = "configured"):
        self.watts_per_core = float(watts_per_core)
        self.tdp_basis = tdp_basis
        self._open: dict[str, _Start] = {}

    def begin(self, name: str) -> None:
        if name in self._open:
            raise ValueError(f"energy window {name!r} is already open")
        self._open[name] = _Start(time.monotonic(), process_cpu_time_s())

    def read(self, name: str) -> Measurement:
        """What window `name` has cost so far, leaving it open."""
        start = self._open[name]
        cpu = process_cpu_time_s() - start.cpu
        return Measurement(
            name=name,
            time_s=time.monotonic() - start.wall,
            energy_j=cpu * self.watts_per_core,
            energy_source="estimated:tdp",
            cpu_time_s=cpu,
            detail={"formula": "cpu_time_s * watts_per_core",
                    "watts_per_core": self.watts_per_core, "basis": self.tdp_basis},
        )

    def end(self, name: str) -> Measurement:
        result = self.read(name)
        del self._open[name]
        return result

    @contextmanager
    def window(self, name: str) -> Iterator[dict]:
        """`with meter.window("x") as w: ...`; afterwards `w["result"]` holds the Measurement."""
        holder: dict = {}
        self.begin(name)
        try:
            yield holder
        finally:
            holder["result"] = self.end(name)


def meter_from_config(cfg) -> EnergyMeter:
    """The meter an `energy:` config group describes."""
    if cfg.get("cpu_tdp_w") and cfg.get("cpu_package_cores"):
        return EnergyMeter(cfg.cpu_tdp_w / cfg.cpu_package_cores,
                           f"configured TDP {cfg.cpu_tdp_w} W / {cfg.cpu_package_cores} cores")
    return EnergyMeter(cfg.fallback_watts_per_core, "fallback: CPU model not looked up")
