"""The park's drop on S3-compatible object storage (MinIO, Ceph RGW, AWS S3), beside the drop folder.

An enterprise submits a package (:mod:`models.park.package`) into the bucket, the park reads the packages back
into a local copy and verifies them exactly as from the drop folder (:func:`models.park.verify.verify_package`
on :func:`models.park.package.scan_drop` of the copy). Settings: ``s3`` of ``park.yaml``
(:mod:`models.park.config`); keys from the environment or a 0600 file, never the YAML.

Layout under ``s3://<bucket>/<prefix>/``::

    <enterprise>/<period>/<upload>/package.json, figures.json, <batch>, <bundle>, reports/...
    <enterprise>/<period>/CURRENT            the name of the current <upload> (written last)

``<upload>`` is the first 16 hex digits of the SHA-256 of figures.json. An upload never overwrites another's
files and ``CURRENT`` is written after every file of the package, so the park never reads half a package, nor
a new figures.json beside an old manifest; a resubmission of the month replaces ``CURRENT`` (the earlier
upload stays in the bucket, for the record). Each enterprise's key may be limited by the bucket policy to
``<prefix>/<enterprise>/``.

Object names are checked before they become local paths (an enterprise id of letters, digits, ``.``, ``_``,
``-``; a period ``YYYY-MM``; relative names without ``..``): a key that is not a package's is skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path, PurePosixPath

from .config import ParkConfig, S3Drop, s3_credentials
from .package import MANIFEST, _PERIOD, Package, PackageError, load_package, scan_drop, submit

POINTER = "CURRENT"
_ENTERPRISE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_UPLOAD = re.compile(r"^[0-9a-f]{16}$")
_MARK = ".upload"  # in a cached package folder: the upload it was copied from


def client(s3: S3Drop, environ: dict | None = None):
    """A boto3 S3 client for ``s3`` (keys from :func:`models.park.config.s3_credentials`)."""
    import boto3
    from botocore.config import Config

    if s3.endpoint_url and s3.endpoint_url.startswith("http://") and not s3.allow_http:
        raise PackageError(f"{s3.label}: endpoint {s3.endpoint_url} is plain HTTP; set s3.allow_http: true to "
                           f"allow it (inside the park's network only)")
    keys = s3_credentials(s3, environ)
    return boto3.client("s3", endpoint_url=s3.endpoint_url, region_name=s3.region,
                        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
                        config=Config(s3={"addressing_style": "path" if s3.force_path_style else "auto"},
                                      retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10,
                                      read_timeout=60))


def _failed(s3: S3Drop, what: str, exc: Exception) -> PackageError:
    """One line for an S3 failure (no traceback for a person)."""
    detail = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
    return PackageError(f"{s3.label}: {what} failed: {detail or type(exc).__name__}: {exc}")


def submit_s3(package_dir: str | os.PathLike, s3: S3Drop, *, s3_client=None) -> str:
    """Upload a package to ``<prefix>/<enterprise>/<period>/<upload>/`` and point ``CURRENT`` at it.

    Returns the ``s3://`` location of the upload.

    Raises
    ------
    PackageError
        The package is unreadable, or the bucket refused (one line naming the bucket and the S3 error code).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    pkg = load_package(package_dir)
    if pkg.problem:
        raise PackageError(pkg.problem)
    folder = Path(package_dir)
    upload = hashlib.sha256(pkg.figures_bytes).hexdigest()[:16]
    base = s3.key(pkg.enterprise, pkg.period)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    c = s3_client or client(s3)
    try:
        for p in [*files, folder / MANIFEST]:  # the manifest after the files it names
            c.upload_file(str(p), s3.bucket, f"{base}/{upload}/{p.relative_to(folder).as_posix()}")
        c.put_object(Bucket=s3.bucket, Key=f"{base}/{POINTER}", Body=upload.encode() + b"\n")
    except (BotoCoreError, ClientError) as exc:
        raise _failed(s3, f"submitting {pkg.enterprise} {pkg.period}", exc) from None
    return f"s3://{s3.bucket}/{base}/{upload}/"


def _safe_relative(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and not name.startswith("/") and all(p not in ("", ".", "..") for p in parts) \
        and "\\" not in name


def fetch_s3(s3: S3Drop, cache: str | os.PathLike, *, s3_client=None) -> Path:
    """Copy every current package of the bucket into ``cache`` (``<cache>/<enterprise>/<period>/``); returns it.

    A package whose ``CURRENT`` did not change since the last copy is not downloaded again; a package is
    downloaded beside and renamed into place. Packages no longer in the bucket are removed from the copy, so
    the copy is what the bucket holds.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    c = s3_client or client(s3)
    root = s3.key()
    lead = f"{root}/" if root else ""
    current: dict[tuple[str, str], str] = {}
    try:
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=lead):
            for obj in page.get("Contents", []):
                rest = obj["Key"][len(lead):].split("/")
                if len(rest) == 3 and rest[2] == POINTER and _ENTERPRISE.match(rest[0]) and _PERIOD.match(rest[1]):
                    body = c.get_object(Bucket=s3.bucket, Key=obj["Key"])["Body"].read().decode().strip()
                    if _UPLOAD.match(body):
                        current[(rest[0], rest[1])] = body
        for (ent, period), upload in sorted(current.items()):
            dest = cache / ent / period
            mark = dest / _MARK
            if mark.is_file() and mark.read_text().strip() == upload:
                continue
            tmp = dest.with_name(f".{period}.incoming")
            if tmp.exists():
                shutil.rmtree(tmp)
            up = f"{lead}{ent}/{period}/{upload}/"
            for page in c.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=up):
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(up):]
                    if not _safe_relative(name):
                        continue
                    target = tmp / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    c.download_file(s3.bucket, obj["Key"], str(target))
            tmp.mkdir(parents=True, exist_ok=True)
            (tmp / _MARK).write_text(upload + "\n")
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
    except (BotoCoreError, ClientError) as exc:
        raise _failed(s3, "reading the packages", exc) from None
    for folder in cache.glob("*/*"):
        if folder.is_dir() and not folder.name.startswith(".") and \
                (folder.parent.name, folder.name) not in current:
            shutil.rmtree(folder)
    return cache


def scan(cfg: ParkConfig) -> list[Package]:
    """The park's packages, from its drop folder or (copied into ``cfg.cache`` first) from its bucket."""
    if cfg.s3 is not None:
        return scan_drop(fetch_s3(cfg.s3, cfg.cache))
    return scan_drop(cfg.drop)


def submit_to(cfg: ParkConfig, package_dir: str | os.PathLike) -> str:
    """Submit a package where ``park.yaml`` says: its drop folder or its bucket; returns where it went."""
    if cfg.s3 is not None:
        return submit_s3(package_dir, cfg.s3)
    return str(submit(package_dir, cfg.drop))


__all__ = ["POINTER", "client", "fetch_s3", "scan", "submit_s3", "submit_to"]
