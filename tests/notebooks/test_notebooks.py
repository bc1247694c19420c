"""The analyst notebooks: executed top to bottom by a real Jupyter kernel on a seeded Plant 18 store.

The executed copy is saved as ``test-artifacts/tour.executed.ipynb`` for inspection. Figures the
notebook displays are compared with the same figures computed here through the library.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import jupytext
import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from models.kpi import plant_kpis
from workspace.config import EXAMPLE, load_config
from workspace.store import Store

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
NOTEBOOKS = ROOT / "notebooks"
TOUR = NOTEBOOKS / "tour.ipynb"
TOUR_PY = NOTEBOOKS / "tour.py"
PLOT_TAGS = ("plot-load-curve", "plot-breakdown", "plot-heatmap")


# -- helpers ---------------------------------------------------------------------------------------------
class _Tables(HTMLParser):
    """Rows of cell texts of every <table> in an HTML fragment, header and body apart."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[dict[str, list[list[str]]]] = []
        self._part = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"head": [], "body": []})
        elif tag in ("thead", "tbody"):
            self._part = "head" if tag == "thead" else "body"
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1][self._part or "body"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_table(html: str) -> tuple[list[list[str]], list[list[str]]]:
    p = _Tables()
    p.feed(html)
    assert len(p.tables) == 1, f"expected one table, found {len(p.tables)}"
    return p.tables[0]["head"], p.tables[0]["body"]


def tagged(nb, tag: str):
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def result(cell, mime: str = "text/html") -> str:
    out = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert out and mime in out[0].data, f"cell {cell.metadata.get('tags')} shows no {mime} result"
    return out[0].data[mime]


def markdown_outputs(cell) -> list[str]:
    return [o.data["text/markdown"] for o in cell.outputs
            if o.output_type in ("display_data", "execute_result") and "text/markdown" in o.data]


# -- pairing ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tour", "ghg_inventory", "energy", "reduction", "regulator"])
def test_pairing_in_sync(name):
    """Each notebook's .ipynb is what jupytext makes of its .py: same cells, sources and tags; committed
    without outputs."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    from_py = jupytext.read(NOTEBOOKS / f"{name}.py")
    assert [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in from_py.cells] == \
        [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells], \
        f"notebooks/{name}.ipynb and {name}.py differ: run `jupytext --sync notebooks/{name}.ipynb`"
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, f"commit {name}.ipynb without outputs"


def test_tour_reads_only_through_the_query_api():
    """No Zarr or Icechunk paths opened by hand and no raw grid: everything through the query API."""
    code = "\n".join(c.source for c in jupytext.read(TOUR_PY).cells if c.cell_type == "code")
    for forbidden in ("zarr", "icechunk", "open_zarr", "open_dataset", "paths.store /", "/ \"store\""):
        assert forbidden not in code, f"the tour must not use {forbidden!r}"
    assert "store.dataset(" not in code and ".repo" not in code


def test_tour_cli_commands_exist():
    """Every `tanjian <command>` the tour recommends is a command of the CLI."""
    cli = pytest.importorskip("tanjian.cli")
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = "\n".join(c.source for c in jupytext.read(TOUR_PY).cells)
    named = set(re.findall(r"[`\"]tanjian ([a-z][a-z-]*)", text))
    assert {"kpi", "query", "versions"} <= named
    assert named <= set(sub.choices), f"unknown commands: {sorted(named - set(sub.choices))}"


# -- execution -------------------------------------------------------------------------------------------
def run_notebook(path: Path, seeded_dir: Path, base: Path, on_start=None):
    """Execute notebook ``path`` with the venv's python3 kernel on a private copy of the seeded workspace
    (``base/var``), from an empty working folder ``base/cwd``; the executed notebook is written to
    test-artifacts/ even when a cell fails. ``on_start(client)`` runs once the kernel is up.
    Returns (notebook, config, cwd)."""
    data = base / "var"
    shutil.copytree(seeded_dir, data)
    cwd = base / "cwd"
    cwd.mkdir()
    env = dict(os.environ, TANJIAN_DATA_DIR=str(data), TANJIAN_CONFIG=str(EXAMPLE),
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(cwd)}})
    if on_start is not None:
        client.on_notebook_start = lambda notebook: on_start(client)
    try:
        client.execute(env=env)
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        nbformat.write(nb, ARTIFACTS / f"{path.stem}.executed.ipynb")
    return nb, load_config(EXAMPLE, data_dir=data), cwd


@pytest.fixture(scope="module")
def executed(seeded_dir, tmp_path_factory):
    """tour.ipynb run by the venv's python3 kernel on a private copy of the seeded workspace."""
    launched = {}

    def on_start(client):  # the kernel process is running: record the command line it was started with
        pid = client.km.provisioner.pid
        launched["argv"] = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]

    nb, cfg, cwd = run_notebook(TOUR, seeded_dir, tmp_path_factory.mktemp("tour"), on_start)
    return nb, cfg, launched, cwd


@pytest.mark.slow
def test_tour_runs_in_the_venv_kernel_without_errors(executed):
    nb, cfg, launched, cwd = executed
    assert launched["argv"][0].decode() == sys.executable, launched["argv"]
    assert b"ipykernel_launcher" in launched["argv"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "some cells did not run"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    stream = "".join(o.text for c in code for o in c.outputs if o.output_type == "stream")
    assert f"data folder:   {cfg.paths.data_dir}" in stream  # TANJIAN_DATA_DIR was honoured
    assert list(cwd.iterdir()) == [], "the tour must not write files"


@pytest.mark.slow
def test_tour_kpi_table_equals_plant_kpis(executed):
    nb, cfg, _, _ = executed
    expected = plant_kpis(Store.open(cfg.paths.store, cfg.site))
    cell = tagged(nb, "kpis")
    head, body = html_table(result(cell))
    assert head[0][1:] == list(expected.columns)
    shown = {row[0]: row[1:] for row in body}
    assert list(shown) == list(expected.index) == ["today", "yesterday", "month", "year"]
    for period, values in shown.items():
        assert values == [f"{v:,.1f}" for v in expected.loc[period]], period
    assert expected.loc["today", "electricity_kWh"] > 0 and expected.loc["today", "co2e_kg"] > 0
    (headline,) = markdown_outputs(cell)
    assert f"**{expected.loc['today', 'electricity_kWh']:,.0f} kWh**" in headline
    assert f"**{expected.loc['today', 'co2e_kg'] / 1000:,.2f} t CO2e**" in headline
    # computed with the active package, named with its on-chain status (the example configuration pins none)
    from models.packages import load_methodology

    pkg = load_methodology("ghg-protocol-corporate")
    assert f"Methodology `{pkg.id} {pkg.version}` (package `{pkg.sha256[:12]}…`), on chain: " \
           f"**offline, not checked**" in headline
    # the factor provenance table lists every factor row and its source
    _, rows = html_table(result(tagged(nb, "factor-sources")))
    assert rows == [[f, s] for f, s in zip(expected.attrs["factor_ids"], expected.attrs["sources"])]
    assert any(f.startswith("grid_average@") for f in expected.attrs["factor_ids"])


@pytest.mark.slow
def test_tour_plots_are_bokeh(executed):
    nb, _, _, _ = executed
    mimes = {m for c in nb.cells if c.cell_type == "code" for o in c.outputs for m in o.get("data", {})}
    assert "application/vnd.holoviews_load.v0+json" in mimes  # the holoviews extension was loaded
    for tag in PLOT_TAGS:
        cell = tagged(nb, tag)
        assert "application/vnd.holoviews_exec.v0+json" in [m for o in cell.outputs for m in o.get("data", {})], tag
        html = result(cell)
        assert "bokeh" in html.lower() or "Bokeh" in html, tag


@pytest.mark.slow
def test_tour_quality_and_balance_tables(executed):
    nb, cfg, _, _ = executed
    store = Store.open(cfg.paths.store, cfg.site)
    end = pd.Timestamp(store.latest_time())
    start = end - pd.Timedelta(hours=24)
    # data quality: the whole 24 h window of every meter was examined
    (summary, _) = markdown_outputs(tagged(nb, "quality-flags"))
    assert summary.startswith(f"{24 * 60} minutes × {len(cfg.site.meters)} meters checked")
    (coverage,) = markdown_outputs(tagged(nb, "quality-coverage"))
    measured = {m: store.energy(start, end, meters=[m], freq=None).attrs["coverage"]
                for m in cfg.site.meter_ids("electricity")}
    mean = sum(1 - c for c in measured.values()) / len(measured)
    assert coverage.startswith(f"Over all electricity meters, **{mean:.2%}** of minutes were not measured; ")
    worst = min(measured, key=measured.get)
    assert (f"the worst meter is {worst} at {1 - measured[worst]:.2%}." if measured[worst] < 1
            else "every meter was read every minute.") in coverage
    # balance: one row per transformer, incomers as the store gives them, the site's own PV and battery on the
    # bus (supply = incomer + PV + discharge - charge - export on that transformer), and the simulated tree balances
    head, body = html_table(result(tagged(nb, "balance")))
    assert head[0][1:] == ["incomer kWh", "on-site kWh", "mains", "sum of mains kWh", "loss share", "balanced"]
    assert [r[0] for r in body] == [t.id for t in cfg.site.transformers]
    on = cfg.site.onsite
    for tr, row in zip(cfg.site.transformers, body):
        mains = [m.id for m in cfg.site.children(tr.meter)]
        plus = [p.meter for p in on.pv if p.meter and p.transformer == tr.id]
        plus += [b.discharge_meter for b in on.batteries if b.discharge_meter and b.transformer == tr.id]
        minus = [b.charge_meter for b in on.batteries if b.charge_meter and b.transformer == tr.id]
        minus += [m.id for m in cfg.site.meters if m.id in on.export_meters and m.transformer == tr.id]
        e = store.energy(start, end, meters=[tr.meter, *mains, *plus, *minus], freq=None).to_pandas()
        onsite = e[plus].sum() - e[minus].sum()
        assert row[1] == f"{e[tr.meter]:,.1f}" and row[2] == f"{onsite:,.1f}"
        assert row[3] == ", ".join(mains) and row[4] == f"{e[mains].sum():,.1f}"
        assert row[5] == f"{1 - e[mains].sum() / (e[tr.meter] + onsite):.2%}"
        assert row[6] == "True", (tr.id, row)
