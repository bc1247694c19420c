"""The compiled contracts as committed: which sources under which pinned settings, and reading the artefacts.

``chain/contracts/build/<Name>.json`` holds, for every contract of :data:`CONTRACTS`, ``abi``, ``bytecode``,
``deployedBytecode`` (hex with ``0x``), ``immutableReferences`` (byte ranges of the deployed code that the
constructor fills in, so that deployed code can be compared with the artefact: :func:`code_matches`), the
compiler version, the settings and the SHA-256 of every source. The artefacts are committed and read at run
time (:func:`load_artefact`: deploy, registries, verify); they are written by ``tanjian chain compile``
(``tanjian.solc``, which runs solcjs on :func:`standard_input`), and the tests recompile them and compare
byte for byte, so a source edit without a rebuild is caught.

The EVM version is ``prague``: the newest fork both py-evm 0.12 (eth-tester, unit tests) and
anvil 1.7 (integration tests, demo) execute.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from workspace.errors import ChainError

log = logging.getLogger(__name__)

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
BUILD_DIR = CONTRACTS_DIR / "build"
SOLC_VERSION = "0.8.30"
EVM_VERSION = "prague"
OPTIMIZER_RUNS = 200
CONTRACTS = ("DeviceRegistry", "AnchorRegistry", "MethodologyRegistry", "QuotaRegistry", "ReportRequests")


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


def artefact_bytes(artefact: dict) -> bytes:
    """Serialised artefact as written to disk (stable key order, 2-space indent, final newline)."""
    return (json.dumps(artefact, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


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

