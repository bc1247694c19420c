"""The park page: the three-enterprise park against anvil, the tampered package flagged at 'document' in the
enterprises table and in the drill-down, in headless Chromium; the view-model checked by hand."""

from __future__ import annotations

import threading

import pytest

from chain.node import free_port
from dashboards.park import ParkPage, enterprise_reports, enterprise_rows
from models.park import scan_drop, verify_package
from tests.conftest import ARTIFACTS
from tests.park_fixture import anvil_w3, three_park  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.requires_anvil, pytest.mark.slow]


@pytest.fixture(scope="module")
def verdicts(three_park):
    world, drop = three_park
    return [verify_package(p, world.w3, world.deployment) for p in scan_drop(drop)]


def test_view_model_by_hand(verdicts):
    rows = enterprise_rows(verdicts, 2026).set_index("enterprise")
    # E2: 3 packages, February refused -> 2 verified, 500 + 600 = 1100 kg; forecast 1100 / 2 * 12 = 6600
    assert rows.loc["E2", "packages"] == 3 and rows.loc["E2", "verified"] == 2
    assert rows.loc["E2", "failed"] == "2026-02: document" and rows.loc["E2", "emitted_kg"] == 1100.0
    assert rows.loc["E2", "forecast_kg"] == pytest.approx(6600.0) and rows.loc["E2", "quota_kg"] == 9000
    assert rows.loc["E1", "failed"] == "" and rows.loc["E1", "emitted_kg"] == 3300.0
    rep = enterprise_reports(verdicts, "E2")
    assert list(rep["status"]) == ["verified", "failed: document", "verified"]
    assert list(rep.columns) == ["period", "status", "failed_check", "total_kg", "detail"]  # figures, no readings


@pytest.mark.requires_chromium
def test_park_page_in_a_browser_flags_the_tampered_report(verdicts, browser):
    import panel as pn

    port = free_port()
    ready = threading.Event()
    server = pn.serve({"park": lambda: ParkPage(verdicts, 2026)}, port=port, address="127.0.0.1",
                      show=False, threaded=True, start=True, websocket_origin=[f"127.0.0.1:{port}"],
                      title="park")
    try:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"http://127.0.0.1:{port}/park")
        table = page.locator("#tj-park-enterprises")
        table.wait_for(timeout=30_000)
        assert "2026-02: document" in table.inner_text()
        # exactly one enterprise flagged, E2, at the check that failed ('document': figures changed after ledgering)
        flagged = table.locator('td[data-col="failed"]:not(:empty)')
        assert flagged.count() == 1 and flagged.inner_text() == "2026-02: document"
        assert table.locator('tr[data-row="E2"] td[data-col="failed"]').inner_text() == "2026-02: document"
        assert flagged.evaluate("e => getComputedStyle(e).fontWeight") == "700"  # it stands out
        # the verified figures only: E2's 500 + 600 = 1100 kg (the tampered February left out)
        assert table.locator('tr[data-row="E2"] td[data-col="emitted_kg"]').get_attribute("data-value") == "1100.0"
        page.locator("select").select_option("E2")
        reports = page.locator("#tj-park-reports")
        reports.wait_for(timeout=30_000)
        text = reports.inner_text()
        assert "failed: document" in text and text.count("verified") == 2
        assert reports.locator('tr[data-row="2026-02"] td[data-col="failed_check"]').inner_text() == "document"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "park-1366x768.png"), full_page=True)
        assert not errors, errors
        page.close()
    finally:
        server.stop()
