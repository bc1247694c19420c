"""What the energy-management (EMS) pages show, as plain tables (no Panel here).

The page's state is a period (a local day, week or month: :class:`Period`, read from and written to the URL
as ``?period=day&date=2026-12-04&against=week``) and what it is compared with. Every table comes from one
function of :mod:`models.energy` (or the query API) over that period, pinned to one store snapshot, so a
number on the page is the number ``tanjian energy`` prints for the same period:

========================  =========================================================================
section                   model function
========================  =========================================================================
``load``                  :func:`models.energy.load.load_curve` of the period and of the period before
``compare``               :func:`models.energy.load.compare` by workshop (同比/环比)
``transformers``          :func:`models.energy.transformers.transformer_report`
``tou``                   :func:`models.energy.tou.tou_cost` by workshop, and the plant's row
``demand``                :func:`models.energy.demand.basic_charge_report`
``states``                :func:`models.energy.states.device_states`
``unit``                  :func:`models.energy.unit_consumption.unit_consumption` (needs imported output)
========================  =========================================================================

A section that cannot be computed (no tariff for the period, no production imported) gives a
:class:`Section` with ``note`` saying why, never an exception on the page.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import pandas as pd

from workspace.errors import TanjianError

log = logging.getLogger(__name__)

#: period kinds and their length
KINDS = ("day", "week", "month")
#: what a period is compared with ("day" = the day before; the others as models.energy.load.OFFSETS)
AGAINST = ("day", "week", "month", "year")
SECTIONS = ("load", "compare", "transformers", "tou", "demand", "states", "unit")
#: load-curve interval per period kind
LOAD_FREQ = {"day": "15min", "week": "1h", "month": "1h"}


@dataclass(frozen=True)
class Period:
    """A local, tz-naive ``[start, end)`` of ``kind`` containing ``date``, compared with ``against``."""

    kind: str
    date: dt.date
    against: str = "day"

    @property
    def start(self) -> pd.Timestamp:
        d = pd.Timestamp(self.date)
        if self.kind == "week":
            return d - pd.Timedelta(days=d.weekday())
        if self.kind == "month":
            return d.replace(day=1)
        return d

    @property
    def end(self) -> pd.Timestamp:
        a = self.start
        return a + {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1),
                    "month": pd.DateOffset(months=1)}[self.kind]

    @property
    def offset(self) -> pd.DateOffset:
        from models.energy.load import OFFSETS

        return pd.DateOffset(days=1) if self.against == "day" else OFFSETS[self.against]

    @property
    def before(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The period it is compared with: the same span ``against`` earlier."""
        return self.start - self.offset, self.end - self.offset

    def query(self) -> dict[str, str]:
        """The URL query that opens this period (for deep links)."""
        return {"period": self.kind, "date": self.date.isoformat(), "against": self.against}

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m-%d} … {self.end - pd.Timedelta(days=1):%Y-%m-%d}" if self.kind != "day" \
            else f"{self.start:%Y-%m-%d}"


def period_from_query(query: dict, today: dt.date) -> tuple[Period, list[str]]:
    """The period a URL asks for, and one line per query value that was refused (then the default is used).

    ``query``: ``period`` (day|week|month, default day), ``date`` (ISO, default ``today``), ``against``
    (day|week|month|year, default day). Values may be lists (as ``pn.state.session_args`` gives bytes).
    """
    def one(key):
        v = query.get(key)
        if isinstance(v, (list, tuple)):
            v = v[0] if v else None
        return v.decode() if isinstance(v, bytes) else v

    notes = []
    kind, against, date = one("period") or "day", one("against") or "day", today
    if kind not in KINDS:
        notes.append(f"URL period={kind!r}: not one of {', '.join(KINDS)}; showing a day")
        kind = "day"
    if against not in AGAINST:
        notes.append(f"URL against={against!r}: not one of {', '.join(AGAINST)}; comparing with the day before")
        against = "day"
    if one("date"):
        try:
            date = dt.date.fromisoformat(one("date"))
        except ValueError:
            notes.append(f"URL date={one('date')!r}: not a date (YYYY-MM-DD); showing {today}")
    return Period(kind, date, against), notes


@dataclass
class Section:
    """One table of a page: ``table`` (may be empty), its ``unit`` text, a ``note`` when it could not be made,
    and ``extra`` tables (e.g. the load curve of the period before)."""

    name: str
    table: pd.DataFrame
    title: str = ""
    note: str = ""
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)


def _empty(name: str, title: str, note: str) -> Section:
    return Section(name, pd.DataFrame(), title, note)


def days_label(a: pd.Timestamp, b: pd.Timestamp) -> str:
    """``[a, b)`` as inclusive days: one day alone, else first … last."""
    last = b - pd.Timedelta(days=1)
    return f"{a:%Y-%m-%d}" if last <= a else f"{a:%Y-%m-%d} … {last:%Y-%m-%d}"


def load_section(store, cfg, p: Period, *, as_of=None) -> Section:
    """The plant's load curve [kW] of the period, and the period before on the same clock (column ``before``)."""
    from models.energy.load import load_curve

    freq = LOAD_FREQ[p.kind]
    now = load_curve(store, p.start, p.end, by="plant", freq=freq, as_of=as_of)
    b0, b1 = p.before
    then = load_curve(store, b0, b1, by="plant", freq=freq, as_of=as_of)
    plant = cfg.site.plant.id
    df = pd.DataFrame({"this_kw": now[plant]})
    shifted = pd.Series(then[plant].to_numpy(), index=then.index + p.offset)  # onto this period's clock
    df["before_kw"] = shifted.reindex(df.index)
    df.index.name = "time"
    before = days_label(b0, b1)
    return Section("load", df, f"plant load [kW], {freq} means, {p.label} against {before}")


def compare_section(store, cfg, p: Period, *, as_of=None) -> Section:
    """Energy [kWh] per workshop and for the plant against the period before (same span ``against`` earlier)."""
    from models.energy.load import compare

    against = "week" if p.against == "day" and p.kind != "day" else p.against
    if against == "day":  # the day before: compare() knows week/month/year only, so the same arithmetic here
        from workspace.store.energy import energy

        b0, b1 = p.before
        rows = {}
        for by in ("plant", "workshop"):
            now = energy(store, p.start, p.end, by=by, freq=None, as_of=as_of).to_pandas()
            then = energy(store, b0, b1, by=by, freq=None, as_of=as_of).to_pandas()
            for g in now.index:
                rows[g] = {"this_kwh": float(now[g]), "before_kwh": float(then.get(g, float("nan")))}
        df = pd.DataFrame.from_dict(rows, orient="index")
        df["change_kwh"] = df["this_kwh"] - df["before_kwh"]
        df["change_pct"] = df["change_kwh"] / df["before_kwh"].where(df["before_kwh"] > 0) * 100.0
    else:
        df = pd.concat([compare(store, p.start, p.end, against=against, by=by, as_of=as_of)
                        for by in ("plant", "workshop")])
    df.index.name = "group"
    note = ""
    latest = store.latest_time(as_of)
    if latest is not None:
        t = pd.Timestamp(latest)
        t = (t.tz_convert(cfg.site.plant.timezone) if t.tzinfo else t).tz_localize(None)
        if t < p.end:
            note = (f"this period is not over: its energy runs to the newest reading ({t:%Y-%m-%d %H:%M}); the "
                    f"period before is whole")
    return Section("compare", df, f"energy [kWh], {p.label} against the same span a {against} before", note)


def transformers_section(store, cfg, p: Period, *, as_of=None) -> Section:
    """Per transformer: load rates, overload minutes, losses and early signs; and the load rate curve."""
    from models.energy.transformers import transformer_loads, transformer_report

    if not cfg.site.transformers:
        return _empty("transformers", "transformers", "the site model lists no transformers")
    df = transformer_report(store, cfg.site, p.start, p.end, as_of=as_of)
    rates = transformer_loads(store, cfg.site, p.start, p.end, as_of=as_of)
    keep = ["rated_kva", "peak_kw", "peak_rate", "mean_rate", "overload_minutes", "band_low", "band_high",
            "in_band_pct", "loss_kwh", "loss_pct", "pf_mean", "signs"]
    return Section("transformers", df[[c for c in keep if c in df]], f"transformers, {p.label} (rate = load / rated kVA)",
                   extra={"rates": pd.DataFrame(rates)})


def tou_section(store, cfg, p: Period, *, as_of=None) -> Section:
    """Energy [kWh], share [%] and cost [CNY] per time-of-use period, for the plant and each workshop."""
    from models.energy.tou import tou_cost
    from workspace.tariffs import config_tariff

    try:
        t = config_tariff(cfg)
        df = pd.concat([tou_cost(store, t, p.start, p.end, by=by, as_of=as_of) for by in ("plant", "workshop")])
    except TanjianError as exc:
        return _empty("tou", "time of use", str(exc))
    df.index.name = "group"
    return Section("tou", df, f"time-of-use energy and cost, tariff {t.id} ({t.status}), {p.label}")


def demand_section(store, cfg, p: Period, *, as_of=None) -> Section:
    """Per month in the period: maximum 15-min demand and the basic charge by capacity and by demand."""
    from models.energy.demand import basic_charge_report
    from workspace.tariffs import config_tariff

    try:
        t = config_tariff(cfg)
    except TanjianError as exc:
        return _empty("demand", "demand", str(exc))
    parts, empty = [], []
    a = p.start
    while a < p.end:  # month by month: a month without readings is named, not an error of the whole period
        b = min(p.end, (a + pd.offsets.MonthBegin(1)).normalize())
        parts.append(basic_charge_report(store, cfg.site, t, a, b, as_of=as_of))
        empty += parts[-1].attrs["months_without_readings"]
        a = b
    df = pd.concat([x for x in parts if len(x)]) if any(len(x) for x in parts) else pd.DataFrame()
    note = f"no readings in {', '.join(empty)}" if empty else ""
    return Section("demand", df, f"maximum 15-min demand and basic charge [CNY/month], tariff {t.id}", note)


def states_section(store, cfg, p: Period, *, as_of=None) -> Section:
    """Per metered device: running, standby and start-up energy [kWh] and what standby could save."""
    from models.energy.states import device_states

    df = device_states(store, cfg.site, p.start, p.end, as_of=as_of)
    keep = ["kind", "role", "running_kwh", "standby_kwh", "startup_kwh", "standby_share_pct", "saveable_kwh"]
    if not df.empty:
        df = df[[c for c in keep if c in df]]
    return Section("states", df, f"start-up, standby and running energy per device, {p.label}")


def unit_section(store, cfg, p: Period, *, as_of=None) -> Section:
    """Unit consumption per shift and team [kWh/unit] from the imported production output."""
    from models.energy.unit_consumption import unit_consumption
    from workspace.business.documents import load_activity

    first, last = p.start.date(), (p.end - pd.Timedelta(days=1)).date()
    prod = load_activity(cfg.paths.data_dir, first, last, kinds=["production"])
    if prod.empty:
        return _empty("unit", "unit consumption",
                      f"no production output imported for {first} … {last}: import the ERP output first "
                      f"(tanjian import FILE --mapping erp_production, or the data page)")
    r = unit_consumption(store, cfg.site, prod, first, last, by="workshop", as_of=as_of)
    return Section("unit", r.shifts, f"unit consumption per shift [kWh/unit], {first} … {last}",
                   extra={"teams": r.teams, "products": r.products})


BUILDERS = {"load": load_section, "compare": compare_section, "transformers": transformers_section,
            "tou": tou_section, "demand": demand_section, "states": states_section, "unit": unit_section}


def section(name: str, store, cfg, p: Period, *, as_of=None) -> Section:
    """The table ``name`` (one of :data:`SECTIONS`) of period ``p`` at snapshot ``as_of``."""
    if name not in BUILDERS:
        raise ValueError(f"unknown EMS section {name!r}: one of {', '.join(SECTIONS)}")
    return BUILDERS[name](store, cfg, p, as_of=as_of)


def load_move(cfg, day: dt.date, from_hours, to_hours, kw: float) -> dict[str, float]:
    """The load-move calculator: moving a constant ``kw`` from ``from_hours`` to ``to_hours`` on ``day``
    (:func:`models.energy.loadmove.move_saving` with the configured tariff)."""
    from models.energy.loadmove import move_saving
    from workspace.tariffs import config_tariff

    return move_saving(config_tariff(cfg), day, from_hours, to_hours, kw=kw)


def parse_hours(text: str, what: str) -> list[int]:
    """Hours typed by a person: ``"8-11, 14"`` -> [8, 9, 10, 11, 14]; a refusal names ``what`` and the bad part."""
    out: list[int] = []
    for part in (x.strip() for x in text.replace("，", ",").split(",")):
        if not part:
            continue
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if b < a:
                    raise ValueError
                out += list(range(a, b + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise TanjianError(f"{what}: {part!r} is not an hour or a range like 8-11") from None
    if not out or any(not 0 <= h <= 23 for h in out):
        raise TanjianError(f"{what}: give local hours 0..23, e.g. 8-11, 14")
    return sorted(set(out))
