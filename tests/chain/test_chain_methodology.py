"""Methodology packages: the directory hash (against sha256sum), publishing, the active version, refusal."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from chain import methodology as m
from chain.deploy import deploy_contracts
from chain.node import connect
from chain.registry import METHODOLOGY_REGISTRY, from_deployment
from workspace.errors import ChainError

UTC = dt.timezone.utc


def make_package(root):
    """A small package: two files at the top, one hidden, one in a sub-directory, one empty folder."""
    (root / "factors").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "method.yaml").write_bytes(b"id: CN-GHG-MACH\nscope: [1, 2]\n")
    (root / "README.md").write_bytes("机械设备制造企业温室气体排放核算\n".encode())
    (root / ".lock").write_bytes(b"")
    (root / "factors" / "grid.csv").write_bytes(b"region,kgCO2e_per_kWh\nCN-national,0.5366\n")
    return root


# Recorded with GNU coreutils 9 on the package above (the manifest lines are the same command without
# the final `| sha256sum`):
#   cd PKG && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum
PACKAGE_SHA256 = "909414d8130c047328bc819437c183067115c0f737d2aac3763232ceae1bc79d"


def test_package_hash_is_the_sha256sum_of_the_sorted_manifest(tmp_path):
    pkg = make_package(tmp_path / "pkg")
    assert m.manifest(pkg).decode().splitlines() == [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  .lock",
        "85775649cb2a419a6408d11b966771b7fbd8b3b66ad887da351da25330105ffc  README.md",
        "30decf8c9ed7c58279bd8faa7dde9c222a3fefae53e32e5607879050f286fae9  factors/grid.csv",
        "01414e4c76b9cb9f1b4764e70e68910f1b72404c82d6afa3dd941ec129c819bb  method.yaml",
    ]
    assert m.package_sha256(pkg) == PACKAGE_SHA256


def test_package_hash_changes_with_one_byte_or_a_rename_and_refuses_links(tmp_path):
    pkg = make_package(tmp_path / "pkg")
    (pkg / "factors" / "grid.csv").write_bytes(b"region,kgCO2e_per_kWh\nCN-national,0.5367\n")
    changed = m.package_sha256(pkg)
    assert changed != PACKAGE_SHA256
    (pkg / "factors" / "grid.csv").rename(pkg / "factors" / "Grid.csv")
    assert m.package_sha256(pkg) not in (changed, PACKAGE_SHA256)
    os.symlink(pkg / "method.yaml", pkg / "alias.yaml")
    with pytest.raises(ChainError, match="alias.yaml is a symbolic link"):
        m.package_sha256(pkg)
    with pytest.raises(ChainError, match="is not a directory"):
        m.package_sha256(tmp_path / "nowhere")


@pytest.fixture
def chain():
    w3 = connect("tester")
    association = w3.eth.accounts[1]
    info = deploy_contracts(w3, w3.eth.accounts[0], association=association)
    return w3, from_deployment(w3, info, METHODOLOGY_REGISTRY), association


def test_publish_and_read_the_active_version(chain, tmp_path):
    w3, reg, association = chain
    v1 = make_package(tmp_path / "v1")
    v2 = make_package(tmp_path / "v2")
    (v2 / "factors" / "grid.csv").write_bytes(b"region,kgCO2e_per_kWh\nCN-national,0.5306\n")
    p1 = m.publish(w3, reg, association, v1, "CN-GHG-MACH", "2026.1", dt.date(2026, 1, 1))
    assert p1.package_sha256 == PACKAGE_SHA256 and p1.effective_to is None
    m.publish(w3, reg, association, v2, "CN-GHG-MACH", "2026.2",
              dt.datetime(2026, 7, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    assert m.active(reg, "CN-GHG-MACH", dt.date(2025, 12, 31)) is None
    a = m.active(reg, "CN-GHG-MACH", dt.datetime(2026, 6, 30, 15, 59, 59, tzinfo=UTC))
    assert (a.version, a.package_sha256, a.effective_from) == (
        "2026.1", PACKAGE_SHA256, dt.datetime(2026, 1, 1, tzinfo=UTC))
    b = m.active(reg, "CN-GHG-MACH", dt.datetime(2026, 6, 30, 16, 0, tzinfo=UTC))  # 07-01 00:00 +08:00
    assert b.version == "2026.2" and b.package_sha256 == m.package_sha256(v2)
    with pytest.raises(ChainError, match="NotAssociation"):
        m.publish(w3, reg, w3.eth.accounts[0], v1, "CN-GHG-MACH", "2027.1", dt.date(2027, 1, 1))
    with pytest.raises(ChainError, match="VersionExists"):  # never overwritten
        m.publish(w3, reg, association, v2, "CN-GHG-MACH", "2026.1", dt.date(2026, 1, 1))


def test_require_matching_refuses_a_local_package_that_differs(chain, tmp_path):
    w3, reg, association = chain
    pkg = make_package(tmp_path / "pkg")
    with pytest.raises(ChainError, match="no version of methodology 'CN-GHG-MACH' is effective"):
        m.require_matching(pkg, reg, "CN-GHG-MACH", dt.date(2026, 3, 1))
    m.publish(w3, reg, association, pkg, "CN-GHG-MACH", "2026.1", dt.date(2026, 1, 1), dt.date(2027, 1, 1))
    assert m.require_matching(pkg, reg, "CN-GHG-MACH", dt.date(2026, 3, 1)).version == "2026.1"
    (pkg / "method.yaml").write_bytes(b"id: CN-GHG-MACH\nscope: [1, 2, 3]\n")
    local = m.package_sha256(pkg)
    with pytest.raises(ChainError) as exc:
        m.require_matching(pkg, reg, "CN-GHG-MACH", dt.date(2026, 3, 1))
    msg = str(exc.value)
    assert local in msg and PACKAGE_SHA256 in msg and "'2026.1'" in msg and str(pkg) in msg
    with pytest.raises(ChainError, match="no version .* is effective"):  # the window has ended
        m.require_matching(pkg, reg, "CN-GHG-MACH", dt.date(2027, 1, 1))


def test_parse_when():
    assert m.parse_when("2026-01-01") == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert m.parse_when("2026-01-01T00:00+08:00") == dt.datetime(2025, 12, 31, 16, tzinfo=UTC)
    with pytest.raises(ChainError, match="no time zone"):
        m.parse_when("2026-01-01T00:00")
