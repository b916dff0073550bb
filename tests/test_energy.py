"""The energy meter: Zeus counters where they exist (NVML mocked here), a labelled estimate else."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from types import SimpleNamespace

import pynvml
import pytest
import zeus.device
import zeus.device.cpu as zeus_cpu
import zeus.device.gpu as zeus_gpu
from zeus.device.cpu.common import CPU, CpuDramMeasurement, CPUs

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


class FakeRaplCpu(CPU):
    def __init__(self, owner):
        super().__init__(0)
        self.owner = owner

    def get_total_energy_consumption(self) -> CpuDramMeasurement:
        return CpuDramMeasurement(cpu_mj=self.owner.cpu_mj, dram_mj=self.owner.dram_mj)

    def supports_get_dram_energy_consumption(self) -> bool:
        return True


class FakeRapl(CPUs):
    """One RAPL package with a DRAM sub-zone; counters in mJ."""

    def __init__(self):
        self.cpu_mj, self.dram_mj = 1_000_000.0, 500_000.0
        self._cpus = [FakeRaplCpu(self)]

    def __del__(self) -> None:
        pass

    @property
    def cpus(self) -> Sequence[CPU]:
        return self._cpus


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
    meter = meter_from_config(compose().energy)
    meter.begin("x")
    clock.cpu += 1.0
    m = meter.end("x")
    assert m.energy_source == "estimated:tdp" and "Zeus not loaded" in m.detail["counters"][0]


def test_nested_and_overlapping_windows_with_nvml(monkeypatch, clock):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    nvml = FakeNvml(monkeypatch, n_gpus=1)
    monkeypatch.setattr(zeus_cpu, "_cpus", FakeRapl())
    meter = EnergyMeter(CpuPower(2.0, "unused with RAPL"), energy.probe_counters())
    rapl = zeus_cpu._cpus
    meter.begin("stage")
    nvml.burn({0: 1.0})
    meter.begin("segment")                  # nested
    nvml.burn({0: 2.0})
    rapl.cpu_mj += 7000.0
    rapl.dram_mj += 1000.0
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
