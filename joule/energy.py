"""Energy meter shared by every stage: named, nestable windows, each figure labelled by source.

Measured counters are preferred wherever they exist: GPU energy through NVML (Zeus,
`measured:nvml`; AMD GPUs through AMDSMI, `measured:amdsmi`) for the GPUs that
`CUDA_VISIBLE_DEVICES` leaves visible, and CPU package and DRAM energy from the RAPL counters
under powercap (`measured:rapl`), read here and unwrapped with each counter's
`max_energy_range_uj` (see `RaplReader`). A RAPL figure that is negative or impossible (above
the package TDP x time x `energy.rapl_max_tdp_ratio`) is never reported: the window falls back to
the estimate and says why in `components.cpu.rejected`.

Where no counter exists, as on our CPU-only machines, CPU energy is estimated, and labelled so:
- `estimated:flops` when the stage says how many FLOPs it did (train, evaluate):
  energy_j = flops * joules_per_flop, with joules_per_flop calibrated once per machine by a fixed
  single-thread matmul (`calibrate_joules_per_flop`) and cached with its provenance. It depends on
  the work done, not on what else the machine runs; it counts the model's matmuls at the
  calibration's efficiency (a lower bound: loading, data work and slower small matmuls are not
  in it).
- `estimated:tdp` otherwise (CPU-only data stages):
  energy_j = cpu_time_s * watts_per_core, watts_per_core = cpu_tdp_w / cpu_package_cores
  (`cpu_time_s`: user + system seconds of this process and its waited-for children, plus what
  worker processes that are not our children report of theirs, `EnergyMeter.add_cpu_time`,
  e.g. the Ray actors of runner=ray; the TDP and
  core count come from `conf/energy`, or from `CPU_TDP_TABLE` by the CPU model name in
  /proc/cpuinfo, or else `fallback_watts_per_core`). CPU time inflates when the machine is shared
  (threads spin while they wait), so this figure is not stable under load.
A window's `energy_source` names every part of its total, GPU first: `measured:nvml+estimated:tdp`
is NVML-measured GPU energy plus an estimated CPU figure. A figure is never None.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from joule.errors import JouleError

ESTIMATE_FORMULA = "energy_j = cpu_time_s * cpu_tdp_w / cpu_package_cores"
FLOPS_FORMULA = "energy_j = flops * joules_per_flop"

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
    cpu_time_s: float           # user + system CPU seconds of this process, its waited children
    #                             and the workers credited with EnergyMeter.add_cpu_time
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
    package_w: float | None = None     # one package's TDP (W) where known (RAPL plausibility)


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
        return CpuPower(tdp / cores, f"configured: TDP {tdp:g} W / {cores} cores", float(tdp))
    model = cpu_model_name() if model is None else model
    found = lookup_tdp(model)
    if found:
        key, tdp, cores = found
        return CpuPower(tdp / cores, f"CPU {model!r} = {key}: TDP {tdp:g} W / {cores} cores",
                        tdp)
    fallback = cfg.get("fallback_watts_per_core")
    if fallback is None or fallback <= 0:
        raise JouleError(f"CPU model {model!r} is not in the TDP table and config key "
                         "'energy.fallback_watts_per_core' is not a positive number")
    return CpuPower(float(fallback), f"fallback: CPU model {model or 'unknown'!r} is not in the "
                                     f"TDP table; energy.fallback_watts_per_core = {fallback:g} W")


# --- the FLOPs estimate's joules per FLOP ---------------------------------------------------

CALIBRATION_VERSION = 1


@dataclass(frozen=True)
class FlopCalibration:
    """Joules per FLOP of this machine's CPU, and where that figure comes from (`source`)."""

    joules_per_flop: float
    source: dict


def _calibration_workload(size: int, repeats: int, dtype: str) -> dict:
    """Time `repeats` batches of fixed square matmuls on one thread (this process's CPU time).

    Thread CPU time of a single-threaded matmul is the time the core was busy on it: with one
    thread there is no spin-waiting, so another job on the machine does not inflate it (it may
    slow the wall clock, not the CPU seconds). The minimum over batches is the figure.
    """
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    kind = getattr(torch, dtype)
    a = torch.randn(size, size).to(kind)
    b = torch.randn(size, size).to(kind)
    per_batch = 8
    torch.mm(a, b)                                   # warm-up: allocations, kernel choice
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        for _ in range(per_batch):
            torch.mm(a, b)
        times.append(time.thread_time() - start)
    return {"seconds": min(times), "flops": 2 * size ** 3 * per_batch,
            "torch": torch.__version__, "batches_s": times}


def calibrate_joules_per_flop(cpu: CpuPower, size: int = 512, repeats: int = 5,
                              dtype: str = "float32") -> FlopCalibration:
    """Measure joules per FLOP: watts_per_core * single-thread CPU seconds / FLOPs of the workload.

    Runs the matmul workload in a child process (one thread there, whatever this process uses;
    `OMP_WAIT_POLICY=PASSIVE`), so calling it never changes this process's torch threads.
    Raises JouleError if the child fails.
    """
    code = ("import json, sys; from joule.energy import _calibration_workload; "
            f"print(json.dumps(_calibration_workload({int(size)}, {int(repeats)}, {dtype!r})))")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                       env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise JouleError(f"energy calibration (matmul {size}x{size} {dtype}) failed: "
                         f"{done.stderr.strip().splitlines()[-1:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    jpf = cpu.watts_per_core * out["seconds"] / out["flops"]
    return FlopCalibration(jpf, {
        "method": f"single-thread torch.mm {size}x{size} {dtype}, min CPU time of {repeats} "
                  f"batches of 8; joules_per_flop = watts_per_core * seconds / flops",
        "seconds": out["seconds"], "flops": out["flops"], "gflops_per_s":
        out["flops"] / out["seconds"] / 1e9 if out["seconds"] else None,
        "watts_per_core": cpu.watts_per_core, "watts_basis": cpu.basis,
        "cpu_model": cpu_model_name() or "unknown", "torch": out["torch"],
        "calibrated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


def _calibration_key(cpu: CpuPower, size: int, repeats: int, dtype: str) -> str:
    text = json.dumps([CALIBRATION_VERSION, cpu_model_name(), os.cpu_count(), cpu.watts_per_core,
                       size, repeats, dtype])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def flop_calibration(cfg, cpu: CpuPower) -> FlopCalibration:
    """The configured joules per FLOP, or this machine's cached calibration, or a fresh one.

    `energy.joules_per_flop` (a number) wins; else the cache file `energy.calibration.cache`
    (JSON, keyed by CPU model, core count, watts per core and workload) is read, and written when
    it lacks this machine's entry. The returned `source` says which and carries the figures.
    """
    fixed = cfg.get("joules_per_flop")
    if fixed is not None:
        if float(fixed) <= 0:
            raise JouleError("config key 'energy.joules_per_flop' must be positive (or null)")
        return FlopCalibration(float(fixed), {"method": "configured: energy.joules_per_flop"})
    cal = cfg.get("calibration") or {}
    size, repeats = int(cal.get("size", 512)), int(cal.get("repeats", 5))
    dtype = str(cal.get("dtype", "float32"))
    cache = Path(os.path.expanduser(str(cal.get("cache") or "~/.cache/joule/joules_per_flop.json")))
    key = _calibration_key(cpu, size, repeats, dtype)
    try:
        entries = json.loads(cache.read_text()) if cache.is_file() else {}
    except (OSError, ValueError) as exc:
        raise JouleError(f"{cache} (energy.calibration.cache) is not readable JSON: {exc}") from exc
    if key in entries:
        entry = entries[key]
        return FlopCalibration(float(entry["joules_per_flop"]),
                               dict(entry["source"], cache=str(cache), cached=True))
    fresh = calibrate_joules_per_flop(cpu, size, repeats, dtype)
    entries[key] = {"joules_per_flop": fresh.joules_per_flop, "source": fresh.source}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))
        tmp.replace(cache)
    except OSError as exc:
        raise JouleError(f"cannot write the energy calibration cache {cache}: {exc}") from exc
    return FlopCalibration(fresh.joules_per_flop, dict(fresh.source, cache=str(cache),
                                                       cached=False))


# --- RAPL counters, read from powercap ------------------------------------------------------
# Read here rather than through Zeus: Zeus counts wraps with a polling child process and only
# returns deltas, so a wrap it misses (e.g. right after a window opens) comes back as a negative
# figure that cannot be repaired afterwards; with the raw counter and its range every delta
# between two of our reads is unwrapped exactly.

@dataclass
class _Zone:
    name: str            # "package-0", "dram"
    kind: str            # "cpu" | "dram"
    energy_file: Path
    range_uj: int        # max_energy_range_uj: the counter wraps to 0 past this
    last_uj: int
    total_uj: int = 0    # unwrapped energy since the reader opened


class RaplReader:
    """Unwrapped RAPL package/DRAM energy from a powercap tree (default /sys/class/powercap).

    `sample()` reads every counter and adds (now - last) mod max_energy_range_uj to its total;
    that is exact if the counter wrapped at most once between two reads, so a daemon thread
    samples at least 4 times per shortest wrap time at the plausibility power. A gap between
    samples long enough for two wraps is recorded in `doubts` (a window spanning it is rejected).
    Units: µJ in counters, J out.
    """

    def __init__(self, root: str | Path, max_power_w: float, poll: bool = True):
        self.root = Path(root)
        self.max_power_w = max_power_w
        self.zones = self._find_zones()
        if not self.zones:
            raise JouleError(f"{self.root}: no readable intel-rapl package counter")
        self.doubts: list[str] = []
        self._lock = threading.Lock()
        self._last_time = time.monotonic()
        shortest = min(z.range_uj for z in self.zones) / 1e6 / max_power_w
        self.poll_s = max(0.05, min(60.0, shortest / 4))
        self._stop = threading.Event()
        if poll:
            threading.Thread(target=self._poll, daemon=True, name="joule-rapl").start()

    def _find_zones(self) -> list[_Zone]:
        zones = []
        for pkg in sorted(self.root.glob("intel-rapl:*")):
            if pkg.name.count(":") != 1:
                continue
            zones.append(self._zone(pkg, "cpu"))
            for sub in sorted(pkg.glob(f"{pkg.name}:*")):
                if (sub / "name").is_file() and (sub / "name").read_text().strip() == "dram":
                    zones.append(self._zone(sub, "dram"))
        return zones

    def _zone(self, path: Path, kind: str) -> _Zone:
        try:
            name = (path / "name").read_text().strip()
            range_uj = int((path / "max_energy_range_uj").read_text())
            now = int((path / "energy_uj").read_text())
        except (OSError, ValueError) as exc:
            raise JouleError(f"{path}: unreadable RAPL counter ({exc})") from exc
        if range_uj <= 0:
            raise JouleError(f"{path}/max_energy_range_uj is {range_uj}, not a counter range")
        return _Zone(name, kind, path / "energy_uj", range_uj, now)

    def sample(self) -> None:
        """Read every counter once and add the unwrapped deltas to the totals."""
        with self._lock:
            now_t = time.monotonic()
            gap = now_t - self._last_time
            for zone in self.zones:
                now = int(zone.energy_file.read_text())
                if gap * self.max_power_w * 1e6 > zone.range_uj:
                    self.doubts.append(f"{zone.energy_file}: {gap:.1f} s between reads may hold "
                                       f"more than one wrap of {zone.range_uj} µJ")
                zone.total_uj += (now - zone.last_uj) % zone.range_uj
                zone.last_uj = now
            self._last_time = now_t

    def totals_j(self) -> tuple[dict[str, float], int]:
        """Sample, then (unwrapped joules per zone, number of doubts so far)."""
        self.sample()
        return {f"{z.kind}:{z.name}": z.total_uj / 1e6 for z in self.zones}, len(self.doubts)

    def packages(self) -> int:
        return sum(z.kind == "cpu" for z in self.zones)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.sample()
            except OSError as exc:           # the counter vanished: windows will say so
                self.doubts.append(f"RAPL read failed: {exc}")
                return

    def close(self) -> None:
        self._stop.set()


# --- GPU counters through Zeus --------------------------------------------------------------

@dataclass
class Counters:
    """What this machine lets the meter read, and why, in words."""

    monitor: object | None          # Zeus monitor for GPUs, None without
    gpu_source: str | None          # "measured:nvml" / "measured:amdsmi", None without GPUs
    cpu_source: str | None          # "measured:rapl", None without readable RAPL
    notes: list[str]
    rapl: RaplReader | None = None


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


# GPU driver device nodes (NVIDIA, NVIDIA under WSL, AMD ROCm): without one Zeus is not loaded.
COUNTER_HINTS = ("/dev/nvidiactl", "/dev/dxg", "/dev/kfd")
POWERCAP_DIR = "/sys/class/powercap"


def counter_hints() -> list[str]:
    """Those of COUNTER_HINTS that exist on this machine."""
    return [path for path in COUNTER_HINTS if Path(path).exists()]


def probe_counters(powercap_dir: str | Path = POWERCAP_DIR, max_package_w: float = 1000.0,
                   poll: bool = True) -> Counters:
    """Find the energy counters: GPUs through Zeus (only if a device node exists), RAPL here.

    Importing `zeus.device` and `zeus.monitor` is slow (docs/benchmarks.md); on a machine
    without a GPU device node neither is imported. `max_package_w` bounds one package's power
    (plausibility and polling period of the RAPL reader).
    """
    notes, monitor, gpu_source = [], None, None
    if counter_hints():
        with _quiet_zeus():
            from zeus.device import get_gpus
            from zeus.device.exception import ZeusBaseGPUError

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
            if gpu_source:
                from zeus.monitor import ZeusMonitor

                # approx_instant_energy: a window shorter than NVML's update period reads 0 J.
                monitor = ZeusMonitor(cpu_indices=[], approx_instant_energy=True)
    else:
        notes.append("GPU: no device node (" + ", ".join(COUNTER_HINTS) + "), Zeus not loaded")
    rapl = None
    if (Path(powercap_dir) / "intel-rapl:0").exists():
        try:
            rapl = RaplReader(powercap_dir, max_package_w, poll=poll)
            notes.append(f"CPU: {rapl.packages()} RAPL package(s) under {powercap_dir}, "
                         f"unwrapped with max_energy_range_uj, sampled every {rapl.poll_s:.2g} s")
        except (JouleError, OSError) as exc:
            notes.append(f"CPU: no readable RAPL counter ({exc})")
    else:
        notes.append(f"CPU: no RAPL counter under {powercap_dir}")
    return Counters(monitor, gpu_source, "measured:rapl" if rapl else None, notes, rapl)


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
    rapl_j: dict = field(default_factory=dict)  # RAPL zone totals at begin (J)
    rapl_doubts: int = 0            # RaplReader.doubts at begin
    workers_cpu_s: float = 0.0      # CPU seconds of processes that are not our children
    workers: list = field(default_factory=list)   # what they were, in words


class EnergyMeter:
    """Measure named windows; windows may overlap or nest (a stage, a checkpoint segment).

    `begin(name)` opens a window, `read(name, flops=None)` reports its cost so far and leaves it
    open, `end(name, flops=None)` reports and closes it. `flops` (the work done in the window)
    lets a counter-less CPU figure be `estimated:flops` instead of `estimated:tdp`. With GPU
    counters, each window is a chain of Zeus windows: `read` closes the current one and opens
    the next (microseconds apart), since Zeus cannot read a window without ending it.
    """

    def __init__(self, cpu: CpuPower, counters: Counters | None = None,
                 calibration=None, rapl_max_tdp_ratio: float = 2.0):
        """`calibration`: a FlopCalibration, or a callable returning one (called once, lazily)."""
        self.cpu = cpu
        self.counters = counters or Counters(None, None, None, ["counters not used "
                                                                "(energy.use_zeus)"])
        self._calibration = calibration
        self.rapl_max_tdp_ratio = rapl_max_tdp_ratio
        self._open: dict[str, _Window] = {}

    @property
    def watts_per_core(self) -> float:
        return self.cpu.watts_per_core

    @property
    def calibration(self) -> FlopCalibration | None:
        if callable(self._calibration):
            self._calibration = self._calibration()
        return self._calibration

    @property
    def estimates_flops(self) -> bool:
        """True when a window given FLOPs is `estimated:flops` (no counter, a calibration)."""
        return (self.counters.gpu_source is None and self.counters.cpu_source is None
                and self._calibration is not None)

    def flops_j(self, flops: float) -> float:
        """Joules of `flops` FLOPs by the calibration (J)."""
        return float(flops) * self.calibration.joules_per_flop

    def begin(self, name: str) -> None:
        """Open window `name`; a name may be open only once at a time."""
        if name in self._open:
            raise ValueError(f"energy window {name!r} is already open")
        window = _Window(time.monotonic(), process_cpu_time_s())
        if self.counters.rapl is not None:
            window.rapl_j, window.rapl_doubts = self.counters.rapl.totals_j()
        if self.counters.monitor is not None:
            self.counters.monitor.begin_window(f"{name}#0", sync_execution=_gpu_sync_needed())
        self._open[name] = window

    def add_cpu_time(self, name: str, seconds: float, what: str) -> None:
        """Credit open window `name` with `seconds` CPU seconds of processes that are neither
        this one nor its waited-for children (e.g. Ray workers, which the raylet starts), as
        reported by those processes themselves; `what` says which, for the window's detail.
        The CPU estimate counts them; a RAPL figure already holds them when they ran on this
        machine's packages (then they are only listed)."""
        if name not in self._open:
            raise ValueError(f"energy window {name!r} is not open")
        window = self._open[name]
        window.workers_cpu_s += float(seconds)
        window.workers.append(f"{what}: {seconds:.2f} CPU s")

    def read(self, name: str, flops: float | None = None) -> Measurement:
        """What window `name` has cost so far, leaving it open."""
        return self._measure(name, reopen=True, flops=flops)

    def end(self, name: str, flops: float | None = None) -> Measurement:
        """What window `name` cost; closes it."""
        result = self._measure(name, reopen=False, flops=flops)
        del self._open[name]
        return result

    @contextmanager
    def window(self, name: str) -> Iterator[dict]:
        """`with meter.window("x") as w: ...`; afterwards `w["result"]` holds the Measurement.

        Set `w["flops"]` inside the block to have the window estimated from FLOPs.
        """
        holder: dict = {}
        self.begin(name)
        try:
            yield holder
        finally:
            holder["result"] = self.end(name, flops=holder.get("flops"))

    def _estimate(self, cpu_s: float, flops: float | None) -> dict:
        tdp = {"energy_j": cpu_s * self.cpu.watts_per_core, "source": "estimated:tdp",
               "formula": ESTIMATE_FORMULA, "watts_per_core": self.cpu.watts_per_core,
               "basis": self.cpu.basis, "cpu_time_s": cpu_s}
        if flops is None or self._calibration is None:
            return tdp
        cal = self.calibration
        return {"energy_j": self.flops_j(flops), "source": "estimated:flops",
                "formula": FLOPS_FORMULA, "flops": float(flops),
                "joules_per_flop": cal.joules_per_flop, "calibration": dict(cal.source),
                "cpu_time_s": cpu_s, "tdp_estimate_j": tdp["energy_j"],
                "watts_per_core": self.cpu.watts_per_core, "basis": self.cpu.basis}

    def _rapl(self, window: _Window, elapsed: float) -> tuple[dict, str | None]:
        """RAPL components of the window, and why they are not credible (None if they are)."""
        reader = self.counters.rapl
        now, doubts = reader.totals_j()
        cpu_j = sum(now[k] - window.rapl_j.get(k, now[k]) for k in now if k.startswith("cpu:"))
        dram = [k for k in now if k.startswith("dram:")]
        dram_j = sum(now[k] - window.rapl_j.get(k, now[k]) for k in dram)
        limit = reader.max_power_w * reader.packages() * max(elapsed, 1e-3) \
            * self.rapl_max_tdp_ratio
        reason = None
        if doubts > window.rapl_doubts:
            reason = "; ".join(reader.doubts[window.rapl_doubts:])
        elif cpu_j < 0 or dram_j < 0:
            reason = f"negative RAPL delta ({cpu_j:.3f} J package, {dram_j:.3f} J DRAM)"
        elif cpu_j + dram_j > limit:
            reason = (f"RAPL says {cpu_j + dram_j:.1f} J in {elapsed:.2f} s, above "
                      f"{reader.packages()} package(s) x {reader.max_power_w:g} W x "
                      f"{self.rapl_max_tdp_ratio:g} (energy.rapl_max_tdp_ratio) = {limit:.1f} J")
        parts = {"cpu": {"energy_j": cpu_j, "source": "measured:rapl",
                         "scope": "whole CPU package(s), every process"}}
        if dram:
            parts["dram"] = {"energy_j": dram_j, "source": "measured:rapl"}
        return parts, reason

    def _measure(self, name: str, reopen: bool, flops: float | None = None) -> Measurement:
        if name not in self._open:
            raise ValueError(f"energy window {name!r} is not open")
        window = self._open[name]
        if self.counters.monitor is not None:
            self._close_segment(name, window, reopen)
        cpu_s = process_cpu_time_s() - window.cpu + window.workers_cpu_s
        elapsed = time.monotonic() - window.wall
        components = {}
        if self.counters.gpu_source:
            components["gpu"] = {"energy_j": sum(window.gpu_j.values()),
                                 "source": self.counters.gpu_source,
                                 "per_device_j": {str(k): v for k, v in window.gpu_j.items()}}
        if self.counters.rapl is not None:
            parts, reason = self._rapl(window, elapsed)
            if reason is None:
                components.update(parts)
            else:   # never reported as measured: the estimate, with the rejected figure
                est = self._estimate(cpu_s, None if self.counters.gpu_source else flops)
                est["rejected"] = {"source": "measured:rapl", "reason": reason,
                                   "energy_j": sum(p["energy_j"] for p in parts.values())}
                components["cpu"] = est
        else:
            # With GPU counters the FLOPs ran on the GPU: the CPU's share is not FLOP-bound.
            components["cpu"] = self._estimate(cpu_s, None if self.counters.gpu_source else flops)
        sources = list(dict.fromkeys(c["source"] for c in components.values()))
        detail = {"counters": list(self.counters.notes)}
        if window.workers:
            detail["workers_cpu_time_s"] = window.workers_cpu_s
            detail["workers"] = list(window.workers)
            detail["not_counted"] = ("CPU time of processes that did not report it (a Ray "
                                     "cluster's raylet, GCS and object store, idle workers)")
        return Measurement(
            name=name, time_s=elapsed,
            energy_j=sum(c["energy_j"] for c in components.values()),
            energy_source="+".join(sources), cpu_time_s=cpu_s,
            detail=detail, components=components)

    def _close_segment(self, name: str, window: _Window, reopen: bool) -> None:
        monitor = self.counters.monitor
        sync = _gpu_sync_needed()
        result = monitor.end_window(f"{name}#{window.segment}", sync_execution=sync)
        if reopen:
            window.segment += 1
            monitor.begin_window(f"{name}#{window.segment}", sync_execution=sync)
        for index, joules in result.gpu_energy.items():
            window.gpu_j[index] = window.gpu_j.get(index, 0.0) + joules


def meter_from_config(cfg) -> EnergyMeter:
    """The meter an `energy:` config group describes.

    Probes counters unless `use_zeus` is false; the FLOPs calibration is loaded (or run)
    only when a window is first estimated from FLOPs, and only if `flops_estimate` is true.
    """
    cpu = cpu_power(cfg)
    ratio = float(cfg.get("rapl_max_tdp_ratio", 2.0))
    if ratio < 1:
        raise JouleError("config key 'energy.rapl_max_tdp_ratio' must be at least 1")
    counters = None
    if cfg.get("use_zeus", True):
        package_w = cpu.package_w or cpu.watts_per_core * (os.cpu_count() or 1)
        counters = probe_counters(cfg.get("powercap_dir") or POWERCAP_DIR, package_w)
    calibration = (lambda: flop_calibration(cfg, cpu)) if cfg.get("flops_estimate", True) \
        else None
    return EnergyMeter(cpu, counters, calibration, ratio)


if __name__ == "__main__":   # python -m joule.energy: calibrate (or show) this machine's figure
    from joule.config import compose

    energy_cfg = compose().energy
    found = flop_calibration(energy_cfg, cpu_power(energy_cfg))
    print(json.dumps({"joules_per_flop": found.joules_per_flop, "source": found.source},
                     indent=1))
