"""The plan's baseline from the accounting engine's inventory, checked by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from models.activity_input import validate_activity
from models.inventory import compute_inventory
from models.reduction.baseline import baseline_from_inventory
from workspace.config import EXAMPLE, load_config
from workspace.errors import TanjianError


def _inventory(last=dt.date(2026, 12, 31)):
    rows = [dict(kind="fuel", item="natural_gas", period_start="2026-01-01", period_end=str(last), quantity=100000,
                 unit="m3", use="stationary"),
            dict(kind="fuel", item="diesel", period_start="2026-01-01", period_end=str(last), quantity=26, unit="t",
                 use="mobile")]
    return compute_inventory(dt.date(2026, 1, 1), last, methodology="iso-14064-1-2018",
                             activity=validate_activity(pd.DataFrame(rows)), site=load_config(EXAMPLE).site)


def test_baseline_from_an_inventory_by_hand():
    # gas: 10 x 10^4 Nm3 x 389.31 GJ/10^4 Nm3 = 3,893.1 GJ; at 15.3 tC/TJ x 0.99 x 44/12 = 0.055539 t/GJ
    # = 216.219 t, and back through the same factor 3,893.1 GJ. Diesel: 26 t x 42.652 GJ/t x 20.2 tC/TJ x 0.98
    # x 44/12 = 80.494 t of other direct emissions. No purchased electricity in the records.
    b = baseline_from_inventory(_inventory(), 15.3e-3 * 0.99 * 44 / 12)
    assert b.natural_gas_gj == pytest.approx(3893.1, abs=0.01)
    assert b.other_scope1_t == pytest.approx(80.494, abs=1e-3)
    assert b.electricity_mwh == 0
    assert "iso-14064-1-2018" in b.source


def test_a_part_year_is_refused():
    with pytest.raises(TanjianError, match="a baseline needs a whole year"):
        baseline_from_inventory(_inventory(dt.date(2026, 6, 30)), 0.0555)
