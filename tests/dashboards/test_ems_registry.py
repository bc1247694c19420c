"""The EMS, drill-down, topology and alarm pages are registered, each with a route permission, and their views
build from a page context whose query is a deep link."""

from __future__ import annotations

import pytest

from dashboards import registry
from workspace import accounts as A

MINE = {"ems": "page.ems", "drill": "page.drill", "topology": "page.topology", "alarms": "page.alarms",
        "quota": "page.quota", "data": "page.data", "reports": "page.reports"}


def test_registered_with_permissions():
    pages = {p.slug: p for p in registry.pages()}
    for slug, perm in MINE.items():
        assert pages[slug].permission() == perm
        assert A.may("energy_manager", perm) and not A.may("meter_reader", perm)
    assert pages["alarms"].phone and pages["drill"].phone  # used on a phone
    assert A.may("energy_manager", "alarm.shelve") and not A.may("analyst", "alarm.shelve")


@pytest.mark.parametrize("slug,query,check", [
    ("ems", {"period": "week", "date": "2026-12-05", "against": "year", "tab": "tou"},
     lambda v: (v.kind, str(v.date), v.against, v.tab) == ("week", "2026-12-05", "year", "tou")),
    ("drill", {"node": "WS-CW"}, lambda v: v.node == "WS-CW"),
    ("topology", {"node": "SRC-WATER"}, lambda v: (v.node, v.network) == ("SRC-WATER", "water")),
    ("alarms", {"view": "all", "priority": "high"}, lambda v: (v.view, v.priority) == ("all", "high")),
])
def test_view_from_a_deep_link(plant_cfg, slug, query, check):
    page = registry.page(slug)
    v = page.factory()(registry.PageContext(cfg=plant_cfg, page=page, query=query))
    assert check(v)
