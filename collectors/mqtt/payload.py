"""MQTT payloads: a message's JSON mapped onto a :class:`~workspace.batch.Reading` by its meter's
``mqtt`` mapping (dotted field paths, the units each quantity is sent in, an optional time field).

A message that cannot be mapped (not UTF-8, not JSON, a missing field, a wrong type, NaN, a negative
counter, a bad time) is refused with a :class:`PayloadError` naming the topic and the field; the
collector (:mod:`collectors.mqtt.client`) logs it, counts it and keeps it in quarantine.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from workspace.batch import Reading
from workspace.errors import CollectorError
from workspace.meters import QUANTITIES
from workspace.site import Medium, Meter, MqttMapping
from workspace.units import MQTT_SPELLINGS, MQTT_UNITS, mqtt_fits

#: the unit a reading carries each quantity in, by medium (electric or not): the first spelling of
#: :data:`workspace.units.MQTT_SPELLINGS`, what the mapping's ``units`` convert to
READING_UNITS = {elec: {q: MQTT_SPELLINGS[q][elec][0] for q in QUANTITIES} for elec in (True, False)}
MAX_PAYLOAD = 64 * 1024  # [bytes]; a reading is a few hundred


class PayloadError(CollectorError):
    """A message was refused; the text says which topic, which field and why."""


# -- payload mapping ---------------------------------------------------------------------------------
def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(data: bytes, topic: str) -> Any:
    """The JSON value of a message; NaN and Infinity (which strict JSON lacks) are refused."""
    if len(data) > MAX_PAYLOAD:
        raise PayloadError(f"topic {topic!r}: payload of {len(data)} bytes is larger than {MAX_PAYLOAD}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"topic {topic!r}: payload is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise PayloadError(f"topic {topic!r}: payload nests too deeply") from None
    except ValueError as exc:
        raise PayloadError(f"topic {topic!r}: payload is not JSON: {exc}") from None


def field_value(obj: Any, path: str, topic: str) -> Any:
    """The value at a dotted ``path`` of a JSON object; :class:`PayloadError` when it is absent."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            raise PayloadError(f"topic {topic!r}: field {path!r}: {part!r} is inside a "
                               f"{type(cur).__name__}, not an object")
        if part not in cur:
            raise PayloadError(f"topic {topic!r}: field {path!r} is missing")
        cur = cur[part]
    return cur


def _number(obj: Any, path: str, topic: str) -> float:
    v = field_value(obj, path, topic)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PayloadError(f"topic {topic!r}: field {path!r} is {type(v).__name__} {v!r:.40}, not a number")
    try:
        x = float(v)
    except OverflowError:
        raise PayloadError(f"topic {topic!r}: field {path!r} is too large for a float") from None
    if not math.isfinite(x):
        raise PayloadError(f"topic {topic!r}: field {path!r} is not finite")
    return x


def _time(obj: Any, mapping: MqttMapping, topic: str) -> dt.datetime:
    spec = mapping.time
    v = field_value(obj, spec.field, topic)
    where = f"topic {topic!r}: time field {spec.field!r}"
    if spec.format == "iso8601":
        if not isinstance(v, str):
            raise PayloadError(f"{where} is {type(v).__name__}, not an ISO 8601 string")
        try:
            t = dt.datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith("Z") else v)
        except ValueError:
            raise PayloadError(f"{where}: {v!r:.40} is not ISO 8601") from None
        if t.tzinfo is None:
            raise PayloadError(f"{where}: {v!r} has no UTC offset (add Z or +08:00)")
        return t.astimezone(dt.timezone.utc)
    x = _number(obj, spec.field, topic)
    seconds = x / 1000.0 if spec.format == "epoch_ms" else x
    if not 0 <= seconds < 253402300800:  # 1970 .. 9999-12-31
        raise PayloadError(f"{where}: {x!r} is outside 1970..9999 as {spec.format}")
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def map_payload(meter: Meter, obj: Any, topic: str, arrival: dt.datetime) -> Reading:
    """The reading a decoded JSON payload carries for ``meter``, in the reading's units.

    Parameters
    ----------
    meter : Meter
        With its ``mqtt`` mapping.
    obj : object
        The decoded JSON (:func:`parse_json`).
    topic : str
        For the messages of errors.
    arrival : datetime.datetime
        When the message arrived; the reading's time unless the mapping names a time field.

    Raises
    ------
    PayloadError
        When the payload is not an object, a field is missing or not a finite number, the counter is
        negative, or the time is malformed.
    """
    mapping = meter.mqtt
    if not isinstance(obj, dict):
        raise PayloadError(f"topic {topic!r}: payload is a JSON {type(obj).__name__}, not an object")
    own = READING_UNITS[meter.medium == Medium.electricity]
    values: dict[str, float] = {}
    for q in QUANTITIES:
        path = getattr(mapping, q)
        if path is None:
            values[q] = math.nan
            continue
        x = _number(obj, path, topic)
        unit = mapping.units.get(q, own[q])
        factor = MQTT_UNITS[q].get(unit)
        if factor is None or (q in ("counter", "rate") and unit not in mqtt_fits(meter.medium.value, q)):
            raise PayloadError(f"meter {meter.id}: unit {unit!r} of {q} does not fit its medium, "
                               f"{meter.medium.value}")
        values[q] = to_reading_unit(x, factor)
    if values["counter"] < 0:
        raise PayloadError(f"topic {topic!r}: counter {mapping.counter!r} is negative "
                           f"({values['counter']!r})")
    when = _time(obj, mapping, topic) if mapping.time is not None else arrival
    return Reading(meter.id, when, values["counter"], values["rate"], values["voltage"], values["current"],
                   values["power_factor"], 0)


def to_reading_unit(x: float, factor: float) -> float:
    """``x * factor``, dividing by the exact integer when the factor is one's reciprocal (Wh -> kWh
    divides by 1000, so 1234567 Wh is exactly the double nearest 1234.567 kWh)."""
    if factor < 1:
        inv = 1 / factor
        if abs(inv - round(inv)) < 1e-9:
            return x / round(inv)
    return x * factor


def from_reading_unit(x: float, factor: float) -> float:
    """Inverse of :func:`to_reading_unit` (for publishers and tests)."""
    if factor < 1:
        inv = 1 / factor
        if abs(inv - round(inv)) < 1e-9:
            return x * round(inv)
    return x / factor
