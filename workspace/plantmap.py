"""The plant's networks and drawings in the site model, beside the metering tree: the sources of the gas,
water and compressed-air networks, the process flow of each line and the floor plan with the positions
of devices, rooms, transformers and inverters (used by :mod:`workspace.topology`)."""

from __future__ import annotations

from pydantic import Field

from .sitebase import Id, SiteModel


class Source(SiteModel):
    """Where a non-electric network starts (the electrical tree starts at the transformers)."""

    id: Id
    name: str
    medium: str = Field(pattern="^(water|natural_gas|compressed_air)$")
    meters: list[Id] = Field(description="the network's main meters, fed by this source")
    device: Id | None = Field(None, description="the device that is the source, if one (e.g. the air compressor)")


class ProcessFlow(SiteModel):
    """A line's process steps in order; each step names the devices doing it."""

    line: Id
    steps: list[list[Id]] = Field(description="devices of each step, in process order")


class FloorPlan(SiteModel):
    width_m: float = Field(gt=0)
    depth_m: float = Field(gt=0)
    positions: dict[Id, tuple[float, float]] = Field(default_factory=dict, description="id -> (x, y) [m] of a "
                                                     "device, room, transformer or inverter, from the south-west "
                                                     "corner")
