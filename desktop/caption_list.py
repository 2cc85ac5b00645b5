"""The preview's captions: the photo's own words first, then the built-in terms, scored.

A passive view: the window asks the engine for a photo's captions and hands them here.
Each caption is a link; clicking one searches for it.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from core.search.captions import Caption

MAX_CHARS = 120
"""A long description is cut here in the list (the tooltip has all of it)."""
USER_KINDS = {"title": "title", "description": "description", "keyword": "keyword",
              "comment": "comment", "sidecar": "note", "album": "album"}


class CaptionList(QWidget):
    """States: ``empty`` (nothing asked), ``loading``, ``ready`` or ``failed``."""

    captionClicked = Signal(str)  # the caption's full text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("captionList")
        self.state = "empty"
        self.captions: list[Caption] = []
        self.note = QLabel()
        self.note.setObjectName("captionNote")
        self.note.setWordWrap(True)
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(2)
        self.grid.setColumnStretch(0, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.note)
        layout.addLayout(self.grid)
        self.clear()

    # -- states ------------------------------------------------------------------------

    def clear(self) -> None:
        self._set("empty", "")

    def show_loading(self) -> None:
        self._set("loading", "Loading captions…")

    def show_error(self, message: str) -> None:
        self._set("failed", f"No captions: {message}")

    def show_captions(self, captions: list[Caption]) -> None:
        self._set("ready", "" if captions else "No captions for this photo.")
        self.captions = list(captions)
        row = 0
        for title, source in (("Your words", "user"), ("Looks like", "vocabulary")):
            chosen = [c for c in captions if c.source == source]
            if chosen:
                self.grid.addWidget(self._header(title), row, 0, 1, 2)
                row += 1
            for caption in chosen:
                self.grid.addWidget(self._text(caption), row, 0)
                self.grid.addWidget(self._score(caption), row, 1)
                row += 1

    def rows(self) -> list[tuple[str, str, str]]:
        """What the list shows, as (caption, score, source): for tests and accessibility."""
        return [(c.text, _score(c.score), c.source) for c in self.captions]

    def _set(self, state: str, note: str) -> None:
        self.state = state
        self.captions = []
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self.note.setText(note)
        self.note.setVisible(bool(note))

    # -- rows --------------------------------------------------------------------------

    def _header(self, title: str) -> QLabel:
        label = QLabel(title)
        label.setObjectName("captionHeader")
        font = QFont(label.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 0.9)
        label.setFont(font)
        label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        label.setContentsMargins(0, 4, 0, 0)
        return label

    def _text(self, caption: Caption) -> QLabel:
        text = caption.text if len(caption.text) <= MAX_CHARS else (
            caption.text[: MAX_CHARS - 1].rstrip() + "…")
        colour = self.palette().color(QPalette.ColorRole.Text).name()
        grey = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        shown = (f"<a href='caption' style='color:{colour}; text-decoration:none'>"
                 f"{html.escape(text)}</a>")
        if caption.source == "user":
            kind = USER_KINDS.get(caption.kind, caption.kind)
            shown = (f"<i>“{shown}”</i> "
                     f"<span style='color:{grey}'><small>{html.escape(kind)}</small></span>")
        label = QLabel(shown)
        label.setObjectName("captionText")
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                      | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        where = "your " + USER_KINDS.get(caption.kind, caption.kind) if (
            caption.source == "user") else caption.kind
        label.setToolTip(f"{caption.text}\n({where}) — click to search for it")
        full = caption.text
        label.linkActivated.connect(lambda _link: self.captionClicked.emit(full))
        return label

    def _score(self, caption: Caption) -> QLabel:
        label = QLabel(_score(caption.score))
        label.setObjectName("captionScore")
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        label.setToolTip("How well this describes the photo, 0-100 (50 and up: a good match)")
        return label


def _score(score: float) -> str:
    return f"{score:.0f}"
