"""Small copies of the photos an index run decoded, kept in memory for the text pass's gate.

The text pass runs after the embeddings and asks its cheap detector, for every photo,
whether it holds text (core.photos.text_reading). Decoding a 12 MP JPEG again for that,
even at 1/8 scale, costs about what the detector does: libjpeg must still undo the whole
file's Huffman coding. The index run has just decoded the photo at that scale for the image
model, so it keeps a copy shrunk to the gate's size (a JPEG of about 75 KB, made in its
decode pool in about 2.5 ms; 14 ms for a 12 MP HEIC or PNG, which decode at full size), and
the text pass gates that copy instead (1 ms to decode against 33 ms): its files are opened
again only for the photos with text. A photo whose decode for the model is smaller than
the gate looks at (most photos under 11 MP, and 16:9 ones under about 20 MP, with a
224-pixel model) has no copy and is decoded again, as before.

Bounded (:func:`memory_budget`: a first run over a large library keeps its first few thousand
new photos, and the rest are decoded again); a copy is used once, and only while its file
has the size and time it had when it was decoded. Lost when the process ends: nothing on
disk to go stale.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from dataclasses import dataclass

from PIL import Image

from core.memory import available_bytes
from core.photos import text_reading

log = logging.getLogger(__name__)

MAX_BYTES = 256 * 2**20
"""Memory the copies may take at once (about 3,500 photos of 12 MP)..."""
MEMORY_SHARE = 16
"""...and no more than this fraction (1/16) of the memory the system has available."""
QUALITY = 95
"""JPEG quality of the copies: the gate finds the same lines on them as on the decode."""
_ROOM = 256 * 2**10
"""Room a copy is assumed to need before it is made (most take 50-100 KB): a full store
costs the index run no shrinking and encoding for copies it would refuse."""


@dataclass(frozen=True, slots=True)
class Kept:
    """A copy for the gate, with what the photo's EXIF said of where it was taken."""

    picture: Image.Image
    position: tuple[float, float] | None


def memory_budget() -> int:
    """What the copies may take on this machine now (:data:`MAX_BYTES`, less where little
    memory is available)."""
    available = available_bytes()
    return MAX_BYTES if available is None else min(MAX_BYTES, available // MEMORY_SHARE)


class GatePictures:
    """Thread-safe: the decode pool's threads keep, the text pass's workers take."""

    def __init__(self, *, max_bytes: int | None = None) -> None:
        self._max_bytes = memory_budget() if max_bytes is None else max_bytes
        self._lock = threading.Lock()
        self._pictures: dict[str, tuple[int, float, tuple[float, float] | None, bytes]] = {}
        self._bytes = 0

    def keep(self, path: str, size: int, mtime: float, image: Image.Image,
             position: tuple[float, float] | None = None) -> None:
        """Keep ``image`` (the photo at ``path``, decoded as shown) shrunk to the gate's
        size, unless it is smaller than that (the text pass decodes such a photo larger
        itself) or the store is full."""
        with self._lock:
            if self._bytes + _ROOM > self._max_bytes:
                return
        small = text_reading.gate_picture(image)
        if small is None:
            return
        buffer = io.BytesIO()
        small.save(buffer, "JPEG", quality=QUALITY)
        data = buffer.getvalue()
        with self._lock:
            old = self._pictures.pop(path, None)
            self._bytes -= len(old[3]) if old else 0
            if self._bytes + len(data) <= self._max_bytes:
                self._pictures[path] = (size, mtime, position, data)
                self._bytes += len(data)

    def take(self, path: str) -> Kept | None:
        """The copy kept for ``path`` (once), or None: none was kept, or the file has
        changed or gone since it was decoded."""
        with self._lock:
            kept = self._pictures.pop(path, None)
            if kept is None:
                return None
            self._bytes -= len(kept[3])
        size, mtime, position, data = kept
        try:
            stat = os.stat(path)
            if (stat.st_size, stat.st_mtime) != (size, mtime):
                return None
            with Image.open(io.BytesIO(data)) as picture:
                return Kept(picture.convert("RGB"), position)
        except (OSError, ValueError):  # gone, or a copy Pillow cannot read back: decode it
            log.debug("no usable copy of %s for the text pass", path, exc_info=True)
            return None

    def clear(self) -> None:
        """Forget every copy (those of photos that failed later in their run, were
        removed or renamed are never taken)."""
        with self._lock:
            self._pictures.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Memory the copies take."""
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._pictures)
