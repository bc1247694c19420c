"""The reduction path to carbon neutrality: a Pyomo plan of rooftop PV, efficiency projects, green power,
certificates and offsets, solved with HiGHS (see docs/reduction.md).

One module per concept: :mod:`.scenario` (the scenario file and its schema), :mod:`.baseline` (the
baseline from the inventory), :mod:`.inputs` (numbers resolved
from it), :mod:`.pv` (yield with pvlib, offline), :mod:`.typical` (representative days), :mod:`.model` (the
``define_*`` functions), :mod:`.solve` (HiGHS and the plan's tables), :mod:`.relax` (an infeasible target
answered), :mod:`.macc` (marginal abatement cost curve), :mod:`.sensitivity` (tornado), :mod:`.files`
(plans saved and compared), :mod:`.actual` (plan against actual purchases).
"""
