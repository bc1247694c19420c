"""The topology page: the layout (hand-worked rows), the live values equal to the query API's, the path of a
node named in the URL highlighted and nothing else, alarmed targets marked, every node a drill-down link."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from dashboards.topology_page import KIND_CLASS, LIVE_WINDOW, TopologyPage, layout, live_values, svg
from models.alarms import AlarmDB, State
from workspace.store import Store
from workspace.topology import Node, Topology


def small() -> Topology:
    """T -> M1 -> D1 (one device: folded into M1's box); T -> M2 -> {M3, M4}."""
    nodes = {"T": Node("T", "transformer", "electricity", None, ["M1", "M2"]),
             "M1": Node("M1", "meter", "electricity", "T", ["D1"]),
             "D1": Node("D1", "device", "electricity", "M1"),
             "M2": Node("M2", "meter", "electricity", "T", ["M3", "M4"]),
             "M3": Node("M3", "meter", "electricity", "M2"), "M4": Node("M4", "meter", "electricity", "M2")}
    return Topology(nodes)


def test_layout_hand_worked():
    boxes, edges = layout(small(), "electricity")
    b = {x.id: x for x in boxes}
    # leaves in order: M1 (with D1) row 0, M3 row 1, M4 row 2; a parent level with its first child: M2 row 1
    # (M3's), T row 0 (M1's)
    assert {k: (v.depth, v.row) for k, v in b.items()} == {"M1": (1, 0), "M3": (2, 1), "M4": (2, 2),
                                                          "M2": (1, 1), "T": (0, 0)}
    assert b["M1"].ids == ("M1", "D1") and "D1" not in b
    assert sorted(edges) == [("M2", "M3"), ("M2", "M4"), ("T", "M1"), ("T", "M2")]
    html = svg(boxes, edges, values={"M3": 12.5}, unit="kW", path={"M3", "M2", "T"}, alarmed={"D1"}, names={})
    assert re.search(r'href="/drill\?node=D1" data-node="M1"[^>]*data-alarm="1"', html)  # the device's link
    assert sorted(re.findall(r'data-node="(\w+)"[^>]*data-path="1"', html)) == ["M2", "M3", "T"]
    assert 'data-node="M3" data-value="12.5" data-unit="kW"' in html and "12.5 kW" in html
    assert len(re.findall(r'<path [^>]*stroke="#d62728"', html)) == 2  # the two red edges T-M2, M2-M3
    # the look is one style sheet: the other two edges (T-M1, M2-M4) are class "e" (grey), M4 (off the path,
    # not alarmed) is a meter box with the usual stroke by class, M1 (alarmed) keeps its red stroke
    assert len(re.findall(r'<path [^>]*class="e"', html)) == 2
    assert re.search(r'data-node="M4".*?<rect [^>]*class="(k\d) n"', html).group(1) == KIND_CLASS["meter"]
    assert re.search(r'data-node="M1".*?<rect [^>]*stroke="#d62728"', html)
    assert f".tj-topo .{KIND_CLASS['meter']}{{fill:#e3eefc}}" in html and 'class="tj-topo"' in html


@pytest.fixture(scope="module")
def seeded(seeded_dir):
    from workspace.config import EXAMPLE, load_config

    cfg = load_config(EXAMPLE, data_dir=seeded_dir)
    return cfg, Store.open(cfg.paths.store, cfg.site)


def test_live_values_are_the_query_apis(seeded):
    cfg, store = seeded
    snap = store.tip()
    values, unit, window = live_values(store, cfg.site, "electricity", as_of=snap)
    assert unit == "kW" and values
    latest = pd.Timestamp(store.latest_time(snap))
    end = latest.tz_convert(cfg.site.plant.timezone).tz_localize(None).floor("1min") + pd.Timedelta(minutes=1)
    ref = store.power(end - LIVE_WINDOW, end, by="meter", freq="1min", meters=["M-TR-1"], as_of=snap).to_pandas()
    assert values["M-TR-1"] == pytest.approx(float(ref["M-TR-1"].mean()), rel=1e-9)


def test_a_node_in_the_url_shows_its_path(seeded, tmp_path):
    cfg, store = seeded
    page = TopologyPage(cfg, {"node": [b"D-LC-01"]}, store=store)
    assert page.network == "electricity"
    html = page.diagram()
    on_path = set(re.findall(r'data-node="([\w-]+)"[^>]*data-path="1"', html))
    assert on_path == {"M-LC-01", "M-WS-CW", "M-TR-1", "TR-1"}  # D-LC-01 drawn in M-LC-01's box
    assert "M-TR-1" in page.located() and "DR-1" in page.located()
    gas = TopologyPage(cfg, {"node": [b"SRC-GAS"]}, store=store)
    assert gas.network == "natural_gas"
    bad = TopologyPage(cfg, {"node": [b"NOPE"]}, store=store)
    assert bad.node == "" and "NOPE" in bad._notes[0]


def test_open_alarms_are_marked(seeded_cfg):
    cfg = seeded_cfg
    with AlarmDB.in_data_dir(cfg.paths.data_dir) as db:
        db.insert(rule="r", target="D-PL-01", kind="threshold", priority="high", state=State.UNACK,
                  message="m", value=1.0, at=1.0)
    page = TopologyPage(cfg)
    assert page.alarmed() == {"D-PL-01"}
    assert re.search(r'data-node="M-PL-01"[^>]*data-alarm="1"', page.diagram())
