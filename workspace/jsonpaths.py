"""Field paths into JSON payloads: JMESPath expressions (https://jmespath.org, PyPI ``jmespath``), and the
number or time they select.

A plain dotted path (``energy.total``) is a JMESPath expression; so are a key with a colon, quoted
(``params."switch:0".aenergy.total``, a Shelly Gen2 notification), an array element
(``ENERGY.Voltage[0]``, a three-phase Tasmota), a function over an array (``sum(ENERGY.Power)``) and the
payload itself (``@``: a topic whose payload is a plain number, as Shelly Gen1 publishes them).

:func:`compile_path` checks an expression's syntax (when a configuration is loaded); :func:`number_at`
and :func:`time_of` evaluate one against a decoded payload and raise :class:`FieldError` with the reason
(the caller names the topic and the field).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
from jmespath import exceptions as jexc

MAX_PATH = 512  # [characters]; a field path is a few dozen
#: the time formats a mapping's time field may have
TIME_FORMATS = ("iso8601", "epoch_s", "epoch_ms")


class FieldError(ValueError):
    """A field could not be read; the text completes "field 'PATH' ..." (e.g. "is missing")."""


@functools.lru_cache(maxsize=4096)
def compile_path(expr: str):
    """The compiled JMESPath expression; :class:`ValueError` naming the problem when it is not one."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError("a field path must be a non-empty JMESPath expression")
    if len(expr) > MAX_PATH:
        raise ValueError(f"field path of {len(expr)} characters is longer than {MAX_PATH}")
    try:
        return jmespath.compile(expr)
    except jexc.JMESPathError as exc:
        quoted = " (quote keys with ':' or '-': params.\"switch:0\".apower)"
        hint = quoted if ":" in expr or "-" in expr else ""
        why = str(exc).splitlines()[0].removesuffix(", for expression:").removesuffix(" for expression:")
        raise ValueError(f"{expr!r} is not a JMESPath expression: {why}{hint}") from None


def describe(what: str, path: str, exc: FieldError) -> str:
    """A field's problem in words: ``<what> 'PATH' is missing``, ``<what> 'PATH': 'x' is not ISO 8601``."""
    msg = str(exc)
    return f"{what} {path!r}{' ' if msg.startswith(('is ', 'cannot ')) else ': '}{msg}"


def value_at(obj: Any, expr: str) -> Any:
    """The value ``expr`` selects in ``obj``; :class:`FieldError` when it selects nothing (null)."""
    try:
        v = compile_path(expr).search(obj)
    except jexc.JMESPathError as exc:  # a function given the wrong type (sum of strings, ...)
        raise FieldError(f"cannot be evaluated: {str(exc).splitlines()[0]}") from None
    except (OverflowError, ArithmeticError) as exc:  # avg/sum of integers too large for a float
        raise FieldError(f"cannot be evaluated: {exc}") from None
    if v is None:
        raise FieldError("is missing")
    return v


def number_at(obj: Any, expr: str) -> float:
    """The finite number ``expr`` selects in ``obj`` (a bool or a string is not a number)."""
    v = value_at(obj, expr)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise FieldError(f"is {type(v).__name__} {v!r:.40}, not a number")
    try:
        x = float(v)
    except OverflowError:
        raise FieldError("is too large for a float") from None
    if not math.isfinite(x):
        raise FieldError("is not finite")
    return x


def check_zone(zone: str) -> str:
    """``zone`` when it is an IANA time zone this machine knows; :class:`ValueError` otherwise."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r} (an IANA name such as Asia/Shanghai)") from None
    return zone


def time_of(obj: Any, expr: str, fmt: str, zone: str | None) -> dt.datetime:
    """The UTC time ``expr`` selects in ``obj``.

    ``fmt`` is ``iso8601`` (a text with an offset or ``Z``; without one it is read in ``zone``, as
    Tasmota's ``Time``: none given, it is refused), ``epoch_s`` or ``epoch_ms`` (since 1970-01-01 UTC).
    """
    if fmt == "iso8601":
        v = value_at(obj, expr)
        if not isinstance(v, str):
            raise FieldError(f"is {type(v).__name__}, not an ISO 8601 string")
        try:
            t = dt.datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith("Z") else v)
        except ValueError:
            raise FieldError(f"{v!r:.40} is not ISO 8601") from None
        if t.tzinfo is None:
            if zone is None:
                raise FieldError(f"{v!r} has no UTC offset (add Z or +08:00, or give the mapping's "
                                 f"time zone)")
            t = t.replace(tzinfo=ZoneInfo(zone))
        try:
            return t.astimezone(dt.timezone.utc)
        except (OverflowError, ValueError):  # 0001-01-01T00:00:00+08:00 is before the year 1 in UTC
            raise FieldError(f"{v!r:.40} is outside the years 1..9999 in UTC") from None
    x = number_at(obj, expr)
    seconds = x / 1000.0 if fmt == "epoch_ms" else x
    if not 0 <= seconds < 253402300800:  # 1970 .. 9999-12-31
        raise FieldError(f"{x!r} is outside 1970..9999 as {fmt}")
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
