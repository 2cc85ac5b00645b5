"""The text pass: read the text written in each photo (core.photos.text_reading), after the
embeddings of an index run, so that search works before it finishes.

Its state is the catalog: a photo without a text row is still to read, so a run that was
stopped or crashed carries on where it was. The cheap detector (the gate) looks at the
small copy the index run kept of the photo (core.sync.gate_pictures), or at the photo
decoded small (a JPEG at 1/8 scale), as shown (EXIF orientation applied); only photos
where it sees text are decoded larger and read, in the regions where it saw it. Photos
indexed before places existed get their GPS position from the EXIF read with either.

A photo whose reading crashes the whole process (a native library's fault) is named by
a marker file, as decoding is (core.photos.inflight). Two photos are read at once, so a
crash names two; the next pass reads those alone, one at a time, before the others, and a
photo that crashes Pictor while read alone is recorded as failed and not read again (its
innocent neighbour is read as any other).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from core.config import INFLIGHT_DIR, TEXT_DETECTOR_DIR, cache_dir
from core.errors import ImageError, PictorError
from core.photos import reading
from core.photos.imaging import decode
from core.photos.inflight import InflightMarkers
from core.photos.text_reading import GATE_SHORT_SIDE, TextLine, TextReader
from core.search.searcher import existing_file
from core.store.catalog import Catalog
from core.store.catalog_text import PhotoText, TextFacts
from core.sync.gate_pictures import GatePictures
from core.sync.preparing import place_facts
from core.types import ImageInfo, Progress

log = logging.getLogger(__name__)

READ_TEXT_ENV = "PICTOR_READ_TEXT"
"""Set to 0 to skip the text pass (text in photos is then not searchable)."""
TEXT_INT8_ENV = "PICTOR_TEXT_INT8"
"""Set to 0 to find text with the float detector (core.photos.text_int8: for comparison)."""
TEXT_SIDE = 1000
"""Decode a photo so that its shorter side keeps at least this many pixels (JPEG draft):
small print on a 12 MP photo stays readable, and the reader shrinks the rest itself."""
CRASH_REASON = "reading its text crashed Pictor; it is not read again"
_BATCH = 8
_CHUNK = 64
WORKERS = 2
"""Photos read at once, each by half the cores' runtime threads: decoding is single-threaded
and the networks' small pictures keep two threads busy only part of the time, so two
photos side by side read about 1.6 times as many photos a second on two cores as one photo
on both."""
_AHEAD = _BATCH + WORKERS
_SAME_FRAME = 0.02
"""Pictures whose shapes differ by less than this (a fraction) show the same frame."""


class TextPass:
    """Reads the text of a library's photos; hold one per library (the OCR models load
    once, on first use)."""

    def __init__(self, catalog: Catalog, data_dir: Path, *, device: str = "cpu",
                 reader: Callable[[], TextReader] | None = None) -> None:
        self._catalog = catalog
        self._markers = InflightMarkers(data_dir / INFLIGHT_DIR / "text")
        self._alone = InflightMarkers(data_dir / INFLIGHT_DIR / "text-alone")
        self._make_reader = reader or (lambda: TextReader(
            device=device, threads=max(1, (os.cpu_count() or WORKERS) // WORKERS),
            int8_cache=None if os.environ.get(TEXT_INT8_ENV, "1") == "0"
            else cache_dir(data_dir) / TEXT_DETECTOR_DIR))
        self._reader: TextReader | None = None
        self.gate_pictures = GatePictures()
        """Small copies of the photos an index run just decoded (core.sync.gate_pictures):
        the gate looks at those instead of decoding the photos again."""

    def gate_pictures_wanted(self) -> GatePictures | None:
        """Where an index run should leave its copies; None when text is not read."""
        return None if os.environ.get(READ_TEXT_ENV, "1") == "0" else self.gate_pictures

    def run(self, *, budget_s: float | None = None) -> Iterator[Progress]:
        """Read the photos still to read; a generator of progress (phase ``text``). With
        ``budget_s`` it stops after about that many seconds, the rest left for a later run
        (a watcher's small runs must not wait hours behind a library's first reading)."""
        if os.environ.get(READ_TEXT_ENV, "1") == "0":
            return
        suspects = self._record_crashes()
        total = self._catalog.count_text_pending()
        if total == 0:
            self.gate_pictures.clear()  # those of photos that failed or left since
            return
        started = time.monotonic()
        yield Progress(phase="text", done=0, total=total)
        self._load_reader()
        if suspects:
            try:
                self._catalog.write_text([self._read(*item, markers=self._alone)
                                          for item in suspects])
            finally:
                self._alone.close()
            yield Progress(phase="text", done=len(suspects), total=total,
                           elapsed_s=time.monotonic() - started)
        pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="text")
        try:
            if (yield from self._batches(pool, total, started, budget_s,
                                         done=len(suspects))):
                self.gate_pictures.clear()  # any left are of photos no longer to read
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # stopped: the photo under way ends
            self._markers.close()

    def _batches(self, pool: ThreadPoolExecutor, total: int, started: float,
                 budget_s: float | None, *, done: int) -> Generator[Progress, None, bool]:
        """The workers read a few photos ahead (:data:`_AHEAD`), so a slow one (a photo
        with text) holds up no worker; what is read is written in order, a batch at a
        time (a stop loses at most the photos read ahead). Returns whether every photo
        to read was read (False: the budget ran out)."""
        pending = self._pending()
        ahead: deque[Future[TextFacts]] = deque(
            pool.submit(self._read, *item) for item in itertools.islice(pending, _AHEAD))
        while ahead:
            batch: list[TextFacts] = []
            while ahead and len(batch) < _BATCH:
                batch.append(ahead.popleft().result())
                following = next(pending, None)
                if following is not None:
                    ahead.append(pool.submit(self._read, *following))
            self._catalog.write_text(batch)
            done += len(batch)
            elapsed = time.monotonic() - started
            yield Progress(phase="text", done=done, total=max(total, done), elapsed_s=elapsed)
            if budget_s is not None and elapsed > budget_s:
                log.info("text pass: %d photos read, the rest at a later run", done)
                return False
        return True

    def _pending(self) -> Iterator[tuple[int, str, bool]]:
        """The photos to read, by id (those read ahead are not written yet: an id cursor,
        not "what has no text", says where the next chunk starts)."""
        last = 0
        while chunk := self._catalog.text_pending(_CHUNK, after=last):
            yield from chunk
            last = chunk[-1][0]

    def _record_crashes(self) -> list[tuple[int, str, bool]]:
        """Record as failed the photos that crashed Pictor while read alone; return those
        being read beside another when it crashed (to read alone now)."""
        crashed = self._alone.collect_dead()
        rows = [self._catalog.photo_by_path(path) for path in crashed]
        failed = [TextFacts(row.id, error=CRASH_REASON) for row in rows if row is not None]
        if failed:
            log.warning("%d photo(s) crashed Pictor while their text was read; not read "
                        "again: %s", len(failed), ", ".join(crashed))
            self._catalog.write_text(failed)
        suspects = self._catalog.text_pending_at(self._markers.collect_dead())
        if suspects:
            log.warning("Pictor stopped while reading the text of %s: read alone first",
                        ", ".join(path for _, path, _ in suspects))
        return suspects

    def _read(self, photo_id: int, path: str, position_known: bool, *,
              markers: InflightMarkers | None = None) -> TextFacts:
        """One photo's text (or why it has none), and its place if not known yet."""
        markers = markers or self._markers
        markers.begin(path)
        try:
            kept = self.gate_pictures.take(path)
            if kept is None:
                with reading.open_photo(path) as file:
                    lines, info = self._read_file(file, path)
                position = info.position
            else:
                lines, position = self._read_gated(kept.picture, path), kept.position
            place = None if position_known else place_facts(position)
            return TextFacts(photo_id, lines=[_as_json(line) for line in lines], place=place)
        except ImageError as error:
            return TextFacts(photo_id, error=error.reason)
        except PictorError as error:
            return TextFacts(photo_id, error=str(error))
        except Exception as error:  # a reader's bug must fail one photo, not the pass
            log.warning("reading the text of %s failed", path, exc_info=True)
            return TextFacts(photo_id, error=f"cannot read its text: {type(error).__name__}")
        finally:
            markers.end()

    def _read_file(self, file: BinaryIO, path: str) -> tuple[list[TextLine], ImageInfo]:
        """Decode small for the cheap detector (a JPEG at 1/8 scale), then
        :meth:`_read_gated`."""
        small, info = decode(file, min_side=GATE_SHORT_SIDE, name=path)
        return self._read_gated(small, path, file), info

    def _read_gated(self, small: Image.Image, path: str,
                    file: BinaryIO | None = None) -> list[TextLine]:
        """The gate on ``small``; only a photo it finds text in is decoded again, large
        enough to read, and read where it was found. ``file`` is the photo already open;
        without it (the index run's copy), the photo is opened only then."""
        regions = self._reader_now().text_regions(small)
        if not regions:
            return []
        with contextlib.nullcontext(file) if file is not None \
                else reading.open_photo(path) as opened:
            opened.seek(0)
            image, _ = decode(opened, min_side=TEXT_SIDE, name=path)
        # A RAW's small preview can be framed unlike its developed sensor data.
        same = abs(image.width / image.height - small.width / small.height) <= \
            _SAME_FRAME * image.width / image.height
        return self._reader_now().read(image, regions=regions if same else None)

    def text_of(self, path: Path | str) -> PhotoText | None:
        """The text of a photo: the stored reading for a library photo (None: the text
        pass has not read it yet), else read now (not stored)."""
        file = existing_file(path)
        row = self._catalog.photo_by_path(str(file))
        if row is not None:
            return self._catalog.text_of(row.id)
        with reading.open_photo(file) as opened:  # read now: in full, where the gate says
            image, _ = decode(opened, min_side=TEXT_SIDE, name=str(file))
            lines = self._reader_now().read_photo(image, whole=True)
        return PhotoText(lines=[_as_json(line) for line in lines], error=None, read_at="")

    def _load_reader(self) -> None:
        """Load the models (and build the int8 detector, the first time) before any photo
        is marked as being read: a crash then names no photo."""
        with contextlib.suppress(PictorError):  # each photo then records why
            self._reader_now().load()

    def _reader_now(self) -> TextReader:
        if self._reader is None:
            self._reader = self._make_reader()
        return self._reader


def _as_json(line: TextLine) -> dict[str, object]:
    return {"text": line.text, "confidence": round(line.confidence, 3),
            "box": [[round(x, 1), round(y, 1)] for x, y in line.box]}
