"""Plans saved as files (one JSON each: the scenario's name and hash, the plan's tables) and compared side
by side."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pandas as pd

from workspace.errors import TanjianError

from .solve import Plan

SCHEMA = "tanjian.reduction-plan/1"
TABLES = ("decisions", "pathway", "purchases", "pv", "costs", "targets")


def _records(df: pd.DataFrame) -> dict:
    return json.loads(df.reset_index().to_json(orient="split", index=False))


def _frame(obj: dict, index: str) -> pd.DataFrame:
    df = pd.DataFrame(obj["data"], columns=obj["columns"])
    return df.set_index(index)


def save_plan(plan: Plan, path: str | Path, *, scenario_path: Path | None = None, extra: dict | None = None) -> Path:
    """Write ``plan`` as JSON (the scenario file's SHA-256 with it, so a plan names what it was solved from)."""
    p = Path(path)
    doc = {"schema": SCHEMA, "name": plan.name, "status": plan.status, "npv": plan.npv,
           "saved": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "scenario": str(scenario_path) if scenario_path else None,
           "scenario_sha256": hashlib.sha256(scenario_path.read_bytes()).hexdigest() if scenario_path else None,
           "timings": plan.timings, "slack": plan.slack, **(extra or {}),
           "tables": {t: _records(getattr(plan, t)) for t in TABLES}}
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return p


def load_plan(path: str | Path) -> Plan:
    """A plan written by :func:`save_plan`."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TanjianError(f"{p}: not a readable plan file ({exc})") from None
    if doc.get("schema") != SCHEMA:
        raise TanjianError(f"{p}: schema {doc.get('schema')!r}, expected {SCHEMA}")
    t = doc["tables"]
    idx = {"decisions": "project", "targets": "target"}
    frames = {k: _frame(t[k], idx.get(k, "year")) for k in TABLES}
    frames["decisions"]["built"] = frames["decisions"]["built"].astype("Int64")
    return Plan(doc["name"], doc["status"], doc["npv"], frames["decisions"], frames["pathway"], frames["purchases"],
                frames["pv"], frames["costs"], frames["targets"], doc.get("timings", {}), doc.get("slack", {}))


def summary(plan: Plan) -> dict:
    """The figures two plans are compared by."""
    pw, last = plan.pathway, plan.pathway.index.max()
    first = plan.pathway.index.min()
    built = plan.decisions[plan.decisions["share"] > 1e-6]
    return {"npv_mcny": plan.npv / 1e6, "capex_mcny": plan.costs["capex"].sum() / 1e6,
            "pv_kwp": float(plan.pv["capacity_kwp"].max()),
            "projects": ", ".join(f"{i}@{int(r.built)}" for i, r in built.iterrows()) or "-",
            "green_power_mwh": float(plan.purchases["green_power_mwh"].sum()),
            "gec_mwh": float(plan.purchases["gec_mwh"].sum()), "ccer_t": float(plan.purchases["ccer_t"].sum()),
            f"compliance_{first}_t": float(pw.loc[first, "compliance"]),
            f"compliance_{last}_t": float(pw.loc[last, "compliance"]),
            f"market_{last}_t": float(pw.loc[last, "market"]), f"net_{last}_t": float(pw.loc[last, "net"]),
            "binding": ", ".join(plan.binding()) or "-"}


def compare(plans: dict[str, Plan]) -> pd.DataFrame:
    """Plans side by side: one column per plan, one row per figure of :func:`summary`."""
    return pd.DataFrame({name: summary(p) for name, p in plans.items()})
