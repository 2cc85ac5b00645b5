"""The results grid's model: search hits in rank order, thumbnails fetched lazily (a
video's is its frame at the moment its search found)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QUrl,
)

from core.photos.video_names import clock
from desktop.thumbnails import ImageCache, moment_key
from desktop.wording import dated

if TYPE_CHECKING:
    from core.types import SearchHit

HitRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3
BrokenRole = Qt.ItemDataRole.UserRole + 4
MomentRole = Qt.ItemDataRole.UserRole + 5
"""A video hit's ``(time_s, duration_s)``; None for a photo."""

Index = QModelIndex | QPersistentModelIndex
MATCHED = {"words": "its words", "both": "meaning and words", "text": "text in the photo",
           "place": "where it was taken"}
FIELDS = {"name": "file name", "folders": "folders", "words": "your words", "tags": "tags",
          "text": "text in the photo", "place": "place"}
"""What each word column of a hit (``SearchHit.fields``) is called when saying what found it."""


def image_key(hit: SearchHit) -> str:
    """What a hit's thumbnail and preview are asked for by: a photo's path, or a video's
    frame at its best moment."""
    if hit.kind == "video":
        return moment_key(hit.path, hit.time_s or 0.0)
    return hit.path


def moment_text(hit: SearchHit) -> str | None:
    """ "0:42 of 3:10" for a video hit; None for a photo."""
    if hit.kind != "video":
        return None
    at = clock(hit.time_s or 0.0)
    return f"{at} of {clock(hit.duration_s)}" if hit.duration_s else at


def found_by(hit: SearchHit) -> str | None:
    """What found a photo, for a tooltip: "its words (file name, tags)", "text in the
    photo (also: file name)"; None when its meaning alone did."""
    said = MATCHED.get(hit.match)
    if said is None:
        return None
    fields = [FIELDS.get(f, f) for f in getattr(hit, "fields", ()) or ()
              if f != hit.match]  # "text" found by text: said already
    if not fields:
        return said
    if hit.match in ("text", "place"):
        return f"{said} (also: {', '.join(fields)})"
    return f"{said} ({', '.join(fields)})"


class ResultsModel(QAbstractListModel):
    """Hits, best first. The decoration of a row is its thumbnail once it is made."""

    def __init__(self, thumbnails: ImageCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._hits: list[SearchHit] = []
        self._rows: dict[str, int] = {}
        self._keys: dict[str, int] = {}  # row by image_key
        self._thumbnails = thumbnails
        thumbnails.ready.connect(self._on_thumbnail)
        thumbnails.failed.connect(lambda path, _reason: self._on_thumbnail(path))

    def set_hits(self, hits: list[SearchHit]) -> None:
        self._thumbnails.forget_pending()
        self.beginResetModel()
        self._hits = list(hits)
        self._rows = {hit.path: row for row, hit in enumerate(self._hits)}
        self._keys = {image_key(hit): row for row, hit in enumerate(self._hits)}
        self.endResetModel()

    def hits(self) -> list[SearchHit]:
        return list(self._hits)

    def hit(self, row: int) -> SearchHit:
        return self._hits[row]

    def row_of(self, path: str) -> int | None:
        return self._rows.get(path)

    # -- QAbstractListModel ------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._hits):
            return None
        hit = self._hits[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return Path(hit.path).name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnails.get(image_key(hit))
        if role == Qt.ItemDataRole.ToolTipRole:
            found, moment = found_by(hit), moment_text(hit)
            return f"{hit.path}\nscore {hit.score:.0f} of 100" + (
                f"\nvideo: best moment at {moment}" if moment else "") + (
                f"\nfound by {found}" if found else "") + (
                f"\ntaken in {hit.place}" if hit.place else "") + (
                f"\ndated {dated(hit.date, hit.date_source)}" if hit.date else "")
        if role == HitRole:
            return hit
        if role == PathRole:
            return hit.path
        if role == ScoreRole:
            return hit.score
        if role == BrokenRole:
            return self._thumbnails.broken(image_key(hit))
        if role == MomentRole:
            return (hit.time_s or 0.0, hit.duration_s) if hit.kind == "video" else None
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemNeverHasChildren)

    # -- dragging results out as files ------------------------------------------------

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        mime = QMimeData()
        rows = sorted({i.row() for i in indexes if i.isValid()})
        mime.setUrls([QUrl.fromLocalFile(self._hits[r].path) for r in rows])
        mime.setText("\n".join(self._hits[r].path for r in rows))
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def _on_thumbnail(self, key: str) -> None:
        row = self._keys.get(key)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
