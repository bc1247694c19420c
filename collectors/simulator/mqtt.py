"""Wireless clamp meters publishing over MQTT: the load model's readings, as each meter's mapping expects.

:func:`payload_for` writes a reading in the JSON a meter's ``mqtt`` mapping reads (its field paths,
its units, its time format) — the inverse of :func:`collectors.mqtt.payload.map_payload`; with a device key
it wraps it in the signed envelope (:func:`signed_envelope`). :class:`ClampPublisher` publishes the
load model's values for every meter of one gateway at QoS 1 through a real broker.

Run ``python -m collectors.simulator.mqtt --help`` for a publisher on the command line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import re
import sys
import time
from typing import Any

from collectors.mqtt.payload import READING_UNITS, from_reading_unit
from workspace.batch import format_time
from workspace.meters import QUANTITIES
from workspace.site import Medium, Meter, Site
from workspace.units import MQTT_UNITS

from .model import LoadModel

log = logging.getLogger(__name__)


_DOTTED = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")


def _put(doc: dict, path: str, value: Any) -> None:
    if not _DOTTED.match(path):  # a JMESPath expression the simulator cannot invert (arrays, functions)
        raise ValueError(f"the clamp simulator writes plain dotted field paths, not {path!r}")
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
    if m.parts:
        raise ValueError(f"meter {meter.id}: the clamp simulator publishes single-topic mappings")
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


def main(argv: list[str] | None = None) -> int:
    """Publish a gateway's clamp-meter readings every period, live."""
    from workspace.config import load_config

    ap = argparse.ArgumentParser(prog="python -m collectors.simulator.mqtt",
                                 description="Publish the load model's readings of one mqtt gateway's meters "
                                             "to a broker at QoS 1, as each meter's mapping expects.")
    ap.add_argument("--config", required=True, help="tanjian.yaml with the mqtt gateway and its meters")
    ap.add_argument("--gateway", required=True, help="id of the mqtt gateway whose meters are published")
    ap.add_argument("--host", default=None, help="broker host (default: the gateway's)")
    ap.add_argument("--port", type=int, default=None, help="broker port (default: the gateway's)")
    ap.add_argument("--username", help="publisher's user name")
    ap.add_argument("--password-file", help="file holding the publisher's password")
    ap.add_argument("--ca", help="CA certificate of the broker (PEM); enables TLS")
    ap.add_argument("--cert", help="publisher's client certificate (PEM)")
    ap.add_argument("--key", help="publisher's client key (PEM)")
    ap.add_argument("--period", type=float, default=60.0, help="seconds between readings [s] (default 60)")
    ap.add_argument("--count", type=int, default=0, help="stop after this many rounds (default: never)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    gw = next((g for g in cfg.site.gateways if g.id == args.gateway and g.protocol == "mqtt"), None)
    if gw is None:
        ap.error(f"{args.config} has no mqtt gateway {args.gateway!r}")
    password = None
    if args.password_file:
        password = open(args.password_file, encoding="utf-8").read().splitlines()[0]
    pub = ClampPublisher(cfg.site, gw.id, LoadModel(cfg.site, cfg.simulation.seed), host=args.host or gw.host,
                         port=args.port or gw.port, client_id=f"sim-{gw.id}", username=args.username,
                         password=password, ca_file=args.ca, cert_file=args.cert, key_file=args.key)
    pub.connect()
    n = 0
    try:
        while not args.count or n < args.count:
            now = dt.datetime.now(dt.timezone.utc)
            for info in pub.publish_at(now):
                info.wait_for_publish(10)
            n += 1
            print(f"{format_time(now)}: published {len(pub.meters)} readings", flush=True)
            if not args.count or n < args.count:
                time.sleep(args.period)
    except KeyboardInterrupt:
        pass
    finally:
        pub.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
