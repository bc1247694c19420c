"""Reading a YAML file that a person wrote, so that every problem names file, line and field.

The one home of: reading the file (``cannot read``), parsing it with ruamel's round-trip loader (which keeps
each key's line), the line of a pydantic error's location in that document, a location written as a field
path (``site.meters[14].unit_id``), and the validation of the whole document against a pydantic model. The
configuration, the tariff files, the alarm rules and the reduction scenarios all read through here.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError


def line_of(doc: Any, loc: tuple) -> int | None:
    """1-based line of the deepest node of ``loc`` that exists in the ruamel document."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    node, line = doc, None
    for key in loc:
        try:
            if isinstance(node, CommentedMap) and key in node:
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                line = node.lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        except (KeyError, AttributeError, TypeError):
            break
    if line is None and hasattr(doc, "lc"):
        line = (doc.lc.line or 0) + 1
    return line


def field_path(loc: tuple) -> str:
    """``("site", "meters", 14, "unit_id")`` -> ``site.meters[14].unit_id``."""
    out = ""
    for k in loc:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out or "(document)"


def read_yaml(path: str | Path, what: str = "the file must be a mapping"):
    """The ruamel document of a YAML mapping (line numbers kept), or a :class:`ConfigError` naming the file
    (cannot read), the line (syntax) or the document (not a mapping: ``what`` says what it should be)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import MarkedYAMLError

    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([(name, None, "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError([(name, mark.line + 1 if mark else None, "(syntax)",
                            f"{exc.problem or exc.context}")]) from None
    if not isinstance(doc, CommentedMap):
        raise ConfigError([(name, 1, "(document)", what)])
    return doc


def plain(doc: Any) -> Any:
    """The ruamel document as plain JSON-able Python (dates as ISO strings)."""
    return json.loads(json.dumps(doc, default=lambda o: o.isoformat() if isinstance(o, dt.date) else str(o)))


def validation_error(path: str | Path, doc: Any, exc, rename: Callable[[Any], Any] | None = None) -> ConfigError:
    """A pydantic ``ValidationError`` as a :class:`ConfigError`: one (file, line, field, message) per error.
    ``rename`` maps a location's keys back to the file's (a field aliased in the model)."""
    out = []
    for e in exc.errors(include_url=False):
        loc = tuple(rename(k) for k in e["loc"]) if rename else tuple(e["loc"])
        out.append((str(path), line_of(doc, loc), field_path(loc), e["msg"]))
    return ConfigError(out)


def load_model(path: str | Path, model, what: str = "the file must be a mapping", *,
               rename: Callable[[Any], Any] | None = None):
    """``(model instance, ruamel document)`` of a YAML file validated against a pydantic ``model``."""
    from pydantic import ValidationError

    doc = read_yaml(path, what)
    try:
        return model.model_validate(plain(doc)), doc
    except ValidationError as exc:
        raise validation_error(path, doc, exc, rename) from None
