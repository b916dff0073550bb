"""The energy meter: Zeus counters where they exist (NVML mocked here), a labelled estimate else."""

from __future__ import annotations

import logging
import warnings
from types import SimpleNamespace

import pynvml
import pytest
import zeus.device
import zeus.device.cpu as zeus_cpu
import zeus.device.gpu as zeus_gpu

from joule import energy
from joule.config import compose
from joule.energy import CpuPower, EnergyMeter, cpu_power, lookup_tdp, meter_from_config
from joule.errors import JouleError


@pytest.fixture
def clock(monkeypatch):
    """Process CPU time and wall time under the test's control (seconds)."""
    state = SimpleNamespace(cpu=100.0, wall=1000.0)
    monkeypatch.setattr(energy, "process_cpu_time_s", lambda: state.cpu)
    monkeypatch.setattr(energy.time, "monotonic", lambda: state.wall)
    return state


@pytest.fixture
def no_counters(monkeypatch):
    """Neither NVML/AMDSMI nor RAPL, found so by Zeus's own detection (run fresh)."""
    monkeypatch.setattr(energy, "counter_hints", lambda: ["/dev/test"])  # make the meter ask Zeus
    monkeypatch.setattr(zeus_gpu, "_gpus", None)
    monkeypatch.setattr(zeus_gpu, "nvml_is_available", lambda: False)
    monkeypatch.setattr(zeus_gpu, "amdsmi_is_available", lambda: False)
    monkeypatch.setattr(zeus_cpu, "_cpus", None)
    monkeypatch.setattr(zeus_cpu, "rapl_is_available", lambda: False)
    monkeypatch.setattr(energy, "POWERCAP_DIR", "/nonexistent/powercap")


class FakePowercap:
    """A powercap tree in a temp dir: package 0 with a DRAM sub-zone, counters in µJ."""

    def __init__(self, root, package_range_uj: int = 262_143_328_850, package_uj: int = 10_000,
                 dram_range_uj: int = 65_712_999_613, dram_uj: int = 5_000):
        self.pkg = root / "intel-rapl:0"
        self.dram = self.pkg / "intel-rapl:0:0"
        self.dram.mkdir(parents=True)
        (root / "intel-rapl:0:1").mkdir()           # not a package (a second colon): ignored
        for zone, name, rng, now in ((self.pkg, "package-0", package_range_uj, package_uj),
                                     (self.dram, "dram", dram_range_uj, dram_uj)):
            (zone / "name").write_text(name + "\n")
            (zone / "max_energy_range_uj").write_text(f"{rng}\n")
            (zone / "energy_uj").write_text(f"{now}\n")
        self.ranges = {self.pkg: package_range_uj, self.dram: dram_range_uj}

    def burn(self, package_j: float = 0.0, dram_j: float = 0.0) -> None:
        """Advance the counters, wrapping them at their range as the hardware does."""
        for zone, joules in ((self.pkg, package_j), (self.dram, dram_j)):
            now = int((zone / "energy_uj").read_text())
            (zone / "energy_uj").write_text(f"{(now + int(joules * 1e6)) % self.ranges[zone]}\n")


class FakeNvml:
    """Four physical GPUs whose NVML energy counters (mJ) the test advances by hand."""

    def __init__(self, monkeypatch, n_gpus: int = 4, watts: float = 0.0):
        self.counter_mj = {i: 5_000_000 for i in range(n_gpus)}
        self.watts = watts
        not_supported = pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

        def c2c(handle):
            raise not_supported

        def field_values(handle, fields):
            value = SimpleNamespace(uiVal=int(self.watts * 1000))
            return [SimpleNamespace(nvmlReturn=pynvml.NVML_SUCCESS, value=value)]

        calls = {
            "nvmlInit": lambda: None, "nvmlShutdown": lambda: None,
            "nvmlDeviceGetCount": lambda: n_gpus,
            "nvmlDeviceGetHandleByIndex": lambda i: i,          # the handle is the physical index
            "nvmlDeviceGetC2cModeInfoV": c2c,
            "nvmlDeviceGetArchitecture": lambda h: pynvml.NVML_DEVICE_ARCH_AMPERE,
            "nvmlDeviceGetTotalEnergyConsumption": lambda h: self.counter_mj[h],
            "nvmlDeviceGetFieldValues": field_values,
        }
        for name, fn in calls.items():
            monkeypatch.setattr(pynvml, name, fn)
        monkeypatch.setattr(energy, "counter_hints", lambda: ["/dev/nvidiactl"])
        monkeypatch.setattr(zeus_gpu, "_gpus", None)
        monkeypatch.setattr(zeus_gpu, "nvml_is_available", lambda: True)
        monkeypatch.delenv("ZEUSD_SOCK_PATH", raising=False)
        # No CUDA here to synchronise with.
        monkeypatch.setattr(energy, "_gpu_sync_needed", lambda: False)

    def burn(self, joules_per_physical_gpu: dict[int, float]) -> None:
        for index, joules in joules_per_physical_gpu.items():
            self.counter_mj[index] += int(joules * 1000)


def test_estimate_is_cpu_time_times_watts_per_core(clock):
    meter = EnergyMeter(CpuPower(7.5, "configured: TDP 240 W / 32 cores"))
    meter.begin("stage")
    clock.cpu += 4.0
    clock.wall += 10.0
    m = meter.end("stage")
    assert m.energy_j == pytest.approx(4.0 * 7.5)
    assert (m.time_s, m.cpu_time_s) == (pytest.approx(10.0), pytest.approx(4.0))
    assert m.energy_source == "estimated:tdp"
    cpu = m.components["cpu"]
    assert cpu["formula"] == energy.ESTIMATE_FORMULA and cpu["basis"].startswith("configured")
    assert set(m.components) == {"cpu"}


def test_cpu_power_configured_table_and_fallback():
    base = {"cpu_tdp_w": None, "cpu_package_cores": None, "fallback_watts_per_core": 5.0}
    configured = cpu_power({**base, "cpu_tdp_w": 280, "cpu_package_cores": 64}, model="AMD EPYC")
    assert configured.watts_per_core == pytest.approx(280 / 64)
    looked_up = cpu_power(base, model="AMD EPYC 7763 64-Core Processor")
    assert looked_up.watts_per_core == pytest.approx(280 / 64) and "EPYC 7763" in looked_up.basis
    intel = lookup_tdp("Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz")
    assert intel == ("Xeon Platinum 8480+", 350.0, 56)
    assert lookup_tdp("AMD EPYC 77630") is None            # whole model numbers only
    ours = cpu_power(base, model="AMD EPYC")                 # our machines: no model number
    assert ours.watts_per_core == 5.0
    assert "fallback" in ours.basis and "'AMD EPYC'" in ours.basis
    with pytest.raises(JouleError, match="energy.cpu_package_cores"):
        cpu_power({**base, "cpu_tdp_w": 200}, model="x")
    with pytest.raises(JouleError, match="fallback_watts_per_core"):
        cpu_power({**base, "fallback_watts_per_core": None}, model="x")


def test_no_counters_gives_a_labelled_estimate_without_noise(no_counters, clock, caplog,
                                                              capfd):
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # any warning fails the test
        meter = meter_from_config(compose().energy)
        meter.begin("stage")
        clock.cpu += 2.0
        m = meter.end("stage")
    assert meter.counters.monitor is None
    assert m.energy_source == "estimated:tdp"
    assert m.energy_j == pytest.approx(2.0 * meter.watts_per_core)
    assert any("no RAPL" in note for note in m.detail["counters"])
    assert not [r for r in caplog.records if r.name.startswith("zeus")]
    assert capfd.readouterr() == ("", "")


def test_nvml_path_respects_cuda_visible_devices(monkeypatch, clock):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    nvml = FakeNvml(monkeypatch)
    monkeypatch.setattr(zeus_cpu, "_cpus", None)
    monkeypatch.setattr(zeus_cpu, "rapl_is_available", lambda: False)
    meter = EnergyMeter(CpuPower(2.0, "test"), energy.probe_counters())
    meter.begin("train")
    nvml.burn({0: 100.0, 1: 10.0, 2: 100.0, 3: 30.0})
    clock.cpu += 3.0
    m = meter.end("train")
    # Visible devices 1 and 3 are indices 0 and 1 after CUDA_VISIBLE_DEVICES.
    assert m.components["gpu"]["per_device_j"] == {"0": pytest.approx(10.0),
                                                   "1": pytest.approx(30.0)}
    assert m.components["gpu"]["source"] == "measured:nvml"
    assert m.components["cpu"]["energy_j"] == pytest.approx(6.0)
    assert m.energy_j == pytest.approx(40.0 + 6.0)
    assert m.energy_source == "measured:nvml+estimated:tdp"


def test_without_device_nodes_zeus_is_not_loaded(monkeypatch, clock):
    monkeypatch.setattr(energy, "counter_hints", lambda: [])
    monkeypatch.setattr(zeus.device, "get_gpus", lambda: pytest.fail("Zeus was probed"))
    meter = meter_from_config(compose(["energy.powercap_dir=/nonexistent"]).energy)
    meter.begin("x")
    clock.cpu += 1.0
    m = meter.end("x")
    assert m.energy_source == "estimated:tdp" and "Zeus not loaded" in m.detail["counters"][0]


def test_nested_and_overlapping_windows_with_nvml_and_rapl(monkeypatch, clock, tmp_path):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    nvml = FakeNvml(monkeypatch, n_gpus=1)
    rapl = FakePowercap(tmp_path)
    meter = EnergyMeter(CpuPower(2.0, "unused with RAPL"),
                        energy.probe_counters(tmp_path, 200.0, poll=False))
    meter.begin("stage")
    nvml.burn({0: 1.0})
    meter.begin("segment")                  # nested
    nvml.burn({0: 2.0})
    rapl.burn(package_j=7.0, dram_j=1.0)
    clock.wall += 1.0
    so_far = meter.read("stage")            # stage stays open
    assert so_far.components["gpu"]["energy_j"] == pytest.approx(3.0)
    meter.begin("overlap")                  # starts inside stage and segment, outlives segment
    nvml.burn({0: 4.0})
    seg = meter.end("segment")
    nvml.burn({0: 8.0})
    stage = meter.end("stage")
    overlap = meter.end("overlap")
    assert seg.components["gpu"]["energy_j"] == pytest.approx(2.0 + 4.0)
    assert stage.components["gpu"]["energy_j"] == pytest.approx(1.0 + 2.0 + 4.0 + 8.0)
    assert overlap.components["gpu"]["energy_j"] == pytest.approx(4.0 + 8.0)
    assert stage.components["cpu"]["energy_j"] == pytest.approx(7.0)
    assert stage.components["dram"]["energy_j"] == pytest.approx(1.0)
    assert stage.energy_j == pytest.approx(15.0 + 7.0 + 1.0)
    assert stage.energy_source == "measured:nvml+measured:rapl"
    assert overlap.components["cpu"]["energy_j"] == 0.0


def test_window_names_are_checked_and_context_manager_records(no_counters, clock):
    meter = EnergyMeter(CpuPower(1.0, "t"), energy.probe_counters())
    with meter.window("a") as w:
        clock.cpu += 1.0
        with pytest.raises(ValueError, match="already open"):
            meter.begin("a")
    assert w["result"].energy_j == pytest.approx(1.0)
    with pytest.raises(ValueError, match="not open"):
        meter.read("a")


@pytest.mark.parametrize("setup", ["none", "nvml"])
def test_never_none(monkeypatch, clock, no_counters, setup):
    if setup == "nvml":
        FakeNvml(monkeypatch, n_gpus=1)
    meter = meter_from_config(compose().energy)
    meter.begin("x")
    m = meter.end("x")
    for key, value in m.to_dict().items():
        assert value is not None, key
    assert isinstance(m.energy_j, float) and m.energy_source
    for part in m.components.values():
        assert part["energy_j"] is not None and part["source"]


# --- the FLOPs estimate ------------------------------------------------------------------------

CAL = energy.FlopCalibration(2e-11, {"method": "test"})


def test_flops_estimate_does_not_depend_on_cpu_time(clock):
    """The same FLOPs give the same joules whatever CPU time the window took (a shared machine)."""
    figures = []
    for cpu_s in (3.0, 12.0):                        # alone, and with threads spinning 4x
        meter = EnergyMeter(CpuPower(5.0, "t"), calibration=CAL)
        meter.begin("train")
        clock.cpu += cpu_s
        clock.wall += cpu_s
        figures.append(meter.end("train", flops=5e12))
    alone, loaded = figures
    assert alone.energy_j == loaded.energy_j == pytest.approx(5e12 * 2e-11)
    assert alone.energy_source == "estimated:flops"
    cpu = loaded.components["cpu"]
    assert cpu["joules_per_flop"] == 2e-11 and cpu["calibration"] == {"method": "test"}
    assert cpu["tdp_estimate_j"] == pytest.approx(12.0 * 5.0)   # the old figure, for contrast
    # without FLOPs (a data stage) the window is the CPU-time estimate, labelled so
    meter = EnergyMeter(CpuPower(5.0, "t"), calibration=CAL)
    with meter.window("curate") as w:
        clock.cpu += 2.0
    assert w["result"].energy_source == "estimated:tdp"
    assert w["result"].energy_j == pytest.approx(10.0)


def test_flops_are_not_used_beside_gpu_counters(monkeypatch, clock):
    nvml = FakeNvml(monkeypatch, n_gpus=1)
    monkeypatch.setattr(energy, "POWERCAP_DIR", "/nonexistent")
    meter = EnergyMeter(CpuPower(2.0, "t"), energy.probe_counters("/nonexistent"), CAL)
    meter.begin("train")
    nvml.burn({0: 50.0})
    clock.cpu += 1.0
    m = meter.end("train", flops=1e15)               # the FLOPs ran on the GPU
    assert m.energy_source == "measured:nvml+estimated:tdp"
    assert m.energy_j == pytest.approx(50.0 + 2.0)


def test_calibration_is_cached_with_its_provenance(monkeypatch, tmp_path):
    calls = []

    def fake(cpu, size, repeats, dtype):
        calls.append((size, repeats, dtype))
        return energy.FlopCalibration(cpu.watts_per_core * 0.5 / 1e10, {"method": "fake"})

    monkeypatch.setattr(energy, "calibrate_joules_per_flop", fake)
    cache = tmp_path / "cal" / "jpf.json"
    cfg = compose([f"energy.calibration.cache={cache}", "energy.calibration.size=64"]).energy
    cpu = CpuPower(4.0, "t")
    first = energy.flop_calibration(cfg, cpu)
    second = energy.flop_calibration(cfg, cpu)
    assert calls == [(64, 5, "float32")]             # calibrated once, then read back
    assert first.joules_per_flop == second.joules_per_flop == pytest.approx(2e-10)
    assert (first.source["cached"], second.source["cached"]) == (False, True)
    assert second.source["cache"] == str(cache) and second.source["method"] == "fake"
    energy.flop_calibration(cfg, CpuPower(8.0, "another W/core"))   # another key: recalibrated
    assert len(calls) == 2
    fixed = compose([f"energy.calibration.cache={cache}", "energy.joules_per_flop=3e-11"]).energy
    assert energy.flop_calibration(fixed, cpu).joules_per_flop == 3e-11
    cache.write_text("{not json")
    with pytest.raises(JouleError, match="jpf.json"):
        energy.flop_calibration(cfg, cpu)


def test_real_calibration_runs_one_thread_in_a_child():
    cal = energy.calibrate_joules_per_flop(CpuPower(5.0, "t"), size=96, repeats=2)
    assert 1e-13 < cal.joules_per_flop < 1e-7        # 50 MFLOP/s .. 50 TFLOP/s at 5 W
    assert cal.source["flops"] == 2 * 96 ** 3 * 8 and cal.source["seconds"] > 0
    assert cal.joules_per_flop == pytest.approx(5.0 * cal.source["seconds"] / cal.source["flops"])


def test_stage_total_is_estimated_from_its_flops(clock, tmp_path, monkeypatch):
    from pipeline.stage import stage_run
    cfg = compose([f"metrics_dir={tmp_path}", "energy.joules_per_flop=1e-10",
                   "energy.powercap_dir=/nonexistent"])
    monkeypatch.setattr(energy, "counter_hints", lambda: [])
    rows = [{"name": "a", "flops": 1e12, "energy_j": 50.0, "energy_source": "estimated:tdp"}]
    with stage_run(cfg, "train", "t.json") as run:
        clock.cpu += 100.0
        run.metrics.update(flops=4e12, checkpoints=rows)
    written = energy.json.loads((tmp_path / "t.json").read_text())
    assert written["energy_source"] == "estimated:flops"
    assert written["energy_j"] == pytest.approx(400.0)
    assert written["energy"]["components"]["cpu"]["tdp_estimate_j"] == pytest.approx(500.0)
    assert written["checkpoints"] == rows       # as training wrote them (checkpoints.json)
    with stage_run(cfg, "curate", "c.json"):    # no FLOPs: the CPU-time estimate
        clock.cpu += 2.0
    assert energy.json.loads((tmp_path / "c.json").read_text())["energy_source"] == \
        "estimated:tdp"


# --- RAPL from powercap (issue 22, item 9) -------------------------------------------------------

def rapl_meter(root, package_w=100.0, ratio=2.0):
    return EnergyMeter(CpuPower(1.0, "t", package_w), energy.probe_counters(root, package_w,
                                                                             poll=False),
                       CAL, rapl_max_tdp_ratio=ratio)


@pytest.mark.parametrize("before_wrap_j", [0.5, 3.0, 9.999])
def test_rapl_wrap_right_after_open_is_unwrapped(tmp_path, clock, before_wrap_j):
    """A small-range counter near its top: every wrap inside the window is undone exactly."""
    rng = 10_000_000                                  # 10 J range
    fake = FakePowercap(tmp_path, package_range_uj=rng, package_uj=rng - int(before_wrap_j * 1e6))
    meter = rapl_meter(tmp_path)
    meter.begin("stage")
    total = 0.0
    for _ in range(6):                                # several wraps, each between two reads
        fake.burn(package_j=4.5, dram_j=0.25)
        clock.wall += 0.05                            # at 100 W at most 5 J: one wrap at most
        total += 4.5
        meter.counters.rapl.sample()                  # what the polling thread does
    m = meter.end("stage")
    assert m.energy_source == "measured:rapl"
    assert m.components["cpu"]["energy_j"] == pytest.approx(total)
    assert m.components["dram"]["energy_j"] == pytest.approx(1.5)
    assert "rejected" not in m.components["cpu"]


def test_impossible_rapl_figure_falls_back_to_the_labelled_estimate(tmp_path, clock):
    fake = FakePowercap(tmp_path)
    meter = rapl_meter(tmp_path, package_w=100.0, ratio=2.0)
    meter.begin("train")
    fake.burn(package_j=900.0)                         # 900 J in 2 s: above 100 W x 2 x 2 s
    clock.wall += 2.0
    clock.cpu += 2.0
    m = meter.end("train", flops=1e12)
    cpu = m.components["cpu"]
    assert m.energy_source == "estimated:flops" and "measured" not in m.energy_source
    assert m.energy_j == pytest.approx(1e12 * 2e-11)
    assert cpu["rejected"]["source"] == "measured:rapl"
    assert cpu["rejected"]["energy_j"] == pytest.approx(900.0)
    assert "above 1 package(s) x 100 W x 2" in cpu["rejected"]["reason"]
    # a stage without FLOPs falls back to the CPU-time estimate, again with the reason
    meter.begin("curate")
    fake.burn(package_j=900.0)
    clock.wall += 1.0
    clock.cpu += 1.0
    m = meter.end("curate")
    assert m.energy_source == "estimated:tdp" and "reason" in m.components["cpu"]["rejected"]


def test_rapl_gap_that_may_hide_two_wraps_is_not_reported(tmp_path, clock):
    rng = 10_000_000                                  # 10 J: at 100 W it wraps every 0.1 s
    fake = FakePowercap(tmp_path, package_range_uj=rng)
    meter = rapl_meter(tmp_path)
    meter.begin("stage")
    fake.burn(package_j=3.0)
    clock.wall += 5.0                                 # no sample for 5 s: up to 50 wraps
    m = meter.end("stage")
    assert m.energy_source == "estimated:tdp"
    assert "more than one wrap" in m.components["cpu"]["rejected"]["reason"]


def test_meter_from_config_reads_a_configured_powercap_tree(tmp_path, clock, monkeypatch):
    monkeypatch.setattr(energy, "counter_hints", lambda: [])
    fake = FakePowercap(tmp_path)
    cfg = compose([f"energy.powercap_dir={tmp_path}", "energy.cpu_tdp_w=120",
                   "energy.cpu_package_cores=8"]).energy
    meter = meter_from_config(cfg)
    try:
        meter.begin("x")
        fake.burn(package_j=30.0)
        clock.wall += 1.0
        m = meter.end("x", flops=1e12)
    finally:
        meter.counters.rapl.close()
    assert m.energy_source == "measured:rapl" and m.energy_j == pytest.approx(30.0)
    assert meter.counters.rapl.max_power_w == 120.0
    with pytest.raises(JouleError, match="rapl_max_tdp_ratio"):
        meter_from_config(compose(["energy.rapl_max_tdp_ratio=0.5"]).energy)


def test_unreadable_rapl_range_is_said_not_used(tmp_path):
    FakePowercap(tmp_path)
    (tmp_path / "intel-rapl:0" / "max_energy_range_uj").write_text("0\n")
    counters = energy.probe_counters(tmp_path, 100.0, poll=False)
    assert counters.rapl is None and counters.cpu_source is None
    assert any("max_energy_range_uj is 0" in n for n in counters.notes)


def test_worker_cpu_time_is_counted_in_the_estimate_and_labelled():
    """CPU seconds reported by processes that are not our children (Ray actors) go into the
    window's CPU time and estimate, and the detail says what was and was not counted."""
    meter = EnergyMeter(CpuPower(2.0, "t"))
    meter.begin("stage")
    meter.add_cpu_time("stage", 10.0, "2 Ray actor process(es)")
    m = meter.end("stage")
    assert 10.0 <= m.cpu_time_s < 11.0 and m.energy_j == pytest.approx(2.0 * m.cpu_time_s)
    assert m.detail["workers_cpu_time_s"] == 10.0
    assert m.detail["workers"] == ["2 Ray actor process(es): 10.00 CPU s"]
    assert "raylet" in m.detail["not_counted"]
    with pytest.raises(ValueError, match="not open"):
        meter.add_cpu_time("stage", 1.0, "late")
