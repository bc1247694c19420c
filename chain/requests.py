"""Reports on demand: the regulator's requests on chain (``ReportRequests``), seen and fulfilled by enterprises.

The regulator enrols the enterprises it supervises (:func:`enrol`) and requests a report of one of them for a
past period under a methodology (:func:`request_report`). An enterprise's workspace reads the open requests
for its plant from the contract's ``Requested`` events (:func:`open_requests`), issues and submits the report
(``models.reports.on_demand``, ``tanjian park answer`` and the anchoring loop) and fulfils the request with its gateway key, naming the
SHA-256 of the figures it submitted (:func:`fulfil`). :func:`request_of` gives the state of a request, with its
latency once fulfilled.

Refusals are :class:`workspace.errors.ChainError` with one sentence: an enterprise that is not enrolled, a
period that has not ended, a sender that is not the regulator, a fulfilment from a key that is not an active
gateway of the requested enterprise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from workspace.errors import ChainError

from ._tx import Sender, address_of, send
from .deploy import _deploy_one
from .registry import DEVICE_REGISTRY, REPORT_REQUESTS, contract, from_deployment, id32, text_of

#: what each refusal of the contract means, for a person
REFUSALS = {
    "UnknownEnterprise": "enterprise {enterprise!r} is not enrolled with the regulator (unknown enterprise)",
    "PeriodNotOver": "the period {start}..{end} has not ended yet (a report is requested for a past period)",
    "NotRegulator": "{sender} is not the regulator: only the regulator may enrol enterprises and request reports",
    "BadPeriod": "the period {start}..{end} is empty or reversed",
    "NotGatewayOf": "{sender} is not an active gateway of {enterprise!r}: only the enterprise answers its requests",
    "AlreadyFulfilled": "request {id} is already fulfilled",
    "UnknownRequest": "there is no request {id}",
}


@dataclass(frozen=True)
class ReportRequest:
    """One request as recorded on chain; ``fulfilled_at`` is None while it is open."""

    id: int
    enterprise: str
    period_start: dt.datetime
    period_end: dt.datetime
    methodology: str
    requested_at: dt.datetime
    fulfilled_at: dt.datetime | None
    figures_sha256: str | None
    gateway: str | None

    @property
    def latency(self) -> dt.timedelta | None:
        """Time from request to fulfilment (block times), None while open."""
        return None if self.fulfilled_at is None else self.fulfilled_at - self.requested_at

    @property
    def state(self) -> str:
        return "open" if self.fulfilled_at is None else f"fulfilled after {self.latency.total_seconds():.0f} s"


def _unix(t: dt.datetime | dt.date) -> int:
    if not isinstance(t, dt.datetime):
        t = dt.datetime(t.year, t.month, t.day, tzinfo=dt.timezone.utc)
    if t.tzinfo is None:
        raise ChainError(f"{t} has no time zone")
    return int(t.timestamp())


def _utc(t: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(t), dt.timezone.utc)


def deploy_requests(w3: Web3, deployment: dict, deployer: Sender, regulator: str | None = None) -> dict:
    """Deploy ``ReportRequests`` beside a contract set (its DeviceRegistry decides who answers for whom);
    the deployment record gains it under ``contracts`` and is returned."""
    regulator = Web3.to_checksum_address(regulator or deployment.get("roles", {}).get("regulator")
                                         or address_of(deployer))
    devices = deployment["contracts"][DEVICE_REGISTRY]["address"]
    deployment["contracts"][REPORT_REQUESTS] = _deploy_one(w3, REPORT_REQUESTS, deployer, regulator, devices)
    return deployment


def requests_contract(w3: Web3, deployment: dict) -> Any:
    return from_deployment(w3, deployment, REPORT_REQUESTS)


def _send(w3, call, sender, **ctx) -> dict:
    try:
        return send(w3, call, sender)
    except ChainError as exc:
        for name, text in REFUSALS.items():
            if f"reverted: {name}(" in str(exc):
                raise ChainError("refused: " + text.format(sender=address_of(sender), **ctx)) from exc
        raise


def enrol(w3: Web3, requests: Any, regulator: Sender, enterprise: str) -> None:
    """Put ``enterprise`` under the regulator's supervision (so that reports of it can be requested)."""
    _send(w3, requests.functions.enrol(id32(enterprise)), regulator, enterprise=enterprise)


def request_report(w3: Web3, requests: Any, regulator: Sender, enterprise: str, start: dt.datetime | dt.date,
                   end: dt.datetime | dt.date, methodology: str) -> int:
    """Request the report of ``enterprise`` for ``[start, end)`` under ``methodology``; returns the request id."""
    call = requests.functions.request(id32(enterprise), _unix(start), _unix(end), id32(methodology))
    receipt = _send(w3, call, regulator, enterprise=enterprise, start=start, end=end)
    (ev,) = requests.events.Requested().process_receipt(receipt)
    return int(ev["args"]["id"])


def fulfil(w3: Web3, requests: Any, gateway: Sender, request_id: int, figures_sha256: str) -> dict:
    """Answer request ``request_id`` with the SHA-256 (hex) of the submitted figures (the enterprise's gateway)."""
    r = request_of(requests, request_id)
    return _send(w3, requests.functions.fulfil(int(request_id), bytes.fromhex(figures_sha256.removeprefix("0x"))),
                 gateway, enterprise=r.enterprise, id=request_id)


def request_of(requests: Any, request_id: int) -> ReportRequest:
    """The request as recorded (raises ChainError for an unknown id)."""
    try:
        r = requests.functions.requestOf(int(request_id)).call()
    except Exception as exc:  # a view call reverts with the node's own exception type
        raise ChainError(f"there is no request {request_id} in {requests.address}") from exc
    ent, ps, pe, meth, req_at, ful_at, sha, gw = r
    return ReportRequest(int(request_id), text_of(ent), _utc(ps), _utc(pe), text_of(meth), _utc(req_at),
                         _utc(ful_at) if ful_at else None, bytes(sha).hex() if ful_at else None,
                         gw if ful_at else None)


def open_requests(requests: Any, enterprise: str, from_block: int = 0) -> list[ReportRequest]:
    """Requests for ``enterprise`` (from the ``Requested`` events since ``from_block``) not yet fulfilled."""
    logs = requests.events.Requested().get_logs(from_block=from_block,
                                                argument_filters={"enterprise": id32(enterprise)})
    out = [request_of(requests, int(ev["args"]["id"])) for ev in logs]
    return [r for r in out if r.fulfilled_at is None]


def all_requests(requests: Any) -> list[ReportRequest]:
    """Every request, oldest first (the regulator's view: request -> fulfilled, with latency)."""
    return [request_of(requests, i) for i in range(requests.functions.requestCount().call())]


__all__ = ["REFUSALS", "ReportRequest", "all_requests", "contract", "deploy_requests", "enrol", "fulfil",
           "open_requests", "request_of", "request_report", "requests_contract"]
