"""Wireless clamp meters publishing over MQTT: the load model's readings, as each meter's mapping expects.

:func:`payload_for` writes a reading in the JSON a meter's ``mqtt`` mapping reads (its field paths,
its units, its time format) — the inverse of :func:`collectors.mqtt.payload.map_payload` —, and
:func:`messages_for` one message a topic for a meter fed from several (the presets' device shapes);
with a device key it wraps it in the signed envelope (:func:`signed_envelope`). :class:`ClampPublisher` publishes the
load model's values for every meter of one gateway at QoS 1 through a real broker.

``tanjian simulate-mqtt --gateway ID`` runs a publisher on the command line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from typing import Any

from collectors.mqtt.payload import READING_UNITS, from_reading_unit
from workspace.batch import format_time
from workspace.jsonpaths import compile_path
from workspace.meters import QUANTITIES
from workspace.site import Medium, Meter, Site
from workspace.units import MQTT_UNITS

from .model import LoadModel

log = logging.getLogger(__name__)


def _steps(node: dict) -> tuple[list, bool]:
    """A JMESPath AST as the steps that reach its value (``("key", k)``, ``("index", i)``) and whether
    the value is to be wrapped in an array (``sum``/``avg`` of one element are the element)."""
    kind = node["type"]
    if kind == "current":
        return [], False
    if kind == "field":
        return [("key", node["value"])], False
    if kind == "subexpression":
        out: list = []
        for child in node["children"]:
            steps, wrap = _steps(child)
            if wrap:
                raise ValueError("a function inside a path")
            out += steps
        return out, False
    if kind == "index_expression" and node["children"][1]["type"] == "index":
        steps, wrap = _steps(node["children"][0])
        i = node["children"][1]["value"]
        if wrap or i < 0:
            raise ValueError("an index the simulator cannot write")
        return steps + [("index", i)], False
    if kind == "function_expression" and node["value"] in ("sum", "avg", "max", "min") \
            and len(node["children"]) == 1:
        steps, wrap = _steps(node["children"][0])
        if wrap:
            raise ValueError("nested functions")
        return steps, True
    raise ValueError(f"a {kind}")


def put(doc: Any, path: str, value: Any) -> Any:
    """``doc`` with ``value`` written where the JMESPath ``path`` reads it; returns the document (a new one
    when ``path`` is ``@``: the payload is the value itself).

    Plain and quoted keys (``params."switch:0".apower``), indices (``ENERGY.Voltage[0]``: the other
    elements get the same value, as three balanced phases) and ``sum``/``avg``/``min``/``max`` of a path
    (written as a one-element array) can be written; other expressions raise :class:`ValueError`.
    """
    try:
        steps, wrap = _steps(compile_path(path).parsed)
    except ValueError as exc:
        raise ValueError(f"the simulator cannot write field {path!r}: {exc}") from None
    if wrap:
        value = [value]
    if not steps:
        return value
    if not isinstance(doc, dict):
        doc = {}
    cur: Any = doc
    for i, (kind, k) in enumerate(steps):
        last = i == len(steps) - 1
        want = None if last else (dict if steps[i + 1][0] == "key" else list)
        if kind == "index":
            while len(cur) <= k:  # the other elements: the same value (balanced phases)
                cur.append(value if last else want())
        if last:
            cur[k] = value
        else:
            if not isinstance(cur[k] if kind == "index" else cur.get(k), want):
                cur[k] = want()
            cur = cur[k]
    return doc


def _document(src, own: dict, when: dt.datetime, values: dict[str, float]) -> Any:
    doc: Any = {}
    for q, path in src.fields().items():
        x = values.get(q, math.nan)
        if not math.isfinite(x):
            continue
        factor = MQTT_UNITS[q][src.units.get(q, own[q])]
        y = from_reading_unit(x, factor)
        if q in src.scale:
            y = from_reading_unit(y, src.scale[q])
        doc = put(doc, path, y)
    if src.time is not None and isinstance(doc, dict):
        if src.time.format == "iso8601":
            doc = put(doc, src.time.field, format_time(when))
        elif src.time.format == "epoch_s":
            doc = put(doc, src.time.field, when.timestamp())
        else:
            doc = put(doc, src.time.field, int(round(when.timestamp() * 1000)))
    return doc


def messages_for(meter: Meter, when: dt.datetime, values: dict[str, float], fill: str = "sim") \
        -> list[tuple[str, bytes]]:
    """Topic and JSON payload of every message carrying one reading as ``meter``'s mapping reads it: one
    for a single topic, one a part for a meter fed from several topics (a Shelly Pro 3EM's ``em:0`` and
    ``emdata:0``); a plain number where a field is ``@``. ``values`` as for :func:`payload_for`."""
    own = READING_UNITS[meter.medium == Medium.electricity]
    out = []
    for src in meter.mqtt.sources():
        doc = _document(src, own, when, values)
        out.append((_topic(src.topic, fill), json.dumps(doc, separators=(",", ":")).encode()))
    return out


def payload_for(meter: Meter, when: dt.datetime, values: dict[str, float]) -> bytes:
    """The JSON payload of one reading as ``meter``'s mapping reads it.

    Parameters
    ----------
    meter : Meter
        With its ``mqtt`` mapping (one topic; :func:`messages_for` for several).
    when : datetime.datetime
        Acquisition time (written only when the mapping has a time field).
    values : dict
        ``counter``, ``rate``, ``voltage``, ``current``, ``power_factor`` in the reading's units
        [kWh|m3, kW|m3/h, V, A, -]; NaN or absent ones are left out.
    """
    if meter.mqtt.parts:
        raise ValueError(f"meter {meter.id}: several topics: use messages_for")
    return messages_for(meter, when, values)[0][1]


def signed_envelope(account, payload: bytes) -> bytes:
    """``{"payload", "device", "signature"}`` around ``payload``, signed by a device key (EIP-191)."""
    from chain.identity import sign_device_payload

    sig = sign_device_payload(account, payload)
    return json.dumps({"payload": payload.decode("utf-8"), "device": account.address,
                       "signature": "0x" + sig.hex()}, separators=(",", ":")).encode()


def _topic(filter_: str, fill: str) -> str:
    levels = []
    for lv in filter_.split("/"):
        if lv == "#":
            break
        levels.append(fill if lv == "+" else lv)
    return "/".join(levels) or fill


def topic_for(meter: Meter, fill: str = "sim") -> str:
    """A concrete topic matching the meter's (first) filter (``+`` levels become ``fill``, ``#`` dropped)."""
    return _topic(meter.mqtt.topics[0], fill)


class ClampPublisher:
    """Publishes the load model's readings of one gateway's meters at QoS 1.

    Parameters
    ----------
    site : Site
    gateway : str
        Gateway id (``protocol: mqtt``); its meters are published.
    model : LoadModel
    host, port : str, int
        The broker.
    client_id : str
    username, password : str or None
        Credentials of the publishing gateway (not the collector's).
    ca_file, cert_file, key_file : str or None
        TLS: the broker's CA and this publisher's own certificate.
    keys : dict or None
        Meter id -> eth_account ``LocalAccount`` signing that meter's payloads.
    """

    def __init__(self, site: Site, gateway: str, model: LoadModel, *, host: str = "127.0.0.1",
                 port: int = 1883,
                 client_id: str = "clamp-sim", username: str | None = None, password: str | None = None,
                 ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None,
                 keys: dict | None = None):
        import paho.mqtt.client as mqtt

        self.meters = [m for m in site.meters if m.gateway == gateway and m.mqtt is not None]
        self.model = model
        self.keys = keys or {}
        self._idx = {mid: i for i, mid in enumerate(model.meter_ids)}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca_file is not None:
            self.client.tls_set(ca_certs=ca_file, certfile=cert_file, keyfile=key_file)
        self.host, self.port = host, port

    def connect(self) -> None:
        self.client.connect(self.host, self.port, 30)
        self.client.loop_start()

    def values_at(self, meter: Meter, when: dt.datetime) -> dict[str, float]:
        """The load model's reading of ``meter`` at ``when`` [kWh|m3, kW|m3/h, V, A, -]."""
        counters, rates = self.model.at(when)
        k = self._idx[meter.id]
        out = {"counter": round(float(counters[k]), 3), "rate": round(float(rates[k]), 3)}
        if meter.medium == Medium.electricity:
            v, i, pf = self.model.electrical(rates[k:k + 1], when.minute)
            out.update(voltage=round(float(v[0]), 1), current=round(float(i[0]), 2),
                       power_factor=round(float(pf[0]), 3))
        return out

    def messages(self, meter: Meter, when: dt.datetime) -> list[tuple[str, bytes]]:
        """Topics and payloads (signed when the meter has a key) of one reading."""
        out = messages_for(meter, when, self.values_at(meter, when))
        if meter.id in self.keys:
            out = [(t, signed_envelope(self.keys[meter.id], p)) for t, p in out]
        return out

    def publish_at(self, when: dt.datetime) -> list:
        """Publish every meter's reading at ``when`` (QoS 1); returns paho's message infos."""
        return [self.client.publish(topic, payload, qos=1)
                for m in self.meters for topic, payload in self.messages(m, when)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
