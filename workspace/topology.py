"""Topology from the site model: the electrical tree (transformer -> incomer -> workshop mains ->
device meters -> devices), the gas, water and compressed-air networks (source -> main meters -> sub-meters),
the path from anything an alarm names to its transformer or source with the meters on it, and the metering
balance of every node (its own energy against the sum of its children's, the difference being losses and
unmetered loads), read through the store's query API.

Node ids are the site model's own ids: transformers, meters, devices, rooms, PV inverters, batteries and
network sources share one namespace here (the site model keeps them distinct by convention: TR-, M-, D-,
DR-, PV-, BAT-, SRC-); a clash is reported by :func:`build`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import TanjianError


class TopologyError(TanjianError):
    """An id the topology does not know, or two things with one id."""


@dataclass
class Node:
    id: str
    kind: str  # transformer | meter | device | room | pv | battery | source
    medium: str
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    name: str = ""


@dataclass
class Topology:
    nodes: dict[str, Node]

    def node(self, nid: str) -> Node:
        try:
            return self.nodes[nid]
        except KeyError:
            raise TopologyError(f"unknown node {nid!r} (not a transformer, meter, device, room, inverter, "
                                f"battery or network source of the site)") from None

    def roots(self, medium: str = "electricity") -> list[str]:
        return [n.id for n in self.nodes.values() if n.parent is None and n.medium == medium
                and n.kind in ("transformer", "source")]

    def path(self, nid: str) -> list[str]:
        """From ``nid`` up to its transformer or network source (both ends included)."""
        out, cur, seen = [], self.node(nid).id, set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            out.append(cur)
            cur = self.nodes[cur].parent
        return out

    def meters_on_path(self, nid: str) -> list[str]:
        """The meters between ``nid`` and its source, nearest first: where to look at the figures."""
        return [n for n in self.path(nid) if self.nodes[n].kind == "meter"]

    def source_of(self, nid: str) -> str:
        return self.path(nid)[-1]

    def subtree(self, nid: str) -> list[str]:
        out, stack = [], [self.node(nid).id]
        while stack:
            n = stack.pop()
            out.append(n)
            stack.extend(reversed(self.nodes[n].children))
        return out

    def metered_children(self, meter: str) -> list[str]:
        return [c for c in self.nodes[meter].children if self.nodes[c].kind == "meter"]


def build(site) -> Topology:
    """The topology of a :class:`~workspace.site.Site`."""
    nodes: dict[str, Node] = {}

    def add(n: Node) -> None:
        if n.id in nodes:
            raise TopologyError(f"id {n.id!r} names both a {nodes[n.id].kind} and a {n.kind}")
        nodes[n.id] = n

    incomer_of = {t.meter: t.id for t in site.transformers}
    for t in site.transformers:
        add(Node(t.id, "transformer", "electricity", name=t.name))
    for s in getattr(site, "sources", []):
        add(Node(s.id, "source", s.medium, name=s.name))
    source_of_meter = {m: s.id for s in getattr(site, "sources", []) for m in s.meters}
    onsite = getattr(site, "onsite", None)
    unit_tr = {}  # an on-site unit's meters hang under its transformer (the bus they feed or draw from)
    for u in ((onsite.pv + onsite.batteries) if onsite else []):
        for mid in (getattr(u, "meter", None), getattr(u, "charge_meter", None), getattr(u, "discharge_meter", None)):
            if mid and u.transformer:
                unit_tr[mid] = u.transformer
    for m in site.meters:
        parent = m.parent or incomer_of.get(m.id) or source_of_meter.get(m.id)
        if parent is None and m.transformer is not None:
            parent = m.transformer
        if parent is None:
            parent = unit_tr.get(m.id)
        add(Node(m.id, "meter", m.medium.value, parent, name=m.name or ""))
    metered = {}
    for m in site.meters:  # a device hangs under the meter that measures it (its electricity meter first)
        if m.device is not None and (m.device not in metered or m.medium.value == "electricity"):
            metered[m.device] = m.id
    for d in site.devices:
        add(Node(d.id, "device", "electricity", metered.get(d.id), name=d.name))
    for r in getattr(site, "rooms", []):
        add(Node(r.id, "room", "electricity", r.transformers[0] if r.transformers else None, name=r.name))
    for p in (onsite.pv if onsite else []):
        add(Node(p.id, "pv", "electricity", p.meter or p.transformer, name=p.name))
    for b in (onsite.batteries if onsite else []):
        add(Node(b.id, "battery", "electricity", b.transformer, name=b.name))
    for n in nodes.values():
        if n.parent is not None and n.parent in nodes:
            nodes[n.parent].children.append(n.id)
    return Topology(nodes)


def locate(site, target: str) -> dict:
    """Everything needed to find the cause of an alarm on ``target``: the path to its transformer or
    source, the meters on it, the distribution rooms of that transformer, the target's position on the
    floor plan and its line's process step."""
    topo = build(site)
    path = topo.path(target)
    src = path[-1]
    rooms = [r.id for r in getattr(site, "rooms", []) if src in r.transformers]
    plan = getattr(site, "floor_plan", None)
    device = next((n for n in path if topo.nodes[n].kind == "device"), None)
    if device is None:  # a meter of one device: the device is under it
        kids = [c for c in topo.nodes[target].children if topo.nodes[c].kind == "device"]
        device = kids[0] if len(kids) == 1 else None
    step = None
    if device is not None:
        for pf in getattr(site, "process_flows", []):
            for k, devs in enumerate(pf.steps):
                if device in devs:
                    step = {"line": pf.line, "step": k + 1, "of": len(pf.steps)}
    where = plan.positions.get(target) or (plan.positions.get(device) if device else None) if plan else None
    return {"target": target, "kind": topo.nodes[target].kind, "path": path, "meters": topo.meters_on_path(target),
            "source": src, "rooms": rooms, "device": device, "position": list(where) if where else None,
            "process_step": step}


def balance(store, start, end, *, medium: str = "electricity") -> list[dict]:
    """The metering balance of every meter with metered children over [start, end): its energy, the sum of
    its children's, the difference and its share of the parent's (losses, unmetered loads, errors) [kWh or m3].

    At a transformer's incomer the bus behind it is also fed by the site's PV and battery discharge and drawn
    from by battery charge and export on that transformer (:func:`_onsite_terms`): ``supply`` = the incomer's
    energy + ``onsite``, and the difference is taken from the supply.

    One query for every meter concerned (the store's :meth:`energy` with ``freq=None``). A meter or child
    without any measured energy in the period gives NaN, never 0.
    """
    import math

    site = store.site
    topo = build(site)
    onsite = _onsite_terms(site) if medium == "electricity" else {}
    parents = [n.id for n in topo.nodes.values() if n.kind == "meter" and n.medium == medium
               and topo.metered_children(n.id)]
    held = store._midx
    ids = sorted({m for p in parents for m in [p, *topo.metered_children(p), *(x for x, _ in onsite.get(p, []))]
                  if m in held})
    if not ids:
        return []
    e = store.energy(start, end, meters=ids, freq=None)
    val = dict(zip(e.group.values.tolist(), e.values.tolist()))
    out = []
    for p in parents:
        kids = topo.metered_children(p)
        own = val.get(p, math.nan)
        extra = sum(sign * val.get(m, math.nan) for m, sign in onsite.get(p, []))
        supply = own + extra
        cv = sum(val.get(k, math.nan) for k in kids)
        diff = supply - cv
        out.append({"meter": p, "energy": own, "onsite": extra, "supply": supply, "children": kids,
                    "children_energy": cv, "difference": diff, "difference_share": diff / supply if supply else math.nan})
    return out


def _onsite_terms(site) -> dict[str, list[tuple[str, int]]]:
    """For each transformer incomer meter: the on-site meters feeding (+1) or drawing from (-1) the bus
    behind it: its PV output meters and battery discharge meters (+), battery charge meters and export
    meters whose ``transformer`` is this one (-)."""
    onsite = getattr(site, "onsite", None)
    if onsite is None:
        return {}
    incomer = {t.id: t.meter for t in site.transformers}
    out: dict[str, list[tuple[str, int]]] = {}
    for p in onsite.pv:
        if p.meter and p.transformer in incomer:
            out.setdefault(incomer[p.transformer], []).append((p.meter, +1))
    for b in onsite.batteries:
        if b.transformer in incomer:
            if b.discharge_meter:
                out.setdefault(incomer[b.transformer], []).append((b.discharge_meter, +1))
            if b.charge_meter:
                out.setdefault(incomer[b.transformer], []).append((b.charge_meter, -1))
    by_id = {m.id: m for m in site.meters}
    for x in onsite.export_meters:
        tr = by_id[x].transformer if x in by_id else None
        if tr in incomer:
            out.setdefault(incomer[tr], []).append((x, -1))
    return out
