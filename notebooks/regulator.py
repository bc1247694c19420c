# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The regulator's view of a park (监管方): proofs, not raw data
#
# The enterprises of the park submit report packages (figures, their ledger proof, the methodology they used)
# into the park's drop folder. This notebook verifies every package on chain, names the failing check of each
# refused one, and aggregates the figures of the verified ones: by enterprise, sector and month, each
# enterprise's quota position and forecast, the reports that are late or missing, and the regulator's
# on-demand requests with their latency. It never sees a reading, a meter or a plant's store.
#
# Inputs (environment): `TANJIAN_PARK_YAML` (the park's settings, `park.yaml`: a drop folder or an S3 bucket, the
# deployment record, the node, the year), or each by itself: `TANJIAN_PARK_DROP` (the drop folder),
# `TANJIAN_PARK_DEPLOYMENT` (the consortium's deployment record), `TANJIAN_PARK_RPC` (a node), `TANJIAN_PARK_YEAR`;
# and `TANJIAN_PARK_TODAY` (optional).

# %%
import datetime as dt
import json
import os
from pathlib import Path

from chain.calls import batching_web3
from models.park import by_enterprise, by_month, by_sector, lateness, quota_position, scan_drop, status_table
from models.park.config import load_park
from models.park.s3drop import scan
from models.park.scale import verify_all

if os.environ.get("TANJIAN_PARK_YAML"):  # park.yaml: its drop folder or bucket, deployment, node and year
    park = load_park(os.environ["TANJIAN_PARK_YAML"])
    packages, deployment_file, rpc, year = scan(park), park.deployment, park.rpc, park.year
else:
    packages = scan_drop(Path(os.environ["TANJIAN_PARK_DROP"]))
    deployment_file, rpc = Path(os.environ["TANJIAN_PARK_DEPLOYMENT"]), os.environ["TANJIAN_PARK_RPC"]
    year = int(os.environ["TANJIAN_PARK_YEAR"]) if os.environ.get("TANJIAN_PARK_YEAR") else None
deployment = json.loads(Path(deployment_file).read_text("utf-8"))
w3 = batching_web3(rpc)
year = year or dt.date.today().year
today = dt.date.fromisoformat(os.environ.get("TANJIAN_PARK_TODAY") or dt.date.today().isoformat())
verdicts = verify_all(packages, w3, deployment)
print(f"{len(verdicts)} packages, {sum(v.ok for v in verdicts)} verified; "
      f"{w3.provider.calls} chain look-ups in {w3.provider.round_trips} round trips")

# %% [markdown]
# ## Verification status (the failing check named)

# %% tags=["status"]
status_table(verdicts)

# %% [markdown]
# ## Verified emissions by enterprise, sector and month [kg CO2e]

# %% tags=["by-enterprise"]
by_enterprise(verdicts).to_frame("total_kg")

# %%
by_sector(verdicts).to_frame("total_kg")

# %%
by_month(verdicts)

# %% [markdown]
# ## Quota position and forecast
#
# The forecast is the run rate of the verified months: `emitted / months reported × 12`;
# `headroom = quota − forecast` (negative: on course to exceed the quota set in the QuotaRegistry).

# %% tags=["quota"]
quota_position(verdicts, year)

# %% [markdown]
# ## Late or missing reports (due on the 15th of the following month)

# %% tags=["late"]
enterprises = sorted({v.enterprise for v in verdicts})
lateness(verdicts, enterprises, [f"{year}-{m:02d}" for m in range(1, 13)], today=today)

# %% [markdown]
# ## Reports on demand: request -> fulfilled, with latency

# %% tags=["requests"]
import pandas as pd  # noqa: E402

if "ReportRequests" in deployment.get("contracts", {}):
    from chain.requests import all_requests, requests_contract

    requests = pd.DataFrame([{"id": r.id, "enterprise": r.enterprise, "period": f"{r.period_start:%Y-%m}",
                              "methodology": r.methodology, "state": r.state,
                              "latency_s": r.latency.total_seconds() if r.latency else None}
                             for r in all_requests(requests_contract(w3, deployment))])
else:
    requests = pd.DataFrame(columns=["id", "enterprise", "period", "methodology", "state", "latency_s"])
requests
