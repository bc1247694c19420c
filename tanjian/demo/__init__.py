"""The demo: :mod:`~tanjian.demo.run` (start and stop everything on the simulation),
:mod:`~tanjian.demo.history` (backfill the simulator's history), :mod:`~tanjian.demo.peers` (the
simulated peers of every protocol but Modbus TCP)."""
