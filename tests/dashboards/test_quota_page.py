"""The quota page: an allowance entered by a person with the permission (the allowance's trail and the audit
trail name them), refused in one line otherwise; the figures are quota_status's, the monthly allowance pro rata
(hand-worked)."""

from __future__ import annotations

import panel as pn
import pytest

from dashboards.actor import ActionRefused, Actor
from dashboards.quota_page import QuotaPage, adjust, book, enterprise_id
from workspace import audit


def test_adjust_writes_both_trails(plant_cfg):
    cfg = plant_cfg
    e = adjust(cfg, Actor("li.wei", "energy_manager"), 2026, 3650.0, "2026 allocation letter")
    assert (e["amount_kg"], e["author"], e["source"]) == (3_650_000, "li.wei", "hand")
    q = book(cfg).effective(enterprise_id(cfg.site), 2026)
    assert q.amount_kg == 3_650_000 and q.source == "hand"
    last = list(audit.entries(cfg.paths.data_dir))[-1][1]
    assert (last["action"], last["user"]) == ("quota_set", "li.wei") and "3650000 kg" in last["what"]


@pytest.mark.parametrize("who,amount,reason,match", [
    (Actor("wang.fang", "analyst"), 10.0, "r", "needs permission quota"),
    (None, 10.0, "r", "log in"),
    (Actor("li.wei", "energy_manager"), 10.0, "  ", "reason"),
    (Actor("li.wei", "energy_manager"), -1.0, "r", "give 0 to"),
    (Actor("li.wei", "energy_manager"), float("nan"), "r", "give 0 to"),
])
def test_refusals(plant_cfg, who, amount, reason, match):
    with pytest.raises(ActionRefused, match=match):
        adjust(plant_cfg, who, 2026, amount, reason)
    assert book(plant_cfg).entries() == []


def test_page_after_an_entry(seeded_cfg):
    cfg = seeded_cfg
    page = QuotaPage(cfg, {"year": ["2026"]})
    assert page._name.visible  # no accounts: the person types a name
    page._amount.value = "3,650"
    page._reason.value = "allocation"
    page.do_adjust()
    assert 'data-refused="quota"' in page.message  # no name typed
    page._name.value = "zhao.min"
    page.do_adjust()
    assert 'data-done="quota"' in page.message
    html = "".join(o.object for o in page._body().objects if isinstance(o, pn.pane.HTML))
    assert 'data-kpi="0" data-value="3650.0"' in html  # the allowance [t]
    # January's allowance pro rata: 3,650,000 kg x 31 / 365 = 310,000 kg
    assert '<td class="n" data-col="quota_kg" data-value="310000.0">310,000.0</td>' in html
    assert "zhao.min" in html  # the trail
