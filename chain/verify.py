"""Verifying a batch file against its proof bundle, offline and on chain.

Checks run in this order; once one fails, the later ones are skipped, and the on-chain ones are
skipped when no node connection is given (offline verification):

``format``     the bundle matches ``chain/proof-bundle.schema.json``
``leaf``       SHA-256 of the file and SHA-256(0x00 || file) equal the bundle's; the file is batch ``seq``
``inclusion``  the inclusion proof leads from the leaf at index ``seq`` to ``tree.root`` (RFC 9162)
``chain_id``   the node's chain id equals ``anchor.chain_id``
``anchor``     ``anchorOf(tree.root)`` in ``anchor.contract`` records ``tree.size``
``gateway``    the anchoring address is the bundle's gateway and is a registered gateway now
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
from web3 import Web3

from . import merkle
from .bundle import load_schema
from .deploy import registry
from .node import NODE_DOWN_ERRORS, rpc_url_of

CHECKS = ("format", "leaf", "inclusion", "chain_id", "anchor", "gateway")
OFFLINE_CHECKS = CHECKS[:3]
PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass
class Check:
    """Outcome of one check: ``status`` is ``"pass"``, ``"fail"`` or ``"skip"``."""

    name: str
    status: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == PASS


@dataclass
class VerifyReport:
    """Ordered checks of one batch/bundle pair."""

    seq: int | None
    file: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check passed (nothing failed, nothing skipped)."""
        return all(c.ok for c in self.checks) and len(self.checks) == len(CHECKS)

    @property
    def offline_ok(self) -> bool:
        """The offline checks passed (the chain was not consulted, or also passed)."""
        return all(c.status != FAIL for c in self.checks) and all(
            c.ok for c in self.checks if c.name in OFFLINE_CHECKS)

    @property
    def failed(self) -> str | None:
        """Name of the first failed check, or None."""
        return next((c.name for c in self.checks if c.status == FAIL), None)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def render(self) -> str:
        """Text rendering: one ``PASS``/``FAIL``/``SKIP`` line per check and a verdict."""
        head = f"batch {self.seq}" if self.seq is not None else "batch ?"
        lines = [f"{head} ({self.file or 'unnamed file'})"]
        lines += [f"  {c.status.upper():4}  {c.name:<9}  {c.detail}" for c in self.checks]
        if self.ok:
            verdict = f"VERIFIED: batch {self.seq} is in an anchored ledger root"
        elif self.failed:
            verdict = f"NOT VERIFIED: batch {self.seq if self.seq is not None else '?'} fails '{self.failed}'"
        else:
            verdict = f"OFFLINE CHECKS PASSED for batch {self.seq}; on-chain checks not run"
        return "\n".join(lines + [verdict])


def _hex(s: str) -> bytes:
    return bytes.fromhex(s[2:] if s.startswith("0x") else s)


def verify_bundle(batch_bytes: bytes, bundle: dict, w3: Web3 | None = None) -> VerifyReport:
    """Verify a batch's bytes against its proof bundle (see the module docstring for the checks).

    Parameters
    ----------
    batch_bytes : bytes
        Content of the batch file, as received.
    bundle : dict
        Parsed proof bundle.
    w3 : Web3, optional
        Node connection for the on-chain checks; offline verification without it.
    """
    batch = bundle.get("batch") if isinstance(bundle, dict) else None
    seq = batch.get("seq") if isinstance(batch, dict) and isinstance(batch.get("seq"), int) else None
    report = VerifyReport(seq, batch.get("file") if isinstance(batch, dict) else None)
    steps = [("format", _format), ("leaf", _leaf), ("inclusion", _inclusion),
             ("chain_id", _chain_id), ("anchor", _anchor), ("gateway", _gateway)]
    ctx: dict = {"w3": w3}
    failed = None
    for name, fn in steps:
        if failed is not None:
            report.checks.append(Check(name, SKIP, f"not run: '{failed}' failed"))
            continue
        if name not in OFFLINE_CHECKS and w3 is None:
            report.checks.append(Check(name, SKIP, "offline: no node given"))
            continue
        try:
            ok, detail = fn(batch_bytes, bundle, ctx)
        except NODE_DOWN_ERRORS as exc:
            ok, detail = False, f"node {rpc_url_of(w3)} unreachable: {type(exc).__name__}: {exc}"
        report.checks.append(Check(name, PASS if ok else FAIL, detail))
        if not ok:
            failed = name
    return report


def _format(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    errors = sorted(jsonschema.Draft202012Validator(load_schema()).iter_errors(bundle), key=lambda e: e.path)
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        return False, f"bundle is not tanjian.proof/1 at {where}: {e.message}"
    return True, "bundle matches tanjian.proof/1"


def _leaf(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    b = bundle["batch"]
    seq = b["seq"]
    sha = hashlib.sha256(data).hexdigest()
    leaf = merkle.leaf_hash(data)
    if sha != b["sha256"] or leaf != _hex(b["leaf_hash"]):
        return False, (f"batch {seq}: file content differs from the one proven (sha256 {sha}, bundle "
                       f"{b['sha256']}; leaf {Web3.to_hex(leaf)}, bundle {b['leaf_hash']})")
    try:
        inner = json.loads(data).get("seq")
    except (ValueError, AttributeError):
        inner = None
    if inner != seq:
        return False, f"batch {seq}: the file says it is batch {inner}"
    ctx["leaf"] = leaf
    return True, f"batch {seq}: leaf {Web3.to_hex(leaf)} = SHA-256(0x00 || file)"


def _inclusion(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    t, seq = bundle["tree"], bundle["batch"]["seq"]
    proof = [_hex(p) for p in t["inclusion_proof"]]
    if merkle.verify_inclusion_hash(ctx["leaf"], seq, t["size"], proof, _hex(t["root"])):
        return True, f"leaf {seq} of {t['size']} -> root {t['root']} ({len(proof)} hashes)"
    return False, f"inclusion proof of leaf {seq} in a tree of {t['size']} does not lead to root {t['root']}"


def _chain_id(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    got, want = ctx["w3"].eth.chain_id, bundle["anchor"]["chain_id"]
    if got != want:
        return False, f"node {rpc_url_of(ctx['w3'])} is chain {got}, the anchor is on chain {want}"
    return True, f"chain {got} ({rpc_url_of(ctx['w3'])})"


def _anchor(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    w3, a, t = ctx["w3"], bundle["anchor"], bundle["tree"]
    contract = Web3.to_checksum_address(a["contract"])
    if len(w3.eth.get_code(contract)) == 0:
        return False, f"no contract at {contract} on chain {a['chain_id']}"
    size, start, end, gateway, ts, block = registry(w3, contract).functions.anchorOf(_hex(t["root"])).call()
    if size == 0:
        return False, f"root {t['root']} was never anchored in {contract}"
    if size != t["size"]:
        return False, f"root {t['root']} is anchored with tree size {size}, bundle says {t['size']}"
    ctx["gateway"] = gateway
    return True, f"root anchored in {contract} block {block} at unix time {ts} (period {start}..{end})"


def _gateway(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    w3, a = ctx["w3"], bundle["anchor"]
    gateway = ctx["gateway"]
    if gateway.lower() != a["gateway"].lower():
        return False, f"root was anchored by {gateway}, bundle names {a['gateway']}"
    if not registry(w3, a["contract"]).functions.isGateway(gateway).call():
        return False, f"{gateway} anchored the root but is not a registered gateway now"
    return True, f"{gateway} is a registered gateway"


def verify_files(batch_file: str | os.PathLike, bundle_file: str | os.PathLike,
                 w3: Web3 | None = None) -> VerifyReport:
    """:func:`verify_bundle` on files (the CLI's entry point); an unreadable bundle fails ``format``."""
    data = Path(batch_file).read_bytes()
    try:
        bundle = json.loads(Path(bundle_file).read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        report = VerifyReport(None, Path(batch_file).name)
        report.checks.append(Check("format", FAIL, f"{bundle_file} is not JSON: {exc}"))
        report.checks += [Check(n, SKIP, "not run: 'format' failed") for n in CHECKS[1:]]
        return report
    report = verify_bundle(data, bundle, w3)
    report.file = Path(batch_file).name
    return report
