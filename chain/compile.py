"""Compile the Solidity contracts with solcjs (npm ``solc``) under pinned settings.

``tanjian chain compile [--out DIR]`` (:func:`build`) compiles every contract of :data:`CONTRACTS` in one solc
run and writes ``<DIR>/<Name>.json`` (default ``chain/contracts/build/``) holding ``abi``,
``bytecode``, ``deployedBytecode`` (hex with ``0x``), ``immutableReferences`` (byte ranges of the
deployed code that the constructor fills in, so that deployed code can be compared with the
artefact), the compiler version, the settings and the SHA-256 of every source. The artefacts are
committed; the tests recompile them and compare byte for byte, so a source edit without a rebuild
is caught.

The EVM version is ``prague``: the newest fork both py-evm 0.12 (eth-tester, unit tests) and
anvil 1.7 (integration tests, demo) execute.
"""

from __future__ import annotations

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
CONTRACTS = ("DeviceRegistry", "AnchorRegistry", "MethodologyRegistry", "QuotaRegistry")


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


def sources_sha256() -> dict[str, str]:
    """SHA-256 (hex) of every source compiled together, by file name."""
    return {f"{n}.sol": source_sha256(n) for n in sorted(CONTRACTS)}


def standard_input() -> dict:
    """The solc standard-JSON input of all contracts (pinned settings)."""
    return {
        "language": "Solidity",
        "sources": {f"{n}.sol": {"content": (CONTRACTS_DIR / f"{n}.sol").read_text("utf-8")}
                    for n in sorted(CONTRACTS)},
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object",
                                            "evm.deployedBytecode.immutableReferences"]}},
        },
    }


def compile_all(solcjs: Path | None = None) -> dict[str, dict]:
    """Compile every contract; return their artefacts (JSON-serialisable dicts) by name."""
    solcjs = solcjs or find_solcjs()
    version = subprocess.run([str(solcjs), "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    if not version.startswith(SOLC_VERSION + "+"):
        raise ChainError(f"{solcjs} is solc {version}; the artefacts are pinned to {SOLC_VERSION}")
    inp = standard_input()
    proc = subprocess.run([str(solcjs), "--standard-json"],
                          input=json.dumps(inp), capture_output=True, text=True)
    if proc.returncode != 0:
        raise ChainError(f"solcjs failed ({proc.returncode}): {proc.stderr.strip()}")
    out = json.loads(proc.stdout[proc.stdout.index("{"):])  # solcjs may print warnings first
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


def artefact_bytes(artefact: dict) -> bytes:
    """Serialised artefact as written to disk (stable key order, 2-space indent, final newline)."""
    return (json.dumps(artefact, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


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


_CACHE: dict[str, dict] = {}


def load_artefact(name: str = "AnchorRegistry") -> dict:
    """The committed artefact of ``name``; warns when a source it was compiled from has changed."""
    if name in _CACHE:
        return _CACHE[name]
    path = BUILD_DIR / f"{name}.json"
    if not path.exists():
        raise ChainError(f"{path} is missing: run `tanjian chain compile`")
    art = json.loads(path.read_text("utf-8"))
    if art.get("sourcesSha256") != sources_sha256():
        log.warning("%s was compiled from other versions of the contract sources: run "
                    "`tanjian chain compile`", path)
    _CACHE[name] = art
    return art


def code_matches(art: dict, code: bytes) -> bool:
    """Whether deployed ``code`` is the artefact's ``deployedBytecode`` once the immutable slots
    (filled in by the constructor) are blanked in both."""
    want = bytearray(bytes.fromhex(art["deployedBytecode"][2:]))
    got = bytearray(code)
    if len(got) != len(want):
        return False
    for refs in art.get("immutableReferences", {}).values():
        for r in refs:
            got[r["start"]:r["start"] + r["length"]] = bytes(r["length"])
            want[r["start"]:r["start"] + r["length"]] = bytes(r["length"])
    return got == want

