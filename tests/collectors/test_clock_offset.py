"""A clock step shows: the collector records each meter's clock offset (device minus collector) in its
health, warns once when it crosses the tolerance (and says when it agrees again), and ``tanjian status``
lists the meters whose clock is off, as a problem for ``--check``.

Hand-worked: a DL/T 645 meter set 300 s fast reads 300 s ahead of the collector's clock (± 2 s: hhmmss
carries whole seconds and a read takes a few hundred ms); 300 > the 60 s tolerance, so it is off; set back
to 0 s it is within the tolerance again. A meter 20 s slow (|-20| < 60) is never reported.
"""

import datetime as dt
import json
import logging

import pytest

from collectors.readers import reader_for
from tanjian.commands.status import gather
from tanjian.simulator import PlantSimulator
from tanjian.simulator.dlt645 import Dlt645BusSimulator
from tests.conftest import free_port
from tests.small_sites import load_site, meter
from workspace.clock import Clock

T0 = dt.datetime(2026, 11, 24, 2, 0, 30, tzinfo=dt.timezone.utc)


async def test_a_meter_clock_off_is_in_health_log_and_status(tmp_path, caplog):
    gw = {"id": "srv-1", "protocol": "dlt645_tcp", "port": free_port(), "timeout_s": 0.5, "clock_interval_s": 0}
    cfg = load_site(tmp_path, [gw], [meter("M-FAST", "srv-1", "D-WELD", "dlt645-2007", address="000000000001"),
                                     meter("M-SLOW", "srv-1", "D-CNC", "dlt645-2007", address="000000000002")])
    clock = Clock.simulated(T0, speed=1)
    async with Dlt645BusSimulator(PlantSimulator(cfg.site, clock), "srv-1") as sim:
        sim.set_clock("M-FAST", offset_s=300)
        sim.set_clock("M-SLOW", offset_s=-20)
        reader = reader_for(cfg.site.gateways, clock, timezone=cfg.site.plant.timezone)
        try:
            with caplog.at_level(logging.INFO, logger="collectors.polling"):
                await reader.read(cfg.site.meters)
                await reader.read(cfg.site.meters)  # still off: no second warning
                h = reader.health
                assert h["M-FAST"].clock_offset_s == pytest.approx(300, abs=2)
                assert h["M-SLOW"].clock_offset_s == pytest.approx(-20, abs=2)
                health = {"written_at": 1.0, "cycles": 2, "acknowledged": 4, "journal_batches": 2,
                          "pending_cycles": 0, "fold_error": None,
                          "devices": {k: v.as_dict() for k, v in h.items()}}
                sim.set_clock("M-FAST", offset_s=0)
                await reader.read(cfg.site.meters)
                assert h["M-FAST"].clock_offset_s == pytest.approx(0, abs=2)
        finally:
            reader.close()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "clock is" in r.getMessage()]
    assert len(warned) == 1 and "M-FAST" in warned[0] and "+30" in warned[0], warned  # "+300 s" or "+301 s"
    assert any("M-FAST: its clock agrees" in r.getMessage() for r in caplog.records)
    run = cfg.paths.run
    run.mkdir(parents=True, exist_ok=True)
    (run / "health.json").write_text(json.dumps(health))
    s = gather(cfg)
    assert list(s["collector"]["clock_off"]) == ["M-FAST"]
    assert s["collector"]["clock_off"]["M-FAST"] == pytest.approx(300, abs=2)
    assert any(p.startswith("clocks off by more than 60 s") and "M-FAST +30" in p for p in s["problems"])
