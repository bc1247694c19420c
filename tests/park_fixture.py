"""The park of the tests, in one home: a real anvil node, the consortium's contracts and the three enterprises.

:class:`ParkWorld`: one contract set (the consortium's), the association's methodology published, and per
enterprise a gateway key registered for it, a journal, a chain state folder and the regulator's quota on chain
(also used by benchmarks/bench_park.py for its 500 enterprises).

:func:`three_enterprise_park` builds the park every park test looks at (E1..E3, one tampered package), and the
fixtures give it to a test module::

    from tests.park_fixture import anvil_w3, three_park  # noqa: F401 (fixtures)

    def test_x(three_park):
        world, drop = three_park

``anvil_w3`` is a module's own anvil node (skipped when anvil is missing); ``three_park`` is the three-enterprise
park on it, built once per module (a module that changes the world, e.g. enrols a fourth enterprise, changes
only its own).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

from chain.deploy import deploy_contracts, ensure_gateway
from chain.methodology import package_sha256, publish
from chain.quota import set_on_chain
from chain.registry import ANCHOR_REGISTRY, METHODOLOGY_REGISTRY, QUOTA_REGISTRY, from_deployment
from models.park.package import figures_json
from models.reports.park_package import ledger_anchor_package

ROOT = Path(__file__).resolve().parents[1]
METHODOLOGY_ID = "cn-machinery-2015"
METHODOLOGY_DIR = ROOT / "models" / "methodologies" / METHODOLOGY_ID
VERSION = "2015"


@dataclass
class Enterprise:
    id: str
    sector: str
    gateway: object
    home: Path

    @property
    def journal(self) -> Path:
        return self.home / "journal"

    @property
    def state(self) -> Path:
        return self.home / "chain"


class ParkWorld:
    """The chain side of a park: deployment, methodology, enterprises and their quotas."""

    def __init__(self, w3, root: Path, effective: dt.date = dt.date(2026, 1, 1)):
        self.w3, self.root = w3, Path(root)
        self.deployer = w3.eth.accounts[0]
        self.deployment = deploy_contracts(w3, self.deployer)
        self.anchor_address = self.deployment["contracts"][ANCHOR_REGISTRY]["address"]
        self.sha = package_sha256(METHODOLOGY_DIR)
        publish(w3, from_deployment(w3, self.deployment, METHODOLOGY_REGISTRY), self.deployer, METHODOLOGY_DIR,
                METHODOLOGY_ID, VERSION, effective)
        self.quotas = from_deployment(w3, self.deployment, QUOTA_REGISTRY)
        self.enterprises: dict[str, Enterprise] = {}

    @property
    def methodology(self) -> dict:
        return {"id": METHODOLOGY_ID, "version": VERSION, "sha256": self.sha}

    def enroll(self, eid: str, sector: str, quota_kg: int | None = None, year: int = 2026) -> Enterprise:
        gw = Account.create()
        ensure_gateway(self.w3, self.deployment, gw.address, eid, deployer=self.deployer)
        self.w3.eth.send_transaction({"from": self.deployer, "to": gw.address, "value": 10**18})
        if quota_kg is not None:
            set_on_chain(self.w3, self.quotas, self.deployer, eid, year, quota_kg, "allocation")
        e = Enterprise(eid, sector, gw, self.root / eid)
        self.enterprises[eid] = e
        return e

    def package(self, eid: str, period: str, totals: dict, out: Path, methodology: dict | None = None,
                by: str | None = None) -> Path:
        """Figures of ``eid`` for ``period`` ledgered and anchored (by enterprise ``by``, default ``eid``
        itself) and packaged into ``out``."""
        figures = figures_json(eid, self.enterprises[eid].sector, period, methodology or self.methodology, totals)
        e = self.enterprises[by or eid]
        return ledger_anchor_package(figures, plant=e.id, journal_dir=e.journal, state_dir=e.state, w3=self.w3,
                                     anchor_address=self.anchor_address, gateway=e.gateway, out_dir=out,
                                     author="energy.manager", reason=f"monthly figures {period}")


# kg CO2e per month (figures as the enterprises' reports state them)
TOTALS = {
    "E1": {"2026-01": 1000.0, "2026-02": 1200.0, "2026-03": 1100.0},
    "E2": {"2026-01": 500.0, "2026-02": 700.0, "2026-03": 600.0},
    "E3": {"2026-01": 2000.0, "2026-02": 2500.0},  # March: never submitted
}
SECTORS = {"E1": "machinery", "E2": "machinery", "E3": "cement"}
QUOTAS = {"E1": 12_000, "E2": 9_000, "E3": 30_000}


def three_enterprise_park(w3, root: Path) -> tuple[ParkWorld, Path]:
    """The park of the tests: E1..E3 (:data:`TOTALS`), every package dropped, E2's February figures
    rewritten after they were ledgered (total 700 -> 70). Returns the world and the drop folder."""
    from models.park import submit

    world = ParkWorld(w3, root / "enterprises")
    drop = root / "drop"
    for eid, months in TOTALS.items():
        world.enroll(eid, SECTORS[eid], QUOTAS[eid])
        for period, total in months.items():
            pkg = world.package(eid, period, {"scope1": total * 0.4, "scope2": total * 0.6, "total": total},
                                root / "out" / eid / period)
            submit(pkg, drop)
    fig = drop / "E2" / "2026-02" / "figures.json"
    fig.write_bytes(fig.read_bytes().replace(b'"total":700', b'"total":70'))
    return world, drop


@pytest.fixture(scope="module")
def anvil_w3():
    """A Web3 on this module's own anvil node (the module is skipped when anvil is missing)."""
    from chain.node import connect, free_port
    from tanjian.simulator.anvil import find_anvil, start_anvil
    from workspace.errors import ChainError

    try:
        find_anvil()
    except ChainError as exc:
        pytest.skip(str(exc))
    node = start_anvil(free_port())
    try:
        yield connect(node.rpc_url)
    finally:
        node.stop()


@pytest.fixture(scope="module")
def three_park(anvil_w3, tmp_path_factory):
    """``(world, drop)``: :func:`three_enterprise_park` on this module's anvil node."""
    return three_enterprise_park(anvil_w3, tmp_path_factory.mktemp("park"))
