"""Languages of the pages: gettext catalogues (``dashboards/locale/<lang>/LC_MESSAGES/tanjian.po``) compiled with
Babel when first used, and number formats per language.

The msgids are the English texts, so English needs no catalogue entry (its ``.po`` exists for the record and
for units or formats that read differently). A page calls ``ctx._("Plant load today")``
(:class:`dashboards.registry.PageContext`) or :func:`translator`.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "tanjian"
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"
#: Babel locale of each language (number and date formats)
BABEL_LOCALE = {"zh": "zh_Hans_CN", "en": "en_GB"}


def language(value: str | None) -> str:
    """A supported language from a URL argument or an Accept-Language value (default Chinese)."""
    v = (value or "").strip().lower()
    for code in LANGUAGES:
        if v == code or v.startswith(code + "-") or v.startswith(code + "_"):
            return code
    return DEFAULT


@functools.lru_cache(maxsize=8)
def _catalogue(lang: str, mtime_ns: int) -> gettext.NullTranslations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with open(po, "rb") as f:
        cat = read_po(f, locale=BABEL_LOCALE[lang], domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, cat)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def translator(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (recompiled when its ``.po`` changes)."""
    lang = language(lang)
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return gettext.NullTranslations()
    return _catalogue(lang, po.stat().st_mtime_ns)


def gettext_for(lang: str):
    """``_`` for ``lang``."""
    return translator(lang).gettext


def pgettext_for(lang: str):
    """``pgettext(context, text)`` for ``lang`` (the column headers use the context ``"column"``)."""
    return translator(lang).pgettext


def N_(text: str) -> str:
    """Marks ``text`` as a msgid where it is defined (a table of labels); it is translated where shown."""
    return text


def number(value: float, lang: str, digits: int = 0) -> str:
    """``value`` with the grouping and decimal mark of ``lang`` and ``digits`` decimals ("–" for NaN or None)."""
    from babel.numbers import format_decimal

    if value is None or value != value:
        return "–"
    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=fmt, locale=BABEL_LOCALE[language(lang)])


def site_name(obj, lang: str) -> str:
    """The name of a site-model object (workshop, enterprise, …) in ``lang``: ``name_zh`` in Chinese when the
    site model has one, else ``name`` (the English or only name)."""
    name = getattr(obj, "name", None) or ""
    if language(lang) == "zh":
        return getattr(obj, "name_zh", None) or name
    return name
