"""Allowance: monthly settlement worked by hand, a forecast whose true total is known, the alarm, green share,
and ``tanjian allowance status`` on a seeded Plant 18 store with the allowance from the quota audit trail."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from chain.quota import QuotaBook
from workspace.config import EXAMPLE
from models.quota import (ForecastError, alarm, forecast, green_share, quota_status, settle)

YEAR = 2025  # 365 days; 1 Jan 2025 is a Wednesday


def days(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="D")


def test_settlement_worked_by_hand():
    # allowance 365 t -> 1 t a day pro rata. January: 31 days at 1.2 t = 37.2 t against 31 t (6.2 t over);
    # February 1-14: 14 days at 0.8 t = 11.2 t against 14 t (2.8 t under); cumulative 48.4 t against 45 t.
    daily = pd.concat([pd.Series(1200.0, days("2025-01-01", 31)), pd.Series(800.0, days("2025-02-01", 14))])
    t = settle(daily, 365_000, YEAR)
    assert list(t.index) == [1, 2]
    assert list(t["days"]) == [31, 14]
    assert t["emissions_kg"].tolist() == pytest.approx([37_200, 11_200])
    assert t["quota_kg"].tolist() == pytest.approx([31_000, 14_000])
    assert t["balance_kg"].tolist() == pytest.approx([-6_200, 2_800])
    assert t["cum_emissions_kg"].tolist() == pytest.approx([37_200, 48_400])
    assert t["cum_balance_kg"].tolist() == pytest.approx([-6_200, -3_400])
    assert t["over"].tolist() == [True, True]


def test_settlement_counts_missing_days_and_leap_years():
    # 2024 has 366 days: 366 t -> 1 t a day; 10 Jan missing: 30 days x 1 t emitted against 31 t
    daily = pd.Series(1000.0, days("2024-01-01", 31)).drop(pd.Timestamp("2024-01-10"))
    t = settle(daily, 366_000, 2024)
    assert t.loc[1, "missing_days"] == 1 and t.loc[1, "quota_kg"] == pytest.approx(31_000)
    assert t.loc[1, "emissions_kg"] == pytest.approx(30_000) and not t.loc[1, "over"]


def test_bad_daily_series_is_refused():
    with pytest.raises(ForecastError, match="outside the year 2025"):
        settle(pd.Series(1.0, days("2024-12-31", 3)), 1, YEAR)
    with pytest.raises(ForecastError, match="negative daily emissions on 2025-01-02"):
        settle(pd.Series([1.0, -1.0], days("2025-01-01", 2)), 1, YEAR)
    with pytest.raises(ForecastError, match="at least 14"):
        forecast(pd.Series(1.0, days("2025-01-01", 13)), YEAR)


def weekly(n_days: int, workday: float = 30_000, weekend: float = 12_000) -> pd.Series:
    idx = days("2025-01-01", n_days)
    return pd.Series(np.where(idx.day_of_week < 5, workday, weekend), index=idx, dtype=float)


def test_forecast_without_noise_is_exact():
    # 2025: 261 weekdays and 104 weekend days -> 261 x 30 t + 104 x 12 t = 9,078 t; known from 100 days
    truth = 261 * 30_000 + 104 * 12_000
    assert weekly(365).sum() == truth
    fc = forecast(weekly(100), YEAR)
    assert fc.total_kg == pytest.approx(truth)
    assert fc.lower_kg == pytest.approx(truth) and fc.upper_kg == pytest.approx(truth)
    assert (fc.observed_days, fc.predicted_days, str(fc.last_day)) == (100, 265, "2025-04-10")
    assert fc.weekday_means_kg == pytest.approx((30_000,) * 5 + (12_000,) * 2)


def test_forecast_with_a_monthly_index():
    # August runs at 1.5 x (cooling); January 1. Known: January's profile x index for the rest of the year.
    idx = np.ones(12)
    idx[7] = 1.5
    full = weekly(365) * idx[weekly(365).index.month - 1]
    fc = forecast(full[:60], YEAR, monthly_index=list(idx))
    assert fc.total_kg == pytest.approx(full.sum())


def test_forecast_interval_covers_the_known_total():
    # weekday profile + AR(1) noise (innovations sd 2 t); the first 180 days observed; the truth is the simulated year
    covered, widths = 0, []
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        e = np.zeros(365)
        for i in range(1, 365):
            e[i] = 0.3 * e[i - 1] + rng.normal(0, 2_000)
        year = weekly(365) + e
        fc = forecast(year[:180], YEAR, n_boot=800, seed=seed)
        truth = year.sum()
        covered += fc.lower_kg <= truth <= fc.upper_kg
        widths.append(fc.upper_kg - fc.lower_kg)
        assert fc.lower_kg < fc.total_kg < fc.upper_kg
    # a 90 % interval: at 40 trials, >= 32 covered is expected with probability > 0.99
    assert covered >= 32, covered
    # and not absurdly wide: the sd of the remaining 185 days' sum is ~ 2 t x sqrt(185) x 1.36 ~ 56 t plus the
    # mean's uncertainty; the 90 % width stays well under 1,000 t
    assert max(widths) < 1_000_000


def test_alarm_levels():
    fc = forecast(weekly(100), YEAR)  # 9,078 t exactly
    assert alarm(fc, 10_000_000) is None
    a = alarm(fc, 9_000_000)
    assert a.severity == "forecast" and a.excess_kg == pytest.approx(78_000)
    a = alarm(fc, 2_000_000)  # 100 days already emitted 71x30 + 29x12 ... > 2,000 t
    assert a.severity == "exceeded"
    noisy = weekly(100) + np.random.default_rng(0).normal(0, 3_000, 100)
    fc = forecast(noisy, YEAR, seed=1)
    a = alarm(fc, (fc.total_kg + fc.upper_kg) / 2)
    assert a.severity == "risk" and "upper bound of the 90% forecast interval" in a.message


def test_green_share():
    assert green_share(1_000_000, 250_000) == 0.25  # 250 GECs against 1,000 MWh
    assert green_share(1_000_000, 2_000_000) == 1.0
    assert green_share(0, 0) == 0.0
    with pytest.raises(ForecastError):
        green_share(-1, 0)


def test_status_reads_the_trail_and_the_store(seeded_cfg, capsys):
    from models.kpi import plant_kpis
    from tanjian.cli import main
    from workspace.store import Store

    store = Store.open(seeded_cfg.paths.store, seeded_cfg.site)
    year = store.latest_time().year
    ent = "plant-18"
    book = QuotaBook(seeded_cfg.paths.chain)
    with pytest.raises(ForecastError, match="no allowance for plant-18"):
        quota_status(store, book, ent, year)
    book.set(ent, year, 5_000_000, author="li.wei", reason="allocation letter")
    st = quota_status(store, book, ent, year, green_kwh=1_000)
    kpi = plant_kpis(store)
    assert st.settlement["cum_emissions_kg"].iloc[-1] == pytest.approx(kpi.loc["year", "co2e_kg"], rel=1e-9)
    assert st.electricity_kwh == pytest.approx(kpi.loc["year", "electricity_kWh"], rel=1e-9)
    assert st.green_share == pytest.approx(1_000 / kpi.loc["year", "electricity_kWh"])
    assert st.forecast is None and "at least 14" in st.forecast_note  # 30 hours of history
    assert st.quota.source == "hand"
    env = ["--config", str(EXAMPLE), "--data-dir", str(seeded_cfg.paths.data_dir)]
    assert main([*env, "allowance", "status", "--year", str(year), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["allowance_kg"] == 5_000_000 and out["source"] == "hand"
    # the CLI settles the inventory of the active methodology (cn-machinery-2015): the same two metered sources
    # (electricity, natural gas) as the KPI, less the PV electricity exported (the Chinese guideline nets it:
    # exported MWh x the same grid factor, 0.5306 tCO2/MWh in 2026), each line rounded to 1 kg (3 decimals
    # of t): at most 1 kg apart per line
    from models.generation import onsite_flows

    lo = pd.Timestamp(year, 1, 1)
    exported_kwh = onsite_flows(store, lo, lo + pd.DateOffset(years=1))["exported"]
    assert exported_kwh > 0  # the demo's PV exceeds TR-2's load at midday
    assert out["settlement"][-1]["cum_emissions_kg"] == pytest.approx(
        kpi.loc["year", "co2e_kg"] - exported_kwh * 0.5306, abs=3.0)


def test_status_takes_the_regulators_allowance_from_the_chain(seeded_cfg):
    from chain.deploy import deploy_contracts
    from chain.node import connect
    from chain.quota import set_on_chain
    from chain.registry import QUOTA_REGISTRY, from_deployment
    from workspace.store import Store

    w3 = connect("tester")  # the in-process EVM of eth-tester
    regulator = w3.eth.accounts[2]
    reg = from_deployment(w3, deploy_contracts(w3, w3.eth.accounts[0], regulator=regulator), QUOTA_REGISTRY)
    store = Store.open(seeded_cfg.paths.store, seeded_cfg.site)
    year = store.latest_time().year
    book = QuotaBook(seeded_cfg.paths.chain, reg)
    book.set("plant-18", year, 5_000_000, author="li.wei", reason="allocation letter")
    set_on_chain(w3, reg, regulator, "plant-18", year, 10, "MEE-test")  # 10 kg: exceeded at once
    st = quota_status(store, book, "plant-18", year)
    assert (st.quota.source, st.quota.amount_kg) == ("chain", 10)
    assert st.alarm is not None and st.alarm.severity == "exceeded"
    assert bool(st.settlement["over"].iloc[-1])


def _import_energy_attributes(cfg, tmp_path, rows: str):
    """Import an energy-attribute file (certificates, green-power contracts) as `tanjian import` does."""
    from workspace.business.imports import import_file

    f = tmp_path / "energy-attributes.csv"
    f.write_text("凭证号,核销日期,期间起,期间止,类别,项目,数量,单位,备注\n" + rows, encoding="utf-8")
    import_file(cfg, f, "energy_attributes", author="test")


def test_green_supply_from_imported_certificates_and_contracts(plant_cfg, tmp_path):
    """The example October file: 200 GEC (1 GEC = 1 MWh) and a 100,000 kWh solar contract for 2026-10-01..31."""
    import datetime as dt

    from models.activity_input import load_activity
    from models.quota import green_supply
    from workspace.config import EXAMPLE as EX

    from pathlib import Path

    from workspace.business.imports import import_file

    import_file(plant_cfg, Path(EX).parent / "imports" / "energy-attributes-2026-10.csv", "energy_attributes",
                author="test")
    act = load_activity(plant_cfg.paths.data_dir, dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    g = green_supply(act, dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    # whole periods inside the year: 200 GEC x 1 MWh = 200,000 kWh; contract 100,000 kWh; total 300,000 kWh
    assert (g.certificates_kwh, g.contracts_kwh, g.kwh) == pytest.approx((200_000, 100_000, 300_000))
    # year to date 2026-10-15: 15 of the 31 days of each period count
    # 200,000 x 15/31 = 96,774.19 kWh; 100,000 x 15/31 = 48,387.10 kWh; total 145,161.29 kWh
    h = green_supply(act, dt.date(2026, 1, 1), dt.date(2026, 10, 15))
    assert h.certificates_kwh == pytest.approx(96_774.19, abs=0.01)
    assert h.contracts_kwh == pytest.approx(48_387.10, abs=0.01)
    assert h.kwh == pytest.approx(145_161.29, abs=0.01)
    # the CCER row of the same file is an offset, not green power: not counted
    assert {r["kind"] for r in g.records} == {"gec", "green_power"} and len(g.records) == 2
    assert green_supply(act, dt.date(2026, 11, 1), dt.date(2026, 12, 31)).kwh == 0


def test_status_on_the_full_inventory_with_green_share_from_certificates(seeded_cfg, tmp_path, capsys):
    """`tanjian allowance status`: emissions are the active methodology's inventory, the green share comes from
    imported certificates and contracts; --green-mwh is an override and says so."""
    from tanjian.cli import main
    from workspace.store import Store

    store = Store.open(seeded_cfg.paths.store, seeded_cfg.site)
    last = store.latest_time().astimezone(store.tz)
    year, day = last.year, last.date().isoformat()
    book = QuotaBook(seeded_cfg.paths.chain)
    book.set("plant-18", year, 5_000_000, author="li.wei", reason="allocation letter")
    # on the newest day: 3 certificates (3 MWh) and a contract for 500 kWh
    _import_energy_attributes(seeded_cfg, tmp_path, f"GEC-1,{day},{day},{day},绿证,风电,3,张,\n"
                                                    f"PPA-1,{day},{day},{day},绿电,光伏直购,500,千瓦时,\n")
    env = ["--config", str(EXAMPLE), "--data-dir", str(seeded_cfg.paths.data_dir), "allowance", "status",
           "--year", str(year)]
    assert main([*env, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    g = out["green"]
    # 3 GEC x 1,000 kWh + 500 kWh = 3,500 kWh, over the electricity the inventory counts
    assert (g["certificates_kwh"], g["contracts_kwh"], g["imported_kwh"]) == pytest.approx((3_000, 500, 3_500))
    assert out["green_share"] == pytest.approx(3_500 / out["electricity_kwh"])
    assert g["override_kwh"] is None and g["source"].startswith("imported certificates")
    # emissions: the inventory of the active methodology (the packaged cn-machinery-2015: nothing pinned)
    assert out["methodology"]["id"] == "cn-machinery-2015"
    assert out["methodology"]["chain_check"]["label"] == "offline, not checked"
    assert out["emissions_basis"].startswith(f"inventory {year}-01-01..{day} under cn-machinery-2015")
    total_t = float(out["emissions_basis"].rsplit(" ", 2)[-2])
    assert out["settlement"][-1]["cum_emissions_kg"] == pytest.approx(total_t * 1000, abs=1e-6)
    # the hand-entered figure overrides, and says so
    assert main([*env, "--green-mwh", "1"]) == 0
    text = capsys.readouterr().out
    assert "HAND-ENTERED --green-mwh 1.000 MWh (an override; imported certificates and contracts give 3.500 MWh)" \
        in text
    assert "# methodology cn-machinery-2015" in text and "on chain offline, not checked" in text


def test_the_inventory_total_is_spread_over_the_metered_days():
    from models.quota import headline_tco2e, scale_daily

    # metered 1, 3, (no data), 4 kg: sum 8; the inventory says 16 kg -> every day x 2: 2, 6, NaN, 8
    metered = pd.Series([1.0, 3.0, np.nan, 4.0], index=days("2025-01-01", 4))
    out = scale_daily(metered, 16.0)
    assert out.tolist()[:2] == [2.0, 6.0] and np.isnan(out.iloc[2]) and out.iloc[3] == 8.0
    # nothing metered: spread evenly over the days with data, 9 kg over 3 days
    assert scale_daily(pd.Series([0.0, 0.0, 0.0], index=days("2025-01-01", 3)), 9.0).tolist() == [3.0] * 3
    # the headline total of the engine first, then the compliance view, else gross location-based
    assert headline_tco2e({"totals": {"headline": {"view": "compliance", "tco2e": "753.001"}}}) == \
        (753.001, "headline (compliance view)")
    assert headline_tco2e({"totals": {"gross_location": {"tco2e": "713.301"}},
                           "views": {"compliance": {"available": False}}})[0] == 713.301


def test_green_share_of_the_inventorys_electricity_hand_worked(plant_cfg):
    """October 2026: 1,000 MWh bought (statement), 200 GEC retired (1 GEC = 1 MWh) and a 100,000 kWh solar
    contract (the example import): green share = (200 + 100) / 1000 = 30 %."""
    import datetime as dt
    from pathlib import Path

    from models.activity_input import load_activity
    from models.inventory import compute_inventory
    from models.quota import _electricity_kwh, green_supply
    from workspace.business.imports import import_file
    from workspace.config import EXAMPLE as EX

    import_file(plant_cfg, Path(EX).parent / "imports" / "energy-attributes-2026-10.csv", "energy_attributes",
                author="test")
    oct1, oct31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    stmt = pd.DataFrame([{"kind": "electricity_statement", "item": "total", "period_start": "2026-10-01",
                          "period_end": "2026-10-31", "quantity": 1000.0, "unit": "MWh", "movement": "purchased"}])
    from models.activity_input import validate_activity

    inv = compute_inventory(oct1, oct31, methodology="cn-machinery-2015", activity=validate_activity(stmt))
    used = _electricity_kwh(inv.to_canonical())
    green = green_supply(load_activity(plant_cfg.paths.data_dir, oct1, oct31), oct1, oct31)
    assert used == pytest.approx(1_000_000) and green.kwh == pytest.approx(300_000)
    assert green_share(used, green.kwh) == pytest.approx(0.30)
