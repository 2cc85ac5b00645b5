"""Which photo of a duplicates group to keep, and why: the original over its exports.

Every member's facts go through a sequence of tests (:data:`COPIES_ORDER`); each test keeps
the members that do best on it (within a tolerance: two files of 4000x3000 and 3998x3000
are as large as each other) and the others are out, with the reason that test gives. The
last one standing is kept. Order of the tests, for copies:

1. not named like an export or a messenger copy ("-edited", "copy", "(1)", "WhatsApp",
   "IMG-20240612-WA0001", "_small", ...);
2. has the camera's data (a camera model or a date taken in its EXIF);
3. the most pixels (within 2%);
4. lossless, or the highest JPEG quality (when known);
5. the sharpest (within 10%, measured on the print: core.photos.likeness);
6. the largest file (within 2%);
7. the most metadata (camera, date taken, position);
8. the earliest (date taken, then the file's time);
9. the path, so that the choice never depends on the order given.

For similar shots (a burst) sharpness comes first: they are different pictures, and the
sharp one is the one to keep. Members are returned best first: the keeper, then the others
in the order the tests put them out (the last out first).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

_EXPORT_NAME = re.compile(
    r"(?:^|[\s_\-.(])(?:copy|kopie|copie|edited|edit|export(?:ed)?|small|web|resized|"
    r"thumb(?:nail)?|scaled|crop(?:ped)?)(?:$|[\s_\-.)\d])"  # words an editor or a viewer adds
    r"|\(\d+\)$|[\s_-]\d+x\d+$"  # "name (1)", "name_800x600"
    r"|whatsapp|telegram|signal-\d|^img-\d{8}-wa\d+|^fb_img_|^received_",  # messengers
    re.IGNORECASE)
_LOSSLESS = {"PNG", "TIFF", "BMP", "RAW", "DNG", "HEIF-LOSSLESS"}


@dataclass(frozen=True, slots=True)
class CopyFacts:
    """What the ranking needs to know about one member (the caller fills it from the
    catalog; ``sharpness`` from the print, ``jpeg_quality`` only when cheaply known)."""

    photo_id: int
    path: str
    width: int
    height: int
    bytes: int
    format: str
    taken_at: str | None = None
    camera: str | None = None
    has_position: bool = False
    mtime: float | None = None
    sharpness: float | None = None
    jpeg_quality: int | None = None
    content_hash: str | None = None

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def size(self) -> str:
        return f"{self.width}\u00d7{self.height}"


@dataclass(frozen=True, slots=True)
class Ranked:
    """One member of a ranked group: whether to keep it, and why (in words for people)."""

    facts: CopyFacts
    keep: bool
    reason: str


@dataclass(frozen=True, slots=True)
class _Test:
    """A test: a member's score (higher is better; None: unknown, the test passes it), how
    close to the best still counts as best (a share of the best; 0: equal only), and the
    reason a member that fails it is given."""

    name: str
    score: Callable[[CopyFacts], float | None]
    tolerance: float
    loses: Callable[[CopyFacts], str]


def export_name(path: str) -> str | None:
    """The part of a file's name that says it is an export or a messenger's copy, if any."""
    stem = PurePath(path).stem
    found = _EXPORT_NAME.search(stem)
    return None if found is None else found.group(0).strip(" _-.()") or found.group(0)


def _quality(facts: CopyFacts) -> float | None:
    if facts.format.upper() in _LOSSLESS:
        return 101.0
    return None if facts.jpeg_quality is None else float(facts.jpeg_quality)


def _metadata(facts: CopyFacts) -> float:
    return float((facts.camera is not None) + (facts.taken_at is not None) + facts.has_position)


def _earliest(facts: CopyFacts) -> float:
    """Earlier is better: the negated time (the date taken counts through the metadata and
    camera tests; here the file's own time decides between files of one date)."""
    return -(facts.mtime if facts.mtime is not None else float("inf"))


_NAME = _Test("name", lambda f: 0.0 if export_name(f.path) else 1.0, 0.0,
              lambda f: f"named like a copy ({export_name(f.path)!r})")
_CAMERA = _Test("camera", lambda f: float(f.camera is not None or f.taken_at is not None), 0.0,
                lambda f: "an export: no camera data")
_PIXELS = _Test("pixels", lambda f: float(f.pixels), 0.02,
                lambda f: f"smaller copy: {f.size}")
_QUALITY = _Test("quality", _quality, 0.03,
                 lambda f: "re-saved at lower quality"
                 + (f" (JPEG quality {f.jpeg_quality})" if f.jpeg_quality else ""))
_SHARP = _Test("sharpness", lambda f: f.sharpness, 0.10, lambda f: "less sharp")
_BYTES = _Test("bytes", lambda f: float(f.bytes), 0.02,
               lambda f: f"re-saved at lower quality: {_megabytes(f.bytes)}")
_METADATA = _Test("metadata", _metadata, 0.0, lambda f: "less metadata")
_EARLIEST = _Test("earliest", _earliest, 0.0, lambda f: "a later copy")

COPIES_ORDER: tuple[_Test, ...] = (_NAME, _CAMERA, _PIXELS, _QUALITY, _SHARP, _BYTES,
                                   _METADATA, _EARLIEST)
SIMILAR_ORDER: tuple[_Test, ...] = (_SHARP, _PIXELS, _QUALITY, _NAME, _CAMERA, _BYTES,
                                    _METADATA, _EARLIEST)


def rank_group(members: Sequence[CopyFacts], *,
               kind: Literal["copies", "similar"] = "copies") -> list[Ranked]:
    """The members best first; exactly one is kept (the first). Every member has a reason:
    the keeper's says what made it the one, the others' what they lack."""
    if not members:
        return []
    order = COPIES_ORDER if kind == "copies" else SIMILAR_ORDER
    standing = sorted(members, key=lambda f: (f.path, f.photo_id))
    out: list[tuple[CopyFacts, str]] = []
    decided: list[_Test] = []
    for test in order:
        kept, lost = _apply(test, standing)
        if lost:
            decided.append(test)
            out = [(f, _reason(test, f, kept[0])) for f in _best_first(test, lost)] + out
        standing = kept
        if len(standing) == 1:
            break
    keeper, *tied = standing  # still equal on every test: the first path wins
    out = [(f, _tie_reason(f, keeper)) for f in tied] + out
    return [Ranked(keeper, True, _keeper_reason(keeper, decided, kind)),
            *(Ranked(f, False, why) for f, why in out)]


def _apply(test: _Test, standing: list[CopyFacts]) -> tuple[list[CopyFacts], list[CopyFacts]]:
    """Those within the tolerance of the best score (unknown scores pass), and the rest."""
    known = [s for f in standing if (s := test.score(f)) is not None]
    if not known:
        return standing, []
    best = max(known)
    bar = best - abs(best) * test.tolerance
    kept: list[CopyFacts] = []
    lost: list[CopyFacts] = []
    for f in standing:
        score = test.score(f)
        (kept if score is None or score >= bar else lost).append(f)
    return kept, lost


def _best_first(test: _Test, lost: list[CopyFacts]) -> list[CopyFacts]:
    return sorted(lost, key=lambda f: (-(test.score(f) or 0.0), f.path, f.photo_id))


def _reason(test: _Test, facts: CopyFacts, keeper: CopyFacts) -> str:
    if facts.content_hash is not None and facts.content_hash == keeper.content_hash:
        return "identical copy"
    return test.loses(facts)


def _tie_reason(facts: CopyFacts, keeper: CopyFacts) -> str:
    if facts.content_hash is not None and facts.content_hash == keeper.content_hash:
        return "identical copy"
    return "same picture, same quality"


def _keeper_reason(keeper: CopyFacts, decided: list[_Test], kind: str) -> str:
    """E.g. "largest original: 4000\u00d73000, camera EXIF"."""
    names = {t.name for t in decided}
    if kind == "similar":
        head = "sharpest" if "sharpness" in names else "best shot"
    elif "pixels" in names:
        head = "largest original" if keeper.camera or keeper.taken_at else "largest"
    elif names & {"name", "camera"}:
        head = "original"
    elif "quality" in names or "bytes" in names:
        head = "best quality"
    elif "sharpness" in names:
        head = "sharper"
    elif "earliest" in names:
        head = "earliest file"
    else:
        head = "kept"
    details = [keeper.size]
    if keeper.camera or keeper.taken_at:
        details.append("camera EXIF")
    if _quality(keeper) == 101.0:
        details.append("lossless")
    elif keeper.jpeg_quality is not None:
        details.append(f"JPEG quality {keeper.jpeg_quality}")
    return f"{head}: {', '.join(details)}"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"
