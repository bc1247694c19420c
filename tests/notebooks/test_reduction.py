"""The reduction notebook: paired with its .py, executed top to bottom by a real Jupyter kernel (it reads only
the packaged Plant 18 scenario, no store); the figures it shows equal the library's, its plots are HoloViews
(Bokeh), and the infeasible variant is answered with its relaxation.

The executed copy is saved as ``test-artifacts/reduction.executed.ipynb``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from tests.notebooks.test_notebooks import ARTIFACTS, html_table, tagged

from models.reduction.inputs import build_inputs
from models.reduction.scenario import load_scenario
from models.reduction.solve import solve

ROOT = Path(__file__).resolve().parents[2]
NB = ROOT / "notebooks" / "reduction.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("reduction")
    nb = nbformat.read(NB, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(env=dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1"))
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        nbformat.write(nb, ARTIFACTS / "reduction.executed.ipynb")
    return nb, cwd


@pytest.mark.slow
def test_notebook_runs_and_shows_the_librarys_plan(executed):
    nb, cwd = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    assert list(cwd.iterdir()) == [], "the notebook must not write into its folder"

    plan = solve(build_inputs(load_scenario("plant18")))
    md = [o.data["text/markdown"] for o in tagged(nb, "plan-summary").outputs if "text/markdown" in o.get("data", {})]
    assert f"net present cost **{plan.npv / 1e6:,.3f} M CNY**" in md[0]
    html = next(o.data["text/html"] for o in tagged(nb, "plan-summary").outputs if "text/html" in o.get("data", {}))
    _, body = html_table(html)
    shown = {r[0]: r[1] for r in body}
    assert shown == {k: ("<NA>" if v is None else str(v)) for k, v in plan.built().items()}

    for tag in ("plot-pathway", "plot-macc", "plot-tornado"):
        mimes = [m for o in tagged(nb, tag).outputs for m in o.get("data", {})]
        assert "application/vnd.holoviews_exec.v0+json" in mimes, tag

    relax_md = "".join(o.data.get("text/markdown", "") for o in tagged(nb, "relax").outputs)
    assert "t more offsets" in relax_md and "0.0 t" not in relax_md
