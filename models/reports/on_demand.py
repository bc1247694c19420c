"""Reports on demand: the enterprise's workspace answers the regulator's requests seen on chain.

The regulator requests a report on chain (:mod:`chain.requests`). The enterprise's workspace sees the
``Requested`` events (:class:`RequestWatcher`, polled by the anchoring loop like the methodology sync, and
``tanjian park answer``) and, for each open request of its plant, :func:`answer`:

1. checks the request: it is for this plant, its period has ended, the person answering holds a role with
   the ``report`` permission (when the workspace has accounts), the methodology is the one this workspace
   follows (``chain.methodology_id``) and its local package is the version the association holds active on
   chain at the start of the period (:func:`chain.methodology.require_matching`). A refusal is one line
   (:class:`RequestRefused`), recorded, and the request is not answered;
2. issues the reports for the period with :func:`models.reports.issue.issue` (the path of ``tanjian report``:
   the active methodology and its chain guard), writes the figures (``tanjian.park-figures/1``: the headline
   view's scope 1, scope 2 and total, t -> kg) beside them and puts the SHA-256s of the reports and the figures
   into the ledger as ``tanjian report`` does (:func:`models.reports.issue.ledger_files`), only once the
   figures exist (a period whose headline view cannot be computed, e.g. no published factor yet, is refused
   and leaves nothing in the ledger);
3. once the figures' ``document`` batch is journaled (at once, or by the running collector) and anchored
   (the anchoring service's ``anchor_once``), exports its proof bundle, builds the package, submits it where
   ``park.yaml`` says (drop folder or S3: :func:`models.park.s3drop.submit_to`) and fulfils the request on
   chain with the figures' SHA-256 (:func:`chain.requests.fulfil`, the gateway's key).

Each step is recorded in ``<data_dir>/park/requests/<id>.json``, so a restart goes on where it stopped and a
request is issued once. A request is reported for the plant's local dates (:func:`local_dates`); its package is
filed under the month of the first date (``YYYY-MM``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from workspace.errors import ChainError, TanjianError

from .render import write_atomic

log = logging.getLogger(__name__)

STATE_DIR = ("park", "requests")
#: the permission a person needs to answer a request (the one ``tanjian report`` issues under)
PERMISSION = "report"


class RequestRefused(TanjianError):
    """A request this workspace will not answer (one line: which request, and why)."""


@dataclass
class Answer:
    """What :func:`answer` did with one request: ``state`` is ``fulfilled``, ``waiting`` or ``refused``."""

    request_id: int
    state: str
    detail: str
    package: str | None = None
    latency_s: float | None = None


def state_path(cfg, request_id: int) -> Path:
    return Path(cfg.paths.data_dir).joinpath(*STATE_DIR, f"{int(request_id)}.json")


def _read_state(cfg, request_id: int) -> dict:
    p = state_path(cfg, request_id)
    return json.loads(p.read_text("utf-8")) if p.exists() else {}


def _write_state(cfg, request_id: int, state: dict) -> None:
    write_atomic(state_path(cfg, request_id), (json.dumps(state, indent=1, ensure_ascii=False) + "\n").encode())


def local_dates(cfg, start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date]:
    """The plant's inclusive local dates of the request ``[start, end)``.

    A request made in dates (``tanjian park request --period``, :func:`chain.requests.request_report` with
    dates) arrives as instants at 00:00 UTC: those name calendar days (``start`` .. the day before ``end``).
    Other instants are read in the plant's time zone (``start`` .. ``end - 1 s``).
    """
    from zoneinfo import ZoneInfo

    def midnight(t: dt.datetime) -> bool:
        return t.utcoffset() == dt.timedelta(0) and t.time() == dt.time(0)

    if midnight(start) and midnight(end):
        return start.date(), end.date() - dt.timedelta(days=1)
    tz = ZoneInfo(cfg.site.plant.timezone)
    return start.astimezone(tz).date(), (end - dt.timedelta(seconds=1)).astimezone(tz).date()


def check_request(cfg, r, registry: Any, *, author: str, now: dt.datetime | None = None):
    """The refusals of step 1 (see the module's text); returns the on-chain methodology version to use.

    Raises
    ------
    RequestRefused
        One line naming the request and the reason.
    """
    from chain.methodology import require_matching
    from models.guarded import active_methodology

    plant = cfg.site.plant.id
    now = now or dt.datetime.now(dt.timezone.utc)
    if r.enterprise != plant:
        raise RequestRefused(f"request {r.id}: for enterprise {r.enterprise!r}, not this workspace's plant "
                             f"{plant!r} (unknown enterprise)")
    if r.period_end > now:
        raise RequestRefused(f"request {r.id}: the period {r.period_start:%Y-%m-%d %H:%M} .. "
                             f"{r.period_end:%Y-%m-%d %H:%M} UTC has not ended (period in the future)")
    from workspace.accounts import Accounts

    accounts = Accounts(cfg.paths.data_dir)
    if accounts.exists():
        acct = accounts.get(author)
        if acct is None or acct.disabled:
            raise RequestRefused(f"request {r.id}: {author!r} is no {'enabled ' if acct else ''}account of this "
                                 f"workspace (role not allowed to issue reports)")
        if PERMISSION not in acct.permissions:
            raise RequestRefused(f"request {r.id}: {author!r} has the role {acct.role!r}, which may not issue "
                                 f"reports (permission {PERMISSION!r}; role not allowed)")
    pinned = cfg.chain.methodology_id
    if pinned != r.methodology:
        raise RequestRefused(f"request {r.id}: methodology {r.methodology!r} is not the one this workspace "
                             f"accounts with and checks on chain (chain.methodology_id: {pinned!r})")
    try:
        _, g = active_methodology(cfg, r.methodology)
        return require_matching(g.package_dir, registry, r.methodology, r.period_start)
    except ChainError as exc:
        raise RequestRefused(f"request {r.id}: methodology {r.methodology!r} is not the association's active "
                             f"one for the period: {exc}") from None


def emissions_kg(inventory: dict) -> dict[str, float]:
    """Scope 1, scope 2 and total of the inventory's headline view (canonical, t CO2e) in kg CO2e."""
    view = inventory["views"][inventory["totals"]["headline"]["view"]]
    out = {}
    for key, name in (("scope1_tco2e", "scope1"), ("scope2_tco2e", "scope2"), ("total_tco2e", "total")):
        if view.get(key) is None:
            raise RequestRefused(f"no figures: the inventory's headline view "
                                 f"{inventory['totals']['headline']['view']!r} is not available: "
                                 f"{view.get('reason') or 'no ' + key}")
        out[name] = float(Decimal(str(view[key])) * 1000)
    return out


def _seq_of(cfg, sha256: str, start: int) -> tuple[int | None, int]:
    """``(seq, scanned_to)``: the ``document`` batch recording ``sha256`` among batches ``start..`` (None when
    not journaled yet), and the journal's length when scanned (the next scan starts there)."""
    from workspace.batch import decode_batch
    from workspace.journal import Journal

    with Journal(cfg.paths.journal) as journal:
        end = journal.next_seq
        for seq in range(max(start, 0), end):
            note = decode_batch(journal.read(seq)).note or {}
            if note.get("kind") == "document" and note.get("sha256") == sha256:
                return seq, end
    return None, end


def _next_seq(cfg) -> int:
    from workspace.journal import Journal

    try:
        with Journal(cfg.paths.journal) as journal:
            return journal.next_seq
    except TanjianError:
        return 0


def answer(cfg, r, *, w3, requests: Any, registry: Any, park, gateway, ledger, anchor: Callable[[], Any],
           anchor_address: str, author: str, sector: str, now: dt.datetime | None = None,
           layout: str = "cn") -> Answer:
    """Take request ``r`` (:class:`chain.requests.ReportRequest`) as far as it can go now (module's text).

    Parameters
    ----------
    cfg : workspace.config.Config
        The enterprise's workspace.
    w3, requests, registry
        Node connection, the ``ReportRequests`` contract and the ``MethodologyRegistry``.
    park : models.park.config.ParkConfig
        Where to submit (its drop folder or bucket).
    gateway, ledger, anchor, anchor_address
        The plant's gateway account, its ledger, a callable anchoring the ledger once (the anchoring
        service's ``anchor_once``) and the AnchorRegistry's address.
    author, sector : str
        Who answers (checked for the ``report`` permission when the workspace has accounts), and the
        enterprise's sector as the park files it.

    Returns
    -------
    Answer
        ``fulfilled`` (with the package's location and the latency), ``waiting`` (the figures' batch is
        not yet journaled or anchored: call again) or ``refused`` (the reason, also recorded).
    """
    from chain.anchor import anchors
    from chain.bundle import export_batch
    from chain.requests import fulfil, request_of
    from models.park.package import build_package, figures_json
    from models.park.s3drop import submit_to

    from .issue import issue, ledger_files

    st = _read_state(cfg, r.id)
    if st.get("state") == "fulfilled" or r.fulfilled_at is not None:
        return Answer(r.id, "fulfilled", "already fulfilled", st.get("package"),
                      r.latency.total_seconds() if r.latency else None)
    if "figures_sha256" not in st:
        try:
            on = check_request(cfg, r, registry, author=author, now=now)
        except RequestRefused as exc:
            _write_state(cfg, r.id, {"state": "refused", "reason": str(exc)})
            return Answer(r.id, "refused", str(exc))
        start, end = local_dates(cfg, r.period_start, r.period_end)
        out = Path(cfg.paths.data_dir) / "reports" / f"request-{r.id}"
        reason = f"report requested by the regulator on chain (request {r.id})"
        first_seq = _next_seq(cfg)
        # issued unledgered first: a request that cannot give figures leaves nothing in the ledger
        res = issue(cfg, start, end, out, author=author, reason=reason, layouts=(layout,),
                    methodology=r.methodology, ledger=False)
        inv = res["inventories"][layout]
        check = inv["methodology"]["chain_check"]
        try:
            if check.get("status") != "checked":
                raise RequestRefused(f"request {r.id}: the methodology was not checked on chain: "
                                     f"{check.get('reason')}")
            kg = emissions_kg(inv)
        except RequestRefused as exc:
            msg = str(exc) if str(exc).startswith("request ") else f"request {r.id}: {exc}"
            _write_state(cfg, r.id, {"state": "refused", "reason": msg})
            return Answer(r.id, "refused", msg)
        figures = figures_json(cfg.site.plant.id, sector, f"{start:%Y-%m}",
                               {"id": on.id, "version": on.version, "sha256": on.package_sha256}, kg)
        fig_path = out / "figures.json"
        write_atomic(fig_path, figures)
        ledger_files(cfg, [*res["files"], fig_path], author, reason)  # as `tanjian report` ledgers its files
        st = {"state": "ledgered", "figures_sha256": hashlib.sha256(figures).hexdigest(), "folder": str(out),
              "reports": [str(p) for p in res["files"]], "from_seq": first_seq,
              "period": [start.isoformat(), end.isoformat()]}
        _write_state(cfg, r.id, st)
    seq, scanned = _seq_of(cfg, st["figures_sha256"], st["from_seq"])
    if seq is None:
        _write_state(cfg, r.id, dict(st, from_seq=scanned))
        return Answer(r.id, "waiting", "the figures' batch is queued for the collector's journal")
    ledger.sync()

    def covered() -> bool:
        return any(a["tree_size"] > seq for a in anchors(cfg.paths.chain, anchor_address))

    if not covered():
        anchor()
        if not covered():
            return Answer(r.id, "waiting", f"batch {seq} (the figures) is not anchored yet")
    folder = Path(st["folder"])
    work = folder / "proof"
    batch_path, bundle_path = export_batch(cfg.paths.journal, ledger, cfg.paths.chain, seq, work,
                                           contract=anchor_address)
    figures = (folder / "figures.json").read_bytes()
    pkg = build_package(folder / "package", figures, batch_path, bundle_path, st["reports"])
    where = submit_to(park, pkg)
    fulfil(w3, requests, gateway, r.id, st["figures_sha256"])
    done = request_of(requests, r.id)
    st.update(state="fulfilled", package=where, batch=seq, latency_s=done.latency.total_seconds())
    _write_state(cfg, r.id, st)
    log.info("request %d answered: package %s, fulfilled after %.0f s", r.id, where, st["latency_s"])
    return Answer(r.id, "fulfilled", f"package {where}", where, st["latency_s"])


class RequestWatcher:
    """Answers this plant's requests as the ``Requested`` events appear (the anchoring loop calls :meth:`poll`).

    Parameters
    ----------
    cfg : workspace.config.Config
    service : chain.anchor.AnchorService
        The anchoring loop's service (its node, gateway key, ledger and AnchorRegistry).
    park : models.park.config.ParkConfig
        ``park.yaml``: where packages go, and the deployment record naming ``ReportRequests``.
    author, sector : str
        Who the answers are issued by (an account with the ``report`` permission when the workspace has
        accounts) and the enterprise's sector.
    """

    def __init__(self, cfg, service, park, *, author: str, sector: str, requests: Any = None,
                 registry: Any = None):
        self.cfg, self.service, self.park = cfg, service, park
        self.author, self.sector = author, sector
        self._requests, self._registry = requests, registry
        self._next_block = 0
        self._open: dict[int, Any] = {}

    def _contracts(self):
        if self._requests is None:
            from chain.registry import METHODOLOGY_REGISTRY, REPORT_REQUESTS, from_deployment

            if self.park.deployment is None:
                raise TanjianError(f"{self.park.source}: no deployment record (the consortium's, naming "
                                   f"{REPORT_REQUESTS}): set deployment")
            dep = json.loads(Path(self.park.deployment).read_text("utf-8"))
            self._requests = from_deployment(self.service.w3, dep, REPORT_REQUESTS)
            self._registry = from_deployment(self.service.w3, dep, METHODOLOGY_REGISTRY)
        return self._requests, self._registry

    def poll(self) -> list[Answer]:
        """Read new ``Requested`` events for this plant and take every open request as far as it goes."""
        from chain.requests import open_requests

        requests, registry = self._contracts()
        head = self.service.w3.eth.block_number
        if self._next_block <= head:
            for r in open_requests(requests, self.cfg.site.plant.id, from_block=self._next_block):
                self._open[r.id] = r
            self._next_block = head + 1
        out = []
        for rid, r in sorted(self._open.items()):
            if _read_state(self.cfg, rid).get("state") == "refused":
                self._open.pop(rid)  # refused once, logged once; `tanjian park answer ID` tries it again
                continue
            try:
                a = answer(self.cfg, r, w3=self.service.w3, requests=requests, registry=registry, park=self.park,
                           gateway=self.service.account, ledger=self.service.ledger,
                           anchor=self.service.anchor_once, anchor_address=self.service.contract_address,
                           author=self.author, sector=self.sector)
            except TanjianError as exc:  # the store, the bucket, the node: tried again at the next poll
                log.error("report request %d: %s (tried again at the next poll)", rid, exc)
                out.append(Answer(rid, "error", str(exc)))
                continue
            if a.state == "refused":
                log.error("report request refused: %s", a.detail)
            if a.state != "waiting":
                self._open.pop(rid)
            out.append(a)
        return out


def park_yaml(cfg) -> Path:
    """``<data_dir>/park.yaml``: the park's settings as the park published them, with the enterprise's ``answer``."""
    return Path(cfg.paths.data_dir) / "park.yaml"


def watcher_for(cfg, service, park_file: str | os.PathLike | None = None, *, author: str | None = None,
                sector: str | None = None) -> RequestWatcher | None:
    """The request watcher of this workspace, or None when ``park.yaml`` (default ``<data_dir>/park.yaml``) is
    missing or names no ``answer`` author (and none is given): the anchoring loop then answers nothing."""
    from models.park.config import load_park

    path = Path(park_file) if park_file is not None else park_yaml(cfg)
    if not path.is_file():
        return None
    park = load_park(path)
    author = author or (park.answer.author if park.answer else None)
    if not author:
        return None
    sector = sector or (park.answer.sector if park.answer else None) or cfg.site.enterprise.industry
    return RequestWatcher(cfg, service, park, author=author, sector=sector)


def forget_refusal(cfg, request_id: int) -> None:
    """Clear a recorded refusal so that the request is tried again (``tanjian park answer ID``)."""
    p = state_path(cfg, request_id)
    if p.exists() and json.loads(p.read_text("utf-8")).get("state") == "refused":
        os.unlink(p)


__all__ = ["Answer", "RequestRefused", "RequestWatcher", "answer", "check_request", "emissions_kg",
           "forget_refusal", "local_dates", "park_yaml", "watcher_for"]
