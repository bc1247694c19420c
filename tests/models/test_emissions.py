"""Tests of the emissions along time (models.scope2, models.combustion, models.series) against a published
report and hand-worked values.

Expected values are worked by hand (the arithmetic is in the comments), never produced by the code under test.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models.combustion import natural_gas_combustion, natural_gas_emission_factor
from models.factors import FactorError, FactorLibrary
from models.kpi import location_based_total
from models.scope2 import electricity_location_based
from models.series import ActivityDataError
from workspace.errors import TanjianError

TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def library() -> FactorLibrary:
    return FactorLibrary.load()


def series(values, times, units, **attrs) -> xr.DataArray:
    return xr.DataArray(
        np.asarray(values, dtype=float),
        coords={"time": pd.DatetimeIndex(times)},
        dims="time",
        attrs={"units": units, "timezone": TZ, **attrs},
    )


# --- natural gas -----------------------------------------------------------------------------------------


def test_published_report_natural_gas(library):
    # Published machinery-plant GHG report (2022): 8.4082 x 10^4 Nm3 natural gas -> 181 tCO2 (truncated).
    # 8.4082 x 389.31 GJ = 3273.40 GJ; x 0.0153 tC/GJ = 50.083 tC; x 0.99 = 49.582 tC; x 44/12 = 181.80 tCO2
    volume = series([8.4082e4], ["2022-06-30"], "m3")
    out = natural_gas_combustion(volume, library=library)
    assert out.attrs["units"] == "kgCO2"
    assert float(out.sum()) / 1000 == pytest.approx(181.80, abs=0.01)


def test_natural_gas_in_ten_thousand_nm3(library):
    volume = series([8.4082], ["2022-06-30"], "10^4Nm3")
    assert float(natural_gas_combustion(volume, library=library).sum()) / 1000 == pytest.approx(181.80, abs=0.01)


def test_natural_gas_emission_factor_hand_worked():
    # 0.038931 GJ/Nm3 x 0.0153 tC/GJ = 5.956443e-4 tC/Nm3; x 0.99 = 5.8968786e-4; x 44/12 = 2.1621888e-3 tCO2/Nm3
    assert natural_gas_emission_factor(0.038931, 0.0153, 0.99) == pytest.approx(2.1621888, rel=1e-7)


def test_natural_gas_provenance(library):
    out = natural_gas_combustion(series([1.0], ["2024-01-01"], "Nm3"), library=library)
    assert out.attrs["factor_ids"] == [
        "natural_gas_ncv@CN:2015-01-01",
        "natural_gas_carbon_content@CN:2015-01-01",
        "natural_gas_oxidation@CN:2015-01-01",
    ]
    assert all("发改办气候〔2015〕1722号" in s for s in out.attrs["sources"])
    assert out.emission_factor.values[0] == pytest.approx(2.1621888, rel=1e-7)  # kgCO2/Nm3, hand value above


def test_natural_gas_before_guideline_raises_with_date(library):
    with pytest.raises(FactorError, match="2014-12-31"):
        natural_gas_combustion(series([1.0], ["2014-12-31"], "m3"), library=library)


# --- electricity -----------------------------------------------------------------------------------------


def test_report_electricity_with_2022_national_factor(library):
    # 1,619.725 MWh (the report's purchased electricity) x 0.5366 tCO2/MWh (2022 national average)
    # = 809.8625 + 59.281935 = 869.144435 tCO2
    energy = series([1619.725], ["2022-06-30"], "MWh")
    out = electricity_location_based(energy, library=library)
    assert out.attrs["units"] == "kgCO2e"
    assert float(out.sum()) == pytest.approx(869_144.435, abs=1e-3)
    assert out.attrs["factor_ids"] == ["grid_average@CN:2022-01-01"]


def test_report_electricity_with_compliance_factor(library):
    # 1,619.725 MWh x 0.5703 tCO2/MWh = 923.24325 + 0.4859175 = 923.7291675 tCO2
    energy = series([1_619_725.0], ["2022-06-30"], "kWh")
    out = electricity_location_based(energy, "grid_average_compliance", library=library)
    assert float(out.sum()) == pytest.approx(923_729.1675, abs=1e-3)


def test_new_year_boundary_uses_both_factors_per_workshop(library):
    # 23:00 on 31 Dec 2022 uses 0.5366 kg/kWh, 00:00 on 1 Jan 2023 uses 0.5306 kg/kWh.
    # W1: 100 x 0.5366 + 100 x 0.5306 = 53.66 + 53.06 = 106.72 kg; W2: 200 x ... = 213.44 kg
    energy = xr.DataArray(
        [[100.0, 200.0], [100.0, 200.0]],
        coords={"time": pd.DatetimeIndex(["2022-12-31 23:00", "2023-01-01 00:00"]), "workshop": ["W1", "W2"]},
        dims=("time", "workshop"),
        attrs={"units": "kWh", "timezone": TZ},
    )
    out = electricity_location_based(energy, library=library)
    assert out.dims == ("time", "workshop")
    np.testing.assert_allclose(out.values, [[53.66, 107.32], [53.06, 106.12]], rtol=1e-12)
    np.testing.assert_allclose(out.sum("time").values, [106.72, 213.44], rtol=1e-12)
    np.testing.assert_allclose(out.emission_factor.values, [0.5366, 0.5306])
    assert out.attrs["factor_ids"] == ["grid_average@CN:2022-01-01", "grid_average@CN:2023-01-01"]
    assert len(out.attrs["sources"]) == 2
    assert len(out.attrs["factor_library_sha256"]) == 64


def test_end_labelled_midnight_belongs_to_previous_day(library):
    # Interval 23:00-24:00 on 31 Dec 2022, labelled by its end (2023-01-01 00:00): 10 kWh x 0.5366 = 5.366 kg
    energy = series([10.0], ["2023-01-01 00:00"], "kWh", interval_label="end")
    assert float(electricity_location_based(energy, library=library).sum()) == pytest.approx(5.366)


def test_utc_wall_clock_is_dated_in_china_time(library):
    # 2022-12-31 16:00 UTC is 2023-01-01 00:00 in Asia/Shanghai: 10 kWh x 0.5306 = 5.306 kg
    energy = series([10.0], ["2022-12-31 16:00"], "kWh", timezone="UTC")
    assert float(electricity_location_based(energy, library=library).sum()) == pytest.approx(5.306)


def test_hunan_region(library):
    # 1000 kWh in 2022 x 0.4900 kg/kWh (Hunan 2022) = 490 kg
    energy = series([1000.0], ["2022-03-01"], "kWh")
    out = electricity_location_based(energy, region="CN-HN", library=library)
    assert float(out.sum()) == pytest.approx(490.0)


def test_uncovered_date_names_it(library):
    with pytest.raises(FactorError, match="2020-06-01"):
        electricity_location_based(series([1.0], ["2020-06-01"], "kWh"), library=library)


@pytest.mark.parametrize(
    "attrs, match",
    [
        ({"units": "kWh"}, "timezone"),
        ({"units": "kW", "timezone": TZ}, "units"),
        ({"timezone": TZ}, "units"),
        ({"units": "kWh", "timezone": TZ, "interval_label": "middle"}, "interval_label"),
    ],
)
def test_bad_activity_attributes(library, attrs, match):
    energy = xr.DataArray([1.0], coords={"time": pd.DatetimeIndex(["2022-06-30"])}, dims="time", attrs=attrs)
    with pytest.raises(ActivityDataError, match=match) as info:
        electricity_location_based(energy, library=library)
    assert isinstance(info.value, TanjianError)


def test_no_time_dimension(library):
    energy = xr.DataArray([1.0], dims="hour", attrs={"units": "kWh", "timezone": TZ})
    with pytest.raises(ActivityDataError, match="time"):
        electricity_location_based(energy, library=library)


# --- totals ----------------------------------------------------------------------------------------------


def test_location_based_total_by_workshop(library):
    times = pd.DatetimeIndex(["2022-12-31", "2023-01-01", "2023-01-02"])
    energy = xr.DataArray(
        [[1000.0, 500.0], [1000.0, 500.0], [9999.0, 9999.0]],
        coords={"time": times, "workshop": ["welding", "assembly"]},
        dims=("time", "workshop"),
        attrs={"units": "kWh", "timezone": TZ},
    )
    gas = xr.DataArray(
        [[8.4082e4], [0.0], [1.0e6]],
        coords={"time": times, "workshop": ["paint"]},
        dims=("time", "workshop"),
        attrs={"units": "m3", "timezone": TZ},
    )
    table = location_based_total(
        {"electricity": energy, "natural_gas": gas},
        start=dt.date(2022, 12, 31),
        end=dt.date(2023, 1, 1),
        library=library,
    )
    table = table.set_index(["source", "workshop"])
    # welding: 1000 x 0.5366 + 1000 x 0.5306 = 1067.2 kg; assembly: 500 x (0.5366 + 0.5306) = 533.6 kg
    assert table.loc[("electricity", "welding"), "emissions_kgCO2e"] == pytest.approx(1067.2)
    assert table.loc[("electricity", "assembly"), "emissions_kgCO2e"] == pytest.approx(533.6)
    assert table.loc[("electricity", "welding"), "activity"] == pytest.approx(2000.0)
    # paint: the published report's 8.4082e4 Nm3 -> 181.80 tCO2 (the third day is outside the period)
    assert table.loc[("natural_gas", "paint"), "emissions_kgCO2e"] / 1000 == pytest.approx(181.80, abs=0.01)
    assert table.loc[("natural_gas", "paint"), "scope"] == 1
    assert table.loc[("electricity", "welding"), "scope"] == 2
    assert "grid_average@CN:2022-01-01" in table.loc[("electricity", "welding"), "factor_ids"]
    assert "grid_average@CN:2023-01-01" in table.loc[("electricity", "welding"), "factor_ids"]
    assert "1722号" in table.loc[("natural_gas", "paint"), "sources"]


def test_location_based_total_unknown_medium(library):
    with pytest.raises(ActivityDataError, match="steam"):
        location_based_total({"steam": series([1.0], ["2022-06-30"], "kWh")}, library=library)
