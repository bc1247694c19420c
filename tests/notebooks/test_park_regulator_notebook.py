"""The regulator's notebook: paired with its .py, executed by a real Jupyter kernel against the three-enterprise
park on anvil (one tampered package, one on-demand request fulfilled); its tables checked by hand."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from chain.requests import deploy_requests, enrol, fulfil, request_report, requests_contract
from tests.conftest import ARTIFACTS
from tests.notebooks.test_notebooks import result, tagged
from tests.park_fixture import METHODOLOGY_ID, anvil_w3, three_park  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
NB = ROOT / "notebooks" / "regulator.ipynb"


@pytest.mark.requires_anvil
@pytest.mark.slow
def test_regulator_notebook_runs_and_shows_the_park(three_park, tmp_path):
    world, drop = three_park
    w3 = world.w3
    deploy_requests(w3, world.deployment, world.deployer)
    req = requests_contract(w3, world.deployment)
    enrol(w3, req, world.deployer, "E3")
    rid = request_report(w3, req, world.deployer, "E3", dt.date(2026, 3, 1), dt.date(2026, 4, 1), METHODOLOGY_ID)
    fulfil(w3, req, world.enterprises["E3"].gateway, rid, "ab" * 32)
    dep = tmp_path / "deployment.json"
    dep.write_text(json.dumps(world.deployment))
    park = tmp_path / "park.yaml"  # the park's settings, as `tanjian park verify --park` reads them
    park.write_text(f"drop: {drop}\ndeployment: {dep}\nrpc: {w3.provider.endpoint_uri}\nyear: 2026\n")
    env = dict(os.environ, TANJIAN_PARK_YAML=str(park), TANJIAN_PARK_TODAY="2026-04-20",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    nb = nbformat.read(NB, as_version=4)
    (tmp_path / "cwd").mkdir()
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(tmp_path / "cwd")}})
    try:
        client.execute(env=env)
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        nbformat.write(nb, ARTIFACTS / "regulator.executed.ipynb")
    status = result(tagged(nb, "status"))
    assert status.count("verified") == 7 and "failed: document" in status
    # by hand: E1 1000+1200+1100 = 3300; E2 500+600 = 1100 (February refused); E3 2000+2500 = 4500
    ent = result(tagged(nb, "by-enterprise"))
    assert "3300.0" in ent and "1100.0" in ent and "4500.0" in ent
    # E1 forecast 3300 / 3 * 12 = 13200 against 12000: headroom -1200
    quota = result(tagged(nb, "quota"))
    assert "13200.0" in quota and "-1200.0" in quota
    late = result(tagged(nb, "late"))
    assert "missing" in late and "failed: document" in late
    assert "fulfilled after" in result(tagged(nb, "requests"))
