"""Alarms: the ISA-18.2 lifecycle (:mod:`.lifecycle`), rules as data (:mod:`.rules`), the durable alarm
log (:mod:`.db`), the vectorised evaluation step (:mod:`.engine`), what it evaluates (:mod:`.inputs`) and
notifications (:mod:`.notify`)."""

from .db import AlarmDB, AlarmNotFound
from .engine import AlarmEngine, Transition, shown
from .lifecycle import BadTransition, State
from .rules import PLANT18, Rule, RuleSet, load_rules

__all__ = ["AlarmDB", "AlarmEngine", "AlarmNotFound", "BadTransition", "PLANT18", "Rule", "RuleSet", "State",
           "Transition", "load_rules", "shown"]
