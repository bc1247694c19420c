"""The no-code verification recipe of docs/chain.md, run verbatim with sha256sum, xxd and cast against anvil.

Needs ``cast`` (npm ``@foundry-rs/cast``, found in node_modules like anvil, or on PATH); skipped without it.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_account import Account

from chain.anchor import AnchorService
from chain.bundle import export_batch
from chain.deploy import ensure_deployment
from chain.ledger import Ledger
from chain.node import connect
from tanjian.simulator.anvil import start_anvil
from workspace.batch import Reading, encode_batch
from workspace.journal import Journal

pytestmark = [pytest.mark.requires_anvil, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "chain.md"
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)


def find_cast() -> Path | None:
    machine = platform.machine()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    nm = ROOT / "node_modules"
    native = nm / "@foundry-rs" / f"cast-{platform.system().lower()}-{arch}" / "bin" / "cast"
    for c in (native, nm / ".bin" / "cast"):
        if c.exists():
            return c
    found = shutil.which("cast")
    return Path(found) if found else None


@pytest.fixture(scope="module")
def cast():
    c = find_cast()
    if c is None:
        pytest.skip("cast not found: npm install @foundry-rs/cast (see package.json)")
    if shutil.which("xxd") is None:
        pytest.skip("xxd not found (vim-common / xxd package)")
    return c


def recipe() -> str:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- recipe:start -->", 1)[1].split("<!-- recipe:end -->", 1)[0]
    return re.search(r"```bash\n(.*?)```", block, re.S).group(1)


def run_recipe(cast, batch_path: Path, bundle: dict, rpc: str) -> str:
    vars_ = {"FILE": batch_path.name, "SEQ": bundle["batch"]["seq"], "SIZE": bundle["tree"]["size"],
             "ROOT": bundle["tree"]["root"], "PROOF": " ".join(bundle["tree"]["inclusion_proof"]),
             "SIGNER": bundle["signature"]["signer"], "SIG": bundle["signature"]["value"],
             "CONTRACT": bundle["anchor"]["contract"], "BLOCK": bundle["anchor"]["block_number"], "RPC": rpc}
    script = "".join(f'{k}="{v}"\n' for k, v in vars_.items()) + recipe()
    env = {"PATH": f"{cast.parent}:/usr/bin:/bin", "LC_ALL": "C"}
    proc = subprocess.run(["bash", "-c", script], cwd=batch_path.parent, env=env, capture_output=True,
                          text=True, timeout=120)
    return proc.stdout + proc.stderr


def test_the_readme_recipe_verifies_an_export_and_catches_a_tampered_one(cast, tmp_path):
    jdir, state, out = tmp_path / "journal", tmp_path / "chain", tmp_path / "out"
    with Journal(jdir, writer=True) as j:
        for seq in range(6):
            j.append(encode_batch("plant-18", seq, "modbus-tcp://127.0.0.1:5020",
                                  [Reading("E-01", T0 + dt.timedelta(minutes=5 * seq), 120345.5 + seq)]))
    gateway = Account.create()
    with start_anvil() as node:
        w3 = connect(node.rpc_url)
        info = ensure_deployment(w3, state, gateway.address, plant="plant-18")
        with Ledger(jdir, state) as ledger:
            AnchorService(w3, info["address"], gateway, ledger, state).anchor_once()
            batch_path, bundle_path = export_batch(jdir, ledger, state, 3, out)
        bundle = json.loads(bundle_path.read_text())

        text = run_recipe(cast, batch_path, bundle, node.rpc_url)
        assert bundle["batch"]["sha256"] in text
        assert f"leaf      {bundle['batch']['leaf_hash']}" in text
        root = bundle["tree"]["root"]
        assert f"root      {root}   (must be tree.root: {root})" in text, text
        assert "Validation succeeded" in text
        lines = text.splitlines()
        chain_at = lines.index("31337")
        assert lines[chain_at + 1] == "6"  # anchorOf: tree size
        assert lines[chain_at + 4] == gateway.address
        assert "0x706c616e742d3138" in lines[chain_at + 7]  # "plant-18"
        assert "true" in lines[chain_at + 9:]

        # one changed byte: another leaf, another root, never anchored, signature not by the gateway
        data = batch_path.read_bytes()
        batch_path.write_bytes(data.replace(b"120348.5", b"120348.6"))
        text = run_recipe(cast, batch_path, bundle, node.rpc_url)
        assert f"root      {bundle['tree']['root']}" not in text
        assert "Validation succeeded" not in text
        lines = text.splitlines()
        assert lines[lines.index("31337") + 1] == "0"  # anchorOf of an unknown root: tree size 0
