"""Shared fixtures. Markers are declared once in pyproject.toml; real parts only (see README)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.objectstore import S3_KEY, s3_config, s3_up, start_s3_server
from workspace.config import EXAMPLE, load_config

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("TANJIAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


#: ports handed out below the kernel's ephemeral range: a port from bind(0) is an ephemeral one, and the
#: kernel may give it to an outgoing connection's source side between our check and the server's bind
#: ("address already in use"); below the range only servers we start take ports. Each call moves on,
#: so one test session never gets the same port twice.
_NEXT_PORT = [10000 + (os.getpid() * 37) % max(1, _ephemeral_low() - 10000 - 2000)]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now and outside the kernel's ephemeral range."""
    low = _ephemeral_low()
    for _ in range(5000):
        port = _NEXT_PORT[0]
        _NEXT_PORT[0] = port + 1 if port + 1 < low else 10000
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below the ephemeral range")


def free_port_block(n: int) -> int:
    """A base port such that base..base+n-1 are free (for a plant's gateways)."""
    for _ in range(50):
        base = free_port()
        if base + n >= _ephemeral_low():
            _NEXT_PORT[0] = 10000
            continue
        _NEXT_PORT[0] = base + n
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                s.bind(("127.0.0.1", base + i))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free block of ports")


def pytest_collection_modifyitems(config, items):
    have_chromium = Path(CHROMIUM).exists()
    have_anvil = (ROOT / "node_modules" / ".bin" / "anvil").exists()
    have_solc = (ROOT / "node_modules" / ".bin" / "solcjs").exists()
    for item in items:
        if "requires_chromium" in item.keywords and not have_chromium:
            item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} missing: run `make test`, which installs it"))
        if "requires_anvil" in item.keywords and not have_anvil:
            item.add_marker(pytest.mark.skip(reason="node_modules/.bin/anvil missing: run `make test`"))
        if "requires_solc" in item.keywords and not have_solc:
            item.add_marker(pytest.mark.skip(reason="node_modules/.bin/solcjs missing: run `make test`"))


@pytest.fixture
def plant_cfg(tmp_path):
    """The Plant 18 configuration with its data under a temporary folder."""
    return load_config(EXAMPLE, data_dir=tmp_path / "var")


@pytest.fixture
def fresh(plant_cfg):
    """(config, writer journal, new empty store) of Plant 18 under a temporary folder."""
    from workspace.journal import Journal
    from workspace.store import Store

    j = Journal(plant_cfg.paths.journal, writer=True)
    s = Store.open(plant_cfg.paths.store, plant_cfg.site, create=True)
    yield plant_cfg, j, s
    j.close()


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory):
    """A workspace with 30 hours of simulated Plant 18 history ending at the current minute.

    Session-scoped and read-only for the tests that use it: copy it before writing.
    """
    from tanjian.demo.history import seed_history

    d = tmp_path_factory.mktemp("seeded") / "var"
    cfg = load_config(EXAMPLE, data_dir=d)
    end = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    seed_history(cfg, end - dt.timedelta(hours=30), end)
    return d


@pytest.fixture
def seeded_cfg(seeded_dir, tmp_path):
    """A private copy of the seeded workspace."""
    d = tmp_path / "var"
    shutil.copytree(seeded_dir, d)
    return load_config(EXAMPLE, data_dir=d)


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser).

    Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is open,
    which would stop pytest-asyncio's tests in later modules from starting theirs.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


# -- the store's storage: the store suite runs its backend-sensitive tests on a folder and on S3 ---------------
@pytest.fixture(scope="session")
def s3_session():
    """One S3 server with bucket ``plants`` shared by the parametrised store tests (each its own prefix)."""
    box = s3_up(start_s3_server())
    yield box
    box["server"].stop()


@pytest.fixture
def s3(monkeypatch):
    """A private S3 server with bucket ``plants`` (a test may stop and restart it); yields
    {server, endpoint, port}; the credentials are in the environment."""
    for k, v in S3_KEY.items():
        monkeypatch.setenv(k, v)
    box = s3_up(start_s3_server())
    yield box
    box["server"].stop()


@pytest.fixture(params=["local", "s3"])
def store_backend(request, monkeypatch) -> str:
    """Where the store lives: "local" (a folder) or "s3" (a bucket on an S3 server)."""
    if request.param == "s3":
        for k, v in S3_KEY.items():
            monkeypatch.setenv(k, v)
        request.getfixturevalue("s3_session")
    return request.param


@pytest.fixture
def store_cfg(store_backend, request, tmp_path):
    """The Plant 18 configuration with its store on ``store_backend`` (journal and the rest local)."""
    if store_backend == "local":
        return load_config(EXAMPLE, data_dir=tmp_path / "var")
    box = request.getfixturevalue("s3_session")
    return s3_config(tmp_path, box["endpoint"], prefix=f"t{os.getpid()}-{tmp_path.name}")


@pytest.fixture
def store_fresh(store_cfg):
    """(config, writer journal, new empty store) of Plant 18, the store on ``store_backend``."""
    from workspace.journal import Journal
    from workspace.store import Store

    j = Journal(store_cfg.paths.journal, writer=True)
    s = Store.open(store_cfg.paths.store, store_cfg.site, create=True)
    yield store_cfg, j, s
    j.close()
