"""Hand readings: a meter reader's value, checked for plausibility, with a photo as evidence.

A reading taken by hand goes the way every edit goes: the photo is stored in the content-addressed
evidence store (:mod:`workspace.evidence`), and a ``manual_reading`` request naming the photo's SHA-256
is dropped into the inbox (:mod:`workspace.inbox`). The collector (or ``tanjian fold``) journals it as a
batch of one reading flagged :attr:`~workspace.quality.Q.MANUAL` whose ``note`` carries the reader, the
photo's hash and when it was entered; so the photo's hash is inside that batch's ledger leaf, and the
reading is folded into energy like any other.

Before anything is stored, :func:`check_plausible` compares the value with the meter's last stored
reading and its rating. Its :class:`Problem` s are *errors* (the value cannot be right, or the store
would reject or withhold it: nothing is queued) or *warnings* (possible but unusual: the reader must
confirm).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from ..errors import TanjianError, UnknownMeter
from ..evidence import Evidence, EvidenceStore
from ..inbox import submit
from ..quality import SPIKE_MARGIN
from ..site import Medium, Site

log = logging.getLogger(__name__)

#: a reading time this far past the server's clock is still accepted (phones' clocks drift) [s]
FUTURE_TOLERANCE_S = 300.0
#: media types accepted for the photo
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")
#: the largest photo accepted [bytes] (a phone's full-resolution JPEG is 2–8 MB)
MAX_PHOTO_BYTES = 20 * 1024 * 1024
#: integer digits of a meter's register when the site model does not give ``register_digits``: no
#: register of a meter family here has more (DL/T 645-2007 energy is BCD XXXXXX.XX, 6 digits; the
#: 8-digit displays of IEC 62053 meters; a Modbus float32 counter resolves 1 kWh only up to 2**24), so a
#: hand reading of 10**10 or more is a typing error, refused even when confirmed
MAX_REGISTER_DIGITS = 10


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`check_plausible`.

    Attributes
    ----------
    severity : {"error", "warning"}
        An error blocks the submission; a warning needs the reader's explicit confirmation.
    code : str
        Stable identifier (``time_future``, ``counter_below_last``, ``above_rating``, ...).
    message : str
        What is wrong, naming the meter, the last reading and the limit.
    """

    severity: str
    code: str
    message: str


@dataclass(frozen=True)
class LastReading:
    """The last good stored reading of a meter (the fold state's: spikes excluded).

    Attributes
    ----------
    time : datetime.datetime
        Start of its one-minute slot, in the site's zone.
    counter : float
        Counter value [kWh or m3].
    """

    time: dt.datetime
    counter: float


def last_reading(store, meter: str, as_of=None) -> LastReading | None:
    """The last good reading of ``meter`` folded into ``store`` (None if it has none).

    Parameters
    ----------
    store : workspace.store.Store
    meter : str
    as_of : snapshot id or datetime, optional
    """
    if meter not in store._midx:
        raise UnknownMeter(f"unknown meter {meter!r} (see the site model: `tanjian config check`)")
    state = store.dataset(as_of).attrs.get("fold", {})
    p = state.get("prev", {}).get(meter)
    if p is None or state.get("origin") is None:
        return None
    origin = dt.datetime.fromisoformat(state["origin"])
    t = origin + int(p[0]) * dt.timedelta(minutes=1)
    return LastReading(t.astimezone(store.tz), float(p[1]))


def queued_reading(inbox: str | os.PathLike | None, meter: str, tz: ZoneInfo) -> LastReading | None:
    """The newest hand reading of ``meter`` still waiting in the inbox (not yet journaled), if any.

    Requests that cannot be read are skipped here (the collector rejects them with a reason)."""
    import json

    if inbox is None or not Path(inbox).is_dir():
        return None
    best = None
    for path in Path(inbox).glob("*.json"):
        try:
            req = json.loads(path.read_text())
            if req.get("kind") != "manual_reading" or req.get("meter") != meter:
                continue
            t = dt.datetime.fromisoformat(str(req["time"]).replace("Z", "+00:00"))
            r = LastReading(t.astimezone(tz).replace(second=0, microsecond=0), float(req["counter"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if t.tzinfo is not None and (best is None or r.time > best.time):
            best = r
    return best


def swaps_after(store, meter: str, after: dt.datetime, as_of=None) -> list[tuple[dt.datetime, float, float]]:
    """Meter swaps (``tanjian replace-meter``) of ``meter`` folded after ``after``:
    ``(time, old meter's final counter, new meter's initial counter)``, oldest first."""
    state = store.dataset(as_of).attrs.get("fold", {})
    if state.get("origin") is None:
        return []
    origin = dt.datetime.fromisoformat(state["origin"])
    out = []
    for slot, old_final, new_initial in state.get("events", {}).get(meter, []):
        t = (origin + int(slot) * dt.timedelta(minutes=1)).astimezone(store.tz)
        if t > after:
            out.append((t, float(old_final), float(new_initial)))
    return sorted(out)


def rating(site: Site, meter: str) -> tuple[float | None, str]:
    """The largest plausible rate of ``meter`` [kW or m3/h] and where it comes from.

    The meter's own ``rated_power_kw`` first; else the rating of the single device it measures
    (``rated_power_kw`` for electricity, ``rated_flow_m3h`` for gas, water and air).
    """
    m = site.meter(meter)
    if m.rated_power_kw is not None:
        return m.rated_power_kw, f"meter {m.id} rated_power_kw"
    if m.device is not None:
        d = site.device(m.device)
        if m.medium == Medium.electricity and d.rated_power_kw > 0:
            return d.rated_power_kw, f"device {d.id} rated_power_kw"
        if m.medium != Medium.electricity and d.rated_flow_m3h is not None:
            return d.rated_flow_m3h, f"device {d.id} rated_flow_m3h"
    return None, "no rating in the site model"


def register_limit(site: Site, meter: str) -> tuple[float, str]:
    """The first value ``meter``'s register cannot show, and where it comes from: 10**``register_digits``
    of the meter, else where its family's integer counter wraps to zero
    (:func:`workspace.meters.counter_wrap`), else 10**:data:`MAX_REGISTER_DIGITS`."""
    from ..meters import counter_wrap

    m = site.meter(meter)
    if m.register_digits is not None:
        return 10.0 ** m.register_digits, f"meter {m.id} register_digits {m.register_digits}"
    wrap = counter_wrap(m.family)
    if wrap is not None:
        return wrap, f"family {m.family}'s counter register wraps there"
    return 10.0 ** MAX_REGISTER_DIGITS, f"the widest register ({MAX_REGISTER_DIGITS} digits)"


def ceiling(site: Site, meter: str) -> tuple[float | None, str]:
    """The largest rate any electricity meter of the site can see when it has no rating of its own: the
    plant's transformers' rated power together [kVA, an upper bound of kW] (None for other media)."""
    m = site.meter(meter)
    if m.medium != Medium.electricity or not site.transformers:
        return None, "no ceiling"
    return sum(t.rated_kva for t in site.transformers), "the plant's transformers' rated_kva together"


def _units(site: Site, meter: str) -> tuple[str, str]:
    from ..units import MEDIUM_UNITS

    return MEDIUM_UNITS[site.meter(meter).medium]


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def check_plausible(site: Site, store, meter: str, time: dt.datetime, counter: float, *,
                    now: dt.datetime | None = None, as_of=None,
                    inbox: str | os.PathLike | None = None) -> list[Problem]:
    """What is implausible about reading ``counter`` on ``meter`` at ``time``.

    Parameters
    ----------
    site : Site
    store : workspace.store.Store or None
        Where the last reading is looked up (None: the workspace has no store yet).
    meter : str
        Meter id.
    time : datetime.datetime
        When the value was read (timezone-aware; naive is the site's local time).
    counter : float
        The value on the meter's register [kWh or m3].
    now : datetime.datetime, optional
        The present (default: the wall clock).
    as_of : optional
        Store version to compare with.
    inbox : path, optional
        ``cfg.paths.inbox``: a hand reading of the meter waiting there, newer than the stored one, is
        the last reading compared with (so that a reading submitted twice is caught before it is
        journaled).

    Returns
    -------
    list of Problem
        Empty when the reading is plausible. Errors: the meter is unknown, the value is not a
        number >= 0, the value does not fit the register (:func:`register_limit`, also when confirmed),
        the time is more than :data:`FUTURE_TOLERANCE_S` in the future, the counter is
        below the last stored reading (and no meter swap was recorded since), the average rate since
        the last reading exceeds the rating × :data:`~workspace.quality.SPIKE_MARGIN` (the store
        would withhold the energy as a SPIKE), an electricity meter without a rating draws more than the
        plant's transformers can give × that margin (:func:`ceiling`), the minute already holds a reading, or a reading
        older than the last is above it. Warnings: no stored reading to compare with, no rating to
        compare with, a time before the last reading (it is stored as a late reading).
    """
    tz = ZoneInfo(site.plant.timezone)
    try:
        m = site.meter(meter)
    except KeyError:
        return [Problem("error", "unknown_meter", f"unknown meter {meter!r}: not in the site model")]
    if time.tzinfo is None:
        time = time.replace(tzinfo=tz)
    now = now or dt.datetime.now(dt.timezone.utc)
    unit, rate_unit = _units(site, meter)
    out: list[Problem] = []
    if counter is None or not isinstance(counter, (int, float)) or not math.isfinite(counter) or counter < 0:
        return [Problem("error", "not_a_number", f"{m.id}: the value {counter!r} must be a number >= 0 [{unit}]")]
    top, top_source = register_limit(site, meter)
    if counter >= top:  # an error whatever else is found (the checks below add what they find)
        out.append(Problem("error", "above_register",
                           f"{m.id}: {counter:,.6g} {unit} cannot be on the register: it shows less than "
                           f"{top:,.0f} {unit} ({top_source})"))
    if (time - now).total_seconds() > FUTURE_TOLERANCE_S:
        out.append(Problem("error", "time_future",
                           f"{m.id}: the reading time {_fmt(time.astimezone(tz))} is in the future (now "
                           f"{_fmt(now.astimezone(tz))}); check the phone's clock"))
    last = last_reading(store, meter, as_of) if store is not None else None
    queued = queued_reading(inbox, meter, tz)
    what = "the last reading"
    if queued is not None and (last is None or queued.time > last.time):
        last, what = queued, "the queued hand reading"
    limit, source = rating(site, meter)
    if last is None:
        out.append(Problem("warning", "no_history",
                           f"{m.id} has no stored reading yet: {counter:,.2f} {unit} cannot be compared with a "
                           f"previous one"))
        return out
    last_txt = f"{what} {last.counter:,.2f} {unit} at {_fmt(last.time)}"
    slot = time.astimezone(dt.timezone.utc).replace(second=0, microsecond=0)
    last_slot = last.time.astimezone(dt.timezone.utc).replace(second=0, microsecond=0)
    if slot == last_slot:
        out.append(Problem("error", "slot_taken",
                           f"{m.id}: {last_txt} is in the same minute; a second reading of that minute "
                           f"would be stored as a DUPLICATE and ignored"))
        return out
    if slot < last_slot:
        out.append(Problem("warning", "before_last",
                           f"{m.id}: the reading time {_fmt(time.astimezone(tz))} is before {last_txt}; it "
                           f"will be stored as a late reading (OUT_OF_ORDER)"))
        if counter > last.counter:
            out.append(Problem("error", "above_later",
                               f"{m.id}: {counter:,.2f} {unit} at {_fmt(time.astimezone(tz))} is above {last_txt}, "
                               f"which is later: a counter does not run backwards"))
        return out
    swaps = swaps_after(store, meter, last.time, as_of)
    swaps = [s for s in swaps if s[0] <= time]
    if swaps:
        t_sw, old_final, new_initial = swaps[-1]
        delta = (old_final - last.counter) + (counter - new_initial)
        if counter < new_initial:
            out.append(Problem("error", "counter_below_last",
                               f"{m.id}: {counter:,.2f} {unit} is below the new meter's initial reading "
                               f"{new_initial:,.2f} {unit} (swapped at {_fmt(t_sw)})"))
            return out
    else:
        delta = counter - last.counter
        if delta < 0:
            out.append(Problem("error", "counter_below_last",
                               f"{m.id}: {counter:,.2f} {unit} is below {last_txt}; if the meter was "
                               f"replaced, record the swap first (`tanjian replace-meter`)"))
            return out
    hours = (slot - last_slot).total_seconds() / 3600
    roof, roof_source = ceiling(site, meter)
    if limit is None and roof is not None and delta / hours > roof * SPIKE_MARGIN + 1e-9:
        out.append(Problem("error", "above_ceiling",
                           f"{m.id}: {counter:,.2f} {unit} means {delta:,.2f} {unit} since {last_txt}, an "
                           f"average of {delta / hours:,.1f} {rate_unit} over {hours:,.2f} h, above what the "
                           f"whole plant can draw: {roof * SPIKE_MARGIN:,.1f} {rate_unit} ({roof_source} "
                           f"{roof:,.1f} × {SPIKE_MARGIN})"))
    elif limit is None:
        out.append(Problem("warning", "no_rating",
                           f"{m.id}: {source}, so the rate since {last_txt} "
                           f"({delta / hours:,.1f} {rate_unit} on average) cannot be checked"))
    elif delta / hours > limit * SPIKE_MARGIN + 1e-9:
        out.append(Problem("error", "above_rating",
                           f"{m.id}: {counter:,.2f} {unit} means {delta:,.2f} {unit} since {last_txt}, an "
                           f"average of {delta / hours:,.1f} {rate_unit} over {hours:,.2f} h, above the limit "
                           f"{limit * SPIKE_MARGIN:,.1f} {rate_unit} ({source} {limit:,.1f} × {SPIKE_MARGIN})"))
    return out


def blocking(problems: list[Problem], confirmed: bool) -> list[Problem]:
    """The problems that stop a submission: every error, and the warnings unless ``confirmed``."""
    return [p for p in problems if p.severity == "error" or not confirmed]


@dataclass(frozen=True)
class Submitted:
    """A queued hand reading: the inbox request's file and the stored photo."""

    request: Path
    photo: Evidence
    problems: list[Problem]


def photo_media_type(data: bytes) -> str:
    """The photo's media type from its bytes (JPEG, PNG, WebP, HEIF); raises if it is none of them."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
        return "image/heic"
    raise TanjianError("the photo is not a JPEG, PNG, WebP or HEIC image")


def submit_manual_reading(site: Site, store, inbox: str | os.PathLike, evidence: str | os.PathLike, *,
                          meter: str, time: dt.datetime, counter: float, reader: str, photo: bytes,
                          photo_name: str = "photo.jpg", reason: str = "hand reading",
                          confirmed: bool = False, device_time: dt.datetime | None = None,
                          now: dt.datetime | None = None) -> Submitted:
    """Check a hand reading, store its photo as evidence and queue it for the ledger.

    Parameters
    ----------
    site : Site
    store : workspace.store.Store or None
        For the plausibility check (None: no store yet).
    inbox, evidence : path
        ``cfg.paths.inbox`` and ``cfg.paths.evidence``.
    meter : str
    time : datetime.datetime
        When the value was read (naive: the site's local time).
    counter : float
        The register's value [kWh or m3].
    reader : str
        Who read it (recorded as the request's author).
    photo : bytes
        The photo of the meter's display (JPEG, PNG, WebP or HEIC; at most :data:`MAX_PHOTO_BYTES`).
    photo_name : str
        The photo's original file name (kept in the evidence sidecar).
    reason : str
        Why it was read by hand (default "hand reading").
    confirmed : bool
        The reader confirmed the warnings of :func:`check_plausible`.
    device_time : datetime.datetime, optional
        The reader's device clock when the value was entered (recorded beside the server's).
    now : datetime.datetime, optional
        The present (default: the wall clock).

    Returns
    -------
    Submitted

    Raises
    ------
    TanjianError
        When the reader's name or the photo is missing, the photo is not an image, or a problem
        blocks the submission (its messages are in the error); nothing is stored then.
    """
    if not str(reader or "").strip():
        raise TanjianError(f"{meter}: a hand reading needs the reader's name")
    if not photo:
        raise TanjianError(f"{meter}: a hand reading needs a photo of the meter's display")
    if len(photo) > MAX_PHOTO_BYTES:
        raise TanjianError(f"{meter}: the photo has {len(photo):,} bytes, more than {MAX_PHOTO_BYTES:,}")
    media_type = photo_media_type(photo)
    tz = ZoneInfo(site.plant.timezone)
    if time.tzinfo is None:
        time = time.replace(tzinfo=tz)
    now = now or dt.datetime.now(dt.timezone.utc)
    problems = check_plausible(site, store, meter, time, counter, now=now, inbox=inbox)
    stop = blocking(problems, confirmed)
    if stop:
        raise TanjianError("; ".join(p.message for p in stop)
                           + ("" if any(p.severity == "error" for p in stop) else " (confirm to submit anyway)"))
    ev = EvidenceStore(evidence).put(photo, name=photo_name, media_type=media_type, author=reader.strip(),
                                     reason=f"hand reading of {meter} at {time.isoformat()}")
    request = {"kind": "manual_reading", "author": reader.strip(), "reason": reason, "meter": meter,
               "time": time.isoformat(), "counter": float(counter), "photo_sha256": ev.sha256,
               "submitted_at": now.isoformat()}
    if device_time is not None:
        request["device_time"] = (device_time if device_time.tzinfo else device_time.replace(tzinfo=tz)).isoformat()
    if problems:
        request["confirmed_warnings"] = [p.code for p in problems]
    path = submit(inbox, request)
    log.info("hand reading of %s = %s by %s at %s queued (%s), photo sha256 %s", meter, counter, reader,
             time.isoformat(), path.name, ev.sha256)
    return Submitted(path, ev, problems)
