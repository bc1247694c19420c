"""The GHG inventory notebook: paired with its .py, executed top to bottom by a real Jupyter kernel on a seeded
Plant 18 store with the sample activity file; its totals equal the library's, its plots are Bokeh, and the
report files it writes in its own process have the SHA-256s the same inputs give here.

The executed copy is saved as ``test-artifacts/ghg_inventory.executed.ipynb``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from tests.notebooks.test_notebooks import html_table, result, run_notebook, tagged

from models.activity_input import read_activity_file
from models.inventory import compute_inventory
from models.reports import write_reports
from workspace.store import Store

ROOT = Path(__file__).resolve().parents[2]
NB = ROOT / "notebooks" / "ghg_inventory.ipynb"
ACTIVITY = ROOT / "notebooks" / "data" / "plant18-activity-2026.csv"


def test_sample_activity_file_is_valid():
    a = read_activity_file(ACTIVITY)
    assert set(a["kind"]) == {"fuel", "welding_gas", "sf6", "green_power", "gec", "offset"}
    assert a.loc[a["item"] == "diesel", "quantity"].sum() == pytest.approx(26.0)  # 12 fuel-card months


@pytest.fixture(scope="module")
def executed(seeded_dir, tmp_path_factory):
    return run_notebook(NB, seeded_dir, tmp_path_factory.mktemp("ghg"))


@pytest.mark.slow
def test_notebook_runs_and_shows_the_librarys_figures(executed):
    nb, cfg, cwd = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    assert all(c.execution_count for c in code)
    assert list(cwd.iterdir()) == [], "the notebook must not write into its folder"
    # the active package computes, named with its hash and on-chain status (the example configuration pins none)
    from models.packages import load_methodology

    pkg = load_methodology("iso-14064-1-2018")
    stream = "".join(o.text for c in code for o in c.outputs if o.output_type == "stream")
    assert (f"methodology:   {pkg.id} {pkg.version} (package sha256 {pkg.sha256}, packaged): on chain "
            f"offline, not checked") in stream

    store = Store.open(cfg.paths.store, cfg.site)
    canon = compute_inventory(dt.date(2026, 1, 1), dt.date(2026, 12, 31), methodology="iso-14064-1-2018",
                              store=store, activity=read_activity_file(ACTIVITY), site=cfg.site).to_canonical()
    _, body = html_table(result(tagged(nb, "inventory-totals")))
    shown = {r[0]: float(r[1]) for r in body}
    for key in ("scope1", "scope2_location", "scope2_market", "scope3", "gross_location", "gross_market"):
        assert shown[key] == pytest.approx(float(canon["totals"][key]["tco2e"]), abs=5e-4), key
    assert shown["scope1"] > 0 and shown["scope2_location"] > 0

    for tag in ("plot-by-source", "plot-by-month", "plot-scope2"):
        mimes = [m for o in tagged(nb, tag).outputs for m in o.get("data", {})]
        assert "application/vnd.holoviews_exec.v0+json" in mimes, tag

    # the report files written in the kernel's process are byte-identical to the ones written here
    here = write_reports(canon, cwd.parent / "here", report_date="2027-01-05", author="analyst (notebook)",
                         site=cfg.site)
    _, rows = html_table(result(tagged(nb, "report")))
    assert {r[1]: r[3] for r in rows} == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in here}
