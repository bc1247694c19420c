"""`tanjian report` takes `tanjian inventory`'s options; every option a hint in an error names exists where the
hint can be shown; a report is never dated before the newest source it cites; it names the package and its
on-chain status."""

from __future__ import annotations

import argparse
import ast
import json
import re
from pathlib import Path

import pytest

from tanjian.cli import COMMANDS, build_parser, main
from tests.conftest import ROOT

OPT = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
#: `tanjian WORD [WORD]` before an option in a hint: the command the hint is about
NAMED = re.compile(r"tanjian ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)")
#: commands whose run reaches the accounting core (an error raised in models/ can be shown by each of them)
ACCOUNTING = (("inventory",), ("footprint",), ("report",), ("allowance", "status"))
#: parts of models/ that only one command reaches
MODEL_SCOPES = {"models/reports": (("report",),), "models/quota.py": (("allowance", "status"),)}


def _sub(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return a.choices.get(name)
    return None


def options_of(path: tuple[str, ...]) -> set[str] | None:
    """Option strings of ``tanjian PATH...`` (with the global ones), or None when PATH names no command."""
    top = build_parser(path[0])
    p, found = top, []
    for word in path:
        nxt = _sub(p, word)
        if nxt is None:
            break
        p = nxt
        found.append(word)
    if not found:
        return None
    opts = {o for a in top._actions for o in a.option_strings} | {o for a in p._actions for o in a.option_strings}
    # a hint naming a command with sub-commands (`tanjian energy {sub}: --start ...`) may name any of theirs
    stack = [c for a in p._actions if isinstance(a, argparse._SubParsersAction) for c in a.choices.values()]
    while stack:
        q = stack.pop()
        opts |= {o for a in q._actions for o in a.option_strings}
        stack += [c for a in q._actions if isinstance(a, argparse._SubParsersAction) for c in a.choices.values()]
    return opts


def tree_options(name: str) -> set[str]:
    """Options of ``tanjian NAME`` and of all its sub-commands (with the global ones)."""
    top = build_parser(name)
    out = {o for a in top._actions for o in a.option_strings}
    stack = [_sub(top, name)]
    while stack:
        p = stack.pop()
        out |= {o for a in p._actions for o in a.option_strings}
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                stack += list(a.choices.values())
    return out


def all_options() -> set[str]:
    out = set()
    for c in COMMANDS:
        top = build_parser(c.name)
        stack = [top]
        while stack:
            p = stack.pop()
            out |= {o for a in p._actions for o in a.option_strings}
            for a in p._actions:
                if isinstance(a, argparse._SubParsersAction):
                    stack += list(a.choices.values())
    return out


def test_report_takes_every_inventory_option():
    inv, rep = options_of(("inventory",)), options_of(("report",))
    # --restate-with prints a comparison table and --json the inventory itself: not report outputs
    missing = inv - rep - {"--restate-with", "--json"}
    assert not missing, f"tanjian report lacks {sorted(missing)}"
    for opt in ("--measured", "--allow-unverified", "--gwp", "--from", "--to", "--no-store", "--activity"):
        assert opt in rep


def _hints():
    """(file, line, text) of every string in a `raise` statement or a `print(..., file=...)` of the code a person's
    error can come from."""
    for f in sorted(ROOT.glob("*/**/*.py")):
        rel = f.relative_to(ROOT)
        if rel.parts[0] not in ("models", "chain", "workspace", "tanjian", "collectors"):
            continue
        tree = ast.parse(f.read_text("utf-8"))
        for node in ast.walk(tree):
            target = None
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
                  and any(k.arg == "file" for k in node.keywords)):  # print(..., file=sys.stderr): a message too
                target = node
            if target is not None:
                parts = [n.value for n in ast.walk(target) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                text = " ".join(parts)  # f-string parts: a value stood between them
                if OPT.search(text):
                    yield rel, node.lineno, text


def test_every_hint_names_an_option_that_exists():
    """Walk every error message that names an option: a hint saying `tanjian X ... --opt` must name an option
    of X; an error raised in a command module must name an option of that module's commands; one raised in the
    accounting core must name an option every accounting command (inventory, footprint, report) has."""
    everything = all_options()
    modules = {c.group().__name__: [] for c in COMMANDS}
    for c in COMMANDS:
        modules[c.group().__name__].append(c.name)
    bad, checked = [], 0
    for rel, line, text in _hints():
        for m in OPT.finditer(text):
            opt = m.group()
            before = text[:m.start()]
            named = list(NAMED.finditer(before))
            if named and "`" not in text[named[-1].end():m.start()] and ";" not in text[named[-1].end():m.start()]:
                words = tuple(named[-1].group(1).split())
                where = [options_of(words)]
                what = f"tanjian {' '.join(words)}"
            elif rel.parts[0] == "tanjian" and rel.parts[1:2] == ("commands",):
                mod = ".".join(rel.with_suffix("").parts)
                where = [tree_options(c) for c in modules.get(mod, [])]
                what = f"the commands of {mod}"
                if not where:
                    where, what = [everything], "any command"
            elif rel.parts[0] == "models":
                scope = next((v for k, v in MODEL_SCOPES.items() if rel.as_posix().startswith(k)), ACCOUNTING)
                where = [options_of(c) for c in scope]
                what = "every command reaching it: " + ", ".join(" ".join(c) for c in scope)
            else:
                where, what = [everything], "any command"
            checked += 1
            if all(w is None or opt not in w for w in where) if rel.parts[0] != "models" else \
                    any(w is None or opt not in w for w in where):
                bad.append(f"{rel}:{line}: {opt} is not an option of {what}: {text[:120]!r}")
    assert checked > 20  # the walk found the hints
    assert not bad, "\n".join(bad)


ACT = ("kind,item,period_start,period_end,quantity,unit,workshop\n"
       "electricity_statement,total,2024-01-01,2024-12-31,100,MWh,WS-A\n")


def test_report_dates_never_precede_the_newest_cited_source(tmp_path, capsys):
    f = tmp_path / "a.csv"
    f.write_text(ACT, encoding="utf-8")
    base = ["--data-dir", str(tmp_path / "var"), "report", "--year", "2024", "--activity", str(f), "--no-store",
            "--no-ledger", "--author", "wang.fang", "--layout", "cn", "--format", "json", "--methodology",
            "cn-machinery-2015"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    # named with the package and its on-chain status (the example configuration pins none)
    assert "cn: methodology cn-machinery-2015" in out and "on chain offline, not checked" in out
    doc = json.loads(next((tmp_path / "a").glob("*-cn.json")).read_text())
    from models.reports.content import newest_source

    newest, cite = newest_source(doc["inventory"])
    # the 2024 electricity uses the MEE/NBS data-year-2023 grid factor 0.5306, published 2025-12-31 (公告2025年第47号;
    # models/data/emission-factors.csv), later than the day after the period (2025-01-01): the report is dated then
    assert newest.isoformat() == "2025-12-31" and "公告2025年第47号" in cite
    assert doc["report_date"] == "2025-12-31"
    assert doc["inventory"]["methodology"]["chain_check"]["status"] == "offline"
    rc = main([*base, "--out", str(tmp_path / "b"), "--report-date", "2025-12-30"])
    err = capsys.readouterr().err
    assert rc == 2 and "--report-date 2025-12-30: the report cites a source published 2025-12-31" in err
    assert not (tmp_path / "b").exists()
    rc = main([*base, "--out", str(tmp_path / "c"), "--report-date", "2024-12-31"])
    assert rc == 2 and "before the period is over" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--year", "2024", "--from", "2024-01-01", "--to", "2024-02-01"], "give either --year or --from/--to"),
    (["--from", "2024-01-01"], "say which period"),
])
def test_report_period_refusals(tmp_path, capsys, argv, message):
    rc = main(["--data-dir", str(tmp_path / "var"), "report", *argv, "--author", "x", "--out", str(tmp_path / "o")])
    assert rc == 2 and message in capsys.readouterr().err


def test_inventory_json_names_the_package_and_its_chain_status(tmp_path, capsys):
    f = tmp_path / "a.csv"
    f.write_text(ACT, encoding="utf-8")
    assert main(["--data-dir", str(tmp_path / "var"), "inventory", "--year", "2024", "--activity", str(f),
                 "--no-store", "--methodology", "cn-machinery-2015", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)["methodology"]
    from models.packages import load_methodology

    want = load_methodology("cn-machinery-2015")
    assert (m["id"], m["version"], m["sha256"]) == (want.id, want.version, want.sha256)
    assert m["chain_check"]["label"] == "offline, not checked" and m["chain_check"]["origin"] == "packaged"


def test_report_refuses_a_gwp_set_the_methodology_does_not_allow(tmp_path, capsys):
    f = tmp_path / "a.csv"
    f.write_text(ACT, encoding="utf-8")
    rc = main(["--data-dir", str(tmp_path / "var"), "report", "--year", "2024", "--activity", str(f), "--no-store",
               "--no-ledger", "--author", "x", "--out", str(tmp_path / "o"), "--layout", "cn", "--gwp", "AR6"])
    err = capsys.readouterr().err
    # cn-machinery-2015 allows SAR only (its rules.yaml gwp.allowed): a usage error, one line, nothing written
    assert rc == 2 and err.startswith("tanjian report: --gwp AR6:") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
