"""Sentences the window shows about a search's results (pure functions, no widgets)."""

from __future__ import annotations

import html
import math
from pathlib import Path

from PySide6.QtCore import QLocale

from desktop.query import Query

WELCOME = "Type what you are looking for, or drop a photo on the window."
NO_PHOTOS = "No photos match (is the library indexed? see the folders)."


def count(number: int, noun: str, plural: str = "") -> str:
    """ "1 photo", "2 photos": every count the window shows agrees with its number."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def describe(query: Query) -> str:
    """What was searched, for a sentence: “a red circle”, photos like IMG_1.jpg, ..."""
    if query.similar_to:
        return f"photos like {Path(query.similar_to).name}"
    words = f"“{query.text}”" if query.text else ""
    image = Path(query.image).name if query.image else ""
    if image and query.region is not None:
        image = f"part of {image}"
    return f"{words} with {image}" if words and image else words or image


def lower_minimum(best: float | None, step: int) -> int:
    """The slider step at or under ``best``: the minimum score that shows that photo."""
    return max(math.floor(best / step) * step, 0) if best is not None else 0


def no_good_match(query: Query, best: float | None, lower: int) -> str:
    """Rich text: nothing scored the minimum; a link (``#lower``) lowers it to ``lower``."""
    best_text = f": the best photo scores {best:.0f}" if best is not None else ""
    return (f"No good match for {html.escape(describe(query))}{best_text}, under the minimum "
            f"score of {query.min_score:.0f}. <a href='#lower'>Show photos scoring {lower} and "
            "up</a> to see the closest ones anyway.")


def result_count(shown: int, hidden: int, min_score: float, *, ranked: bool = False) -> str:
    """ "48 photos · 12 weaker matches hidden (under 50)" for the status bar; ``ranked``:
    the model's scores cannot separate matches, so the photos are only ranked."""
    if not shown:
        return ""
    text = count(shown, "photo")
    if ranked:
        return text + " · ranked by similarity (this model's scores cannot separate matches)"
    if hidden:
        text += (f" · {count(hidden, 'weaker match', 'weaker matches')} hidden "
                 f"(under {min_score:.0f})")
    return text


def dated(date: str | None, source: str | None, *, full: bool = False) -> str:
    """The date the Taken filters use, and where it comes from: "2019-07-14 (taken, EXIF)"
    or "2024-03-01 (file date)"; ``full`` explains the second ("the photo carries none")."""
    if not date:
        return "unknown"
    if source == "exif":
        return f"{date[:10]} (taken, from the photo's EXIF)" if full else (
            f"{date[:10]} (taken, EXIF)")
    return (f"{date[:10]} (the file's date: the photo carries no date of its own)" if full
            else f"{date[:10]} (file date)")


def caption_language() -> str:
    """Captions in Chinese on a Chinese desktop, else in English."""
    return "zh" if QLocale().language() == QLocale.Language.Chinese else "en"
