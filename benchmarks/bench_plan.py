"""How the reduction plan's build and solve time and memory grow with its size: years x projects x
representative hours, up to 10 x 50 x 8,760, and the Plant 18 default scenario end to end (goal: <= 10 s).

Run ``python -m benchmarks.bench_plan --help`` with the project's venv python, from the repository root.
Each row makes synthetic inputs of that size (a plant of 8,000 MWh/yr with a weekday shape, a clear-sky PV
shape, the Hunan time-of-use prices' ratios, projects saving 0.5-3 % each, half of them all-or-nothing, a
2030 cap and net zero in the last year), then measures: ``build`` (the ``define_*`` functions making the
Pyomo model), ``solve`` (Pyomo handing the model to HiGHS and HiGHS solving it, one wall time: the
translation is the larger part for the big sizes), the model's variables, constraints and nonzeros, and the
process's resident memory after the row (psutil; it only grows, so rows run smallest first).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np

from models.reduction.inputs import Inputs, ProjectData

#: (years, projects, representative hours): the default table
SIZES = [(10, 7, 288), (10, 20, 288), (10, 50, 288), (10, 50, 2208), (5, 50, 8760), (10, 50, 8760)]
#: the smallest, for the smoke test
SMOKE = [(2, 3, 24)]


def synthetic(years: int, projects: int, hours: int, seed: int = 7) -> Inputs:
    """Inputs of a given size (see the module docstring)."""
    rng = np.random.default_rng(seed)
    Y = list(range(2026, 2026 + years))
    days = max(hours // 24, 1)
    h = np.arange(days * 24) % 24
    day = np.arange(days * 24) // 24
    shape = (0.6 + 0.4 * ((h >= 8) & (h < 20))) * (1 + 0.1 * np.sin(day / max(days, 1) * 2 * np.pi))
    weight = np.full(len(h), 365.0 / days)
    shape = shape / (weight * shape).sum()
    pv = np.clip(np.sin((h - 6) / 12 * np.pi), 0, None) * 0.0008 * (1 + 0.3 * np.cos(day / max(days, 1) * 2 * np.pi))
    ratio = np.select([(h >= 16) & (h < 24), ((h >= 6) & (h < 12)) | ((h >= 14) & (h < 16))], [1.6, 1.0], 0.4)
    price = 650.0 * ratio
    E = 8000.0
    projs = [ProjectData(f"p{i:02d}", f"project {i}", float(E * rng.uniform(0.005, 0.03)), 0.0,
                         float(rng.uniform(0.2e6, 3e6)), 0.0, int(rng.integers(5, 20)), bool(i % 2 == 0), 2026, "bench")
             for i in range(projects)]
    const = lambda v: {y: v for y in Y}  # noqa: E731
    return Inputs(name=f"bench-{years}x{projects}x{hours}", years=Y, discount_rate=0.06,
                  electricity_mwh={y: E * 1.02 ** (y - 2026) for y in Y}, gas_gj=const(30000.0), other_t=const(60.0),
                  shape=shape, weight=weight, pv_yield=pv, price=price, price_factor=const(1.0),
                  f_compliance=const(0.57), f_market=const(0.5), gas_factor=const(0.0555), gas_price=const(98.0),
                  projects=projs, roof_kwp=4000.0, pv_max_per_year=2000.0, pv_capex=const(3200.0), pv_om=const(40.0),
                  pv_lifetime=25, pv_degradation=0.005, gp_premium=const(20.0), gp_max=3000.0, gec_price=const(4.0),
                  gec_max=None, ccer_price=const(70.0), ccer_max=3000.0, carbon_price=const(95.8),
                  carbon_view="compliance", budget=const(8e6), caps=[(min(2030, Y[-1]), "compliance", 5200.0)],
                  neutrality=(Y[-1], "net"))


def measure(years: int, projects: int, hours: int, *, gap: float = 1e-4) -> dict:
    """Build and solve one size; returns the row."""
    import psutil
    from pyomo.repn.standard_repn import generate_standard_repn  # noqa: F401 (imported before timing)

    from models.reduction.model import build_model
    from models.reduction.solve import run

    d = synthetic(years, projects, hours)
    gc.collect()
    t = time.perf_counter()
    m = build_model(d)
    build = time.perf_counter() - t
    nvar = sum(1 for v in m.component_data_objects(ctype=__import__("pyomo.environ").environ.Var) if not v.fixed)
    ncon = sum(1 for _ in m.component_data_objects(ctype=__import__("pyomo.environ").environ.Constraint))
    status, solve, highs_s = run(m, gap=gap)
    import pyomo.environ as pyo

    npv = pyo.value(m.npv) if status == "optimal" else float("nan")
    rss = psutil.Process().memory_info().rss / 2**20
    return {"size": f"{years} x {projects} x {hours}", "vars": nvar, "cons": ncon, "build_s": build,
            "solve_s": solve, "highs_s": highs_s, "total_s": build + solve, "rss_mib": rss, "status": status, "npv_mcny": npv / 1e6}


def plant18() -> dict:
    """The packaged Plant 18 scenario end to end: read, resolve (pvlib, representative days), build, solve."""
    import psutil

    from models.reduction.inputs import build_inputs
    from models.reduction.scenario import load_scenario
    from models.reduction.solve import solve

    t = time.perf_counter()
    d = build_inputs(load_scenario("plant18"))
    inputs = time.perf_counter() - t
    p = solve(d)
    total = time.perf_counter() - t
    return {"size": "Plant 18 default (10 x 7 x 288)", "inputs_s": inputs, "build_s": p.timings["build_s"],
            "solve_s": p.timings["solve_s"], "highs_s": p.timings["highs_s"], "total_s": total, "rss_mib": psutil.Process().memory_info().rss / 2**20,
            "status": p.status, "npv_mcny": p.npv / 1e6}


def table(rows: list[dict]) -> str:
    cols = ["size", "vars", "cons", "inputs_s", "build_s", "solve_s", "highs_s", "total_s", "rss_mib", "status", "npv_mcny"]
    fmt = {"vars": "{:,}", "cons": "{:,}", "inputs_s": "{:.2f}", "build_s": "{:.2f}", "solve_s": "{:.2f}", "highs_s": "{:.2f}",
           "total_s": "{:.2f}", "rss_mib": "{:.0f}", "npv_mcny": "{:.3f}"}
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(fmt.get(c, "{}").format(r[c]) if c in r else "" for c in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_plan", description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="only the smallest size (what the tests run)")
    ap.add_argument("--max-hours", type=int, default=8760, help="skip sizes with more representative hours")
    ap.add_argument("--no-plant18", action="store_true", help="skip the Plant 18 end-to-end row")
    a = ap.parse_args(argv)
    sizes = SMOKE if a.smoke else [s for s in SIZES if s[2] <= a.max_hours]
    print(f"# reduction plan: build and solve against size; {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; HiGHS through pyomo.contrib.solver 'highs', MIP gap 1e-4")
    rows = []
    if not a.no_plant18 and not a.smoke:
        rows.append(plant18())
    for s in sizes:
        rows.append(measure(*s))
        print(f"  done {rows[-1]['size']}: {rows[-1]['total_s']:.1f} s", file=sys.stderr)
    print(table(rows))
    if rows and rows[0]["size"].startswith("Plant 18"):
        ok = rows[0]["total_s"] <= 10.0
        print(f"\ngoal: Plant 18 default scenario <= 10 s: {rows[0]['total_s']:.2f} s ({'met' if ok else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
