"""Verifying a batch file against its proof bundle, offline and on chain.

Checks run in this order; once one fails, the later ones are skipped, and the on-chain ones are
skipped when no node connection is given (offline verification):

``format``       the bundle matches ``chain/proof-bundle.schema.json`` (``tanjian.proof/2``)
``leaf``         SHA-256 of the file and SHA-256(0x00 || file) equal the bundle's; the file is batch ``seq``
``signature``    the EIP-191 signature of the leaf hash recovers the bundle's ``signature.signer``
``inclusion``    the inclusion proof leads from the leaf at index ``seq`` to ``tree.root`` (RFC 9162)
``consistency``  each consistency proof links ``(tree.size, tree.root)`` to a later ``(size, root)``
``chain_id``     the node's chain id equals ``anchor.chain_id``
``anchor``       ``anchor.contract`` runs the AnchorRegistry code of this repository (immutables
                 aside) and, if the verifier names the contract it trusts, is that one;
                 ``anchorOf(tree.root)`` records ``tree.size``, the plant, the block and the gateway;
                 every later root of the bundle is anchored there for the same plant with its size,
                 and no anchor of the plant between ``tree.size`` and the newest of them is missing
``gateway``      the anchoring address is the bundle's gateway, and the batch's signer was an active
                 (registered, not yet revoked) gateway of the same plant in the DeviceRegistry the
                 AnchorRegistry consults, in the anchoring block

Nothing in the bundle is taken on trust: every hash is recomputed, and what the chain says is read
from the chain. What a verifier must know out of band is only which chain and (ideally) which
AnchorRegistry address the consortium publishes (``expected_contract``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
from web3 import Web3

from workspace.batch import batch_header

from . import merkle
from .bundle import FORMAT, load_schema
from .artefacts import code_matches, load_artefact
from .deploy import registry
from .node import NODE_DOWN_ERRORS, rpc_url_of
from .registry import ANCHOR_REGISTRY, DEVICE_REGISTRY, KeyKind, device_registry_of, text_of
from .signatures import recover_signer

CHECKS = ("format", "leaf", "signature", "inclusion", "consistency", "chain_id", "anchor", "gateway")
OFFLINE_CHECKS = (*CHECKS[:5], "document")  # "document" runs only when a report file is given
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
        return all(c.ok for c in self.checks) and {c.name for c in self.checks} >= set(CHECKS)

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


def verify_bundle(batch_bytes: bytes, bundle: dict, w3: Web3 | None = None, *,
                  expected_contract: str | None = None, document: bytes | None = None) -> VerifyReport:
    """Verify a batch's bytes against its proof bundle (see the module docstring for the checks).

    Parameters
    ----------
    batch_bytes : bytes
        Content of the batch file, as received.
    bundle : dict
        Parsed proof bundle.
    w3 : Web3, optional
        Node connection for the on-chain checks; offline verification without it.
    expected_contract : str, optional
        The AnchorRegistry address the verifier trusts (published by the consortium); the
        ``anchor`` check fails when the bundle names another.
    document : bytes, optional
        A report (or any file) whose SHA-256 the batch records (a ``document`` batch): adds the
        ``document`` check after ``leaf``.
    """
    batch = bundle.get("batch") if isinstance(bundle, dict) else None
    seq = batch.get("seq") if isinstance(batch, dict) and isinstance(batch.get("seq"), int) else None
    report = VerifyReport(seq, batch.get("file") if isinstance(batch, dict) else None)
    steps = [("format", _format), ("leaf", _leaf), ("signature", _signature), ("inclusion", _inclusion),
             ("consistency", _consistency), ("chain_id", _chain_id), ("anchor", _anchor),
             ("gateway", _gateway)]
    if document is not None:
        steps.insert(2, ("document", _document))
    ctx: dict = {"w3": w3, "expected_contract": expected_contract, "document": document}
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
        return False, f"bundle is not {FORMAT} at {where}: {e.message}"
    return True, f"bundle matches {FORMAT}"


def _leaf(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    b = bundle["batch"]
    seq = b["seq"]
    sha = hashlib.sha256(data).hexdigest()
    leaf = merkle.leaf_hash(data)
    if sha != b["sha256"] or leaf != _hex(b["leaf_hash"]):
        return False, (f"batch {seq}: file content differs from the one proven (sha256 {sha}, bundle "
                       f"{b['sha256']}; leaf {Web3.to_hex(leaf)}, bundle {b['leaf_hash']})")
    try:
        inner = batch_header(data).get("seq")  # tanjian.batch/1 (JSON) or /2 (columnar binary)
    except (ValueError, AttributeError):
        inner = None
    if inner != seq:
        return False, f"batch {seq}: the file says it is batch {inner}"
    ctx["leaf"] = leaf
    return True, f"batch {seq}: leaf {Web3.to_hex(leaf)} = SHA-256(0x00 || file)"


def _document(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    """The batch is a ``document`` batch recording exactly this file's SHA-256 (or a ``manual_reading``
    batch whose photo it is)."""
    import hashlib

    try:
        note = batch_header(data).get("note") or {}
    except ValueError:
        note = {}
    digest = hashlib.sha256(ctx["document"]).hexdigest()
    if note.get("kind") == "manual_reading":  # a hand reading's photo (workspace.business.manual)
        if digest != note.get("photo_sha256"):
            return False, (f"the file's sha256 {digest} differs from the photo {note.get('photo_sha256')} that "
                           f"batch {bundle['batch']['seq']} records for the hand reading of {note.get('meter')}")
        return True, (f"photo (sha256 {digest}) of the hand reading of {note.get('meter')} recorded in batch "
                      f"{bundle['batch']['seq']}, read by {note.get('author')}")
    if note.get("kind") != "document":
        return False, f"batch {bundle['batch']['seq']} records no document (it is not a document batch)"
    if digest != note.get("sha256"):
        return False, (f"the file's sha256 {digest} differs from the {note.get('sha256')} that batch "
                       f"{bundle['batch']['seq']} records for {note.get('name')!r}")
    return True, (f"{note.get('name')!r} (sha256 {digest}) recorded in batch {bundle['batch']['seq']}, issued by "
                  f"{note.get('author')}: {note.get('reason')}")


def _signature(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    sig = bundle["signature"]
    signer = recover_signer(ctx["leaf"], _hex(sig["value"]))
    if signer is None:
        return False, "the signature of the leaf hash is malformed"
    if signer.lower() != sig["signer"].lower():
        return False, f"the leaf hash was signed by {signer}, the bundle names {sig['signer']}"
    ctx["signer"] = signer
    return True, f"leaf hash signed by {signer} ({sig['scheme']})"


def _inclusion(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    t, seq = bundle["tree"], bundle["batch"]["seq"]
    proof = [_hex(p) for p in t["inclusion_proof"]]
    if merkle.verify_inclusion_hash(ctx["leaf"], seq, t["size"], proof, _hex(t["root"])):
        return True, f"leaf {seq} of {t['size']} -> root {t['root']} ({len(proof)} hashes)"
    return False, f"inclusion proof of leaf {seq} in a tree of {t['size']} does not lead to root {t['root']}"


def _consistency(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    t = bundle["tree"]
    size, root = t["size"], _hex(t["root"])
    prev = size
    for e in bundle["consistency"]:
        if e["size"] <= prev:
            return False, f"later roots must have increasing sizes above {size}: {e['size']} after {prev}"
        proof = [_hex(p) for p in e["proof"]]
        if not merkle.verify_consistency(size, e["size"], root, _hex(e["root"]), proof):
            return False, (f"consistency proof from tree {size} ({t['root']}) to tree {e['size']} "
                           f"({e['root']}) does not verify")
        prev = e["size"]
    n = len(bundle["consistency"])
    if n == 0:
        return True, "no later root was anchored when the bundle was exported"
    return True, f"tree {size} is a prefix of {n} later root(s), up to tree {prev}"


def _chain_id(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    got, want = ctx["w3"].eth.chain_id, bundle["anchor"]["chain_id"]
    if got != want:
        return False, f"node {rpc_url_of(ctx['w3'])} is chain {got}, the anchor is on chain {want}"
    return True, f"chain {got} ({rpc_url_of(ctx['w3'])})"


def _anchor(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    w3, a, t = ctx["w3"], bundle["anchor"], bundle["tree"]
    contract = Web3.to_checksum_address(a["contract"])
    expected = ctx.get("expected_contract")
    if expected is not None and contract != Web3.to_checksum_address(expected):
        return False, f"the bundle names contract {contract}, the verifier trusts {expected}"
    code = w3.eth.get_code(contract)
    if len(code) == 0:
        return False, f"no contract at {contract} on chain {a['chain_id']}"
    if not code_matches(load_artefact(ANCHOR_REGISTRY), code):
        return False, f"the code at {contract} is not tanjian's AnchorRegistry"
    reg = registry(w3, contract)
    size, start, end, gateway, ts, block, plant, responsible = reg.functions.anchorOf(_hex(t["root"])).call()
    if size == 0:
        return False, f"root {t['root']} was never anchored in {contract}"
    if size != t["size"]:
        return False, f"root {t['root']} is anchored with tree size {size}, bundle says {t['size']}"
    if text_of(plant) != a["plant"]:
        return False, f"root {t['root']} is anchored for plant {text_of(plant)!r}, bundle says {a['plant']!r}"
    if block != a["block_number"]:
        return False, f"root {t['root']} is anchored in block {block}, bundle says {a['block_number']}"
    later = bundle["consistency"]
    for e in later:
        got = reg.functions.anchorOf(_hex(e["root"])).call()
        if got[0] != e["size"] or got[6] != plant:
            return False, (f"later root {e['root']} of tree {e['size']} is not anchored in {contract} "
                           f"for plant {a['plant']!r}")
    if later:
        known = {e["root"].lower() for e in later}
        top = later[-1]["size"]
        events = reg.events.Anchored.get_logs(from_block=block, argument_filters={"plant": plant})
        for ev in events:
            r = Web3.to_hex(ev["args"]["root"]).lower()
            if size < ev["args"]["treeSize"] <= top and r not in known:
                return False, (f"root {r} of tree {ev['args']['treeSize']} was anchored for plant "
                               f"{a['plant']!r} but the bundle gives no consistency proof for it")
    ctx.update(gateway=gateway, block=block, plant=plant, registry=reg, responsible=responsible)
    more = f"; {len(later)} later root(s) anchored" if later else ""
    return True, (f"root anchored in {contract} block {block} at unix time {ts} for plant {a['plant']!r} "
                  f"(period {start}..{end}){more}")


def _gateway(data: bytes, bundle: dict, ctx: dict) -> tuple[bool, str]:
    w3, a = ctx["w3"], bundle["anchor"]
    gateway, block, plant = ctx["gateway"], ctx["block"], ctx["plant"]
    if gateway.lower() != a["gateway"].lower():
        return False, f"root was anchored by {gateway}, bundle names {a['gateway']}"
    devices = device_registry_of(w3, ctx["registry"])
    if not code_matches(load_artefact(DEVICE_REGISTRY), w3.eth.get_code(devices.address)):
        return False, f"the AnchorRegistry consults {devices.address}, which is not tanjian's DeviceRegistry"
    signer = ctx["signer"]
    kind, key_plant, owner, registered, revoked = devices.functions.keyOf(signer).call()
    if kind != KeyKind.GATEWAY:
        return False, f"batch signer {signer} is not a registered gateway in {devices.address}"
    if key_plant != plant:
        return False, (f"batch signer {signer} is a gateway of plant {text_of(key_plant)!r}, the root is "
                       f"anchored for {a['plant']!r}")
    if not devices.functions.activeAt(signer, KeyKind.GATEWAY, block).call():
        when = f"revoked in block {revoked}" if revoked else f"registered in block {registered}"
        return False, f"batch signer {signer} was not an active gateway in block {block} ({when})"
    note = f"; revoked since block {revoked}" if revoked else ""
    return True, (f"batch signed by {signer}, a gateway of plant {a['plant']!r} (responsible {owner}) "
                  f"active in block {block}{note}")


def verify_files(batch_file: str | os.PathLike, bundle_file: str | os.PathLike,
                 w3: Web3 | None = None, *, expected_contract: str | None = None,
                 document_file: str | os.PathLike | None = None) -> VerifyReport:
    """:func:`verify_bundle` on files (the CLI's entry point); an unreadable bundle fails ``format``."""
    data = Path(batch_file).read_bytes()
    try:
        bundle = json.loads(Path(bundle_file).read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        report = VerifyReport(None, Path(batch_file).name)
        report.checks.append(Check("format", FAIL, f"{bundle_file} is not JSON: {exc}"))
        report.checks += [Check(n, SKIP, "not run: 'format' failed") for n in CHECKS[1:]]
        return report
    document = Path(document_file).read_bytes() if document_file is not None else None
    report = verify_bundle(data, bundle, w3, expected_contract=expected_contract, document=document)
    report.file = Path(batch_file).name
    return report
