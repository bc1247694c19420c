"""The store's format version: written at creation, a store of the current format opens unchanged, an older one
is migrated by the writer only (one commit a step, named), a newer one is refused with what to do."""

from __future__ import annotations

import pytest
import zarr

from workspace.errors import StoreError
from workspace.store import Store
from workspace.store.format import FORMAT


def _set_format(store, value):
    s = store.repo.writable_session("main")
    g = zarr.open_group(store=s.store, mode="a")
    if value is None:
        del g.attrs["format"]
    else:
        g.attrs["format"] = value
    s.commit("test: format attribute changed", metadata={"author": "test", "changed_slots": [0, 0]})


def _format(store):
    return zarr.open_group(store=store.repo.readonly_session(branch="main").store, mode="r").attrs.get("format")


def test_current_format_opens_unchanged_older_migrates_newer_refused(fresh):
    cfg, _, store = fresh
    assert _format(store) == FORMAT == 1
    n = len(store.versions())
    again = Store.open(cfg.paths.store, cfg.site, create=True)  # current format: no migration
    assert len(again.versions()) == n

    _set_format(store, None)  # as a store written before the version existed (format 0)
    n = len(store.versions())
    reader = Store.open(cfg.paths.store, cfg.site)  # readers read format 0 as is ...
    assert _format(reader) is None and len(reader.versions()) == n
    writer = Store.open(cfg.paths.store, cfg.site, create=True)  # ... the writer migrates it
    assert _format(writer) == 1
    versions = writer.versions()
    assert len(versions) == n + 1 and versions[0]["message"] == "store format 0 -> 1"
    assert versions[0]["metadata"]["kind"] == "migration"

    _set_format(store, FORMAT + 1)
    with pytest.raises(StoreError, match=rf"the store has format {FORMAT + 1}, written by a newer tanjian; this one "
                                         rf"reads formats up to {FORMAT}\. Upgrade tanjian, or restore the backup"):
        Store.open(cfg.paths.store, cfg.site)
