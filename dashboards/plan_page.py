"""The reduction plan's page (``/plan``): pick a packaged scenario, change a few of its prices and targets,
solve, and read the plan: the pathway (emissions by year and lever against the targets), the marginal
abatement cost curve, the purchases per year, capital and running costs, and the purchases actually made
against the plan when data-collection management holds any (activity kinds ``green_power``, ``gec``,
``offset``).

The page only shows: the numbers are :mod:`models.reduction`'s (:func:`plan_view` calls ``load_scenario``,
``build_inputs``, ``solve``, ``macc``, ``cash_flow``, ``payback_year`` and ``plan_vs_actual``, nothing else).
Its tables are :mod:`dashboards.tables`' (headers with units in the session's language, CSV/XLSX downloads).
A solved plan is kept for the server process (:func:`kept_plan_view`, keyed by the scenario, the edits, the
packaged data files' content and the purchases entered): the sessions after the first show it without solving.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import holoviews as hv
import pandas as pd
import panel as pn
import param

from models.reduction.actual import plan_vs_actual
from models.reduction.inputs import build_inputs
from models.reduction.macc import macc
from models.reduction.outputs import cash_flow, payback_year
from models.reduction.scenario import DATA_DIR, Scenario, load_scenario
from models.reduction.solve import Infeasible, Plan, solve
from workspace.errors import TanjianError

from . import i18n
from .kept import Kept, files_hash
from .render import esc
from .shell import no_wheel
from .tables import TOOLS, downloads
from .tables import CSS as TABLE_CSS
from .tables import table_html as _table

log = logging.getLogger(__name__)

#: the pathway's levers (Plan.pathway columns, tonnes avoided against the market baseline) and their colours
LEVERS = {"efficiency": ("Efficiency projects", "#2f8f5b"), "pv": ("Rooftop PV", "#f0a500"),
          "green_power": ("Green power", "#4c9bd6"), "gec": ("Green certificates", "#8fc1e8"),
          "offsets": ("CCER offsets", "#9b7bd1")}
#: the editable numbers: key -> (English label, attribute path in the scenario, unit)
EDITS = {"carbon": ("Carbon price", ("carbon_price",), "CNY/t"),
         "gec": ("Green certificate price", ("purchases", "gec", "price"), "CNY/MWh"),
         "ccer": ("CCER offset price", ("purchases", "ccer", "price"), "CNY/t"),
         "green_power": ("Green power premium", ("purchases", "green_power", "price"), "CNY/MWh"),
         "pv": ("PV capex", ("pv", "capex"), "CNY/kWp")}
ACTUAL_KINDS = ("green_power", "gec", "offset")
#: Bokeh's number input draws unlabelled up/down buttons (axe: "buttons must have discernible text"); the numbers
#: are typed, so the buttons are hidden
NO_SPIN = ".bk-spin-btn { display: none !important; } .bk-input { font-size: 16px; }"

CSS = """
:host { font-family: Inter, "Noto Sans", "Noto Sans CJK SC", sans-serif; }
.tj-note { color: #444; font-size: 14px; margin: 4px 0; }
.tj-sum { font-size: 16px; margin: 6px 0; } .tj-sum b { font-size: 20px; }
.tj-err { background: #fde8e8; color: #9b1c1c; border: 2px solid #e02424; border-radius: 8px; padding: 8px 12px; }
.tj-wrap { overflow-x: auto; max-width: 100%; }
.tj-table { border-collapse: collapse; font-size: 14px; margin: 6px 0 12px 0; }
.tj-table th { text-align: right; border-bottom: 2px solid #ccc; padding: 4px 8px; color: #333; }
.tj-table td { text-align: right; border-bottom: 1px solid #e5e5e5; padding: 4px 8px; white-space: nowrap; }
.tj-table th:first-child, .tj-table td:first-child { text-align: left; }
"""


def packaged_scenarios() -> list[str]:
    """Names of the packaged scenarios (``models/data/reduction/scenarios/*.yaml``)."""
    return sorted(p.stem for p in (DATA_DIR / "scenarios").glob("*.yaml"))


def _get(sc: Scenario, path: tuple[str, ...]):
    obj = sc
    for k in path:
        obj = getattr(obj, k, None)
        if obj is None:
            return None
    return obj


def editable(sc: Scenario) -> dict[str, float]:
    """The scenario's editable numbers (first-year values of the prices, the first cap, the neutrality year)."""
    out = {k: float(p.value) for k, (_, path, _) in EDITS.items() if (p := _get(sc, path)) is not None}
    if sc.targets.caps:
        out["cap"] = float(sc.targets.caps[0].max_t)
    if sc.targets.neutrality:
        out["neutrality"] = float(sc.targets.neutrality.year)
    return out


def apply_edits(sc: Scenario, edits: dict[str, float]) -> Scenario:
    """A copy of ``sc`` with the edited numbers (keys of :func:`editable`); unknown or absent ones are refused."""
    sc = sc.model_copy(deep=True)
    for k, v in edits.items():
        if k in EDITS:
            p = _get(sc, EDITS[k][1])
            if p is None:
                raise TanjianError(f"scenario {sc.name!r} has no {EDITS[k][0].lower()}")
            p.value, p.by_year = float(v), {}
        elif k == "cap" and sc.targets.caps:
            sc.targets.caps[0].max_t = float(v)
        elif k == "neutrality" and sc.targets.neutrality:
            sc.targets.neutrality.year = int(v)
        else:
            raise TanjianError(f"scenario {sc.name!r}: nothing to edit named {k!r}")
    return sc


@dataclass
class PlanView:
    """What the page shows of one solved scenario: the library's Plan and the tables derived from it."""

    scenario: Scenario
    plan: Plan
    macc: pd.DataFrame
    cash: pd.DataFrame
    payback: int | None
    actual: pd.DataFrame | None  #: plan_vs_actual, None when no purchases were entered


def actual_records(cfg) -> pd.DataFrame | None:
    """Purchases entered in data-collection management (imported activity records), None when there are none."""
    if cfg is None:
        return None
    from workspace.business.documents import load_activity

    try:
        act = load_activity(cfg.paths.data_dir, kinds=ACTUAL_KINDS)
    except (TanjianError, OSError) as exc:
        log.warning("plan page: purchases not read: %s", exc)
        return None
    return act if len(act) else None


def plan_view(name: str, edits: dict[str, float] | None = None, activity: pd.DataFrame | None = None) -> PlanView:
    """Solve the packaged scenario ``name`` with ``edits``; raises :class:`Infeasible` or TanjianError."""
    sc = apply_edits(load_scenario(name), edits or {})
    d = build_inputs(sc)
    plan = solve(d)
    actual = plan_vs_actual(plan, activity) if activity is not None else None
    return PlanView(sc, plan, macc(d), cash_flow(plan, d), payback_year(plan, d), actual)


#: solved plans shared by every session: (scenario, edits, packaged data files' hash, purchases' hash) -> PlanView
_PLANS = Kept(size=16)
#: the packaged scenarios' editable numbers: (scenario, data files' hash) -> editable()
_EDITABLE = Kept(size=16)


def _activity_hash(activity: pd.DataFrame | None) -> str | None:
    if activity is None:
        return None
    rows = pd.util.hash_pandas_object(activity, index=True).to_numpy().tobytes()
    return hashlib.sha256(repr(list(activity.columns)).encode() + rows).hexdigest()


def kept_plan_view(name: str, edits: dict[str, float] | None = None,
                   activity: pd.DataFrame | None = None) -> PlanView:
    """:func:`plan_view` solved once per server process for the same packaged scenario, edits, packaged data
    files (their content) and purchases entered: a later session gets the same (shared, not to be changed)
    PlanView at once. A refusal (Infeasible, TanjianError) is not kept."""
    edits = {k: float(v) for k, v in (edits or {}).items()}
    key = (name, tuple(sorted(edits.items())), files_hash(DATA_DIR), _activity_hash(activity))
    return _PLANS.get(key, lambda: plan_view(name, edits, activity))


def kept_editable(name: str) -> dict[str, float]:
    """:func:`editable` of the packaged scenario ``name``, read once per content of the packaged data files."""
    return dict(_EDITABLE.get((name, files_hash(DATA_DIR)), lambda: editable(load_scenario(name))))


def forget() -> None:
    """Drop the plans and numbers kept for the sessions (the next session solves again)."""
    _PLANS.forget()
    _EDITABLE.forget()


def pathway_chart(pv: PlanView, _) -> hv.Overlay:
    """Market-based baseline split into what each lever avoided and what remains, with the emission views and
    the caps as lines."""
    pw = pv.plan.pathway
    years = [str(y) for y in pw.index]
    rows = []
    for y, r in zip(years, pw.itertuples()):
        for col, (label, _c) in LEVERS.items():
            rows.append((y, _(label), float(getattr(r, col))))
    bars = hv.Bars(rows, ["year", "lever"], ("t", _("Avoided [tCO₂e]"))).opts(
        stacked=True, cmap=[c for _l, c in LEVERS.values()], legend_position="top_left")
    lines = [hv.Curve((years, pw[v].to_numpy()), "year", "t", label=_(lab)).opts(line_width=3, color=col)
             for v, lab, col in (("compliance", "Compliance emissions", "#c0392b"),
                                 ("market", "Market-based emissions", "#34495e"),
                                 ("net", "Net emissions", "#16a085"))]
    caps = [(str(c.year), c.max_t) for c in pv.scenario.targets.caps if str(c.year) in years]
    over = bars * hv.Overlay(lines)
    if caps:
        over = over * hv.Scatter(caps, "year", "t", label=_("Cap")).opts(size=12, marker="diamond", color="black")
    return over.opts(hv.opts.Overlay(responsive=True, height=360, hooks=[no_wheel], active_tools=[],
                                     default_tools=TOOLS,
                                     ylabel="tCO₂e", xlabel="", legend_position="right",
                                     title=_("Pathway: emissions by year and lever")))


def macc_chart(pv: PlanView, _, lang: str = "en") -> hv.Bars:
    """The marginal abatement cost curve (first year), one bar per lever in order of cost per tonne."""
    m = pv.macc.dropna(subset=["cost_per_t"])
    names = [f"{lev} ({i18n.number(t, lang)} t)" for lev, t in zip(m.index, m["abatement_t"])]
    return hv.Bars((names, m["cost_per_t"].to_numpy()), ("lever", _("Lever")), ("cost_per_t", "CNY/t")).opts(
        responsive=True, height=300, color="#2f8f5b", xrotation=30, active_tools=[], hooks=[no_wheel],
        default_tools=TOOLS,
        title=_("Marginal abatement cost (first year, market view)"), xlabel="")


def flat(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with one level of column names: ``(gec_mwh, actual)`` -> ``actual_gec_mwh`` (its unit stays last)."""
    if not isinstance(df.columns, pd.MultiIndex):
        return df
    out = df.copy()
    out.columns = [f"{b}_{a}" for a, b in df.columns]
    return out


class PlanPage(pn.viewable.Viewer):
    """The plan page of one browser session."""

    scenario = param.Selector(objects=[], doc="packaged scenario")

    def __init__(self, ctx, **params):
        names = packaged_scenarios()
        self.param.scenario.objects = names
        params.setdefault("scenario", ctx.arg("scenario") if ctx.arg("scenario") in names else
                          ("plant18" if "plant18" in names else names[0]))
        super().__init__(**params)
        self._ = ctx._
        self.lang = i18n.language(getattr(ctx, "lang", "en"))
        self.cfg = ctx.cfg
        _ = self._
        self.pick = pn.widgets.Select(name=_("Scenario"), options=names, value=self.scenario, width=240)
        self.inputs: dict[str, pn.widgets.FloatInput] = {}
        self.solve_button = pn.widgets.Button(name=_("Solve"), button_type="primary", width=120)
        self.busy = pn.indicators.LoadingSpinner(value=False, size=28, visible=False)
        self.status = pn.pane.HTML("", stylesheets=[CSS], sizing_mode="stretch_width")
        self.out = pn.Column(sizing_mode="stretch_width")
        self.form = pn.FlexBox(sizing_mode="stretch_width")
        self.pick.param.watch(self._picked, "value")
        self.solve_button.on_click(self._clicked)
        self._fill_inputs()
        self.param.watch(lambda e: setattr(self.pick, "value", e.new), "scenario")  # a changed URL picks it
        if pn.state.location is not None:  # None outside a server session (a test building the page)
            pn.state.location.sync(self, {"scenario": "scenario"})
        self.run()

    def _fill_inputs(self) -> None:
        _ = self._
        try:
            values = kept_editable(self.scenario)
        except TanjianError as exc:
            self.status.object = f'<div class="tj-err">{esc(exc)}</div>'
            return
        units = {k: u for k, (_l, _p, u) in EDITS.items()} | {"cap": "t", "neutrality": ""}
        labels = {k: _(lab) for k, (lab, _p, _u) in EDITS.items()}
        labels |= {"cap": _("First emissions cap"), "neutrality": _("Neutrality year")}
        self.inputs = {}
        for k, v in values.items():
            name = f"{labels[k]} [{units[k]}]" if units[k] else labels[k]
            if k == "neutrality":
                w = pn.widgets.IntInput(name=name, value=int(v), start=2000, end=2100, width=200,
                                       stylesheets=[NO_SPIN])
            else:
                w = pn.widgets.FloatInput(name=name, value=v, start=0, step=1, width=200, stylesheets=[NO_SPIN])
            self.inputs[k] = w
        self.form.objects = list(self.inputs.values())

    def _picked(self, event) -> None:
        self.scenario = event.new
        self._fill_inputs()
        self.run()

    def edits(self) -> dict[str, float]:
        return {k: w.value for k, w in self.inputs.items() if w.value is not None}

    async def _clicked(self, _event=None) -> None:
        """The Solve button: the spinner shows at once, the solver runs in a thread (about 1.5 s for Plant 18)."""
        import asyncio

        await self.run(solver=lambda *a: asyncio.to_thread(kept_plan_view, *a))

    def _busy(self, on: bool) -> None:
        self.busy.value = self.busy.visible = self.solve_button.disabled = on

    def run(self, solver=None):
        """Solve with the inputs' values; with an async ``solver`` a coroutine (the spinner shows meanwhile)."""
        args = (self.scenario, self.edits(), actual_records(self.cfg))
        self._busy(True)
        if solver is None:
            return self._show(self._attempt(kept_plan_view, args))

        async def go():
            try:
                return self._show(await solver(*args))
            except TanjianError as exc:
                return self._show(exc)
        return go()

    @staticmethod
    def _attempt(fn, args):
        try:
            return fn(*args)
        except TanjianError as exc:
            return exc

    def _show(self, pv: PlanView | TanjianError) -> None:
        """The solved plan, or the solver's refusal in one line."""
        _ = self._
        self._busy(False)
        if isinstance(pv, Infeasible):
            self.status.object = (f'<div class="tj-err">{esc(_("Infeasible: the targets cannot all be met."))} '
                                  f'{esc(pv)}</div>')
            self.out.objects = []
            return
        if isinstance(pv, TanjianError):
            self.status.object = f'<div class="tj-err">{esc(pv)}</div>'
            self.out.objects = []
            return
        self.status.object = self._summary(pv)
        self.out.objects = self._results(pv)

    def _summary(self, pv: PlanView) -> str:
        _ = self._
        p = pv.plan
        built = p.decisions[p.decisions["share"] > 1e-6]
        pays = _("pays back in {year}").format(year=pv.payback) if pv.payback else _("does not pay back")
        n = self.lang
        return (f'<div class="tj-sum">{esc(_("Net present cost"))}: <b>{i18n.number(p.npv / 1e6, n, 1)} M CNY</b> · '
                f'{esc(_("projects built"))}: <b>{len(built)}/{len(p.decisions)}</b> · '
                f'{esc(_("PV by the end"))}: <b>{i18n.number(p.pv["capacity_kwp"].iloc[-1], n)} kWp</b> · '
                f'{esc(pays)}</div>')

    def _results(self, pv: PlanView) -> list:
        _ = self._
        p = pv.plan
        cost = p.costs[["capex", "opex", "energy", "purchases", "carbon"]] / 1e3
        cost.columns = [f"{c}_kcny" for c in cost.columns]
        scen = self.scenario

        def table(df, name, title, digits=0):
            title = _(title)
            return pn.Column(pn.pane.HTML(f'<h3 data-title="{name}">{esc(title)}</h3>' +
                                          _table(df, name, digits, lang=self.lang, label=title),
                                          stylesheets=[CSS, TABLE_CSS], sizing_mode="stretch_width"),
                             downloads(df, f"plan-{name}-{scen}", self.lang), sizing_mode="stretch_width")

        parts = [pn.pane.HoloViews(pathway_chart(pv, _), sizing_mode="stretch_width", min_height=360),
                 pn.pane.HoloViews(macc_chart(pv, _, self.lang), sizing_mode="stretch_width", min_height=300),
                 table(p.purchases, "purchases", "Purchase plan"),
                 table(cost, "costs", "Capex and opex by year")]
        if pv.actual is not None:
            parts.append(table(flat(pv.actual), "actual", "Plan against actual purchases", 1))
        return parts

    def __panel__(self):
        _ = self._
        note = pn.pane.HTML(f'<div class="tj-note">{esc(_("Change a price or a target, then solve again."))}</div>',
                            stylesheets=[CSS], sizing_mode="stretch_width")
        return pn.Column(pn.FlexBox(self.pick, self.solve_button, self.busy, align_items="flex-end",
                                    sizing_mode="stretch_width"), note, self.form, self.status, self.out,
                         sizing_mode="stretch_width")


def view(ctx) -> PlanPage:
    """The page's view (``dashboards/pages.yaml``)."""
    return PlanPage(ctx)
