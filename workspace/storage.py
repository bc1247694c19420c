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

How long the client waits on object storage is data, ``workspace/data/store_network.yaml``
(:func:`network`): icechunk's retries (tries, backoff) and its stall timeout, bounded so that a store that
is down makes a fold step fail within seconds (the journal keeps the readings, the next fold retries)
instead of holding it for minutes on icechunk's defaults; and the deadline ``tanjian status`` gives a probe
of the store (:func:`probe`).
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from .errors import StoreError

#: options of an ``s3://`` location, with their types
S3_OPTIONS = {"endpoint_url": str, "region": str, "allow_http": bool, "force_path_style": bool, "anonymous": bool}
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
NETWORK_FILE = Path(__file__).resolve().parent / "data" / "store_network.yaml"
_NETWORK_KEYS = ("max_tries", "initial_backoff_ms", "max_backoff_ms", "network_stream_timeout_s", "status_deadline_s")


@functools.lru_cache(maxsize=1)
def network() -> dict:
    """The object-storage waits of ``workspace/data/store_network.yaml`` (checked: positive numbers).

    Returns
    -------
    dict
        ``max_tries`` [-], ``initial_backoff_ms`` [ms], ``max_backoff_ms`` [ms], ``network_stream_timeout_s`` [s],
        ``status_deadline_s`` [s].
    """
    from .yamlfile import read_yaml

    doc = read_yaml(NETWORK_FILE)
    out = {}
    for key in _NETWORK_KEYS:
        value = doc.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise StoreError(f"{NETWORK_FILE}: {key}: a positive number is needed, not {value!r}")
        out[key] = value
    if out["max_backoff_ms"] < out["initial_backoff_ms"]:
        raise StoreError(f"{NETWORK_FILE}: max_backoff_ms ({out['max_backoff_ms']}) is below "
                         f"initial_backoff_ms ({out['initial_backoff_ms']})")
    return out


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
                                   from_env=None if anonymous else True,
                                   network_stream_timeout_seconds=int(network()["network_stream_timeout_s"]), **opts)

    def repository_config(self):
        """The :class:`icechunk.RepositoryConfig` a repository at this location is opened with: the bounded
        retries of :func:`network` on object storage, None (icechunk's defaults) for a local folder."""
        if self.local is not None:
            return None
        import icechunk

        n = network()
        retries = icechunk.StorageRetriesSettings(max_tries=int(n["max_tries"]),
                                                  initial_backoff_ms=int(n["initial_backoff_ms"]),
                                                  max_backoff_ms=int(n["max_backoff_ms"]))
        return icechunk.RepositoryConfig(storage=icechunk.StorageSettings(retries=retries))


_PROBES: list[threading.Thread] = []


def probes_running() -> bool:
    """Whether a :func:`probe` that gave up is still waiting on its store (a process that exits should then
    not wait for it, nor let the interpreter's shutdown cut it short inside the storage client)."""
    return any(t.is_alive() for t in _PROBES)


def probe(fn, *, deadline_s: float | None = None, what: str = "store"):
    """Run ``fn()`` in a thread and wait at most ``deadline_s`` [s] (default: ``status_deadline_s`` of
    :func:`network`) for it.

    Returns
    -------
    tuple
        ``(True, result)`` when it returned in time; ``(False, reason)`` when it raised (its message) or did not
        answer in time (``"no answer within N s"``; the thread is left to finish on its own, as a daemon).
    """
    deadline_s = network()["status_deadline_s"] if deadline_s is None else deadline_s
    box: dict = {}

    def run():
        try:
            box["ok"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller as the reason
            box["error"] = str(exc) or type(exc).__name__

    t = threading.Thread(target=run, name=f"probe-{what}", daemon=True)
    t.start()
    t.join(deadline_s)
    if t.is_alive():
        _PROBES.append(t)
        return False, f"no answer within {deadline_s:g} s"
    if "error" in box:
        return False, box["error"]
    return True, box.get("ok")


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


__all__ = ["NETWORK_FILE", "S3_OPTIONS", "StoreLocation", "network", "parse_location", "probe", "probes_running", "s3_url"]
