"""Where a plant's store lives: a local folder, or a prefix on S3-compatible object storage.

The journal is always a local file (its ``fsync`` is the acknowledgement); the store it folds into
can live on object storage — the plant's own MinIO / Ceph RGW, inside the plant (a park never reads a
plant's store: it receives report packages and proofs only, see ``models.park``). A location is a folder path or an URL::

    s3://BUCKET/PREFIX?endpoint_url=http://minio.plant.lan:9000&region=us-east-1&allow_http=true&force_path_style=true

The query options are those of :func:`icechunk.s3_storage`: ``endpoint_url`` (omit for AWS),
``region``, ``allow_http`` (plain-HTTP endpoints inside a plant network), ``force_path_style``
(most self-hosted S3 servers), ``anonymous`` (public read-only buckets). Credentials never appear in
the location or the YAML: they come from the environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, optionally ``AWS_SESSION_TOKEN``), as every S3 tool reads them.

In ``tanjian.yaml`` the same is written as a block, validated like the rest::

    paths:
      data_dir: var             # journal, ledger, keys, evidence: always local
      store_url: s3://plants/plant-18/store
      s3: {endpoint_url: "http://minio.plant.lan:9000", region: us-east-1, allow_http: true,
           force_path_style: true}
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from .errors import StoreError

#: options of an ``s3://`` location, with their types
S3_OPTIONS = {"endpoint_url": str, "region": str, "allow_http": bool, "force_path_style": bool, "anonymous": bool}
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


@dataclass(frozen=True)
class StoreLocation:
    """A parsed store location.

    Attributes
    ----------
    label : str
        What messages name: the folder, or the URL without its options.
    local : pathlib.Path or None
        The folder, for a local store.
    bucket, prefix : str or None
        For an object-storage store.
    options : dict
        :data:`S3_OPTIONS` given in the URL.
    """

    label: str
    local: Path | None = None
    bucket: str | None = None
    prefix: str | None = None
    options: tuple = ()

    @property
    def is_local(self) -> bool:
        return self.local is not None

    def storage(self):
        """The :class:`icechunk.Storage` for this location."""
        import icechunk

        if self.local is not None:
            return icechunk.local_filesystem_storage(str(self.local))
        opts = dict(self.options)
        anonymous = opts.pop("anonymous", False)
        if not anonymous and not os.environ.get("AWS_ACCESS_KEY_ID"):
            raise StoreError(f"{self.label}: no credentials for object storage. Set AWS_ACCESS_KEY_ID and "
                             f"AWS_SECRET_ACCESS_KEY in the environment of the process (they are never read "
                             f"from tanjian.yaml), or add anonymous=true for a public read-only bucket.")
        return icechunk.s3_storage(bucket=self.bucket, prefix=self.prefix, anonymous=anonymous or None,
                                   from_env=None if anonymous else True, **opts)


def parse_location(location: str | os.PathLike) -> StoreLocation:
    """Parse a store location (a folder, or ``s3://bucket/prefix?options``); see the module's text.

    Raises
    ------
    StoreError
        An URL of another scheme, without a bucket, or with an unknown or malformed option.
    """
    text = os.fspath(location)
    if "://" not in text:
        return StoreLocation(label=text, local=Path(text))
    parts = urlsplit(text)
    label = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if parts.scheme != "s3":
        raise StoreError(f"{label}: a store lives in a local folder or at s3://BUCKET/PREFIX, not {parts.scheme}://")
    if not parts.netloc:
        raise StoreError(f"{label}: no bucket (write s3://BUCKET/PREFIX)")
    opts = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)):
        kind = S3_OPTIONS.get(key)
        if kind is None:
            raise StoreError(f"{label}: unknown option {key!r} (known: {', '.join(S3_OPTIONS)})")
        if kind is bool:
            if value.lower() not in _TRUE | _FALSE:
                raise StoreError(f"{label}: option {key}={value!r} must be true or false")
            value = value.lower() in _TRUE
        opts[key] = value
    prefix = parts.path.strip("/") or None
    return StoreLocation(label=label, bucket=parts.netloc, prefix=prefix, options=tuple(sorted(opts.items())))


def s3_url(bucket_and_prefix: str, options: dict) -> str:
    """``s3://bucket/prefix`` with ``options`` (None values left out) as its query."""
    opts = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in options.items() if v is not None}
    return bucket_and_prefix + (("?" + urlencode(sorted(opts.items()))) if opts else "")


__all__ = ["S3_OPTIONS", "StoreLocation", "parse_location", "s3_url"]
