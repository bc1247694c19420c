"""The ISA-18.2 alarm state machine (ANSI/ISA-18.2-2016, clause 10 "alarm states" and figure 7):
the states an alarm can be in and what each event does to it. Pure: no time, no storage.

States (the standard's abbreviations): ``NORM`` normal; ``UNACK`` unacknowledged, active; ``ACKED``
acknowledged, active; ``RTNUN`` returned to normal, unacknowledged; ``SHLVD`` shelved (an operator took
it out of view, with a reason and an expiry); ``DSUPR`` suppressed by design (logic suppresses it, e.g.
a device's threshold alarm while the device is offline). Out of service (``OOSRV``) is a rule's
``enabled: false``: it is never evaluated.

Events: ``raise`` (the condition, after its on-delay, is active), ``clear`` (inactive, after its
off-delay), ``ack`` (a named person acknowledged), ``shelve``, ``unshelve`` (by a person or at the expiry),
``suppress`` and ``release`` (design suppression starts or ends). Alarms are non-latching: an
acknowledged alarm whose condition clears goes straight to NORM.
"""

from __future__ import annotations

from enum import Enum


class State(str, Enum):
    NORM = "NORM"
    UNACK = "UNACK"
    ACKED = "ACKED"
    RTNUN = "RTNUN"
    SHLVD = "SHLVD"
    DSUPR = "DSUPR"


#: states in which the alarm is shown to an operator (annunciated)
SHOWN = (State.UNACK, State.ACKED, State.RTNUN)
#: states in which the process condition is active
ACTIVE = (State.UNACK, State.ACKED)


class BadTransition(ValueError):
    """An event that does not apply to the alarm's state (e.g. acknowledging a normal alarm)."""


_TABLE: dict[tuple[State, str], State] = {
    (State.NORM, "raise"): State.UNACK,
    (State.UNACK, "ack"): State.ACKED,
    (State.UNACK, "clear"): State.RTNUN,
    (State.ACKED, "clear"): State.NORM,
    (State.RTNUN, "ack"): State.NORM,
    (State.RTNUN, "raise"): State.UNACK,  # a repeat before anyone acknowledged: unacknowledged again
}


def next_state(state: State | str, event: str, *, active: bool = False) -> State:
    """The state after ``event``. ``active`` is whether the condition is active now (what an alarm
    returns to when it is unshelved or released from suppression).

    Raises :class:`BadTransition` for an event that does not apply.
    """
    state = State(state)
    if event in ("shelve",):
        if state == State.SHLVD:
            raise BadTransition("the alarm is already shelved")
        return State.SHLVD
    if event == "suppress":
        return State.DSUPR
    if event in ("unshelve", "release"):
        want = State.SHLVD if event == "unshelve" else State.DSUPR
        if state != want:
            raise BadTransition(f"the alarm is {state.value}, not {want.value}")
        return State.UNACK if active else State.NORM
    if state in (State.SHLVD, State.DSUPR) and event in ("raise", "clear"):
        return state  # evaluated but not annunciated: the condition is remembered by the engine
    if event == "raise" and state in ACTIVE:
        return state
    if event == "clear" and state in (State.NORM, State.RTNUN):
        return state
    try:
        return _TABLE[(state, event)]
    except KeyError:
        raise BadTransition(f"cannot {event} an alarm that is {state.value}") from None
