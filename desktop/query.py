"""What the user asked for, as one immutable value the window passes to the engine."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.defaults import DEFAULT_MIN_SCORE

_NOT = re.compile(r"(?:^|\s)not:\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Query:
    """A search: text (minus ``negative``), an example image, or "photos like this one".

    ``region`` (``x, y, width, height`` in the image's full-size pixels as shown) makes
    the example that part of ``image`` only.

    ``min_score`` (0-100) hides photos found by meaning alone that score under it; 0 shows
    every photo by rank. ``place`` (a label of the library's places, "Sevilla, Andalusia,
    Spain") keeps the photos taken there. ``copies`` lists every copy of a picture; by
    default each picture is shown once.
    """

    text: str = ""
    negative: str = ""
    image: str | None = None
    region: tuple[float, float, float, float] | None = None
    similar_to: str | None = None
    folder: str | None = None
    after: str = ""
    before: str = ""
    place: str | None = None
    min_score: float = DEFAULT_MIN_SCORE
    copies: bool = False  # list every copy of a picture (else each picture once)

    @property
    def empty(self) -> bool:
        return not (self.text or self.image or self.similar_to)


def split_negative(typed: str) -> tuple[str, str]:
    """``"a dog on a beach not: people"`` -> ``("a dog on a beach", "people")``."""
    match = _NOT.search(typed)
    if match is None:
        return typed.strip(), ""
    return typed[: match.start()].strip(), typed[match.end():].strip()
