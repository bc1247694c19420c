"""A store on S3-compatible object storage: a real S3 server over HTTP (moto's server, the S3 protocol
as MinIO or Ceph RGW speak it), the journal local, folds and queries unchanged, an outage of the
object store survived with nothing lost, and a park of such stores aggregated by a dask LocalCluster
whose workers read the bucket themselves."""

import datetime as dt

import numpy as np
import pytest
from moto import server as moto_server  # the `test` extra installs it

from tests.handworked import plant_electricity_from_counters
from workspace.config import EXAMPLE, load_config
from tanjian.demo.history import seed_history
from workspace.errors import ConfigError, StoreError
from workspace.journal import Journal
from workspace.park import PlantStore, park_energy
from workspace.storage import parse_location
from workspace.store import Store


UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # local midnight, 24 Nov (Asia/Shanghai)
KEY = {"AWS_ACCESS_KEY_ID": "plant18-test", "AWS_SECRET_ACCESS_KEY": "plant18-test-secret",
       "AWS_DEFAULT_REGION": "us-east-1"}


def _start(port: int = 0):
    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    srv.start()
    return srv


@pytest.fixture
def s3(monkeypatch):
    """A running S3 server with bucket ``plants``; yields (server, endpoint)."""
    for k, v in KEY.items():
        monkeypatch.setenv(k, v)
    srv = _start()
    host, port = srv.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="plants")
    box = {"server": srv, "endpoint": endpoint, "port": port}
    yield box
    box["server"].stop()


def _config(tmp_path, endpoint: str, pid: str = "plant-18", seed: int = 18):
    text = EXAMPLE.read_text().replace("id: plant-18", f"id: {pid}").replace("seed: 18", f"seed: {seed}")
    text = text.replace("paths:\n", f"paths:\n  store_url: s3://plants/{pid}/store\n"
                                    f"  s3: {{endpoint_url: \"{endpoint}\", region: us-east-1, allow_http: true, "
                                    f"force_path_style: true}}\n", 1)
    d = tmp_path / pid
    d.mkdir()
    (d / "tanjian.yaml").write_text(text)
    return load_config(d / "tanjian.yaml")


def _by_hand(cfg, hours):
    return plant_electricity_from_counters(cfg, T0, hours)


def test_locations_are_checked():
    assert parse_location("var/store").is_local
    loc = parse_location("s3://plants/p18/store?endpoint_url=http://10.0.0.5:9000&allow_http=true")
    assert (loc.bucket, loc.prefix, dict(loc.options)) == ("plants", "p18/store",
                                                           {"endpoint_url": "http://10.0.0.5:9000",
                                                            "allow_http": True})
    with pytest.raises(StoreError, match="unknown option 'endpoint'"):
        parse_location("s3://plants/p?endpoint=http://x")
    with pytest.raises(StoreError, match="allow_http='maybe' must be true or false"):
        parse_location("s3://plants/p?allow_http=maybe")
    with pytest.raises(StoreError, match="not gs://"):
        parse_location("gs://plants/p")


def test_s3_options_without_a_url_name_the_line(tmp_path):
    text = EXAMPLE.read_text().replace("paths:\n", "paths:\n  s3: {region: us-east-1}\n", 1)
    (tmp_path / "tanjian.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"tanjian\.yaml:\d+: paths: .*s3 options given without store_url"):
        load_config(tmp_path / "tanjian.yaml")


def test_missing_credentials_say_where_they_come_from(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    cfg = _config(tmp_path, "http://127.0.0.1:9")
    with pytest.raises(StoreError, match="AWS_ACCESS_KEY_ID"):
        Store.open(cfg.paths.store, cfg.site, create=True)


def test_store_on_s3_folds_queries_and_survives_an_outage(tmp_path, s3):
    cfg = _config(tmp_path, s3["endpoint"])
    assert str(cfg.paths.store).startswith("s3://plants/plant-18/store?")
    seed_history(cfg, T0, T0 + dt.timedelta(hours=2, minutes=1))  # readings 00:00 .. 02:00
    assert not (cfg.paths.data_dir / "store").exists()  # nothing of the store on the local disk
    store = Store.open(cfg.paths.store, cfg.site)
    e = store.energy("2026-11-24 00:00", "2026-11-24 02:00", freq="1h")
    assert float(e.sum()) == pytest.approx(_by_hand(cfg, 2), rel=1e-12)
    v1 = store.versions()[0]["id"]

    # the object store goes away: the journal keeps acknowledging, the fold fails with the location named
    from collectors.service import backfill
    from collectors.simulator.model import LoadModel

    folded = store.last_folded_seq
    s3["server"].stop()
    journal = Journal(cfg.paths.journal, writer=True)
    n = backfill(cfg.site, journal, LoadModel(cfg.site, cfg.simulation.seed),
                 T0 + dt.timedelta(hours=2, minutes=1), T0 + dt.timedelta(hours=3, minutes=1))
    assert n > 0 and journal.next_seq > folded + 1
    with pytest.raises(StoreError, match=r"s3://plants/plant-18/store: the fold could not .* journal keeps "
                                         r"every batch.*Connection refused"):
        store.fold(journal)
    with pytest.raises(StoreError, match="s3://plants/plant-18/store: .*unreachable"):
        Store.open(cfg.paths.store, cfg.site)

    # it comes back (same server state, same port): the fold catches up, totals exact, old version intact
    s3["server"] = _start(s3["port"])
    while store.fold(journal, max_batches=30).readings:
        pass
    journal.close()
    again = Store.open(cfg.paths.store, cfg.site)
    e = again.energy("2026-11-24 00:00", "2026-11-24 03:00", freq="1h")
    assert float(e.sum()) == pytest.approx(_by_hand(cfg, 3), rel=1e-12)
    assert float(again.energy("2026-11-24 00:00", "2026-11-24 03:00", freq=None, as_of=v1).sum()) == \
        pytest.approx(_by_hand(cfg, 2), rel=1e-12)


@pytest.mark.slow
def test_park_of_s3_stores_on_a_local_cluster(tmp_path, s3):
    from dask.distributed import Client, LocalCluster

    plants = []
    for k, pid in enumerate(("plant-18", "plant-19")):
        cfg = _config(tmp_path, s3["endpoint"], pid, 18 + k)
        seed_history(cfg, T0, T0 + dt.timedelta(hours=3, minutes=1))
        plants.append(cfg)
    # worker processes read the bucket themselves, with the credentials of their own environment
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        env = client.run(lambda: __import__("os").environ.get("AWS_ACCESS_KEY_ID"))
        assert set(env.values()) == {KEY["AWS_ACCESS_KEY_ID"]}
        out = park_energy([PlantStore.from_config(c) for c in plants], "2026-11-24 00:00", "2026-11-24 03:00",
                          freq="1h")
    assert list(out.plant.values) == ["plant-18", "plant-19"] and out.sizes["time"] == 3
    for cfg in plants:
        assert float(out.sel(plant=cfg.site.plant.id).sum()) == pytest.approx(_by_hand(cfg, 3), rel=1e-9)
    assert not np.isclose(*out.sum("time").values)
