"""The data-collection and reports pages in Debian's Chromium against ``tanjian serve``: a voucher entered with one
bad line (its error shown, nothing imported), then its good line imported; a measured factor added; a meter
switched off in the pymodbus simulator shown dead; an issued report's hash check passing (offline checks) and a
tampered copy failing at `document`. Screenshots of each tab at 1920x1080, 1366x768 and 390x844.
Each action is checked in the workspace afterwards."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import subprocess
import sys

import pytest

from tests.conftest import ARTIFACTS, ROOT
from tests.dashboards.test_pages import SIZES, open_page, server, workspace  # noqa: F401 - fixtures

pytestmark = [pytest.mark.requires_chromium, pytest.mark.slow]

SHOTS = ARTIFACTS / "pages"
SCAN = b"%PDF-1.4\n% supplier voucher ZQ-7, scanned\n"


async def _write_health(data_dir: str) -> None:
    """Run Plant 18's simulator and a real collector for two cycles with M-WR-03 switched off, writing the
    collector's health into ``data_dir``/run (its journal and store in a scratch folder)."""
    import tempfile

    from collectors.service import CollectionService
    from tanjian.simulator import PlantSimulator
    from tests.conftest import free_port_block
    from workspace.clock import Clock
    from workspace.config import EXAMPLE, load_config
    from workspace.journal import Journal
    from workspace.store import Store

    with tempfile.TemporaryDirectory() as scratch:
        cfg = load_config(EXAMPLE, data_dir=scratch)
        base = free_port_block(len(cfg.site.gateways))
        offset = base - min(g.port for g in cfg.site.gateways)
        clock = Clock.simulated(dt.datetime.now(dt.timezone.utc), speed=60)
        sim = PlantSimulator(cfg.site, clock, cfg.simulation.seed, offset)
        await sim.start()
        j = Journal(cfg.paths.journal, writer=True)
        st = Store.open(cfg.paths.store, cfg.site, create=True)
        svc = CollectionService(cfg.site, j, st, clock, port_offset=offset, backoff_initial_s=30, backoff_max_s=60)
        for g in cfg.site.gateways:
            object.__setattr__(g, "timeout_s", 0.5)
        svc.health_path = __import__("pathlib").Path(data_dir) / "run" / "health.json"
        try:
            sim.kill("M-WR-03")
            await svc.poll_once()
            await asyncio.sleep(1.05)
            await svc.poll_once()
            svc.write_health()
        finally:
            svc.reader.close()
            j.close()
            await sim.stop()


def _anchor(cfg) -> None:
    """Anchor the ledger's new leaves (the issued report's document batch) on the in-process chain."""
    from eth_account import Account

    from chain.anchor import AnchorService
    from chain.deploy import ensure_deployment
    from chain.ledger import Ledger
    from chain.node import connect

    w3 = connect("tester")
    gateway = Account.create()
    info = ensure_deployment(w3, cfg.paths.chain, gateway.address, plant=cfg.site.plant.id)
    with Ledger(cfg.paths.journal, cfg.paths.chain) as ledger:
        assert AnchorService(w3, info["address"], gateway, ledger, cfg.paths.chain).anchor_once() is not None


@pytest.fixture(scope="module")
def page_of(server, browser):  # noqa: F811
    opened = []

    def go(path, size=(1366, 768)):
        ctx, p = open_page(browser, f"{server}{path}", size)
        opened.append(ctx)
        return p
    yield go
    for c in opened:
        c.close()


def test_voucher_with_a_bad_line_then_imported(page_of, workspace, tmp_path):  # noqa: F811
    from workspace.business.vouchers import list_vouchers

    cfg = workspace["cfg"]
    scan = tmp_path / "zq-7.pdf"
    scan.write_bytes(SCAN)
    p = page_of("/data?tab=vouchers&lang=en")
    p.get_by_label("Your name").fill("zhao.min")
    p.get_by_label("Voucher number").fill("ZQ-7")
    p.get_by_label("Supplier").fill("园区热力公司")
    p.get_by_label("Period start (YYYY-MM-DD)").fill("2026-10-01")
    p.get_by_label("Period end (YYYY-MM-DD)").fill("2026-10-31")
    p.get_by_label("Resource").select_option("fuel:natural_gas")
    p.get_by_label("Quantity").fill("10000")
    p.get_by_label("Unit").fill("Nm3")
    p.get_by_role("button", name="Add line").click()
    p.locator('[data-table="voucher-lines"] tr[data-row="1"]').wait_for(timeout=30_000)
    p.get_by_label("Resource").select_option("fuel:diesel")
    p.get_by_label("Quantity").fill("2.5")
    p.get_by_label("Unit").fill("kWh")  # diesel is bought by mass or volume: row 3 of the voucher's CSV is refused
    p.get_by_role("button", name="Add line").click()
    p.locator('[data-table="voucher-lines"] tr[data-row="2"]').wait_for(timeout=30_000)
    p.locator('input[type="file"]').set_input_files(str(scan))
    p.wait_for_timeout(1500)  # the file travels over the websocket
    p.get_by_role("button", name="Enter voucher").click()
    p.locator('[data-problems="1"]').wait_for(timeout=60_000)
    problem = p.locator('li[data-problem="voucher"]').first.inner_text()
    assert problem.startswith("voucher-ZQ-7.csv:3:unit: unit 'kWh' does not fit fuel 'diesel'"), problem
    assert list_vouchers(cfg.paths.data_dir) == []  # nothing imported
    p.screenshot(path=str(SHOTS / "data-voucher-error-1366x768.png"), full_page=True)
    p.get_by_label("A voucher with bad lines").select_option(label="import the good lines and list the bad ones")
    p.get_by_role("button", name="Enter voucher").click()
    p.locator('[data-done="voucher"][data-records="1"]').wait_for(timeout=60_000)
    (v,) = list_vouchers(cfg.paths.data_dir)
    assert (v["author"], v["resource"], v["quantity"], v["unit"]) == ("zhao.min", "fuel:natural_gas", 10000.0, "Nm3")
    assert f"scan sha256 {hashlib.sha256(SCAN).hexdigest()}" in v["note"]
    assert p.locator('[data-table="vouchers"] td[data-col="author"]').first.inner_text() == "zhao.min"
    assert not p.errors, p.errors


def test_measured_factor_added(page_of, workspace):  # noqa: F811
    from models.factors.measured_file import read_measured

    cfg = workspace["cfg"]
    lab = hashlib.sha256(b"city lab report R-118").hexdigest()
    p = page_of("/data?tab=factors&lang=en")
    p.get_by_label("Your name").fill("zhao.min")
    p.get_by_label("Factor", exact=True).select_option("grid_average")
    p.get_by_label("Value").fill("0.52")
    p.get_by_label("Unit").fill("tCO2/MWh")
    p.get_by_label("Valid from (YYYY-MM-DD)").fill("2026-10-01")
    p.get_by_label("Valid to (YYYY-MM-DD)").fill("2026-10-31")
    p.get_by_label("Laboratory").fill("市计量院")
    p.get_by_label("Report number").fill("R-118")
    p.get_by_label("Evidence SHA-256 (or upload the report)").fill(lab)
    p.get_by_role("button", name="Add measured factor").click()
    p.locator('[data-refused="factor"]').wait_for(timeout=60_000)
    assert "grid emission factor" in p.locator('li[data-problem="factor"]').first.inner_text()
    p.get_by_label("Factor", exact=True).select_option("natural_gas_carbon_content")
    p.get_by_label("Value").fill("15.6")
    p.get_by_label("Unit").fill("tC/TJ")
    p.get_by_role("button", name="Add measured factor").click()
    p.locator('[data-done="factor"]').wait_for(timeout=60_000)
    p.locator('[data-table="measured"] tr[data-row="natural_gas_carbon_content"]').wait_for(timeout=30_000)
    (m,) = read_measured(cfg.paths.data_dir)
    assert (m.factor_id, m.value, m.unit, m.evidence_sha256) == ("natural_gas_carbon_content", 15.6, "tC/TJ", lab)
    assert not p.errors, p.errors


def test_a_switched_off_meter_shows_dead(page_of, workspace):  # noqa: F811
    cfg = workspace["cfg"]
    # the simulator and collector run in a child process (their event loop apart from Playwright's)
    subprocess.run([sys.executable, "-c", "import asyncio, sys; from tests.dashboards.test_data_browser import "
                    "_write_health; asyncio.run(_write_health(sys.argv[1]))", str(cfg.paths.data_dir)],
                   cwd=ROOT, check=True, timeout=120)
    p = page_of("/data?tab=devices&meter=M-WR-03&lang=en")
    cell = p.locator('tr[data-row="M-WR-03"] td[data-col="state"]')
    cell.wait_for(timeout=60_000)
    assert cell.get_attribute("data-state") == "dead"
    assert "never answered" in p.locator('tr[data-row="M-WR-03"] td[data-col="reason"]').inner_text()
    assert p.locator('tr[data-row="M-TR-1"] td[data-col="state"]').get_attribute("data-state") == "ok"
    assert p.locator('[data-count="dead"] b').inner_text() == "1"
    assert p.locator('a[data-reading="M-WR-03"]').get_attribute("href") == "/readings?meter=M-WR-03&lang=en"
    assert p.locator('[data-label="M-WR-03"] svg').count() == 1
    assert not p.errors, p.errors


def test_hash_check_of_an_issued_report_and_a_tampered_copy(page_of, workspace, tmp_path):  # noqa: F811
    from dashboards.actor import Actor
    from dashboards.reports_check import document_batch, export_proof
    from dashboards.reports_page import issue_reports, reports_dir

    cfg = workspace["cfg"]
    day = dt.date.today()
    df = issue_reports(cfg, Actor("li.wei", "energy_manager"), day - dt.timedelta(days=1), day, ["json"], "check")
    _anchor(cfg)
    name = df.index[0]
    folder = f"{day - dt.timedelta(days=1)}_{day}"
    p = page_of(f"/reports?period={folder}&lang=en")
    p.get_by_label("Report to check").select_option(name)
    p.get_by_role("button", name="Check this report").click()
    verdict = p.locator(f'[data-check-report="{name}"] [data-verdict]')
    verdict.wait_for(timeout=60_000)
    # the server's chain node is not running: the offline checks pass, the on-chain ones are skipped
    assert verdict.get_attribute("data-verdict") == "offline"
    for check in ("format", "leaf", "document", "signature", "inclusion", "consistency"):
        assert p.locator(f'tr[data-check="{check}"]').get_attribute("data-status") == "pass", check
    assert p.locator(f'[data-download="{name}"] code').inner_text() == df.loc[name, "sha256"]
    # a tampered copy with the original's batch and proof, dropped in
    path = reports_dir(cfg) / folder / name
    seq = document_batch(cfg, df.loc[name, "sha256"])
    batch, bundle = export_proof(cfg, seq, tmp_path)
    (tmp_path / "batch.json").write_bytes(batch)
    (tmp_path / "bundle.json").write_bytes(bundle)
    tampered = tmp_path / name
    tampered.write_bytes(path.read_bytes().replace(b'"tco2e"', b'"tCO2e"', 1))
    files = p.locator('input[type="file"]')
    files.nth(0).set_input_files(str(tampered))
    files.nth(1).set_input_files(str(tmp_path / "batch.json"))
    files.nth(2).set_input_files(str(tmp_path / "bundle.json"))
    p.wait_for_timeout(1500)
    p.get_by_role("button", name="Check the dropped files").click()
    p.locator(f'[data-check-report="{name}"][data-failed="document"]').wait_for(timeout=60_000)
    assert p.locator('tr[data-check="document"]').get_attribute("data-status") == "fail"
    assert p.locator('tr[data-check="signature"]').get_attribute("data-status") == "skip"
    p.screenshot(path=str(SHOTS / "reports-check-fail-1366x768.png"), full_page=True)
    assert not p.errors, p.errors


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("tab", ["vouchers", "devices", "factors"])
def test_tabs_at_every_size(page_of, tab, size):
    from tests.dashboards.test_pages import axe_violations

    p = page_of(f"/data?tab={tab}", size)
    SHOTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(SHOTS / f"data-{tab}-{size[0]}x{size[1]}.png"), full_page=True)
    width = p.evaluate("document.documentElement.scrollWidth")
    assert width <= size[0] + 1, f"/data?tab={tab} is {width} px wide at {size[0]} px"
    assert not p.errors, p.errors
    bad = axe_violations(p)
    assert not bad, bad
