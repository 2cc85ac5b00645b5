"""Plain data passed between the engine and its fronts (command line, window).

Immutable dataclasses: the engine builds them, fronts read them. ``to_json`` gives the
shape the command line's ``--json`` prints, so the two fronts never disagree on names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
"""One L2-normalised embedding (shape ``(dim,)``) or a batch of them (``(n, dim)``)."""

Phase = Literal["scan", "load", "optimise", "embed", "tag", "text", "save", "done"]
"""``load``: the model is loading (seconds) before the first photo is embedded."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What decoding learned about a photo besides its pixels."""

    width: int
    height: int
    format: str
    taken_at: datetime | None = None
    camera: str | None = None
    position: tuple[float, float] | None = None  # GPS (lat, lon), when it carries a good one


@dataclass(frozen=True, slots=True)
class Root:
    """A library folder the user added."""

    id: int
    path: str
    online: bool
    photos: int = 0
    failed: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FailedPhoto:
    path: str
    error: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result, best first in a list.

    ``score`` is the calibrated relevance, 0-100 (core.search.calibration: 50 and up is a good
    match); ``similarity`` the model's raw cosine similarity (-1..1). ``match`` says what
    found it: ``meaning`` (the vector search), ``words`` (its file name, folders, own
    words or tags matched the query's words) or ``both``. The order of a fused list is by
    reciprocal-rank fusion, so scores need not decrease down the list. A word match found
    in the text read in the photo is ``text``, one in the place it was taken ``place``
    (whether or not its meaning also found it); ``fields`` names every column of its words
    that matched (``name``, ``folders``, ``words``, ``tags``, ``text``, ``place``).

    ``place`` is where the photo was taken ("Seville, Andalusia, Spain") and ``position``
    its GPS ``(lat, lon)``, when it carries one.

    ``date`` is the date the ``--after``/``--before`` filters use: ``taken_at`` (from the
    photo's own metadata, EXIF) when it has one, else the file's modification time;
    ``date_source`` says which (``exif`` or ``file``).
    """

    photo_id: int
    path: str
    score: float
    similarity: float = 0.0
    taken_at: str | None = None
    date: str | None = None
    date_source: Literal["exif", "file"] | None = None
    width: int | None = None
    height: int | None = None
    match: Literal["meaning", "words", "both", "text", "place"] = "meaning"
    fields: tuple[str, ...] = ()
    place: str | None = None
    position: tuple[float, float] | None = None
    kind: Literal["photo", "video"] = "photo"
    time_s: float | None = None
    """A video's best moment for the query, in seconds from its start (None: a photo)."""
    duration_s: float | None = None
    """A video's length in seconds (None: a photo)."""
    copies: tuple[str, ...] = ()
    """Paths of copies of this same picture that the list leaves out (it shows each picture
    once: core.search.copies_in_results)."""
    why: dict[str, Any] = field(default_factory=dict)
    """What made the score: ``meaning`` (``similarity``, ``score``), ``parts`` (the photo's
    cosine with each part of the query: ``text``, ``image``, ``not``; the last is what the
    ``--not`` text took away) and ``words`` (each word column that matched, with its
    words)."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fields"] = list(self.fields)
        data["copies"] = list(self.copies)
        data["position"] = None if self.position is None else {
            "lat": self.position[0], "lon": self.position[1]}
        return data


class Hits(list[SearchHit]):
    """A search's results, best first, and what the relevance cut-off hid.

    ``hidden`` counts the candidates that scored under the cut-off; ``best_hidden`` is the
    best of their scores (None: nothing was hidden). An empty list with ``hidden`` set
    means "no good match", not "no photos". ``ranked``: the model's scores cannot separate
    related from unrelated photos (core.search.calibration), so nothing was hidden and the
    order is by similarity alone.
    """

    hidden: int = 0
    best_hidden: float | None = None
    ranked: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of a running index job, yielded after each batch.

    ``done``/``total`` count files to process in this run (``total`` grows while the scan
    is still walking); ``indexed``, ``failed``, ``skipped``, ``moved`` and ``removed`` are the
    run's running totals, so the last snapshot is the run's report.
    """

    phase: Phase
    done: int
    total: int
    indexed: int = 0
    failed: int = 0
    skipped: int = 0
    moved: int = 0
    removed: int = 0
    current: str | None = None
    rate: float = 0.0
    eta_s: float | None = None
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LibraryStatus:
    data_dir: str
    model: str
    device: str | None
    roots: list[Root]
    photos: int
    indexed: int
    pending: int
    failed: int
    failures: list[FailedPhoto] = field(default_factory=list)
    index_vectors: int = 0
    index_bytes: int = 0
    models: list[str] = field(default_factory=list)
    scan_problems: list[str] = field(default_factory=list)
    """What the last full scan could not read, one line each ("unreadable folder: ...")."""
    text: dict[str, int] = field(default_factory=dict)
    """The text pass: photos ``read``, ``with_text``, ``failed`` and still ``pending``."""
    places: int = 0
    """Photos that say where they were taken (a GPS position)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
