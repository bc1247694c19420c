"""The ISO 14064-1:2018 report's own structure: direct emissions by gas (clause 9.3.1 f) and the content index
that tells a verifier where each item clause 9.3.1 requires is found in the report (or why it is not there)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .content import Table

__all__ = ["GAS_GROUPS", "content_index", "direct_by_gas"]

#: the gases and gas groups clause 9.3.1 f) asks to be quantified separately
GAS_GROUPS = ("CO2", "CH4", "N2O", "NF3", "SF6", "HFCs", "PFCs", "other")


def _group(gas: str) -> str:
    g = str(gas or "CO2").upper().replace("-", "_")
    if g in GAS_GROUPS:
        return g
    if g.startswith(("HFC", "HCFC")):
        return "HFCs"
    if g in ("CF4", "C2F6", "C3F8") or g.startswith("PFC"):
        return "PFCs"
    return "other"


def direct_by_gas(lines: list[dict]) -> Table:
    """Category 1 (direct) emissions per gas group [tCO2e], exact decimal sums of the lines."""
    sums = {g: Decimal(0) for g in GAS_GROUPS}
    for ln in lines:
        if ln.get("category") not in (1, "1"):
            continue
        try:
            sums[_group(ln.get("gas"))] += Decimal(str(ln.get("tco2e")))
        except InvalidOperation:
            continue
    return Table("2a. Direct (category 1) GHG emissions by gas (clause 9.3.1 f)",
                 [("Gas", "text"), ("tCO2e", "t")], [[g, float(v)] for g, v in sums.items()],
                 "No removals are quantified (clause 9.3.1 g: none reported).")


def content_index(inv: dict) -> Table:
    """Clause 9.3.1's required items and where this report gives each."""
    m = inv.get("methodology") or {}
    chk = m.get("chain_check") or {}
    rows = [
        ["a", "reporting organization", "section 1 (Organization)"],
        ["b", "person responsible", "section 1 (Issued by); the ledger leaf names the same person"],
        ["c", "reporting period", "section 1 (Reporting period)"],
        ["d", "organizational boundaries", "section 1 (Facility); lines per workshop and device in section 7"],
        ["e", "reporting boundaries, significance criteria", "categories 1-6 in section 2; activity rows not "
                                                             "used, with the reason, in the inventory JSON"],
        ["f", "direct emissions by gas", "section 2a"],
        ["g", "removals", "none quantified (section 2a)"],
        ["h", "exclusion of significant sources", "none excluded; unused activity rows are listed with the reason"],
        ["i", "indirect emissions by category", "section 2 (categories 2-6)"],
        ["j", "base year", "not set by this report (a period report)"],
        ["k", "changes and recalculations", "a restatement is `tanjian inventory --restate-with` (old and new "
                                            "side by side)"],
        ["l", "quantification methodologies", f"methodology package {m.get('id', '')} {m.get('version', '')} "
                                              f"(sha256 {m.get('sha256', '')}), formulas in section 7"],
        ["m", "changes to methodologies", "a new package version is a new hash (MethodologyRegistry)"],
        ["n", "emission factors", "sections 7 and 7a, sources S1, S2 ... in the references"],
        ["o, p", "uncertainty", "section 5 (IPCC approach 1)"],
        ["q", "statement of conformity", "prepared in accordance with ISO 14064-1:2018 clause 9.3"],
        ["r", "verification", f"not verified by a third party; methodology package on chain: "
                              f"{chk.get('label', 'not recorded')}"],
    ]
    return Table("ISO 14064-1:2018 clause 9.3.1: where each required item is",
                 [("Item", "text"), ("Required content", "text"), ("In this report", "text")], rows)
