"""Every registered page (dashboards/pages.yaml) in Debian's Chromium, inside the app shell.

The list of pages is the registry's: a page added to the registry is tested here without a line added. Per page
and viewport (1920x1080 wall, 1366x768 laptop, 390x844 phone): it loads, no console error, a screenshot goes to
test-artifacts/pages/<slug>-<w>x<h>.png, the page is never wider than the viewport (nothing cut off sideways),
and axe-core finds no serious or critical violation. Then: the language switch, a deep link, the index, the
dark big screen fitting 1920x1080 without scrolling and scrolling at 1366x768.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import ARTIFACTS, ROOT
from tests.dashboards.test_dashboards import dashboard_server, make_workspace

from dashboards import registry

pytestmark = [pytest.mark.requires_chromium, pytest.mark.slow]

SIZES = [(1920, 1080), (1366, 768), (390, 844)]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ARTIFACTS / "pages"
#: the element every page's shell shows once the session's document is rendered
READY = ".tj-shell-status"
#: a phone's browser (Chrome on Android)
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36")


@pytest.fixture(scope="module")
def workspace(seeded_dir, tmp_path_factory):
    from chain.node import connect
    from tests.conftest import free_port

    return make_workspace(seeded_dir, tmp_path_factory.mktemp("pages"), f"http://127.0.0.1:{free_port()}",
                          connect("tester"))


@pytest.fixture(scope="module")
def server(workspace):
    with dashboard_server(workspace) as url:
        yield url


def open_page(browser, url: str, size: tuple[int, int]):
    phone = size[0] < 500
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, device_scale_factor=1,
                              is_mobile=phone, has_touch=phone, **({"user_agent": PHONE_UA} if phone else {}))
    p = ctx.new_page()
    p.errors = []
    p.on("console", lambda m: p.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(f"pageerror: {e}"))
    p.goto(url)
    p.locator(READY).first.wait_for(timeout=90_000)
    p.wait_for_load_state("networkidle")
    p.wait_for_timeout(800)  # Bokeh lays plots out after the document is idle
    return ctx, p


def axe_violations(p) -> list[dict]:
    """axe-core's serious and critical violations of the page (shadow DOMs included: axe walks them)."""
    p.add_script_tag(path=str(AXE))
    result = p.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("slug", [p.slug for p in registry.pages()])
def test_every_page_at_every_size(server, browser, slug, size):
    if not AXE.exists():
        pytest.skip(f"{AXE} missing: run `make test` (npm ci installs axe-core)")
    ctx, p = open_page(browser, f"{server}/{slug}", size)
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        p.screenshot(path=str(SHOTS / f"{slug}-{size[0]}x{size[1]}.png"), full_page=True)
        assert p.evaluate("document.querySelector('meta[name=viewport]').content").startswith("width=device-width")
        # nothing is cut off sideways: the document is no wider than the viewport
        width = p.evaluate("document.documentElement.scrollWidth")
        assert width <= size[0] + 1, f"/{slug} is {width} px wide at {size[0]} px"
        assert not p.errors, p.errors
        bad = axe_violations(p)
        assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
    finally:
        ctx.close()


def test_the_language_switch_and_a_deep_link(server, browser):
    # a deep link: the reading page of one meter, in English, dark
    ctx, p = open_page(browser, f"{server}/readings?lang=en&theme=dark&meter=M-CW-01", (390, 844))
    try:
        # on a phone the navigation starts folded; the menu button opens it
        assert not p.locator("#sidebar").is_visible()
        p.locator("#sidebar-toggle").click()
        p.locator("#sidebar").wait_for(state="visible", timeout=10_000)
        nav = p.locator("nav a[aria-current=page]").first
        assert nav.inner_text().strip() == "Hand reading"
        assert p.locator('[data-meter="M-CW-01"], :text("M-CW-01")').count() > 0
        # the switch keeps the rest of the URL and turns the page Chinese
        link = p.locator("a[data-lang=zh]").first
        href = link.get_attribute("href")
        assert "meter=M-CW-01" in href and "theme=dark" in href and "lang=zh" in href
        p.goto(f"{server}{href}")
        p.locator(READY).first.wait_for(timeout=60_000)
        assert p.locator("nav a[aria-current=page]").first.inner_text().strip() == "人工抄表"
        assert not p.errors, p.errors
    finally:
        ctx.close()


def test_the_big_screen_fits_the_wall_and_scrolls_on_a_laptop(server, browser):
    ctx, p = open_page(browser, f"{server}/bigscreen", (1920, 1080))
    try:
        p.locator('[data-kpi="co2e-year"]').wait_for(timeout=60_000)
        height = p.evaluate("document.scrollingElement.scrollHeight")
        assert height <= 1080, f"the wall page is {height} px high at 1080"
        # the shell scrolls inside its main area, so the document's height alone cannot see a cut-off card:
        # every block of the big screen must end inside the 1080 px (locators pierce Panel's shadow roots)
        p.locator(".tj-methodology").wait_for(timeout=60_000)
        for sel in (".tj-cards", ".tj-anchor", ".tj-methodology"):
            box = p.locator(sel).first.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 1080, f"{sel} ends at {box} on the wall"
    finally:
        ctx.close()
    ctx, p = open_page(browser, f"{server}/bigscreen", (1366, 768))
    try:
        p.locator('[data-kpi="co2e-year"]').wait_for(timeout=60_000)
        # nothing hidden: the page scrolls to its last element
        can = p.evaluate("""() => { const e = document.scrollingElement; const before = e.scrollTop;
                                    e.scrollTop = e.scrollHeight; return e.scrollTop > before; }""")
        tall = p.evaluate("document.scrollingElement.scrollHeight > 768")
        assert can or not tall
    finally:
        ctx.close()
