"""One YAML file (``tanjian.yaml``) configures a plant's workspace; pydantic validates it.

Every problem is reported with the file, the line and the field, all at once::

    tanjian.yaml:212: site.meters[14].unit_id: Input should be less than or equal to 247

Relative paths in the file are relative to the file's folder. The JSON Schema of the file is
``tanjian config schema``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, ValidationError, model_validator

from .business.mapping import ImportMapping
from .errors import ConfigError
from .site import Site
from .yamlfile import field_path, line_of, plain as plain_of, read_yaml, validation_error

#: the example shipped with the package: Plant 18
EXAMPLE = Path(__file__).parent / "examples" / "plant18.yaml"
ENV_VAR = "TANJIAN_CONFIG"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class S3Options(_Model):
    """How to reach an S3-compatible object store (credentials come from AWS_* environment variables)."""

    endpoint_url: str | None = Field(None, description="e.g. http://minio.plant.lan:9000; omit for AWS S3")
    region: str | None = Field(None, description="the bucket's region, e.g. us-east-1")
    allow_http: bool = Field(False, description="allow a plain-HTTP endpoint (inside a plant network)")
    force_path_style: bool = Field(False, description="path-style addressing (most self-hosted S3 servers)")
    anonymous: bool = Field(False, description="unsigned requests: a public, read-only bucket")


class Paths(_Model):
    data_dir: Path = Field(Path("var"), description="where the journal, store, ledger and keys live")
    store_url: str | None = Field(None, pattern=r"^s3://[^/?#]+(/[^?#]*)?$",
                                  description="keep the store on object storage instead of data_dir/store: "
                                              "s3://BUCKET/PREFIX (the journal stays local)")
    s3: S3Options | None = Field(None, description="options of store_url's object store")

    @model_validator(mode="after")
    def _s3_needs_url(self) -> "Paths":
        if self.s3 is not None and self.store_url is None:
            raise ValueError("s3 options given without store_url")
        return self

    @property
    def journal(self) -> Path:
        return self.data_dir / "journal"

    @property
    def store(self) -> Path | str:
        """The store's location: data_dir/store, or store_url with its options (workspace.storage)."""
        if self.store_url is None:
            return self.data_dir / "store"
        from .storage import s3_url

        return s3_url(self.store_url, self.s3.model_dump() if self.s3 is not None else {})

    @property
    def chain(self) -> Path:
        return self.data_dir / "chain"

    @property
    def evidence(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def inbox(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def run(self) -> Path:
        return self.data_dir / "run"


class CollectionConfig(_Model):
    fold_interval_s: float = Field(5.0, gt=0, description="how often acknowledged batches are folded into "
                                                          "the store [s, wall clock]")
    backoff_initial_s: float = Field(2.0, gt=0, description="first wait after a failed read [s]")
    backoff_max_s: float = Field(300.0, gt=0, description="longest wait between retries of a dead device [s]")
    compact_interval_h: float = Field(24.0, ge=0, description="how often the collector compacts the store "
                                                              "(expires old versions, tags kept) [h]; 0: never")
    compact_keep_days: float = Field(30.0, gt=0, description="versions younger than this survive compaction [d]")
    clock_tolerance_s: float = Field(60.0, gt=0, description="a reading whose device clock differs from the "
                                                             "collector's by more is flagged CLOCK_DRIFT [s]")


class ChainConfig(_Model):
    rpc_url: str = Field("http://127.0.0.1:8545", description="EVM JSON-RPC endpoint, or 'tester' for the "
                                                              "in-process eth-tester chain")
    chain_id: int | None = Field(None, description="expected chain id (checked when connecting)")
    confirmations: int = Field(1, ge=0, description="blocks to wait after an anchor is mined")
    anchor_interval_s: float = Field(30.0, gt=0, description="how often the ledger root is anchored [s]")
    keystore: Path | None = Field(None, description="encrypted keystore of the gateway key "
                                                    "(default: <data_dir>/chain/gateway.keystore.json)")
    password_file: Path | None = Field(None, description="file holding the keystore password, mode 0600 "
                                                         "(default: <data_dir>/chain/keystore.password)")
    contracts: dict[Literal["AnchorRegistry", "DeviceRegistry", "MethodologyRegistry", "QuotaRegistry"],
                    Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]] | None = Field(
        None, description="addresses the consortium published for its registries; they take precedence over "
                          "<data_dir>/chain/deployment.json (written when this workspace deploys its own)")
    methodology_id: str | None = Field(None, description="methodology the plant accounts with; when set, "
                                                         "accounting refuses a local package whose hash differs "
                                                         "from the version active on chain")
    methodology_package: Path | None = Field(None, description="directory of the local methodology package")

    @model_validator(mode="after")
    def _methodology_pair(self):
        if (self.methodology_id is None) != (self.methodology_package is None):
            raise ValueError("methodology_id and methodology_package go together")
        return self


class SimulationConfig(_Model):
    seed: int = Field(18, description="seed of the deterministic load model")
    history_days: float = Field(3.0, ge=0, description="days of history the demo backfills before going live")


class DashboardConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(5006, ge=1, le=65535)
    refresh_s: float = Field(5.0, gt=0, description="live refresh period of the big screen [s]")
    public_url: str = Field("http://127.0.0.1:5006", pattern=r"^https?://[^\s?#]+$",
                            description="address of the dashboards as the plant's phones reach them; the "
                                        "meters' QR labels point at <public_url>/readings?meter=ID")
    require_login: bool = Field(False, description="refuse to serve without accounts (a login is asked anyway as "
                                                   "soon as `tanjian user add` created one)")
    tls_certificate: Path | None = Field(None, description="PEM certificate (chain) of the dashboards; with "
                                                           "tls_key the server speaks HTTPS only, with HSTS")
    tls_key: Path | None = Field(None, description="PEM private key of tls_certificate, a file of mode 0600")
    oidc: OidcConfig | None = Field(None, description="optional OpenID Connect login beside the password form")
    trusted_proxies: list[IPvAnyNetwork] = Field([], description="reverse proxies whose X-Forwarded-For names the "
                                                                 "client (login rate limit per address); empty: "
                                                                 "the socket's peer address")


class OidcConfig(_Model):
    """An OpenID Connect provider the dashboards offer as a second way to log in (dashboards.oidc)."""

    name: str = Field(..., min_length=1, max_length=60, description="shown on the login page: 'Sign in with <name>'")
    issuer: str = Field(..., pattern=r"^https?://[^\s?#]+$",
                        description="the provider's issuer URL; its /.well-known/openid-configuration is read")
    client_id: str = Field(..., min_length=1, description="this workspace's client id at the provider")
    client_secret_file: Path = Field(..., description="file (mode 0600) whose first line is the client secret; "
                                                      "relative to this file's folder; never the secret itself")
    scopes: list[str] = Field(["openid", "email"], description="scopes asked for; must include openid")
    match: Literal["sub", "email"] = Field("sub", description="the ID token claim that names the local account "
                                                              "(`tanjian user oidc NAME IDENTITY`); email only "
                                                              "when the provider marks it email_verified")
    allow_http: bool = Field(False, description="accept a plain-HTTP issuer (a test provider on this machine)")
    redirect_uri: str | None = Field(None, pattern=r"^https?://[^\s?#]+$",
                                     description="the callback as registered at the provider (behind a proxy); "
                                                 "default: the address the browser used + /login/oidc/callback")

    @model_validator(mode="after")
    def _checks(self) -> "OidcConfig":
        if "openid" not in self.scopes:
            raise ValueError("scopes must include openid")
        if self.issuer.startswith("http://") and not self.allow_http:
            raise ValueError("the issuer must be https:// (allow_http: true only for a test provider)")
        return self


class JupyterConfig(_Model):
    port: int = Field(8888, ge=1, le=65535)


class Config(_Model):
    version: int = Field(1, description="version of this file's format")
    site: Site
    paths: Paths = Field(default_factory=Paths)
    collection: CollectionConfig = Field(default_factory=CollectionConfig)
    chain: ChainConfig = Field(default_factory=ChainConfig)
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    dashboards: DashboardConfig = Field(default_factory=DashboardConfig)
    jupyter: JupyterConfig = Field(default_factory=JupyterConfig)
    imports: dict[str, ImportMapping] = Field(default_factory=dict, description="named mappings of business "
                                                                                "files (tanjian import)")
    push: dict[str, Any] | None = Field(None, description="the HTTP endpoint outside connectors push readings to "
                                                    "(`tanjian push serve`; schema: workspace/data/"
                                                    "push-config.schema.json)")

    source: Path | None = Field(None, exclude=True, description="file this configuration came from")


def schema() -> dict[str, Any]:
    """JSON Schema of ``tanjian.yaml``."""
    from .schemas import push_config_schema

    s = Config.model_json_schema()
    s["properties"].pop("source", None)
    push = {k: v for k, v in push_config_schema().items() if k not in ("$schema", "title")}
    s["properties"]["push"] = {"anyOf": [push, {"type": "null"}], "default": None,
                               "title": "Push", "description": push.get("description", "")}
    s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    s["title"] = "tanjian.yaml"
    return s


def default_path() -> Path:
    """``$TANJIAN_CONFIG``, else ``./tanjian.yaml``, else the shipped Plant 18 example."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    if Path("tanjian.yaml").exists():
        return Path("tanjian.yaml")
    return EXAMPLE


def load_config(path: str | os.PathLike | None = None, *, data_dir: str | os.PathLike | None = None) -> Config:
    """Read, validate and resolve a configuration file.

    Parameters
    ----------
    path : path, optional
        The YAML file; default :func:`default_path`.
    data_dir : path, optional
        Overrides ``paths.data_dir`` (tests and the demo use this).

    Raises
    ------
    ConfigError
        With every problem found, each naming file, line and field.
    """
    path = Path(path) if path is not None else default_path()
    name = str(path)
    doc = read_yaml(path, "the file must be a mapping with at least 'site:'")
    plain = plain_of(doc)
    try:
        cfg = Config.model_validate(plain)
    except ValidationError as exc:
        raise validation_error(name, doc, exc) from None
    if plain.get("push") is not None:  # the connector endpoint's section, against its JSON Schema (core data)
        from .schemas import problems as schema_problems, push_config_schema, validator

        bad = schema_problems(validator(push_config_schema()), plain["push"])
        if bad:
            raise ConfigError([(name, line_of(doc, ("push", *p)), field_path(("push", *p)), msg) for p, msg in bad])
    refs = cfg.site.cross_reference_problems()
    from .meters import family_problems  # the meter families (register tables) are core data

    refs += family_problems(cfg.site)
    if refs:
        raise ConfigError([(name, line_of(doc, loc), field_path(loc), msg) for loc, msg in refs])
    # the packaged example keeps its data under the working folder, a user's file beside itself
    base = Path.cwd() if path.resolve() == EXAMPLE.resolve() else path.resolve().parent
    dd = Path(data_dir) if data_dir is not None else cfg.paths.data_dir
    cfg.paths = cfg.paths.model_copy(update={"data_dir": (base / dd) if not dd.is_absolute() else dd})
    cfg.site = cfg.site.with_files_under(base)  # certificates, keys, password files beside the file
    ch = cfg.chain
    cfg.chain = ch.model_copy(update={
        "keystore": (base / ch.keystore) if ch.keystore else cfg.paths.chain / "gateway.keystore.json",
        "password_file": (base / ch.password_file) if ch.password_file else cfg.paths.chain / "keystore.password",
        "methodology_package": (base / ch.methodology_package) if ch.methodology_package else None,
    })
    oidc = cfg.dashboards.oidc
    if oidc is not None and not oidc.client_secret_file.is_absolute():
        cfg.dashboards.oidc = oidc.model_copy(update={"client_secret_file": base / oidc.client_secret_file})
    cfg.source = path.resolve()
    return cfg
