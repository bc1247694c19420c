"""Compile the Solidity contracts with solcjs (npm ``solc``) under the settings of :mod:`chain.artefacts`.

``tanjian chain compile [--out DIR]`` (:func:`build`) compiles every contract of
:data:`chain.artefacts.CONTRACTS` in one solc run and writes ``<DIR>/<Name>.json`` (default
``chain/contracts/build/``); what an artefact holds, and how the chain reads it, is described in
:mod:`chain.artefacts`. Running the compiler is the app's: the chain only reads what was committed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from chain.artefacts import BUILD_DIR, CONTRACTS, SOLC_VERSION, artefact_bytes, sources_sha256, standard_input
from workspace.errors import ChainError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_solcjs() -> Path:
    """Path of ``solcjs``: ``$TANJIAN_SOLCJS`` or ``node_modules/.bin/solcjs`` of the repository."""
    env = os.environ.get("TANJIAN_SOLCJS")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT / "node_modules" / ".bin" / "solcjs")
    found = shutil.which("solcjs")
    if found:
        candidates.append(Path(found))
    for c in candidates:
        if c.exists():
            return c
    raise ChainError("solcjs not found: run `npm install solc@0.8.30` in the repository root "
                     "or set TANJIAN_SOLCJS")


def compile_all(solcjs: Path | None = None) -> dict[str, dict]:
    """Compile every contract; return their artefacts (JSON-serialisable dicts) by name."""
    solcjs = solcjs or find_solcjs()
    version = subprocess.run([str(solcjs), "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    if not version.startswith(SOLC_VERSION + "+"):
        raise ChainError(f"{solcjs} is solc {version}; the artefacts are pinned to {SOLC_VERSION}")
    inp = standard_input()
    # stdout to a file, not a pipe: node ends solcjs with process.exit, which cuts a piped output at 64 KiB
    with tempfile.TemporaryFile("w+", encoding="utf-8") as sink:
        proc = subprocess.run([str(solcjs), "--standard-json"], input=json.dumps(inp), stdout=sink,
                              stderr=subprocess.PIPE, text=True)
        sink.seek(0)
        stdout = sink.read()
    if proc.returncode != 0:
        raise ChainError(f"solcjs failed ({proc.returncode}): {proc.stderr.strip()}")
    out = json.loads(stdout[stdout.index("{"):])  # solcjs may print warnings first
    errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ChainError("the contracts do not compile:\n" + "\n".join(e["formattedMessage"] for e in errors))
    shas = sources_sha256()
    arts = {}
    for name in CONTRACTS:
        c = out["contracts"][f"{name}.sol"][name]
        arts[name] = {
            "contractName": name,
            "sourceName": f"chain/contracts/{name}.sol",
            "sourceSha256": shas[f"{name}.sol"],
            "sourcesSha256": shas,
            "compiler": {"name": "solcjs", "version": version},
            "settings": {k: v for k, v in inp["settings"].items() if k != "outputSelection"},
            "abi": c["abi"],
            "bytecode": "0x" + c["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
            "immutableReferences": c["evm"]["deployedBytecode"].get("immutableReferences", {}),
        }
    return arts


def compile_contract(name: str = "AnchorRegistry", solcjs: Path | None = None) -> dict:
    """Compile the contracts and return the artefact of ``name``."""
    return compile_all(solcjs)[name]


def build(out_dir: Path = BUILD_DIR) -> list[Path]:
    """Compile every contract into ``out_dir``; return the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, art in compile_all().items():
        path = out_dir / f"{name}.json"
        path.write_bytes(artefact_bytes(art))
        log.info("compiled %s -> %s", name, path)
        written.append(path)
    return written
