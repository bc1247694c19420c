"""MQTT payloads: a message's JSON mapped onto a :class:`~workspace.batch.Reading` by its meter's
``mqtt`` mapping (JMESPath field paths, :mod:`workspace.jsonpaths`; the units each quantity is sent in;
an optional time field), or onto a :class:`Fragment` of a reading when the meter's messages are combined
per minute (several topics, or notifications carrying only what changed).

A message that cannot be mapped (not UTF-8, not JSON, a missing field, a wrong type, NaN, a negative
counter, a bad time) is refused with a :class:`PayloadError` naming the topic and the field; the
collector (:mod:`collectors.mqtt.client`) logs it, counts it and keeps it in quarantine.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from workspace.batch import Reading
from workspace.errors import CollectorError
from workspace.jsonpaths import FieldError, describe, number_at, time_of
from workspace.meters import QUANTITIES
from workspace.mqtt_mapping import MqttMapping
from workspace.site import Medium, Meter
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


@dataclass(frozen=True)
class Fragment:
    """What one message of a meter fed from several topics (or by partial messages) carries: some of
    the reading's quantities, in the reading's units, at one time; :mod:`collectors.mqtt.combine` makes
    one reading a minute of them."""

    meter: str
    time: dt.datetime
    values: dict[str, float]


def _fail(topic: str, what: str, path: str, exc: FieldError) -> PayloadError:
    return PayloadError(f"topic {topic!r}: {describe(what, path, exc)}")


def source_for(mapping: MqttMapping, topic: str):
    """The part of ``mapping`` whose topic filter matches ``topic`` (the mapping itself if single)."""
    if not mapping.parts:
        return mapping
    from paho.mqtt.client import topic_matches_sub

    for p in mapping.parts:
        if topic_matches_sub(p.topic, topic):
            return p
    raise PayloadError(f"topic {topic!r} matches none of the meter's parts")


def _time(obj: Any, src, topic: str, zone: str | None) -> dt.datetime:
    spec = src.time
    try:
        return time_of(obj, spec.field, spec.format, spec.zone or zone)
    except FieldError as exc:
        raise _fail(topic, "time field", spec.field, exc) from None


def _values(meter: Meter, src, obj: Any, topic: str) -> dict[str, float]:
    """The quantities ``src`` maps, in the reading's units (a partial source skips missing fields)."""
    fields = src.fields()
    if not isinstance(obj, dict) and not all(p.startswith("@") for p in fields.values()):
        raise PayloadError(f"topic {topic!r}: payload is a JSON {type(obj).__name__}, not an object")
    own = READING_UNITS[meter.medium == Medium.electricity]
    values: dict[str, float] = {}
    for q, path in fields.items():
        try:
            x = number_at(obj, path)
        except FieldError as exc:
            if src.partial and str(exc) == "is missing":
                continue
            raise _fail(topic, "field", path, exc) from None
        if q in src.scale:
            x = to_reading_unit(x, src.scale[q])
        unit = src.units.get(q, own[q])
        factor = MQTT_UNITS[q].get(unit)
        if factor is None or (q in ("counter", "rate") and unit not in mqtt_fits(meter.medium.value, q)):
            raise PayloadError(f"meter {meter.id}: unit {unit!r} of {q} does not fit its medium, "
                               f"{meter.medium.value}")
        values[q] = to_reading_unit(x, factor)
    if values.get("counter", 0.0) < 0:
        raise PayloadError(f"topic {topic!r}: counter {src.counter!r} is negative ({values['counter']!r})")
    return values


def map_payload(meter: Meter, obj: Any, topic: str, arrival: dt.datetime, *,
                zone: str | None = None) -> Reading:
    """The reading a decoded JSON payload carries for ``meter`` (one topic), in the reading's units.

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
    zone : str or None
        IANA zone of an ISO 8601 time without an offset when the mapping's time names none (the
        site's); None: such a time is refused.

    Raises
    ------
    PayloadError
        When the payload is not an object, a field is missing or not a finite number, the counter is
        negative, or the time is malformed.
    """
    mapping = meter.mqtt
    values = _values(meter, mapping, obj, topic)
    when = _time(obj, mapping, topic, zone) if mapping.time is not None else arrival
    nan = math.nan
    return Reading(meter.id, when, values["counter"], values.get("rate", nan), values.get("voltage", nan),
                   values.get("current", nan), values.get("power_factor", nan), 0)


def map_fragment(meter: Meter, obj: Any, topic: str, arrival: dt.datetime, *,
                 zone: str | None = None) -> Fragment:
    """The quantities one message carries for a meter whose messages are combined per minute
    (``parts``, or ``partial`` messages); a message with none of them is an empty fragment."""
    src = source_for(meter.mqtt, topic)
    values = _values(meter, src, obj, topic)
    when = _time(obj, src, topic, zone) if src.time is not None and values else arrival
    return Fragment(meter.id, when, values)


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
