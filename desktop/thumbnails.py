"""Thumbnails and previews, made off the GUI thread and cached on disk and in memory.

A thread pool decodes photos with :func:`core.photos.imaging.decode` (allow-listed formats,
EXIF orientation applied, JPEG draft decoding) and shrinks them. Thumbnails are kept as
JPEG files in ``<data folder>/thumbnails/``, named by a hash of the photo's path, size
and modification time, so a changed photo gets a new one. The cache is derived data:
deleting the folder is always safe. Only the pool's threads read photos or write these
files; the catalog is never touched here.

A video's image is its frame at a moment (core.photos.video_frames.frame_at): it is asked
for by :func:`moment_key`, the video's path and the moment's time, so that the grid shows
each video at the moment its search found.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from core.files import private_dir

THUMBNAIL_SIZE = 256
PREVIEW_SIZE = 1600


class _Sink(QObject):
    """Lives on the GUI thread; the pool's threads emit through it (queued)."""

    done = Signal(str, object)  # path, result
    failed = Signal(str, str)  # path, reason


class _Job(QRunnable):
    def __init__(self, path: str, work: Any, sink: _Sink) -> None:
        super().__init__()
        self.path, self.work, self.sink = path, work, sink

    def run(self) -> None:
        try:
            result = self.work(self.path)
        except Exception as error:  # unreadable, vanished, corrupt: shown as broken
            reason = getattr(error, "reason", None) or str(error) or type(error).__name__
            self.sink.failed.emit(self.path, reason)
            return
        self.sink.done.emit(self.path, result)


def _to_qimage(picture: Any) -> QImage:
    rgb = picture.convert("RGB")
    data = rgb.tobytes()
    image = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return image.copy()  # own the pixels: ``data`` dies with this frame


def _decode_shrunk(path: str, size: int) -> tuple[Any, Any]:
    from core.photos.imaging import decode_path

    picture, info = decode_path(path, min_side=size)
    picture.thumbnail((size, size))
    return picture, info


def moment_key(path: str, time_s: float) -> str:
    """The cache key of a video's frame at ``time_s`` (a NUL never appears in a path)."""
    return f"{path}\0{time_s:.3f}"


def split_key(key: str) -> tuple[str, float | None]:
    """``(path, moment)`` of a key: the moment is None for a photo's."""
    path, _, moment = key.partition("\0")
    return path, float(moment) if moment else None


def _frame_shrunk(path: str, time_s: float, size: int) -> Any:
    from core.photos.video_frames import frame_at

    picture = frame_at(path, time_s, min_side=size)
    picture.thumbnail((size, size))
    return picture


def small_image(path: str, size: int) -> QImage | None:
    """A ``size``-pixel image of ``path`` made now (any format Pictor reads, RAW and HEIC
    too, upright; a 12 MP JPEG takes ~35 ms at 1/8 scale), or None if it cannot be read."""
    from core.errors import ImageError

    try:
        return _to_qimage(_decode_shrunk(path, size)[0])
    except (OSError, ImageError):
        return None


def cache_key(path: str, size: int) -> str:
    """Changes when the photo does (size or modification time), so stale ones are not used."""
    stat = os.stat(path)
    text = f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{size}"
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()


def make_thumbnail(key: str, folder: Path, size: int = THUMBNAIL_SIZE) -> QImage:
    """The thumbnail of a photo's path (or a video's :func:`moment_key`): from the disk
    cache, else made and written there."""
    path, moment = split_key(key)
    name = cache_key(path, size) + ("" if moment is None else f"-{moment:.3f}")
    cached = folder / name[:2] / f"{name}.jpg"
    if cached.is_file():
        image = QImage(str(cached))
        if not image.isNull():
            return image
    picture = (_decode_shrunk(path, size)[0] if moment is None
               else _frame_shrunk(path, moment, size))
    private_dir(cached.parent)
    fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            picture.convert("RGB").save(out, format="JPEG", quality=85)
        os.replace(tmp, cached)  # atomic: a reader never sees half a file
    except OSError:
        Path(tmp).unlink(missing_ok=True)  # a full disk only costs the cache
    return _to_qimage(picture)


def make_preview(key: str, size: int = PREVIEW_SIZE) -> tuple[QImage, dict[str, Any]]:
    """A large upright image and the photo's facts (for the preview pane); for a video's
    :func:`moment_key`, its frame at the moment and the video's facts."""
    path, moment = split_key(key)
    if moment is not None:
        return _video_preview(path, moment, size)
    picture, info = _decode_shrunk(path, size)
    facts = {
        "path": path,
        "size": os.stat(path).st_size,
        "width": info.width,
        "height": info.height,
        "format": info.format,
        "taken_at": info.taken_at.isoformat(sep=" ") if info.taken_at else None,
        "camera": info.camera,
    }
    return _to_qimage(picture), facts


def _video_preview(path: str, moment: float, size: int) -> tuple[QImage, dict[str, Any]]:
    from core.photos.video import probe

    info = probe(path)
    picture = _frame_shrunk(path, moment, size)
    facts = {
        "path": path,
        "size": os.stat(path).st_size,
        "width": info.width,
        "height": info.height,
        "format": f"{info.container}, {info.codec}",
        "taken_at": info.taken_at.isoformat(sep=" ") if info.taken_at else None,
        "camera": None,
        "time_s": moment,
        "duration_s": info.duration_s,
    }
    return _to_qimage(picture), facts


class ImageCache(QObject):
    """Asynchronous images by path: ``get`` returns what is ready and asks for the rest.

    Requests made later run first (the rows on screen now matter more than those scrolled
    past); ``forget_pending`` drops queued requests when the results change.
    """

    ready = Signal(str)  # path
    failed = Signal(str, str)  # path, reason

    def __init__(self, work: Any, *, memory: int, threads: int = 2,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._memory: OrderedDict[str, Any] = OrderedDict()
        self._limit = memory
        self._pending: set[str] = set()
        self._broken: dict[str, str] = {}
        self._priority = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._sink = _Sink(self)
        self._sink.done.connect(self._on_done)
        self._sink.failed.connect(self._on_failed)

    def get(self, path: str) -> Any | None:
        """The finished item for ``path`` (a QPixmap, or what ``work`` returns), or None."""
        if path in self._memory:
            self._memory.move_to_end(path)
            return self._memory[path]
        if path not in self._pending and path not in self._broken:
            self._pending.add(path)
            self._priority = min(self._priority + 1, 1 << 30)
            self._pool.start(_Job(path, self._work, self._sink), self._priority)
        return None

    def broken(self, path: str) -> str | None:
        return self._broken.get(path)

    def forget_pending(self) -> None:
        self._pool.clear()
        self._pending.clear()

    def invalidate(self, path: str) -> None:
        self._memory.pop(path, None)
        self._broken.pop(path, None)

    def wait(self, msecs: int = 30000) -> bool:
        return bool(self._pool.waitForDone(msecs))

    @Slot(str, object)
    def _on_done(self, path: str, result: Any) -> None:
        self._pending.discard(path)
        if isinstance(result, QImage):
            result = QPixmap.fromImage(result)  # pixmaps are made on the GUI thread only
        elif isinstance(result, tuple) and result and isinstance(result[0], QImage):
            result = (QPixmap.fromImage(result[0]), *result[1:])
        self._memory[path] = result
        while len(self._memory) > self._limit:
            self._memory.popitem(last=False)
        self.ready.emit(path)

    @Slot(str, str)
    def _on_failed(self, path: str, reason: str) -> None:
        self._pending.discard(path)
        self._broken[path] = reason
        self.failed.emit(path, reason)


def thumbnail_cache(data_dir: Callable[[], Path], parent: QObject | None = None) -> ImageCache:
    """Thumbnails kept in ``data_dir() / "thumbnails"`` (asked each time: it may change)."""
    return ImageCache(lambda path: make_thumbnail(path, data_dir() / "thumbnails"),
                      memory=600, parent=parent)


def preview_cache(parent: QObject | None = None) -> ImageCache:
    return ImageCache(make_preview, memory=8, threads=1, parent=parent)
