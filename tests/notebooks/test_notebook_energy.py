"""The energy notebook: paired with its .py, executed top to bottom by a real Jupyter kernel on a seeded Plant 18
store with an ERP production file imported for the seeded day; its tables equal the library's.

The executed copy is saved as ``test-artifacts/energy.executed.ipynb``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from tests.notebooks.test_notebooks import html_table, result, run_notebook, tagged

from models.energy import tou
from models.energy.unit_consumption import shift_windows
from workspace.business.imports import import_file
from workspace.config import EXAMPLE, load_config
from workspace.store import Store
from workspace.tariffs import config_tariff

ROOT = Path(__file__).resolve().parents[2]
NB = ROOT / "notebooks" / "energy.ipynb"


@pytest.fixture(scope="module")
def executed(seeded_dir, tmp_path_factory):
    # a copy of the seeded workspace with the ERP output of the seeded day imported: 2 pumps per shift
    base = tmp_path_factory.mktemp("energy-nb")
    data = base / "seeded"
    shutil.copytree(seeded_dir, data)
    cfg = load_config(EXAMPLE, data_dir=data)
    store = Store.open(cfg.paths.store, cfg.site)
    latest = pd.Timestamp(store.latest_time()).tz_localize(None).floor("h")
    day = (latest - pd.Timedelta(days=1)).date()
    shifts = shift_windows(cfg.site.shifts, day, day)["shift"].tolist()
    names = {"S-DAY": "白班", "S-EVE": "中班"}
    erp = base / "erp.csv"
    erp.write_text("日期,产品,班次,班组,车间,数量,单位\n" + "".join(
        f"{day:%Y/%m/%d},HB62V 泵车,{names[s]},总装{i + 1}班,WS-AS,2,台\n" for i, s in enumerate(shifts)),
        encoding="utf-8")
    if shifts:
        import_file(cfg, erp, "erp_production", author="test")
    nb, cfg, cwd = run_notebook(NB, data, base / "run")
    return nb, cfg, cwd, day, shifts


@pytest.mark.slow
def test_energy_notebook_runs_and_shows_the_librarys_figures(executed):
    nb, cfg, cwd, day, shifts = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    assert all(c.execution_count for c in code)
    assert list(cwd.iterdir()) == [], "the notebook must not write into its folder"

    store = Store.open(cfg.paths.store, cfg.site)
    latest = pd.Timestamp(store.latest_time()).tz_localize(None).floor("h")
    expected = tou.tou_cost(store, config_tariff(cfg), latest - pd.Timedelta(hours=24), latest, by="workshop")
    head, body = html_table(result(tagged(nb, "tou")))
    shown = {r[0]: r[1:] for r in body}
    assert list(shown) == list(expected.index)
    for ws, row in shown.items():
        assert float(row[4].replace(",", "")) == pytest.approx(expected.loc[ws, "total_kwh"], abs=0.06)
        assert float(row[5].replace(",", "")) == pytest.approx(expected.loc[ws, "energy_cny"], abs=0.06)
    assert expected["total_kwh"].sum() > 0
    for tag in ("plot-tou", "plot-transformers"):
        mimes = [m for o in tagged(nb, tag).outputs for m in o.get("data", {})]
        assert "application/vnd.holoviews_exec.v0+json" in mimes, tag
    if shifts:
        from models.energy.unit_consumption import unit_consumption
        from workspace.business.documents import load_activity

        _, rows = html_table(result(tagged(nb, "unit")))
        assert [(r[1], r[2]) for r in rows] == [("WS-AS", s) for s in shifts]  # a row per shift that made pumps
        r = unit_consumption(store, cfg.site, load_activity(cfg.paths.data_dir, day, day, kinds=["production"]),
                             day, day).shifts
        for row in rows:
            assert float(row[5]) == pytest.approx(r.loc[(row[1], row[2]), "kwh_per_unit"], rel=1e-5)
            assert float(row[4]) == 2.0
