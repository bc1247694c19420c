"""JSON Schemas the workspace validates documents with, and their problems as ``(field, message)``.

The schemas are data under ``workspace/data/``: ``push-config.schema.json`` (the ``push:`` section of
``tanjian.yaml``, checked by :func:`workspace.config.load_config` with file and line). A field is written as
``connectors.erp.token_file`` or ``readings[2].counter``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"

__all__ = ["field", "problems", "push_config_schema", "schema_problems", "validator"]


@lru_cache(maxsize=None)
def push_config_schema() -> dict[str, Any]:
    """The JSON Schema of ``tanjian.yaml``'s ``push:`` section."""
    return json.loads((DATA / "push-config.schema.json").read_text(encoding="utf-8"))


def validator(schema: dict[str, Any]):
    """A Draft 2020-12 validator of ``schema`` (jsonschema is imported here, when a document is checked)."""
    import jsonschema

    return jsonschema.Draft202012Validator(schema)


def field(path) -> str:
    """A document path as a field name: ``("readings", 2, "counter")`` -> ``readings[2].counter``."""
    out = ""
    for k in path:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


def problems(validator, doc: Any) -> list[tuple[tuple, str]]:
    """Every schema violation of ``doc`` as ``(path, message)``: an unknown field and a missing required one
    are named by their own path."""
    out = []
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        path = tuple(e.absolute_path)
        if e.validator == "additionalProperties":
            extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
            path, msg = path + (extra[0],), "unknown field"
        elif e.validator == "required":
            missing = e.message.split("'")[1] if "'" in e.message else e.message
            path, msg = path + (missing,), "required"
        else:
            msg = e.message
        out.append((path, msg))
    return out


def schema_problems(validator, doc: Any) -> list[tuple[str, str]]:
    """Every schema violation of ``doc`` as ``(field, message)``, the field as ``readings[2].counter``."""
    return [(field(path) or "(body)", msg) for path, msg in problems(validator, doc)]
