"""Park level: three plants aggregated by dask.distributed (a LocalCluster of two worker processes),
checked against the counters each plant's meters reported."""

import datetime as dt

import numpy as np
import pytest

from tests.handworked import plant_electricity_from_counters
from workspace.config import EXAMPLE, load_config
from tanjian.demo.history import seed_history
from workspace.park import PlantStore, park_energy

pytestmark = pytest.mark.slow

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # local midnight, 24 Nov


@pytest.fixture(scope="module")
def park(tmp_path_factory):
    plants = []
    for k, pid in enumerate(("plant-18", "plant-19", "plant-20")):
        d = tmp_path_factory.mktemp(pid)
        text = EXAMPLE.read_text().replace("id: plant-18", f"id: {pid}").replace("seed: 18", f"seed: {18 + k}")
        (d / "tanjian.yaml").write_text(text)
        cfg = load_config(d / "tanjian.yaml")
        seed_history(cfg, T0, T0 + dt.timedelta(hours=6))
        plants.append(cfg)
    return plants


def _by_hand(cfg, hours):
    return plant_electricity_from_counters(cfg, T0, hours)


def test_park_energy_on_a_local_cluster(park):
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        out = park_energy([PlantStore.from_config(c) for c in park], "2026-11-24 00:00", "2026-11-24 05:00",
                          freq="1h")
        assert len(client.scheduler_info()["workers"]) == 2
    assert out.dims == ("plant", "time") and out.attrs["units"] == "kWh"
    assert list(out.plant.values) == ["plant-18", "plant-19", "plant-20"]
    assert out.sizes["time"] == 5
    for cfg in park:
        got = float(out.sel(plant=cfg.site.plant.id).sum())
        assert got == pytest.approx(_by_hand(cfg, 5), rel=1e-9)
    # the plants differ (different seeds), and each version read is named
    totals = out.sum("time").values
    assert len(set(np.round(totals, 3))) == 3
    assert set(out.attrs["snapshots"]) == {"plant-18", "plant-19", "plant-20"}


def test_park_refuses_partial_hours(park):
    with pytest.raises(ValueError, match="whole hours"):
        park_energy([PlantStore.from_config(park[0])], "2026-11-24 00:30", "2026-11-24 05:00", compute=False)
