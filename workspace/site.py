"""The plant model: enterprise → plant → workshop → line → device → meter, with transformers,
gateways, products and shifts. Pure data (pydantic), validated when the configuration loads.

Every field states its unit in its description; ids are the keys other sections refer to.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .mqtt_mapping import MqttLink, MqttMapping, mqtt_sample_problems
from .onsite import OnSite
from .plantmap import FloorPlan, ProcessFlow, Source
from .rooms import Room
from .sitebase import Id, SiteModel as _Model
from .units import mqtt_fits, unit_problem


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
    tariff: str | None = Field(None, description="the plant's electricity tariff: the id of a packaged tariff "
                                                 "(workspace/data/tariffs/, e.g. CN-HN-large-industrial-1-10kV) "
                                                 "or a tariff YAML file (relative to the configuration's "
                                                 "folder); default: the packaged Hunan tariff for a plant in "
                                                 "Hunan, none elsewhere (workspace.tariffs)")


class Transformer(_Model):
    id: Id
    name: str
    rated_kva: float = Field(gt=0, description="rated apparent power [kVA]")
    meter: Id = Field(description="meter on the transformer's low-voltage incomer")
    no_load_loss_kw: float | None = Field(None, ge=0, description="no-load (iron) loss P0 [kW], from the "
                                                                   "nameplate or test report (default: by "
                                                                   "rated kVA, workspace/data/"
                                                                   "transformer-losses.csv)")
    load_loss_kw: float | None = Field(None, ge=0, description="load (copper) loss Pk at rated current [kW], "
                                                                "from the nameplate (default: by rated kVA)")
    economic_band: tuple[float, float] | None = Field(None, description="load rate band [-] the transformer "
                                                                         "should run in, low and high "
                                                                         "(default: from the losses, see "
                                                                         "models.energy.transformers)")
    loss_source: str | None = Field(None, description="where the loss figures come from (nameplate, test "
                                                      "report, standard table)")

    @model_validator(mode="after")
    def _band(self) -> "Transformer":
        b = self.economic_band
        if b is not None and not 0 <= b[0] < b[1] <= 1.5:
            raise ValueError(f"transformer {self.id!r}: economic_band must be two load rates 0 <= low < high "
                             f"<= 1.5, not {list(b)}")
        return self


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
    role: Literal["main", "auxiliary"] | None = Field(None, description="main production machine or auxiliary "
                                                                       "(utilities, lighting, handling) for "
                                                                       "unit-consumption analysis")
    off_kw: float | None = Field(None, ge=0, description="power below which the device is off [kW] (default: "
                                                         "learned from its power, models.energy.states)")
    running_kw: float | None = Field(None, ge=0, description="power at or above which it is running [kW]; "
                                                             "between off_kw and running_kw it stands by "
                                                             "(default: learned)")
    startup_min: float = Field(0.0, ge=0, description="minutes after switching on that count as start-up "
                                                      "[min] (0: no start-up state)")
    key_equipment: bool = Field(False, description="a key energy consumer (alarms when on in sharp or "
                                                   "peak periods)")

    @model_validator(mode="after")
    def _state_thresholds(self) -> "Device":
        if self.off_kw is not None and self.running_kw is not None and self.running_kw < self.off_kw:
            raise ValueError(f"device {self.id!r}: running_kw ({self.running_kw}) is below off_kw ({self.off_kw})")
        return self


#: how a gateway reaches its meters; ``*_tcp`` protocols use host/port, the others a serial device
GatewayProtocol = Literal["modbus_tcp", "modbus_rtu", "modbus_rtu_over_tcp", "dlt645_serial", "dlt645_tcp",
                          "mqtt", "opcua"]
SERIAL_PROTOCOLS = ("modbus_rtu", "dlt645_serial")
MODBUS_PROTOCOLS = ("modbus_tcp", "modbus_rtu", "modbus_rtu_over_tcp")
DLT645_PROTOCOLS = ("dlt645_serial", "dlt645_tcp")
#: protocols whose meters push their readings (no polling)
PUSH_PROTOCOLS = ("mqtt",)



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
    teams: list[str] = Field(default_factory=list, description="teams (班组) that work this shift, as the "
                                                               "production imports name them")


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
    rooms: list[Room] = Field(default_factory=list, description="distribution rooms and their sensor blocks")
    onsite: OnSite = Field(default_factory=OnSite, description="PV inverters, batteries, export meters")
    sources: list[Source] = Field(default_factory=list, description="sources of the gas, water and air networks")
    process_flows: list[ProcessFlow] = Field(default_factory=list, description="process steps of each line")
    floor_plan: FloorPlan | None = Field(None, description="the plant's floor plan and positions on it")

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
        in the same workshop, so that nothing is counted twice. The meters of on-site generation, storage
        and export (``onsite``) are never counted: they are not consumption.
        """
        medium = Medium(medium)
        os_ = self.onsite  # generation, storage and export meters are not consumption
        not_load = {p.meter for p in os_.pv} | {x for b in os_.batteries for x in (b.charge_meter, b.discharge_meter)} \
            | set(os_.export_meters)
        ms = [m for m in self.meters if m.medium == medium and m.id not in not_load]
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
        out += self._plant_map_problems(mt, dv, tr, gw, lines)
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

    def _plant_map_problems(self, mt, dv, tr, gw, lines) -> list[tuple[tuple, str]]:
        """Dangling references of the rooms, on-site units, network sources, process flows and positions."""
        root, out = ("site",), []
        gw_ids = {g.id: g for g in self.gateways}
        links: dict[tuple[str, int], str] = {(m.gateway, m.unit_id): m.id for m in self.meters if m.unit_id}

        def ref(loc, value, known, what):
            if value is not None and value not in known:
                out.append((root + loc, f"unknown {what} {value!r}"))

        def link(loc, uid, gateway, unit_id):
            g = gw_ids.get(gateway)
            if g is None:
                out.append((root + loc + ("gateway",), f"unknown gateway {gateway!r}"))
            elif g.protocol != "modbus_tcp":
                out.append((root + loc + ("gateway",), f"{uid!r} needs a modbus_tcp gateway, {gateway!r} is "
                                                       f"{g.protocol}"))
            elif (gateway, unit_id) in links:
                out.append((root + loc + ("unit_id",), f"unit id {unit_id} already used by "
                                                       f"{links[(gateway, unit_id)]!r} on gateway {gateway!r}"))
            links.setdefault((gateway, unit_id), uid)

        for i, r in enumerate(self.rooms):
            for k, t in enumerate(r.transformers):
                ref(("rooms", i, "transformers", k), t, tr, "transformer")
            link(("rooms", i), r.id, r.gateway, r.unit_id)
        for i, p in enumerate(self.onsite.pv):
            loc = ("onsite", "pv", i)
            ref(loc + ("transformer",), p.transformer, tr, "transformer")
            ref(loc + ("meter",), p.meter, mt, "meter")
            link(loc, p.id, p.gateway, p.unit_id)
        for i, b in enumerate(self.onsite.batteries):
            loc = ("onsite", "batteries", i)
            ref(loc + ("transformer",), b.transformer, tr, "transformer")
            ref(loc + ("charge_meter",), b.charge_meter, mt, "meter")
            ref(loc + ("discharge_meter",), b.discharge_meter, mt, "meter")
            link(loc, b.id, b.gateway, b.unit_id)
        for k, m in enumerate(self.onsite.export_meters):
            ref(("onsite", "export_meters", k), m, mt, "meter")
        for i, src in enumerate(self.sources):
            ref(("sources", i, "device"), src.device, dv, "device")
            for k, m in enumerate(src.meters):
                ref(("sources", i, "meters", k), m, mt, "meter")
                if m in mt and self.meters[mt[m]].medium.value != src.medium:
                    out.append((root + ("sources", i, "meters", k), f"meter {m!r} meters "
                                f"{self.meters[mt[m]].medium.value}, not {src.medium}"))
        for i, pf in enumerate(self.process_flows):
            ref(("process_flows", i, "line"), pf.line, lines, "line")
            for a, step in enumerate(pf.steps):
                for b, d in enumerate(step):
                    ref(("process_flows", i, "steps", a, b), d, dv, "device")
        if self.floor_plan is not None:
            known = set(dv) | set(tr) | {r.id for r in self.rooms} | {p.id for p in self.onsite.pv} \
                | {b.id for b in self.onsite.batteries}
            for k, (x, y) in self.floor_plan.positions.items():
                if k not in known:
                    out.append((root + ("floor_plan", "positions", k), f"unknown device, room, transformer or "
                                                                        f"inverter {k!r}"))
                elif not (0 <= x <= self.floor_plan.width_m and 0 <= y <= self.floor_plan.depth_m):
                    out.append((root + ("floor_plan", "positions", k), f"({x}, {y}) is outside the "
                                f"{self.floor_plan.width_m} x {self.floor_plan.depth_m} m plan"))
        return out
