"""Accounting refuses a methodology package whose hash differs from the version published on chain."""

import datetime as dt
import shutil
import subprocess
import sys

import pytest
from eth_account import Account

from chain import methodology as m
from chain.deploy import ensure_deployment
from chain.node import connect
from chain.registry import METHODOLOGY_REGISTRY, from_deployment
from tanjian.simulator.anvil import start_anvil
from tests.conftest import ROOT
from workspace.config import EXAMPLE

pytestmark = [pytest.mark.requires_anvil, pytest.mark.slow]


def test_kpi_accounts_only_with_the_published_package(seeded_dir, tmp_path):
    pkg = tmp_path / "methodology"
    shutil.copytree(ROOT / "models" / "methodologies" / "ghg-protocol-corporate", pkg)  # a configured package
    data = tmp_path / "var"
    shutil.copytree(seeded_dir, data)
    with start_anvil() as node:
        cfg_path = tmp_path / "tanjian.yaml"
        cfg_path.write_text(EXAMPLE.read_text().replace(
            "rpc_url: http://127.0.0.1:8545", f"rpc_url: {node.rpc_url}\n  methodology_id: CN-LOC-ELEC\n"
                                               f"  methodology_package: methodology"))
        w3 = connect(node.rpc_url)
        info = ensure_deployment(w3, data / "chain", Account.create().address, plant="plant-18")
        reg = from_deployment(w3, info, METHODOLOGY_REGISTRY)
        m.publish(w3, reg, info["roles"]["association"], pkg, "CN-LOC-ELEC", "2026.1", dt.date(2026, 1, 1))

        def kpi():
            return subprocess.run([sys.executable, "-m", "tanjian", "--config", str(cfg_path), "--data-dir",
                                   str(data), "kpi"], capture_output=True, text=True, cwd=str(ROOT), timeout=120)

        r = kpi()
        assert r.returncode == 0, r.stderr
        from models.packages import load_methodology

        version = load_methodology(pkg).version
        assert (f"# methodology ghg-protocol-corporate {version} (package sha256 {m.package_sha256(pkg)}, "
                f"configured): on chain checked ✓") in r.stdout
        assert "today" in r.stdout and "year" in r.stdout
        # one byte changed in the local package: accounting is refused, naming both hashes
        man = pkg / "manifest.yaml"
        man.write_bytes(man.read_bytes().replace(b"title: ", b"title: X", 1))
        r = kpi()
        assert r.returncode == 2 and "today" not in r.stdout
        assert "refusing to account" in r.stderr and m.package_sha256(pkg) in r.stderr


def test_configured_contract_addresses_take_precedence(tmp_path):
    """A consortium chain is a configuration change: the YAML names the registries, no deployment.json needed."""
    from chain.connect import deployment
    from workspace.config import load_config
    from workspace.errors import ConfigError

    anchor = "0x" + "ab" * 20
    text = EXAMPLE.read_text().replace(
        "rpc_url: http://127.0.0.1:8545", "rpc_url: https://besu.member.example:8545\n  contracts:\n"
                                          f"    AnchorRegistry: '{anchor}'\n    QuotaRegistry: '0x{'cd' * 20}'")
    (tmp_path / "tanjian.yaml").write_text(text)
    cfg = load_config(tmp_path / "tanjian.yaml")
    info = deployment(cfg)
    assert info["address"] == anchor and info["chain_id"] == 31337
    assert info["contracts"]["QuotaRegistry"]["address"] == "0x" + "cd" * 20
    (tmp_path / "bad.yaml").write_text(text.replace("QuotaRegistry", "QuotaRegistri"))
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: chain.contracts"):
        load_config(tmp_path / "bad.yaml")


def test_the_guard_checks_nothing_when_no_methodology_is_pinned(tmp_path):
    """The one guard (chain.methodology.guard) asks no node when the configuration pins no methodology: the
    packaged default computes, labelled 'offline, not checked' with the reason."""
    from models.guarded import active_methodology
    from workspace.config import load_config
    from workspace.errors import ChainError

    cfg = load_config(EXAMPLE, data_dir=tmp_path)  # its rpc_url has no node behind it
    assert cfg.chain.methodology_id is None
    with pytest.raises(ChainError, match="which methodology"):
        m.guard(cfg)
    meth, g = active_methodology(cfg, "cn-machinery-2015")
    assert (g.status, g.label, g.origin) == ("offline", "offline, not checked", "packaged")
    assert "pins no methodology" in g.reason and g.package_sha256 == meth.sha256
    assert g.package_dir == ROOT / "models" / "methodologies" / "cn-machinery-2015"


def test_a_pinned_methodology_with_the_node_down_is_computed_and_labelled_offline(tmp_path):
    from tests.conftest import free_port
    from workspace.config import load_config

    pkg = ROOT / "models" / "methodologies" / "cn-machinery-2015"
    (tmp_path / "t.yaml").write_text(EXAMPLE.read_text().replace(
        "rpc_url: http://127.0.0.1:8545", f"rpc_url: http://127.0.0.1:{free_port()}\n"
                                           f"  methodology_id: cn-machinery-2015\n  methodology_package: {pkg}"))
    cfg = load_config(tmp_path / "t.yaml", data_dir=tmp_path / "var")
    g = m.guard(cfg)  # nothing listens on that port
    assert (g.status, g.label, g.origin, g.package_sha256) == ("offline", "offline, not checked", "configured",
                                                               m.package_sha256(pkg))
    assert "unreachable" in g.reason and "not checked" in g.reason


def test_methodology_commands_with_the_node_down_say_so_in_one_line(tmp_path, capsys):
    from tanjian.cli import main
    from tests.conftest import free_port

    (tmp_path / "t.yaml").write_text(EXAMPLE.read_text().replace(
        "rpc_url: http://127.0.0.1:8545", f"rpc_url: http://127.0.0.1:{free_port()}"))
    for argv in (["methodology", "sync", "--id", "cn-machinery-2015"], ["methodology", "show", "--id", "x"]):
        rc = main(["--config", str(tmp_path / "t.yaml"), "--data-dir", str(tmp_path / "var"), *argv])
        err = capsys.readouterr().err
        assert rc == 1 and "unreachable" in err and "Traceback" not in err and err.count("\n") == 1
