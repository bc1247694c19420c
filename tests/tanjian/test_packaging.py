"""The two install routes (pip/pyproject and conda/environment.yml) list the same packages."""

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


def _name(n: str) -> str:
    return re.sub(r"[-_.]+", "-", n).lower()  # PEP 503


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for reqs in project["optional-dependencies"].values() for r in reqs]
    wanted = {_norm(r) for r in project["dependencies"] + extras}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_norm(r) for r in pip if not r.startswith("-e")}
    assert listed == wanted, f"only in environment.yml: {listed - wanted}; only in pyproject: {wanted - listed}"
    assert "python=3.11" in env["dependencies"]


def test_lock_pins_every_direct_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", line)
        if m:
            lock[_name(re.sub(r"\[.*\]", "", m.group(1)))] = m.group(2)
    for req in project["dependencies"] + [r for rs in project["optional-dependencies"].values() for r in rs]:
        name = _name(re.split(r"[<>=\[ ]", req, maxsplit=1)[0])
        assert name in lock, f"{name} is not pinned in requirements.lock"
        pin = re.search(r"==([^,;\s]+)$", req)
        if pin:
            assert lock[name] == pin.group(1), f"{name}: pyproject pins {pin.group(1)}, lock has {lock[name]}"


def test_npm_tools_pinned():
    pkg = json.loads((ROOT / "package.json").read_text())
    assert pkg["devDependencies"] == {"@foundry-rs/anvil": "1.7.1", "@foundry-rs/cast": "1.7.1", "solc": "0.8.30",
                                      "node-opcua-server": "2.186.4", "node-opcua-certificate-manager": "2.186.4",
                                      "node-opcua-secure-channel": "2.186.4", "node-opcua-variant": "2.186.4",
                                      "node-opcua-status-code": "2.186.1", "axe-core": "4.14.1",
                                      "oidc-provider": "9.13.3"}
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/solc"]["version"] == "0.8.30"
    assert lock["packages"]["node_modules/node-opcua-server"]["version"] == "2.186.4"
