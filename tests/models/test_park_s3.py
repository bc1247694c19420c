"""The park's drop on S3 (moto's server over HTTP): the three-enterprise park submitted into a bucket, read back and
verified exactly as from the drop folder (the tampered package flagged at 'document'); park.yaml's keys come from
the environment or a 0600 file, never the YAML."""

from __future__ import annotations

import json

import pytest

from models.park import scan_drop, verify_package
from models.park.config import load_park, s3_credentials
from models.park.s3drop import POINTER, fetch_s3, scan, submit_s3, submit_to
from tests.objectstore import S3_KEY, start_s3_server
from tests.park_fixture import anvil_w3, three_park  # noqa: F401 (fixtures)
from workspace.errors import ConfigError, TanjianError

pytestmark = [pytest.mark.requires_anvil, pytest.mark.slow]


@pytest.fixture(scope="module")
def bucket():
    import boto3

    srv = start_s3_server()
    host, port = srv.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=S3_KEY["AWS_ACCESS_KEY_ID"],
                 aws_secret_access_key=S3_KEY["AWS_SECRET_ACCESS_KEY"]).create_bucket(Bucket="park-drop")
    yield endpoint
    srv.stop()


def park_yaml(tmp_path, endpoint, extra=""):
    f = tmp_path / "park.yaml"
    f.write_text(f"s3:\n  endpoint_url: {endpoint}\n  bucket: park-drop\n  prefix: park-a\n  allow_http: true\n"
                 f"  force_path_style: true\n{extra}cache: cache\ndeployment: deployment.json\n"
                 f"rpc: http://127.0.0.1:1\nyear: 2026\n")
    return f


def statuses(verdicts):
    return {(v.enterprise, v.period): v.status for v in verdicts}


def test_packages_through_the_bucket_verify_as_from_the_folder(three_park, bucket, tmp_path, monkeypatch):
    for k, v in S3_KEY.items():
        monkeypatch.setenv(k, v)
    world, drop = three_park
    cfg = load_park(park_yaml(tmp_path, bucket))
    assert cfg.cache == tmp_path / "cache" and cfg.drop_label == "s3://park-drop/park-a"
    for folder in sorted(drop.glob("*/*")):
        where = submit_to(cfg, folder)
        assert where.startswith(f"s3://park-drop/park-a/{folder.parent.name}/{folder.name}/")
    from_bucket = [verify_package(p, world.w3, world.deployment) for p in scan(cfg)]
    from_folder = [verify_package(p, world.w3, world.deployment) for p in scan_drop(drop)]
    # the same 8 verdicts: 7 verified, E2's February (figures rewritten after ledgering) failed at 'document'
    assert statuses(from_bucket) == statuses(from_folder)
    assert len(from_bucket) == 8 and sum(v.ok for v in from_bucket) == 7
    assert statuses(from_bucket)[("E2", "2026-02")] == "failed: document"
    # only packages came down: no pointer files, each package exactly as submitted
    assert not list((tmp_path / "cache").rglob(POINTER))
    a, b = tmp_path / "cache" / "E1" / "2026-01", drop / "E1" / "2026-01"
    assert sorted(p.name for p in b.iterdir()) == sorted(p.name for p in a.iterdir() if p.name != ".upload")
    assert (a / "figures.json").read_bytes() == (b / "figures.json").read_bytes()

    # E2 resubmits February with the figures it ledgered (700, from its own out folder): CURRENT moves on,
    # the park's copy follows, the package verifies; the tampered upload stays in the bucket for the record
    out = drop.parent / "out" / "E2" / "2026-02"
    submit_s3(out, cfg.s3)
    again = {(v.enterprise, v.period): v for v in (verify_package(p, world.w3, world.deployment) for p in scan(cfg))}
    assert again[("E2", "2026-02")].ok and again[("E2", "2026-02")].emissions_kg["total"] == 700.0
    import boto3

    s3 = boto3.client("s3", endpoint_url=bucket, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="park-drop", Prefix="park-a/E2/2026-02/")["Contents"]]
    assert len({k.split("/")[3] for k in keys if not k.endswith(POINTER)}) == 2  # two uploads kept


def test_half_an_upload_is_never_read(bucket, tmp_path, monkeypatch):
    """Files of an upload without its CURRENT pointer (the enterprise stopped midway) are not a package."""
    for k, v in S3_KEY.items():
        monkeypatch.setenv(k, v)
    import boto3

    cfg = load_park(park_yaml(tmp_path, bucket))
    s3 = boto3.client("s3", endpoint_url=bucket, region_name="us-east-1")
    s3.put_object(Bucket="park-drop", Key="half/E1/2026-05/0123456789abcdef/figures.json", Body=b"{}")
    s3.put_object(Bucket="park-drop", Key="half/E1/2026-13/CURRENT", Body=b"0123456789abcdef\n")  # no month 13
    half = cfg.s3.model_copy(update={"prefix": "half"})
    assert scan_drop(fetch_s3(half, tmp_path / "c2")) == []


def test_keys_come_from_the_environment_or_a_private_file_never_the_yaml(bucket, tmp_path, monkeypatch):
    for k in S3_KEY:
        monkeypatch.delenv(k, raising=False)
    cfg = load_park(park_yaml(tmp_path, bucket))
    with pytest.raises(ConfigError, match=r"no AWS_ACCESS_KEY_ID and no AWS_SECRET_ACCESS_KEY in the environment"):
        s3_credentials(cfg.s3)
    creds = tmp_path / "s3.credentials"
    creds.write_text("# the park's reader\nAWS_ACCESS_KEY_ID=park-reader\nAWS_SECRET_ACCESS_KEY=s3cret\n")
    creds.chmod(0o644)
    (tmp_path / "k").mkdir()
    cfg = load_park(park_yaml(tmp_path / "k", bucket, "  credentials_file: ../s3.credentials\n"))
    with pytest.raises(TanjianError, match=r"s3.credentials: the S3 credentials file is accessible by group or "
                                           r"others \(mode 0644\); run `chmod 600"):
        s3_credentials(cfg.s3)
    creds.chmod(0o600)
    assert s3_credentials(cfg.s3) == {"AWS_ACCESS_KEY_ID": "park-reader", "AWS_SECRET_ACCESS_KEY": "s3cret"}
    creds.write_text("aws_secret=s3cret\n")
    with pytest.raises(ConfigError, match=r"s3.credentials:1: credentials: expected AWS_ACCESS_KEY_ID") as e:
        s3_credentials(cfg.s3)
    assert "s3cret" not in str(e.value)
    # a key written into park.yaml is refused with file, line and field
    bad = park_yaml(tmp_path / "k", bucket, "  aws_secret_access_key: s3cret\n")
    with pytest.raises(ConfigError, match=r"park.yaml:7: s3.aws_secret_access_key: Extra inputs are not permitted"):
        load_park(bad)
    both = tmp_path / "both.yaml"
    both.write_text(json.dumps({"drop": "d", "s3": {"bucket": "park-drop"}}))
    with pytest.raises(ConfigError, match=r"give exactly one of drop \(a folder\) and s3 \(a bucket\)"):
        load_park(both)


def test_a_plain_http_endpoint_needs_allow_http(bucket, tmp_path, monkeypatch):
    for k, v in S3_KEY.items():
        monkeypatch.setenv(k, v)
    f = park_yaml(tmp_path, bucket)
    f.write_text(f.read_text().replace("  allow_http: true\n", ""))
    with pytest.raises(TanjianError, match=r"s3://park-drop/park-a: endpoint http://.* is plain HTTP; set "
                                           r"s3.allow_http: true"):
        scan(load_park(f))


def test_cli_submits_to_and_verifies_from_the_bucket(three_park, bucket, tmp_path, monkeypatch, capsys):
    from tanjian.cli import main

    for k, v in S3_KEY.items():
        monkeypatch.setenv(k, v)
    world, drop = three_park
    f = park_yaml(tmp_path, bucket)
    f.write_text(f.read_text().replace("prefix: park-a", "prefix: park-cli")
                 .replace("rpc: http://127.0.0.1:1", f"rpc: {world.w3.provider.endpoint_uri}"))
    (tmp_path / "deployment.json").write_text(json.dumps(world.deployment))
    for folder in (drop / "E1" / "2026-01", drop / "E2" / "2026-02"):
        assert main(["park", "submit", str(folder), "--park", str(f)]) == 0
    assert "submitted: s3://park-drop/park-cli/E2/2026-02/" in capsys.readouterr().out
    assert main(["park", "verify", "--park", str(f)]) == 1
    out = capsys.readouterr().out
    assert "E2             2026-02  failed: document" in out and "1 of 2 packages verified" in out
    # no keys: one line, exit 2, nothing else
    for k in S3_KEY:
        monkeypatch.delenv(k)
    assert main(["park", "verify", "--park", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tanjian park verify: s3://park-drop/park-cli:?: s3.credentials_file: no AWS_ACCESS_KEY_ID")
    assert len(err.strip().splitlines()) == 1
    assert main(["park", "verify", "--rpc", "http://127.0.0.1:1"]) == 2
    assert "say where the packages are: --drop DROP or --park park.yaml" in capsys.readouterr().err


def test_park_yaml_has_no_place_for_a_store(tmp_path):
    """The park's settings name a drop and a chain, never a plant's store: a `store` key is refused."""
    from models.park.config import ParkConfig

    assert not [f for f in ParkConfig.model_fields if "store" in f or "journal" in f]
    f = tmp_path / "park.yaml"
    f.write_text("drop: d\nstore_url: s3://plants/plant-18/store\n")
    with pytest.raises(ConfigError, match=r"park.yaml:2: store_url: Extra inputs are not permitted"):
        load_park(f)
