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
# # The reduction path to carbon neutrality (减排路径与碳中和)
#
# The analyst's walk from the plant's baseline to a plan: the **scenario** (a data file: baseline, prices with
# their sources, the efficiency catalogue, the targets), the **representative days** the hourly PV and load
# are reduced to (with their error against the full year), the **solve** (Pyomo, HiGHS), then the
# **pathway** by lever against the targets, the **marginal abatement cost curve**, the **purchase plan**, the
# **cash flow**, the **sensitivity** to prices, and what happens when a target cannot be met.
#
# The same runs from the command line: `tanjian plan solve plant18 --tornado --out plan.json`.

# %%
import pandas as pd
from IPython.display import Markdown, display

from models.reduction.files import compare
from models.reduction.inputs import build_inputs
from models.reduction.macc import macc
from models.reduction.outputs import cash_flow, payback_year
from models.reduction.relax import relax
from models.reduction.scenario import load_scenario
from models.reduction.sensitivity import tornado
from models.reduction.solve import Infeasible, solve

pd.set_option("display.precision", 1)
SCENARIO = "plant18"  # a packaged scenario, or the path of your own YAML file

# %% [markdown]
# ## The scenario and its prices (情景与价格)
#
# Every price carries its source, date and status; *illustrative* marks an assumption to replace with the
# plant's own quotes.

# %% tags=["scenario-prices"]
sc = load_scenario(SCENARIO)
prices = {"compliance grid factor": sc.grid.compliance_factor, "market grid factor": sc.grid.market_factor,
          "PV capex": sc.pv.capex, "green power premium": sc.purchases.green_power.price,
          "GEC": sc.purchases.gec.price, "CCER": sc.purchases.ccer.price, "internal carbon price": sc.carbon_price}
pd.DataFrame([{"price": k, "value": p.value, "unit": p.unit, "status": p.status, "date": p.date,
               "source": " ".join(p.source.split())[:90]} for k, p in prices.items()]).set_index("price")

# %% [markdown]
# ## Representative days (典型日)
#
# A year of hourly load and PV yield (pvlib, offline clear-sky for Changsha) is reduced to typical days by
# k-medoids; the table is the representative year against the full one, PV at the roof's full size.

# %% tags=["typical-error"]
d = build_inputs(sc)
d.typical_error

# %% [markdown]
# ## Solve (求解)

# %% tags=["plan-summary"]
plan = solve(d)
py = payback_year(plan, d)
display(Markdown(f"**{plan.name}**: {plan.status}; net present cost **{plan.npv / 1e6:,.3f} M CNY**; "
                 f"pays back in {py if py else 'not within the horizon'}; binding targets: "
                 f"{', '.join(plan.binding()) or 'none'}."))
summary = plan.decisions[["built", "share", "capex", "saves_mwh", "saves_gj"]]
summary

# %% [markdown]
# ## The pathway by lever (分措施减排路径)
#
# Bars: what each lever takes off the market-based baseline; lines: emissions in the three views. The
# compliance view does not count green power, certificates or offsets; net = market-based minus offsets.

# %% tags=["plot-pathway"]
import holoviews as hv  # noqa: E402
import hvplot.pandas  # noqa: F401,E402  (registers .hvplot on pandas objects)

pw = plan.pathway
levers = pw[["efficiency", "pv", "green_power", "gec", "offsets"]]
bars = levers.hvplot.bar(stacked=True, ylabel="t CO2e reduced", xlabel="", rot=0, height=320, responsive=True,
                         title="reduction by lever")
lines = pw[["baseline_compliance", "compliance", "market", "net"]].hvplot.line(
    ylabel="t CO2e", xlabel="", height=320, responsive=True, title="emissions by view")
hv.Layout([bars, lines]).cols(1)

# %% [markdown]
# ## Marginal abatement cost curve (边际减排成本曲线)
#
# Each lever's width is its yearly abatement, its height the cost per tonne (negative: it saves money).

# %% tags=["plot-macc"]
m = macc(d)
x0 = m["cumulative_t"] - m["abatement_t"]
rects = hv.Rectangles([(a, 0, b, c) for a, b, c in zip(x0, m["cumulative_t"], m["cost_per_t"])],
                      kdims=["t CO2e/yr", "CNY/t", "x1", "y1"]).opts(responsive=True, height=320,
                                                                      title="MACC (first year, market view)")
labels = hv.Labels([((a + b) / 2, c, i) for i, a, b, c in zip(m.index, x0, m["cumulative_t"], m["cost_per_t"])],
                   kdims=["t CO2e/yr", "CNY/t"])
display(m[["kind", "abatement_t", "compliance_t", "cost_per_t"]])
rects * labels

# %% [markdown]
# ## Purchase plan, PV and costs by year (采购计划与成本)

# %% tags=["plan-purchases"]
pd.concat([plan.purchases, plan.pv[["added_kwp", "capacity_kwp", "self_consumed_mwh"]],
           (plan.costs[["capex", "opex", "energy", "purchases"]] / 1e6).add_suffix("_mcny"),
           (cash_flow(plan, d)["cumulative"] / 1e6).rename("cumulative_cash_mcny")], axis=1)

# %% [markdown]
# ## Sensitivity to prices (价格敏感性)
#
# Each price at the low and the high end of its range (from the scenario), the plan re-solved.

# %% tags=["plot-tornado"]
tor = tornado(sc, d, base_npv=plan.npv)
delta = pd.DataFrame({"low": (tor["npv_low"] - plan.npv) / 1e6, "high": (tor["npv_high"] - plan.npv) / 1e6})
display(tor[["unit", "value", "low", "high", "npv_low", "npv_high", "swing"]])
delta.iloc[::-1].hvplot.barh(ylabel="change of net present cost [M CNY]", xlabel="", height=300, responsive=True,
                             title="tornado")

# %% [markdown]
# ## A target that cannot be met (无法满足的目标)
#
# The same plant under the national ETS rule for offsets (CCER at most 5 % of the emissions it offsets):
# net zero in 2035 then needs more than the levers give. The relaxation says by how much.

# %% tags=["relax"]
strict = d.with_(ccer_share=0.05, name="plant18, offsets capped at 5 %")
try:
    solve(strict)
    messages = ["feasible"]
except Infeasible:
    messages = relax(strict).messages
display(Markdown("\n".join(f"- {m}" for m in messages)))

# %% [markdown]
# ## Scenarios side by side (情景对比)
#
# Without the internal carbon price, and with PV at the high end of its price range.

# %% tags=["compare"]
no_carbon = solve(d.with_(carbon_price={y: 0.0 for y in d.years}, name="no carbon price"))
dear_pv = solve(d.with_(pv_capex={y: v * sc.pv.capex.high / sc.pv.capex.value for y, v in d.pv_capex.items()},
                        name="PV at the high price"))
compare({"plant18": plan, "no carbon price": no_carbon, "PV high price": dear_pv})
