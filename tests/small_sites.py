"""Small site configurations written to a temporary folder (for the RTU and DL/T 645 tests).

One workshop with a few devices of at most 60 kW (DL/T 645's XX.XXXX kW power format stops at
79.9999 kW), a day shift every day, and the gateways and meters a test asks for.
"""

from __future__ import annotations

import json
from pathlib import Path

from workspace.config import Config, load_config

DEVICES = [
    {"id": "D-WELD", "name": "welding robot", "kind": "welding_robot", "workshop": "WS-A",
     "rated_power_kw": 40, "standby_kw": 2},
    {"id": "D-CNC", "name": "machining centre", "kind": "machining_centre", "workshop": "WS-A",
     "rated_power_kw": 30, "standby_kw": 3},
    {"id": "D-LIGHT", "name": "hall lighting", "kind": "lighting", "workshop": "WS-A", "rated_power_kw": 8},
    {"id": "D-PUMP", "name": "cooling pump", "kind": "pump", "workshop": "WS-A", "rated_power_kw": 15},
]


def meter(mid: str, gateway: str, device: str, family: str, **link) -> dict:
    """A meter of one device (``link``: ``unit_id=`` or ``address=``)."""
    return {"id": mid, "medium": "electricity", "family": family, "gateway": gateway, "device": device,
            "workshop": "WS-A", **link}


def write_site(folder: Path, gateways: list[dict], meters: list[dict]) -> Path:
    """Write ``tanjian.yaml`` (JSON is YAML) into ``folder``; returns its path."""
    doc = {
        "site": {
            "enterprise": {"name": "Test Works", "industry": "machinery manufacturing"},
            "plant": {"id": "T1", "name": "Test plant", "city": "Changsha", "province": "Hunan",
                      "timezone": "Asia/Shanghai"},
            "transformers": [],
            "workshops": [{"id": "WS-A", "name": "Hall A", "transformer": "TR-1"}],
            "devices": DEVICES,
            "gateways": gateways,
            "meters": meters,
            "shifts": [{"id": "day", "name": "day", "start": "06:00", "end": "22:00",
                        "weekdays": [0, 1, 2, 3, 4, 5, 6]}],
        },
        "paths": {"data_dir": "var"},
    }
    # the workshop's transformer: incomer metered by the first meter
    doc["site"]["transformers"] = [{"id": "TR-1", "name": "T1", "rated_kva": 400, "meter": meters[0]["id"]}]
    path = folder / "tanjian.yaml"
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    return path


def load_site(folder: Path, gateways: list[dict], meters: list[dict]) -> Config:
    return load_config(write_site(folder, gateways, meters))
