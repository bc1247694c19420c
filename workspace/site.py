"""The plant model: enterprise → plant → workshop → line → device → meter, with transformers,
gateways, products and shifts. Pure data (pydantic), validated when the configuration loads.

Every field states its unit in its description; ids are the keys other sections refer to.
"""

from __future__ import annotations

from enum import Enum
import functools
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .jsonpaths import FieldError, check_zone, compile_path, describe, number_at, time_of
from .units import MQTT_UNITS, mqtt_fits, unit_problem

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", description="identifier")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Medium(str, Enum):
    electricity = "electricity"
    water = "water"
    natural_gas = "natural_gas"
    compressed_air = "compressed_air"


class DeviceKind(str, Enum):
    welding_robot = "welding_robot"
    welding_station = "welding_station"
    laser_cutter = "laser_cutter"
    plasma_cutter = "plasma_cutter"
    fume_extractor = "fume_extractor"
    machining_centre = "machining_centre"
    boring_mill = "boring_mill"
    grinder = "grinder"
    shot_blaster = "shot_blaster"
    paint_booth = "paint_booth"
    curing_oven = "curing_oven"
    overhead_crane = "overhead_crane"
    assembly_line = "assembly_line"
    test_bench = "test_bench"
    air_compressor = "air_compressor"
    air_dryer = "air_dryer"
    pump = "pump"
    cooling_tower = "cooling_tower"
    boiler = "boiler"
    hvac = "hvac"
    lighting = "lighting"


class Enterprise(_Model):
    name: str = Field(description="legal name")
    name_zh: str | None = Field(None, description="name in Chinese")
    credit_code: str | None = Field(None, description="unified social credit code (统一社会信用代码)")
    industry: str = Field(description="industry, e.g. 'machinery manufacturing'")


class Plant(_Model):
    id: Id
    name: str
    city: str
    province: str
    timezone: str = Field(description="IANA time zone of the site, used at every edge (reports, tariffs)")
    grid: str = Field("CN-national", description="grid region whose location-based factor applies")


class Transformer(_Model):
    id: Id
    name: str
    rated_kva: float = Field(gt=0, description="rated apparent power [kVA]")
    meter: Id = Field(description="meter on the transformer's low-voltage incomer")


class Line(_Model):
    id: Id
    name: str


class Workshop(_Model):
    id: Id
    name: str
    name_zh: str | None = None
    transformer: Id = Field(description="transformer that feeds the workshop")
    lines: list[Line] = Field(default_factory=list)


class Device(_Model):
    id: Id
    name: str
    kind: DeviceKind
    workshop: Id
    line: Id | None = None
    rated_power_kw: float = Field(ge=0, description="rated electrical power [kW]")
    standby_kw: float = Field(0.0, ge=0, description="power drawn when idle but switched on [kW]")
    rated_flow_m3h: float | None = Field(None, gt=0, description="rated gas or air flow [m3/h], if any")


#: how a gateway reaches its meters; ``*_tcp`` protocols use host/port, the others a serial device
GatewayProtocol = Literal["modbus_tcp", "modbus_rtu", "modbus_rtu_over_tcp", "dlt645_serial", "dlt645_tcp",
                          "mqtt", "opcua"]
SERIAL_PROTOCOLS = ("modbus_rtu", "dlt645_serial")
MODBUS_PROTOCOLS = ("modbus_tcp", "modbus_rtu", "modbus_rtu_over_tcp")
DLT645_PROTOCOLS = ("dlt645_serial", "dlt645_tcp")
#: protocols whose meters push their readings (no polling)
PUSH_PROTOCOLS = ("mqtt",)


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


SUBSCRIBED_PROTOCOLS = ("opcua",)  # the server pushes values: no host/port polling


class OpcUaEndpoint(_Model):
    """How the collector reaches an OPC UA server (a SCADA or DCS) and proves who it is.

    Certificate and key paths are relative to the configuration file's folder.
    """

    url: str = Field(pattern=r"^opc\.tcp://[^/:\s]+(:[0-9]{1,5})?(/.*)?$",
                     description="endpoint URL, e.g. opc.tcp://scada.plant.local:4840")
    security_policy: Literal["Basic256Sha256"] = Field("Basic256Sha256", description="OPC UA security "
                                                                                     "policy")
    security_mode: Literal["SignAndEncrypt", "Sign"] = Field("SignAndEncrypt", description="message security "
                                                                                           "mode")
    certificate: str = Field(description="the collector's application certificate (DER or PEM), which "
                                         "the server must trust")
    private_key: str = Field(description="the collector's private key (PEM), readable by the collector only")
    server_certificate: str = Field(description="the server's certificate (DER or PEM) the collector "
                                                "trusts; any other server is refused")
    username: str | None = Field(None, description="user name, when the server asks for one")
    password_file: str | None = Field(None, description="file holding the user's password (with username)")
    publishing_interval_ms: float = Field(1000.0, gt=0, description="subscription publishing interval [ms]")
    sampling_interval_ms: float = Field(500.0, ge=0, description="server-side sampling interval of each "
                                                                  "node [ms]")
    timeout_s: float = Field(4.0, gt=0, description="request timeout [s]")

    @model_validator(mode="after")
    def _password_with_user(self) -> "OpcUaEndpoint":
        if (self.username is None) != (self.password_file is None):
            raise ValueError("username and password_file go together")
        return self


#: quantities an OPC UA meter maps to nodes; ``rate`` is the active power of an electricity meter
OpcUaQuantity = Literal["counter", "rate", "voltage", "current", "power_factor"]


class OpcUaNode(_Model):
    """One quantity of a meter as a node of the server's address space."""

    node_id: str = Field(pattern=r"^(ns=[0-9]+;|nsu=[^;]+;)?[isgb]=.+$",
                         description="NodeId string, e.g. ns=2;s=Line1.Meter4.Energy")
    scale: float = Field(1.0, description="multiplier applied to the server's value before the unit "
                                          "conversion [-]")
    unit: str | None = Field(None, description="unit the server publishes in (default: the meter's own, "
                                               "kWh/kW, m3 or m3/h, V, A, -)")


class Gateway(_Model):
    """A link to meters: a Modbus TCP gateway, an RS-485 bus on a local serial port, or a transparent
    serial server (RTU or DL/T 645 frames carried unchanged over TCP)."""

    id: Id
    protocol: GatewayProtocol = "modbus_tcp"
    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=1, le=65535, description="TCP port (TCP protocols)")
    device: str | None = Field(None, description="serial port, e.g. /dev/ttyUSB0 (serial protocols)")
    baudrate: int = Field(9600, ge=300, le=921600, description="serial line speed [bit/s]")
    parity: Literal["N", "E", "O"] = Field("E", description="serial parity (Modbus and DL/T 645 "
                                                              "default: even)")
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1
    timeout_s: float = Field(1.0, gt=0, description="per-request timeout [s]")
    connections: int = Field(4, ge=1, le=32, description="parallel TCP connections to this gateway "
                                                         "(Modbus TCP only: a serial bus carries one request "
                                                         "at a time)")
    mqtt: MqttLink | None = Field(None, description="broker session settings (protocol mqtt)")
    opcua: OpcUaEndpoint | None = Field(None, description="endpoint and security (protocol opcua)")
    read_clock: bool = Field(True, description="read each meter's clock, for the CLOCK_DRIFT flag (DL/T 645 "
                                               "gateways; a meter may override it)")
    clock_interval_s: float = Field(3600.0, ge=0, description="how often a meter's clock is read [s]; 0: at "
                                                              "every poll (two requests more per meter)")

    @model_validator(mode="after")
    def _link_is_complete(self) -> "Gateway":
        if (self.protocol == "mqtt") != (self.mqtt is not None):
            raise ValueError(f"gateway {self.id!r}: 'mqtt' settings go with protocol mqtt, and protocol mqtt "
                             f"needs them")
        if self.protocol in SERIAL_PROTOCOLS and not self.device:
            raise ValueError(f"gateway {self.id!r}: protocol {self.protocol} needs 'device' "
                             f"(the serial port)")
        if self.protocol == "opcua" and self.opcua is None:
            raise ValueError(f"gateway {self.id!r}: protocol opcua needs 'opcua' (url and certificates)")
        if self.protocol not in SERIAL_PROTOCOLS + SUBSCRIBED_PROTOCOLS and self.port is None:
            raise ValueError(f"gateway {self.id!r}: protocol {self.protocol} needs 'port'")
        return self


class Meter(_Model):
    id: Id
    name: str | None = None
    medium: Medium
    family: str = Field(description="register-map family (workspace.meters.FAMILIES)")
    gateway: Id
    unit_id: int | None = Field(None, ge=1, le=247, description="Modbus unit (device) id behind the gateway "
                                                                "(Modbus gateways)")
    address: str | None = Field(None, pattern=r"^[0-9]{12}$",
                                description="DL/T 645 communication address: 12 decimal digits, most "
                                            "significant first, as on the nameplate (DL/T 645 gateways)")
    parent: Id | None = Field(None, description="upstream meter in the metering tree (None: a main meter)")
    device: Id | None = Field(None, description="device this meter measures, if a single one")
    workshop: Id | None = Field(None, description="workshop the meter belongs to (None: plant level)")
    transformer: Id | None = Field(None, description="transformer whose incomer this meter is")
    period_s: float = Field(60.0, ge=1, description="polling period [s]")
    rated_power_kw: float | None = Field(None, gt=0, description="largest plausible rate [kW or m3/h]")
    register_digits: int | None = Field(None, ge=1, le=12,
                                        description="integer digits of the meter's energy (or volume) register, "
                                                    "e.g. 6 for DL/T 645's XXXXXX.XX: a hand reading at or "
                                                    "above 10**digits is refused (default: where the family's "
                                                    "integer counter wraps, else 10 digits)")
    mqtt: MqttMapping | None = Field(None, description="topic and payload mapping (meters on mqtt gateways)")
    opcua: dict[OpcUaQuantity, OpcUaNode] | None = Field(None, description="nodes of the meter's "
                                                                           "quantities (OPC UA gateways)")
    read_clock: bool | None = Field(None, description="read this meter's clock (None: as its gateway's "
                                                      "read_clock; DL/T 645 meters)")


class Product(_Model):
    id: Id
    name: str
    unit: str = "unit"


class Shift(_Model):
    id: Id
    name: str
    start: str = Field(pattern=r"^\d\d:\d\d$", description="local start time HH:MM")
    end: str = Field(pattern=r"^\d\d:\d\d$", description="local end time HH:MM (may be past midnight)")
    weekdays: list[int] = Field(default=[0, 1, 2, 3, 4, 5], description="0 = Monday")


def _some_meters(meters: list) -> list:
    if not meters:
        raise ValueError("a site needs at least one meter: with none there is nothing to collect, fold or "
                         "report (add the plant's meters under site.meters)")
    return meters


class Site(_Model):
    enterprise: Enterprise
    plant: Plant
    transformers: list[Transformer]
    workshops: list[Workshop]
    devices: list[Device]
    gateways: list[Gateway]
    meters: Annotated[list[Meter], AfterValidator(_some_meters)] = Field(
        description="the site's meters: at least one (a site without meters has nothing to collect or fold)")
    products: list[Product] = Field(default_factory=list)
    shifts: list[Shift] = Field(default_factory=list)

    # -- look-ups --------------------------------------------------------------------------------
    def meter(self, meter_id: str) -> Meter:
        for m in self.meters:
            if m.id == meter_id:
                return m
        raise KeyError(meter_id)

    def device(self, device_id: str) -> Device:
        for d in self.devices:
            if d.id == device_id:
                return d
        raise KeyError(device_id)

    def meter_ids(self, medium: Medium | str | None = None) -> list[str]:
        return [m.id for m in self.meters if medium is None or m.medium == Medium(medium)]

    def children(self, meter_id: str | None) -> list[Meter]:
        return [m for m in self.meters if m.parent == meter_id]

    def top_meters(self, medium: Medium | str, workshop: str | None = None) -> list[str]:
        """Meters whose sum is the total of ``medium`` for the plant (``workshop=None``) or a workshop.

        For the plant: the roots of the metering tree. For a workshop: its meters whose parent is not
        in the same workshop, so that nothing is counted twice.
        """
        medium = Medium(medium)
        ms = [m for m in self.meters if m.medium == medium]
        if workshop is None:
            return [m.id for m in ms if m.parent is None]
        by_id = {m.id: m for m in self.meters}
        return [m.id for m in ms if m.workshop == workshop
                and (m.parent is None or by_id[m.parent].workshop != workshop)]

    def with_files_under(self, base) -> "Site":
        """A copy whose relative file paths (MQTT password and TLS files; OPC UA certificates, keys,
        passwords) start at ``base`` (the configuration file's folder)."""
        import os

        def absolute(p: str | None) -> str | None:
            return p if p is None or os.path.isabs(p) else os.path.join(str(base), p)

        gws = []
        for g in self.gateways:
            if g.mqtt is not None:
                upd = {"password_file": absolute(g.mqtt.password_file)}
                if g.mqtt.tls is not None:
                    t = g.mqtt.tls
                    upd["tls"] = t.model_copy(update={k: absolute(getattr(t, k))
                                                      for k in ("ca_file", "cert_file", "key_file")})
                g = g.model_copy(update={"mqtt": g.mqtt.model_copy(update=upd)})
            if g.opcua is not None:
                e = g.opcua
                g = g.model_copy(update={"opcua": e.model_copy(update={
                    "certificate": absolute(e.certificate), "private_key": absolute(e.private_key),
                    "server_certificate": absolute(e.server_certificate),
                    "password_file": absolute(e.password_file)})})
            gws.append(g)
        return self.model_copy(update={"gateways": gws})

    @staticmethod
    def _link_problems(loc: tuple, m: Meter, g: Gateway) -> list[tuple[tuple, str]]:
        """A meter must carry the address its gateway's protocol uses."""
        if g.protocol in MODBUS_PROTOCOLS and m.unit_id is None:
            return [(loc + ("unit_id",), f"meter {m.id!r} on {g.protocol} gateway {g.id!r} needs a unit_id")]
        if g.protocol in DLT645_PROTOCOLS and m.address is None:
            return [(loc + ("address",), f"meter {m.id!r} on {g.protocol} gateway {g.id!r} needs a 12-digit "
                                         f"DL/T 645 address")]
        if g.protocol == "mqtt" and m.mqtt is None:
            return [(loc + ("mqtt",), f"meter {m.id!r} on mqtt gateway {g.id!r} needs an 'mqtt' mapping "
                                      f"(topic and payload fields)")]
        if m.mqtt is not None and g.protocol == "mqtt":
            for i, src in enumerate(m.mqtt.sources()):
                where = loc + ("mqtt",) + (("parts", i) if m.mqtt.parts else ())
                for q, u in src.units.items():
                    fits = mqtt_fits(m.medium.value, q) if q in ("counter", "rate") else None
                    if fits is not None and u not in fits:
                        return [(where + ("units", q), f"meter {m.id!r}: unit {u!r} of {q} does not fit "
                                                       f"its medium, {m.medium.value} "
                                                       f"(use {', '.join(fits)})")]
        if g.protocol != "mqtt" and m.mqtt is not None:
            return [(loc + ("mqtt",), f"meter {m.id!r}: an 'mqtt' mapping needs an mqtt gateway, "
                                      f"{g.id!r} is {g.protocol}")]
        if g.protocol == "opcua":
            if not m.opcua or "counter" not in m.opcua:
                return [(loc + ("opcua",), f"meter {m.id!r} on opcua gateway {g.id!r} needs 'opcua' with at "
                                           f"least the node of its 'counter'")]
            out = []
            for q, node in m.opcua.items():
                problem = unit_problem(m.medium.value, q, node.unit)
                if problem:
                    out.append((loc + ("opcua", q, "unit"), f"meter {m.id!r}: {problem}"))
            return out
        if m.opcua is not None:
            return [(loc + ("opcua",), f"meter {m.id!r}: 'opcua' nodes need an opcua gateway, not "
                                       f"{g.protocol} gateway {g.id!r}")]
        return []

    def cross_reference_problems(self) -> list[tuple[tuple, str]]:
        """Problems no single field shows: dangling references, duplicate ids, cycles.

        Returns ``(location, message)`` pairs; the location is a path into the YAML document.
        """
        out: list[tuple[tuple, str]] = []
        root = ("site",)

        def dupes(items, name):
            seen: dict[str, int] = {}
            for i, it in enumerate(items):
                if it.id in seen:
                    out.append((root + (name, i, "id"), f"duplicate id {it.id!r} (also {name}[{seen[it.id]}])"))
                seen.setdefault(it.id, i)
            return seen

        ws = dupes(self.workshops, "workshops")
        tr = dupes(self.transformers, "transformers")
        dv = dupes(self.devices, "devices")
        gw = dupes(self.gateways, "gateways")
        mt = dupes(self.meters, "meters")
        lines = {ln.id: w.id for w in self.workshops for ln in w.lines}
        for i, t in enumerate(self.transformers):
            if t.meter not in mt:
                out.append((root + ("transformers", i, "meter"), f"unknown meter {t.meter!r}"))
        for i, w in enumerate(self.workshops):
            if w.transformer not in tr:
                out.append((root + ("workshops", i, "transformer"), f"unknown transformer {w.transformer!r}"))
        for i, d in enumerate(self.devices):
            if d.workshop not in ws:
                out.append((root + ("devices", i, "workshop"), f"unknown workshop {d.workshop!r}"))
            if d.line is not None and lines.get(d.line) != d.workshop:
                out.append((root + ("devices", i, "line"), f"line {d.line!r} is not in workshop {d.workshop!r}"))
        units: dict[tuple[str, int], str] = {}
        addresses: dict[tuple[str, str], str] = {}
        topics: dict[tuple[str, str], str] = {}
        for i, m in enumerate(self.meters):
            loc = root + ("meters", i)
            if m.gateway not in gw:
                out.append((loc + ("gateway",), f"unknown gateway {m.gateway!r}"))
            else:
                out += self._link_problems(loc, m, self.gateways[gw[m.gateway]])
            if m.unit_id is not None:
                key = (m.gateway, m.unit_id)
                if key in units:
                    out.append((loc + ("unit_id",), f"unit id {m.unit_id} already used by meter "
                                                    f"{units[key]!r} on gateway {m.gateway!r}"))
                units.setdefault(key, m.id)
            if m.address is not None:
                akey = (m.gateway, m.address)
                if akey in addresses:
                    out.append((loc + ("address",), f"address {m.address} already used by meter "
                                                    f"{addresses[akey]!r} on gateway {m.gateway!r}"))
                addresses.setdefault(akey, m.id)
            if m.mqtt is not None:
                for topic in m.mqtt.topics:
                    tkey = (m.gateway, topic)
                    if tkey in topics:
                        out.append((loc + ("mqtt", "topic"), f"topic {topic!r} already mapped to meter "
                                                             f"{topics[tkey]!r} on gateway {m.gateway!r}"))
                    topics.setdefault(tkey, m.id)
                out += mqtt_sample_problems(loc + ("mqtt",), m, self.plant.timezone)
            if m.device is not None and m.device not in dv:
                out.append((loc + ("device",), f"unknown device {m.device!r}"))
            if m.workshop is not None and m.workshop not in ws:
                out.append((loc + ("workshop",), f"unknown workshop {m.workshop!r}"))
            if m.transformer is not None and m.transformer not in tr:
                out.append((loc + ("transformer",), f"unknown transformer {m.transformer!r}"))
            if m.parent is not None:
                if m.parent not in mt:
                    out.append((loc + ("parent",), f"unknown parent meter {m.parent!r}"))
                elif self.meters[mt[m.parent]].medium != m.medium:
                    out.append((loc + ("parent",), f"parent {m.parent!r} meters "
                                                   f"{self.meters[mt[m.parent]].medium.value}, not {m.medium.value}"))
        # cycles in the metering tree
        parent = {m.id: m.parent for m in self.meters}
        for i, m in enumerate(self.meters):
            seen, cur = set(), m.id
            while cur is not None and cur in parent:
                if cur in seen:
                    out.append((root + ("meters", i, "parent"), f"meter {m.id!r} is in a cycle of parents"))
                    break
                seen.add(cur)
                cur = parent[cur]
        return out
