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
# # A tour of Plant 18 (工厂导览)
#
# This notebook walks through what tanjian knows about the plant: its meters, the newest readings,
# today's energy use and emissions, load curves, data quality and a meter balance check.
#
# Run it top to bottom (*Run → Run All Cells*). It only **reads** data, through the store's query
# API (`workspace.store.Store`), so it is safe to run while collection is going on. Every number
# you see is computed below; nothing is typed in by hand.

# %% [markdown]
# ## Open the workspace (打开工作区)
#
# The configuration file describes the plant; the data folder holds the versioned store of meter
# readings. When the demo starts JupyterLab it sets `TANJIAN_DATA_DIR` so that this notebook reads
# the demo's data; otherwise the data folder named in the configuration is used.

# %%
import os

import pandas as pd
from IPython.display import Markdown, display

from models.guarded import active_methodology
from models.kpi import plant_kpis, workshop_breakdown
from workspace.config import load_config
from workspace.store import Store

cfg = load_config(data_dir=os.environ.get("TANJIAN_DATA_DIR") or None)
store = Store.open(cfg.paths.store, cfg.site)
site = cfg.site
print(f"configuration: {cfg.source}\ndata folder:   {cfg.paths.data_dir}")

# %% [markdown]
# ## What the plant is (工厂概况)
#
# The site model in the configuration lists the workshops, the devices in them and the meters.

# %%
meters = pd.DataFrame([m.model_dump(mode="json") for m in site.meters]).set_index("id")
workshops = pd.DataFrame(
    [{"workshop": w.id, "name": w.name, "中文": w.name_zh, "transformer": w.transformer,
      "lines": len(w.lines), "devices": sum(d.workshop == w.id for d in site.devices),
      "meters": int((meters["workshop"] == w.id).sum())} for w in site.workshops]
).set_index("workshop")
display(Markdown(f"**{site.plant.name}**, {site.plant.city} ({site.plant.province}), "
                 f"{site.enterprise.name} ({site.enterprise.name_zh}); time zone {site.plant.timezone}."))
workshops

# %% [markdown]
# How many meters measure each medium (electricity, natural gas, water, compressed air):

# %%
meters["medium"].value_counts().rename("meters").to_frame()

# %% [markdown]
# Meters form a **metering tree**: a transformer incomer feeds workshop mains, which feed device
# meters. The plant's total of each medium is the sum of the meters at the top of the tree, so
# nothing is counted twice.

# %%
top = pd.DataFrame(
    [{"medium": md.value, "meter": mid, "name": site.meter(mid).name,
      "meters below it": len(site.children(mid))}
     for md in sorted({m.medium for m in site.meters}, key=lambda x: x.value)
     for mid in site.top_meters(md)]
).set_index(["medium", "meter"])
top

# %% [markdown]
# ## Newest reading and store versions (最新数据与版本)
#
# The store keeps every fold of readings as a commit, like a version-control history. Any query
# can be repeated later *as of* an older version, which is how a reported figure can be audited.
# The newest ten commits:

# %%
latest = pd.Timestamp(store.latest_time())
end = latest  # energy periods end at the newest reading (its minute is the last one counted)
start = end - pd.Timedelta(hours=24)
versions = store.versions()
vtab = pd.DataFrame([{"commit": v["id"], "time (local)": pd.Timestamp(v["time"]).tz_convert(store.tz)
                      .strftime("%Y-%m-%d %H:%M:%S"), "message": v["message"]} for v in versions[:10]])
display(Markdown(f"Newest reading: **{latest:%Y-%m-%d %H:%M}** ({site.plant.timezone}); "
                 f"the store has **{len(versions)}** commits."))
vtab

# %% [markdown]
# ## Today's KPIs (今日指标)
#
# Electricity [kWh], natural gas [m³] and the location-based emissions [kg CO2e] they cause, for
# today so far, yesterday, this month and this year. Electricity uses the national average grid
# factor; natural gas uses the default fuel parameters of the NDRC guidelines for machinery
# manufacturers.

# %% tags=["kpis"]
meth, guard = active_methodology(cfg)  # the active package, checked on chain when the configuration pins one
kpis = plant_kpis(store, methodology=meth)
t = kpis.loc["today"]
display(Markdown(f"Methodology `{meth.id} {meth.version}` (package `{meth.sha256[:12]}…`), on chain: "
                 f"**{guard.label}**. Today so far: **{t['electricity_kWh']:,.0f} kWh** of electricity and "
                 f"**{t['natural_gas_m3']:,.0f} m³** of natural gas, "
                 f"**{t['co2e_kg'] / 1000:,.2f} t CO2e** (location-based)."))
kpis.style.format("{:,.1f}")

# %% [markdown]
# Where the emission factors come from. Each result carries the factor rows it used and their
# published sources, so the figures above can be traced to the documents they rest on:

# %% tags=["factor-sources"]
sources = pd.DataFrame({"factor": kpis.attrs["factor_ids"], "source": kpis.attrs["sources"]})
sources.style.hide(axis="index")

# %% [markdown]
# ## Load curve, last 24 hours (负荷曲线)
#
# Mean electrical power of the whole plant in five-minute steps, in kW (the sum of the transformer
# incomers).

# %% tags=["plot-load-curve"]
import hvplot.pandas  # noqa: F401,E402  (registers .hvplot on pandas objects)

load = store.power(start, end + pd.Timedelta(minutes=1), by="plant", freq="5min").to_pandas()
load.hvplot.line(ylabel="kW", xlabel="local time", title=f"{site.plant.name}: electrical load",
                 height=300, responsive=True)

# %% [markdown]
# ## Workshops today (车间分项)
#
# Electricity and emissions of each workshop since midnight, from the workshop main meters.

# %% tags=["plot-breakdown"]
today = workshop_breakdown(store, end.normalize(), end)
today.hvplot.bar(x="name", y="co2e_kg", ylabel="kg CO2e", xlabel="", rot=20, height=320,
                 responsive=True, title="CO2e per workshop today (location-based)",
                 hover_cols=["electricity_kWh", "natural_gas_m3"])

# %% [markdown]
# ## Energy per workshop per hour (车间逐时能耗)
#
# Each cell is one workshop's electricity in one hour; dark cells are the heavy hours. The newest
# hour is still filling, so it looks lighter.

# %% tags=["plot-heatmap"]
hourly = store.energy(end.floor("h") - pd.Timedelta(hours=23), end, by="workshop", freq="1h")
names = {w.id: w.name for w in site.workshops}
heat = hourly.to_pandas().rename(columns=names).stack().rename("kWh").reset_index()
heat.hvplot.heatmap(x="time", y="group", C="kWh", cmap="YlOrRd", height=300, responsive=True,
                    xlabel="hour (local)", ylabel="", title="Electricity per workshop and hour [kWh]")

# %% [markdown]
# ## Data quality (数据质量)
#
# When a meter misses readings, tanjian does not drop the energy: the next reading's counter
# difference is spread evenly over the missed minutes and those minutes are flagged *estimated*.
# The query API reports, with every result, the share of minutes that were really measured
# (`coverage`). Below, for each electricity meter over the last 24 hours, the share of minutes that
# were **not** measured (estimated or missing).

# %% tags=["quality-coverage"]
coverage = pd.Series({m: store.energy(start, end, meters=[m], freq=None).attrs["coverage"]
                      for m in site.meter_ids("electricity")})
not_measured = (1 - coverage).rename("share not measured")
worst = not_measured[not_measured > 0].sort_values(ascending=False)
display(Markdown(f"Over all electricity meters, **{not_measured.mean():.2%}** of minutes were not measured; "
                 + (f"the worst meter is {worst.index[0]} at {worst.iloc[0]:.2%}." if len(worst)
                    else "every meter was read every minute.")))
worst.head(10).to_frame().style.format("{:.2%}") if len(worst) else None

# %% [markdown]
# The query API also counts the individual flags (gap, counter reset, spike, duplicate …) per meter:
# `store.quality_report` is what `tanjian query quality` prints. Only meters and flags that occurred are listed.

# %% tags=["quality-flags"]
report = store.quality_report(start, end)
flags = report.iloc[:, 4:]  # after minutes, readings, completeness_pct and estimated_pct: one column per flag
flagged = flags.loc[flags.sum(axis=1) > 0, flags.sum() > 0]
display(Markdown(f"{int(report['minutes'].iloc[0])} minutes × {len(report)} meters checked: "
                 f"**{int(flags.to_numpy().sum())}** flags set on {len(flagged)} meters."))
flagged if len(flagged) else Markdown("No quality flags in this period: every minute was read cleanly.")

# %% [markdown]
# ## Does the metering tree balance? (计量平衡)
#
# Each transformer's supply (its incomer, plus the site's own PV and battery discharge on its bus, less battery
# charge and export) should be a little more than the sum of the workshop mains it feeds: the difference is the
# losses in cables and switchgear plus small loads no workshop meter sees (yard lighting, offices). A few percent
# is normal; a large or negative difference points to a missing, mis-wired or faulty meter. The balance of every
# node comes from `workspace.topology.balance`; here, the transformers' incomers.

# %% tags=["balance"]
from workspace.topology import balance as node_balance

TOLERANCE = 0.10  # largest acceptable share of losses and unmetered loads [-]
incomers = {tr.meter: tr.id for tr in site.transformers}
rows = [{"transformer": incomers[n["meter"]], "incomer kWh": n["energy"], "on-site kWh": n["onsite"],
         "mains": ", ".join(n["children"]), "sum of mains kWh": n["children_energy"],
         "loss share": n["difference_share"]}
        for n in node_balance(store, start, end) if n["meter"] in incomers]
balance = pd.DataFrame(rows).set_index("transformer").loc[[t.id for t in site.transformers]]
balance["balanced"] = balance["loss share"].between(0, TOLERANCE)
display(Markdown(f"Last 24 hours; accepted share of losses and unmetered loads 0 to {TOLERANCE:.0%}: "
                 f"**{int(balance['balanced'].sum())} of {len(balance)}** transformers balance."))
balance.style.format({"incomer kWh": "{:,.1f}", "on-site kWh": "{:,.1f}", "sum of mains kWh": "{:,.1f}",
                      "loss share": "{:.2%}"})

# %% [markdown]
# ## What to do next (下一步)
#
# The same figures are available from the command line, for scripts and reports:
#
# - `tanjian kpi` prints the KPI table above; with `--as-of <commit>` it repeats it as of an older
#   version of the store.
# - `tanjian query energy` writes energy per plant, workshop or meter and interval as CSV.
# - `tanjian versions` lists the store's commits; `tanjian status` shows collector health and the
#   last anchor.
# - `tanjian export` and `tanjian verify` produce and check a proof bundle for a batch of readings.
# - `tanjian serve` opens the dashboards (the big screen).
#
# For this store, for example:

# %% tags=["next"]
month = end.normalize().replace(day=1)
print(f"tanjian kpi --as-of {versions[0]['id']}\n"
      f"tanjian query energy --start {month:%Y-%m-%d} --end '{end:%Y-%m-%d %H:%M}' --by workshop --freq 1D\n"
      f"tanjian versions --limit 5")

# %% [markdown]
# To explore further, copy this notebook and keep reading data through `Store.energy`,
# `Store.power`, `Store.latest_time` and `Store.versions`.
