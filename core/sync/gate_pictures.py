"""Small copies of the photos an index run decoded, kept in memory for the text pass's gate.

The text pass runs after the embeddings and asks its cheap detector, for every photo,
whether it holds text (core.photos.text_reading). Decoding a 12 MP JPEG again for that,
even at 1/8 scale, costs about what the detector does: libjpeg must still undo the whole
file's Huffman coding. The index run has just decoded the photo at that scale for the image
model, so it keeps a copy shrunk to the gate's size (a JPEG of about 75 KB, made in its
decode pool in about 2.5 ms), and the text pass gates that copy instead (1 ms to decode
against 33 ms): its files are opened again only for the photos with text. A photo whose
decode for the model is smaller than the gate looks at (under about 11 MP) has no copy and
is decoded again, as before.

Bounded (:data:`MAX_BYTES`: a first run over a large library keeps the first few thousand
and the rest are decoded again, as before); a copy is used once, and only while its file
has the size and time it had when it was decoded. Lost when the process ends: nothing on
disk to go stale.
"""

from __future__ import annotations

import io
import os
import threading

from PIL import Image

from core.photos import text_reading

MAX_BYTES = 256 * 2**20
"""Memory the copies may take at once (about 3,500 photos of 12 MP)."""
QUALITY = 95
"""JPEG quality of the copies: the gate finds the same lines on them as on the decode."""


class GatePictures:
    """Thread-safe: the decode pool's threads keep, the text pass's workers take."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._pictures: dict[str, tuple[int, float, bytes]] = {}
        self._bytes = 0

    def keep(self, path: str, size: int, mtime: float, image: Image.Image) -> None:
        """Keep ``image`` (the photo at ``path``, decoded as shown) shrunk to the gate's
        size, unless it is smaller than that (the text pass decodes such a photo larger
        itself) or the store is full."""
        small = text_reading.gate_picture(image)
        if small is None:
            return
        buffer = io.BytesIO()
        small.save(buffer, "JPEG", quality=QUALITY)
        data = buffer.getvalue()
        with self._lock:
            old = self._pictures.pop(path, None)
            self._bytes -= len(old[2]) if old else 0
            if self._bytes + len(data) <= self._max_bytes:
                self._pictures[path] = (size, mtime, data)
                self._bytes += len(data)

    def take(self, path: str) -> Image.Image | None:
        """The copy kept for ``path`` (once), or None: none was kept, or the file has
        changed or gone since it was decoded."""
        with self._lock:
            kept = self._pictures.pop(path, None)
            if kept is None:
                return None
            self._bytes -= len(kept[2])
        size, mtime, data = kept
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if (stat.st_size, stat.st_mtime) != (size, mtime):
            return None
        with Image.open(io.BytesIO(data)) as picture:
            return picture.convert("RGB")

    def clear(self) -> None:
        """Forget every copy (those of photos that failed later in their run, or were
        removed, are never taken)."""
        with self._lock:
            self._pictures.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._pictures)
