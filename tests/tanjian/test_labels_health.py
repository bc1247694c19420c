"""QR labels of the meters (payloads checked through the qrcode API: no decoder here) and device health
read back from what a real collector wrote (the pymodbus simulator with one dead meter)."""

from __future__ import annotations

import asyncio
import re

import pandas as pd
import pytest
import qrcode

from collectors.health import device_health, render, summary
from dashboards.labels import labels_for, qr_matrix, svg, write_labels
from tests.collectors.test_collector import plant  # noqa: F401 - the real simulator, journal and store
from tanjian.cli import main
from workspace.errors import UnknownMeter


# -- labels ------------------------------------------------------------------------------------------
def test_label_payloads_point_at_the_reading_page(plant_cfg):
    labels = labels_for(plant_cfg.site, "https://ems.plant18.example.cn/", ["M-TR-1", "M-WS-CW"])
    assert [lab.url for lab in labels] == ["https://ems.plant18.example.cn/readings?meter=M-TR-1",
                                           "https://ems.plant18.example.cn/readings?meter=M-WS-CW"]
    assert labels[1].workshop == "下料焊接车间 Cutting & welding"
    assert labels[0].workshop == "plant level 全厂" and labels[0].name == "Transformer TR-1 LV incomer"
    with pytest.raises(UnknownMeter, match="M-NOPE"):
        labels_for(plant_cfg.site, "http://x", ["M-NOPE"])


def test_qr_matrix_is_the_qrcode_of_the_url():
    url = "http://127.0.0.1:5006/readings?meter=M-TR-1"
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    m = qr_matrix(url)
    assert m == qr.get_matrix()
    # 43 bytes at level M: more than version 3 holds (42, ISO/IEC 18004 table 7), so version 4
    # (33 x 33 modules) + 2 x 4 quiet modules
    assert qr.version == 4 and len(m) == 33 + 8
    assert qr_matrix(url.replace("M-TR-1", "M-TR-2")) != m


def test_svg_draws_each_labels_own_code(plant_cfg):
    labels = labels_for(plant_cfg.site, "http://127.0.0.1:5006", ["M-TR-1", "M-TR-2"])
    doc = svg(labels)
    groups = re.findall(r'<g class="label" data-meter="([^"]+)" data-url="([^"]+)" data-modules="(\d+)">'
                        r'.*?<path d="([^"]+)"', doc)
    assert [(g[0], g[1]) for g in groups] == [("M-TR-1", "http://127.0.0.1:5006/readings?meter=M-TR-1"),
                                              ("M-TR-2", "http://127.0.0.1:5006/readings?meter=M-TR-2")]
    for meter, url, n, path in groups:
        dark = sum(sum(row) for row in qr_matrix(url))
        assert int(n) == 41 and path.count("M") == dark  # one square per dark module


def test_labels_pdf_has_one_label_per_meter(plant_cfg, tmp_path, capsys):
    out = tmp_path / "labels.pdf"
    assert main(["--data-dir", str(tmp_path / "var"), "labels", "--out", str(out)]) == 0
    # 95 meters: 90 of consumption and 5 of on-site generation, storage and export (PV, battery, export register)
    assert "95 label(s) pointing at http://127.0.0.1:5006/readings?meter=ID" in capsys.readouterr().out
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    uris = re.findall(rb"/URI \((http://127\.0\.0\.1:5006/readings\?meter=[^)]+)\)", data)
    assert sorted(u.decode().rsplit("=", 1)[1] for u in uris) == sorted(plant_cfg.site.meter_ids())
    assert len(re.findall(rb"/Type /Page\b", data)) == 4  # 95 labels at 24 a sheet
    # a selection, and a URL override
    assert main(["--data-dir", str(tmp_path / "var"), "labels", "--out", str(out), "--meters", "M-TR-1",
                 "M-TR-2", "--public-url", "https://ems.example.cn"]) == 0
    uris = re.findall(rb"/URI \(([^)]+)\)", out.read_bytes())
    assert uris == [b"https://ems.example.cn/readings?meter=M-TR-1", b"https://ems.example.cn/readings?meter=M-TR-2"]
    assert main(["--data-dir", str(tmp_path / "var"), "labels", "--out", str(tmp_path / "l.png")]) == 2
    assert "write labels to a .pdf or an .svg file" in capsys.readouterr().err


def test_svg_output_from_the_cli(plant_cfg, tmp_path):
    out = tmp_path / "labels.svg"
    write_labels(plant_cfg.site, plant_cfg.dashboards.public_url, out, ["M-AC-01"])
    assert out.read_text().count('class="label"') == 1


# -- device health -----------------------------------------------------------------------------------
async def test_health_of_a_dead_meter_is_read_back(plant, plant_cfg, tmp_path, capsys):  # noqa: F811
    sim, svc, j, st, clock = plant
    svc.health_path = plant_cfg.paths.run / "health.json"
    sim.kill("M-WR-03")  # its gateway answers with exception 11
    await svc.poll_once()
    await asyncio.sleep(1.05)
    await svc.poll_once()  # M-WR-03 is backing off: not asked again
    svc.write_health()

    df = device_health(plant_cfg.paths.data_dir, plant_cfg.site)
    n = len(plant_cfg.site.meters)
    assert len(df) == n and df.index.name == "meter"
    dead = df.loc["M-WR-03"]
    assert dead["state"] == "backing_off" and dead["errors"] == 1 and dead["consecutive_failures"] == 1
    assert dead["reads"] == 0 and dead["backoff_s"] == 30.0  # the fixture's backoff_initial_s
    assert "exception 11" in dead["last_error"] and dead["last_seen"] is pd.NaT
    assert dead["next_attempt"] > df.loc["M-TR-1", "last_seen"]  # a retry lies ahead
    ok = df.drop("M-WR-03")
    assert (ok["state"] == "ok").all() and (ok["reads"] == 2).all() and (ok["errors"] == 0).all()
    assert (ok["latency_ms"] > 0).all() and (ok["backoff_s"] == 0).all() and (ok["rejected"] == 0).all()
    assert df.attrs["cycles"] == 2 and df.attrs["acknowledged"] == 2 * (n - 1)
    assert summary(df).endswith(f"devices: {n - 1} ok, 1 backing off, 0 never seen")
    assert "M-WR-03" in render(df, only_problems=True) and "M-TR-1" not in render(df, only_problems=True)

    assert main(["--data-dir", str(plant_cfg.paths.data_dir), "health", "--problems"]) == 0
    out = capsys.readouterr().out
    assert f"{n - 1} ok, 1 backing off" in out and "M-WR-03" in out and "backing_off" in out
    assert main(["--data-dir", str(plant_cfg.paths.data_dir), "status"]) == 0
    out = capsys.readouterr().out
    assert f"devices: {n} seen, 1 failing" in out and "M-WR-03: 1 failures, retry every 30 s, last: " in out
    assert main(["--data-dir", str(plant_cfg.paths.data_dir), "health", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("meter,state,last_seen,") and len(lines) == n + 1


def test_health_without_a_collector(plant_cfg, tmp_path, capsys):
    df = device_health(plant_cfg.paths.data_dir)
    assert df.empty and df.attrs["written_at"] is None
    assert "no health file" in summary(df)
    assert main(["--data-dir", str(plant_cfg.paths.data_dir), "status"]) == 0
    assert "collector: no health file at " in capsys.readouterr().out
    df = device_health(plant_cfg.paths.data_dir, plant_cfg.site)
    assert (df["state"] == "never_seen").all() and len(df) == len(plant_cfg.site.meters)
    bad = plant_cfg.paths.run / "health.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    from workspace.errors import TanjianError

    with pytest.raises(TanjianError, match="health.json: not a collector health file"):
        device_health(plant_cfg.paths.data_dir)
