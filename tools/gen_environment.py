"""Write environment.yml (conda users) from pyproject.toml, so that the two list the same packages.

Run by `make lock`; tests/tanjian/test_packaging.py checks the result.
"""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [r for reqs in project["optional-dependencies"].values() for r in reqs]
    lines = [
        "# Conda environment for tanjian (users elsewhere; this repo's machines use pip: `make install`).",
        "# Generated from pyproject.toml by tools/gen_environment.py (`make lock`); a test keeps the two in step.",
        "# conda env create -f environment.yml && conda activate tanjian && npm ci",
        "name: tanjian", "channels:", "  - conda-forge", "dependencies:", "  - python=3.11", "  - pip",
        "  - nodejs>=20", "  - pip:",
    ]
    lines += [f"      - {d}" for d in deps] + ["      - -e ."]
    (ROOT / "environment.yml").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
