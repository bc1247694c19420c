"""The reports page: reports issued through models.reports.issue by a person with the permission, each file's
SHA-256 equal to the file's own (sha256sum), its ledger batch; refusals in one line."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from dashboards.actor import ActionRefused, Actor
from dashboards.reports_page import ReportsPage, issue_reports, issued, ledger_status, reports_dir
from workspace import audit


def test_ledger_status():
    assert ledger_status(None, None) == "queued for the collector"
    assert ledger_status(5, {"tree_size": 5}) == "in ledger, not yet anchored"  # leaves 0..4 anchored
    assert ledger_status(5, {"tree_size": 6}) == "anchored"


def test_issue_and_list(seeded_cfg):
    cfg = seeded_cfg
    day = dt.date.today()
    df = issue_reports(cfg, Actor("li.wei", "energy_manager"), day - dt.timedelta(days=1), day, ["json"], "test")
    assert len(df) == 2  # the Chinese guideline's and the ISO layout, JSON each
    folder = reports_dir(cfg) / f"{day - dt.timedelta(days=1)}_{day}"
    for name, row in df.iterrows():
        assert row["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert row["batch"] is not None and row["ledger"] == "in ledger, not yet anchored"  # no anchor here
    last = list(audit.entries(cfg.paths.data_dir))[-1][1]
    assert (last["action"], last["user"]) == ("report_issue", "li.wei")
    listed = issued(cfg)
    assert set(listed["file"]) == set(df.index) and set(listed["on disk"]) == {"unchanged"}
    (folder / df.index[0]).write_bytes(b"{}")  # changed after issue
    assert "changed or missing" in set(issued(cfg)["on disk"])


@pytest.mark.parametrize("who,fmts,match", [(Actor("m", "meter_reader"), ["json"], "needs permission report"),
                                            (None, ["json"], "log in"),
                                            (Actor("li.wei", "energy_manager"), [], "at least one format")])
def test_refusals(plant_cfg, who, fmts, match):
    with pytest.raises(ActionRefused, match=match):
        issue_reports(plant_cfg, who, dt.date(2026, 1, 1), dt.date(2026, 1, 31), fmts, "")


def test_page(seeded_cfg):
    page = ReportsPage(seeded_cfg)
    page._name.value = "zhao.min"
    page._formats.value = ["json"]
    page.do_issue()
    assert 'data-done="report" data-files="2"' in page.result
    page._output()
    page.__panel__().get_root()


def test_page_in_chinese_and_english(seeded_cfg):
    """The issued table in the page's language: headers, ledger status and on-disk state; raw values kept in
    the frame (a program reads those)."""
    import re

    cjk = re.compile(r"[\u3400-\u9fff]")
    zh = ReportsPage(seeded_cfg, lang="zh")
    zh._name.value = "zhao.min"
    zh._formats.value = ["json"]
    zh.do_issue()
    # two JSON files (the guideline's and ISO 14064-1 layouts), issued before any anchor covers them
    assert "zhao.min 已生成 2 个文件" in zh.result and "账本状态" in zh.result
    assert "in ledger" not in zh.result and "queued" not in zh.result
    out = zh._output()[2].object
    assert "<h4>已生成报告</h4>" in out and "未改动" in out and "unchanged" not in out and "存证核验" in out
    assert set(issued(seeded_cfg)["on disk"]) == {"unchanged"}  # the frame keeps the raw value
    en = ReportsPage(seeded_cfg, lang="en")
    out = en._output()[2].object
    assert "<h4>Issued reports</h4>" in out and ">unchanged<" in out and not cjk.search(out)


def test_refusals_in_chinese(plant_cfg):
    with pytest.raises(ActionRefused, match="请先登录"):
        issue_reports(plant_cfg, None, dt.date(2026, 1, 1), dt.date(2026, 1, 31), ["json"], "", lang="zh")
    with pytest.raises(ActionRefused, match=r"请至少选择一种格式（json, xlsx, pdf）"):
        issue_reports(plant_cfg, Actor("li.wei", "energy_manager"), dt.date(2026, 1, 1), dt.date(2026, 1, 31), [],
                      "", lang="zh")
