"""Metered activity: energy per group and month from the store, with its data quality.

:func:`store_records` turns the store's rollups into activity records for the inventory
(electricity from the plant's, workshops' and devices' top meters; natural gas from the gas
meters), each with the estimated share (from the daily ``measured`` minutes) and, for periods up
to 31 days, the manually entered share (from the minute quality flags) of its energy.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

__all__ = ["store_records"]


def store_records(store, site, start, end, level, as_of, medium) -> tuple[list[dict], str | None]:
    """Energy per group and month from the store's rollups, with its data quality.

    Groups: the plant's main meters (plant and source levels); each workshop's top meters
    (``Site.top_meters``) and the rest of the plant's main meters (workshop level); at device level,
    each device's meters (``Meter.device``: the sub-meters that measure one device), each workshop's
    unmetered remainder (its top meters minus its device meters, labelled) and the rest of the
    plant's main meters. Device lines plus the remainder sum to the workshop's total.

    One energy query for every meter involved (per meter and month), one read of the daily
    ``measured`` rollup for the estimated share of every group, and, for periods up to 31 days, one
    read of the minute quality flags for the MANUAL share (no rollup counts them).
    """
    lo = pd.Timestamp(start)
    hi = pd.Timestamp(end) + pd.Timedelta(days=1)
    roots = site.top_meters(medium)
    if not roots:
        return [], None
    # key -> (workshop, device, meters added, meters subtracted, label)
    groups: dict[str, tuple] = {}
    quality_sets: dict[str, list[str]] = {"__plant__": list(roots)}
    if level in ("workshop", "device"):
        for w in site.workshops:
            tops = site.top_meters(medium, w.id)
            if not tops:
                continue
            if level == "device":
                from workspace.store.query import device_meters

                devs = dict(sorted(device_meters(site, medium, w.id).items()))
                sub = [m for ms in devs.values() for m in ms]
                for dev, ms in devs.items():
                    groups[f"{w.id}/{dev}"] = (w.id, dev, ms, [], "")
                    quality_sets[f"{w.id}/{dev}"] = ms
                label = (f" (unmetered remainder: workshop {w.id} main meters minus its device meters "
                         f"{'+'.join(sub)})" if sub else f" (workshop {w.id} main meters: no device meter)")
                groups[f"{w.id}/"] = (w.id, None, tops, sub, label)
                quality_sets[f"{w.id}/"] = list(dict.fromkeys(tops + sub))
            else:
                groups[w.id] = (w.id, None, tops, [], "")
                quality_sets[w.id] = tops
    meters = sorted({m for _, _, plus, minus, _ in groups.values() for m in plus + minus} | set(roots))
    arr = store.energy(lo.to_pydatetime(), hi.to_pydatetime(), medium=medium, freq="MS", meters=meters, as_of=as_of)
    snapshot = arr.attrs.get("snapshot")
    per_meter = pd.DataFrame(arr.fillna(0).values, index=pd.DatetimeIndex(arr["time"].values),
                             columns=[str(g) for g in arr["group"].values])
    # estimated share = 1 - measured minutes / (minutes of the period x meters), as Store.energy's coverage
    tz = site.plant.timezone
    period_min = (hi.tz_localize(tz) - lo.tz_localize(tz)) / pd.Timedelta(minutes=1)
    measured = store.measured_days(start, end, meters, as_of=as_of)
    est, man = {}, {}
    manual = None  # MANUAL minutes per meter: no rollup counts them, so only for periods up to 31 days
    if hi - lo <= pd.Timedelta(days=31):
        from workspace.quality import Q

        manual = store.flagged_minutes(start, end, meters, Q.MANUAL, as_of=as_of)
    for k, ms in quality_sets.items():
        est[k] = 1.0 - float(sum(measured[m] for m in ms)) / (period_min * len(ms)) if period_min else 1.0
        if manual is None:
            man[k] = None
        else:
            man[k] = float(sum(manual[m] for m in ms)) / (period_min * len(ms)) if period_min else 0.0
    out = []
    unit = "kWh" if medium == "electricity" else "Nm3"
    values = per_meter.to_numpy()
    col = {m: i for i, m in enumerate(per_meter.columns)}
    idx = {key: ([col[m] for m in plus], [col[m] for m in minus]) for key, (_, _, plus, minus, _) in groups.items()}
    origins = {key: f"store:{medium}:{'+'.join(plus)}" + (f"-({'+'.join(minus)})" if minus else "")
               + f"@{snapshot}{label}" for key, (_, _, plus, minus, label) in groups.items()}
    root_idx = [col[m] for m in roots]
    for i, t in enumerate(per_meter.index):
        m_start = max(t.date(), start)
        m_end = min((t + pd.offsets.MonthEnd(0)).date(), end)
        row = values[i]
        part = 0.0
        for key, (ws, dev, _plus, _minus, _label) in groups.items():
            p, n = idx[key]
            v = float(row[p].sum()) - (float(row[n].sum()) if n else 0.0)
            part += v
            out.append(dict(workshop=ws, device=dev, period_start=m_start, period_end=m_end, qty=v, unit=unit,
                            origin=origins[key], u_key="activity:meter", dq=(est[key], man[key]),
                            use="stationary", item="natural_gas"))
        rest = float(row[root_idx].sum()) - part
        if groups and abs(rest) < 1e-9:
            continue
        out.append(dict(workshop=None, device=None, period_start=m_start, period_end=m_end, qty=rest, unit=unit,
                        origin=f"store:{medium}:{'+'.join(roots)}@{snapshot}" + (
                            " (plant main meters minus the workshops' meters)" if groups else ""),
                        u_key="activity:meter", dq=(est["__plant__"], man["__plant__"]), use="stationary",
                        item="natural_gas"))
    return out, snapshot
