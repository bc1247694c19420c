"""Electricity tariffs as data: the time-of-use schedule (which hour of which month is sharp, peak, flat
or valley, and each period's price ratio) and a plant's tariff (energy prices, the two-part basic charge,
the power-factor adjustment), read from YAML files with their source, status and validity.

The packaged files live in ``workspace/data/tariffs/``: Hunan's 2025 schedule (``CN-HN-tou-2025``) and the
example plant's tariff (``CN-HN-large-industrial-1-10kV``). A plant names its tariff in
``site.plant.tariff`` (a packaged id or a YAML file); a plant in Hunan without one gets the packaged Hunan
tariff, a plant elsewhere must configure its own. A file with a mistake is refused with one line per
problem naming file, line and field (:class:`workspace.errors.ConfigError`).

Periods are numbered in :data:`PERIODS` order (0 sharp … 3 valley) so that a whole year of hours is
classified with one table look-up (:meth:`Schedule.period_index`).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import ConfigError, TanjianError
from .yamlfile import line_of, load_model

#: the time-of-use periods, in the order of their period index
PERIODS: tuple[str, ...] = ("sharp", "peak", "flat", "valley")
#: folder of the packaged tariff files
TARIFF_DIR = Path(__file__).resolve().parent / "data" / "tariffs"
#: the packaged tariff a plant in Hunan gets when it configures none
HUNAN_DEFAULT = "CN-HN-large-industrial-1-10kV"
Status = Literal["primary", "secondary", "unverified", "illustrative"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Season(_Strict):
    name: str = ""
    months: list[int] = Field(min_length=1)
    hours: dict[Literal["sharp", "peak", "flat", "valley"], list[tuple[int, int]]]

    @model_validator(mode="after")
    def _cover_the_day(self) -> "_Season":
        seen: dict[int, str] = {}
        for p, spans in self.hours.items():
            for a, b in spans:
                if not 0 <= a < b <= 24:
                    raise ValueError(f"{p} hours [{a}, {b}]: need 0 <= start < end <= 24")
                for h in range(a, b):
                    if h in seen:
                        raise ValueError(f"hour {h} is both {seen[h]} and {p}")
                    seen[h] = p
        if len(seen) != 24:
            raise ValueError(f"hours {sorted(set(range(24)) - set(seen))} have no period")
        if any(not 1 <= m <= 12 for m in self.months):
            raise ValueError("months are 1..12")
        return self


class _ScheduleFile(_Strict):
    id: str
    region: str
    title: str = ""
    source: str = Field(min_length=1)
    status: Status
    valid_from: dt.date
    valid_to: dt.date | None = None
    ratios: dict[Literal["sharp", "peak", "flat", "valley"], float]
    seasons: list[_Season] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_month_once(self) -> "_ScheduleFile":
        seen: dict[int, int] = {}
        for i, s in enumerate(self.seasons):
            for m in s.months:
                if m in seen:
                    raise ValueError(f"month {m} is in seasons {seen[m]} and {i}")
                seen[m] = i
        if len(seen) != 12:
            raise ValueError(f"months {sorted(set(range(1, 13)) - set(seen))} are in no season")
        used = {p for s in self.seasons for p in s.hours}
        missing = used - set(self.ratios)
        if missing:
            raise ValueError(f"ratios: no ratio for {sorted(missing)}")
        if any(r <= 0 for r in self.ratios.values()):
            raise ValueError("ratios must be positive")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class _Energy(_Strict):
    flat_cny_per_kwh: float = Field(gt=0)
    non_floating_cny_per_kwh: float = Field(0.0, ge=0)
    prices: dict[Literal["sharp", "peak", "flat", "valley"], float] | None = None


class _Basic(_Strict):
    capacity_cny_per_kva_month: float = Field(ge=0)
    demand_cny_per_kw_month: float = Field(ge=0)
    chosen: Literal["capacity", "demand"] = "capacity"
    demand_floor_share: float = Field(0.0, ge=0, le=1)


class _PowerFactor(_Strict):
    standard: Literal[0.90, 0.85, 0.80] = 0.90
    table: str = "pf-adjustment-1983.csv"


class _TariffFile(_Strict):
    id: str
    title: str = ""
    region: str
    voltage_class: str
    currency: Literal["CNY"] = "CNY"
    tou: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    status: Status
    source: str = Field(min_length=1)
    energy: _Energy
    basic_charge: _Basic | None = None
    power_factor: _PowerFactor | None = None

    @model_validator(mode="after")
    def _prices(self) -> "_TariffFile":
        if self.energy.non_floating_cny_per_kwh >= self.energy.flat_cny_per_kwh:
            raise ValueError("energy.non_floating_cny_per_kwh must be below energy.flat_cny_per_kwh")
        return self


@dataclass(frozen=True)
class Schedule:
    """A time-of-use schedule: the period of every (month, hour) and the periods' price ratios."""

    id: str
    region: str
    title: str
    source: str
    status: str
    valid_from: dt.date
    valid_to: dt.date | None
    ratios: dict[str, float]
    table: np.ndarray = field(repr=False)  #: (12, 24) period index of month 1..12, local hour 0..23
    path: Path | None = None

    def hours(self, month: int) -> dict[int, str]:
        """Local hour (0–23) → period name in ``month`` (1–12)."""
        return {h: PERIODS[int(self.table[month - 1, h])] for h in range(24)}

    def period_index(self, times) -> np.ndarray:
        """Period index (into :data:`PERIODS`) of each local time (a pandas DatetimeIndex or datetime64
        array, tz-naive local time; the hour it starts in decides)."""
        import pandas as pd

        t = pd.DatetimeIndex(times)
        return self.table[t.month.to_numpy() - 1, t.hour.to_numpy()]

    def check_covers(self, start: dt.date, end: dt.date, what: str = "") -> None:
        """Refuse a period of local days ``[start, end]`` outside the schedule's validity."""
        if start < self.valid_from or (self.valid_to is not None and end > self.valid_to):
            until = self.valid_to.isoformat() if self.valid_to else "until replaced"
            where = f" ({self.path})" if self.path else ""
            raise TanjianError(f"{what or 'period'} {start}…{end} is outside the validity of time-of-use "
                               f"schedule {self.id}{where}: {self.valid_from} … {until}")


@dataclass(frozen=True)
class Tariff:
    """A plant's electricity tariff (one voltage class, one currency: CNY)."""

    id: str
    title: str
    region: str
    voltage_class: str
    schedule: Schedule
    valid_from: dt.date
    valid_to: dt.date | None
    status: str
    source: str
    flat_price: float  #: flat-period energy price [CNY/kWh]
    non_floating: float  #: part of the energy price that does not float with the period [CNY/kWh]
    explicit_prices: dict[str, float] | None
    capacity_price: float | None  #: basic charge by capacity [CNY/(kVA·month)]
    demand_price: float | None  #: basic charge by maximum demand [CNY/(kW·month)]
    basic_chosen: str | None
    demand_floor_share: float
    pf_standard: float | None
    pf_table: dict[float, dict[int, float]] = field(repr=False, default_factory=dict)
    pf_source: str = ""
    path: Path | None = None

    def price(self, period: str) -> float:
        """Energy price of a period [CNY/kWh]: the file's explicit price, else non-floating part plus the
        floating part (flat − non-floating) times the schedule's ratio."""
        if self.explicit_prices and period in self.explicit_prices:
            return self.explicit_prices[period]
        n = self.non_floating
        return n + (self.flat_price - n) * self.schedule.ratios[period]

    def prices(self) -> np.ndarray:
        """Energy price of each period in :data:`PERIODS` order [CNY/kWh] (NaN for a period the schedule
        has no ratio for)."""
        return np.array([self.price(p) if p in self.schedule.ratios or p in (self.explicit_prices or {})
                         else np.nan for p in PERIODS])

    def pf_adjustment_pct(self, power_factor: float, standard: float | None = None) -> float:
        """The charge's adjustment [%] for a month's average power factor (rounded half up to two decimals,
        as the 1983 rules say), under ``standard`` (default: the tariff's)."""
        std = standard if standard is not None else self.pf_standard
        if std is None or not self.pf_table:
            raise TanjianError(f"tariff {self.id}: no power-factor adjustment configured")
        return pf_adjustment_pct(power_factor, std, self.pf_table)


def pf_adjustment_pct(power_factor: float, standard: float, table: dict[float, dict[int, float]]) -> float:
    """Look ``power_factor`` up in a table read by :func:`load_pf_table` (rounded half up to 0.01)."""
    if not 0 < power_factor <= 1:
        raise TanjianError(f"power factor {power_factor}: must be in (0, 1]")
    key = int(np.floor(power_factor * 100 + 0.5 + 1e-9))
    col = table.get(round(standard, 2))
    if col is None:
        raise TanjianError(f"power-factor standard {standard}: not in the table ({sorted(table)})")
    if key not in col:
        raise TanjianError(f"power factor {power_factor:.2f}: below the table's lowest row "
                           f"({min(col) / 100:.2f})")
    return col[key]


def _read(path: Path, model):
    return load_model(path, model, "a tariff file is a mapping")


def _resolve(name: str, base: Path | None) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        return p if p.is_absolute() or base is None else base / p
    hit = TARIFF_DIR / f"{name}.yaml"
    if not hit.exists():
        known = sorted(f.stem for f in TARIFF_DIR.glob("*.yaml"))
        raise TanjianError(f"tariff {name!r}: no such packaged tariff or schedule ({', '.join(known)}), and "
                           f"not a .yaml file")
    return hit


def load_schedule(name: str, base: Path | None = None) -> Schedule:
    """A time-of-use schedule: a packaged id (``CN-HN-tou-2025``) or a YAML file (relative to ``base``)."""
    path = _resolve(name, base)
    f, _ = _read(path, _ScheduleFile)
    table = np.zeros((12, 24), np.int8)
    for s in f.seasons:
        for p, spans in s.hours.items():
            for a, b in spans:
                for m in s.months:
                    table[m - 1, a:b] = PERIODS.index(p)
    return Schedule(id=f.id, region=f.region, title=f.title, source=" ".join(f.source.split()), status=f.status,
                    valid_from=f.valid_from, valid_to=f.valid_to, ratios=dict(f.ratios), table=table, path=path)


def load_pf_table(path: Path) -> dict[float, dict[int, float]]:
    """Standard (0.90, 0.85, 0.80) → {power factor × 100 → adjustment [%]} from the CSV table."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    except OSError as exc:
        raise ConfigError([(str(path), None, "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    out: dict[float, dict[int, float]] = {}
    for i, r in enumerate(rows):
        try:
            pf = int(round(float(r.pop("power_factor")) * 100))
            for col, v in r.items():
                std = round(float(col.removeprefix("adj_std_").removesuffix("_pct")), 2)
                out.setdefault(std, {})[pf] = float(v)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError([(str(path), None, f"row {i + 1}", f"not a number: {exc}")]) from None
    return out


def load_tariff(name: str, base: Path | None = None) -> Tariff:
    """A plant tariff: a packaged id (``CN-HN-large-industrial-1-10kV``) or a YAML file (relative to
    ``base``); its ``tou`` schedule is resolved the same way (relative to the tariff file's folder)."""
    path = _resolve(name, base)
    f, doc = _read(path, _TariffFile)
    try:
        schedule = load_schedule(f.tou, path.parent)
    except TanjianError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError([(str(path), line_of(doc, ("tou",)), "tou", str(exc))]) from None
    used = {PERIODS[i] for i in np.unique(schedule.table)}
    if f.energy.prices is not None and not used <= set(f.energy.prices):
        raise ConfigError([(str(path), line_of(doc, ("energy", "prices")), "energy.prices",
                            f"no price for {sorted(used - set(f.energy.prices))}")])
    pf_table, pf_source = {}, ""
    if f.power_factor is not None:
        t = Path(f.power_factor.table)
        t = t if t.is_absolute() else path.parent / t
        if not t.exists():
            t = TARIFF_DIR / f.power_factor.table
        pf_table, pf_source = load_pf_table(t), str(t.name)
        if round(f.power_factor.standard, 2) not in pf_table:
            raise ConfigError([(str(path), line_of(doc, ("power_factor", "standard")), "power_factor.standard",
                                f"the table {t.name} has no column for {f.power_factor.standard}")])
    b = f.basic_charge
    return Tariff(id=f.id, title=f.title, region=f.region, voltage_class=f.voltage_class, schedule=schedule,
                  valid_from=f.valid_from, valid_to=f.valid_to, status=f.status,
                  source=" ".join(f.source.split()), flat_price=f.energy.flat_cny_per_kwh,
                  non_floating=f.energy.non_floating_cny_per_kwh, explicit_prices=f.energy.prices,
                  capacity_price=b.capacity_cny_per_kva_month if b else None,
                  demand_price=b.demand_cny_per_kw_month if b else None, basic_chosen=b.chosen if b else None,
                  demand_floor_share=b.demand_floor_share if b else 0.0,
                  pf_standard=f.power_factor.standard if f.power_factor else None, pf_table=pf_table,
                  pf_source=pf_source, path=path)


def in_hunan(province: str) -> bool:
    """Whether a plant's ``province`` is Hunan (as the site model spells it)."""
    return province.strip().lower() in ("hunan", "湖南", "湖南省", "cn-hn")


def plant_tariff(site, base: Path | None = None) -> Tariff:
    """The tariff of a site model's plant (``site.plant.tariff``; a plant in Hunan without one gets
    :data:`HUNAN_DEFAULT`). ``base``: the configuration's folder, for a relative file name.

    Raises
    ------
    TanjianError
        For a plant outside Hunan without a configured tariff; ConfigError for a bad tariff file.
    """
    name = site.plant.tariff
    if name is None:
        if not in_hunan(site.plant.province):
            raise TanjianError(f"plant {site.plant.id} in {site.plant.province}: no electricity tariff "
                               f"configured; set site.plant.tariff to a tariff YAML file (copy "
                               f"{TARIFF_DIR / (HUNAN_DEFAULT + '.yaml')} and its schedule as a start)")
        name = HUNAN_DEFAULT
    return load_tariff(name, base)


def config_tariff(cfg) -> Tariff:
    """:func:`plant_tariff` of a loaded configuration (relative files beside the configuration file)."""
    base = Path(cfg.source).parent if getattr(cfg, "source", None) else None
    return plant_tariff(cfg.site, base)
