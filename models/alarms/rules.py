"""Alarm rules as data: what is watched, against which limit, with which delays, deadband and priority.

A rules file (YAML; the Plant 18 rules are packaged in ``models/alarms/data/plant18-alarms.yaml``) is
validated here and every problem is named as ``file:line: field: message``. Each rule watches one
*quantity* of the evaluation snapshot (:mod:`models.alarms.inputs`) for a set of targets (meters,
transformers, rooms): every kind of alarm is a comparison of a vector of values with a limit, so the
engine evaluates all rules for all targets with array operations.

Kinds and the quantity each watches (``quantity`` chooses among several where a kind has them):

=====================  =========================================================================
threshold              power [kW], power_share [-] (power over the meter's or its device's rating),
                       energy_hour [kWh], energy_day [kWh], unit_consumption [kWh/unit]
peak_on                on_in_peak: 1 while a key device draws more than its standby in a sharp or
                       peak tariff period, else 0
transformer_overload   load_rate [-] of a transformer (kW of its incomer / rated kVA x PF)
anomaly                anomaly_score [-] (robust z of the power against the device's baseline)
offline                age_s [s] since a meter's newest reading
data_quality           flagged_minutes [min] in the last 15 minutes carrying a quality flag
room                   room.temperature [degC], room.humidity [%RH], room.switch, room.leak,
                       room.smoke, room.door (0/1)
onsite                 onsite.fault (1 while a PV or battery inverter reports SunSpec state 7
                       FAULT), onsite.soc [%] (a battery's state of charge)
=====================  =========================================================================
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workspace.errors import ConfigError

#: the packaged Plant 18 rules
PLANT18 = Path(__file__).parent / "data" / "plant18-alarms.yaml"

#: kind -> the quantities it may watch (the first is its default)
KIND_QUANTITIES: dict[str, tuple[str, ...]] = {
    "threshold": ("power", "power_share", "energy_hour", "energy_day", "unit_consumption"),
    "peak_on": ("on_in_peak",),
    "transformer_overload": ("load_rate",),
    "anomaly": ("anomaly_score",),
    "offline": ("age_s",),
    "data_quality": ("flagged_minutes",),
    "room": ("room.temperature", "room.humidity", "room.switch", "room.leak", "room.smoke", "room.door"),
    "onsite": ("onsite.fault", "onsite.soc"),
}
#: ISA-18.2 priorities, most urgent first (the standard recommends three or four)
PRIORITIES = ("critical", "high", "medium", "low")


class Rule(BaseModel):
    """One alarm rule. Times in seconds; ``above``/``below`` and ``deadband`` in the quantity's unit."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["threshold", "peak_on", "transformer_overload", "anomaly", "offline", "data_quality", "room",
                  "onsite"]
    quantity: str | None = Field(None, description="what is watched (default: the kind's first quantity)")
    message: str = Field(description="the alarm's text; {target}, {value}, {limit} are filled in")
    targets: list[str] | None = Field(None, description="ids watched (default: every target of the quantity)")
    above: float | None = Field(None, description="active when the value is above this")
    below: float | None = Field(None, description="active when the value is below this")
    deadband: float = Field(0.0, ge=0, description="the value must come back this far past the limit to clear")
    on_delay_s: float = Field(0.0, ge=0, description="the condition must hold this long before the alarm raises")
    off_delay_s: float = Field(0.0, ge=0, description="the condition must be gone this long before it clears")
    priority: Literal["critical", "high", "medium", "low"] = "medium"
    suppressed_by: list[str] = Field(default_factory=list, description="rules whose active alarm on the same "
                                                                        "target suppresses this one (by design)")
    group_window_s: float = Field(3600.0, ge=0, description="a repeat within this time after it cleared "
                                                             "counts on the same alarm")
    notify: bool = True
    enabled: bool = True

    @model_validator(mode="after")
    def _check(self) -> "Rule":
        allowed = KIND_QUANTITIES[self.kind]
        if self.quantity is None:
            self.quantity = allowed[0]
        elif self.quantity not in allowed:
            raise ValueError(f"a {self.kind} rule watches {', '.join(allowed)}, not {self.quantity!r}")
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' and 'below'")
        return self

    @property
    def limit(self) -> float:
        return self.above if self.above is not None else self.below  # type: ignore[return-value]

    @property
    def high(self) -> bool:
        return self.above is not None


class ChannelSpec(BaseModel):
    """A notification channel: an apprise URL and the least urgent priority it receives."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=3, description="apprise URL, e.g. mailtos://..., json://..., wecombot://KEY, "
                                               "dingtalk://TOKEN, feishu://TOKEN")
    min_priority: Literal["critical", "high", "medium", "low"] = "high"


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    source: str = Field(description="who set these limits and from what (a person, a standard, a manual)")
    rules: list[Rule]
    channels: list[ChannelSpec] = Field(default_factory=list, description="where raised alarms are sent")

    @model_validator(mode="after")
    def _refs(self) -> "RuleSet":
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate rule id(s): {', '.join(dup)}")
        for r in self.rules:
            for s in r.suppressed_by:
                if s not in ids or s == r.id:
                    raise ValueError(f"rule {r.id!r}: suppressed_by names unknown rule {s!r}")
        return self

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def load_rules(path: str | Path = PLANT18) -> RuleSet:
    """Read and validate a rules file; :class:`~workspace.errors.ConfigError` names file, line and field."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    from workspace.config import _field, _line_of  # the one home of YAML locations

    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([(name, None, "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError([(name, mark.line + 1 if mark else None, "(syntax)", str(exc.problem))]) from None
    try:
        return RuleSet.model_validate(json.loads(json.dumps(doc, default=str)))
    except ValidationError as exc:
        raise ConfigError([(name, _line_of(doc, tuple(e["loc"])), _field(tuple(e["loc"])), e["msg"])
                           for e in exc.errors(include_url=False)]) from None
