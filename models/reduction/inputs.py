"""The numbers a plan is optimised from, resolved from a scenario: per-year prices and baselines, the projects
with their savings and capex, and the representative hours (load shape, PV yield and tariff price per hour).

:class:`Inputs` is plain data (numpy arrays and dicts), so the model (:mod:`models.reduction.model`) does not
read files and the benchmarks can make inputs of any size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from workspace.errors import ConfigError, TanjianError
from workspace.yamlfile import plain, read_yaml

from .scenario import Scenario


@dataclass(frozen=True)
class ProjectData:
    """An efficiency project, resolved: yearly savings, capex [CNY], opex [CNY/yr], lifetime [yr]."""

    id: str
    name: str
    saves_mwh: float  #: electricity saved per year (negative: added) [MWh]
    saves_gj: float  #: natural gas saved per year [GJ]
    capex: float
    opex: float
    lifetime: int
    integer: bool
    earliest: int
    source: str


@dataclass
class Inputs:
    """Everything the model needs (see the module docstring). Per-year values are dicts year -> value."""

    name: str
    years: list[int]
    discount_rate: float
    electricity_mwh: dict[int, float]  #: baseline electricity use [MWh/yr]
    gas_gj: dict[int, float]  #: baseline natural gas [GJ/yr]
    other_t: dict[int, float]  #: other direct emissions [t/yr]
    shape: np.ndarray  #: share of the year's electricity in each representative hour [-]
    weight: np.ndarray  #: hours of the year each representative hour stands for [h]
    pv_yield: np.ndarray  #: PV energy per kWp in each representative hour [MWh/kWp]
    price: np.ndarray  #: electricity price in each representative hour, first year [CNY/MWh]
    price_factor: dict[int, float]  #: electricity price escalation [-]
    f_compliance: dict[int, float]  #: tCO2/MWh
    f_market: dict[int, float]  #: tCO2/MWh
    gas_factor: dict[int, float]  #: tCO2/GJ
    gas_price: dict[int, float]  #: CNY/GJ
    projects: list[ProjectData]
    roof_kwp: float = 0.0
    pv_max_per_year: float | None = None
    pv_capex: dict[int, float] = field(default_factory=dict)  #: CNY/kWp
    pv_om: dict[int, float] = field(default_factory=dict)  #: CNY/(kWp yr)
    pv_lifetime: int = 25
    pv_degradation: float = 0.0
    export_price: dict[int, float] | None = None  #: CNY/MWh
    gp_premium: dict[int, float] = field(default_factory=dict)  #: green power premium [CNY/MWh]
    gp_max: float | None = 0.0
    gec_price: dict[int, float] = field(default_factory=dict)  #: CNY/MWh (1 GEC = 1 MWh)
    gec_max: float | None = 0.0
    ccer_price: dict[int, float] = field(default_factory=dict)  #: CNY/t
    ccer_max: float | None = 0.0
    ccer_share: float | None = None  #: cap on offsets as a share of market-based emissions
    carbon_price: dict[int, float] = field(default_factory=dict)  #: CNY/t on the view below
    carbon_view: str = "none"
    budget: dict[int, float | None] = field(default_factory=dict)  #: capex per year [CNY]
    budget_total: float | None = None
    caps: list[tuple[int, str, float]] = field(default_factory=list)  #: (year, view, max t)
    peak: tuple[int, str] | None = None
    neutrality: tuple[int, str] | None = None
    typical_error: pd.DataFrame | None = None  #: full year vs representative days (PV at the roof's size)
    sources: dict[str, str] = field(default_factory=dict)

    def with_(self, **kw) -> "Inputs":
        """A copy with some fields replaced (sensitivity runs)."""
        return replace(self, **kw)


def _series(price, years: list[int]) -> dict[int, float]:
    return {y: price.at(y, years[0]) for y in years}


def _catalogue(sc: Scenario) -> tuple[Path, dict]:
    p = sc.resolve(sc.catalogue or "projects.yaml")
    d = plain(read_yaml(p))
    return p, d.get("projects", {})


def resolve_projects(sc: Scenario) -> list[ProjectData]:
    """The scenario's projects, catalogue entries scaled to the measured group energy."""
    out, cat, cpath = [], None, None
    for i, p in enumerate(sc.projects):
        where = f"projects[{i}]"
        if p.catalogue:
            if cat is None:
                cpath, cat = _catalogue(sc)
            c = cat.get(p.catalogue)
            if c is None:
                raise ConfigError([(str(sc.path), None, f"{where}.catalogue",
                                    f"{p.catalogue!r} is not in {cpath.name} ({', '.join(sorted(cat))})")])
            medium = c["medium"]
            group = p.group_mwh if medium == "electricity" else p.group_gj
            if group is None:
                need = "group_mwh" if medium == "electricity" else "group_gj"
                raise ConfigError([(str(sc.path), None, f"{where}.{need}",
                                    f"{p.catalogue} acts on {medium}: give the group's measured yearly energy")])
            saved = float(c["saves_share"]) * group
            mwh = saved if medium == "electricity" else -saved * float(c.get("electricity_per_unit_saved", 0))
            gj = saved if medium == "natural_gas" else 0.0
            capex = p.capex if p.capex is not None else float(c["capex_per_unit_saved"]) * saved
            opex = p.opex if p.opex is not None else float(c.get("opex_per_unit_saved", 0)) * saved
            out.append(ProjectData(p.id, p.name or c["name"], mwh if p.saves_mwh is None else p.saves_mwh,
                                   gj if p.saves_gj is None else p.saves_gj, capex, opex,
                                   p.lifetime or int(c["lifetime"]),
                                   c.get("integer", True) if p.integer is None else p.integer,
                                   p.earliest or sc.horizon.first,
                                   f"{cpath.name}:{p.catalogue} ({c.get('status', '?')}): "
                                   + " ".join(str(c.get("source", "")).split())))
        else:
            if p.capex is None or p.lifetime is None or (p.saves_mwh is None and p.saves_gj is None):
                raise ConfigError([(str(sc.path), None, where,
                                    "a project without catalogue needs saves_mwh or saves_gj, capex, lifetime")])
            out.append(ProjectData(p.id, p.name or p.id, p.saves_mwh or 0.0, p.saves_gj or 0.0, p.capex,
                                   p.opex or 0.0, p.lifetime, True if p.integer is None else p.integer,
                                   p.earliest or sc.horizon.first, p.source))
    return out


def read_load_profile(path: Path) -> pd.Series:
    """Hourly load [kW] from a CSV (``time,load_kw``; ``#`` comment lines), one local year."""
    try:
        df = pd.read_csv(path, comment="#", parse_dates=["time"])
        s = pd.Series(df["load_kw"].to_numpy(dtype=float), index=pd.DatetimeIndex(df["time"]), name="load_kw")
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError([(str(path), None, "(file)", f"need columns time,load_kw: {exc}")]) from None
    if len(s) not in (8760, 8784) or s.isna().any() or (s < 0).any():
        raise ConfigError([(str(path), None, "load_kw", f"need a year of hourly values >= 0, got {len(s)} rows")])
    return s


def hourly_prices(sc: Scenario, index: pd.DatetimeIndex) -> pd.Series:
    """Electricity energy price of each hour [CNY/MWh] from the scenario's tariff (or flat price)."""
    if sc.tariff:
        from workspace.tariffs import load_tariff

        t = load_tariff(sc.tariff, sc.path.parent if sc.path else None)
        return pd.Series(t.prices()[t.schedule.period_index(index)] * 1000.0, index=index)
    return pd.Series(sc.electricity_price.at(sc.horizon.first, sc.horizon.first), index=index)


def build_inputs(sc: Scenario, *, load: pd.Series | None = None, days: int | None = None,
                 baseline=None) -> Inputs:
    """Resolve a scenario into :class:`Inputs` (``load``: an hourly load [kW] to use instead of the
    scenario's profile, e.g. read from the store; ``days``: representative days instead of the scenario's;
    ``baseline``: a :class:`models.reduction.baseline.InventoryBaseline` whose electricity (where it has
    any), gas and other direct emissions replace the scenario's)."""
    from .typical import typical_days, typical_error

    years, b = sc.years, sc.baseline
    if baseline is not None:
        b = b.model_copy(update={"natural_gas_gj": baseline.natural_gas_gj, "other_scope1_t": baseline.other_scope1_t,
                                 "source": baseline.source, **({"electricity_mwh": baseline.electricity_mwh}
                                                               if baseline.electricity_mwh > 0 else {})})
    first = years[0]
    if load is None and b.load_profile:
        load = read_load_profile(sc.resolve(b.load_profile))
    if load is not None:
        base_mwh = b.electricity_mwh if b.electricity_mwh is not None else float(load.sum()) / 1000.0
        idx = pd.DatetimeIndex(load.index)
        pv = None
        if sc.site is not None and sc.pv is not None and sc.site.roof.area_m2 > 0:
            if sc.pv.yield_kwh_per_kwp is None:
                from .pv import hourly_weather, hourly_yield, load_climate

                clim = load_climate(sc.resolve(sc.site.climate) if sc.site.climate else None)
                w = hourly_weather(sc.site.latitude, sc.site.longitude, sc.site.altitude_m, idx[0].year, clim,
                                   sc.site.timezone)
                pv = hourly_yield(w, sc.site.roof.tilt, sc.site.roof.azimuth, losses=sc.pv.losses,
                                  gamma_pdc=sc.pv.gamma_pdc)
                pv = pv.reindex(idx).fillna(0.0)
            else:
                raise TanjianError("a fixed yield_kwh_per_kwp has no hourly shape; leave it out to use pvlib")
        price = hourly_prices(sc, idx)
        typ = typical_days(load, pv, sc.representative.days if days is None else days)
        weight = typ.hour_weights()
        lt = typ.hours(load)
        shape = lt / float((weight * lt).sum())
        pv_h = typ.hours(pv) / 1000.0 if pv is not None else np.zeros_like(shape)
        price_h = typ.hours(price)
        roof = sc.site.roof.area_m2 * sc.site.roof.kwp_per_m2 if sc.site else 0.0
        err = typical_error(load, pv if pv is not None else load * 0, price / 1000.0, typ, roof)
    else:
        base_mwh = b.electricity_mwh
        weight, shape = np.array([1.0]), np.array([1.0])
        pv_h = np.array([(sc.pv.yield_kwh_per_kwp or 0.0) / 1000.0 if sc.pv else 0.0])
        price_h = np.array([sc.electricity_price.at(first, first) if sc.electricity_price else 0.0])
        err = None
    grow = {y: (1 + b.growth) ** (y - b.year) for y in years}
    pf = ({y: sc.electricity_price.at(y, first) / sc.electricity_price.at(first, first) for y in years}
          if sc.electricity_price and not sc.tariff else {y: (1 + sc.tariff_escalation) ** (y - first) for y in years})
    zero = {y: 0.0 for y in years}
    pu = sc.purchases
    inp = Inputs(
        name=sc.name, years=years, discount_rate=sc.discount_rate,
        electricity_mwh={y: base_mwh * grow[y] for y in years},
        gas_gj={y: b.natural_gas_gj * grow[y] for y in years},
        other_t={y: b.other_scope1_t * grow[y] for y in years},
        shape=shape, weight=weight, pv_yield=pv_h, price=price_h, price_factor=pf,
        f_compliance=_series(sc.grid.compliance_factor, years), f_market=_series(sc.grid.market_factor, years),
        gas_factor=_series(sc.gas.factor, years) if sc.gas else zero,
        gas_price=_series(sc.gas.price, years) if sc.gas else zero,
        projects=resolve_projects(sc),
        roof_kwp=(sc.site.roof.area_m2 * sc.site.roof.kwp_per_m2) if (sc.site and sc.pv) else 0.0,
        pv_max_per_year=sc.site.roof.max_kwp_per_year if sc.site else None,
        pv_capex=_series(sc.pv.capex, years) if sc.pv else zero, pv_om=_series(sc.pv.om, years) if sc.pv else zero,
        pv_lifetime=sc.pv.lifetime if sc.pv else 25, pv_degradation=sc.pv.degradation if sc.pv else 0.0,
        export_price=_series(sc.pv.export_price, years) if sc.pv and sc.pv.export_price else None,
        gp_premium=_series(pu.green_power.price, years) if pu.green_power else zero,
        gp_max=pu.green_power.max_per_year if pu.green_power else 0.0,
        gec_price=_series(pu.gec.price, years) if pu.gec else zero, gec_max=pu.gec.max_per_year if pu.gec else 0.0,
        ccer_price=_series(pu.ccer.price, years) if pu.ccer else zero,
        ccer_max=pu.ccer.max_per_year if pu.ccer else 0.0, ccer_share=pu.ccer.max_share if pu.ccer else None,
        carbon_price=_series(sc.carbon_price, years) if sc.carbon_price else zero,
        carbon_view=sc.carbon_price.applies_to if sc.carbon_price else "none",
        budget={y: sc.budget.year(y) for y in years}, budget_total=sc.budget.total,
        caps=[(c.year, c.view, c.max_t) for c in sc.targets.caps],
        peak=(sc.targets.peak.year, sc.targets.peak.view) if sc.targets.peak else None,
        neutrality=(sc.targets.neutrality.year, sc.targets.neutrality.view) if sc.targets.neutrality else None,
        typical_error=err,
        sources={"baseline": b.source, "compliance_factor": sc.grid.compliance_factor.source,
                 "market_factor": sc.grid.market_factor.source})
    return inp
