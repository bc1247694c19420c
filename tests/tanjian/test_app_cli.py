"""The app's command line: one table of commands, each group imported only when it runs, every --help works."""

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tanjian import cli

ROOT = Path(__file__).resolve().parents[2]
GROUPS = ROOT / "tanjian" / "commands"


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_python_m_tanjian_help_lists_every_command():
    r = subprocess.run([sys.executable, "-m", "tanjian", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: tanjian")
    for c in cli.COMMANDS:
        assert f"    {c.name} " in r.stdout or f"    {c.name}\n" in r.stdout, c.name


def test_help_imports_no_command_group_and_nothing_heavy():
    code = ("import sys, contextlib, io\n"
            "from tanjian.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            "        main(['--help'])\n"
            "    except SystemExit:\n"
            "        pass\n"
            "print(' '.join(sorted(sys.modules)))\n")
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=ROOT).stdout.split())
    assert not {m for m in mods if m.startswith("tanjian.commands.")}
    assert not mods & {"pandas", "xarray", "numpy", "web3", "panel", "pint", "zarr", "icechunk", "reportlab"}


def test_the_table_lists_every_group_and_each_group_adds_exactly_its_rows():
    """Every module of tanjian/commands is a group of the table; a group's add_commands adds its rows' commands."""
    modules = {p.stem for p in GROUPS.glob("*.py") if p.stem != "__init__"}
    in_table = {c.group().__name__.rsplit(".", 1)[1] for c in cli.COMMANDS}
    assert in_table == modules
    names = [c.name for c in cli.COMMANDS]
    assert len(names) == len(set(names))
    for group in {c.group for c in cli.COMMANDS}:
        p = argparse.ArgumentParser()
        group().add_commands(p.add_subparsers(dest="command"))
        assert set(_subcommands(p).choices) == {c.name for c in cli.COMMANDS if c.group is group}


def test_the_groups_are_imported_by_plain_statements_not_by_name():
    tree = ast.parse((ROOT / "tanjian" / "cli.py").read_text(encoding="utf-8"))
    calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert "import_module" not in calls
    assert "importlib" not in (ROOT / "tanjian" / "cli.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("argv, command", [
    (["kpi"], "kpi"),
    (["--config", "kpi", "query", "energy"], "query"),
    (["-c", "x.yaml", "--data-dir", "report", "report", "--help"], "report"),
    (["-v", "import", "list"], "import"),
    (["-h", "kpi"], None),
    (["--version"], None),
    ([], None),
])
def test_command_of_finds_the_command_word(argv, command):
    assert cli.command_of(argv) == command


def test_a_parser_for_one_command_lists_all_and_parses_its_group():
    p = cli.build_parser("kpi")
    sub = _subcommands(p)
    assert set(sub.choices) == {c.name for c in cli.COMMANDS}
    args = p.parse_args(["footprint", "--month", "2026-10"])  # same group as kpi: fully built
    assert args.month == "2026-10" and callable(args.func)


@pytest.mark.parametrize("name", [c.name for c in cli.COMMANDS])
def test_every_command_has_a_working_help(name, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([name, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tanjian {name}")
