"""An S3 server for the store's object-storage tests: moto's, over HTTP (the S3 protocol as MinIO or Ceph
RGW speak it), and the Plant 18 configuration with its store in its bucket."""

from __future__ import annotations

from workspace.config import EXAMPLE, load_config

S3_KEY = {"AWS_ACCESS_KEY_ID": "plant18-test", "AWS_SECRET_ACCESS_KEY": "plant18-test-secret",
          "AWS_DEFAULT_REGION": "us-east-1"}


def start_s3_server(port: int = 0):
    """A running S3 server (moto's, over HTTP: the S3 protocol as MinIO or Ceph RGW speak it)."""
    from moto import server as moto_server  # the `test` extra installs it

    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    srv.start()
    return srv


def s3_up(srv) -> dict:
    """Create the bucket ``plants`` on a running server; returns {server, endpoint, port}."""
    import boto3

    host, port = srv.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=S3_KEY[
        "AWS_ACCESS_KEY_ID"], aws_secret_access_key=S3_KEY["AWS_SECRET_ACCESS_KEY"])
    s3.create_bucket(Bucket="plants")
    return {"server": srv, "endpoint": endpoint, "port": port}


def s3_config(tmp_path, endpoint: str, pid: str = "plant-18", seed: int = 18, prefix: str | None = None):
    """The Plant 18 configuration (plant id ``pid``, simulation seed ``seed``) with its data under
    ``tmp_path/pid`` and its store at ``s3://plants/<prefix or pid>/store`` on ``endpoint``."""
    text = EXAMPLE.read_text().replace("id: plant-18", f"id: {pid}").replace("seed: 18", f"seed: {seed}")
    text = text.replace("paths:\n", f"paths:\n  store_url: s3://plants/{prefix or pid}/store\n"
                                    f"  s3: {{endpoint_url: \"{endpoint}\", region: us-east-1, allow_http: true, "
                                    f"force_path_style: true}}\n", 1)
    d = tmp_path / pid
    d.mkdir()
    (d / "tanjian.yaml").write_text(text)
    return load_config(d / "tanjian.yaml")
