"""Alarm notifications through apprise (one library for e-mail, generic JSON webhooks, WeCom, DingTalk,
Feishu and many more; each channel is an apprise URL, e.g. ``mailtos://user:pass@smtp.plant.lan``,
``json://hooks.plant.lan/alarms``, ``wecombot://KEY``, ``dingtalk://TOKEN``, ``feishu://TOKEN``).

A channel takes the alarms of a priority and above (``critical`` first). One message per evaluation and
channel lists every alarm raised in it: a burst of alarms is one e-mail, not fifty.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .rules import PRIORITIES


@dataclass(frozen=True)
class Channel:
    url: str  #: an apprise URL
    min_priority: str = "low"  #: the least urgent priority sent to it


def _line(t) -> str:
    return f"[{t.priority}] {t.rule} on {t.target}: {t.message} (alarm #{t.alarm})"


def compose(transitions, *, site: str = "", now: dt.datetime | None = None) -> tuple[str, str]:
    """Title and body of the message for ``transitions`` (raised alarms)."""
    worst = min((PRIORITIES.index(t.priority) for t in transitions), default=3)
    title = f"{site + ': ' if site else ''}{len(transitions)} alarm(s), highest {PRIORITIES[worst]}"
    when = f"at {now.isoformat(timespec='seconds')}\n" if now is not None else ""
    return title, when + "\n".join(_line(t) for t in transitions)


class Notifier:
    """Sends raised alarms to the channels (apprise does the protocols). Callable: pass it as the
    engine's ``notify``."""

    def __init__(self, channels: list[Channel], *, site: str = ""):
        import apprise  # imported when notifications are used, not for every alarm module import

        for c in channels:
            if c.min_priority not in PRIORITIES:
                raise ValueError(f"channel {c.url!r}: min_priority must be one of {', '.join(PRIORITIES)}")
        self.site = site
        self.channels = channels
        self._apprise = []
        for c in channels:
            a = apprise.Apprise()
            if not a.add(c.url):
                raise ValueError(f"not a notification URL apprise understands: {c.url!r}")
            self._apprise.append(a)

    def __call__(self, transitions) -> list[bool]:
        """Send; returns per channel whether it went out (True), failed (False) or had nothing to send."""
        out = []
        for c, a in zip(self.channels, self._apprise):
            mine = [t for t in transitions if PRIORITIES.index(t.priority) <= PRIORITIES.index(c.min_priority)]
            if not mine:
                out.append(None)
                continue
            title, body = compose(mine, site=self.site, now=dt.datetime.now(dt.timezone.utc))
            out.append(bool(a.notify(title=title, body=body)))
        return out
