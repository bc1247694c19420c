"""The park at scale: N enterprises' report packages (real proofs against anvil) verified and aggregated.

Run ``python -m benchmarks.bench_park --enterprises 500`` with the project's venv python, from the repository
root. It starts anvil, deploys the contract set, publishes the methodology, and for each enterprise registers a
gateway, sets a quota and issues one month's package (ledgered, anchored: one transaction each), all dropped
in one folder. Then it verifies every package three ways and prints a table:

- ``one by one``: :func:`models.park.verify_package` on a plain connection (one RPC round trip per look-up);
- ``batched``: :func:`models.park.scale.verify_all` on a :class:`chain.calls.BatchingProvider` (two batches);
- ``dask``: :func:`models.park.scale.verify_on_cluster` on a LocalCluster (``--workers`` processes).

Columns: packages verified per second, HTTP round trips to the node, JSON-RPC requests answered, and peak
resident memory of this process (the dask row adds the workers' peak); then the time to aggregate the
verified figures (by enterprise, sector, month, quota position).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTORS = ("machinery", "cement", "steel", "chemicals", "textiles")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--enterprises", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=100, help="packages per dask task")
    args = ap.parse_args(argv)

    from dask.distributed import Client, LocalCluster

    from chain.calls import batching_web3
    from chain.node import connect, free_port
    from models.park import by_enterprise, by_month, by_sector, quota_position, scan_drop, submit, verify_package
    from models.park.scale import verify_all, verify_on_cluster
    from tanjian.simulator.anvil import start_anvil
    from tests.park_fixture import ParkWorld

    n = args.enterprises
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        node = start_anvil(free_port())
        try:
            w3 = connect(node.rpc_url)
            t0 = time.perf_counter()
            world = ParkWorld(w3, tmp / "enterprises")
            for i in range(n):
                eid = f"E{i:04d}"
                world.enroll(eid, SECTORS[i % len(SECTORS)], 10_000 + 10 * i)
                total = 500.0 + i
                pkg = world.package(eid, "2026-11", {"scope1": total * 0.4, "scope2": total * 0.6, "total": total},
                                    tmp / "out" / eid)
                submit(pkg, tmp / "drop")
            gen = time.perf_counter() - t0
            pkgs = scan_drop(tmp / "drop")
            print(f"park benchmark: {n} enterprises, one package each (generated, ledgered and anchored "
                  f"in {gen:.1f} s); anvil at {node.rpc_url}")
            rows = []

            t = time.perf_counter()
            plain_w3 = batching_web3(node.rpc_url)
            plain_w3.provider.cache = _NoCache()  # the same counting provider, remembering nothing
            one = [verify_package(p, plain_w3, world.deployment) for p in pkgs]
            rows.append(("one by one", time.perf_counter() - t, plain_w3.provider.round_trips,
                         plain_w3.provider.calls, _rss_mb()))

            t = time.perf_counter()
            bw3 = batching_web3(node.rpc_url)
            batched = verify_all(pkgs, bw3, world.deployment)
            rows.append(("batched", time.perf_counter() - t, bw3.provider.round_trips, bw3.provider.calls, _rss_mb()))

            with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                client.run(_warm)  # workers up and web3 imported before the clock starts
                t = time.perf_counter()
                on_cluster, trips, calls = verify_on_cluster([p.folder for p in pkgs], node.rpc_url,
                                                             world.deployment, client, chunk=args.chunk)
                dt_cluster = time.perf_counter() - t
                workers_mb = sum(client.run(_rss_mb).values())
            rows.append((f"dask ({args.workers} workers)", dt_cluster, trips, calls, _rss_mb() + workers_mb))

            ok = {name: sum(v.ok for v in vs) for name, vs in
                  (("one by one", one), ("batched", batched), ("dask", on_cluster))}
            t = time.perf_counter()
            by_enterprise(on_cluster), by_sector(on_cluster), by_month(on_cluster), quota_position(on_cluster, 2026)
            agg = time.perf_counter() - t
        finally:
            node.stop()

    print(f"{'verification':<20} {'packages/s':>10} {'seconds':>8} {'round trips':>11} {'requests':>9} "
          f"{'peak RSS MB':>11}")
    for name, secs, trips, calls, mb in rows:
        print(f"{name:<20} {n / secs:>10.1f} {secs:>8.2f} {trips:>11} {calls:>9} {mb:>11.0f}")
    print(f"verified: {ok}")
    print(f"aggregate (by enterprise, sector, month, quota position) of {n} verified packages: {agg * 1000:.1f} ms")
    return 0 if all(v == n for v in ok.values()) else 1


def _warm() -> None:
    import models.park.scale  # noqa: F401 (imports web3, the ABIs' modules)


class _NoCache(dict):
    """A cache that keeps nothing (the one-by-one row)."""

    def __setitem__(self, key, value):
        pass


if __name__ == "__main__":
    sys.exit(main())
