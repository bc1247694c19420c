"""Topology of Plant 18: the path from an alarm to its transformer or source, and node balances
hand-computed from readings written into a real store."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from workspace.batch import Reading, encode_batch
from workspace.config import EXAMPLE, load_config
from workspace.errors import ConfigError
from workspace.topology import TopologyError, balance, build, locate

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # local midnight 2026-11-24 (Asia/Shanghai)


@pytest.fixture(scope="module")
def site():
    return load_config(EXAMPLE).site


def test_path_from_a_device_alarm_to_its_transformer(site):
    # the plant18.yaml tree: D-WR-03 is measured by M-WR-03, under the cutting & welding main M-WS-CW,
    # under TR-1's incomer M-TR-1; TR-1's switchgear is in DR-1
    where = locate(site, "M-WR-03")
    assert where["path"] == ["M-WR-03", "M-WS-CW", "M-TR-1", "TR-1"]
    assert where["meters"] == ["M-WR-03", "M-WS-CW", "M-TR-1"]
    assert (where["source"], where["rooms"], where["device"]) == ("TR-1", ["DR-1"], "D-WR-03")
    assert where["process_step"] == {"line": "L-CW-2", "step": 1, "of": 3}
    assert where["position"] is not None
    assert build(site).path("D-WR-03") == ["D-WR-03", "M-WR-03", "M-WS-CW", "M-TR-1", "TR-1"]


def test_paths_of_the_other_networks_and_units(site):
    t = build(site)
    assert t.path("M-AIR-CW") == ["M-AIR-CW", "M-AIR-MAIN", "SRC-AIR"]
    assert t.path("M-GAS-CO-01")[-1] == "SRC-GAS"
    assert t.path("DR-2") == ["DR-2", "TR-3"]
    assert t.path("PV-1") == ["PV-1", "TR-2"]
    assert sorted(t.roots()) == ["TR-1", "TR-2", "TR-3"]
    with pytest.raises(TopologyError, match="unknown node 'M-NOPE'"):
        t.path("M-NOPE")


def test_node_balance_hand_computed(fresh):
    cfg, j, s = fresh
    pid = cfg.site.plant.id
    # three readings a minute apart: M-TR-1 +30 kWh a minute (1,800 kW, under its 2,375 kW rating); its
    # children M-WS-CW +18 and M-WS-MC +10.5. Two minutes: parent 60 kWh, children 36 + 21 = 57 kWh,
    # difference 3 kWh = 5 % of the parent.
    rows = [Reading(m, T0 + dt.timedelta(minutes=k, seconds=1), c0 + step * k)
            for m, c0, step in (("M-TR-1", 1000.0, 30.0), ("M-WS-CW", 500.0, 18.0), ("M-WS-MC", 300.0, 10.5))
            for k in range(3)]
    j.append(encode_batch(pid, j.next_seq, "test", rows))
    s.fold(j)
    b = {r["meter"]: r for r in balance(s, "2026-11-24", "2026-11-25")}
    tr1 = b["M-TR-1"]
    assert tr1["children"] == ["M-WS-CW", "M-WS-MC"]
    assert (tr1["energy"], tr1["children_energy"]) == (pytest.approx(60.0), pytest.approx(57.0))
    assert tr1["difference"] == pytest.approx(3.0) and tr1["difference_share"] == pytest.approx(0.05)
    # M-WS-CW's children were never read: NaN, not a balance of 36 against 0
    assert math.isnan(b["M-WS-CW"]["children_energy"])


def test_dangling_references_of_the_new_sections_are_named(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace("      meters: [M-AIR-MAIN]", "      meters: [M-AIR-NONE]")
    p = tmp_path / "tanjian.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    (f, line, fld, msg), = e.value.problems
    assert fld == "site.sources[2].meters[0]" and msg == "unknown meter 'M-AIR-NONE'"
    assert text.splitlines()[line - 1] == "      meters: [M-AIR-NONE]"


def test_balance_with_pv_on_the_bus(plant_cfg):
    from workspace.journal import Journal
    from workspace.onsite import OnSite, PvInverter
    from workspace.site import Meter
    from workspace.store import Store

    site = plant_cfg.site
    pv_meter = Meter(id="M-PV-1", medium="electricity", family="sdm630", gateway="gw-elec", unit_id=99)
    site = site.model_copy(update={"meters": [*site.meters, pv_meter], "onsite": OnSite(pv=[PvInverter(
        id="PV-1", name="pv", rated_kw=400, transformer="TR-1", gateway="gw-points", unit_id=11, meter="M-PV-1")])})
    assert "M-PV-1" not in site.top_meters("electricity")  # generation is not consumption
    assert build(site).path("M-PV-1") == ["M-PV-1", "TR-1"]
    j = Journal(plant_cfg.paths.journal, writer=True)
    s = Store.open(plant_cfg.paths.store, site, create=True)
    # a minute: the incomer brings 30 kWh, PV 6 kWh onto TR-1's bus; the workshop mains take 20 + 15 = 35.
    # Two minutes: incomer 60, on-site 12, supply 72, children 70, difference 2 kWh = 2/72 of the supply.
    rows = [Reading(m, T0 + dt.timedelta(minutes=k, seconds=1), c0 + step * k)
            for m, c0, step in (("M-TR-1", 1000.0, 30.0), ("M-PV-1", 10.0, 6.0), ("M-WS-CW", 500.0, 20.0),
                                ("M-WS-MC", 300.0, 15.0)) for k in range(3)]
    j.append(encode_batch(site.plant.id, j.next_seq, "test", rows))
    s.fold(j)
    j.close()
    tr1 = {r["meter"]: r for r in balance(s, "2026-11-24", "2026-11-25")}["M-TR-1"]
    assert (tr1["energy"], tr1["onsite"], tr1["supply"], tr1["children_energy"]) == pytest.approx((60, 12, 72, 70))
    assert tr1["difference"] == pytest.approx(2.0) and tr1["difference_share"] == pytest.approx(2 / 72)


def test_a_room_on_a_taken_unit_id_is_refused(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    old = "      gateway: gw-points\n      unit_id: 2\n"
    assert text.count(old) == 1
    p = tmp_path / "tanjian.yaml"
    p.write_text(text.replace(old, "      gateway: gw-points\n      unit_id: 1\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    (f, line, fld, msg), = e.value.problems
    assert fld == "site.rooms[1].unit_id" and msg == "unit id 1 already used by 'DR-1' on gateway 'gw-points'"
