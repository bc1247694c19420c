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
# # Energy management (能源管理): time-of-use cost, transformers, unit consumption, standby
#
# The energy team's daily questions for Plant 18, answered from the metered data:
#
# 1. how the last day's electricity splits over the time-of-use periods (尖峰平谷) and what it cost;
# 2. the month's maximum demand and which basic-charge option is cheaper;
# 3. how loaded the transformers are, and what they lose;
# 4. the energy per unit produced by shift (from the ERP production import);
# 5. which devices stand by the longest, and the best habit seen per device class.
#
# Every figure comes from `models.energy` functions reading the store's query API; the tariff comes from
# `workspace/data/tariffs/` with its source and validity. The notebook only reads.

# %%
import os

import pandas as pd
from IPython.display import Markdown, display

from models.energy import demand, states, tou, transformers, unit_consumption
from workspace.business.documents import load_activity
from workspace.config import load_config
from workspace.store import Store
from workspace.tariffs import config_tariff

cfg = load_config(data_dir=os.environ.get("TANJIAN_DATA_DIR") or None)
store = Store.open(cfg.paths.store, cfg.site)
site = cfg.site
tariff = config_tariff(cfg)
latest = pd.Timestamp(store.latest_time()).tz_localize(None).floor("h")
start, end = latest - pd.Timedelta(hours=24), latest
print(f"data folder: {cfg.paths.data_dir}\nlast 24 hours: {start} … {end} ({site.plant.timezone})")

# %% [markdown]
# ## The tariff (电价)
#
# Prices per period follow the plant tariff's flat price and the schedule's ratios (the part of the price
# that does not float is kept fixed); the schedule says which hour of which month is which period.

# %% tags=["tariff"]
display(Markdown(f"**{tariff.id}** ({tariff.status}), schedule **{tariff.schedule.id}** "
                 f"({tariff.schedule.status}): {tariff.schedule.source}"))
pd.DataFrame({"CNY/kWh": [tariff.price(p) for p in tariff.schedule.ratios],
              "ratio to flat": list(tariff.schedule.ratios.values())},
             index=list(tariff.schedule.ratios)).style.format("{:.4f}")

# %% [markdown]
# ## Time-of-use energy and cost (分时电量与电费), last 24 hours, per workshop

# %% tags=["tou"]
t = tou.tou_cost(store, tariff, start, end, by="workshop")
shown = t[["sharp_kwh", "peak_kwh", "flat_kwh", "valley_kwh", "total_kwh", "energy_cny", "mean_cny_per_kwh"]]
shown.style.format("{:,.1f}")

# %% tags=["plot-tou"]
import hvplot.pandas  # noqa: F401,E402  (registers .hvplot on pandas objects)

share = t[[f"{p}_share_pct" for p in ("sharp", "peak", "flat", "valley")]]
share.columns = ["sharp", "peak", "flat", "valley"]
share.hvplot.bar(stacked=True, ylabel="% of the workshop's energy", xlabel="", rot=20, height=320,
                 responsive=True, title="time-of-use shares, last 24 hours")

# %% [markdown]
# ## Maximum demand and the basic charge (最大需量与基本电费)
#
# The two-part tariff charges either the transformers' capacity or the month's highest 15-minute mean
# power; the cheaper option is the one to choose for next month.

# %% tags=["demand"]
month_start = latest.normalize().replace(day=1)
bc = demand.basic_charge_report(store, site, tariff, month_start, end)
bc

# %% [markdown]
# ## Transformers (变压器负载率)
#
# Load rate = apparent power / rated kVA (apparent power from the incomer's power factor where it is
# measured); the economic band and the losses come from each transformer's nameplate figures.

# %% tags=["transformers"]
tr = transformers.transformer_report(store, site, start, end)
tr[["rated_kva", "peak_kw", "peak_rate", "mean_rate", "overload_minutes", "band_low", "band_high",
    "in_band_pct", "loss_kwh", "loss_pct", "pf_mean", "signs"]]

# %% tags=["plot-transformers"]
rates = transformers.transformer_loads(store, site, start, end)
rates.hvplot.line(ylabel="load rate (S / S rated)", xlabel="local time", height=320, responsive=True,
                  title="transformer load rate, 15-min means")

# %% [markdown]
# ## Unit consumption by shift (单耗: 按班次)
#
# The ERP production import (`tanjian import FILE --mapping erp_production`) says what each shift made;
# the workshop's energy in that shift's hours divided by it is the unit consumption. The product mix
# explains part of the difference between shifts (`index` = actual / expected by mix).

# %% tags=["unit"]
day = (latest - pd.Timedelta(days=1)).date()
production = load_activity(cfg.paths.data_dir, day, day, kinds=["production"])
if production.empty:
    display(Markdown(f"No production records for {day}: import the ERP output to see unit consumption."))
    units = None
else:
    units = unit_consumption.unit_consumption(store, site, production, day, day)
    display(Markdown(f"Shifts of {day}; the product mix explains {units.explained_share:.0%} of their "
                     f"energy differences." if units.explained_share == units.explained_share else
                     f"Shifts of {day}."))
made = units.shifts[units.shifts["units"] > 0].reset_index() if units is not None else None
made[["group", "shift", "kwh", "units", "kwh_per_unit", "kgco2e_per_unit", "index"]] if made is not None else None

# %% [markdown]
# ## Standby (待机能耗) and the best habit per device class
#
# Each device's minutes are classed off, start-up, standby or running from its power (thresholds from the
# site model). A standby stretch of at least 30 minutes could have been switched off.

# %% tags=["standby"]
st = states.device_states(store, site, start, end)
st.sort_values("saveable_kwh", ascending=False)[["kind", "running_kwh", "standby_kwh", "standby_share_pct",
                                                 "saveable_kwh"]].head(10)

# %% tags=["habits"]
states.best_habits(st).sort_values("saving_at_best_kwh", ascending=False)

# %% [markdown]
# ## Next
#
# The same figures from the command line: `tanjian energy tou`, `tanjian energy demand`,
# `tanjian energy transformers`, `tanjian energy unit`, `tanjian energy states` (each with `--format csv`).
