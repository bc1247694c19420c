"""The reports page's hash-check widget: is this report the one whose hash the plant put into its ledger and
anchored? Each check shown pass/fail/skip with the failing one named.

Two ways in: drop a report file with the ``document`` batch that records its hash and that batch's proof bundle
(what ``tanjian ledger export`` writes), or pick an issued report (the page finds the batch recording the file's
SHA-256 in the journal and exports its proof, :func:`chain.bundle.export_batch`). The proof checks are
:func:`chain.verify.verify_bundle`'s with the report as the document (``format``, ``leaf``, ``document``,
``signature``, ``inclusion``, ``consistency``, then on chain ``chain_id``, ``anchor``, ``gateway``), shown by the
verifier page's own renderer (:func:`dashboards.render.verification`, the chain reached through
:func:`dashboards.feeds.chain_connection`); then ``methodology``: the JSON report names the version of its
methodology that the chain holds active at the start of its period, with the same package hash
(:func:`chain.methodology.guard`; skipped offline or for a layout without the JSON beside it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path

from chain.verify import FAIL, PASS, SKIP, Check

from workspace.errors import TanjianError

from .actor import ActionRefused

log = logging.getLogger(__name__)


def document_batch(cfg, sha256: str) -> int | None:
    """The journal's ``document`` batch recording ``sha256`` (the newest), or None."""
    from workspace.batch import batch_header
    from workspace.journal import Journal

    if not Path(cfg.paths.journal).exists():
        return None
    with Journal(cfg.paths.journal) as j:
        for seq in range(len(j) - 1, -1, -1):  # newest first: a report is journaled after the readings it counts
            payload = j.read(seq)
            if len(payload) > 16384 and sha256.encode() not in payload:
                continue  # a document batch holds no readings (a few hundred bytes): a large one is not decoded
            try:
                note = batch_header(payload).get("note") or {}
            except ValueError:
                continue
            if note.get("kind") == "document" and note.get("sha256") == sha256:
                return seq
    return None


def export_proof(cfg, seq: int, out_dir: Path) -> tuple[bytes, bytes]:
    """(batch bytes, bundle bytes) of batch ``seq``; :class:`ActionRefused` while no anchor covers it."""
    from chain.bundle import export_batch
    from chain.ledger import Ledger
    from workspace.errors import TanjianError

    try:
        with Ledger(cfg.paths.journal, cfg.paths.chain) as ledger:
            batch_path, bundle_path = export_batch(cfg.paths.journal, ledger, cfg.paths.chain, seq, out_dir)
    except TanjianError as exc:
        raise ActionRefused(f"batch {seq} has no proof yet: {exc}") from None
    return batch_path.read_bytes(), bundle_path.read_bytes()


def report_methodology(report: bytes, name: str, sibling: Path | None = None) -> dict | None:
    """The ``inventory.methodology`` of a JSON report (``report`` itself, or the JSON ``sibling`` of an XLSX or
    PDF of the same issue); None when there is none to read."""
    for data in ([report] if name.endswith(".json") else []) + ([sibling.read_bytes()] if sibling else []):
        try:
            m = json.loads(data.decode("utf-8")).get("inventory", {}).get("methodology")
        except (ValueError, UnicodeDecodeError, AttributeError):
            continue
        if isinstance(m, dict) and m.get("id"):
            return {**m, "period_start": json.loads(data.decode("utf-8"))["inventory"].get("period", {}).get("start")}
    return None


def methodology_check(cfg, m: dict | None, online: bool) -> Check:
    """``methodology``: the report's package is the version active on chain at its period's start."""
    import datetime as dt

    from chain.methodology import guard
    from models.packages import IDS, PACKAGES_DIR

    if m is None:
        return Check("methodology", SKIP, "no JSON report to read the methodology from (upload or pick the JSON)")
    if not online:
        return Check("methodology", SKIP, f"offline: {m['id']} {m.get('version')} (sha256 "
                                          f"{str(m.get('sha256'))[:12]}…) not compared with the chain")
    when = dt.date.fromisoformat(m["period_start"]) if m.get("period_start") else None
    try:
        g = guard(cfg, PACKAGES_DIR / m["id"] if m["id"] in IDS else None, methodology_id=m["id"], strict=False,
                  when=when)
    except TanjianError as exc:
        return Check("methodology", FAIL, str(exc))
    on = g.onchain
    if on is None:
        return Check("methodology", SKIP if g.status == "offline" else FAIL, g.reason)
    if str(m.get("sha256", "")).lower().removeprefix("0x") != on.package_sha256 or m.get("version") != on.version:
        return Check("methodology", FAIL, f"report computed with {m['id']} {m.get('version')} (sha256 "
                                          f"{m.get('sha256')}); the chain holds {on.version} (sha256 "
                                          f"{on.package_sha256}) active at {when}")
    return Check("methodology", PASS, f"{m['id']} {on.version} (sha256 {on.package_sha256[:12]}…) active on chain "
                                      f"at {when}")


def check_report(cfg, report: bytes, report_name: str, batch: bytes, bundle: bytes, *,
                 sibling_json: Path | None = None, w3=None):
    """Every check of a report against its document batch and proof: a :class:`dashboards.feeds.Verification`
    (its ``report.checks`` end with ``methodology``). ``w3``: a node connection to use instead of
    ``chain.rpc_url`` (an in-process chain)."""
    from chain.verify import CHECKS, verify_bundle

    from .feeds import chain_connection, read_bundle, verified

    proof, refused = read_bundle(batch, bundle, report_name, (*CHECKS[1:2], "document", *CHECKS[2:], "methodology"))
    if refused is not None:
        return refused
    if w3 is None:
        w3, note = chain_connection(cfg.chain.rpc_url)
    else:
        note = f"on-chain checks against the given node (chain {w3.eth.chain_id})"
    rep = verify_bundle(batch, proof, w3, document=report)
    rep.file = report_name
    if rep.failed:
        rep.checks.append(Check("methodology", SKIP, f"not run: '{rep.failed}' failed"))
    else:
        rep.checks.append(methodology_check(cfg, report_methodology(report, report_name, sibling_json), w3 is not None))
    return verified(rep, batch, proof, note, w3 is not None)


def check_issued(cfg, path: Path, issued_sha256: str | None = None, *, w3=None):
    """:func:`check_report` of an issued report file as it is on disk now: the document batch recording
    ``issued_sha256`` (the hash its ``SHA256SUMS`` recorded at issue; default the file's own) found, its proof
    exported. A file changed since it was issued fails ``document``."""
    if not path.exists():
        raise ActionRefused(f"{path.name}: the file is missing")
    data = path.read_bytes()
    sha = issued_sha256 or hashlib.sha256(data).hexdigest()
    seq = document_batch(cfg, sha)
    if seq is None:
        raise ActionRefused(f"{path.name}: no ledger batch records sha256 {sha[:16]}… yet (the collector journals "
                            f"queued report hashes at its next cycle)")
    sibling = None
    if path.suffix != ".json":
        cand = path.with_suffix(".json")
        sibling = cand if cand.exists() else None
    with tempfile.TemporaryDirectory() as d:
        batch, bundle = export_proof(cfg, seq, Path(d))
    return check_report(cfg, data, path.name, batch, bundle, sibling_json=sibling, w3=w3)


__all__ = ["check_issued", "check_report", "document_batch", "export_proof", "methodology_check"]
