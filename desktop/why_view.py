"""The preview's "Why?": a heat map of where the query's description matched, drawn over
the photo (its peak marked), and what each part of the search added to the photo's place
in the results, listed under the photo's details.

Passive drawing and wording: desktop/window_why.py asks the engine for the heat map
(``Library.explain``, off the GUI thread) and hands it here. The breakdown reads
``SearchHit.why`` when the search gave one (``meaning``, ``parts``, ``words``), else the
hit's score and the word columns that matched (``fields``).
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from desktop.results import FIELDS

if TYPE_CHECKING:
    from core.search.explain import Heat
    from core.types import SearchHit
    from desktop.query import Query

RAMP = ((0.0, (40, 70, 255)), (0.35, (0, 210, 230)), (0.6, (120, 230, 40)),
        (0.8, (255, 220, 0)), (1.0, (235, 30, 20)))
"""The colour map, cold to hot: blue, cyan, green, yellow, red."""
ALPHA = (50, 190)
"""A cell's opacity (0-255) for heat 0 and heat 1: a cold cell barely tints the photo."""
PEAK = QColor(255, 255, 255)

ENABLED_TIP = ("Show where the search's description matched in this photo (a heat map "
               "over it, its peak marked) and what each part of the search added")
NO_TEXT_TIP = ("Why? shows where a description matched: this search is by an image only, "
               "with no text to explain")
EMPTY_TIP = "Why? shows where a search's description matched a photo: type one first"


def heat_colour(value: float) -> QColor:
    """``value`` (0-1) on the colour map, more opaque the hotter."""
    v = min(max(value, 0.0), 1.0)
    rgb = list(RAMP[-1][1])
    for (x0, c0), (x1, c1) in itertools.pairwise(RAMP):
        if v <= x1:
            t = (v - x0) / (x1 - x0)
            rgb = [round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True)]
            break
    alpha = round(ALPHA[0] + (ALPHA[1] - ALPHA[0]) * v)
    return QColor(rgb[0], rgb[1], rgb[2], alpha)


def heat_overlay(pixmap: QPixmap, heat: Heat) -> QPixmap:
    """A copy of ``pixmap`` (the photo shown at any size) with ``heat``'s grid over it,
    smoothly, and its peak marked; the heat's cells are in the photo's full-size pixels
    as shown (``heat.size``)."""
    if pixmap.isNull() or not heat.grid or heat.size[0] <= 0 or heat.size[1] <= 0:
        return pixmap
    cells = QImage(heat.cols, heat.rows, QImage.Format.Format_ARGB32)
    for r, row in enumerate(heat.grid):
        for c, value in enumerate(row):
            cells.setPixelColor(c, r, heat_colour(value))
    shown = pixmap.deviceIndependentSize()
    sx, sy = shown.width() / heat.size[0], shown.height() / heat.size[1]
    marked = QPixmap(pixmap)
    painter = QPainter(marked)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.drawImage(QRectF(0, 0, heat.cols * heat.cell[0] * sx,
                             heat.rows * heat.cell[1] * sy), cells)
    _mark_peak(painter, QPointF(heat.peak[0] * sx, heat.peak[1] * sy),
               max(5.0, min(shown.width(), shown.height()) * 0.04))
    painter.end()
    return marked


def _mark_peak(painter: QPainter, at: QPointF, radius: float) -> None:
    """A ring with a cross hair, white on a dark edge: seen on any colour."""
    for colour, width in ((QColor(0, 0, 0, 170), 4.0), (PEAK, 2.0)):
        painter.setPen(QPen(colour, width))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(at, radius, radius)
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            painter.drawLine(at + QPointF(dx, dy) * radius,
                             at + QPointF(dx, dy) * radius * 1.8)


# -- the breakdown ---------------------------------------------------------------------


def breakdown(query: Query, hit: SearchHit | None, heat: Heat | None) -> list[str]:
    """What the search saw in the photo, one plain sentence a line: the meaning part, the
    word columns that matched (and on which words), each part of a combined query, what
    ``not:`` took away, and where the description matched most (``heat``)."""
    why: Mapping[str, Any] = getattr(hit, "why", None) or {}
    lines = []
    meaning = why.get("meaning") or {}
    if meaning:
        lines.append(f"Meaning: score {float(meaning.get('score', 0)):.0f} · "
                     f"similarity {float(meaning.get('similarity', 0)):.3f}")
    elif hit is not None:
        lines.append(f"Meaning: score {hit.score:.0f} · similarity {hit.similarity:.3f}")
    lines += _words(why.get("words") or {}, hit)
    lines += _parts(why.get("parts") or {}, query)
    if heat is not None:
        alone = f"similarity {heat.similarity:.3f}"
        if heat.score is not None:
            alone = f"score {heat.score:.0f} · {alone}"
        lines.append(f"Where “{heat.text}” matched most: the marked spot, the hotter the "
                     f"more it adds ({alone} for the description alone)")
    return lines


def _words(words: Mapping[str, Any], hit: SearchHit | None) -> list[str]:
    if words:
        said = [f"{FIELDS.get(column, column)} ({', '.join(str(w) for w in found)})"
                if found else FIELDS.get(column, column) for column, found in words.items()]
        return ["Words matched: " + "; ".join(said)]
    fields = getattr(hit, "fields", ()) or ()
    if fields:
        return ["Words matched in: " + ", ".join(FIELDS.get(f, f) for f in fields)]
    return []


def _parts(parts: Mapping[str, Any], query: Query) -> list[str]:
    lines = []
    if parts.get("text") is not None:
        lines.append(f"Description: similarity {float(parts['text']):.3f}")
    if parts.get("image") is not None:
        lines.append(f"Example image: similarity {float(parts['image']):.3f}")
    if parts.get("not") is not None:
        named = f" “{query.negative}”" if query.negative else ""
        lines.append(f"Left out{named}: similarity {float(parts['not']):.3f}, taken away "
                     "from its score")
    return lines


class WhyPanel(QWidget):
    """The "Why?" toggle and, while it is on, the breakdown under it."""

    toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("whyPanel")
        self.button = QToolButton()
        self.button.setObjectName("whyButton")
        self.button.setText("Why?")
        self.button.setCheckable(True)
        self.button.toggled.connect(self.toggled)
        self.details = QLabel()
        self.details.setObjectName("whyDetails")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.details)
        self.set_available(False, EMPTY_TIP)

    @property
    def on(self) -> bool:
        return self.button.isEnabled() and self.button.isChecked()

    def set_available(self, available: bool, tip: str) -> None:
        """Enable the toggle, or disable it (turned off) saying why in its tooltip."""
        if not available:
            self.button.setChecked(False)
        self.button.setEnabled(available)
        self.button.setToolTip(tip)

    def show_lines(self, lines: list[str], *, note: str = "") -> None:
        """The breakdown, a line each; ``note`` (in grey) after it: working, or a failure."""
        text = "<br>".join(html.escape(line) for line in lines)
        if note:
            grey = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
            text += ("<br>" if text else "") + (f"<span style='color:{grey}'>"
                                                f"{html.escape(note)}</span>")
        self.details.setText(text)
        self.details.setVisible(bool(text))

    def clear(self) -> None:
        self.details.clear()
        self.details.hide()
