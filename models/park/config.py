"""The park's settings (``park.yaml``): where packages are dropped, the chain, the year. No store, no keys.

The park publishes the file to its enterprises too: the ``drop`` or ``s3`` section tells them where to submit.
Relative paths are relative to the file's folder. Every problem is reported with file, line and field::

    # park.yaml
    drop: /srv/park/drop                # a folder: packages at <drop>/<enterprise>/<period>/ ...
    s3:                                 # ... or a bucket (one of the two)
      endpoint_url: http://minio.park.lan:9000   # omit for AWS S3
      bucket: park-drop
      prefix: park-a                    # packages at s3://park-drop/park-a/<enterprise>/<period>/
      region: us-east-1
      allow_http: true                  # a plain-HTTP endpoint inside the park's network
      force_path_style: true            # most self-hosted S3 servers (MinIO, Ceph RGW)
      credentials_file: /etc/tanjian/park-s3.credentials   # optional, mode 0600
    cache: park-cache                   # where packages read from the bucket are kept (default: beside the file)
    deployment: deployment.json         # the consortium's deployment record (contract addresses)
    rpc: http://node.park.lan:8545
    year: 2026
    answer:                             # an enterprise's copy only: answer the regulator's requests
      author: wang.fang                 # who issues the requested reports (needs the 'report' permission)
      sector: machinery                 # how the park files the enterprise (default: site.enterprise.industry)

Keys never go into this file: they come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` in the
environment, or from ``credentials_file``, a file of mode 0600 holding the same two ``NAME=value`` lines
(:func:`s3_credentials`). Each enterprise's key may be limited to its own ``<prefix>/<enterprise>/`` by the
bucket's policy; the park's key only needs to list and read.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workspace.errors import ConfigError
from workspace.secrets import check_private
from workspace.yamlfile import load_model

#: the credential names, in the environment and in a credentials file
KEY_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class S3Drop(_Model):
    """A drop on S3-compatible object storage: ``s3://bucket/prefix/<enterprise>/<period>/``."""

    endpoint_url: str | None = Field(None, pattern=r"^https?://[^\s?#]+$",
                                     description="e.g. http://minio.park.lan:9000; omit for AWS S3")
    bucket: str = Field(..., pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="the bucket")
    prefix: str = Field("", pattern=r"^[^\s?#]*$", description="folder inside the bucket ('' = the bucket's root)")
    region: str = Field("us-east-1", description="the bucket's region")
    allow_http: bool = Field(False, description="allow a plain-HTTP endpoint (inside the park's network)")
    force_path_style: bool = Field(False, description="path-style addressing (most self-hosted S3 servers)")
    credentials_file: Path | None = Field(None, description="file of mode 0600 with AWS_ACCESS_KEY_ID=... and "
                                                            "AWS_SECRET_ACCESS_KEY=... lines (else the environment)")

    @property
    def label(self) -> str:
        return f"s3://{self.bucket}/{self.prefix.strip('/')}".rstrip("/")

    def key(self, *parts: str) -> str:
        """The object key of ``parts`` under the prefix."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))


class AnswerSettings(_Model):
    """An enterprise's settings for answering the regulator's report requests (models/reports/on_demand.py)."""

    author: str = Field(..., min_length=1, description="who issues the requested reports (an account with the "
                                                       "'report' permission when the workspace has accounts)")
    sector: str | None = Field(None, description="the enterprise's sector in the park (default: the site's "
                                                 "enterprise.industry)")


class ParkConfig(_Model):
    """``park.yaml`` (see the module's text)."""

    drop: Path | None = Field(None, description="the drop folder (or give s3)")
    s3: S3Drop | None = Field(None, description="the drop on object storage (or give drop)")
    cache: Path = Field(Path("park-cache"), description="local copy of the packages read from s3")
    deployment: Path | None = Field(None, description="the consortium's deployment record (deployment.json)")
    rpc: str | None = Field(None, description="node JSON-RPC URL")
    year: int | None = Field(None, ge=2000, le=2100, description="compliance year of the views")
    answer: AnswerSettings | None = Field(None, description="an enterprise's workspace: answer the regulator's "
                                                            "requests in the anchoring loop")
    source: Path | None = Field(None, exclude=True, description="file this configuration came from")

    @model_validator(mode="after")
    def _one_drop(self) -> "ParkConfig":
        if (self.drop is None) == (self.s3 is None):
            raise ValueError("give exactly one of drop (a folder) and s3 (a bucket)")
        return self

    @property
    def drop_label(self) -> str:
        return self.s3.label if self.s3 is not None else str(self.drop)


def load_park(path: str | os.PathLike) -> ParkConfig:
    """Read and validate ``park.yaml``; relative paths resolved against its folder.

    Raises
    ------
    ConfigError
        Every problem, each with file, line and field.
    """
    path = Path(path)
    cfg, _ = load_model(path, ParkConfig, "park.yaml must be a mapping (drop or s3, deployment, rpc, year)")
    base = path.resolve().parent

    def here(p: Path | None) -> Path | None:
        return None if p is None else p if p.is_absolute() else base / p

    upd = {"drop": here(cfg.drop), "cache": here(cfg.cache), "deployment": here(cfg.deployment), "source": path}
    if cfg.s3 is not None and cfg.s3.credentials_file is not None:
        upd["s3"] = cfg.s3.model_copy(update={"credentials_file": here(cfg.s3.credentials_file)})
    return cfg.model_copy(update=upd)


def s3_credentials(s3: S3Drop, environ: dict | None = None) -> dict[str, str]:
    """``{AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY}``: from ``credentials_file`` when set (checked mode
    0600; ``NAME=value`` lines, ``#`` comments), else from the environment.

    Raises
    ------
    ConfigError
        The file is accessible by others, a line is not ``NAME=value``, a name is unknown, or a key is missing.
    """
    env = os.environ if environ is None else environ
    if s3.credentials_file is None:
        got = {k: env.get(k, "") for k in KEY_NAMES}
        where = "the environment"
    else:
        f = check_private(s3.credentials_file, "the S3 credentials file")
        got = {}
        for n, line in enumerate(f.read_text("utf-8").splitlines(), 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            name, eq, value = text.partition("=")
            if not eq or name.strip() not in KEY_NAMES:
                raise ConfigError([(str(f), n, "credentials", "expected AWS_ACCESS_KEY_ID=... or "
                                   "AWS_SECRET_ACCESS_KEY=... (the line is not shown: it may hold a key)")])
            got[name.strip()] = value.strip()
        where = str(f)
    missing = [k for k in KEY_NAMES if not got.get(k)]
    if missing:
        raise ConfigError([(s3.label, None, "s3.credentials_file",
                            f"no {' and no '.join(missing)} in {where}; the keys come from the environment or "
                            f"from s3.credentials_file (mode 0600), never from park.yaml")])
    return got
