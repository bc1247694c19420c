"""The data-collection page's sections without a browser: a voucher with a bad line refused with the line named
and then its good line imported (permission checked, audit trail), a measured factor added and a grid factor
refused, the device table showing a meter that never answered as dead, and each tab built."""

from __future__ import annotations

import hashlib

import panel as pn
import pytest

from dashboards.actor import ActionRefused, Actor
from dashboards.data_factors import FactorSection, add_as, factors_table
from dashboards.data_health import HealthSection, collection_status
from dashboards.data_page import DataPage
from dashboards.data_vouchers import VoucherSection, enter_as, vouchers_table
from workspace import audit
from workspace.business.vouchers import VoucherLine

WHO = Actor("li.wei", "energy_manager")
SCAN = b"%PDF-1.4\n% voucher scan\n"
LINES = [VoucherLine("heat:steam", "120", "GJ"), VoucherLine("fuel:lpg", "0.5", "MWh")]  # LPG in MWh: refused
V = dict(number="ZQ-2026-11-07", supplier="园区热力公司", start="2026-11-01", end="2026-11-30", scan=SCAN,
         scan_name="zq.pdf")
LAB = hashlib.sha256(b"the lab's report").hexdigest()
ROW = {"factor_id": "natural_gas_ncv", "value": "391.2", "unit": "GJ/10^4Nm3", "applies_from": "2026-11-01",
       "applies_to": "2026-11-30", "lab": "city lab", "report": "R-7", "evidence_sha256": LAB}


def test_voucher_bad_line_then_good_lines(plant_cfg):
    r, problems = enter_as(plant_cfg, WHO, lines=LINES, **V)
    assert r is None and len(problems) == 1 and problems[0].startswith("voucher-ZQ-2026-11-07.csv:3:unit:")
    assert vouchers_table(plant_cfg).empty
    r, problems = enter_as(plant_cfg, WHO, lines=LINES, accept_good_rows=True, **V)
    assert problems == [] and (r.status, r.records) == ("imported", 1)
    vt = vouchers_table(plant_cfg)
    assert list(vt["resource"]) == ["heat:steam"] and list(vt["author"]) == ["li.wei"]
    last = list(audit.entries(plant_cfg.paths.data_dir))[-1][1]
    assert (last["action"], last["user"]) == ("import", "li.wei") and "voucher ZQ-2026-11-07" in last["what"]


@pytest.mark.parametrize("who,scan,match", [(Actor("w", "analyst"), SCAN, "needs permission import"),
                                            (None, SCAN, "log in"), (WHO, b"", "scan"),
                                            (WHO, b"plain text", "not a PDF")])
def test_voucher_refusals(plant_cfg, who, scan, match):
    with pytest.raises(ActionRefused, match=match):
        enter_as(plant_cfg, who, lines=LINES, **{**V, "scan": scan})


def test_measured_factor_added_with_uploaded_evidence(plant_cfg):
    report = b"%PDF-1.4 lab report R-7"
    m = add_as(plant_cfg, WHO, {**ROW, "evidence_sha256": ""}, report, "r7.pdf")
    assert m.evidence_sha256 == hashlib.sha256(report).hexdigest()
    df = factors_table(plant_cfg)
    assert df.loc["natural_gas_ncv", "value"] == 391.2 and df.loc["natural_gas_ncv", "evidence held"] == "yes"
    last = list(audit.entries(plant_cfg.paths.data_dir))[-1][1]
    assert (last["action"], last["user"]) == ("factor_change", "li.wei")
    with pytest.raises(ActionRefused, match="typed hash"):
        add_as(plant_cfg, WHO, {**ROW, "applies_from": "2026-12-01", "applies_to": "2026-12-31"}, b"%PDF other")


@pytest.mark.parametrize("who,row,match", [
    (Actor("w", "analyst"), ROW, "needs permission factor.measured"),
    (WHO, {**ROW, "factor_id": "grid_average", "unit": "tCO2/MWh"}, "grid emission factor"),
    (WHO, {**ROW, "evidence_sha256": "12ab"}, "evidence_sha256: not a 64-hex"),
])
def test_measured_factor_refusals(plant_cfg, who, row, match):
    with pytest.raises(ActionRefused, match=match):
        add_as(plant_cfg, who, row)
    assert factors_table(plant_cfg).empty


def test_sections_build(plant_cfg):
    name = pn.widgets.TextInput(value="zhao.min")
    vs = VoucherSection(plant_cfg, name)
    vs._number.value, vs._supplier.value, vs._start.value, vs._end.value = "N1", "S", "2026-11-01", "2026-11-30"
    vs._resource.value, vs._quantity.value, vs._unit.value = "fuel:diesel", "1.2", "t"
    vs.add_line()
    vs._scan.filename, vs._scan.value = "s.pdf", SCAN
    vs.do_enter()
    assert 'data-done="voucher" data-records="1"' in vs.result
    fs = FactorSection(plant_cfg, name)
    fs.do_add()  # nothing filled in: every empty cell named
    assert 'data-refused="factor"' in fs.result and "measured.csv:4:value: empty" in fs.result
    fs._factor.value, fs._value.value, fs._unit.value = "grid_average", "0.52", "tCO2/MWh"
    fs._from.value, fs._to.value, fs._lab.value, fs._report.value = "2026-01-01", "2026-12-31", "lab", "R-1"
    fs._hash.value = LAB
    fs.do_add()
    assert 'data-refused="factor"' in fs.result and "grid emission factor" in fs.result
    hs = HealthSection(plant_cfg)
    dev, gw = collection_status(plant_cfg)
    assert set(dev["state"]) == {"dead"}  # no collector, no store: nothing was ever read
    assert 'data-state="dead"' in hs._body.objects[2].object and 'href="/readings?meter=M-TR-1&amp;lang=en"' in hs._body.objects[2].object
    assert 'data-label="M-TR-1"' in hs._label_html("M-TR-1") and "<svg" in hs._label_html("M-TR-1")
    for tab in ("imports", "vouchers", "devices", "factors"):
        DataPage(plant_cfg, {"tab": tab}).__panel__().get_root()


def test_the_account_is_checked_again_at_action_time(plant_cfg, monkeypatch):
    """With accounts, the session's login is what acts: its role read from the accounts file at the click."""
    from workspace.accounts import Accounts

    acc = Accounts(plant_cfg.paths.data_dir)
    acc.add("wang.fang", "analyst", "a long enough password", by="admin")
    monkeypatch.setattr(type(pn.state), "user", property(lambda self: "wang.fang"))
    name = pn.widgets.TextInput()  # no name typed: the login names the person
    fs = FactorSection(plant_cfg, name)
    fs._factor.value, fs._value.value, fs._unit.value = "natural_gas_ncv", "391.2", "GJ/10^4Nm3"
    fs._from.value, fs._to.value, fs._lab.value, fs._report.value = "2026-11-01", "2026-11-30", "lab", "R-7"
    fs._hash.value = LAB
    fs.do_add()
    assert "wang.fang (analyst) may not add measured factors" in fs.result
    acc.set_role("wang.fang", "energy_manager", by="admin", reason="now keeps the lab values")
    fs.do_add()  # the same page, the role changed in between
    assert 'data-done="factor"' in fs.result
    last = list(audit.entries(plant_cfg.paths.data_dir))[-1][1]
    assert (last["action"], last["user"]) == ("factor_change", "wang.fang")
    acc.set_disabled("wang.fang", True, by="admin", reason="left")
    vs = VoucherSection(plant_cfg, name)
    vs._lines = [VoucherLine("fuel:diesel", "1", "t")]
    vs.do_enter()
    assert 'data-refused="voucher"' in vs.result and "log in" in vs.result


def test_the_sections_in_each_language(plant_cfg):
    """The devices tab and the enterprise table in Chinese and English: labels, headers and reasons of the page's
    language; the device's own last error kept as written."""
    import re

    from dashboards.data_health import reason_text
    from dashboards.data_page import base_info

    cjk = re.compile(r"[\u3400-\u9fff]")
    # the reasons collectors.fleet.classify writes, said in Chinese with the same numbers
    assert reason_text("never read", "zh") == "从未读到"
    assert reason_text("last reading 1,234 periods ago (≥ 10)", "zh") == "上次读数距今 1,234 个周期（≥ 10）"
    assert reason_text("5 of 20 reads failed (25%)", "zh") == "20 次读取中 5 次失败（25%）"
    assert reason_text("2 failed attempt(s) in a row; last error: timeout", "zh") == "连续 2 次尝试失败; 最近错误: timeout"
    assert reason_text("never read", "en") == "never read" and reason_text("", "zh") == ""
    zh, en = base_info(plant_cfg.site, "zh"), base_info(plant_cfg.site, "en")
    # the enterprise's Chinese name as the site model spells it; the counts are the site model's own
    assert zh.loc["中文名称", "value"] == "示例重工机械有限公司" and "统一社会信用代码" in zh.index
    assert zh.loc["车间数", "value"] == en.loc["Workshops", "value"] == str(len(plant_cfg.site.workshops))
    assert not any(cjk.search(i) for i in en.index)
    hs = HealthSection(plant_cfg, lang="zh")
    devices = hs._body.objects[2].object
    assert "<h4>设备</h4>" in devices and "距今 [s]" in devices and "从未读到" in devices and "离线" in devices
    assert "never read" not in devices and "age [s]" not in HealthSection(plant_cfg, lang="zh")._body.objects[0].object
    assert "age [s]" in HealthSection(plant_cfg)._body.objects[2].object  # English: the same column
