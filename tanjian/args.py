"""What the commands share: the configuration the arguments name, the store it names, errors as exit codes."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

from workspace.errors import TanjianError


def config_from_args(args: argparse.Namespace):
    """The configuration named by ``--config`` (default: see :func:`workspace.config.default_path`),
    with ``--data-dir`` applied."""
    from workspace.config import load_config

    return load_config(getattr(args, "config", None), data_dir=getattr(args, "data_dir", None))


def open_store(cfg, *, create: bool = False):
    """The configuration's store (:meth:`workspace.store.Store.open`), after :func:`tanjian.startup.lazy_duck_arrays`."""
    from tanjian.startup import lazy_duck_arrays
    from workspace.store import Store

    lazy_duck_arrays()
    return Store.open(cfg.paths.store, cfg.site, create=create)


def guarded(fn: Callable[[argparse.Namespace], int],
            errors: tuple[type[BaseException], ...] = (TanjianError,)) -> Callable[[argparse.Namespace], int]:
    """``fn`` as a sub-command that prints ``error: ...`` and exits 1 on one of ``errors`` (instead of the
    traceback, or :func:`tanjian.cli.main`'s generic exit 2)."""
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except errors as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    run.__doc__ = fn.__doc__
    return run


# -- argument validation: one home for every command's ``type=`` validators ----------------------------
#: Earliest date any command accepts: 1990-01-01, the base year of the Kyoto Protocol and the earliest
#: base year a GHG inventory uses; no meter reading, bill or inventory of a plant here predates it.
EARLIEST_DATE = dt.date(1990, 1, 1)
#: Latest date any command accepts (exclusive): far beyond any plant's reading, within every time axis.
LATEST_DATE = dt.date(2100, 1, 1)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``tanjian CMD: --opt VALUE: why``, exit status 2
    (no usage block, never a traceback). Sub-command parsers inherit the class."""

    def error(self, message: str):  # noqa: D102 (argparse's hook)
        m = re.match(r"argument ([^:]+): (.*)$", message, re.S)
        if m:
            opt, why = m.groups()
            message = f"{opt.split('/')[0]} {why}"
        self.exit(2, f"{self.prog}: {' '.join(message.split())}\n")


def _bad(value: str, why: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{value}: {why}")


def _in_range(value: str, d: dt.date) -> None:
    if not EARLIEST_DATE <= d < LATEST_DATE:
        raise _bad(value, f"outside {EARLIEST_DATE.isoformat()} .. {(LATEST_DATE - dt.timedelta(days=1)).isoformat()}")


def local_time(value: str) -> str:
    """An ISO 8601 date or date and time (local unless zoned), e.g. ``2026-11-24`` or ``2026-11-24 08:00``,
    from :data:`EARLIEST_DATE` on; returned unchanged."""
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        why = str(exc) if "out of range" in str(exc) else "not an ISO 8601 date or time (YYYY-MM-DD[ HH:MM])"
        raise _bad(value, why) from None
    _in_range(value, t.date())
    return value


def local_date(value: str) -> str:
    """A calendar date ``YYYY-MM-DD`` from :data:`EARLIEST_DATE` on; returned unchanged."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise _bad(value, "not a date YYYY-MM-DD")
    try:
        d = dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise _bad(value, str(exc)) from None
    _in_range(value, d)
    return value


def month(value: str) -> str:
    """A calendar month ``YYYY-MM`` from :data:`EARLIEST_DATE` on; returned unchanged."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise _bad(value, "not a month YYYY-MM")
    _in_range(value, dt.date(int(m.group(1)), int(m.group(2)), 1))
    return value


def year(value: str) -> int:
    """A calendar year from :data:`EARLIEST_DATE`'s on."""
    if not re.fullmatch(r"\d{4}", value.strip()):
        raise _bad(value, "not a year YYYY")
    _in_range(value, dt.date(int(value), 1, 1))
    return int(value)


def frequency(value: str) -> str:
    """A positive pandas frequency (``15min``, ``1h``, ``1D``, ``MS``) or ``total``; returned unchanged."""
    if value == "total":
        return value
    import pandas as pd

    try:
        off = pd.tseries.frequencies.to_offset(value)
    except (ValueError, TypeError):
        raise _bad(value, "not a frequency (e.g. 15min, 1h, 1D, MS, or total)") from None
    if off is None or off.n <= 0:
        raise _bad(value, "a frequency must be positive")
    return value


def _number(value: str, kind=float):
    try:
        x = kind(value)
    except (ValueError, OverflowError):
        raise _bad(value, f"not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and not math.isfinite(x):
        raise _bad(value, "not a finite number")
    return x


def finite(value: str) -> float:
    """Any finite number."""
    return _number(value)


def nonnegative(value: str) -> float:
    """A finite number >= 0 (a counter, an amount)."""
    x = _number(value)
    if x < 0:
        raise _bad(value, "must not be negative")
    return x


def positive(value: str) -> float:
    """A finite number > 0 (a period, a speed)."""
    x = _number(value)
    if x <= 0:
        raise _bad(value, "must be positive")
    return x


def fraction(value: str) -> float:
    """A number strictly between 0 and 1 (a coverage)."""
    x = _number(value)
    if not 0 < x < 1:
        raise _bad(value, "must be between 0 and 1")
    return x


def count(value: str) -> int:
    """An integer >= 0."""
    n = _number(value, int)
    if n < 0:
        raise _bad(value, "must not be negative")
    return n


def positive_int(value: str) -> int:
    """An integer >= 1."""
    n = _number(value, int)
    if n < 1:
        raise _bad(value, "must be at least 1")
    return n


def hours(value: str) -> list[int]:
    """Local clock hours: a comma list of hours or ranges ``START-END`` (END excluded), e.g. ``20-22`` →
    [20, 21] or ``0-2,23`` → [0, 1, 23]."""
    out: set[int] = set()
    for part in value.split(","):
        part = part.strip()
        a, sep, b = part.partition("-")
        try:
            lo = int(a)
            hi = int(b) if sep else lo + 1
        except ValueError:
            raise _bad(value, "not hours (e.g. 20-22 or 0-2,23)") from None
        if not 0 <= lo < hi <= 24:
            raise _bad(value, f"{part}: hours are 0..23 and a range START-END needs START < END <= 24")
        out.update(range(lo, hi))
    return sorted(out)


def port(value: str) -> int:
    """A TCP port 1..65535."""
    n = _number(value, int)
    if not 1 <= n <= 65535:
        raise _bad(value, "not a TCP port (1..65535)")
    return n


def port_offset(value: str) -> int:
    """An offset added to every port, -65535..65535 (the ports it gives must still be valid)."""
    n = _number(value, int)
    if not -65535 <= n <= 65535:
        raise _bad(value, "must be between -65535 and 65535")
    return n


def period(start: str, end: str, *, command: str, options: tuple[str, str] = ("--start", "--end"),
           inclusive: bool = False) -> None:
    """Refuse a period whose end is not after its start (``start``/``end`` as :func:`local_time` took them),
    or, for ``inclusive`` days (``--from``/``--to``), before it."""
    a, b = dt.datetime.fromisoformat(start.strip()), dt.datetime.fromisoformat(end.strip())
    if (a.tzinfo is None) != (b.tzinfo is None):
        return  # one zoned, one local: the store compares them in the site's zone
    if b < a or (b == a and not inclusive):
        raise ArgumentRefused(f"tanjian {command}: {options[1]} {end}: "
                              f"{'before' if inclusive else 'not after'} {options[0]} {start}")


def known_meter(cfg, meter: str, *, command: str, option: str = "--meter") -> None:
    """Refuse a meter id the site model does not have."""
    if meter not in cfg.site.meter_ids():
        raise ArgumentRefused(f"tanjian {command}: {option} {meter}: unknown meter "
                              f"(see the site model: `tanjian config check`)")


class ArgumentRefused(Exception):
    """An argument refused after parsing (it needs the configuration); :func:`tanjian.cli.main` prints it
    as is, one line, and exits 2."""


def existing_file(value: str) -> Path:
    """A file that exists and can be read."""
    p = Path(value)
    if not value.strip() or "\x00" in value:
        raise _bad(value, "not a file name")
    try:
        if not p.is_file():
            raise _bad(value, "no such file" if not p.exists() else "not a file")
        with p.open("rb"):
            pass
    except OSError as exc:
        raise _bad(value, exc.strerror or str(exc)) from None
    return p


def existing_dir(value: str) -> Path:
    """A folder that exists."""
    p = Path(value)
    if not value.strip() or "\x00" in value:
        raise _bad(value, "not a folder name")
    try:
        if not p.is_dir():
            raise _bad(value, "no such folder" if not p.exists() else "not a folder")
    except OSError as exc:
        raise _bad(value, exc.strerror or str(exc)) from None
    return p


def path_name(value: str) -> Path:
    """A file or folder name (it need not exist): not empty, no NUL character."""
    if not value.strip() or "\x00" in value:
        raise _bad(value, "not a file name")
    return Path(value)


def clock(value: str) -> str:
    """``wall`` or a simulated clock ``<ISO origin>@<wall origin>x<speed>`` (speed > 0); returned unchanged."""
    from workspace.clock import Clock

    try:
        c = Clock.parse(value)
    except (ValueError, TypeError, OverflowError):
        raise _bad(value, "not 'wall' nor a clock ORIGIN@WALLxSPEED, e.g. 2026-03-02T00:00Z@1767225600x60") \
            from None
    if c.origin is not None and not (math.isfinite(c.speed) and c.speed > 0 and math.isfinite(c.wall_origin)):
        raise _bad(value, "the clock's speed must be a positive number")
    return value


def uri(value: str) -> str:
    """An ASCII URI ``scheme:rest`` (an application URI of a certificate)."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*:[!-~]+", value):
        raise _bad(value, "not an ASCII URI scheme:rest (e.g. urn:tanjian:collector)")
    return value


def hostname(value: str) -> str:
    """A host name or IP address (ASCII letters, digits, dots, hyphens, colons)."""
    if not re.fullmatch(r"[A-Za-z0-9:]([A-Za-z0-9_.:\-]{0,252})", value):
        raise _bad(value, "not a host name")
    return value


def file_stem(value: str) -> str:
    """A plain file name stem: letters, digits, ``_ . -``."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}", value):
        raise _bad(value, "not a file name stem (letters, digits, _ . -)")
    return value


def new_file(value: str) -> Path:
    """A file to write (:func:`path_name`, and not a folder)."""
    p = path_name(value)
    try:
        folder = p.is_dir()
    except OSError as exc:
        raise _bad(value, exc.strerror or str(exc)) from None
    if folder:
        raise _bad(value, "is a folder: a file name is needed")
    return p


def counter(value: str) -> float:
    """A register's value: a number >= 0 below 10**MAX_REGISTER_DIGITS (the widest register; a meter's
    own ``register_digits`` is checked with the configuration, :func:`fits_register`)."""
    from workspace.business.manual import MAX_REGISTER_DIGITS

    x = nonnegative(value)
    if x >= 10.0 ** MAX_REGISTER_DIGITS:
        raise _bad(value, f"no register shows {MAX_REGISTER_DIGITS + 1} digits or more")
    return x


def fits_register(cfg, meter: str, value: float, *, command: str, option: str) -> None:
    """Refuse a counter value ``meter``'s register cannot show (:func:`workspace.business.manual.register_limit`)."""
    from workspace.business.manual import register_limit

    top, source = register_limit(cfg.site, meter)
    if value >= top:
        raise ArgumentRefused(f"tanjian {command}: {option} {value:g}: {meter}'s register shows less than "
                              f"{top:,.0f} ({source})")


def host_port(value: str) -> str:
    """``HOST:PORT`` (a listening address); returned unchanged."""
    host, _, p = value.rpartition(":")
    try:
        hostname(host[1:-1] if host.startswith("[") and host.endswith("]") else host)  # [::1]
        port(p)
    except argparse.ArgumentTypeError:
        raise _bad(value, "expected HOST:PORT, e.g. 127.0.0.1:8480") from None
    return value
