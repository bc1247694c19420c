"""A reduction scenario as data: the schema of a scenario file, its prices with source and date, and loading it.

A scenario file (YAML, ``schema: tanjian.reduction-scenario/1``) holds everything the plan is optimised from:
the horizon, the baseline (measured electricity, gas and other direct emissions, the hourly load profile),
the grid factors of the compliance and the market-based view, the tariff, the PV roof and prices, the
efficiency projects (from the catalogue ``projects.yaml`` or written out), green power, certificates and
offsets with prices and availability, the internal carbon price, the budget and the targets. Every price
carries its source, its date and a status; a mistake is refused with one line per problem naming file,
line and field (:class:`workspace.errors.ConfigError`).

Packaged scenarios and the catalogue live in ``models/data/reduction/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workspace.errors import ConfigError, TanjianError
from workspace.yamlfile import line_of, plain, read_yaml, validation_error

#: folder of the packaged scenarios, catalogue, climate and load profile
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "reduction"
SCHEMA = "tanjian.reduction-scenario/1"
View = Literal["compliance", "market", "net"]
Status = Literal["primary", "secondary", "unverified", "illustrative"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Price(_Strict):
    """A price (or a factor) with where it comes from; ``escalation`` compounds yearly from ``year``."""

    value: float
    unit: str
    source: str = Field(min_length=1)
    date: str = Field(min_length=4, description="when the value was observed or published")
    status: Status = "secondary"
    escalation: float = Field(0.0, ge=-0.5, le=0.5, description="yearly change, a fraction")
    year: int | None = Field(None, description="the year the value is for (default: the horizon's first)")
    by_year: dict[int, float] = Field(default_factory=dict, description="explicit values that win")
    low: float | None = Field(None, description="low end for the sensitivity (default value x 0.5)")
    high: float | None = Field(None, description="high end for the sensitivity (default value x 1.5)")

    def at(self, year: int, first: int) -> float:
        """The value in ``year``: an explicit ``by_year`` entry, else escalated from ``year``/``first``."""
        if year in self.by_year:
            return self.by_year[year]
        return self.value * (1.0 + self.escalation) ** (year - (self.year or first))


class Horizon(_Strict):
    first: int = Field(2026, ge=2000, le=2100)
    last: int = Field(2035, ge=2000, le=2100)

    @model_validator(mode="after")
    def _order(self) -> "Horizon":
        if self.last < self.first:
            raise ValueError(f"last {self.last} is before first {self.first}")
        return self


class Roof(_Strict):
    area_m2: float = Field(ge=0)
    kwp_per_m2: float = Field(0.2, gt=0, le=0.3, description="module power per roof area [kWp/m2]")
    tilt: float = Field(ge=0, le=90, description="module tilt from horizontal [deg]")
    azimuth: float = Field(180.0, ge=0, lt=360, description="module azimuth, clockwise from north [deg]")
    max_kwp_per_year: float | None = Field(None, ge=0, description="installation rate limit [kWp/yr]")


class Site(_Strict):
    name: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    altitude_m: float = 0.0
    timezone: str = "Asia/Shanghai"
    climate: str | None = Field(None, description="climate file (YAML, monthly irradiation and temperature)")
    roof: Roof


class Baseline(_Strict):
    year: int
    electricity_mwh: float | None = Field(None, ge=0, description="default: the load profile's total")
    load_profile: str | None = Field(None, description="CSV of hourly load [kW], relative to the scenario")
    natural_gas_gj: float = Field(0.0, ge=0)
    other_scope1_t: float = Field(0.0, ge=0, description="process and fugitive emissions [tCO2e/yr]")
    growth: float = Field(0.0, ge=-0.5, le=0.5, description="yearly growth of energy use, a fraction")
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _some_electricity(self) -> "Baseline":
        if self.electricity_mwh is None and self.load_profile is None:
            raise ValueError("give electricity_mwh or load_profile")
        return self


class Grid(_Strict):
    compliance_factor: Price  #: tCO2/MWh: the reporting factor; green purchases not deducted
    market_factor: Price  #: tCO2/MWh of electricity not covered by contracts or certificates


class Gas(_Strict):
    factor: Price  #: tCO2/GJ
    price: Price  #: CNY/GJ


class PV(_Strict):
    capex: Price  #: CNY/kWp
    om: Price  #: CNY/(kWp yr)
    lifetime: int = Field(25, ge=1, le=50)
    degradation: float = Field(0.005, ge=0, le=0.05, description="yearly yield loss, a fraction")
    losses: float = Field(0.14, ge=0, lt=1, description="system losses (PVWatts default 14 %)")
    gamma_pdc: float = Field(-0.0037, le=0, description="power temperature coefficient [1/K]")
    export_price: Price | None = None  #: CNY/MWh for surplus sold to the grid (none: surplus not valued)
    yield_kwh_per_kwp: float | None = Field(None, gt=0, description="fixed yearly yield instead of pvlib")


class Project(_Strict):
    """An efficiency project: written out, or ``catalogue`` names a catalogue entry and ``group_mwh`` /
    ``group_gj`` the measured energy of the device group it acts on."""

    id: str = Field(min_length=1)
    catalogue: str | None = None
    name: str = ""
    group: str = ""
    group_mwh: float | None = Field(None, ge=0)
    group_gj: float | None = Field(None, ge=0)
    saves_mwh: float | None = Field(None, description="electricity saved per year (negative: added) [MWh]")
    saves_gj: float | None = Field(None, description="natural gas saved per year [GJ]")
    capex: float | None = Field(None, ge=0, description="[CNY]")
    opex: float | None = Field(None, description="yearly running cost change [CNY/yr]")
    lifetime: int | None = Field(None, ge=1, le=50)
    integer: bool | None = Field(None, description="all or nothing (default true)")
    earliest: int | None = None
    source: str = ""


class Purchase(_Strict):
    price: Price
    max_per_year: float | None = Field(None, ge=0, description="availability [MWh or t per year]")
    max_share: float | None = Field(None, ge=0, le=1, description="offsets: cap on the share of emissions")


class Purchases(_Strict):
    green_power: Purchase | None = None  #: price = premium over the tariff [CNY/MWh]
    gec: Purchase | None = None  #: green certificates, 1 GEC = 1 MWh [CNY/MWh]
    ccer: Purchase | None = None  #: offsets [CNY/t]


class CarbonPrice(Price):
    applies_to: View | Literal["none"] = "compliance"


class Budget(_Strict):
    capex_per_year: float | None = Field(None, ge=0, description="[CNY/yr]")
    by_year: dict[int, float] = Field(default_factory=dict)
    total: float | None = Field(None, ge=0, description="[CNY over the horizon]")

    def year(self, y: int) -> float | None:
        return self.by_year.get(y, self.capex_per_year)


class Cap(_Strict):
    year: int
    view: View = "compliance"
    max_t: float = Field(ge=0)


class Peak(_Strict):
    year: int
    view: View = "compliance"


class Neutrality(_Strict):
    year: int
    view: View = "net"


class Targets(_Strict):
    caps: list[Cap] = Field(default_factory=list)
    peak: Peak | None = None
    neutrality: Neutrality | None = None


class Representative(_Strict):
    days: int = Field(12, ge=1, le=366, description="typical days (k-medoids of load and PV)")


class Scenario(_Strict):
    schema_: Literal["tanjian.reduction-scenario/1"] = Field(alias="schema")
    name: str = Field(min_length=1)
    description: str = ""
    horizon: Horizon = Horizon()
    discount_rate: float = Field(0.06, ge=0, le=0.5)
    site: Site | None = None
    baseline: Baseline
    grid: Grid
    tariff: str | None = Field(None, description="tariff id (workspace.tariffs) or YAML file")
    tariff_escalation: float = Field(0.0, ge=-0.5, le=0.5, description="yearly change of the tariff's prices")
    electricity_price: Price | None = Field(None, description="flat price [CNY/MWh] where no tariff is given")
    gas: Gas | None = None
    pv: PV | None = None
    catalogue: str | None = Field(None, description="projects catalogue file (default: the packaged one)")
    projects: list[Project] = Field(default_factory=list)
    purchases: Purchases = Purchases()
    carbon_price: CarbonPrice | None = None
    budget: Budget = Budget()
    targets: Targets = Targets()
    representative: Representative = Representative()
    path: Path | None = Field(None, exclude=True)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        if self.tariff is None and self.electricity_price is None:
            raise ValueError("give tariff or electricity_price")
        h = self.horizon
        for t in self.targets.caps + [x for x in (self.targets.peak, self.targets.neutrality) if x]:
            if not h.first <= t.year <= h.last:
                raise ValueError(f"target year {t.year} is outside the horizon {h.first}-{h.last}")
        ids = [p.id for p in self.projects]
        if len(ids) != len(set(ids)):
            raise ValueError(f"project ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        return self

    @property
    def years(self) -> list[int]:
        return list(range(self.horizon.first, self.horizon.last + 1))

    def resolve(self, name: str) -> Path:
        """A file named in the scenario: relative to the scenario's folder, else the packaged data folder."""
        p = Path(name)
        if p.is_absolute():
            return p
        if self.path is not None and (self.path.parent / p).exists():
            return self.path.parent / p
        return DATA_DIR / p


def merge(base: dict, over: dict) -> dict:
    """``over`` merged into ``base``: mappings key by key, anything else (lists too) replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_scenario(name: str | Path) -> Scenario:
    """A scenario: a file path, or the name of a packaged one (``plant18``). A file with ``base: NAME`` is a
    variant of that scenario: its keys are merged over the base's (mappings key by key, lists replaced)."""
    p = Path(name)
    if p.suffix not in (".yaml", ".yml"):
        hit = DATA_DIR / "scenarios" / f"{name}.yaml"
        if not hit.exists():
            known = sorted(f.stem for f in (DATA_DIR / "scenarios").glob("*.yaml"))
            raise TanjianError(f"scenario {name!r}: no such packaged scenario ({', '.join(known)}) and not a "
                               f".yaml file")
        p = hit
    doc = read_yaml(p)
    data = plain(doc)
    if "base" in data:  # a variant: the base scenario's document with this file's keys merged over it
        base = data.pop("base")
        parent = Path(base) if Path(base).suffix in (".yaml", ".yml") else DATA_DIR / "scenarios" / f"{base}.yaml"
        parent = parent if parent.is_absolute() or not (p.parent / parent).exists() else p.parent / parent
        if not parent.exists() or parent.resolve() == p.resolve():
            raise ConfigError([(str(p), line_of(doc, ("base",)), "base", f"no such base scenario {base!r}")])
        data = merge(plain(read_yaml(parent)), data)
        data.setdefault("baseline", {})
        for key in ("load_profile",):  # the base's files stay the base's
            if key in data["baseline"] and not Path(data["baseline"][key]).is_absolute():
                if (parent.parent / data["baseline"][key]).exists() and not (p.parent / data["baseline"][key]).exists():
                    data["baseline"][key] = str(parent.parent / data["baseline"][key])
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_error(p, doc, exc, lambda k: "schema" if k == "schema_" else k) from None
    sc.path = p.resolve()
    return sc
