"""On-site generation and storage in the site model: PV inverters and batteries, read over Modbus as
SunSpec devices (:data:`workspace.points.SUNSPEC_MODELS`: model 1 common, 103 three-phase inverter, 124
storage), and the meters that put their energy into the store's balances.

Energy accounting (:func:`models.generation.onsite_quantities`) reads metered energy only: each PV
inverter's AC output ``meter``, each battery's ``charge_meter`` and ``discharge_meter``, and the grid
connection's ``export_meters`` (a bidirectional meter's export register, as an electricity meter of its
own in the store).
"""

from __future__ import annotations

from pydantic import Field

from .sitebase import Id, SiteModel


class PvInverter(SiteModel):
    id: Id
    name: str
    rated_kw: float = Field(gt=0, description="rated AC output [kW]")
    transformer: Id | None = Field(None, description="transformer whose low-voltage bus it feeds")
    gateway: Id = Field(description="Modbus TCP gateway the inverter answers on (SunSpec, base 40000)")
    unit_id: int = Field(ge=1, le=247)
    meter: Id | None = Field(None, description="electricity meter of its AC output in the store (None: not "
                                               "metered into the store yet)")


class Battery(SiteModel):
    id: Id
    name: str
    capacity_kwh: float = Field(gt=0, description="usable capacity [kWh]")
    rated_kw: float = Field(gt=0, description="rated charge and discharge power [kW]")
    transformer: Id | None = None
    gateway: Id = Field(description="Modbus TCP gateway (SunSpec models 1, 103 and 124)")
    unit_id: int = Field(ge=1, le=247)
    charge_meter: Id | None = Field(None, description="meter of the energy into the battery [kWh]")
    discharge_meter: Id | None = Field(None, description="meter of the energy out of the battery [kWh]")
    charged_from: str = Field("pv", pattern="^(pv|grid|both)$",
                              description="what charges it: pv (its discharge is non-fossil), grid or both")


class OnSite(SiteModel):
    pv: list[PvInverter] = Field(default_factory=list)
    batteries: list[Battery] = Field(default_factory=list)
    export_meters: list[Id] = Field(default_factory=list, description="meters of the energy exported to the "
                                                                      "grid at the connection point")
