"""PV yield with pvlib for a site's location and roof orientation, offline: hourly energy per kWp of a year.

The hourly shape comes from pvlib's Ineichen clear-sky model (Linke turbidity from the climatology pvlib
ships, so nothing is downloaded), its yearly global horizontal irradiation is scaled to the climate file's
sourced yearly total, split into direct and diffuse with Erbs, transposed to the roof with Hay-Davies,
the cell temperature from the SAPM model (close-mount glass/polymer on a roof) with the month's mean air
temperature, and DC power from PVWatts with the system losses (PVWatts defaults: 14 %). Without cloud
variability, the hours are smoother than a real year: self-consumption is slightly optimistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workspace.errors import ConfigError

from workspace.yamlfile import plain, read_yaml

from .scenario import DATA_DIR

#: the packaged offline climate used when a scenario names none
DEFAULT_CLIMATE = DATA_DIR / "climate-changsha.yaml"


@dataclass(frozen=True)
class Climate:
    """An offline climate: yearly GHI [kWh/m2], monthly mean air temperature [degC], wind [m/s]."""

    id: str
    ghi_annual_kwh_m2: float
    temp_air: tuple[float, ...]
    wind_speed: float
    source: str
    path: Path | None = None


def load_climate(path: str | Path | None = None) -> Climate:
    """Read a climate file (default: Changsha's); problems name file and field."""
    p = Path(path) if path else DEFAULT_CLIMATE
    d = plain(read_yaml(p))
    try:
        ghi = d["ghi_annual"]
        unit = ghi["unit"]
        factor = {"MJ/m2/yr": 1 / 3.6, "kWh/m2/yr": 1.0}[unit]
        temps = tuple(float(x) for x in d["temp_air"]["value"])
        if len(temps) != 12:
            raise ValueError("temp_air.value: need 12 monthly values")
        return Climate(d["id"], float(ghi["value"]) * factor, temps, float(d["wind_speed"]["value"]),
                       ghi["source"].strip(), p)
    except KeyError as exc:
        raise ConfigError([(str(p), None, str(exc.args[0]), "missing (or an unknown unit)")]) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError([(str(p), None, "(document)", str(exc))]) from None


def dc_power(poa_w_m2, temp_cell, pdc0_w: float, gamma_pdc: float):
    """PVWatts DC power [W] (pvlib.pvsystem.pvwatts_dc): pdc0 x POA/1000 x (1 + gamma (T_cell - 25))."""
    import pvlib

    return pvlib.pvsystem.pvwatts_dc(poa_w_m2, temp_cell, pdc0_w, gamma_pdc)


def hourly_weather(latitude: float, longitude: float, altitude_m: float, year: int, climate: Climate,
                   timezone: str = "Asia/Shanghai") -> pd.DataFrame:
    """Hourly GHI, DNI, DHI [W/m2], air temperature, wind and sun position for ``year`` (index: local
    tz-naive hour starts; values at the middle of each hour). GHI is clear-sky scaled to the yearly total."""
    import pvlib

    start = pd.Timestamp(f"{year}-01-01", tz=timezone)
    idx = pd.date_range(start, pd.Timestamp(f"{year + 1}-01-01", tz=timezone), freq="h", inclusive="left")
    mid = idx + pd.Timedelta(minutes=30)
    loc = pvlib.location.Location(latitude, longitude, tz=timezone, altitude=altitude_m)
    sun = loc.get_solarposition(mid)
    cs = loc.get_clearsky(mid, model="ineichen", solar_position=sun)
    ghi = cs["ghi"].to_numpy() * climate.ghi_annual_kwh_m2 * 1000.0 / cs["ghi"].sum()
    split = pvlib.irradiance.erbs(ghi, sun["zenith"].to_numpy(), mid)
    temp = np.asarray(climate.temp_air)[idx.month - 1]
    return pd.DataFrame({"ghi": ghi, "dni": np.asarray(split["dni"]), "dhi": np.asarray(split["dhi"]),
                         "temp_air": temp, "wind_speed": climate.wind_speed,
                         "zenith": sun["apparent_zenith"].to_numpy(), "azimuth": sun["azimuth"].to_numpy(),
                         "dni_extra": np.asarray(pvlib.irradiance.get_extra_radiation(mid))},
                        index=idx.tz_localize(None))


def hourly_yield(weather: pd.DataFrame, tilt: float, azimuth: float, *, losses: float = 0.14,
                 gamma_pdc: float = -0.0037) -> pd.Series:
    """Energy of 1 kWp in each hour [kWh/kWp] on a roof of ``tilt``/``azimuth`` [deg] (see module docstring)."""
    import pvlib

    poa = pvlib.irradiance.get_total_irradiance(
        tilt, azimuth, weather["zenith"], weather["azimuth"], weather["dni"], weather["ghi"], weather["dhi"],
        dni_extra=weather["dni_extra"], model="haydavies")["poa_global"].fillna(0.0)
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["close_mount_glass_glass"]
    tcell = pvlib.temperature.sapm_cell(poa, weather["temp_air"], weather["wind_speed"], **params)
    dc = dc_power(poa, tcell, 1000.0, gamma_pdc) * (1.0 - losses)  # W per kWp over one hour = Wh
    return pd.Series(np.clip(np.asarray(dc, dtype=float), 0.0, None) / 1000.0, index=weather.index,
                     name="kwh_per_kwp")


def site_yield(site, year: int, *, losses: float = 0.14, gamma_pdc: float = -0.0037,
               climate: Climate | None = None) -> pd.Series:
    """Hourly yield [kWh/kWp] of a scenario's site and roof (:class:`models.reduction.scenario.Site`)."""
    c = climate or load_climate(site.climate)
    w = hourly_weather(site.latitude, site.longitude, site.altitude_m, year, c, site.timezone)
    return hourly_yield(w, site.roof.tilt, site.roof.azimuth, losses=losses, gamma_pdc=gamma_pdc)
