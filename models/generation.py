"""On-site generation and storage in the accounting: how much of the plant's electricity came from its own
PV (non-fossil, self-consumed) and how much it exported, from metered energy only (the store's query API).

For a period:

- ``pv`` = the energy of every PV inverter's output meter (``site.onsite.pv[*].meter``);
- ``exported`` = the energy of the grid connection's export meters (``site.onsite.export_meters``);
- a battery charged from PV (``charged_from: pv``) holds PV energy: what went in and did not come out in
  the period (``charge - discharge``: stored, or lost in conversion) is not consumed yet; a negative figure
  (more out than in) is PV energy stored earlier, consumed now. A battery charged from the grid changes
  nothing here (its discharge is grid electricity). One charged from both is counted conservatively: all
  its charge as taken from PV, none of its discharge as non-fossil;
- ``self-consumed non-fossil`` = ``pv - exported - (charge - discharge)`` of PV-charged batteries
  ``- charge`` of batteries charged from both.

A meter named there without any measured energy in the period is refused (a gap is not zero).
"""

from __future__ import annotations

import math

from workspace.errors import TanjianError
from workspace.units import convert


class OnsiteDataMissing(TanjianError):
    """A meter the on-site accounting needs has no energy in the period."""


def _energy(store, start, end, meters: list[str]) -> dict[str, float]:
    if not meters:
        return {}
    e = store.energy(start, end, meters=sorted(set(meters)), freq=None)
    out = dict(zip(e.group.values.tolist(), e.values.tolist()))
    missing = [m for m in meters if not math.isfinite(out.get(m, math.nan))]
    if missing:
        raise OnsiteDataMissing(f"no measured energy from {', '.join(sorted(set(missing)))} between {start} and "
                                f"{end}: the on-site generation figures need them (read or correct the meters)")
    return out


def onsite_flows(store, start, end) -> dict[str, float]:
    """The metered flows behind :func:`onsite_quantities` [kWh]: pv, exported, battery charge and discharge
    by origin (pv, grid, both)."""
    os_ = store.site.onsite
    pv_m = [p.meter for p in os_.pv if p.meter]
    bat = [b for b in os_.batteries if b.charge_meter and b.discharge_meter]
    e = _energy(store, start, end, pv_m + list(os_.export_meters)
                + [m for b in bat for m in (b.charge_meter, b.discharge_meter)])
    out = {"pv": sum(e[m] for m in pv_m), "exported": sum(e[m] for m in os_.export_meters)}
    for origin in ("pv", "grid", "both"):
        out[f"charge_{origin}"] = sum(e[b.charge_meter] for b in bat if b.charged_from == origin)
        out[f"discharge_{origin}"] = sum(e[b.discharge_meter] for b in bat if b.charged_from == origin)
    return out


def onsite_quantities(store, start, end) -> dict[str, float]:
    """``{"electricity_self_consumed_nonfossil": MWh, "electricity_exported": MWh}`` over [start, end)
    (naive times are the site's local time), the names the accounting consumes."""
    f = onsite_flows(store, start, end)
    self_kwh = f["pv"] - f["exported"] - (f["charge_pv"] - f["discharge_pv"]) - f["charge_both"]
    if self_kwh < 0:
        raise OnsiteDataMissing(f"PV {f['pv']:.3f} kWh is less than what was exported and stored "
                                f"({f['exported']:.3f} + {f['charge_pv'] - f['discharge_pv'] + f['charge_both']:.3f} "
                                f"kWh) between {start} and {end}: the export or battery meters measure more than PV "
                                f"(check onsite.export_meters and the batteries' charged_from)")
    return {"electricity_self_consumed_nonfossil": convert(self_kwh, "kWh", "MWh"),
            "electricity_exported": convert(f["exported"], "kWh", "MWh")}


def onsite_power(store, start, end, *, freq: str = "15min"):
    """The plant's load curve with its on-site parts [kW], mean per interval: ``import`` (the plant's top
    electricity meters: what the grid delivers), ``pv``, ``battery_discharge``, ``battery_charge``, ``export``
    and ``load`` = import + pv + discharge - charge - export (what the plant's loads drew). A column whose
    meters are not all read in an interval is NaN there (the store's rule), and so is ``load``."""
    import pandas as pd

    os_ = store.site.onsite
    parts = {"pv": [p.meter for p in os_.pv if p.meter],
             "battery_discharge": [b.discharge_meter for b in os_.batteries if b.discharge_meter],
             "battery_charge": [b.charge_meter for b in os_.batteries if b.charge_meter],
             "export": list(os_.export_meters)}
    imp = store.power(start, end, by="plant", freq=freq).to_pandas()
    out = pd.DataFrame({"import": imp.iloc[:, 0]})
    for name, ms in parts.items():
        if ms:
            p = store.power(start, end, meters=ms, freq=freq).to_pandas()
            out[name] = p[ms].sum(axis=1, min_count=len(ms))
        else:
            out[name] = 0.0
    out["load"] = out["import"] + out["pv"] + out["battery_discharge"] - out["battery_charge"] - out["export"]
    out.attrs = {"units": "kW", "timezone": store.site.plant.timezone}
    return out
