"""The dashboards, served by a real Panel server in a subprocess and read in Debian's Chromium.

The workspace is the seeded Plant 18 history; its ledger is anchored on an in-process eth-tester
chain here, so the big screen shows a real anchor and a real batch export with its proof bundle
can be verified. The server's ``chain.rpc_url`` points at a closed port: verification is offline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ruamel.yaml import YAML

from tests.conftest import ARTIFACTS, ROOT, free_port
from dashboards import render
from dashboards.bigscreen import BigScreen
from dashboards.feeds import verify_upload
from models.kpi import plant_kpis
from workspace.config import EXAMPLE, load_config
from workspace.store import Store
from tanjian.service import stop

WORKSHOPS = {"WS-CW", "WS-MC", "WS-PC", "WS-AS", "WS-TC", "WS-UT"}
KPI_KINDS = {"electricity": "electricity_kWh", "co2e": "co2e_kg", "natural-gas": "natural_gas_m3"}
SEQ = 3  # the exported batch


# -- fixtures ----------------------------------------------------------------------------------------
def make_workspace(seeded_dir: Path, base: Path, rpc_url: str, w3) -> dict:
    """A private copy of the seeded workspace with its ledger anchored through ``w3``, batch ``SEQ``
    exported with its proof bundle (and a tampered copy), and a config file naming ``rpc_url``."""
    from eth_account import Account

    from chain.anchor import AnchorService
    from chain.bundle import export_batch
    from chain.deploy import ensure_deployment
    from chain.ledger import Ledger

    data = base / "var"
    shutil.copytree(seeded_dir, data)
    yaml = YAML(typ="rt")
    doc = yaml.load(EXAMPLE.read_text("utf-8"))
    doc["chain"]["rpc_url"] = rpc_url
    doc["dashboards"]["refresh_s"] = 1
    cfg_path = base / "tanjian.yaml"
    with open(cfg_path, "w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    cfg = load_config(cfg_path, data_dir=data)

    gateway = Account.create()
    info = ensure_deployment(w3, cfg.paths.chain, gateway.address)
    with Ledger(cfg.paths.journal, cfg.paths.chain) as ledger:
        anchor = AnchorService(w3, info["address"], gateway, ledger, cfg.paths.chain).anchor_once()
        assert anchor is not None and anchor["tree_size"] > SEQ
        batch_path, bundle_path = export_batch(cfg.paths.journal, ledger, cfg.paths.chain, SEQ, base / "out")
    tampered = base / "tampered" / batch_path.name
    tampered.parent.mkdir()
    tampered.write_bytes(change_one_value(batch_path.read_bytes()))
    return {"cfg": cfg, "cfg_path": cfg_path, "anchor": anchor, "batch": batch_path, "bundle": bundle_path,
            "tampered": tampered}


def change_one_value(data: bytes) -> bytes:
    """The batch with the last digit of its first counter reading changed (one value, same length)."""
    start = data.index(b'"rows":')
    m = re.search(rb'"[0-9TZ:.-]+",(\d+\.\d*[0-9])', data[start:])
    assert m, "no reading found in the batch"
    i = start + m.end(1) - 1
    digit = data[i:i + 1]
    return data[:i] + (b"1" if digit != b"1" else b"2") + data[i + 1:]


@contextmanager
def dashboard_server(ws: dict):
    """``python -m tanjian serve`` for a workspace, on a free port; yields its base URL."""
    port = free_port()
    log_path = ws["cfg_path"].parent / "server.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tanjian", "--config", str(ws["cfg_path"]),
             "--data-dir", str(ws["cfg"].paths.data_dir), "-v", "serve", "--port", str(port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"dashboard server exited with {proc.returncode}:\n"
                            f"{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/liveness", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dashboard server did not come up:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        stop(proc, 15)


@pytest.fixture(scope="module")
def workspace(seeded_dir, tmp_path_factory):
    """Anchored on an in-process eth-tester chain; the config's node is a closed port (offline)."""
    from chain.node import connect

    return make_workspace(seeded_dir, tmp_path_factory.mktemp("dash"), f"http://127.0.0.1:{free_port()}",
                          connect("tester"))


@pytest.fixture(scope="module")
def server(workspace):
    with dashboard_server(workspace) as url:
        yield url


@pytest.fixture(scope="module")
def online(seeded_dir, tmp_path_factory):
    """Anchored on a real anvil node that the dashboard server can reach: (workspace, base URL)."""
    from chain.node import connect
    from tanjian.simulator.anvil import start_anvil

    node = start_anvil()
    try:
        ws = make_workspace(seeded_dir, tmp_path_factory.mktemp("dash-online"), node.rpc_url,
                            connect(node.rpc_url))
        with dashboard_server(ws) as url:
            yield ws, url
    finally:
        node.stop()


@pytest.fixture
def page(browser):
    """A 1920x1080 page that records console errors and uncaught exceptions."""
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    p = ctx.new_page()
    p.errors = []
    p.on("console", lambda m: p.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(f"pageerror: {e}"))
    yield p
    ctx.close()


# -- without a browser -------------------------------------------------------------------------------
def test_anchor_card_without_anchor_says_so():
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert 'data-anchor="none"' in render.anchor_card(None, now)
    assert "no anchor yet" in render.anchor_card(None, now)
    rec = {"root": "0x" + "ab" * 32, "tree_size": 1234, "block_number": 56789, "chain_id": 31337,
           "block_time": int(now.timestamp()) - 7 * 60 - 5, "tx_hash": "0x" + "cd" * 32}
    card = render.anchor_card(rec, now)
    assert "7 min ago" in card and "1,234" in card and "#56,789" in card and "0xabababab…ababab" in card


@pytest.mark.parametrize(("kwh", "text"), [(10216.2347, ("10,216", "kWh")), (123456.0, ("123.5", "MWh")),
                                           (float("nan"), ("–", "kWh"))])
def test_energy_is_shown_in_kwh_then_mwh(kwh, text):
    assert render.fmt_energy(kwh) == text


def test_big_screen_picks_up_a_new_fold(seeded_cfg):
    """The collector commits from another process; the next refresh reads the new snapshot."""
    from tanjian.demo.history import seed_history

    screen = BigScreen(seeded_cfg)
    first = screen.view
    assert first is not None and screen.error == ""
    start = (first.as_of + dt.timedelta(minutes=1)).astimezone(dt.timezone.utc)
    seed_history(seeded_cfg, start, start + dt.timedelta(minutes=10))
    screen.refresh()
    assert screen.view.snapshot != first.snapshot
    assert screen.view.as_of == first.as_of + dt.timedelta(minutes=10)
    expected = plant_kpis(Store.open(seeded_cfg.paths.store, seeded_cfg.site))
    got = screen.view.kpis.loc["year", "electricity_kWh"]
    assert got == pytest.approx(expected.loc["year", "electricity_kWh"], rel=1e-12)
    assert screen.view.kpis.loc["year", "electricity_kWh"] > first.kpis.loc["year", "electricity_kWh"]


def test_big_screen_names_the_methodology_and_its_chain_status(seeded_cfg):
    """The big screen computes with the active package and says which, and whether the chain confirmed it."""
    from models.packages import load_methodology

    screen = BigScreen(seeded_cfg)  # the example configuration pins no methodology: the packaged default
    m = screen.methodology
    want = load_methodology("ghg-protocol-corporate")
    assert (m["id"], m["version"], m["sha256"]) == (want.id, want.version, want.sha256)
    assert (m["status"], m["label"]) == ("offline", "offline, not checked") and "pins no methodology" in m["reason"]
    assert screen.view.kpis.attrs["methodology"]["sha256"] == want.sha256
    card = screen._methodology()
    assert 'data-methodology-status="offline"' in card and "offline, not checked" in card and want.sha256 in card


def test_missing_store_is_reported_not_raised(plant_cfg):
    screen = BigScreen(plant_cfg)
    assert screen.view is None
    assert "no store here yet" in screen.error
    assert "no store here yet" in screen._status()


def test_offline_verification_of_an_export(workspace):
    v = verify_upload(workspace["batch"].read_bytes(), workspace["bundle"].read_bytes(),
                      workspace["cfg"].chain.rpc_url, batch_name=workspace["batch"].name)
    assert [c.status for c in v.report.checks] == ["pass"] * 5 + ["skip"] * 3
    assert v.verdict == "offline" and not v.online and "not reachable" in v.chain_note
    bundle = json.loads(workspace["bundle"].read_text())
    assert v.sha256 == bundle["batch"]["sha256"] and "0x" + v.leaf_hash == bundle["batch"]["leaf_hash"]
    bad = verify_upload(b"{}", b"not json", workspace["cfg"].chain.rpc_url)
    assert bad.verdict == "fail" and bad.report.failed == "format"


def test_serve_in_a_thread_answers_and_stops(plant_cfg):
    """The call ``tanjian serve`` makes, in a thread: the index lists both pages."""
    from dashboards.app import serve

    port = free_port()
    thread = serve(plant_cfg, port=port, threaded=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    index = r.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        thread.stop()
    # the shell's own index (not Panel's listing): every registered page, by its route
    assert 'href="/bigscreen"' in index and 'href="/verify"' in index and 'href="/readings"' in index
    assert 'name="viewport"' in index


# -- in the browser ----------------------------------------------------------------------------------
@pytest.mark.requires_chromium
@pytest.mark.slow
def test_index_lists_both_pages(server, page):
    page.goto(f"{server}/")
    hrefs = {a.get_attribute("href") for a in page.locator(".tj-index a[data-slug]").all()}
    assert {"/bigscreen", "/verify", "/readings"} <= hrefs


@pytest.mark.requires_chromium
@pytest.mark.slow
def test_big_screen_shows_the_model_numbers(server, page, workspace):
    cfg = workspace["cfg"]
    page.goto(f"{server}/bigscreen")
    page.locator('[data-kpi="co2e-year"]').wait_for(timeout=60_000)
    page.locator("[data-workshop]").first.wait_for(timeout=60_000)

    store = Store.open(cfg.paths.store, cfg.site)
    expected = plant_kpis(store)  # "now" = the newest reading, as on the page
    shown = {el.get_attribute("data-kpi"): (float(el.get_attribute("data-value")), el.inner_text())
             for el in page.locator("[data-kpi]").all()}
    want = {f"{kind}-{period}" for kind in KPI_KINDS for period in expected.index}
    assert set(shown) == want
    for key, (value, text) in shown.items():
        kind, period = key.rsplit("-", 1)
        assert value == pytest.approx(expected.loc[period, KPI_KINDS[kind]], rel=1e-6), key
        assert re.search(r"\d", text) and re.search(r"kWh|MWh|tCO₂e|m³", text), (key, text)
    assert expected.loc["today", "electricity_kWh"] > 0  # a seeded day is not empty

    # header: plant name, data time and snapshot read
    assert page.title().startswith("Plant 18")
    assert "Plant 18 · 大屏：能耗与碳排放" in page.locator("body").inner_text()  # the shell's title, Chinese first
    # the shell's status line: the same snapshot and data time as the query API's
    shell = page.locator(".tj-shell-status [data-snapshot]")
    assert shell.get_attribute("data-snapshot") == expected.attrs["snapshot"]
    assert f"{store.latest_time():%Y-%m-%d %H:%M}" in page.locator(".tj-shell-status").inner_text()
    status = page.locator("[data-as-of]")
    assert status.get_attribute("data-snapshot") == expected.attrs["snapshot"]
    assert page.locator(".tj-cards").get_attribute("data-snapshot") == expected.attrs["snapshot"]
    assert dt.datetime.fromisoformat(status.get_attribute("data-as-of")) == store.latest_time()
    assert f"数据截至 {store.latest_time():%Y-%m-%d %H:%M}" in status.inner_text()  # "data as of", Chinese first

    # workshops: the six of Plant 18 with today's numbers
    rows = page.locator("tr[data-workshop]")
    assert {rows.nth(i).get_attribute("data-workshop") for i in range(rows.count())} == WORKSHOPS
    assert "涂装车间" in page.locator("table.tj-table").inner_text()  # Painting & coating, in the page's language

    # the anchor made in the fixture
    a = workspace["anchor"]
    card = page.locator(".tj-anchor")
    assert card.get_attribute("data-anchor") == a["root"]
    assert int(card.get_attribute("data-anchor-tree-size")) == a["tree_size"]
    assert int(card.get_attribute("data-anchor-block")) == a["block_number"]
    assert re.search(r"刚刚|\d+ 分钟前", card.inner_text())  # just now, 4 min ago

    # charts rendered (bokeh canvases)
    assert page.locator(".bk-Canvas, canvas").count() >= 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(1500)  # let the canvases paint before the screenshot (not asserted on)
    page.screenshot(path=str(ARTIFACTS / "bigscreen.png"), full_page=True)
    assert page.errors == []


def upload_and_verify(page, batch: Path, bundle: Path) -> str:
    """Upload the pair, press Verify, return the verdict shown."""
    sha = hashlib.sha256(batch.read_bytes()).hexdigest()
    inputs = page.locator("input[type=file]")
    inputs.nth(0).set_input_files(str(batch))
    inputs.nth(1).set_input_files(str(bundle))
    page.locator(f'[data-upload="batch"][data-sha256="{sha}"]').wait_for(timeout=60_000)
    page.locator('[data-upload="bundle"][data-sha256]').wait_for(timeout=60_000)
    button = page.locator("button", has_text="Verify")
    button.click()
    verdict = page.locator(f'[data-verdict][data-file-sha256="{sha}"]')  # this upload's result
    verdict.wait_for(timeout=60_000)
    return verdict.get_attribute("data-verdict")


def statuses(page) -> dict[str, str]:
    rows = page.locator("tr[data-check]")
    return {rows.nth(i).get_attribute("data-check"): rows.nth(i).get_attribute("data-status")
            for i in range(rows.count())}


@pytest.mark.requires_chromium
@pytest.mark.slow
def test_verifier_passes_an_export_offline_and_fails_a_tampered_copy(server, page, workspace):
    bundle = json.loads(workspace["bundle"].read_text())
    page.goto(f"{server}/verify?lang=en")  # the English labels below
    page.locator("input[type=file]").nth(1).wait_for(state="attached", timeout=60_000)

    assert upload_and_verify(page, workspace["batch"], workspace["bundle"]) == "offline"
    assert statuses(page) == {"format": "pass", "leaf": "pass", "signature": "pass", "inclusion": "pass",
                              "consistency": "pass", "chain_id": "skip", "anchor": "skip", "gateway": "skip"}
    note = page.locator("[data-chain-note]").inner_text()
    assert "offline checks only" in note and workspace["cfg"].chain.rpc_url in note
    assert page.locator("code[data-sha256]").get_attribute("data-sha256") == bundle["batch"]["sha256"]
    leaf = page.locator("[data-leaf-hash]").get_attribute("data-leaf-hash")
    assert "0x" + leaf == bundle["batch"]["leaf_hash"]
    assert page.locator("text=matches the bundle").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "verifier.png"), full_page=True)

    # one value changed: the leaf no longer matches and nothing after it is run
    assert upload_and_verify(page, workspace["tampered"], workspace["bundle"]) == "fail"
    got = statuses(page)
    assert got["format"] == "pass" and got["leaf"] == "fail"
    assert {got[c] for c in ("inclusion", "chain_id", "anchor", "gateway")} == {"skip"}
    assert "fails 'leaf'" in page.locator("[data-verdict]").inner_text()
    assert f"batch {SEQ}" in page.locator('tr[data-check="leaf"]').inner_text()
    page.screenshot(path=str(ARTIFACTS / "verifier-tampered.png"), full_page=True)
    assert page.errors == []


@pytest.mark.requires_chromium
@pytest.mark.slow
def test_big_screen_follows_new_readings(server, page, workspace):
    """Readings folded while the page is open appear without a reload (runs last: it adds data)."""
    from tanjian.demo.history import seed_history

    cfg = workspace["cfg"]
    page.goto(f"{server}/bigscreen")
    page.locator('[data-kpi="electricity-today"]').wait_for(timeout=60_000)
    before = dt.datetime.fromisoformat(page.locator("[data-as-of]").get_attribute("data-as-of"))
    start = (before + dt.timedelta(minutes=1)).astimezone(dt.timezone.utc)
    seed_history(cfg, start, start + dt.timedelta(minutes=5))  # as the collector would fold them

    store = Store.open(cfg.paths.store, cfg.site)
    after = store.latest_time()
    assert after == before + dt.timedelta(minutes=5)
    expected = plant_kpis(store)
    # seeding folds in several commits, and the page's panes update one by one: wait for the cards
    # to show the last commit
    page.locator(f'.tj-cards[data-snapshot="{expected.attrs["snapshot"]}"]').wait_for(timeout=60_000)
    page.locator(f'.tj-status[data-snapshot="{expected.attrs["snapshot"]}"]').wait_for(timeout=60_000)
    assert page.locator("[data-as-of]").get_attribute("data-as-of") == after.isoformat()
    shown = float(page.locator('[data-kpi="electricity-year"]').get_attribute("data-value"))
    assert shown == pytest.approx(expected.loc["year", "electricity_kWh"], rel=1e-6)
    assert page.errors == []


@pytest.mark.requires_chromium
@pytest.mark.requires_anvil
@pytest.mark.slow
def test_verifier_checks_the_anchor_on_chain(online, page):
    ws, url = online
    page.goto(f"{url}/verify?lang=en")
    page.locator("input[type=file]").nth(1).wait_for(state="attached", timeout=60_000)

    assert upload_and_verify(page, ws["batch"], ws["bundle"]) == "pass"
    assert set(statuses(page).values()) == {"pass"} and len(statuses(page)) == 8
    note = page.locator("[data-chain-note]").inner_text()
    assert f"on-chain checks against {ws['cfg'].chain.rpc_url}" in note
    assert "VERIFIED" in page.locator("[data-verdict]").inner_text()
    assert f"block {ws['anchor']['block_number']}" in page.locator('tr[data-check="anchor"]').inner_text()
    page.screenshot(path=str(ARTIFACTS / "verifier-onchain.png"), full_page=True)

    assert upload_and_verify(page, ws["tampered"], ws["bundle"]) == "fail"
    assert statuses(page)["leaf"] == "fail"
    assert page.errors == []
