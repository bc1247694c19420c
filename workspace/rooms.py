"""Distribution rooms (配电房) in the site model: where the switchgear of a transformer stands, and the
sensor block read there over Modbus (temperature, humidity, main-switch status, water leak, smoke,
door) whose register table is :data:`workspace.points.ROOM_MAP`."""

from __future__ import annotations

from pydantic import Field

from .sitebase import Id, SiteModel


class Room(SiteModel):
    id: Id
    name: str
    transformers: list[Id] = Field(default_factory=list, description="transformers whose switchgear the room holds")
    gateway: Id = Field(description="Modbus TCP gateway the room's sensor block answers on")
    unit_id: int = Field(ge=1, le=247, description="Modbus unit id of the sensor block")
    period_s: float = Field(60.0, ge=1, description="how often the points are read [s]")
