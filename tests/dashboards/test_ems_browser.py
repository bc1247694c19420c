"""What a person does on the EMS-side pages, in Debian's Chromium against ``tanjian serve``: a drill-down click,
a topology click that opens the drill-down, an alarm acknowledged by a named person, a quota entered, a business
file imported. Each action is checked in the workspace afterwards (alarm log, quota trail, imported documents)."""

from __future__ import annotations

import pytest

from tests.dashboards.test_pages import open_page, server, workspace  # noqa: F401 - fixtures
from workspace.config import EXAMPLE

pytestmark = [pytest.mark.requires_chromium, pytest.mark.slow]

SIZE = (1366, 768)


@pytest.fixture(scope="module")
def page_of(server, browser):  # noqa: F811
    opened = []

    def go(path, size=SIZE):
        ctx, p = open_page(browser, f"{server}{path}", size)
        opened.append(ctx)
        return p
    yield go
    for c in opened:
        c.close()


def test_drill_click(page_of):
    p = page_of("/drill")
    p.locator('a[data-drill="WS-CW"]').first.click()
    p.locator('b[data-crumb="WS-CW"]').wait_for(timeout=60_000)
    assert "node=WS-CW" in p.url and not p.errors
    p.locator('a[data-crumb]').first.click()  # the breadcrumb back up to the plant
    p.locator('a[data-drill="WS-CW"]').first.wait_for(timeout=60_000)


def test_topology_click_opens_the_drill_down(page_of):
    p = page_of("/topology?node=D-LC-01")
    assert p.locator('a[data-node="M-LC-01"][data-path="1"]').count() == 1
    p.locator('a[data-node="M-LC-01"]').click()
    p.locator('b[data-crumb="D-LC-01"]').wait_for(timeout=60_000)
    assert "/drill?node=D-LC-01" in p.url


def test_alarm_acknowledged(page_of, workspace):  # noqa: F811
    from models.alarms import AlarmDB, State

    cfg = workspace["cfg"]
    with AlarmDB.in_data_dir(cfg.paths.data_dir) as db:
        aid = db.insert(rule="overload", target="TR-1", kind="transformer_overload", priority="high",
                        state=State.UNACK, message="TR-1 load rate 1.12 above 1.00", value=1.12, at=1.0e9)
    p = page_of(f"/alarms?lang=en&alarm={aid}", (390, 844))  # in English
    p.get_by_label("Your name").fill("zhao.min")
    p.get_by_role("button", name="Acknowledge").click()
    p.locator('[data-done="ack"]').wait_for(timeout=60_000)
    with AlarmDB.in_data_dir(cfg.paths.data_dir) as db:
        a = db.alarm(aid)
    assert (a["state"], a["acked_by"]) == ("ACKED", "zhao.min")


def test_quota_entered(page_of, workspace):  # noqa: F811
    from chain.quota import QuotaBook

    cfg = workspace["cfg"]
    p = page_of("/quota")  # in Chinese, the default
    p.get_by_label("姓名").fill("zhao.min")
    p.get_by_label("配额 [t CO₂e]").fill("3650")
    p.get_by_label("原因").fill("2026 allocation letter")
    p.get_by_role("button", name="录入配额").click()
    p.locator('[data-done="quota"]').wait_for(timeout=60_000)
    last = QuotaBook(cfg.paths.chain).entries()[-1]
    assert (last["amount_kg"], last["author"]) == (3_650_000, "zhao.min")


def test_business_file_imported(page_of, workspace):  # noqa: F811
    from workspace.business.imports import list_imports

    cfg = workspace["cfg"]
    erp = EXAMPLE.parent / "imports" / "erp-production-2026-10.csv"
    p = page_of("/data")  # in Chinese, the default
    p.get_by_label("姓名").fill("zhao.min")
    p.get_by_label("映射").select_option("erp_production")
    p.locator('input[type="file"]').set_input_files(str(erp))
    p.wait_for_timeout(1500)  # the file travels over the websocket
    p.get_by_role("button", name="导入").click()
    p.locator('[data-done="import"]').wait_for(timeout=60_000)
    assert [d["file"] for d in list_imports(cfg.paths.data_dir)] == [erp.name]
