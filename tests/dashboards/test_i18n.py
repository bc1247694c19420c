"""The pages' catalogue (dashboards/locale/{zh,en}/LC_MESSAGES/tanjian.po): every msgid the code uses is in both
files with a Chinese translation, the files compile with Babel, nothing is fuzzy, a translation keeps the
``{fields}`` of its msgid; and the helpers that put a language on numbers and table headers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import pytest

from dashboards import i18n, tables

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
#: the calls whose first argument is a msgid: ``_("…")``, ``ctx._("…")``, ``N_("…")``, ``gettext("…")``
CALLS = {"_", "N_", "gettext"}
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def used_msgids() -> dict[str, str]:
    """msgid -> ``file:line`` of its first use in ``dashboards/*.py``."""
    out: dict[str, str] = {}
    for path in sorted(DASHBOARDS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in CALLS:
                out.setdefault(node.args[0].value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return out


def catalogue(lang: str):
    from babel.messages.pofile import read_po

    with open(i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po", "rb") as f:
        return read_po(f, locale=i18n.BABEL_LOCALE[lang], domain=i18n.DOMAIN)


@pytest.fixture(scope="module")
def cats():
    return {lang: catalogue(lang) for lang in i18n.LANGUAGES}


def test_the_extractor_finds_the_pages_msgids():
    used = used_msgids()
    # one of each kind of call: a page's ctx._, a module's _ of i18n.gettext_for, an N_ table
    assert "Solve" in used and "Acknowledge" in used and "Plant load [kW], {freq} means, {period} against {before}" \
        in used
    assert len(used) > 250


def test_every_msgid_is_in_both_catalogues_with_chinese(cats):
    used = used_msgids()
    for lang, cat in cats.items():
        missing = [f"{where}: {m!r}" for m, where in used.items() if m not in cat]
        assert not missing, f"not in the {lang} catalogue:\n" + "\n".join(missing)
    empty = [f"{used[m]}: {m!r}" for m in used if not cats["zh"][m].string]
    assert not empty, "no Chinese for:\n" + "\n".join(empty)


def test_no_fuzzy_and_the_fields_are_kept(cats):
    for lang, cat in cats.items():
        fuzzy = [m.id for m in cat if m.id and m.fuzzy]
        assert not fuzzy, f"{lang}: fuzzy entries {fuzzy}"
        for m in cat:
            if m.id and m.string:  # the translation names the same {fields} (else .format() raises on the page)
                want, got = sorted(re.findall(r"{(\w*)}", m.id)), sorted(re.findall(r"{(\w*)}", m.string))
                assert want == got, f"{lang}: {m.id!r} -> {m.string!r}"


def test_the_catalogues_compile_with_babel(cats):
    import io

    from babel.messages.mofile import write_mo

    for lang, cat in cats.items():
        errors = [(m.id, e) for m, es in cat.check() for e in es]
        assert not errors, f"{lang}: {errors}"
        buf = io.BytesIO()
        write_mo(buf, cat)
        assert buf.tell() > (10_000 if lang == "zh" else 0)  # English: the msgids are the texts
    # a compiled entry of the pages, with and without a context
    assert i18n.gettext_for("zh")("Load-move calculator") == "负荷转移计算器"
    assert i18n.pgettext_for("zh")("column", "peak") == "高峰"
    assert i18n.gettext_for("en")("Load-move calculator") == "Load-move calculator"


def test_the_english_msgids_of_the_block_have_no_chinese(cats):
    # the English page shows the msgid: a Chinese character in one would reach the English page
    bad = [m.id for m in cats["en"] if m.id and CJK.search(m.id)]
    assert not bad, bad


# -- numbers and table headers ------------------------------------------------------------------------------------
def test_numbers_take_the_languages_format():
    # en_GB and zh_Hans_CN both group by thousands with "," and use "." as the decimal mark (CLDR)
    assert i18n.number(1234567.891, "en", 2) == "1,234,567.89"
    assert i18n.number(1234567.891, "zh", 1) == "1,234,567.9"
    assert i18n.number(float("nan"), "zh") == "–" and i18n.number(None, "en") == "–"


@pytest.mark.parametrize("col, en, zh", [
    ("peak_kwh", "peak [kWh]", "高峰 [kWh]"),
    ("flat_share_pct", "flat share [%]", "平段占比 [%]"),
    ("cum_quota_kg", "cum quota [kg CO₂e]", "累计配额 [kg CO₂e]"),
    ("mean_cny_per_kwh", "mean [CNY/kWh]", "平均 [CNY/kWh]"),
    ("overload_minutes", "overload [min]", "过载 [min]"),
    ("planned_gec_mwh", "planned gec [MWh]", "计划绿证 [MWh]"),
    ("group", "group", "分组"),
])
def test_headers_in_both_languages_keep_the_unit(col, en, zh):
    assert tables.header(col, "en") == en and tables.header(col, "zh") == zh


def test_every_column_the_pages_show_has_a_chinese_header():
    # the columns of the EMS sections, the drill-down, the quota settlement and trail, the plan and the park
    # (listed from the models' frames; a new column without a catalogue entry fails here)
    cols = ["actual_gec_mwh", "amount_kg", "author", "band_high", "band_low", "before_kw", "before_kwh",
            "billed_demand_kw", "breakeven_kw", "capacity_cny", "capacity_kva", "capex_kcny", "carbon_kcny",
            "change_kwh", "change_pct", "cheaper", "chosen", "chosen_extra_cny", "completeness_pct",
            "demand_cny", "detail", "device", "difference_gec_mwh", "emitted_kg", "energy_cny", "energy_kcny",
            "enterprise", "estimated_pct", "failed", "failed_check", "flat_cny", "flat_kwh", "flat_share_pct",
            "forecast_kg", "gec_mwh", "green_power_mwh", "group", "in_band_pct", "kind", "level", "loss_kwh",
            "loss_pct", "max_kw", "mean_cny_per_kwh", "mean_rate", "meter", "month", "name", "node", "opex_kcny",
            "overload_minutes", "packages", "peak_cny", "peak_kw", "peak_kwh", "peak_rate", "peak_share_pct",
            "period", "pf_mean", "planned_green_power_mwh", "purchases_kcny", "quota_kg", "rated_kva", "readings",
            "reason", "role", "running_kwh", "saveable_kwh", "saving_cny", "sector", "sharp_cny", "sharp_kwh",
            "signs", "source", "standby_kwh", "standby_share_pct", "startup_kwh", "status", "this_kw", "this_kwh",
            "time", "total_kg", "total_kwh", "transformer", "valley_cny", "valley_kwh", "verified", "year",
            "days", "missing_days", "emissions_kg", "balance_kg", "cum_emissions_kg", "cum_balance_kg", "over",
            "minutes", "gap", "counter_reset", "meter_replaced", "spike", "stuck", "manual"]
    tables.UNTRANSLATED.clear()
    for c in cols:
        assert CJK.search(tables.header(c, "zh")), c
    assert not tables.UNTRANSLATED.get("zh")


def test_xlsx_headers_in_the_language_and_csv_raw():
    df = pd.DataFrame({"peak_kwh": [1234.5]}, index=pd.Index(["WS-CW"], name="group"))
    back = pd.read_excel(tables.xlsx_bytes(df, "tou", "zh"), index_col=0)
    assert list(back.columns) == ["高峰 [kWh]"] and back.iloc[0, 0] == 1234.5
    assert tables.csv_bytes(df).getvalue().decode("utf-8-sig").splitlines()[0] == "group,peak_kwh"  # for programs


def test_a_table_in_chinese():
    df = pd.DataFrame({"this_kwh": [12345.678]}, index=pd.Index(["WS-CW"], name="group"))
    h = tables.table_html(df, "compare", lang="zh", label="对比")
    # 12,345.678 with one decimal (the table's default for values of 10 and more): 12,345.7
    assert '<th data-col="group">分组</th>' in h and "本期 [kWh]" in h and ">12,345.7<" in h
    assert 'aria-label="对比"' in h and 'data-value="12345.678"' in h
    assert "（无数据）" in tables.table_html(pd.DataFrame(), "x", lang="zh")


def test_site_names_in_the_language(plant_cfg):
    ws = {w.id: w for w in plant_cfg.site.workshops}["WS-CW"]
    assert i18n.site_name(ws, "en") == "Cutting & welding" and i18n.site_name(ws, "zh") == "下料焊接车间"
    line = plant_cfg.site.workshops[0].lines[0]  # no Chinese name: the one name in both
    assert i18n.site_name(line, "zh") == i18n.site_name(line, "en") == line.name


def test_the_kpi_cards_status_line_and_anchor_card_in_both_languages():
    import datetime as dt

    from dashboards import render
    from models.kpi import PERIODS

    kpis = pd.DataFrame({"electricity_kWh": [123456.0] * 4, "co2e_kg": [98765.0] * 4, "natural_gas_m3": [42.0] * 4},
                        index=list(PERIODS))
    zh, en = render.kpi_cards(kpis, "zh"), render.kpi_cards(kpis, "en")
    # 123,456 kWh >= 100 MWh: shown as 123.5 MWh; 98,765 kg = 98.765 t: one decimal from 10 t, 98.8 tCO2e
    assert "今日" in zh and "天然气" in zh and ">123.5<" in zh and ">98.8<" in zh
    assert not CJK.search(en) and "Today" in en and "Natural gas" in en
    # 3 h 12 min = 11,520 s
    assert render.ago(11_520, "zh") == "3 小时 12 分钟前" and render.ago(11_520, "en") == "3 h 12 min ago"
    assert render.ago(30, "zh") == "刚刚"
    now = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.timezone.utc)
    assert "尚未锚定" in render.anchor_card(None, now, "zh") and "no anchor yet" in render.anchor_card(None, now)
    bd = pd.DataFrame({"name": ["Cutting & welding"], "electricity_kWh": [10.0], "co2e_kg": [5.0]},
                      index=["WS-CW"])
    t = render.workshop_table(bd, {"WS-CW": "下料焊接车间"}, "zh")
    assert "下料焊接车间" in t and "Cutting & welding" not in t and "<th>车间</th>" in t
    assert "下料焊接车间" not in render.workshop_table(bd, {"WS-CW": "下料焊接车间"}, "en")
