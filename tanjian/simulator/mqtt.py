"""Wireless clamp meters publishing over MQTT: the load model's readings, as each meter's mapping expects.

:func:`payload_for` writes a reading in the JSON a meter's ``mqtt`` mapping reads (its field paths,
its units, its time format) — the inverse of :func:`collectors.mqtt.payload.map_payload`; with a device key
it wraps it in the signed envelope (:func:`signed_envelope`). :class:`ClampPublisher` publishes the
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
from workspace.meters import QUANTITIES
from workspace.site import Medium, Meter, Site
from workspace.units import MQTT_UNITS

from .model import LoadModel

log = logging.getLogger(__name__)


def _put(doc: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        doc = doc.setdefault(p, {})
    doc[parts[-1]] = value


def payload_for(meter: Meter, when: dt.datetime, values: dict[str, float]) -> bytes:
    """The JSON payload of one reading as ``meter``'s mapping reads it.

    Parameters
    ----------
    meter : Meter
        With its ``mqtt`` mapping.
    when : datetime.datetime
        Acquisition time (written only when the mapping has a time field).
    values : dict
        ``counter``, ``rate``, ``voltage``, ``current``, ``power_factor`` in the reading's units
        [kWh|m3, kW|m3/h, V, A, -]; NaN or absent ones are left out.
    """
    m = meter.mqtt
    own = READING_UNITS[meter.medium == Medium.electricity]
    doc: dict = {}
    for q in QUANTITIES:
        path = getattr(m, q)
        x = values.get(q, math.nan)
        if path is None or not math.isfinite(x):
            continue
        factor = MQTT_UNITS[q][m.units.get(q, own[q])]
        _put(doc, path, from_reading_unit(x, factor))
    if m.time is not None:
        if m.time.format == "iso8601":
            _put(doc, m.time.field, format_time(when))
        elif m.time.format == "epoch_s":
            _put(doc, m.time.field, when.timestamp())
        else:
            _put(doc, m.time.field, int(round(when.timestamp() * 1000)))
    return json.dumps(doc, separators=(",", ":")).encode()


def signed_envelope(account, payload: bytes) -> bytes:
    """``{"payload", "device", "signature"}`` around ``payload``, signed by a device key (EIP-191)."""
    from chain.identity import sign_device_payload

    sig = sign_device_payload(account, payload)
    return json.dumps({"payload": payload.decode("utf-8"), "device": account.address,
                       "signature": "0x" + sig.hex()}, separators=(",", ":")).encode()


def topic_for(meter: Meter, fill: str = "sim") -> str:
    """A concrete topic matching the meter's filter (``+`` levels become ``fill``, ``#`` is dropped)."""
    levels = []
    for lv in meter.mqtt.topic.split("/"):
        if lv == "#":
            break
        levels.append(fill if lv == "+" else lv)
    return "/".join(levels) or fill


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

    def message(self, meter: Meter, when: dt.datetime) -> tuple[str, bytes]:
        """Topic and payload (signed when the meter has a key) of one reading."""
        payload = payload_for(meter, when, self.values_at(meter, when))
        if meter.id in self.keys:
            payload = signed_envelope(self.keys[meter.id], payload)
        return topic_for(meter), payload

    def publish_at(self, when: dt.datetime) -> list:
        """Publish every meter's reading at ``when`` (QoS 1); returns paho's message infos."""
        out = []
        for m in self.meters:
            topic, payload = self.message(m, when)
            out.append(self.client.publish(topic, payload, qos=1))
        return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
