"""Register tables of devices that are not energy meters: the distribution-room sensor block and the
SunSpec models of PV inverters and batteries, as data (``workspace/data/point_maps.yaml``), loaded and
checked once. The codec that turns register words into values lives with the collectors
(:mod:`collectors.points`).

They are not meter families (``workspace/data/meter_families.yaml``): a family maps registers to the five
quantities of a reading (counter, rate, voltage, current, power factor), which the collector journals and
the store keeps per minute; a room's contacts and temperatures and a SunSpec device's state are none of
those, and SunSpec values carry scale factors read from the device, which a family's fixed ``scale``
cannot express.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import TanjianError

DATA = Path(__file__).parent / "data" / "point_maps.yaml"
#: the room sensor's points, in register order (what a room reports)
ROOM_POINTS = ("temperature", "humidity", "switch", "leak", "smoke", "door")
#: SunSpec point types and their register counts (SunSpec Modbus specification; ``string`` has its ``len``)
SUNSPEC_TYPES = {"uint16": 1, "int16": 1, "sunssf": 1, "enum16": 1, "acc32": 2, "uint32": 2, "string": None}
#: the model chain's end marker
SUNSPEC_END = 0xFFFF
#: "SunS" at the base address
SUNSPEC_MARKER = (0x5375, 0x6E53)


class PointTableError(TanjianError):
    """The packaged point tables are malformed."""


@dataclass(frozen=True)
class RoomPoint:
    name: str
    address: int
    dtype: str
    scale: float
    unit: str


@dataclass(frozen=True)
class SunSpecPoint:
    name: str
    offset: int
    type: str
    count: int
    sf: str | None = None
    unit: str = ""


@dataclass(frozen=True)
class SunSpecModel:
    id: int
    length: int
    points: dict[str, SunSpecPoint]


def _load(path: Path = DATA):
    from ruamel.yaml import YAML

    doc = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    rs = doc["room_sensor"]
    room = {}
    for name, p in rs["points"].items():
        room[name] = RoomPoint(name, int(p["address"]), p["dtype"], float(p.get("scale", 1)), str(p.get("unit", "")))
    if tuple(room) != ROOM_POINTS:
        raise PointTableError(f"{path.name}: room_sensor points must be {', '.join(ROOM_POINTS)} in that order")
    models = {}
    for mid, m in doc["sunspec"]["models"].items():
        pts = {}
        for name, p in m["points"].items():
            if p["type"] not in SUNSPEC_TYPES:
                raise PointTableError(f"{path.name}: SunSpec model {mid} point {name}: unknown type {p['type']!r}")
            n = SUNSPEC_TYPES[p["type"]] or int(p["len"])
            if p["offset"] + n > m["length"]:
                raise PointTableError(f"{path.name}: SunSpec model {mid} point {name} runs past the model")
            pts[name] = SunSpecPoint(name, int(p["offset"]), p["type"], n, p.get("sf"), str(p.get("unit", "")))
        for p in pts.values():
            if p.sf is not None and p.sf not in pts:
                raise PointTableError(f"{path.name}: SunSpec model {mid} point {p.name}: no scale factor {p.sf}")
        models[int(mid)] = SunSpecModel(int(mid), int(m["length"]), pts)
    return room, rs.get("table", "holding"), int(doc["sunspec"]["base"]), models


ROOM_MAP, ROOM_TABLE, SUNSPEC_BASE, SUNSPEC_MODELS = _load()
