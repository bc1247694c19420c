"""碳鉴 tanjian, the app: the composition root on top of the workspace's packages.

:mod:`tanjian.cli` is the ``tanjian`` command (its command groups in one table, each group's module in
:mod:`tanjian.commands` imported only when one of its commands runs); :mod:`tanjian.demo` runs the whole
workspace on the embedded Plant 18 simulation. Only this package parses arguments, prints for a person or
starts processes; the packages below it (workspace, chain, collectors, models, dashboards) return values
and text.
"""
