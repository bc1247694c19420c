"""What the pages show, read through the query API and the model functions (no Panel here).

A page calls these on every refresh and only formats the result: every number on a page comes
from :mod:`models.kpi`, :class:`workspace.store.Store` or :mod:`chain`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass

import pandas as pd

from chain import merkle
from chain.anchor import anchors
from chain.deploy import read_deployment
from chain.node import TESTER, connect, is_up
from chain.verify import CHECKS, FAIL, SKIP, Check, VerifyReport, verify_bundle
from models.kpi import plant_kpis, workshop_breakdown
from workspace.errors import ChainError, TanjianError
from workspace.store import Store

from .kept import Kept

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlantView:
    """One consistent reading of the store (every query at the same snapshot).

    Attributes
    ----------
    snapshot : str
        Icechunk snapshot id all values were read at.
    as_of : datetime or None
        Local time of the newest reading in that snapshot (None for an empty store).
    kpis : pandas.DataFrame
        :func:`models.kpi.plant_kpis` [kWh, m3, kgCO2e].
    today : (Timestamp, Timestamp)
        Local [start, end) of "today" as the KPIs define it.
    breakdown : pandas.DataFrame
        :func:`models.kpi.workshop_breakdown` over ``today`` [kWh, m3, kgCO2e].
    load_today, load_yesterday : pandas.Series
        Plant electric load [kW], mean per ``load_freq``, indexed by local naive time; yesterday's
        index is yesterday's own times.
    load_freq : str
        pandas frequency of the load curve.
    """

    snapshot: str
    as_of: dt.datetime | None
    kpis: pd.DataFrame
    today: tuple[pd.Timestamp, pd.Timestamp]
    breakdown: pd.DataFrame
    load_today: pd.Series
    load_yesterday: pd.Series
    load_units: str
    load_freq: str
    methodology: dict | None = None


#: how long one answer of :func:`methodology_status` serves every session [s]: reading the package (YAML) costs
#: 0.1-0.5 s a call, and the big screen asks the chain once a minute anyway (``bigscreen.GUARD_EVERY_S``)
METHODOLOGY_TTL_S = 60.0
_METH: dict[tuple, tuple[float, dict]] = {}
_METH_LOCK = threading.Lock()


def methodology_status(cfg, *, fresh: bool = False) -> dict:
    """The active methodology package and whether it was checked on chain, for a page (never raises: a package
    that cannot be used is shown as such). One answer serves every session of the workspace for
    :data:`METHODOLOGY_TTL_S` (``fresh=True`` asks again now).

    Returns
    -------
    dict
        ``id``, ``version``, ``sha256``, ``status`` (checked / offline / mismatch), ``label``
        (``checked ✓`` / ``offline, not checked`` / ``mismatch ✗``), ``reason``, ``package`` (the loaded
        :class:`models.packages.Methodology`, None when it could not be loaded).
    """
    key = (str(cfg.paths.data_dir), cfg.chain.methodology_id, str(cfg.chain.methodology_package), cfg.chain.rpc_url)
    now = time.monotonic()
    with _METH_LOCK:
        hit = _METH.get(key)
    if hit is not None and not fresh and now - hit[0] < METHODOLOGY_TTL_S:
        return hit[1]
    out = _methodology_status(cfg)
    with _METH_LOCK:
        _METH[key] = (now, out)
    return out


def _methodology_status(cfg) -> dict:
    from models.guarded import active_methodology

    try:
        meth, g = active_methodology(cfg, strict=False)
    except TanjianError as exc:
        return {"id": cfg.chain.methodology_id or "?", "version": "?", "sha256": "", "status": "mismatch",
                "label": "mismatch ✗", "reason": str(exc), "package": None}
    return {"id": meth.id, "version": meth.version, "sha256": meth.sha256, "status": g.status, "label": g.label,
            "reason": g.reason, "package": meth}


#: PlantViews already read, shared by every session of the server: (store location, snapshot, load interval,
#: methodology hash and status) -> PlantView. A snapshot never changes, so a view of it is never stale; the big
#: screen's sessions (and its refreshes while the collector has not committed) read the store once between them.
_VIEWS = Kept(size=8)


def forget() -> None:
    """Drop every PlantView kept by :func:`read_plant` and the answers of :func:`methodology_status` (the next
    call reads again)."""
    _VIEWS.forget()
    with _METH_LOCK:
        _METH.clear()


def read_plant(store: Store, snapshot: str | None = None, *, load_freq: str = "5min",
               methodology: dict | None = None) -> PlantView:
    """Read the big screen's numbers at ``snapshot`` (default: the branch tip now), once per snapshot for the
    whole process: a later call with the same store, snapshot, interval and methodology returns the same
    (immutable) view, whichever session asks (:func:`forget` drops them).

    Parameters
    ----------
    store : Store
    snapshot : str, optional
        Icechunk snapshot id; every query is pinned to it so the page is self-consistent.
    load_freq : str
        Interval of the load curve ("1min", "5min", ...).
    methodology : dict, optional
        :func:`methodology_status`: the KPIs compute with its package, and the page names it.
    """
    snap = snapshot or store.tip()
    m = methodology or {}
    key = (str(store.path), str(snap), load_freq, m.get("sha256"), m.get("status"))
    return _VIEWS.get(key, lambda: _read_plant(store, snap, load_freq, methodology))


def _read_plant(store: Store, snap: str, load_freq: str, methodology: dict | None) -> PlantView:
    meth = (methodology or {}).get("package")
    kpis = plant_kpis(store, as_of=snap, methodology=meth)  # "now" = the newest reading of this snapshot
    p = kpis.attrs["periods"]
    today = (pd.Timestamp(p["today"][0]), pd.Timestamp(p["today"][1]))
    yday = (pd.Timestamp(p["yesterday"][0]), pd.Timestamp(p["yesterday"][1]))
    naive = [t.tz_localize(None) for t in (*today, *yday)]
    breakdown = workshop_breakdown(store, naive[0], naive[1], as_of=snap, methodology=meth)
    lt = store.power(naive[0], naive[1], by="plant", freq=load_freq, as_of=snap)
    ly = store.power(naive[2], naive[3], by="plant", freq=load_freq, as_of=snap)
    return PlantView(snapshot=snap, as_of=store.latest_time(snap), kpis=kpis, today=today,
                     breakdown=breakdown, load_today=lt.to_pandas().iloc[:, 0],
                     load_yesterday=ly.to_pandas().iloc[:, 0], load_units=lt.attrs["units"],
                     load_freq=load_freq, methodology=methodology)


def last_anchor(chain_dir: str | os.PathLike) -> dict | None:
    """The newest anchor recorded in ``<chain_dir>/anchors.jsonl`` for the current deployment.

    Anchors of an earlier deployment (another ``deployment.json`` address) are not shown; with
    no deployment recorded, the newest record of any contract. None when there is none.
    """
    dep = read_deployment(chain_dir)
    try:
        recs = anchors(chain_dir, dep["address"] if dep else None)
    except ChainError as exc:
        log.error("cannot read the anchor record: %s", exc)
        return None
    return recs[-1] if recs else None


# -- verification ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verification:
    """Outcome of verifying one uploaded batch file against its proof bundle.

    Attributes
    ----------
    report : VerifyReport
        The ordered checks of :func:`chain.verify.verify_bundle`.
    sha256, leaf_hash : str
        SHA-256 of the uploaded file and RFC 9162 leaf hash SHA-256(0x00 || file), hex.
    claimed_sha256, claimed_leaf_hash : str or None
        What the bundle says they are.
    chain_note : str
        How the chain was (or was not) consulted.
    online : bool
        Whether the on-chain checks ran.
    """

    report: VerifyReport
    sha256: str
    leaf_hash: str
    claimed_sha256: str | None
    claimed_leaf_hash: str | None
    chain_note: str
    online: bool

    @property
    def verdict(self) -> str:
        """``"pass"`` (every check, on chain too), ``"fail"`` (a check failed), or ``"offline"``
        (the offline checks passed and the chain was not consulted)."""
        if self.report.ok:
            return "pass"
        if self.report.failed:
            return "fail"
        return "offline"


def file_hashes(data: bytes) -> tuple[str, str]:
    """(SHA-256, leaf hash) of a batch file, hex, as ``sha256sum`` and
    ``(printf '\\x00'; cat FILE) | sha256sum`` print them."""
    return hashlib.sha256(data).hexdigest(), merkle.leaf_hash(data).hex()


def chain_connection(rpc_url: str, timeout: float = 3.0):
    """(w3 or None, note): a node connection if ``rpc_url`` answers now, else None and why not."""
    if rpc_url == TESTER:
        return None, ("offline checks only: the configured chain is the in-process test chain "
                      "('tester'), which cannot be reached from this server")
    try:
        w3 = connect(rpc_url, timeout=timeout)
    except ChainError as exc:
        return None, f"offline checks only: {exc}"
    if not is_up(w3):
        return None, f"offline checks only: the chain node {rpc_url} is not reachable"
    return w3, f"on-chain checks against {rpc_url} (chain {w3.eth.chain_id})"


def read_bundle(batch_bytes: bytes, bundle_bytes: bytes, name: str | None, later=CHECKS[1:]):
    """``(proof, None)`` for a proof bundle that is JSON; else ``(None, verification)`` failing ``format`` with the
    checks in ``later`` skipped (the chain not consulted)."""
    try:
        return json.loads(bundle_bytes.decode("utf-8")), None
    except (ValueError, UnicodeDecodeError) as exc:
        sha, leaf = file_hashes(batch_bytes)
        report = VerifyReport(None, name)
        report.checks.append(Check("format", FAIL, f"the proof bundle is not JSON: {exc}"))
        report.checks += [Check(n, SKIP, "not run: 'format' failed") for n in later]
        return None, Verification(report, sha, leaf, None, None, "the chain was not consulted", False)


def verified(report: VerifyReport, batch_bytes: bytes, bundle, note: str, online: bool) -> Verification:
    """The :class:`Verification` of ``report``, with the hashes the bundle claims beside the file's own."""
    sha, leaf = file_hashes(batch_bytes)
    b = bundle.get("batch") if isinstance(bundle, dict) else None
    claimed = (b.get("sha256"), b.get("leaf_hash")) if isinstance(b, dict) else (None, None)
    return Verification(report, sha, leaf, claimed[0], claimed[1], note, online)


def verify_upload(batch_bytes: bytes, bundle_bytes: bytes, rpc_url: str, *,
                  batch_name: str | None = None) -> Verification:
    """Verify an uploaded batch file against an uploaded proof bundle.

    The chain is consulted when ``rpc_url`` answers; otherwise the offline checks run and the
    on-chain ones are skipped with the reason. A bundle that is not JSON fails ``format``.
    """
    bundle, refused = read_bundle(batch_bytes, bundle_bytes, batch_name)
    if refused is not None:
        return refused
    w3, note = chain_connection(rpc_url)
    report = verify_bundle(batch_bytes, bundle, w3)  # a node dying mid-way fails that check
    report.file = batch_name or report.file
    if w3 is None:
        log.info("verified batch %s offline (%s)", report.seq, note)
    return verified(report, batch_bytes, bundle, note, w3 is not None)
