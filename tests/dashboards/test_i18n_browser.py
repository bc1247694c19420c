"""Each page of the EMS side, the verifier, the hand readings, the plan, the park, the data-collection page (its
four tabs), the reports page, the big screen and the login page in Debian's Chromium, in English and in Chinese,
at the three viewport sizes: no label of the other language remains.

English page: no Chinese character in the page's text (shadow DOMs, placeholders, ARIA labels and tooltips
included) except the names of the site model and the language switch's "中文". Chinese page: the page's own
headings are the catalogue's Chinese, every table header is Chinese (with its unit), and no English label of
the catalogue (a msgid of two words or more) is shown. A screenshot per page, language and size goes to
test-artifacts/pages/<slug>-<lang>-<w>x<h>.png.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ARTIFACTS
from tests.dashboards.test_pages import READY, SIZES, open_page, server, workspace  # noqa: F401 - fixtures

pytestmark = [pytest.mark.requires_chromium, pytest.mark.slow]

SHOTS = ARTIFACTS / "pages"
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
#: page -> (path and query, the Chinese texts it must show: headings and labels of the catalogue)
PAGES = {
    "ems": ("/ems?tab=tou", ["峰谷分时电量与电费", "负荷转移计算器", "移出时段", "下载 XLSX", "周期"]),
    "drill": ("/drill?node=WS-CW", ["峰值负荷", "负荷率", "下级", "同类对比", "数据质量"]),
    "topology": ("/topology?node=D-LC-01", ["电力", "压缩空气", "路径上的表计", "点击节点查看详情"]),
    "alarms": ("/alarms?view=all&alarm={alarm}", ["待处理", "优先级", "确认", "取消搁置", "历史", "操作人"]),
    "quota": ("/quota", ["已排放", "全年预测", "月度结算 [kg CO₂e]", "配额记录", "录入配额"]),
    "plan": ("/plan", ["净现值成本", "采购计划", "逐年投资与运行费用", "下载 CSV"]),
    "verify": ("/verify", ["批次文件", "证明包", "核验", "尚未核验"]),
    "readings": ("/readings?meter=M-TR-1", ["抄表人", "上次读数", "额定", "表盘照片"]),
    "park": ("/park", ["未配置园区"]),
    "data": ("/data", ["企业信息与导入", "企业基本信息", "统一社会信用代码", "导入业务文件", "映射", "尚未导入文件"]),
    "data-vouchers": ("/data?tab=vouchers", ["外购资源手工凭证", "凭证号", "添加明细"]),
    "data-devices": ("/data?tab=devices", ["物联网采集状态与设备健康", "网关", "最后读数时间", "离线"]),
    "data-factors": ("/data?tab=factors", ["实测排放因子及其证据", "检测机构", "添加实测因子"]),
    "reports": ("/reports", ["温室气体报告", "起始日 (YYYY-MM-DD)", "生成报告", "已生成报告", "报告哈希核验"]),
    "bigscreen": ("/bigscreen", ["今日全厂负荷", "最近一次上链锚定", "今日各车间"]),
}
#: the printed QR label's own texts (dashboards/labels.py): a label stuck on a meter is read by everyone, so it is
#: bilingual by design; the devices tab shows the same SVG that ``tanjian labels`` prints
LABEL_TEXTS = {"plant level 全厂", "扫码抄表 Scan to read"}
#: every text of the page: text nodes (through shadow roots) and the attributes a person reads or hears
TEXT_JS = """() => {
  const out = [];
  const walk = (root) => {
    for (const n of root.childNodes) {
      if (n.nodeType === 3) { out.push(n.data); continue; }
      if (n.nodeType !== 1 || ['STYLE', 'SCRIPT', 'TEMPLATE', 'NOSCRIPT'].includes(n.tagName)) continue;
      for (const a of ['placeholder', 'aria-label', 'title', 'alt', 'value']) {
        const v = n.getAttribute(a); if (v && !(a === 'value' && n.tagName !== 'BUTTON')) out.push(v);
      }
      if (n.shadowRoot) walk(n.shadowRoot);
      walk(n);
    }
  };
  walk(document.body);
  return out.join('\\n');
}"""


@pytest.fixture(scope="module")
def prepared(workspace):  # noqa: F811
    """An alarm with a history (raised, acknowledged) and an allowance in the trail, so those pages show all
    their parts."""
    from chain.quota import QuotaBook
    from dashboards.quota_page import enterprise_id
    from models.alarms import AlarmDB, State

    cfg = workspace["cfg"]
    with AlarmDB.in_data_dir(cfg.paths.data_dir) as db:
        aid = db.insert(rule="overload", target="TR-1", kind="transformer_overload", priority="high",
                        state=State.UNACK, message="TR-1 load rate 1.12 above 1.00", value=1.12, at=1.0e9)
        db.ack(aid, "zhao.min", note="crew on site", at=1.0e9 + 60)
    import datetime as dt

    QuotaBook(cfg.paths.chain, None).set(enterprise_id(cfg.site), dt.date.today().year, 3_650_000,
                                         author="zhao.min", reason="allocation letter")
    return {"alarm": aid, "names": site_names(cfg.site), "all_names": all_site_names(cfg.site)}


def site_names(site) -> set[str]:
    """The Chinese names of the site model (the one Chinese an English page may show)."""
    out = {site.enterprise.name_zh or ""}
    out |= {w.name_zh or "" for w in site.workshops}
    return {n for n in out if n}


def all_site_names(site) -> set[str]:
    """Every name of the site model (proper names: a Chinese page shows them as the site model spells them,
    in English where it has no Chinese one)."""
    from workspace.topology import build

    out = {n.name for n in build(site).nodes.values() if n.name}
    out |= {x.name for x in [*site.workshops, *site.devices, *site.meters, *site.transformers] if x.name}
    out |= {ln.name for w in site.workshops for ln in w.lines}
    return out


def english_labels() -> set[str]:
    """The catalogue's English labels of two words or more without fields whose Chinese differs."""
    from tests.dashboards.test_i18n import catalogue

    zh = catalogue("zh")
    return {m.id for m in zh if m.id and not m.context and m.string and m.string != m.id and "{" not in m.id
            and len(m.id.split()) >= 2 and "\n" not in m.id}


def page_text(p) -> str:
    return p.evaluate(TEXT_JS)


def _page_sizes():
    """Each page in both languages at 1366x768, and the pages made for a phone (pages.yaml ``phone: true``) at
    390x844 too: the labels do not change with the width (test_pages.py covers every page at every size)."""
    from dashboards.registry import pages

    phone = {p.slug for p in pages() if p.phone}
    for slug in PAGES:
        for size in [SIZES[1]] + ([SIZES[2]] if slug.split("-")[0] in phone else []):
            for lang in ("en", "zh"):
                yield pytest.param(slug, lang, size, id=f"{slug}-{lang}-{size[0]}x{size[1]}")


@pytest.mark.parametrize("slug,lang,size", list(_page_sizes()))
def test_one_language_per_page(server, browser, prepared, slug, lang, size):
    path, zh_texts = PAGES[slug]
    path = path.format(alarm=prepared["alarm"])
    url = f"{server}{path}{'&' if '?' in path else '?'}lang={lang}"
    ctx, p = open_page(browser, url, size)
    try:
        if slug == "plan":  # the first solve takes a moment
            p.locator("table").first.wait_for(timeout=90_000)
        if slug == "ems":
            p.locator('h3[data-title="tou"]').wait_for(timeout=90_000)
        p.wait_for_timeout(500)
        SHOTS.mkdir(parents=True, exist_ok=True)
        p.screenshot(path=str(SHOTS / f"{slug}-{lang}-{size[0]}x{size[1]}.png"), full_page=True)
        text = page_text(p)
        if lang == "en":
            rest = text.replace("中文", "")
            for n in prepared["names"] | LABEL_TEXTS:
                rest = rest.replace(n, "")
            found = sorted({line.strip() for line in rest.splitlines() if CJK.search(line)})
            assert not found, f"/{slug} in English shows Chinese: {found}"
        else:
            for t in zh_texts:
                assert t in text, f"/{slug} in Chinese lacks {t!r}"
            heads = p.locator("th[data-col]")
            bad = [heads.nth(i).inner_text() for i in range(heads.count())
                   if heads.nth(i).get_attribute("data-col") not in ("ccer_t",)
                   and not CJK.search(heads.nth(i).inner_text())]
            assert not bad, f"/{slug} in Chinese has English table headers: {bad}"
            rest = text
            for n in sorted(prepared["all_names"], key=len, reverse=True):
                rest = rest.replace(n, "")
            left = sorted(m for m in english_labels() if m in rest)
            assert not left, f"/{slug} in Chinese shows English labels: {left}"
        assert not p.errors, p.errors
    finally:
        ctx.close()


# -- the login page (a server that asks for logins) ---------------------------------------------------------------
@pytest.fixture(scope="module")
def login_server(tmp_path_factory):
    from tests.dashboards.test_dashboards import dashboard_server
    from workspace.accounts import Accounts
    from workspace.config import EXAMPLE, load_config

    base = tmp_path_factory.mktemp("login-lang")
    cfg_path = base / "tanjian.yaml"  # a copy: the server's log is written beside its configuration
    cfg_path.write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    cfg = load_config(cfg_path, data_dir=base / "var")
    Accounts(cfg.paths.data_dir).add("li.na", "administrator", "a long enough password", by="test-admin", reason="test")
    with dashboard_server({"cfg_path": cfg_path, "cfg": cfg}) as url:
        yield url


#: the login page's labels in Chinese (the catalogue's), and in English
LOGIN = {"zh": ["碳鉴 · 登录", "用户名", "密码", "登录"], "en": ["tanjian · log in", "User name", "Password", "Log in"]}


@pytest.mark.parametrize("size", [SIZES[0], SIZES[2]], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lang", ["en", "zh", None], ids=["en", "zh", "default"])
def test_the_login_page_in_one_language(login_server, browser, lang, size):
    """``/login?lang=en`` is English, ``?lang=zh`` and no argument Chinese (the shell's default); the switch
    link opens the other language with ``next`` kept; a refused login answers in the language of the form."""
    want = lang or "zh"
    phone = size[0] < 500
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, is_mobile=phone, has_touch=phone)
    p = ctx.new_page()
    try:
        p.goto(f"{login_server}/login?next=/ems" + (f"&lang={lang}" if lang else ""))
        p.locator("input[name=username]").wait_for()
        assert p.locator("html").get_attribute("lang") == want
        if lang:
            SHOTS.mkdir(parents=True, exist_ok=True)
            p.screenshot(path=str(SHOTS / f"login-{lang}-{size[0]}x{size[1]}.png"), full_page=True)
        text = page_text(p)
        for t in LOGIN[want]:
            assert t in text, f"/login in {want} lacks {t!r}"
        if want == "en":
            found = sorted({ln.strip() for ln in text.replace("中文", "").splitlines() if CJK.search(ln)})
            assert not found, f"/login in English shows Chinese: {found}"
        else:
            left = sorted(m for m in english_labels() | {"Log in", "Password"} if m in text)
            assert not left, f"/login in Chinese shows English labels: {left}"
        other = "zh" if want == "en" else "en"
        link = p.locator(f"a[data-lang='{other}']")
        assert "next=%2Fems" in link.get_attribute("href")
        if size == SIZES[0]:
            link.click()
            p.locator("input[name=username]").wait_for()
            assert p.locator("html").get_attribute("lang") == other and LOGIN[other][1] in page_text(p)
            p.goto(f"{login_server}/login?next=/ems&lang={want}")
            p.fill("input[name=username]", "li.na")
            p.fill("input[name=password]", "not the right one")
            p.click("button[type=submit]")
            p.wait_for_url("**/login?**error=**")
            assert p.locator("html").get_attribute("lang") == want and LOGIN[want][1] in page_text(p)
            assert "next=%2Fems" in p.url
    finally:
        ctx.close()
