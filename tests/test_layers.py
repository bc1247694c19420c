"""The one-way house, enforced: imports run downward, modules stay small, only the app talks to a person.

workspace (core) → chain (trust) → collectors | models (in | out) → dashboards | notebooks → tanjian (the app)

The import contract lives in ``pyproject.toml`` ([tool.importlinter]) and is checked here with import-linter's own
command, so ``make test`` (and CI) fails on a new arrow running back up. When this test fails, move the code to the
floor where it belongs; do not loosen the contract.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workspace", "chain", "collectors", "models", "dashboards")
#: a source file longer than this is two concepts (generated data excepted)
MAX_LINES = 800
#: what the layers below the app may not do: parse arguments or print for a person
FORBIDDEN_IMPORTS = {"argparse"}
#: ... nor start processes: the module that does it, and the calls that do it (``*``: any name so begun)
PROCESS_IMPORTS = {"subprocess"}
PROCESS_CALLS = ("asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell", "os.system", "os.popen",
                 "os.spawn*", "os.posix_spawn*", "os.exec*", "os.fork*")


def _sources(*packages: str):
    for pkg in packages:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "build" in path.parts or "__pycache__" in path.parts:
                continue
            yield path


def test_import_contract_holds():
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([*cmd, "--no-cache", str(ROOT / "pyproject.toml")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 kept, 0 broken" in r.stdout, r.stdout  # the one-way house and the park's two contracts


def test_the_contract_names_every_floor():
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (contract,) = [c for c in cfg["contracts"] if c["id"] == "one-way-house"]
    assert contract["type"] == "layers"
    assert contract["layers"] == ["tanjian", "dashboards", "collectors | models", "chain", "workspace"]
    assert set(cfg["root_packages"]) == {"tanjian", *PACKAGES}


def test_notebooks_do_not_import_the_app():
    """Notebooks sit beside the dashboards: they may read the store, the models and the chain, not the app."""
    bad = []
    for path in sorted((ROOT / "notebooks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            bad += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names
                    if n.split(".")[0] in ("tanjian", "dashboards")]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("pkg", [*PACKAGES, "tanjian"])
def test_no_source_file_over_the_limit(pkg):
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in _sources(pkg)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, f"over {MAX_LINES} lines (split it by concept):\n" + "\n".join(long)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_only_the_app_parses_arguments_or_prints(pkg):
    """``argparse`` and ``print()`` belong to the app package; the floors below return values and log."""
    bad = []
    for path in _sources(pkg):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} imports {a.name}" for a in node.names
                        if a.name.split(".")[0] in FORBIDDEN_IMPORTS]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_IMPORTS:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} calls print()")
    assert not bad, "\n".join(bad)


def _starts_a_process(name: str) -> bool:
    """Whether the dotted ``name`` (``os.system``) is one of :data:`PROCESS_CALLS`."""
    return any(name.startswith(c[:-1]) if c.endswith("*") else name == c for c in PROCESS_CALLS)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_only_the_app_starts_processes(pkg):
    """``subprocess``, ``asyncio.create_subprocess_exec``, ``os.system``, ``os.spawn*`` belong to the app
    package (``tanjian.simulator`` starts the peers, ``tanjian.solc`` the compiler); the floors below connect
    to processes, they do not start them."""
    bad = []
    for path in _sources(pkg):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                bad += [f"{where} imports {a.name}" for a in node.names
                        if a.name.split(".")[0] in PROCESS_IMPORTS]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mod = node.module or ""
                if mod.split(".")[0] in PROCESS_IMPORTS:
                    bad.append(f"{where} imports {mod}")
                else:  # from os import system
                    bad += [f"{where} imports {mod}.{a.name}" for a in node.names
                            if _starts_a_process(f"{mod}.{a.name}")]
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and isinstance(node.func.value, ast.Name)
                  and _starts_a_process(name := f"{node.func.value.id}.{node.func.attr}")):
                bad.append(f"{where} calls {name}()")
    assert not bad, "\n".join(bad)
