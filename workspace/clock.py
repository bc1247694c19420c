"""The workspace's notion of "now": the wall clock, or a simulated clock that runs faster.

A simulated clock is a pure function of the wall clock, ``sim = origin + speed * (wall - wall_origin)``,
so separate processes given the same spec (``"2026-11-20T00:00:00Z@1764028800.0x60"``) agree on it.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Clock:
    """``origin``: simulated instant at wall time ``wall_origin`` [s since epoch]; ``speed`` [-]."""

    origin: dt.datetime | None = None
    wall_origin: float = 0.0
    speed: float = 1.0

    @classmethod
    def wall(cls) -> "Clock":
        return cls()

    @classmethod
    def simulated(cls, origin: dt.datetime, speed: float = 1.0) -> "Clock":
        return cls(origin.astimezone(UTC), time.time(), float(speed))

    @classmethod
    def parse(cls, spec: str | None) -> "Clock":
        """``None``/``"wall"`` or ``"<ISO origin>@<wall origin>x<speed>"``."""
        if not spec or spec == "wall":
            return cls()
        origin, rest = spec.split("@")
        wall, speed = rest.split("x")
        return cls(dt.datetime.fromisoformat(origin.replace("Z", "+00:00")).astimezone(UTC), float(wall),
                   float(speed))

    def spec(self) -> str:
        if self.origin is None:
            return "wall"
        return f"{self.origin.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}@{self.wall_origin!r}x{self.speed!r}"

    def now(self) -> dt.datetime:
        if self.origin is None:
            return dt.datetime.now(UTC)
        return self.origin + dt.timedelta(seconds=(time.time() - self.wall_origin) * self.speed)

    def sleep_seconds(self, simulated: float) -> float:
        """Wall seconds that ``simulated`` seconds take on this clock."""
        return simulated / self.speed
