"""Tests of models.factors against published values and hand-made broken files."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from models.factors import (
    STATUSES,
    Factor,
    FactorError,
    FactorFileError,
    FactorLibrary,
    convert,
)
from workspace.errors import TanjianError

HEADER = (
    "factor_id,scope,region,quantity,value,unit,applies_from,applies_to,data_year,"
    "issuer,document,table,published,version,status,notes"
)
GOOD = (
    "grid_average,2,CN,grid_emission_factor,0.5366,tCO2/MWh,2022-01-01,2022-12-31,2022,"
    "MEE & NBS,notice,table,2024-12-20,v1,secondary,"
)


@pytest.fixture(scope="module")
def library() -> FactorLibrary:
    return FactorLibrary.load()


# --- the shipped file ------------------------------------------------------------------------------------

SHIPPED = FactorLibrary.load().factors


@pytest.mark.parametrize("factor", SHIPPED, ids=[f.key for f in SHIPPED])
def test_every_shipped_row_has_source_and_validity(factor: Factor):
    for field in ("issuer", "document", "table", "published", "version", "unit", "quantity"):
        assert getattr(factor, field).strip(), f"{factor.key}: empty {field}"
    assert factor.status in STATUSES
    assert factor.applies_from <= factor.applies_to
    if factor.status != "primary":
        assert factor.notes.strip(), f"{factor.key}: a non-primary value must say where it was found"


# Values as published (MEE/NBS 2021-2023 releases, MEE 2023 compliance notice, NDRC 2015 guideline appendix).
@pytest.mark.parametrize(
    "factor_id, region, when, value, unit",
    [
        ("grid_average", "CN", dt.date(2021, 7, 1), 0.5568, "tCO2/MWh"),
        ("grid_average", "CN", dt.date(2022, 7, 1), 0.5366, "tCO2/MWh"),
        ("grid_average", "CN", dt.date(2023, 7, 1), 0.5306, "tCO2/MWh"),
        ("grid_average", "CN-Central", dt.date(2022, 7, 1), 0.5395, "tCO2/MWh"),
        ("grid_average", "CN-Central", dt.date(2023, 7, 1), 0.5271, "tCO2/MWh"),
        ("grid_fossil", "CN", dt.date(2022, 7, 1), 0.8325, "tCO2/MWh"),
        ("grid_average_excl_market_nonfossil", "CN", dt.date(2023, 7, 1), 0.6096, "tCO2/MWh"),
        ("grid_average_compliance", "CN", dt.date(2024, 3, 1), 0.5703, "tCO2/MWh"),
        ("natural_gas_ncv", "CN", dt.date(2022, 7, 1), 389.31, "GJ/10^4Nm3"),
        ("natural_gas_carbon_content", "CN", dt.date(2022, 7, 1), 15.3, "tC/TJ"),
        ("natural_gas_oxidation", "CN", dt.date(2022, 7, 1), 99, "%"),
    ],
)
def test_lookup_published_values(library, factor_id, region, when, value, unit):
    f = library.lookup(factor_id, when, region)
    assert f.value == value
    assert f.unit == unit
    assert f.covers(when)


def test_guideline_parameters_in_working_units(library):
    when = dt.date(2022, 7, 1)
    # 389.31 GJ per 10^4 Nm3 = 0.038931 GJ/Nm3; 15.3 tC/TJ = 0.0153 tC/GJ; 99 % = 0.99
    assert library.lookup("natural_gas_ncv", when).value_in("GJ/Nm3") == pytest.approx(0.038931, rel=1e-12)
    assert library.lookup("natural_gas_carbon_content", when).value_in("tC/GJ") == pytest.approx(0.0153)
    assert library.lookup("natural_gas_oxidation", when).value_in("1") == pytest.approx(0.99)


def test_lookup_accepts_datetime(library):
    assert library.lookup("grid_average", dt.datetime(2022, 12, 31, 23, 59)).value == 0.5366


def test_source_cites_notice(library):
    f = library.lookup("grid_average", dt.date(2021, 1, 1))
    assert "公告2024年第12号" in f.source
    assert "2024-04-12" in f.source
    assert f.key == "grid_average@CN:2021-01-01"


@pytest.mark.parametrize("when", [dt.date(2020, 12, 31), dt.date(2027, 1, 1)])
def test_lookup_outside_validity_names_the_date(library, when):
    with pytest.raises(FactorError, match=when.isoformat()) as info:
        library.lookup("grid_average", when)
    assert "grid_average" in str(info.value)


def test_unverified_row_refused_unless_allowed(library):
    with pytest.raises(FactorError, match="unverified"):
        library.lookup("grid_average", dt.date(2021, 6, 1), "CN-Central")
    f = library.lookup("grid_average", dt.date(2021, 6, 1), "CN-Central", allow_unverified=True)
    assert f.value == 0.5354


def test_unknown_factor_and_region(library):
    with pytest.raises(FactorError, match="unknown factor_id 'grid_avg'"):
        library.lookup("grid_avg", dt.date(2022, 1, 1))
    with pytest.raises(FactorError, match="no region 'CN-XX'"):
        library.lookup("grid_average", dt.date(2022, 1, 1), "CN-XX")


# --- series ----------------------------------------------------------------------------------------------


def test_series_crosses_new_year_boundary(library):
    index = pd.date_range("2022-12-31 22:00", periods=4, freq="h")  # 22h, 23h, 00h, 01h local
    s = library.series("grid_average", index)
    assert s.tolist() == [0.5366, 0.5366, 0.5306, 0.5306]
    assert s.attrs["unit"] == "tCO2/MWh"
    assert [f.data_year for f in s.attrs["factors"]] == [2022, 2023]


def test_series_daily_over_three_vintages(library):
    index = pd.DatetimeIndex(["2021-12-31", "2022-01-01", "2022-12-31", "2023-01-01", "2026-12-31"])
    assert library.series("grid_average", index).tolist() == [0.5568, 0.5366, 0.5366, 0.5306, 0.5306]


def test_series_converts_aware_index_to_china_time(library):
    # 2022-12-31 15:00 UTC = 23:00 CST (old factor); 16:00 UTC = 2023-01-01 00:00 CST (new factor)
    index = pd.DatetimeIndex(["2022-12-31 15:00", "2022-12-31 16:00"]).tz_localize("UTC")
    assert library.series("grid_average", index).tolist() == [0.5366, 0.5306]


def test_series_uncovered_names_first_missing_date(library):
    index = pd.date_range("2020-12-30", periods=4, freq="D")
    with pytest.raises(FactorError, match="2020-12-30") as info:
        library.series("grid_average", index)
    assert "2 uncovered date(s)" in str(info.value)


# --- broken files ----------------------------------------------------------------------------------------


def write(tmp_path, *lines: str):
    path = tmp_path / "factors.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def only_problem(path) -> tuple[str, int | None, str, str]:
    with pytest.raises(FactorFileError) as info:
        FactorLibrary.load(path)
    assert isinstance(info.value, TanjianError)
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


@pytest.mark.parametrize(
    "column, bad_row",
    [
        ("value", GOOD.replace("0.5366", "0,5366").replace(",0,5366,", ',"0,5366",')),
        ("value", GOOD.replace("0.5366", "abc")),
        ("value", GOOD.replace("0.5366", "inf")),
        ("unit", GOOD.replace("tCO2/MWh", "tCO2/MW")),
        ("applies_to", GOOD.replace("2022-12-31", "2021-12-31")),
        ("applies_from", GOOD.replace("2022-01-01", "2022-13-01")),
        ("applies_from", GOOD.replace("2022-01-01", "01/01/2022")),
        ("status", GOOD.replace("secondary", "official")),
        ("issuer", GOOD.replace("MEE & NBS", "")),
        ("scope", GOOD.replace(",2,CN,", ",two,CN,")),
        ("data_year", GOOD.replace(",2022,MEE", ",22,MEE")),
        ("published", GOOD.replace("2024-12-20", "Dec 2024")),
    ],
)
def test_bad_row_names_file_line_and_column(tmp_path, column, bad_row):
    path = write(tmp_path, "# comment line", HEADER, GOOD.replace("2022", "2020"), bad_row)
    file, line, col, _ = only_problem(path)
    assert (file, line, col) == (str(path), 4, column)
    with pytest.raises(FactorFileError, match=rf"factors\.csv:4: column '{column}'"):
        FactorLibrary.load(path)


def test_overlapping_validity_is_refused(tmp_path):
    overlapping = GOOD.replace("2022-01-01", "2022-06-01").replace("2022-12-31", "2023-05-31")
    path = write(tmp_path, HEADER, GOOD, overlapping)
    file, line, col, message = only_problem(path)
    assert (line, col) == (3, "applies_from")
    assert "line 2" in message


def test_same_id_other_region_may_overlap(tmp_path):
    path = write(tmp_path, HEADER, GOOD, GOOD.replace(",CN,", ",CN-HN,"))
    assert len(FactorLibrary.load(path).factors) == 2


def test_one_unit_per_factor_id(tmp_path):
    other = GOOD.replace("tCO2/MWh", "kgCO2/kWh").replace(",CN,", ",CN-HN,")
    _, line, col, _ = only_problem(write(tmp_path, HEADER, GOOD, other))
    assert (line, col) == (3, "unit")


def test_wrong_cell_count(tmp_path):
    _, line, col, _ = only_problem(write(tmp_path, HEADER, GOOD + ",extra"))
    assert (line, col) == (2, "*")


def test_missing_column(tmp_path):
    header = HEADER.replace(",table", "")
    row = GOOD.replace(",table,", ",")
    _, line, col, message = only_problem(write(tmp_path, header, row))
    assert (line, col) == (1, "table")
    assert "missing" in message


def test_all_problems_reported_at_once(tmp_path):
    path = write(tmp_path, HEADER, GOOD.replace("0.5366", "x").replace("tCO2/MWh", "t"))
    with pytest.raises(FactorFileError) as info:
        FactorLibrary.load(path)
    assert {p[2] for p in info.value.problems} == {"value", "unit"}


def test_unreadable_file(tmp_path):
    with pytest.raises(FactorFileError, match="cannot read"):
        FactorLibrary.load(tmp_path / "missing.csv")


# --- units -----------------------------------------------------------------------------------------------


def test_convert_hand_values():
    assert convert(15.3, "tC/TJ", "tC/GJ") == pytest.approx(0.0153)
    assert convert(389.31, "GJ/10^4Nm3", "GJ/Nm3") == pytest.approx(0.038931)
    assert convert(0.5703, "tCO2/MWh", "kgCO2/kWh") == pytest.approx(0.5703)
    assert convert(570.3, "gCO2/kWh", "tCO2/MWh") == pytest.approx(0.5703)
    assert convert(99, "%", "1") == pytest.approx(0.99)


def test_convert_refuses_other_dimension_and_unknown_unit():
    with pytest.raises(FactorError, match="cannot convert"):
        convert(1.0, "tC/GJ", "tCO2/MWh")
    with pytest.raises(FactorError, match="unknown unit"):
        convert(1.0, "lb/MMBtu", "tC/GJ")
