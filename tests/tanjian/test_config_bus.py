"""`tanjian config check` warns when a DL/T 645 bus cannot be read as often as its meters' period asks."""

from __future__ import annotations

from tanjian.cli import main
from tests.small_sites import meter, write_site

DEVICES = ("D-WELD", "D-CNC", "D-LIGHT", "D-PUMP")


def _bus(tmp_path, n: int, period_s: float):
    gw = {"id": "bus-1", "protocol": "dlt645_serial", "device": "/dev/ttyUSB0", "baudrate": 2400}  # 8E1
    return write_site(tmp_path, [gw], [{**meter(f"M-{k:02d}", "bus-1", DEVICES[k % 4], "dlt645-2007",
                                               address=f"{k + 1:012d}"), "period_s": period_s}
                                       for k in range(n)])


def test_a_bus_that_cannot_fit_its_period_is_warned_about(tmp_path, capsys):
    # 30 meters x 1.3042 s a meter at 2,400 baud (hand-worked in tests/collectors/test_dlt645_support.py)
    # = 39.1 s of line time, more than a 30 s period
    assert main(["config", "check", str(_bus(tmp_path, 30, 30))]) == 0
    err = capsys.readouterr().err
    assert "warning: gateway bus-1: a poll cycle of its 30 meters takes 39.1 s on the line, more than their " \
           "30 s period" in err


def test_a_bus_that_fits_is_not(tmp_path, capsys):
    assert main(["config", "check", str(_bus(tmp_path, 30, 60))]) == 0
    assert "warning" not in capsys.readouterr().err
