"""The connector contract: outside programs, in any language, push readings over HTTP.

One ``POST /v1/readings`` with a JSON body (:data:`READINGS_SCHEMA`, JSON Schema 2020-12, published in
docs/collectors.md and served at ``GET /v1/schema``) carries one *batch* of readings:

    {"batch_id": "erp-2026-12-05T10:00", "readings": [
        {"meter": "M-MAIN", "time": "2026-12-05T10:00:00+08:00", "counter": 123456.7, "rate": 410.2}]}

Authentication is per connector, configured in the ``push:`` section of ``tanjian.yaml``
(:data:`CONFIG_SCHEMA`, validated with ``jsonschema``): a bearer token (``Authorization: Bearer …``)
or an HMAC-SHA256 signature of the exact body bytes (``X-Tanjian-Connector: NAME`` and
``X-Tanjian-Signature: sha256=HEX``). Secrets live in files named by the configuration, never in it.

Acknowledgement is the rule of every collector: the answer ``201`` (or ``200`` for a batch id already
journaled) is sent only after the batch is fsync'd in the journal, and its body names the journal
sequence number. Refusals journal nothing: ``401`` (no or wrong credentials), ``400`` (the body is not
JSON or breaks the schema: the answer names the field, e.g. ``readings[2].counter``), ``422`` (a meter
the site does not have, or one outside the connector's ``meters`` list), ``503`` (the journal refused
the write: retry later). A batch id is unique per connector: sending it again is answered ``200`` with
the first acknowledgement, however often it is retried (ids are recovered from the journal's batch
sources at start). Readings of a minute already holding a reading of their meter are acknowledged but
superseded (:class:`collectors.minute.MinuteRule`), as for every pushed or subscribed collector.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jsonschema
from aiohttp import web

from collectors.minute import MinuteRule, journal_admitted
from workspace.batch import Reading, batch_header, decode_batch
from workspace.errors import ConfigError, JournalError
from workspace.journal import Journal
from workspace.schemas import push_config_schema, schema_problems
from workspace.site import Site
from workspace.units import READING_QUANTITIES

log = logging.getLogger(__name__)

PATH = "/v1/readings"
SOURCE_PREFIX = "push:"  # a batch of connector NAME with id ID is journaled with source "push:NAME/ID"
MAX_BODY = 4 * 1024 * 1024  # bytes
DEFAULT_LISTEN = "127.0.0.1:8480"
DEFAULT_MAX_AGE_DAYS = 7.0  # older readings are refused (a wrong year would stall the store's fold)
MAX_AHEAD = dt.timedelta(minutes=10)  # a reading this far ahead of the collector's clock is refused

_NUMBER = {"type": "number"}
READINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://tanjian.example/schemas/push-readings-v1.json",
    "title": "tanjian push batch v1",
    "type": "object",
    "additionalProperties": False,
    "required": ["batch_id", "readings"],
    "properties": {
        "batch_id": {"type": "string", "pattern": "^[A-Za-z0-9._:@+-]{1,128}$",
                     "description": "the client's id of this batch, unique per connector (retries reuse it)"},
        "readings": {
            "type": "array", "minItems": 1, "maxItems": 10000,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["meter", "time", "counter"],
                "properties": {
                    "meter": {"type": "string", "minLength": 1, "description": "meter id of the site"},
                    "time": {"type": "string", "format": "date-time",
                             "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$",
                             "description": "RFC 3339 instant of the reading, with its UTC offset"},
                    "counter": dict(_NUMBER, minimum=0, description="cumulative register [kWh or m3]"),
                    "rate": dict(_NUMBER, description="instantaneous rate [kW or m3/h]"),
                    "voltage": dict(_NUMBER, minimum=0, description="phase-average voltage [V]"),
                    "current": dict(_NUMBER, minimum=0, description="phase-average current [A]"),
                    "power_factor": dict(_NUMBER, minimum=-1, maximum=1, description="total power factor [-]"),
                },
            },
        },
    },
}

#: the push: section's schema: core data (workspace/data/push-config.schema.json)
CONFIG_SCHEMA: dict[str, Any] = push_config_schema()

_READINGS_VALIDATOR = jsonschema.Draft202012Validator(READINGS_SCHEMA)
_CONFIG_VALIDATOR = jsonschema.Draft202012Validator(CONFIG_SCHEMA)


@dataclass(frozen=True)
class Connector:
    """One configured outside program: its name, its secret and the meters it may send."""

    name: str
    token: bytes | None = None
    hmac_key: bytes | None = None
    meters: frozenset[str] | None = None


@dataclass(frozen=True)
class PushConfig:
    host: str
    port: int
    connectors: dict[str, Connector]
    max_age_days: float = DEFAULT_MAX_AGE_DAYS


def load_push_config(section: dict, base: Path, *, origin: str = "tanjian.yaml") -> PushConfig:
    """Validate the ``push:`` section against :data:`CONFIG_SCHEMA` and read the secret files.

    Relative secret paths are taken from ``base`` (the configuration file's folder). Raises
    :class:`ConfigError` naming the field (``push.connectors.erp.token_file: …``).
    """
    problems = schema_problems(_CONFIG_VALIDATOR, section)
    if problems:
        raise ConfigError([(origin, None, f"push.{f}", m) for f, m in problems])
    host, _, port = section.get("listen", DEFAULT_LISTEN).rpartition(":")
    connectors = {}
    for name, c in section["connectors"].items():
        key = "token_file" if "token_file" in c else "hmac_key_file"
        p = Path(c[key])
        p = p if p.is_absolute() else base / p
        try:
            secret = p.read_text().strip().encode()
        except OSError as exc:
            raise ConfigError([(origin, None, f"push.connectors.{name}.{key}", f"cannot read {p}: {exc.strerror}")]) \
                from None
        if len(secret) < 16:
            raise ConfigError([(origin, None, f"push.connectors.{name}.{key}",
                                f"the secret in {p} is shorter than 16 bytes")])
        meters = frozenset(c["meters"]) if "meters" in c else None
        connectors[name] = Connector(name, secret if key == "token_file" else None,
                                     secret if key == "hmac_key_file" else None, meters)
    return PushConfig(host, int(port), connectors, float(section.get("max_age_days", DEFAULT_MAX_AGE_DAYS)))


def signature(key: bytes, body: bytes) -> str:
    """The ``X-Tanjian-Signature`` value of a body: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class JournalSink:
    """Where accepted batches go: the journal (opened as writer), through the minute rule, one lock.

    ``tanjian push serve`` uses this one. The connector and the client's batch id ride in the journaled
    batch's ``source`` (``push:NAME/ID``), not in a ``note``: a batch with a note is a correction or an
    event to the store's fold, folded in a commit of its own.
    """

    def __init__(self, site: Site, journal: Journal, clock=None):
        self.clock = clock  # a workspace.clock.Clock; None: this host's clock
        self.site = site
        self.journal = journal
        self.minute_rule = MinuteRule()
        self.minute_rule.recover(journal, [m.id for m in site.meters])
        self.lock = asyncio.Lock()

    async def journal_batch(self, readings: list[Reading], source: str) -> tuple[int | None, int]:
        """Journal the kept readings; (seq, or None when all were superseded; readings kept)."""
        async with self.lock:
            return await journal_admitted(self.minute_rule, self.journal, self.site.plant.id, readings, source)


class ServiceSink:
    """Accepted batches journaled by a running :class:`collectors.service.CollectionService` (``tanjian collect``
    with a ``push:`` section): its journal, its lock and its minute rule, like its MQTT and OPC UA collectors."""

    def __init__(self, service):
        self.clock = service.clock
        self.service = service
        self.journal = service.journal

    async def journal_batch(self, readings: list[Reading], source: str) -> tuple[int | None, int]:
        return await self.service.journal_pushed(readings, source)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _parse_time(s: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:  # the schema's pattern already demands an offset
        raise ValueError("no UTC offset")
    return t


class PushServer:
    """The HTTP endpoint of the connector contract (see the module docstring).

    Parameters
    ----------
    site : Site
    config : PushConfig
    sink : JournalSink or ServiceSink
        Journals accepted batches; the answer waits for it.
    """

    def __init__(self, site: Site, config: PushConfig, sink: JournalSink | ServiceSink):
        self.site = site
        self.config = config
        self.sink = sink
        self.meters = {m.id for m in site.meters}
        self.seen: dict[tuple[str, str], dict] = {}  # (connector, batch id) -> the acknowledgement sent
        self.accepted = 0
        self.refused = 0
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()
        self._recover()

    def _recover(self) -> None:
        """Batch ids already journaled (from the batches' sources), so a retry after a restart is not doubled."""
        for seq, payload in self.sink.journal.records():
            try:  # the header only: the poll cycles' readings (most of the journal) are never decoded here
                source = str(batch_header(payload).get("source", ""))
                if not (source.startswith(SOURCE_PREFIX) and "/" in source):
                    continue
                b = decode_batch(payload)
            except ValueError:
                continue
            name, _, batch_id = b.source[len(SOURCE_PREFIX):].partition("/")
            self.seen[(name, batch_id)] = {"batch_id": batch_id, "seq": seq, "journaled": len(b.readings)}

    # -- HTTP ----------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        a = web.Application(client_max_size=MAX_BODY)
        a.router.add_post(PATH, self._post)
        a.router.add_get("/v1/schema", self._schema)
        return a

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        if self.config.port == 0:
            self.config = replace(self.config, port=self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}{PATH}"

    async def _schema(self, request: web.Request) -> web.Response:
        return web.json_response(READINGS_SCHEMA)

    def _refuse(self, status: int, error: str, **extra) -> web.Response:
        self.refused += 1
        log.warning("push refused (%d): %s", status, error)
        headers = {"WWW-Authenticate": 'Bearer realm="tanjian"'} if status == 401 else None
        return web.json_response({"error": error, **extra}, status=status, headers=headers)

    def _authenticate(self, request: web.Request, body: bytes) -> Connector | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[7:].strip().encode()
            for c in self.config.connectors.values():
                if c.token is not None and hmac.compare_digest(c.token, token):
                    return c
            return None
        name, sig = request.headers.get("X-Tanjian-Connector"), request.headers.get("X-Tanjian-Signature", "")
        c = self.config.connectors.get(name or "")
        if c is not None and c.hmac_key is not None and hmac.compare_digest(signature(c.hmac_key, body), sig):
            return c
        return None

    async def _post(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, f"body larger than {MAX_BODY} bytes")
        connector = self._authenticate(request, body)
        if connector is None:
            return self._refuse(401, "missing or wrong credentials (a bearer token, or X-Tanjian-Connector "
                                     "and X-Tanjian-Signature)")
        try:
            doc = json.loads(body, parse_constant=_no_constant)
        except ValueError as exc:
            return self._refuse(400, f"(body): not JSON: {exc}", field="(body)")
        problems = schema_problems(_READINGS_VALIDATOR, doc)
        if problems:
            field, msg = problems[0]
            return self._refuse(400, f"{field}: {msg}", field=field, problems=[f"{f}: {m}" for f, m in problems])
        readings = self._readings(doc, connector)
        if isinstance(readings, web.Response):
            return readings
        key = (connector.name, doc["batch_id"])
        async with self._lock:  # a batch sent twice at once is journaled once
            known = self.seen.get(key)
            if known is not None:
                return web.json_response(dict(known, duplicate=True), status=200)
            try:
                seq, kept = await self.sink.journal_batch(readings, f"{SOURCE_PREFIX}{connector.name}/{key[1]}")
            except JournalError as exc:
                log.error("push: journal refused a batch of %s: %s", connector.name, exc)
                return web.json_response({"error": f"journal refused the batch, retry later: {exc}"}, status=503,
                                         headers={"Retry-After": "30"})
            ack = self.seen[key] = {"batch_id": doc["batch_id"], "seq": seq, "journaled": kept}
        self.accepted += len(readings)
        return web.json_response(dict(ack, duplicate=False), status=201)

    def _readings(self, doc: dict, connector: Connector) -> list[Reading] | web.Response:
        """The batch's readings, or the refusal naming the first field this site does not accept."""
        readings = []
        now = self.sink.clock.now() if self.sink.clock is not None else dt.datetime.now(dt.timezone.utc)
        oldest = now - dt.timedelta(days=self.config.max_age_days)
        for i, r in enumerate(doc["readings"]):
            if r["meter"] not in self.meters:
                return self._refuse(422, f"readings[{i}].meter: unknown meter {r['meter']!r}",
                                    field=f"readings[{i}].meter")
            if connector.meters is not None and r["meter"] not in connector.meters:
                return self._refuse(422, f"readings[{i}].meter: connector {connector.name!r} may not send "
                                         f"meter {r['meter']!r}", field=f"readings[{i}].meter")
            try:
                when = _parse_time(r["time"])
            except ValueError as exc:
                return self._refuse(400, f"readings[{i}].time: {exc}", field=f"readings[{i}].time")
            if when < oldest or when > now + MAX_AHEAD:
                return self._refuse(422, f"readings[{i}].time: {r['time']} is outside what this collector accepts "
                                         f"({oldest.isoformat(timespec='seconds')} to "
                                         f"{(now + MAX_AHEAD).isoformat(timespec='seconds')}: push.max_age_days "
                                         f"before its clock, {MAX_AHEAD.seconds // 60} min after)",
                                    field=f"readings[{i}].time")
            values = [float(r.get(k, math.nan)) for k in READING_QUANTITIES]
            if not all(math.isfinite(v) or math.isnan(v) for v in values):
                return self._refuse(400, f"readings[{i}]: not a finite number", field=f"readings[{i}]")
            readings.append(Reading(r["meter"], when.astimezone(dt.timezone.utc), *values))
        return readings
