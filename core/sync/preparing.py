"""Reading one file for the indexer, in its decode pool: open it safely, hash it as a
stream, take its words, and decode just the pixels the model needs, within a memory budget
shared by the pool's threads. Touches no shared state but the budget; a bad file becomes a
failure with its reason, never an exception that stops the run."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.errors import ImageError
from core.memory import trim_heap
from core.photos import formats, reading
from core.photos.decoding import MAX_DECODE_BYTES, decode_cost
from core.photos.file_warnings import not_about_the_file, one_line_per_file
from core.photos.gps import Position
from core.photos.imaging import ModelInput, decode, to_model_pixels
from core.photos.inflight import InflightMarkers
from core.photos.likeness import picture_print
from core.store.catalog import PhotoFacts, PhotoRow
from core.store.catalog_failures import STATUS_OK
from core.store.catalog_text import PlaceFacts
from core.sync.gate_pictures import GatePictures
from core.sync.scanner import FileEntry
from core.types import ImageInfo
from core.words import places
from core.words.places import PlacesUnavailableError
from core.words.user_words import read_user_texts
from core.words.xmp import collecting_positions

log = logging.getLogger(__name__)

TRIM_AFTER_PIXELS = 16_000_000
"""After decoding an image this large (or failing to decode one), free memory is handed
back to the system at once (see :func:`core.memory.trim_heap`)."""
DECODE_BUDGET_BYTES = MAX_DECODE_BYTES
"""Memory the decode pool's images may take at once, by their headers' estimate (see
:func:`_decode_cost`): what one image may take. Photos cost a few MB each and decode side
by side; a large image waits until it can decode alone: two 64-megapixel WebPs decoded at
once took 2 GB, the whole budget of an index run."""
QUARANTINE_REASON = ("quarantined: Pictor crashed twice while decoding this file; it is "
                     "tried again when the file changes")

@dataclass(frozen=True, slots=True)
class Prepared:
    """A file after the pool has read, hashed and (unless it moved) decoded it."""

    entry: FileEntry
    row: PhotoRow | None
    content_hash: str | None
    pixels: npt.NDArray[np.uint8] | None = None
    facts: PhotoFacts | None = None
    moved_from: PhotoRow | None = None


class DecodeBudget:
    """Bytes the decode pool's threads may hold at once. A claim larger than the whole
    budget waits until nothing else is held, then runs alone; no holder waits for anything
    else, so every claim is granted in the end."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._held = 0
        self._changed = threading.Condition()

    @contextmanager
    def claim(self, cost: int) -> Iterator[None]:
        cost = min(max(cost, 0), self._total)
        with self._changed:
            self._changed.wait_for(lambda: self._held == 0
                                   or self._held + cost <= self._total)
            self._held += cost
        try:
            yield
        finally:
            with self._changed:
                self._held -= cost
                self._changed.notify_all()


def _decode_cost(path: str, min_side: int) -> int:
    """Bytes decoding ``path`` for the model takes at its peak, estimated from its header
    as the decoder will decode it (core.photos.decoding.decode_cost: a large image is
    decoded at reduced size; per pixel, Pillow's bytes for its mode plus what its format's
    decoder holds). 0 for a file that fails or is refused before decoding, and for camera
    RAWs (their preview is a JPEG; their file cap bounds them)."""
    if formats.is_raw(path):
        return 0
    try:
        with reading.open_photo(path) as file, one_line_per_file(path):
            cost = decode_cost(file, min_side=min_side)
    except Exception:  # refused or unreadable: prepare says why, without decoding
        return 0
    return cost if cost <= MAX_DECODE_BYTES else 0  # refused at once, not waited for


class ModelInputs:
    """The model's input spec for the decode pool, loading the model only when a file
    first needs decoding (thread-safe): a run of moves and copies never loads it."""

    NOMINAL_SIDE = 224
    """The side the decode budget assumes before the model is loaded (most models')."""

    def __init__(self, load: Callable[[], ModelInput]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._spec: ModelInput | None = None

    def get(self) -> ModelInput:
        with self._lock:
            if self._spec is None:
                with not_about_the_file():  # the model's own warnings are not the photo's
                    self._spec = self._load()
            return self._spec

    def size_hint(self) -> int:
        """The side to budget for: the model's, once known."""
        spec = self._spec
        return spec.size if spec is not None else self.NOMINAL_SIDE


def prepare_within(budget: DecodeBudget, entry: FileEntry, row: PhotoRow | None,
                    root_id: int, spec: ModelInputs, gone_by_hash: dict[str, PhotoRow],
                    markers: InflightMarkers | None, root: Path | None,
                    gate_pictures: GatePictures | None = None) -> Prepared:
    """:func:`prepare` once the decode budget allows, then the memory a large decode
    freed goes back to the system."""
    with one_line_per_file(entry.path):  # the estimate's warnings and the decode's: one line
        if markers is not None:  # the estimate parses the header: a crash there names it
            markers.begin(entry.path)
        try:
            cost = _decode_cost(entry.path, spec.size_hint())
        finally:
            if markers is not None:
                markers.end()
        with budget.claim(cost):
            prepared = prepare(entry, row, root_id, spec, gone_by_hash, markers, root,
                               gate_pictures)
    facts = prepared.facts
    if facts is not None and (facts.error or (facts.width or 0) * (facts.height or 0)
                              >= TRIM_AFTER_PIXELS):
        trim_heap()
    return prepared


def ready(result: Prepared) -> Future[Prepared]:
    """A pool's answer for a file that needs no work in the pool."""
    future: Future[Prepared] = Future()
    future.set_result(result)
    return future


def quarantined(entry: FileEntry, row: PhotoRow | None, root_id: int) -> Prepared:
    facts = PhotoFacts(path=entry.path, root_id=root_id, size=entry.size, mtime=entry.mtime,
                       content_hash=None, error=QUARANTINE_REASON)
    return Prepared(entry, row, None, facts=facts)


def prepare(
    entry: FileEntry,
    row: PhotoRow | None,
    root_id: int,
    spec: ModelInputs,
    gone_by_hash: dict[str, PhotoRow],
    markers: InflightMarkers | None = None,
    root: Path | None = None,
    gate_pictures: GatePictures | None = None,
) -> Prepared:
    """Read, hash and decode one file (runs in the pool; touches no shared state but the
    gate pictures).

    Only a regular file within its size cap is opened (core.photos.reading: a FIFO, a device or a
    3 GB file fails with its reason, never hangs); it is hashed as a stream, then decoded
    from the file; Pillow's warnings about it make one log line at most. With
    ``gate_pictures``, a small copy of the decoded photo is kept there for the text pass,
    when its text is to be read (a new photo, or new content)."""
    base = PhotoFacts(path=entry.path, root_id=root_id, size=entry.size, mtime=entry.mtime,
                      content_hash=None, sidecars=entry.sidecars)
    with ExitStack() as stack:
        stack.enter_context(one_line_per_file(entry.path))
        try:
            photo = stack.enter_context(reading.open_photo(entry.path))
            content_hash = reading.content_hash(photo)  # streamed, never read whole
        except ImageError as error:
            return Prepared(entry, row, None, facts=replace(base, error=error.reason))
        base = replace(base, content_hash=content_hash)
        moved_from = gone_by_hash.get(content_hash) if row is None else None
        if moved_from is not None:  # its words are those next to it now (sidecars may differ)
            base = replace(base, user_words=own_words(Path(entry.path), root=root))
            return Prepared(entry, row, content_hash, facts=base, moved_from=moved_from)
        if markers is not None:
            markers.begin(entry.path)
        try:
            keep = None if gate_pictures is None or not _text_to_read(row, content_hash) \
                else functools.partial(gate_pictures.keep, entry.path, entry.size, entry.mtime)
            pixels, info, picture = _decode_for_model(photo, spec.get(), entry.path, keep)
        except ImageError as error:
            return Prepared(entry, row, content_hash, facts=replace(base, error=error.reason))
        except Exception as error:  # a decoder bug must fail one file, not the whole run
            reason = f"cannot decode image: {type(error).__name__}: {error}"
            return Prepared(entry, row, content_hash, facts=replace(base, error=reason))
        finally:
            if markers is not None:
                markers.end()
        with collecting_positions() as xmp_positions:  # a GPS position only in its XMP
            user_words = own_words(Path(entry.path), root=root)
    facts = replace(
        base,
        width=info.width,
        height=info.height,
        format=info.format,
        taken_at=info.taken_at.isoformat() if info.taken_at else None,
        camera=info.camera,
        user_words=user_words,
        place=place_facts(info.position or next(
            ((p.lat, p.lon) for p in xmp_positions), None)),
        picture_print=picture,
    )
    return Prepared(entry, row, content_hash, pixels=pixels, facts=facts)


def _text_to_read(row: PhotoRow | None, content_hash: str) -> bool:
    """Whether the text pass will read this file once it is indexed (the catalog forgets
    a photo's text when its content changes)."""
    return row is None or row.status != STATUS_OK or row.content_hash != content_hash


def _decode_for_model(photo: BinaryIO, spec: ModelInput, name: str,
                      keep: Callable[[Image.Image, tuple[float, float] | None], None]
                      | None = None) -> tuple[npt.NDArray[np.uint8], ImageInfo, bytes]:
    """The model's pixels, the photo's facts and its picture print (core.photos.likeness),
    from one decode: the print is made from the whole frame before the model's crop, and
    ``keep`` is handed the decoded frame and its EXIF position too."""
    image, info = decode(photo, min_side=spec.size, name=name)
    if keep is not None:
        try:
            keep(image, info.position)
        except Exception:  # only a saving for the text pass: never the photo's failure
            log.debug("no small copy of %s for the text pass", name, exc_info=True)
    return to_model_pixels(image, spec), info, picture_print(image)


def place_facts(position: tuple[float, float] | None) -> PlaceFacts | None:
    """A GPS position with the name of its place (offline: core.words.places); the
    position alone when the place names cannot be loaded."""
    if position is None:
        return None
    lat, lon = position
    try:
        place = places.place_of(Position(lat, lon))
    except PlacesUnavailableError as error:
        log.warning("%s", error)
        return PlaceFacts(lat, lon)
    if place is None:  # far from any town: open sea, the poles
        return PlaceFacts(lat, lon)
    return PlaceFacts(lat, lon, places.place_label(place), place.words())


def own_words(path: Path, data: bytes | None = None, *, root: Path | None = None) -> str:
    """The photo's own words, for the full-text table: album names are in its folders
    column already. Without ``data``, core.words.user_words opens the file itself (a regular
    file only, headers only)."""
    with one_line_per_file(path):
        texts = read_user_texts(path, data=data, root=root)
    return " ".join(t.text for t in texts if t.source != "album")
