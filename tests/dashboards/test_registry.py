"""The page registry (dashboards/pages.yaml) and the language catalogues."""

from __future__ import annotations

import pytest

from dashboards import i18n, registry
from workspace.accounts import policy


def test_every_page_has_a_route_permission_a_view_and_both_languages():
    zh = i18n.gettext_for("zh")
    perms = set(policy()["permissions"])
    for p in registry.pages():
        assert p.permission() in perms, f"/{p.slug} has no route in roles.yaml"
        assert callable(p.factory()), p.view
        assert zh(p.title) != p.title, f"{p.title!r} has no Chinese in dashboards/locale/zh"
    for title in registry.groups().values():
        assert zh(title) != title, title


def test_a_bad_entry_is_named_by_file_and_field(tmp_path):
    f = tmp_path / "pages.yaml"
    f.write_text("groups: {monitor: Monitoring}\npages:\n  x:\n    title: X\n    view: a:b\n    group: nowhere\n")
    with pytest.raises(registry.RegistryError, match=r"pages\.yaml:pages\.x\.group: 'nowhere'"):
        registry.pages(f)
    f.write_text("groups: {monitor: Monitoring}\npages:\n  x:\n    title: X\n    view: nocolon\n    group: monitor\n")
    with pytest.raises(registry.RegistryError, match=r"pages\.x\.view: 'nocolon' is not 'module:callable'"):
        registry.pages(f)


@pytest.mark.parametrize("value, lang", [("zh", "zh"), ("en", "en"), ("en-GB", "en"), ("zh_CN", "zh"),
                                         ("fr", "zh"), (None, "zh")])
def test_language_from_the_url(value, lang):
    assert i18n.language(value) == lang


def test_numbers_in_both_languages():
    # 1234567.891 rounded to 2 decimals, grouped by thousands: both locales (zh_Hans_CN, en_GB) use ',' and '.'
    assert i18n.number(1234567.891, "zh", 2) == "1,234,567.89"
    assert i18n.number(1234567.891, "en", 0) == "1,234,568"


def test_the_chinese_catalogue_is_compiled_from_its_po():
    assert i18n.gettext_for("zh")("Hand reading") == "人工抄表"
    assert i18n.gettext_for("en")("Hand reading") == "Hand reading"


def test_the_allowance_tile_says_when_there_is_no_allowance_and_shows_one(seeded_cfg):
    import re

    from chain.quota import QuotaBook
    from dashboards import bigscreen_data as data
    from dashboards.bigscreen_tiles import QuotaTile
    from dashboards.registry import PageContext, page
    from models.kpi import plant_kpis
    from workspace.store import Store

    cfg = seeded_cfg
    store = Store.open(cfg.paths.store, cfg.site)
    tile = QuotaTile(PageContext(cfg=cfg, page=page("bigscreen")))
    assert data.quota(cfg, store, store.tip()) is None  # no allowance for the year: no figures made up
    assert "No allowance entered" in tile.render("none")
    year = store.latest_time().year
    ent = cfg.site.enterprise.credit_code or cfg.site.plant.id
    QuotaBook(cfg.paths.chain, None).set(ent, year, 20_000_000, author="test", reason="a hand-entered allowance")
    card = tile.render(data.quota(cfg, store, store.tip()))
    assert 'data-quota-kg="20000000.0"' in card and ">20,000</b>" in card  # 20,000,000 kg = 20,000 t
    # emitted this year: the settlement's months summed equals the KPI module's year CO2e (two paths, one number)
    emitted = float(re.search(r'data-emitted-kg="([0-9.]+)"', card).group(1))
    assert emitted == pytest.approx(plant_kpis(store).loc["year", "co2e_kg"], rel=1e-6)
