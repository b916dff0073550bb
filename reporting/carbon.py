"""Grams of CO2-equivalent from joules: an estimate, from a configured grid carbon intensity.

    gCO2e = energy_j / 3.6e6 (kWh) * intensity (gCO2e/kWh)

`experiment.carbon.grid_intensity_g_per_kwh` with its `source`, or, with `country` set (ISO 3166
alpha-3, e.g. FRA), the country's figure from CodeCarbon's energy-mix data where `codecarbon` is
installed (an optional dependency: `pip install 'joule[carbon]'`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from joule.errors import JouleError

J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class GridIntensity:
    g_per_kwh: float
    source: str

    def grams(self, energy_j: float) -> float:
        """gCO2e of `energy_j` joules (an estimate)."""
        return energy_j / J_PER_KWH * self.g_per_kwh


def codecarbon_intensity(country: str) -> GridIntensity:
    """The country's carbon intensity from CodeCarbon's global_energy_mix.json."""
    try:
        data_dir = resources.files("codecarbon") / "data" / "private_infra"
    except ModuleNotFoundError as exc:
        raise JouleError(f"experiment.carbon.country={country!r} needs the optional package "
                         "codecarbon (pip install codecarbon), or set "
                         "experiment.carbon.grid_intensity_g_per_kwh instead") from exc
    mix = json.loads((data_dir / "global_energy_mix.json").read_text())
    entry = mix.get(country.upper())
    if not entry or entry.get("carbon_intensity") is None:
        raise JouleError(f"experiment.carbon.country={country!r} is not in CodeCarbon's "
                         "global_energy_mix.json (ISO 3166 alpha-3 codes, e.g. FRA)")
    from importlib.metadata import version

    return GridIntensity(float(entry["carbon_intensity"]),
                         f"CodeCarbon {version('codecarbon')} global_energy_mix.json, "
                         f"{entry.get('country_name', country)} ({entry.get('year', 'year n/a')})")


def grid_intensity(carbon_cfg) -> GridIntensity:
    """The intensity `experiment.carbon` describes; JouleError naming the key if unusable."""
    country = carbon_cfg.get("country")
    if country:
        return codecarbon_intensity(str(country))
    value = carbon_cfg.get("grid_intensity_g_per_kwh")
    source = carbon_cfg.get("source")
    if value is None or float(value) < 0 or not source:
        raise JouleError("config keys 'experiment.carbon.grid_intensity_g_per_kwh' (>= 0) and "
                         "'experiment.carbon.source' must be set, or 'experiment.carbon.country'")
    return GridIntensity(float(value), str(source))
