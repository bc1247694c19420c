"""Methodology sync: publish hash + URI, a gateway fetches the package from a real local HTTP server, checks
the hash against anvil and activates it; a tampered byte is refused with the reason; the anchoring loop's
watcher syncs on the registry's MethodologyPublished event; the guard then names the synced package."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import io
import json
import shutil
import tarfile
import threading
from pathlib import Path

import pytest
from eth_account import Account

from chain import methodology as m
from chain import methodology_sync as ms
from chain.deploy import ensure_deployment
from chain.node import connect
from chain.registry import METHODOLOGY_REGISTRY, from_deployment
from tanjian.cli import main
from tanjian.simulator.anvil import start_anvil
from tests.chain.test_chain_methodology import PACKAGE_SHA256, make_package
from workspace.config import EXAMPLE, load_config
from workspace.errors import ChainError

pytestmark = [pytest.mark.requires_anvil]


@pytest.fixture
def web(tmp_path):
    """A real HTTP server (http.server in a thread) serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    t.join(5)


@pytest.fixture
def node(tmp_path):
    with start_anvil() as n:
        data = tmp_path / "var"
        cfg_path = tmp_path / "tanjian.yaml"
        cfg_path.write_text(EXAMPLE.read_text().replace(
            "rpc_url: http://127.0.0.1:8545", f"rpc_url: {n.rpc_url}\n  methodology_id: CN-GHG-MACH\n"
                                               f"  methodology_package: packaged"))
        make_package(tmp_path / "packaged")  # the packaged default the gateway starts with
        w3 = connect(n.rpc_url)
        info = ensure_deployment(w3, data / "chain", Account.create().address, plant="plant-18")
        reg = from_deployment(w3, info, METHODOLOGY_REGISTRY)
        yield w3, reg, info["roles"]["association"], cfg_path, data


def test_pack_is_reproducible_and_unpacks_to_the_same_package_hash(tmp_path):
    pkg = make_package(tmp_path / "pkg")
    a = ms.pack(pkg)
    assert a == ms.pack(pkg)  # same directory, same bytes (mtime 0, sorted names, owner 0)
    ms.unpack(a, tmp_path / "out")
    # the recorded GNU coreutils hash of this package (tests/chain/test_chain_methodology.py)
    assert m.package_sha256(tmp_path / "out") == PACKAGE_SHA256


@pytest.mark.parametrize("member", ["../evil.yaml", "/etc/evil", "a/../../b", "link"])
def test_unpack_refuses_paths_outside_and_links(tmp_path, member):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(member)
        if member == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ms.SyncRefused, match="not a plain relative path|link or special file"):
        ms.unpack(buf.getvalue(), tmp_path / "out")


def test_sync_fetches_checks_and_activates_and_refuses_a_tampered_byte(node, web, tmp_path, capsys):
    w3, reg, association, cfg_path, data = node
    www, base = web
    pkg = make_package(tmp_path / "release")
    (www / "cn-ghg-mach-2026.1.tar").write_bytes(ms.pack(pkg))
    uri = f"{base}/cn-ghg-mach-2026.1.tar"
    cli = ["--config", str(cfg_path), "--data-dir", str(data)]
    assert main([*cli, "methodology", "publish", str(pkg), "--id", "CN-GHG-MACH", "--version", "2026.1",
                 "--effective-from", "2020-01-01", "--uri", uri, "--from", association]) == 0
    assert m.active(reg, "CN-GHG-MACH").uri == uri  # the URI is on chain with the hash

    cfg = load_config(cfg_path, data_dir=data)
    # before any sync: the configured package; it is the published one, so checked ✓
    g = m.guard(cfg)
    assert (g.origin, g.status, g.label, g.package_sha256) == ("configured", "checked", "checked ✓", PACKAGE_SHA256)

    capsys.readouterr()
    assert main([*cli, "methodology", "sync"]) == 0
    out = capsys.readouterr().out
    assert "CN-GHG-MACH 2026.1: activated" in out and PACKAGE_SHA256 in out
    rec = ms.active_record(data, "CN-GHG-MACH")
    assert rec["version"] == "2026.1" and rec["sha256"] == PACKAGE_SHA256 and rec["uri"] == uri
    assert m.package_sha256(rec["path"]) == PACKAGE_SHA256
    g = m.guard(cfg)
    assert (g.origin, g.status, str(g.package_dir)) == ("synced", "checked", rec["path"])
    assert main([*cli, "methodology", "sync"]) == 0
    assert "already active" in capsys.readouterr().out
    assert main([*cli, "methodology", "status"]) == 0
    out = capsys.readouterr().out
    assert f"package {PACKAGE_SHA256} (synced, {rec['path']})" in out and "on chain: checked ✓" in out

    # version 2026.2: the association publishes a package, but the server holds one tampered byte
    v2 = make_package(tmp_path / "release2")
    (v2 / "factors" / "grid.csv").write_bytes(b"region,kgCO2e_per_kWh\nCN-national,0.5306\n")
    good = ms.pack(v2)
    bad = good.replace(b"0.5306", b"0.5307")
    assert len(bad) == len(good) and bad != good
    (www / "cn-ghg-mach-2026.2.tar").write_bytes(bad)
    m.publish(w3, reg, association, v2, "CN-GHG-MACH", "2026.2", dt.date(2021, 1, 1),
              uri=f"{base}/cn-ghg-mach-2026.2.tar")
    assert main([*cli, "methodology", "sync"]) == 1  # refused: a failure, not a usage error
    err = capsys.readouterr().err
    assert "refused, not activated" in err and m.package_sha256(v2) in err
    refusal = json.loads((data / "methodology" / "sync.jsonl").read_text().splitlines()[-1])
    assert refusal["event"] == "refused" and refusal["published_sha256"] == m.package_sha256(v2)
    assert refusal["got_sha256"] not in (None, m.package_sha256(v2))
    # nothing changed: 2026.1 stays active, and the guard now reports it as a mismatch with the chain
    assert ms.active_record(data, "CN-GHG-MACH")["version"] == "2026.1"
    g = m.guard(cfg, strict=False)
    assert (g.status, g.label) == ("mismatch", "mismatch ✗") and g.onchain.version == "2026.2"
    with pytest.raises(ChainError, match="refusing to account"):
        m.guard(cfg)
    assert main([*cli, "methodology", "status"]) == 1
    assert "on chain: mismatch ✗" in capsys.readouterr().out

    # the anchoring loop's watcher: its first poll catches up, is refused too, and retries on the next poll
    watcher = ms.MethodologyWatcher(cfg, reg)
    with pytest.raises(ms.SyncRefused):
        watcher.poll()
    (www / "cn-ghg-mach-2026.2.tar").write_bytes(good)  # the server is fixed
    res = watcher.poll()
    assert res.action == "activated" and res.version.version == "2026.2"
    assert watcher.poll() is None  # no new event: nothing to do
    v3 = make_package(tmp_path / "release3")
    (v3 / "method.yaml").write_bytes(b"id: CN-GHG-MACH\nscope: [1, 2, 3]\n")
    (www / "3.tar").write_bytes(ms.pack(v3))
    m.publish(w3, reg, association, v3, "CN-GHG-MACH", "2026.3", dt.date(2022, 1, 1), uri=f"{base}/3.tar")
    res = watcher.poll()
    assert res.action == "activated" and res.version.version == "2026.3"
    assert m.guard(cfg).package_sha256 == m.package_sha256(v3)


def test_the_anchoring_loop_runs_the_watcher(node, web, tmp_path):
    """AnchorService.run calls the watcher's poll each cycle and survives its errors."""
    from chain.anchor import AnchorService
    from chain.ledger import Ledger

    w3, reg, association, cfg_path, data = node
    www, base = web
    cfg = load_config(cfg_path, data_dir=data)
    pkg = make_package(tmp_path / "release")
    (www / "p.tar").write_bytes(ms.pack(pkg))
    m.publish(w3, reg, association, pkg, "CN-GHG-MACH", "2026.1", dt.date(2020, 1, 1), uri=f"{base}/p.tar")
    info = json.loads((data / "chain" / "deployment.json").read_text())
    svc = AnchorService(w3, info["address"], Account.create(), Ledger(cfg.paths.journal, cfg.paths.chain),
                        cfg.paths.chain)
    stop = threading.Event()
    calls = []
    watcher = ms.MethodologyWatcher(cfg, reg)

    def poll():
        calls.append(watcher.poll())
        stop.set()

    svc.run(0.01, stop, also=(poll,))
    assert calls and calls[0].action == "activated"
    assert ms.active_record(data, "CN-GHG-MACH")["sha256"] == PACKAGE_SHA256
    shutil.rmtree(data / "methodology")


def test_inventory_computes_with_the_synced_package_and_says_it_was_checked(web, tmp_path, capsys):
    """The real cn-machinery-2015 package published with its URI, synced by the gateway; `tanjian inventory` then
    computes with the synced copy (checked ✓); a byte changed in that copy on disk is refused."""
    from tests.conftest import ROOT

    www, base = web
    src = ROOT / "models" / "methodologies" / "cn-machinery-2015"
    (www / "cn.tar").write_bytes(ms.pack(src))
    act = tmp_path / "a.csv"
    act.write_text("kind,item,period_start,period_end,quantity,unit,workshop\n"
                   "electricity_statement,total,2024-01-01,2024-12-31,100,MWh,WS-A\n", encoding="utf-8")
    with start_anvil() as n:
        data = tmp_path / "var"
        cfg_path = tmp_path / "tanjian.yaml"
        cfg_path.write_text(EXAMPLE.read_text().replace(
            "rpc_url: http://127.0.0.1:8545", f"rpc_url: {n.rpc_url}\n  methodology_id: cn-machinery-2015\n"
                                               f"  methodology_package: {src}"))
        w3 = connect(n.rpc_url)
        info = ensure_deployment(w3, data / "chain", Account.create().address, plant="plant-18")
        reg = from_deployment(w3, info, METHODOLOGY_REGISTRY)
        m.publish(w3, reg, info["roles"]["association"], src, "cn-machinery-2015", "2015.2", dt.date(2020, 1, 1),
                  uri=f"{base}/cn.tar")
        cli = ["--config", str(cfg_path), "--data-dir", str(data)]
        assert main([*cli, "methodology", "sync"]) == 0
        capsys.readouterr()
        inv = [*cli, "inventory", "--year", "2024", "--activity", str(act), "--no-store",
               "--methodology", "cn-machinery-2015", "--json"]
        assert main(inv) == 0
        chk = json.loads(capsys.readouterr().out)["methodology"]["chain_check"]
        assert (chk["origin"], chk["status"], chk["label"], chk["sha256"]) == (
            "synced", "checked", "checked ✓", m.package_sha256(src))
        # one byte changed in the synced copy: refused before anything is computed, naming both hashes
        synced = ms.active_record(data, "cn-machinery-2015")["path"]
        man = Path(synced) / "manifest.yaml"
        man.write_bytes(man.read_bytes().replace(b"title: ", b"title: X", 1))
        assert main(inv) == 1  # refused: an error, not a usage mistake
        err = capsys.readouterr().err
        assert "changed on disk since" in err and m.package_sha256(src) in err


def test_the_factor_file_travels_with_the_package_and_is_used(web, tmp_path, capsys):
    """`tanjian methodology pack` puts the factor file the package seals into the archive; sync checks it
    against the seal, keeps it beside the package and the accounting computes with it; a factor file that
    is not the sealed one refuses the archive; both are in the audit trail."""
    import hashlib

    from models.factors import DEFAULT_PATH
    from models.guarded import active_methodology
    from tests.conftest import ROOT
    from workspace import audit

    www, base = web
    src = ROOT / "models" / "methodologies" / "cn-machinery-2015"
    sealed = ms.sealed_factor_files(src)
    assert list(sealed) == [DEFAULT_PATH.name]  # the manifest seals the packaged factor file by hash
    act = tmp_path / "a.csv"
    act.write_text("kind,item,period_start,period_end,quantity,unit,workshop\n"
                   "electricity_statement,total,2024-01-01,2024-12-31,100,MWh,WS-A\n", encoding="utf-8")
    with start_anvil() as n:
        data = tmp_path / "var"
        cfg_path = tmp_path / "tanjian.yaml"
        cfg_path.write_text(EXAMPLE.read_text().replace(
            "rpc_url: http://127.0.0.1:8545", f"rpc_url: {n.rpc_url}\n  methodology_id: cn-machinery-2015\n"
                                               f"  methodology_package: {src}"))
        w3 = connect(n.rpc_url)
        info = ensure_deployment(w3, data / "chain", Account.create().address, plant="plant-18")
        reg = from_deployment(w3, info, METHODOLOGY_REGISTRY)
        cli = ["--config", str(cfg_path), "--data-dir", str(data)]
        assert main([*cli, "methodology", "pack", str(src), "--out", str(www / "cn.tar")]) == 0
        assert f"with its factor file {DEFAULT_PATH.name}" in capsys.readouterr().out
        with tarfile.open(www / "cn.tar") as tar:
            assert f"{ms.FACTOR_DIR}/{DEFAULT_PATH.name}" in tar.getnames()
        m.publish(w3, reg, info["roles"]["association"], src, "cn-machinery-2015", "2015.2", dt.date(2020, 1, 1),
                  uri=f"{base}/cn.tar")
        assert main([*cli, "methodology", "sync"]) == 0
        rec = ms.active_record(data, "cn-machinery-2015")
        assert rec["sha256"] == m.package_sha256(src) and rec["factor_files"] == [DEFAULT_PATH.name]
        shipped = Path(rec["path"] + ".factors") / DEFAULT_PATH.name
        assert hashlib.sha256(shipped.read_bytes()).hexdigest() == sealed[DEFAULT_PATH.name]
        cfg = load_config(cfg_path, data_dir=data)
        meth, g = active_methodology(cfg)
        assert (g.origin, g.status, meth.factor_path) == ("synced", "checked", shipped)
        capsys.readouterr()
        inv = [*cli, "inventory", "--year", "2024", "--activity", str(act), "--no-store",
               "--methodology", "cn-machinery-2015", "--json"]
        assert main(inv) == 0
        c = json.loads(capsys.readouterr().out)
        assert c["methodology"]["chain_check"]["origin"] == "synced"
        assert c["factor_library"]["sha256"] == sealed[DEFAULT_PATH.name]
        # the synced factor file is what computes: one byte changed in it is refused, naming the seal
        shipped.write_bytes(shipped.read_bytes() + b"\n")
        assert main(inv) == 1
        assert "changed on disk since the sync" in capsys.readouterr().err

        # version 2015.3 (the same package): the archive carries a factor file that is not the sealed one.
        # The active copy's factor file no longer matches its seal, so the gateway fetches again: refused
        bad_factors = tmp_path / DEFAULT_PATH.name
        bad_factors.write_bytes(DEFAULT_PATH.read_bytes().replace(b"0.5703", b"0.4703", 1))
        assert bad_factors.read_bytes() != DEFAULT_PATH.read_bytes()
        (www / "bad.tar").write_bytes(ms.pack(src, {DEFAULT_PATH.name: bad_factors}))
        m.publish(w3, reg, info["roles"]["association"], src, "cn-machinery-2015", "2015.3", dt.date(2021, 1, 1),
                  uri=f"{base}/bad.tar")
        assert main([*cli, "methodology", "sync"]) == 1
        assert "the package's manifest.yaml seals" in capsys.readouterr().err
        assert ms.active_record(data, "cn-machinery-2015")["version"] == "2015.2"  # nothing changed
    trail = [e for _, e in audit.entries(data) if e["action"] == "methodology_sync"]
    assert [e["what"].split(" ")[2] for e in trail] == ["activated:", "refused"]
    assert f"factor files carried: {DEFAULT_PATH.name}" in trail[0]["reason"]
    assert "seals" in trail[1]["reason"]


def test_the_kpis_compute_with_a_synced_packages_own_factor_file(tmp_path):
    """plant_kpis (the big screen's and `tanjian kpi`'s figures) reads the factor file a synced package carries,
    as the inventory does, and refuses it once a byte of it changed on disk (it is read again, not cached)."""
    import dataclasses

    from models.factors import DEFAULT_PATH
    from models.packages import load_methodology
    from models.series import default_library

    meth = load_methodology("cn-machinery-2015")
    own = tmp_path / DEFAULT_PATH.name
    own.write_bytes(DEFAULT_PATH.read_bytes())
    synced = dataclasses.replace(meth, factor_path=own)
    assert default_library(None, synced).path == own
    assert default_library(None, meth).path == DEFAULT_PATH
    first = default_library(None, synced)
    own.write_bytes(DEFAULT_PATH.read_bytes() + b"\n")
    assert default_library(None, synced) is not first and default_library(None, synced).sha256 != first.sha256
