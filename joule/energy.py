"""Energy meter shared by every stage: named, nestable windows, each figure labelled by source.

Where hardware counters exist Zeus (`zeus.monitor.ZeusMonitor`) reads them: GPU energy through
NVML (`measured:nvml`; AMD GPUs through AMDSMI, `measured:amdsmi`) for the GPUs that
`CUDA_VISIBLE_DEVICES` leaves visible, CPU package and DRAM energy through RAPL
(`measured:rapl`). Where no CPU counter exists, as on our CPU-only machines, CPU energy is
estimated from the process's CPU time:

    energy_j = cpu_time_s * watts_per_core,   watts_per_core = cpu_tdp_w / cpu_package_cores

(`cpu_time_s`: user + system seconds of this process and its waited-for children; the TDP and
core count come from `conf/energy`, or from `CPU_TDP_TABLE` by the CPU model name in
/proc/cpuinfo, or else the configured `fallback_watts_per_core`), labelled `estimated:tdp`.
A window's `energy_source` names every part of its total, GPU first: `measured:nvml+estimated:tdp`
is NVML-measured GPU energy plus an estimated CPU figure. A figure is never None.
"""

from __future__ import annotations

import logging
import re
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from joule.errors import JouleError

ESTIMATE_FORMULA = "energy_j = cpu_time_s * cpu_tdp_w / cpu_package_cores"

# Package TDP (W) and physical cores of that package, from the vendors' spec sheets. Keys are
# matched as whole words against /proc/cpuinfo's "model name" (with (R)/(TM) removed).
CPU_TDP_TABLE: dict[str, tuple[float, int]] = {
    "EPYC 7742": (225.0, 64),
    "EPYC 7763": (280.0, 64),
    "EPYC 7543": (225.0, 32),
    "EPYC 9654": (360.0, 96),
    "Xeon Platinum 8380": (270.0, 40),
    "Xeon Platinum 8480+": (350.0, 56),
    "Xeon Gold 6338": (205.0, 32),
    "Xeon Gold 6248R": (205.0, 24),
}


@dataclass
class Measurement:
    """What one window cost. Units: seconds and joules.

    `components` splits `energy_j` by device: {"gpu"|"cpu"|"dram": {"energy_j", "source", ...}};
    `energy_source` joins the components' sources with "+".
    """

    name: str
    time_s: float
    energy_j: float
    energy_source: str          # "estimated:tdp", "measured:nvml+estimated:tdp", ...
    cpu_time_s: float           # user + system CPU seconds of this process and its waited children
    detail: dict = field(default_factory=dict)
    components: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def process_cpu_time_s() -> float:
    """User + system CPU seconds of this process and of its children that have been waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# --- the CPU estimate's per-core power ------------------------------------------------------

@dataclass(frozen=True)
class CpuPower:
    """Watts drawn per busy core (W), and a sentence saying where that figure comes from."""

    watts_per_core: float
    basis: str


def cpu_model_name(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's "model name" from /proc/cpuinfo, or "" when the file or the line is absent."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return ""
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def lookup_tdp(model: str) -> tuple[str, float, int] | None:
    """(table key, TDP W, package cores) of the first table entry named in `model`, or None."""
    clean = re.sub(r"\((R|TM)\)", "", model, flags=re.IGNORECASE)
    for key, (tdp, cores) in CPU_TDP_TABLE.items():
        if re.search(rf"(?<![\w+]){re.escape(key)}(?![\w+])", clean, re.IGNORECASE):
            return key, tdp, cores
    return None


def cpu_power(cfg, model: str | None = None) -> CpuPower:
    """Per-core power for the estimate: configured TDP/cores, else the table, else the fallback."""
    tdp, cores = cfg.get("cpu_tdp_w"), cfg.get("cpu_package_cores")
    if (tdp is None) != (cores is None):
        missing = "energy.cpu_package_cores" if cores is None else "energy.cpu_tdp_w"
        raise JouleError(f"config key {missing!r} must be set with the other TDP key (or neither)")
    if tdp is not None:
        if tdp <= 0 or cores <= 0:
            raise JouleError("config keys 'energy.cpu_tdp_w' and 'energy.cpu_package_cores' "
                             "must be positive")
        return CpuPower(tdp / cores, f"configured: TDP {tdp:g} W / {cores} cores")
    model = cpu_model_name() if model is None else model
    found = lookup_tdp(model)
    if found:
        key, tdp, cores = found
        return CpuPower(tdp / cores, f"CPU {model!r} = {key}: TDP {tdp:g} W / {cores} cores")
    fallback = cfg.get("fallback_watts_per_core")
    if fallback is None or fallback <= 0:
        raise JouleError(f"CPU model {model!r} is not in the TDP table and config key "
                         "'energy.fallback_watts_per_core' is not a positive number")
    return CpuPower(float(fallback), f"fallback: CPU model {model or 'unknown'!r} is not in the "
                                     f"TDP table; energy.fallback_watts_per_core = {fallback:g} W")


# --- hardware counters through Zeus ---------------------------------------------------------

@dataclass
class Counters:
    """What Zeus can read on this machine: a monitor (None if nothing) and why, in words."""

    monitor: object | None
    gpu_source: str | None          # "measured:nvml" / "measured:amdsmi", None without GPUs
    cpu_source: str | None          # "measured:rapl", None without readable RAPL
    notes: list[str]


@contextmanager
def _quiet_zeus() -> Iterator[None]:
    """Zeus logs each absent library at WARNING (amdsmi) or INFO; absence is normal here."""
    zeus_log = logging.getLogger("zeus")
    level = zeus_log.level
    zeus_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        zeus_log.setLevel(level)


# Files whose absence rules every Zeus counter out: GPU driver device nodes (NVIDIA, NVIDIA under
# WSL, AMD ROCm) and the RAPL directories Zeus reads (zeus/device/cpu/rapl.py: host, container).
COUNTER_HINTS = ("/dev/nvidiactl", "/dev/dxg", "/dev/kfd", "/sys/class/powercap/intel-rapl",
                 "/zeus_sys/class/powercap/intel-rapl")


def counter_hints() -> list[str]:
    """Those of COUNTER_HINTS that exist on this machine."""
    return [path for path in COUNTER_HINTS if Path(path).exists()]


def probe_counters() -> Counters:
    """Ask Zeus which energy counters exist; build a ZeusMonitor only if one does.

    Importing `zeus.device` and `zeus.monitor` is slow (they pull in httpx, rich, scikit-learn:
    docs/benchmarks.md); on a machine without any GPU device node or RAPL directory neither is
    imported, which keeps the meter's cost per stage negligible.
    """
    if not counter_hints():
        return Counters(None, None, None, [
            "no GPU device node or RAPL directory (" + ", ".join(COUNTER_HINTS)
            + "): no energy counter to read, Zeus not loaded"])
    with _quiet_zeus():
        from zeus.device import get_cpus, get_gpus
        from zeus.device.exception import ZeusBaseCPUError, ZeusBaseGPUError

        notes = []
        gpu_source = cpu_source = None
        try:
            gpus = get_gpus()
            if len(gpus):
                lib = "amdsmi" if type(gpus).__name__.startswith("AMD") else "nvml"
                gpu_source = f"measured:{lib}"
                notes.append(f"GPU: {len(gpus)} visible device(s) read through {lib}")
            else:
                notes.append("GPU: none visible")
        except ZeusBaseGPUError as exc:
            notes.append(f"GPU: no counter ({exc})")
        try:
            cpus = get_cpus()
            if len(cpus):
                cpu_source = "measured:rapl"
                notes.append(f"CPU: {len(cpus)} RAPL package(s)")
            else:
                notes.append("CPU: RAPL exposes no package")
        except ZeusBaseCPUError as exc:
            notes.append(f"CPU: no RAPL counter ({exc})")
        if gpu_source is None and cpu_source is None:
            return Counters(None, None, None, notes)
        from zeus.monitor import ZeusMonitor

        # approx_instant_energy: a window shorter than NVML's counter update period reads 0 J;
        # instant power x duration is the better figure (and silences Zeus's warning about it).
        monitor = ZeusMonitor(cpu_indices=None if cpu_source else [], approx_instant_energy=True)
        return Counters(monitor, gpu_source, cpu_source, notes)


def _gpu_sync_needed() -> bool:
    """Wait for queued CUDA work at window edges only if torch is loaded and uses CUDA.

    Zeus would otherwise import torch (seconds) to synchronise, in stages that never touch it.
    """
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_available())


# --- the meter -------------------------------------------------------------------------------

@dataclass
class _Window:
    wall: float                     # time.monotonic() at begin (s)
    cpu: float                      # process CPU seconds at begin
    segment: int = 0                # Zeus window of this segment: f"{name}#{segment}"
    gpu_j: dict = field(default_factory=dict)   # per visible GPU index, closed segments (J)
    cpu_j: float = 0.0              # RAPL package energy of closed segments (J)
    dram_j: float = 0.0             # RAPL DRAM energy of closed segments (J)
    dram_seen: bool = False


class EnergyMeter:
    """Measure named windows; windows may overlap or nest (a stage, a checkpoint segment).

    `begin(name)` opens a window, `read(name)` reports its cost so far and leaves it open,
    `end(name)` reports and closes it. With counters, each window is a chain of Zeus windows:
    `read` closes the current one and opens the next (microseconds apart), since Zeus cannot
    read a window without ending it.
    """

    def __init__(self, cpu: CpuPower, counters: Counters | None = None):
        self.cpu = cpu
        self.counters = counters or Counters(None, None, None, ["Zeus not used (energy.use_zeus)"])
        self._open: dict[str, _Window] = {}

    @property
    def watts_per_core(self) -> float:
        return self.cpu.watts_per_core

    def begin(self, name: str) -> None:
        """Open window `name`; a name may be open only once at a time."""
        if name in self._open:
            raise ValueError(f"energy window {name!r} is already open")
        window = _Window(time.monotonic(), process_cpu_time_s())
        if self.counters.monitor is not None:
            self.counters.monitor.begin_window(f"{name}#0", sync_execution=_gpu_sync_needed())
        self._open[name] = window

    def read(self, name: str) -> Measurement:
        """What window `name` has cost so far, leaving it open."""
        return self._measure(name, reopen=True)

    def end(self, name: str) -> Measurement:
        """What window `name` cost; closes it."""
        result = self._measure(name, reopen=False)
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

    def _measure(self, name: str, reopen: bool) -> Measurement:
        if name not in self._open:
            raise ValueError(f"energy window {name!r} is not open")
        window = self._open[name]
        if self.counters.monitor is not None:
            self._close_segment(name, window, reopen)
        cpu_s = process_cpu_time_s() - window.cpu
        elapsed = time.monotonic() - window.wall
        components = {}
        if self.counters.gpu_source:
            components["gpu"] = {"energy_j": sum(window.gpu_j.values()),
                                 "source": self.counters.gpu_source,
                                 "per_device_j": {str(k): v for k, v in window.gpu_j.items()}}
        if self.counters.cpu_source:
            components["cpu"] = {"energy_j": window.cpu_j, "source": self.counters.cpu_source,
                                 "scope": "whole CPU package(s), every process"}
            if window.dram_seen:
                components["dram"] = {"energy_j": window.dram_j,
                                      "source": self.counters.cpu_source}
        else:
            components["cpu"] = {"energy_j": cpu_s * self.cpu.watts_per_core,
                                 "source": "estimated:tdp", "formula": ESTIMATE_FORMULA,
                                 "watts_per_core": self.cpu.watts_per_core,
                                 "basis": self.cpu.basis, "cpu_time_s": cpu_s}
        sources = list(dict.fromkeys(c["source"] for c in components.values()))
        return Measurement(
            name=name, time_s=elapsed,
            energy_j=sum(c["energy_j"] for c in components.values()),
            energy_source="+".join(sources), cpu_time_s=cpu_s,
            detail={"counters": list(self.counters.notes)}, components=components)

    def _close_segment(self, name: str, window: _Window, reopen: bool) -> None:
        monitor = self.counters.monitor
        sync = _gpu_sync_needed()
        result = monitor.end_window(f"{name}#{window.segment}", sync_execution=sync)
        if reopen:
            window.segment += 1
            monitor.begin_window(f"{name}#{window.segment}", sync_execution=sync)
        for index, joules in result.gpu_energy.items():
            window.gpu_j[index] = window.gpu_j.get(index, 0.0) + joules
        window.cpu_j += sum((result.cpu_energy or {}).values())
        if result.dram_energy:
            window.dram_seen = True
            window.dram_j += sum(result.dram_energy.values())


def meter_from_config(cfg) -> EnergyMeter:
    """The meter an `energy:` config group describes (probes Zeus unless `use_zeus` is false)."""
    counters = probe_counters() if cfg.get("use_zeus", True) else None
    return EnergyMeter(cpu_power(cfg), counters)
