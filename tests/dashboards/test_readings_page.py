"""The hand-reading page on a phone: a real Panel server (``python -m tanjian serve``) and Debian's
headless Chromium at an iPhone-sized viewport (390 × 844 CSS px).

The workspace holds two readings of M-TR-1 (rated 2375 kW; limit 2375 × 1.5 = 3562.5 kW): 49,990 kWh
two hours and one minute ago and 50,000 kWh two hours ago. 50,800 kWh one hour ago is 800 kWh in 1 h,
800 kW: plausible. 99,999,999 kWh now is far above the limit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from zoneinfo import ZoneInfo

import pytest
from ruamel.yaml import YAML

from tests.conftest import ARTIFACTS
from tests.dashboards.test_dashboards import dashboard_server
from workspace.batch import Reading, encode_batch
from workspace.config import EXAMPLE, load_config
from workspace.journal import Journal
from workspace.store import Store

pytestmark = [pytest.mark.requires_chromium, pytest.mark.slow]


def jpeg(color) -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (320, 240), color)
    ImageDraw.Draw(im).rectangle((40, 90, 280, 150), fill=(20, 20, 20))  # a "display"
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("readings")
    yaml = YAML(typ="rt")
    doc = yaml.load(EXAMPLE.read_text("utf-8"))
    cfg_path = base / "tanjian.yaml"
    with open(cfg_path, "w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    cfg = load_config(cfg_path, data_dir=base / "var")
    now = dt.datetime.now(ZoneInfo(cfg.site.plant.timezone)).replace(second=0, microsecond=0)
    last = now - dt.timedelta(hours=2)
    with Journal(cfg.paths.journal, writer=True) as j:
        j.append(encode_batch(cfg.site.plant.id, 0, "test", [
            Reading("M-TR-1", last - dt.timedelta(minutes=1), 49_990.0), Reading("M-TR-1", last, 50_000.0)]))
        Store.open(cfg.paths.store, cfg.site, create=True).fold(j)
    return {"cfg": cfg, "cfg_path": cfg_path, "last": last}


@pytest.fixture(scope="module")
def server(workspace):
    with dashboard_server(workspace) as url:
        yield url


@pytest.fixture
def phone(browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    p = ctx.new_page()
    p.errors = []
    p.on("console", lambda m: p.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(f"pageerror: {e}"))
    yield p
    ctx.close()


def requests(cfg) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(cfg.paths.inbox.glob("*.json"))] \
        if cfg.paths.inbox.exists() else []


def tall(page, path) -> None:
    """Screenshot of the whole form: the template scrolls inside its own pane, so the page is made
    taller than the form for the picture (as a phone's long screenshot would show it)."""
    page.set_viewport_size({"width": 390, "height": 1400})
    page.wait_for_timeout(500)  # let the layout settle before the picture (not asserted on)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 390, "height": 844})


def open_form(page, url: str) -> None:
    page.goto(url)
    page.locator("input[type=file]").wait_for(state="attached", timeout=60_000)


def test_a_reading_from_the_qr_link_is_queued_with_its_photo(server, phone, workspace):
    cfg = workspace["cfg"]
    open_form(phone, f"{server}/readings?meter=M-TR-1")  # Chinese, the default language
    card = phone.locator('[data-meter="M-TR-1"]')
    card.wait_for(timeout=60_000)
    assert "50,000.00 kWh" in card.inner_text() and "2,375.0 kW" in card.inner_text()
    assert "上次读数" in card.inner_text() and "last reading" not in card.inner_text()
    assert phone.get_by_placeholder("M-TR-1、空压机").input_value().startswith("M-TR-1 · Transformer TR-1")
    assert phone.title() == "Plant 18 · 人工抄表" and phone.get_by_text("抄表人", exact=True).count() == 1

    phone.get_by_placeholder("例如 12345.6").fill("50800")
    read_at = workspace["last"] + dt.timedelta(hours=1)  # 800 kWh in 1 h: 800 kW
    phone.get_by_placeholder("现在，或 YYYY-MM-DD HH:MM").fill(f"{read_at:%Y-%m-%d %H:%M}")
    phone.get_by_placeholder("姓名").fill("zhang.min")
    photo = jpeg((210, 220, 200))
    sha = hashlib.sha256(photo).hexdigest()
    phone.locator("input[type=file]").set_input_files(
        files=[{"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    phone.locator(f'[data-photo="{sha}"] img').wait_for(timeout=60_000)
    phone.locator('[data-verdict="ok"]').wait_for(timeout=60_000)
    button = phone.get_by_role("button", name="提交")
    phone.wait_for_function("b => !b.disabled", arg=button.element_handle(), timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    tall(phone, ARTIFACTS / "readings-check.png")
    button.click()
    done = phone.locator(f'[data-submitted-sha256="{sha}"]')
    done.wait_for(timeout=60_000)
    assert sha in done.inner_text() and "已提交，等待写入账本" in done.inner_text()

    [req] = requests(cfg)
    assert (req["kind"], req["meter"], req["counter"], req["author"]) == ("manual_reading", "M-TR-1", 50800.0,
                                                                         "zhang.min")
    assert dt.datetime.fromisoformat(req["time"]) == read_at
    assert req["photo_sha256"] == sha
    stored = cfg.paths.evidence / "sha256" / sha[:2] / sha
    assert stored.read_bytes() == photo
    tall(phone, ARTIFACTS / "readings.png")
    assert phone.errors == []


def test_an_implausible_value_is_refused_and_nothing_is_queued(server, phone, workspace):
    cfg = workspace["cfg"]
    before = requests(cfg)
    open_form(phone, f"{server}/readings?lang=en&meter=M-TR-1")
    phone.locator('[data-meter="M-TR-1"]').wait_for(timeout=60_000)
    phone.get_by_placeholder("e.g. 12345.6").fill("99999999")
    phone.get_by_placeholder("your name").fill("zhang.min")
    photo = jpeg((90, 30, 30))
    sha = hashlib.sha256(photo).hexdigest()
    phone.locator("input[type=file]").set_input_files(
        files=[{"name": "IMG_0043.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    phone.locator(f'[data-photo="{sha}"]').wait_for(timeout=60_000)
    problem = phone.locator('[data-verdict="error"] li[data-problem="above_rating"]')
    problem.wait_for(timeout=60_000)
    text = problem.inner_text()
    # compared with the stored reading, or with the hand reading the first test queued an hour later
    assert "M-TR-1: 99,999,999.00 kWh means" in text and "above the limit 3,562.5 kW" in text
    assert "the last reading 50,000.00 kWh" in text or "the queued hand reading 50,800.00 kWh" in text
    assert phone.get_by_role("button", name="Submit").is_disabled()
    tall(phone, ARTIFACTS / "readings-refused.png")
    assert requests(cfg) == before
    assert not (cfg.paths.evidence / "sha256" / sha[:2] / sha).exists()

    # a value below the last reading is refused too, naming it
    phone.get_by_placeholder("e.g. 12345.6").fill("49000")
    phone.locator('li[data-problem="counter_below_last"]').wait_for(timeout=60_000)
    assert phone.get_by_role("button", name="Submit").is_disabled()
    assert phone.errors == []


def test_unknown_meter_in_the_link_is_said_and_the_picker_searches(server, phone):
    open_form(phone, f"{server}/readings?lang=en&meter=M-NOPE")
    card = phone.locator('[data-meter=""]')
    card.wait_for(timeout=60_000)
    assert "M-NOPE" in card.inner_text()
    picker = phone.get_by_placeholder("M-TR-1, compressor")
    picker.click()
    picker.press_sequentially("compressor 1")
    phone.get_by_text("M-AC-01 · Screw air compressor 1").first.click()
    phone.locator('[data-meter="M-AC-01"]').wait_for(timeout=60_000)
    assert phone.errors == []


def test_a_warning_needs_the_readers_confirmation(server, phone, workspace):
    """M-TR-2 has no stored reading: the value cannot be compared, so the reader must confirm it."""
    import urllib.request

    with urllib.request.urlopen(f"{server}/", timeout=30) as r:
        assert 'href="/readings"' in r.read().decode()  # the index lists the page
    cfg = workspace["cfg"]
    before = len(requests(cfg))
    open_form(phone, f"{server}/readings?lang=en&meter=M-TR-2")
    phone.locator('[data-meter="M-TR-2"]').wait_for(timeout=60_000)
    phone.get_by_placeholder("e.g. 12345.6").fill("1234.5")
    phone.get_by_placeholder("your name").fill("li.wei")
    phone.locator("input[type=file]").set_input_files(
        files=[{"name": "IMG_0044.jpg", "mimeType": "image/jpeg", "buffer": jpeg((200, 200, 90))}])
    phone.locator('[data-verdict="warning"] li[data-problem="no_history"]').wait_for(timeout=60_000)
    phone.locator("[data-photo] img").wait_for(timeout=60_000)
    button = phone.get_by_role("button", name="Submit")
    assert button.is_disabled()
    assert phone.get_by_text("I checked the value against the meter").count() == 1
    phone.locator("input[type=checkbox]").check()
    phone.wait_for_function("b => !b.disabled", arg=button.element_handle(), timeout=60_000)
    button.click()
    phone.locator('[data-submit="queued"]').wait_for(timeout=60_000)
    reqs = requests(cfg)
    assert len(reqs) == before + 1
    [new] = [r for r in reqs if r["meter"] == "M-TR-2"]
    assert new["counter"] == 1234.5 and new["author"] == "li.wei" and new["confirmed_warnings"] == ["no_history"]
    assert phone.errors == []
