"""The data-collection page: a business file imported in the browser through the import function (permission
checked, audit trail), a file with a bad row refused whole with the row named, the same bytes twice no change."""

from __future__ import annotations

import panel as pn
import pytest

from dashboards.actor import ActionRefused, Actor
from dashboards.data_page import DataPage, import_upload, imports_table
from workspace import audit
from workspace.config import EXAMPLE

ERP = EXAMPLE.parent / "imports" / "erp-production-2026-10.csv"
WHO = Actor("li.wei", "energy_manager")


def test_import_good_file_then_the_same_bytes(plant_cfg):
    data = ERP.read_bytes()
    n_rows = len(data.decode("utf-8-sig").strip().splitlines()) - 1  # one record per data row (header excluded)
    r, problems = import_upload(plant_cfg, WHO, "erp.csv", data, "erp_production")
    assert problems == [] and r.status == "imported" and r.records == n_rows
    last = list(audit.entries(plant_cfg.paths.data_dir))[-1][1]
    assert (last["action"], last["user"]) == ("import", "li.wei") and r.sha256 in last["what"]
    r2, _ = import_upload(plant_cfg, WHO, "erp.csv", data, "erp_production")
    assert r2.status == "already"
    assert list(imports_table(plant_cfg)["records"]) == [n_rows]


def test_a_bad_row_refuses_the_file_and_names_the_row(plant_cfg):
    lines = ERP.read_bytes().decode("utf-8-sig").splitlines()
    lines[2] = lines[2].replace(",3,台", ",three,台").replace(",1,台", ",one,台")  # data row 2 = file line 3
    bad = ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")
    r, problems = import_upload(plant_cfg, WHO, "bad.csv", bad, "erp_production")
    assert r is None and len(problems) == 1 and problems[0].startswith("bad.csv:3:")
    assert imports_table(plant_cfg).empty  # nothing imported


@pytest.mark.parametrize("who,match", [(Actor("wang.fang", "analyst"), "needs permission import"), (None, "log in")])
def test_refused_before_reading(plant_cfg, who, match):
    with pytest.raises(ActionRefused, match=match):
        import_upload(plant_cfg, who, "erp.csv", ERP.read_bytes(), "erp_production")


def test_page_import_flow(plant_cfg):
    page = DataPage(plant_cfg)
    page._name.value = "zhao.min"
    page._mapping.value = "erp_production"
    page._file.filename, page._file.value = "erp.csv", ERP.read_bytes()
    page.do_import()
    assert 'data-done="import"' in page.result
    html = "".join(o.object for o in page._imports().objects if isinstance(o, pn.pane.HTML))
    assert 'data-table="imports"' in html and "zhao.min" in html
    page.__panel__().get_root()
