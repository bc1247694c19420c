"""Compile the Solidity contracts with solcjs (npm ``solc``) under pinned settings.

``python -m chain.compile [--out DIR]`` writes ``<DIR>/AnchorRegistry.json`` (default
``chain/contracts/build/``) holding ``abi``, ``bytecode``, ``deployedBytecode`` (hex with ``0x``),
the compiler version, the settings and the SHA-256 of the source. The artefact is committed; the
tests recompile it and compare byte for byte, so a source edit without a rebuild is caught.

The EVM version is ``prague``: the newest fork both py-evm 0.12 (eth-tester, unit tests) and
anvil 1.7 (integration tests, demo) execute.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

from workspace.errors import ChainError

log = logging.getLogger(__name__)

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
BUILD_DIR = CONTRACTS_DIR / "build"
REPO_ROOT = Path(__file__).resolve().parent.parent
SOLC_VERSION = "0.8.30"
EVM_VERSION = "prague"
OPTIMIZER_RUNS = 200
CONTRACTS = ("AnchorRegistry",)


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


def source_sha256(name: str = "AnchorRegistry") -> str:
    """SHA-256 (hex) of the contract's source file."""
    return hashlib.sha256((CONTRACTS_DIR / f"{name}.sol").read_bytes()).hexdigest()


def standard_input(name: str) -> dict:
    """The solc standard-JSON input used for ``name`` (pinned settings)."""
    return {
        "language": "Solidity",
        "sources": {f"{name}.sol": {"content": (CONTRACTS_DIR / f"{name}.sol").read_text("utf-8")}},
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
        },
    }


def compile_contract(name: str = "AnchorRegistry", solcjs: Path | None = None) -> dict:
    """Compile one contract and return its artefact (a JSON-serialisable dict)."""
    solcjs = solcjs or find_solcjs()
    version = subprocess.run([str(solcjs), "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    if not version.startswith(SOLC_VERSION + "+"):
        raise ChainError(f"{solcjs} is solc {version}; the artefacts are pinned to {SOLC_VERSION}")
    inp = standard_input(name)
    proc = subprocess.run([str(solcjs), "--standard-json"], input=json.dumps(inp), capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise ChainError(f"solcjs failed ({proc.returncode}): {proc.stderr.strip()}")
    out = json.loads(proc.stdout[proc.stdout.index("{"):])  # solcjs may print warnings first
    errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ChainError(f"{name}.sol does not compile:\n" + "\n".join(e["formattedMessage"] for e in errors))
    c = out["contracts"][f"{name}.sol"][name]
    return {
        "contractName": name,
        "sourceName": f"chain/contracts/{name}.sol",
        "sourceSha256": source_sha256(name),
        "compiler": {"name": "solcjs", "version": version},
        "settings": {k: v for k, v in inp["settings"].items() if k != "outputSelection"},
        "abi": c["abi"],
        "bytecode": "0x" + c["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
    }


def artefact_bytes(artefact: dict) -> bytes:
    """Serialised artefact as written to disk (stable key order, 2-space indent, final newline)."""
    return (json.dumps(artefact, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def build(out_dir: Path = BUILD_DIR) -> list[Path]:
    """Compile every contract into ``out_dir``; return the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CONTRACTS:
        path = out_dir / f"{name}.json"
        path.write_bytes(artefact_bytes(compile_contract(name)))
        log.info("compiled %s -> %s", name, path)
        written.append(path)
    return written


def load_artefact(name: str = "AnchorRegistry") -> dict:
    """The committed artefact of ``name``; warns when its source hash is stale."""
    path = BUILD_DIR / f"{name}.json"
    if not path.exists():
        raise ChainError(f"{path} is missing: run `python -m chain.compile`")
    art = json.loads(path.read_text("utf-8"))
    if art["sourceSha256"] != source_sha256(name):
        log.warning("%s was compiled from another version of %s.sol: run `python -m chain.compile`",
                    path, name)
    return art


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chain.compile", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=BUILD_DIR, help="output directory")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in build(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
