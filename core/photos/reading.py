"""Opening a user's file for reading, safely: regular files only, a size cap, bounded reads.

A photo folder can hold anything under a photo's name. A FIFO called ``photo.jpg`` blocks
``open()`` until a writer comes (forever); a link to ``/dev/zero`` never ends; a device can
act when opened; a 3 GB sparse file is 3 GB of zeros. So a file is opened only when
``stat`` (after following links) says it is a regular file no larger than the cap for its
kind; it is opened non-blocking and checked again on the open descriptor, so a file swapped
for a FIFO in between cannot hang the reader; and reads stop at the cap even if the file
grows meanwhile. A refusal is an :class:`~core.errors.ImageError` whose reason the catalog
keeps, like any other file that cannot be read.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Callable
from typing import BinaryIO, Final

from core.errors import ImageError
from core.photos.formats import is_raw
from core.units import human_size

MAX_IMAGE_BYTES: Final = 1_500_000_000
"""Largest image file read. The biggest honest picture Pictor decodes is one at the pixel
limit (core.photos.imaging.MAX_PIXELS, 179 MP) stored uncompressed at 16 bits a channel with
alpha: 8 bytes a pixel, 1.43 GB. A larger file holds more than one picture (a layered or
multi-page TIFF: Pictor reads the first page only) or is not a picture at all; WebP, HEIF
and AVIF decoders also hold the whole file in memory, so this bounds that too."""
MAX_RAW_BYTES: Final = 500_000_000
"""Largest camera RAW file read. The biggest single captures (150 MP medium format,
uncompressed 16-bit) are about 300 MB; LibRaw reads the file from memory, so the cap is
also what a RAW can cost in memory before it is developed."""
CHUNK: Final = 1 << 20

_OPEN_FLAGS: Final = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                      | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
_KINDS: Final[tuple[tuple[Callable[[int], bool], str], ...]] = (
    (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
)


class FileRefusedError(ImageError):
    """The file is not read at all: not a regular file, or larger than its kind's cap."""


def max_bytes(path: str | os.PathLike[str]) -> int:
    """The size cap of ``path``'s kind (a camera RAW or an image), by its name."""
    return MAX_RAW_BYTES if is_raw(path) else MAX_IMAGE_BYTES


def check(info: os.stat_result, path: str | os.PathLike[str]) -> None:
    """Raise :class:`FileRefusedError` unless ``info`` is a regular file within the cap."""
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "a special file")
        raise FileRefusedError(f"not a regular file: {kind}")
    if info.st_size == 0:  # said plainly: "not an image" would send the user looking why
        raise FileRefusedError("empty file")
    limit = max_bytes(path)
    if info.st_size > limit:
        what = "camera RAW files" if limit == MAX_RAW_BYTES else "images"
        raise FileRefusedError(f"file too large: {human_size(info.st_size)} (the limit for "
                               f"{what} is {human_size(limit)})")


def open_photo(path: str | os.PathLike[str]) -> BinaryIO:
    """A regular file opened for reading (seekable, reads bounded by its cap).

    Raises :class:`~core.errors.ImageError`: ``cannot read file: <why>`` when it cannot be
    opened, :class:`FileRefusedError` when it is refused unopened (see :func:`check`).
    """
    try:
        check(os.stat(path), path)  # a device or FIFO is never opened (opening can act)
        fd = os.open(path, _OPEN_FLAGS)  # non-blocking: a FIFO swapped in cannot hang it
    except OSError as error:
        raise ImageError(f"cannot read file: {error.strerror or error}") from error
    try:
        check(os.fstat(fd), path)  # what was opened, not what the name showed a moment ago
        return io.BufferedReader(_Bounded(fd, max_bytes(path)), CHUNK)
    except BaseException:
        os.close(fd)
        raise


def read_photo(path: str | os.PathLike[str]) -> bytes:
    """The whole of a photo file (see :func:`open_photo`)."""
    with open_photo(path) as file:
        return read_all(file)


def read_all(file: BinaryIO) -> bytes:
    """The rest of an opened file; ``cannot read file`` on an I/O error."""
    try:
        return file.read()
    except OSError as error:
        raise ImageError(f"cannot read file: {error.strerror or error}") from error


def content_hash(file: BinaryIO) -> str:
    """blake2b-128 of the file's bytes, read a megabyte at a time (never whole); the file
    is left at its start. The same digest as hashing the bytes in one piece."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        file.seek(0)
        while chunk := file.read(CHUNK):
            digest.update(chunk)
        file.seek(0)
    except OSError as error:
        raise ImageError(f"cannot read file: {error.strerror or error}") from error
    return digest.hexdigest()


class _Bounded(io.RawIOBase):
    """A file descriptor that reads as if the file ended at ``limit`` bytes."""

    def __init__(self, fd: int, limit: int) -> None:
        super().__init__()
        self._fd = fd
        self._limit = limit

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        room = self._limit - os.lseek(self._fd, 0, os.SEEK_CUR)
        view = memoryview(buffer).cast("B")
        if room <= 0 or not len(view):
            return 0
        if hasattr(os, "readv"):  # straight into the caller's buffer
            return os.readv(self._fd, [view[: min(len(view), room)]])
        data = os.read(self._fd, min(len(view), room))
        view[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self._fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()
