"""How an MQTT gateway's session and a meter's topics and payloads are described in the site model
(``protocol: mqtt`` gateways and their meters): broker TLS and session settings, the JMESPath fields of
a payload, multi-topic parts, device presets (``workspace/data/mqtt_presets.yaml``) and the check of a
mapping against the sample payloads it gives. Pure data (pydantic), validated when the configuration loads.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from .jsonpaths import FieldError, check_zone, compile_path, describe, number_at, time_of
from .sitebase import SiteModel as _Model
from .units import MQTT_UNITS

if TYPE_CHECKING:
    from .site import Meter

class MqttTls(_Model):
    """TLS towards the broker: the CA that signed the broker's certificate, and this client's own."""

    ca_file: str = Field(description="PEM file of the CA that signed the broker's certificate")
    cert_file: str | None = Field(None, description="PEM client certificate (per-gateway credentials)")
    key_file: str | None = Field(None, description="PEM private key of the client certificate")

    @model_validator(mode="after")
    def _pair(self) -> "MqttTls":
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class MqttLink(_Model):
    """How the collector subscribes to an MQTT broker (``protocol: mqtt`` gateways).

    The session is persistent (MQTT 5 ``clean_start`` false with a session expiry, or 3.1.1
    ``clean_session`` false): QoS 1 messages published while the collector is away are kept by the
    broker and delivered when it reconnects. A message is acknowledged to the broker (PUBACK) only
    after its reading is fsync'd in the journal.
    """

    client_id: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
                           description="MQTT client id; the broker keeps the persistent session under it")
    username: str | None = Field(None, description="user name the broker's password_file knows")
    password_file: str | None = Field(None, description="file holding the password (one line), mode 0600")
    tls: MqttTls | None = Field(None, description="TLS settings; None: plain TCP (a test bench only)")
    version: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version")
    qos: Literal[1] = Field(1, description="subscription QoS (1: at least once)")
    session_expiry_s: int = Field(7 * 86400, ge=0, le=4294967295,
                                  description="how long the broker keeps the session while the collector is "
                                              "away [s] (MQTT 5)")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive [s]")
    flush_interval_s: float = Field(0.5, gt=0, le=60, description="readings received are journaled as one "
                                                                  "batch per interval [s, wall clock]")
    max_batch: int = Field(5000, ge=1, description="journal a batch early when this many readings wait")
    receive_maximum: int = Field(1000, ge=1, le=65535,
                                 description="messages the broker may send before our acknowledgements "
                                             "(MQTT 5)")
    require_signature: bool = Field(False, description="refuse payloads not signed by the meter's device key")
    registry_ttl_s: float = Field(300.0, ge=0, le=86400,
                                  description="how long the DeviceRegistry's answer for a device key is reused; "
                                              "a revocation is seen within it [s] (0: every message)")


def _path(expr: str) -> str:
    compile_path(expr)  # syntax checked when the configuration loads
    return expr


MqttField = Annotated[str, AfterValidator(_path),
                      Field(description="JMESPath expression selecting a number in the JSON payload, e.g. "
                                        "'energy.total', 'ENERGY.Voltage[0]', 'params.\"switch:0\".apower', "
                                        "'@' (the payload is the number)")]


class MqttTime(_Model):
    field: MqttField = Field(description="payload field holding the acquisition time")
    format: Literal["iso8601", "epoch_s", "epoch_ms"] = Field(
        "iso8601", description="ISO 8601 (with an offset or Z, else read in 'zone'), or seconds / "
                               "milliseconds since 1970-01-01 UTC")
    zone: str | None = Field(None, description="IANA time zone of an ISO 8601 time without an offset "
                                               "(Tasmota's Time); default: the site's")

    @model_validator(mode="after")
    def _zone(self) -> "MqttTime":
        if self.zone is not None:
            check_zone(self.zone)
        return self


SCALE = ("multiplier applied to a field's value before its unit's conversion, e.g. 1/60 for a counter in "
         "watt-minutes given as Wh (Shelly Gen1) [-]")
#: quantities a payload mapping may give
MqttQuantity = Literal["counter", "rate", "voltage", "current", "power_factor"]


def _check_topic(t: str) -> None:
    if not t or "\x00" in t or len(t.encode()) > 65535:
        raise ValueError(f"topic {t!r} is not an MQTT topic filter")
    levels = t.split("/")
    for i, lv in enumerate(levels):
        if ("#" in lv and (lv != "#" or i != len(levels) - 1)) or ("+" in lv and lv != "+"):
            raise ValueError(f"topic {t!r}: '+' must fill a whole level and '#' must be the last level")


def _check_units(units: dict, scale: dict) -> None:
    for q, k in scale.items():
        if not (math.isfinite(k) and k > 0):
            raise ValueError(f"scale.{q}: {k!r} is not a positive finite number")
    for q, u in units.items():
        if u not in MQTT_UNITS[q]:
            raise ValueError(f"units.{q}: unknown unit {u!r} (known: {', '.join(MQTT_UNITS[q])})")


class MqttPart(_Model):
    """One topic of a meter fed from several (:attr:`MqttMapping.parts`): the fields its messages carry."""

    topic: str = Field(description="topic filter (MQTT wildcards + and # allowed)")
    counter: MqttField | None = Field(None, description="field of the cumulative counter")
    rate: MqttField | None = Field(None, description="field of the instantaneous rate (power or flow)")
    voltage: MqttField | None = None
    current: MqttField | None = None
    power_factor: MqttField | None = None
    units: dict[MqttQuantity, str] = Field(default_factory=dict, description="unit each field arrives in")
    scale: dict[MqttQuantity, float] = Field(default_factory=dict, description=SCALE)
    time: MqttTime | None = Field(None, description="acquisition time in the payload (default: arrival time)")
    partial: bool = Field(False, description="messages may lack some fields (notifications carry what "
                                             "changed): a missing field is not an error")
    sample: Any = Field(None, description="a payload as the device sends it; the fields are evaluated "
                                          "against it when the configuration is checked")

    @model_validator(mode="after")
    def _valid(self) -> "MqttPart":
        _check_topic(self.topic)
        _check_units(self.units, self.scale)
        if not self.fields():
            raise ValueError(f"topic {self.topic!r}: a part maps at least one field")
        return self

    def fields(self) -> dict[str, str]:
        """Quantity -> field path, for the quantities this topic carries."""
        return {q: getattr(self, q) for q in ("counter", "rate", "voltage", "current", "power_factor")
                if getattr(self, q) is not None}


@functools.lru_cache(maxsize=1)
def mqtt_presets() -> dict[str, dict]:
    """The device presets a mapping names with ``preset:`` (data: ``data/mqtt_presets.yaml``)."""
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load((Path(__file__).parent / "data" / "mqtt_presets.yaml").read_text("utf-8"))
    return doc["presets"]


def _fill(value: Any, device: str | None) -> Any:
    if isinstance(value, str) and "{device}" in value:
        if device is None:
            raise ValueError(f"the preset's topic {value!r} needs 'device' (the device's MQTT id or topic)")
        return value.replace("{device}", device)
    if isinstance(value, dict):
        return {k: (_fill(v, device) if k == "topic" or isinstance(v, (dict, list)) else v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, device) for v in value]
    return value


class MqttMapping(_Model):
    """Which messages are this meter's readings and how their JSON maps onto a reading.

    One topic (``topic`` and its fields), or several (``parts``: a Shelly Pro 3EM sends power on
    ``status/em:0`` and energy on ``status/emdata:0``), combined into one reading per minute; a
    ``preset`` (Tasmota, Shelly Gen1, Shelly Gen2/Pro 3EM; ``data/mqtt_presets.yaml``) gives the
    topics and fields of a device family, filled with the mapping's ``device``.
    """

    preset: str | None = Field(None, description="device preset (mqtt_presets.yaml); the mapping's own "
                                                 "keys override the preset's")
    device: str | None = Field(None, description="the device's MQTT id or topic, filling a preset's "
                                                 "{device}, e.g. shellypro3em-c8f09e8a1b2c")
    topic: str | None = Field(None, description="topic filter (MQTT wildcards + and # allowed), "
                                                "e.g. 'plant18/clamps/+/C-01'")
    counter: MqttField | None = Field(None, description="field of the cumulative counter")
    rate: MqttField | None = Field(None, description="field of the instantaneous rate (power or flow)")
    voltage: MqttField | None = None
    current: MqttField | None = None
    power_factor: MqttField | None = None
    units: dict[MqttQuantity, str] = Field(
        default_factory=dict, description="unit each field arrives in (default: the reading's own unit: "
                                          "kWh, kW, V, A, 1; or m3, m3/h); see MQTT_UNITS")
    scale: dict[MqttQuantity, float] = Field(default_factory=dict, description=SCALE)
    time: MqttTime | None = Field(None, description="acquisition time in the payload (default: arrival time)")
    partial: bool = Field(False, description="messages may lack some fields; the minute's messages are "
                                             "combined into one reading")
    sample: Any = Field(None, description="a payload as the device sends it, checked with the configuration")
    parts: list[MqttPart] = Field(default_factory=list, description="several topics feeding this meter, "
                                                                    "combined per minute (instead of topic)")
    combine_wait_s: float = Field(60.0, ge=0, le=3600,
                                  description="how long after a minute's end its missing parts are awaited "
                                              "before the minute is journaled with what came [s]")
    device_key: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{40}$",
                                   description="address of the device key registered for this meter; a "
                                               "signed payload must be signed by it")

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        presets = mqtt_presets()
        name = data["preset"]
        if name not in presets:
            raise ValueError(f"unknown preset {name!r} (known: {', '.join(sorted(presets))})")
        base = {k: v for k, v in presets[name].items() if k not in ("source", "title")}
        own = {k: v for k, v in data.items() if v is not None}
        if "topic" in own or "counter" in own:  # the mapping gives its own single topic
            base.pop("parts", None)
        if "parts" in own:
            single = ("topic", "counter", "rate", "voltage", "current", "power_factor", "time", "partial",
                      "sample", "units", "scale")
            base = {k: v for k, v in base.items() if k not in single}
        merged = {**base, **own}
        for k in ("units", "scale"):
            if k in base and k in own:
                merged[k] = {**base[k], **own[k]}
        return _fill(merged, own.get("device"))

    @model_validator(mode="after")
    def _valid(self) -> "MqttMapping":
        keys = ("topic", "counter", "rate", "voltage", "current", "power_factor", "time", "sample", "units",
                "scale")
        single = {k: getattr(self, k) for k in keys if getattr(self, k) not in (None, {})}
        if self.parts:
            if single:
                raise ValueError(f"give either 'parts' or a single topic, not both ({', '.join(single)} "
                                 f"beside parts)")
            topics = [p.topic for p in self.parts]
            dup = sorted({t for t in topics if topics.count(t) > 1})
            if dup:
                raise ValueError(f"parts: topic {dup[0]!r} is given twice")
            if not any(p.counter is not None for p in self.parts):
                raise ValueError("parts: one of the parts must give the counter")
            return self
        if self.topic is None or self.counter is None:
            raise ValueError("a mapping needs 'topic' and 'counter' (or 'parts', or a 'preset')")
        _check_topic(self.topic)
        _check_units(self.units, self.scale)
        return self

    def sources(self) -> list:
        """The topics feeding this meter: its parts, or the mapping itself (same attributes)."""
        return list(self.parts) if self.parts else [self]

    def fields(self) -> dict[str, str]:
        """Quantity -> field path of a single-topic mapping."""
        return {q: getattr(self, q) for q in ("counter", "rate", "voltage", "current", "power_factor")
                if getattr(self, q) is not None}

    @property
    def combined(self) -> bool:
        """True when messages are combined per minute (parts, or partial messages)."""
        return bool(self.parts) or self.partial

    @property
    def topics(self) -> list[str]:
        return [s.topic for s in self.sources()]
def mqtt_sample_problems(loc: tuple, m: "Meter", site_zone: str) -> list[tuple[tuple, str]]:
    """The fields of ``m``'s mapping evaluated against the sample payloads it gives (``config check``):
    each must select a finite number (the time field: a time), a partial part at least one field."""
    out = []
    for i, src in enumerate(m.mqtt.sources()):
        if src.sample is None:
            continue
        where = loc + (("parts", i) if m.mqtt.parts else ()) + ("sample",)
        found = 0
        for q, path in src.fields().items():
            try:
                number_at(src.sample, path)
                found += 1
            except FieldError as exc:
                if not (src.partial and str(exc) == "is missing"):
                    out.append((where, f"meter {m.id!r}: {describe(q + ' field', path, exc)} in the sample"))
        if src.partial and not found and not out:
            out.append((where, f"meter {m.id!r}: none of the fields is in the sample"))
        if src.time is not None:
            try:
                time_of(src.sample, src.time.field, src.time.format, src.time.zone or site_zone)
            except FieldError as exc:
                why = describe("time field", src.time.field, exc)
                out.append((where, f"meter {m.id!r}: {why} in the sample"))
    return out
