"""Printable QR labels for the meters: each opens the hand-reading page with its meter chosen.

A label holds a QR code of ``<dashboards.public_url>/readings?meter=<id>``, the meter's id, its name
and its workshop. ``tanjian labels --out labels.pdf`` lays them out on A4 sheets (3 × 8 labels of
70 × 37 mm, a common sticker sheet); ``--out labels.svg`` writes one SVG sheet of them (for a label
printer or an editor). The QR modules are drawn from :func:`qr_matrix` in both formats, so what is
printed is exactly the code of that URL. In the PDF each label is also a link to its URL.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from workspace.errors import TanjianError, UnknownMeter
from workspace.site import Site

log = logging.getLogger(__name__)

MM = 72 / 25.4  # PDF points per millimetre
PAGE_W, PAGE_H = 210.0, 297.0  # A4 [mm]
COLS, ROWS = 3, 8
LABEL_W, LABEL_H = 70.0, 37.0  # [mm]
MARGIN_Y = (PAGE_H - ROWS * LABEL_H) / 2  # [mm]
QR_SIZE = 31.0  # side of the QR code with its quiet zone [mm]
PAD = 3.0  # [mm]


@dataclass(frozen=True)
class Label:
    """What one label shows."""

    meter: str
    name: str
    workshop: str
    url: str


def reading_url(public_url: str, meter: str) -> str:
    """The hand-reading page with ``meter`` chosen: ``<public_url>/readings?meter=<meter>``."""
    return f"{public_url.rstrip('/')}/readings?meter={quote(meter, safe='')}"


def labels_for(site: Site, public_url: str, meters: list[str] | None = None) -> list[Label]:
    """One :class:`Label` per meter (all meters of the site, or ``meters`` in that order)."""
    ids = meters if meters else site.meter_ids()
    ws = {w.id: (f"{w.name_zh} {w.name}" if w.name_zh else w.name) for w in site.workshops}
    out = []
    for mid in ids:
        try:
            m = site.meter(mid)
        except KeyError:
            raise UnknownMeter(f"unknown meter {mid!r} (see the site model: `tanjian config check`)") from None
        out.append(Label(m.id, m.name or "", ws.get(m.workshop, "plant level 全厂") if m.workshop else
                         "plant level 全厂", reading_url(public_url, m.id)))
    return out


def qr_matrix(payload: str) -> list[list[bool]]:
    """The QR code of ``payload`` (error correction M, smallest version that fits), quiet zone of
    4 modules included: ``matrix[row][col]`` is True for a dark module."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    qr.add_data(payload)
    qr.make(fit=True)
    return qr.get_matrix()


def _position(i: int) -> tuple[int, float, float]:
    """Page, left and top [mm, from the page's top-left corner] of label ``i``."""
    page, k = divmod(i, COLS * ROWS)
    row, col = divmod(k, COLS)
    return page, col * LABEL_W, MARGIN_Y + row * LABEL_H


TEXT_W = LABEL_W - PAD - QR_SIZE - 2.0  # width of the text column [mm]


def _width(text: str, size: float) -> float:
    """Estimated width of ``text`` at font size ``size`` [mm]: CJK characters are square, others
    about 0.55 em (Helvetica's and Noto Sans's average)."""
    return sum(size if ord(ch) > 0x2E80 else 0.55 * size for ch in text)


def _lines(text: str, size: float, n: int) -> list[str]:
    """``text`` broken at spaces (or anywhere, for CJK) into at most ``n`` lines of :data:`TEXT_W`;
    the last line ends with "…" when something is left over."""
    out, cur = [], ""
    for word in text.replace("  ", " ").split(" "):
        cand = f"{cur} {word}".strip()
        if _width(cand, size) <= TEXT_W:
            cur = cand
            continue
        if cur:
            out.append(cur)
        cur = word
        while _width(cur, size) > TEXT_W:  # a word (or CJK run) wider than the column
            k = len(cur)
            while k > 1 and _width(cur[:k], size) > TEXT_W:
                k -= 1
            out.append(cur[:k])
            cur = cur[k:]
    if cur:
        out.append(cur)
    if len(out) > n:
        last = out[n - 1]
        while last and _width(last + "…", size) > TEXT_W:
            last = last[:-1]
        out = out[: n - 1] + [last + "…"]
    return out


def _text_lines(lab: Label) -> list[tuple[str, float, bool]]:
    """The label's text: ``(line, font size [mm], bold)`` from the top."""
    rows = [(lab.meter, 4.6, True)]
    rows += [(ln, 2.5, False) for ln in _lines(lab.name, 2.5, 2)]
    rows += [(ln, 2.5, False) for ln in _lines(lab.workshop, 2.5, 2)]
    return rows


def write_pdf(labels: list[Label], out: str | os.PathLike) -> Path:
    """A4 sheets of ``labels`` (3 × 8 per page), each a QR code with id, name and workshop."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))  # Adobe's CJK font, built into every reader
    out = Path(out)
    c = canvas.Canvas(str(out), pagesize=A4, pageCompression=1)
    c.setTitle("tanjian meter labels")
    c.setAuthor("tanjian")
    page = 0
    for i, lab in enumerate(labels):
        p, x, top = _position(i)
        if p != page:
            c.showPage()
            page = p
        y = PAGE_H - top - LABEL_H  # bottom of the label [mm from the page's bottom]
        c.setStrokeColorRGB(0.8, 0.8, 0.8)
        c.setLineWidth(0.3)
        c.rect(x * MM, y * MM, LABEL_W * MM, LABEL_H * MM)
        matrix = qr_matrix(lab.url)
        n = len(matrix)
        mod = QR_SIZE / n
        qx, qy = x + PAD, y + (LABEL_H - QR_SIZE) / 2
        c.setFillColorRGB(0, 0, 0)
        for r, row in enumerate(matrix):
            for col, dark in enumerate(row):
                if dark:
                    c.rect((qx + col * mod) * MM, (qy + (n - 1 - r) * mod) * MM, mod * MM + 0.05, mod * MM + 0.05,
                           stroke=0, fill=1)
        tx = qx + QR_SIZE + 1.0
        ty = y + LABEL_H - 4.0
        for text, size, bold in _text_lines(lab):
            ty -= size * 1.25
            c.setFont("Helvetica-Bold" if bold else "STSong-Light", size * MM)
            c.drawString(tx * MM, ty * MM, text)
            ty -= 0.8 if bold else 0.0
        c.setFont("STSong-Light", 2.8 * MM)
        c.drawString(tx * MM, (y + 4.5) * MM, "扫码抄表 Scan to read")
        c.linkURL(lab.url, (x * MM, y * MM, (x + LABEL_W) * MM, (y + LABEL_H) * MM), relative=0)
    c.showPage()
    c.save()
    log.info("wrote %d labels on %d page(s) to %s", len(labels), page + 1, out)
    return out


def svg(labels: list[Label]) -> str:
    """One SVG sheet (mm units, 3 labels a row) of ``labels``."""
    rows = -(-len(labels) // COLS)
    h = rows * LABEL_H
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_W}mm" height="{h}mm" '
             f'viewBox="0 0 {PAGE_W} {h}" font-family="Noto Sans CJK SC, Noto Sans, sans-serif">',
             f'<rect width="{PAGE_W}" height="{h}" fill="white"/>']
    for i, lab in enumerate(labels):
        row, col = divmod(i, COLS)
        x, y = col * LABEL_W, row * LABEL_H
        matrix = qr_matrix(lab.url)
        n = len(matrix)
        mod = QR_SIZE / n
        qx, qy = x + PAD, y + (LABEL_H - QR_SIZE) / 2
        path = "".join(f"M{qx + cc * mod:.3f} {qy + r * mod:.3f}h{mod:.3f}v{mod:.3f}h-{mod:.3f}z"
                       for r, line in enumerate(matrix) for cc, dark in enumerate(line) if dark)
        tx = qx + QR_SIZE + 1.0
        texts, ty = [], y + 4.0
        for text, size, bold in _text_lines(lab):
            ty += size * 1.25
            weight = ' font-weight="bold"' if bold else ""
            texts.append(f'<text x="{tx:.2f}" y="{ty:.2f}" font-size="{size}"{weight}>{escape(text)}</text>')
            ty += 0.8 if bold else 0.0
        parts.append(
            f'<g class="label" data-meter="{escape(lab.meter)}" data-url="{escape(lab.url)}" '
            f'data-modules="{n}">'
            f'<rect x="{x}" y="{y}" width="{LABEL_W}" height="{LABEL_H}" fill="none" stroke="#ccc" '
            f'stroke-width="0.2"/>'
            f'<path d="{path}" fill="black"/>'
            + "".join(texts)
            + f'<text x="{tx:.2f}" y="{y + LABEL_H - 4.5:.2f}" font-size="2.8">扫码抄表 Scan to read</text></g>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_labels(site: Site, public_url: str, out: str | os.PathLike, meters: list[str] | None = None) -> Path:
    """Write the labels of ``meters`` (default all) to ``out``: ``.pdf`` or ``.svg``."""
    out = Path(out)
    labels = labels_for(site, public_url, meters)
    if not labels:
        raise TanjianError("no meter to label")
    if out.suffix.lower() == ".pdf":
        return write_pdf(labels, out)
    if out.suffix.lower() == ".svg":
        out.write_text(svg(labels), encoding="utf-8")
        log.info("wrote %d labels to %s", len(labels), out)
        return out
    raise TanjianError(f"{out}: write labels to a .pdf or an .svg file")
