"""Content-addressed evidence store: idempotent, verified on read, clear errors."""

import hashlib

import pytest

from workspace.errors import TanjianError
from workspace.evidence import EvidenceStore


def test_put_is_content_addressed_and_idempotent(tmp_path):
    store = EvidenceStore(tmp_path / "evidence")
    data = b"\xff\xd8\xff photo of meter M-TR-1"
    a = store.put(data, name="IMG_0001.jpg", media_type="image/jpeg", author="li", reason="hand reading")
    b = store.put(data, name="copy.jpg", author="wang", reason="again")
    assert a.sha256 == b.sha256 == hashlib.sha256(data).hexdigest()
    assert a.path == tmp_path / "evidence" / "sha256" / a.sha256[:2] / a.sha256
    assert a.path.read_bytes() == data
    got = store.get(a.sha256)
    assert [s["name"] for s in got.meta["seen"]] == ["IMG_0001.jpg", "copy.jpg"]
    assert got.meta["media_type"] == "image/jpeg" and a.sha256 in store


def test_altered_file_is_detected(tmp_path):
    store = EvidenceStore(tmp_path)
    ev = store.put(b"invoice 2026-03", name="inv.pdf")
    ev.path.write_bytes(b"invoice 2026-04")
    with pytest.raises(TanjianError, match="altered or damaged"):
        store.get(ev.sha256)
    with pytest.raises(TanjianError, match="no file"):
        store.get("0" * 64)
    with pytest.raises(TanjianError, match="not a SHA-256"):
        store.get("xyz")
