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
# # GHG inventory for the year (年度温室气体盘查)
#
# The analyst's walk from activity data to the report: the plant's **activity file** (fuel cards,
# the SF₆ mass balance of the switchgear, green power contracts and certificates, retired CCERs)
# and the **metered** electricity and natural gas in the store go through a named, hash-checked
# methodology package into an **inventory**; we look at it by source, by month and scope 2 by both
# methods, then write the **reports** (XLSX, PDF, canonical JSON) whose SHA-256 anyone can recompute.
#
# The notebook only reads the workspace; the report files go to a temporary folder. To issue them
# (hashes into the ledger, with your name) run `tanjian report --year YYYY --out DIR --author NAME`.

# %%
import calendar
import datetime as dt
import hashlib
import os
import tempfile
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

import models
from models.activity_input import read_activity_file
from models.guarded import active_methodology
from models.inventory import compute_inventory
from models.reports import write_reports
from workspace.config import load_config
from workspace.store import Store

cfg = load_config(data_dir=os.environ.get("TANJIAN_DATA_DIR") or None)
store = Store.open(cfg.paths.store, cfg.site)
ACTIVITY = Path(os.environ.get("TANJIAN_ACTIVITY") or
                Path(models.__file__).resolve().parents[1] / "notebooks" / "data" / "plant18-activity-2026.csv")
# the active package of this methodology: synced from the chain, configured, or the packaged default; refused
# when it differs from the version published on chain (the same guard as `tanjian inventory`)
METHODOLOGY, GUARD = active_methodology(cfg, "iso-14064-1-2018")
print(f"configuration: {cfg.source}\ndata folder:   {cfg.paths.data_dir}\nactivity file: {ACTIVITY.name}")
print(f"methodology:   {METHODOLOGY.id} {METHODOLOGY.version} (package sha256 {METHODOLOGY.sha256}, {GUARD.origin}): "
      f"on chain {GUARD.label}")

# %% [markdown]
# ## Activity data (活动数据)
#
# One row per record; the reader checks every row (kind, dates, unit dimension) and names the file,
# row and field of anything wrong, computing nothing from a bad file. Electricity and natural gas
# are not in this file: they come from the meters, through the store's daily rollups.

# %% tags=["activity"]
activity = read_activity_file(ACTIVITY)
year = min(activity["period_start"]).year
activity[["kind", "item", "period_start", "period_end", "quantity", "unit", "workshop", "device", "movement",
          "note"]]

# %% [markdown]
# ## The year's inventory (年度清单)
#
# `compute_inventory` applies the methodology package (its files are checked against the
# manifest's hashes first) with the factor rows valid in the period; every line names its factors
# and their sources. Scope 2 is shown location-based here; market-based and the Chinese
# compliance view follow below.

# %% tags=["inventory-lines"]
inv = compute_inventory(dt.date(year, 1, 1), dt.date(year, 12, 31), methodology=METHODOLOGY, store=store,
                        activity=activity, site=cfg.site)
canon = inv.to_canonical()
lines = pd.DataFrame([{"source": ln["source"], "item": ln["item"], "scope": ln["scope"],
                       "ISO category": ln["category"], "activity": float(ln["activity"]["quantity"]),
                       "unit": ln["activity"]["unit"], "tCO2e": float(ln["tco2e"]),
                       "± %": float(ln["uncertainty_pct"])} for ln in canon["lines"]])
lines

# %% tags=["inventory-totals"]
totals = pd.Series({k: float(canon["totals"][k]["tco2e"]) for k in
                    ("scope1", "scope2_location", "scope2_market", "scope3", "gross_location", "gross_market")},
                   name="tCO2e")
display(Markdown(f"**{year}**, methodology `{canon['methodology']['id']} {canon['methodology']['version']}` "
                 f"(package `{canon['methodology']['sha256'][:12]}…`, on chain: {GUARD.label}), store snapshot "
                 f"`{canon['store_snapshot']}`: "
                 f"gross (location-based) **{totals['gross_location']:,.3f} t CO2e**; offsets "
                 f"{canon['offsets']['total_tco2e']} t reported separately, not netted."))
totals.to_frame()

# %% [markdown]
# ## Emissions by source (按排放源)

# %% tags=["plot-by-source"]
import hvplot.pandas  # noqa: F401,E402  (registers .hvplot on pandas objects)

by_source = lines.groupby("source", as_index=False)["tCO2e"].sum().sort_values("tCO2e", ascending=False)
by_source.hvplot.bar(x="source", y="tCO2e", ylabel="t CO2e", xlabel="", rot=20, height=320, responsive=True,
                     title=f"{cfg.site.plant.name} {year}: emissions by source")

# %% [markdown]
# ## Emissions by month (按月)
#
# One inventory per month, from the metered data and the activity records that fall inside the
# month (the fuel cards). Records that cover the whole year (the SF₆ mass balance, certificates)
# belong to the year only, so the months add up to less than the year.

# %% tags=["plot-by-month"]
rows = []
for m in range(1, 13):
    a, b = dt.date(year, m, 1), dt.date(year, m, calendar.monthrange(year, m)[1])
    monthly = activity[(activity["period_start"] >= a) & (activity["period_end"] <= b)]
    c = compute_inventory(a, b, methodology=METHODOLOGY, store=store, activity=monthly, site=cfg.site).to_canonical()
    for ln in c["lines"]:
        rows.append({"month": f"{a:%Y-%m}", "scope": f"scope {ln['scope']}", "tCO2e": float(ln["tco2e"])})
by_month = pd.DataFrame(rows).pivot_table(index="month", columns="scope", values="tCO2e", aggfunc="sum",
                                          fill_value=0.0)
by_month.hvplot.bar(stacked=True, ylabel="t CO2e", xlabel="", rot=45, height=320, responsive=True,
                    title=f"{year}: emissions by month and scope")

# %% [markdown]
# ## Scope 2: location-based, market-based and the compliance rule (范围二)
#
# Location-based multiplies all purchased electricity by the grid average; market-based counts
# electricity under green power contracts and retired certificates (1 GEC = 1 MWh) at zero and the
# rest at the grid average (no residual mix is published for China); the Chinese compliance rule
# does not deduct green power. They disagree on purpose, so all are shown, labelled.

# %% tags=["plot-scope2"]
views = canon["views"]
compliance = views["compliance"].get("scope2_electricity_tco2e")  # None where no compliance factor covers the year
scope2 = pd.DataFrame({"method": ["location-based", "market-based", "compliance (CN, electricity)"],
                       "tCO2e": [float(views["location_based"]["scope2_tco2e"]),
                                 float(views["market_based"]["scope2_tco2e"]),
                                 float(compliance) if compliance is not None else float("nan")]})
if compliance is None:
    display(Markdown(f"Compliance view not available: {views['compliance'].get('reason')}"))
scope2.hvplot.bar(x="method", y="tCO2e", ylabel="t CO2e", xlabel="", height=300, responsive=True,
                  title=f"{year}: scope 2 by method")

# %% [markdown]
# ## The report (报告)
#
# The same inventory gives byte-identical files: anyone holding the inventory (its canonical JSON is
# inside the JSON report) can regenerate the XLSX and PDF and compare SHA-256s.

# %% tags=["report"]
out = Path(tempfile.mkdtemp(prefix="tanjian-report-"))
pd.set_option("display.max_colwidth", 80)  # whole SHA-256s
files = write_reports(canon, out, report_date=f"{year + 1}-01-05", author="analyst (notebook)", site=cfg.site)
pd.DataFrame([{"file": p.name, "bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
              for p in files])
