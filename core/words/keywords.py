"""Words: the full-text side of search, and the dates a query may hold.

Every photo has one row in the FTS5 table ``photo_words`` (rowid = the photo's id) with
six columns: ``name`` (the file name), ``folders`` (the root folder's name and the
folders below it), ``words`` (the user's own titles, captions and keywords, from the
file's metadata and sidecars: core.words.user_words), ``tags`` (the automatic tags of the
current model, in English and Chinese: core.search.captions), ``text`` (the text read in the
photo: core.sync.text_pass) and ``place`` (where it was taken: core.words.places). Text is
split here, in Python,
before SQLite sees it, so indexing and querying agree: runs of letters and runs of
digits are separate words (``IMG_2041`` -> ``img 2041``), and each CJK character is a
word of its own (a query's CJK run becomes a phrase), so Chinese and Japanese match
without a word list. SQLite's ``unicode61`` tokenizer then folds case and removes
diacritics.

A query's words are matched by quoting every one of them: FTS5 syntax (quotes, ``*``,
``-``, ``NEAR``, ``AND``/``OR``/``NOT``, brackets) is never interpreted.

Text read in a photo is full of codes (``RE1634``, ``0271-5550123``): its column also holds
each run of letters and digits whole (``re1634``), and a query's word also matches the
beginning of a word or code there, so "RE16" finds the receipt that reads RE1634.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

TABLE = "photo_words"
COLUMNS = ("name", "folders", "words", "tags", "text", "place")
# bm25 weights per column: a word in the file name counts most, a model's tag least.
BM25 = "bm25(photo_words, 4.0, 2.0, 2.0, 0.5, 2.0, 2.0)"
TEXT_COLUMN = "text"

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])[^\W\d_])+|\d+")
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")
# A run of letters and digits together (not CJK): a code such as RE1634 or a word.
_ALNUM_RUN = re.compile(rf"(?:(?![{_CJK}])[^\W_])+")
_MIXED = re.compile(r"(?=.*\d)(?=.*[^\W\d_])")

# Words a description carries that say nothing about a file's name.
STOPWORDS = frozenset({
    "a", "an", "the", "of", "at", "on", "in", "to", "and", "or", "with", "by", "for", "from",
    "my", "our", "your", "this", "that", "is", "are",
    "photo", "photos", "picture", "pictures", "image", "images",
})


def tokens(text: str) -> list[str]:
    """The words of ``text`` as they are indexed (lower case, CJK split per character)."""
    out: list[str] = []
    for run in _TOKEN.findall(text):
        if _CJK_RUN.match(run):
            out.extend(run)
        else:
            out.append(run.lower())
    return out


def index_text(text: str) -> str:
    """``text`` as stored in the FTS table: its words separated by spaces."""
    return " ".join(tokens(text))


def name_and_folders(path: str, root: str | None) -> tuple[str, str]:
    """``(name, folders)`` columns for a photo: its stem and its folders from the root on.

    Folders above the root (``/home/me``) would match every photo, so only the root's own
    name and the folders inside it count.
    """
    pure = PurePath(path)
    parents = pure.parent
    if root is not None:
        try:
            inside = parents.relative_to(root).parts
            folders = [PurePath(root).name, *inside]
        except ValueError:
            folders = list(parents.parts[-3:])
    else:
        folders = list(parents.parts[-3:])
    return index_text(pure.name), index_text(" ".join(folders))


def write_words(db: sqlite_utils.Database, photo_id: int, path: str, root: str | None) -> None:
    """Set a photo's name and folder words, keeping its other words (caller's transaction)."""
    name, folders = name_and_folders(path, root)
    cursor = db.execute(f"UPDATE {TABLE} SET name = ?, folders = ? WHERE rowid = ?",
                        [name, folders, photo_id])
    if not cursor.rowcount:
        db.execute(f"INSERT INTO {TABLE}(rowid, name, folders, words) VALUES (?, ?, ?, '')",
                   [photo_id, name, folders])


def write_user_words(db: sqlite_utils.Database, photo_id: int, texts: str) -> None:
    """Set a photo's own words (its row exists: write_words ran; caller's transaction)."""
    db.execute(f"UPDATE {TABLE} SET words = ? WHERE rowid = ?", [index_text(texts), photo_id])


def write_tags(db: sqlite_utils.Database, photo_id: int, tags: str) -> None:
    """Set a photo's automatic tags (caller's transaction)."""
    db.execute(f"UPDATE {TABLE} SET tags = ? WHERE rowid = ?", [index_text(tags), photo_id])


def text_index(text: str) -> str:
    """The text read in a photo as stored: its words, then each code whole (``re1634``)."""
    codes = [run.lower() for run in _ALNUM_RUN.findall(text) if _MIXED.match(run)]
    return " ".join([*tokens(text), *codes])


def write_column(db: sqlite_utils.Database, photo_id: int, column: str, indexed: str) -> None:
    """Set one of a photo's ``text`` or ``place`` words, already split (caller's
    transaction; the photo's row exists)."""
    if column not in ("text", "place"):
        raise ValueError(f"not a column of its own: {column}")
    db.execute(f"UPDATE {TABLE} SET {column} = ? WHERE rowid = ?", [indexed, photo_id])


def match_expression(text: str) -> str | None:
    """A safe FTS5 query: every meaningful word of ``text`` must match (None: no words).

    Each word is a quoted string, so nothing in ``text`` is FTS5 syntax; a CJK run is a
    quoted phrase of its characters, or for a longer run any of its character pairs.
    """
    parts: list[str] = []
    for run in _WORD_OR_CJK.findall(text):
        if _CJK_RUN.match(run):
            parts.append(_cjk_expression(run))
        elif run.lower() not in STOPWORDS:
            parts.append(_word_expression(run.lower()))
    return " AND ".join(parts) if parts else None


_WORD_OR_CJK = re.compile(rf"[{_CJK}]+|{_ALNUM_RUN.pattern}")


def _word_expression(run: str) -> str:
    """A run of letters and digits: its words, or the beginning of a word or code in the
    photo's text (``"re" AND "16"`` or ``text : "re16" *``)."""
    words = ['"' + word + '"' for word in _TOKEN.findall(run) if word not in STOPWORDS]
    whole = " AND ".join(words)
    prefix = f'{TEXT_COLUMN} : "{run}" *'
    if not words:
        return prefix
    return f"(({whole}) OR {prefix})" if len(words) > 1 else f"({whole} OR {prefix})"


def matched_columns(row: dict[str, str], text: str) -> list[str]:
    """The columns of a photo's words row (as stored) that hold a word of ``text``: a whole
    word anywhere, or the beginning of a word or code in its text."""
    return list(matched_words(row, text))


def matched_words(row: dict[str, str], text: str) -> dict[str, list[str]]:
    """For each column of a photo's words row (as stored) that holds words of ``text``,
    those words as stored (a code whose beginning was typed: the whole code)."""
    wanted = [w for w in tokens(text) if w not in STOPWORDS]
    runs = [r.lower() for r in _ALNUM_RUN.findall(text) if r.lower() not in STOPWORDS]
    found: dict[str, list[str]] = {}
    for column in COLUMNS:
        words = (row.get(column) or "").split()
        hits = [w for w in wanted if w in words]
        if column == TEXT_COLUMN:
            hits += [w for w in words if w not in hits and any(
                w.startswith(r) and w != r for r in runs)]
        if hits:
            found[column] = list(dict.fromkeys(hits))
    return found


def phrase_expression(text: str, column: str) -> str | None:
    """A safe FTS5 query: ``text``'s words in a row, in ``column`` (any column: "");
    None: no words."""
    words = tokens(text)
    if not words:
        return None
    phrase = '"' + " ".join(w.replace('"', '""') for w in words) + '"'
    return f"{column} : {phrase}" if column else phrase


def is_cjk_run(run: str) -> bool:
    """Whether ``run`` is all CJK characters (matched per character, not as a word)."""
    return _CJK_RUN.match(run) is not None


def cjk_pairs(run: str) -> list[str]:
    """What a CJK run of a query matches: itself (one or two characters), else its
    character pairs."""
    if len(run) <= 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def query_words(text: str) -> list[str]:
    """A query's words as typed: runs of letters and digits, and CJK runs."""
    return _WORD_OR_CJK.findall(text)


# Chinese function characters: a pair holding one says nothing ("的日" in "海边的日落").
_CJK_FUNCTION = frozenset("的了是在和与及或也都就把被着过吗呢吧啊之其")


def _cjk_expression(run: str) -> str:
    """A CJK run of one or two characters is a phrase; a longer one (a whole sentence
    typed without spaces, "大海边的日落") matches any of its character pairs, so the
    photo named 海边日落 is found; pairs with a function character are left out."""
    if len(run) <= 2:
        return '"' + " ".join(run) + '"'
    pairs = cjk_pairs(run)
    useful = list(dict.fromkeys(p for p in pairs if not set(p) & _CJK_FUNCTION)) or pairs
    return "(" + " OR ".join('"' + " ".join(pair) + '"' for pair in useful) + ")"


# -- dates in a query ----------------------------------------------------------------------

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTHS["sept"] = 9
_SEASONS = {"spring": (3, 3), "summer": (6, 3), "autumn": (9, 3), "fall": (9, 3),
            "winter": (12, 3)}  # (first month, months): northern hemisphere
_YEAR = r"(?:19|20)\d\d"
_DATE_IN_QUERY = re.compile(
    rf"(?<![\w-])(?:"
    rf"(?P<iso>{_YEAR}-(?:0?[1-9]|1[0-2])(?:-(?:0?[1-9]|[12]\d|3[01]))?)"
    rf"|(?:(?P<month>{'|'.join(sorted(_MONTHS, key=len, reverse=True))})\.?"
    rf"|(?P<season>{'|'.join(_SEASONS)}))?\s*(?:of\s+)?(?P<year>{_YEAR})"
    rf")(?![\w-])",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A query's text without its dates, and the period those dates name.

    ``after`` is the first day of the period, ``before`` the first day after it (ISO).
    """

    text: str
    after: str | None = None
    before: str | None = None


def _add_months(year: int, month: int, months: int) -> date:
    index = year * 12 + (month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _period(match: re.Match[str]) -> tuple[date, date] | None:
    if match["iso"]:
        parts = [int(p) for p in match["iso"].split("-")]
        try:
            start = date(parts[0], parts[1], parts[2] if len(parts) == 3 else 1)
        except ValueError:
            return None
        if len(parts) == 3:
            return start, date.fromordinal(start.toordinal() + 1)
        return start, _add_months(parts[0], parts[1], 1)
    year = int(match["year"])
    if match["month"]:
        month = _MONTHS[match["month"].lower()]
        return date(year, month, 1), _add_months(year, month, 1)
    if match["season"]:
        first, length = _SEASONS[match["season"].lower()]
        return date(year, first, 1), _add_months(year, first, length)
    return date(year, 1, 1), date(year + 1, 1, 1)


def parse_query(text: str) -> ParsedQuery:
    """Split the dates out of a query ("harbour june 2021" -> "harbour", June 2021).

    Several dates give the period from the earliest to the latest.
    """
    periods: list[tuple[date, date]] = []

    def take(match: re.Match[str]) -> str:
        period = _period(match)
        if period is None:
            return match[0]
        periods.append(period)
        return " "

    rest = " ".join(_DATE_IN_QUERY.sub(take, text).split())
    if not periods:
        return ParsedQuery(text=text.strip())
    return ParsedQuery(text=rest, after=min(p[0] for p in periods).isoformat(),
                       before=max(p[1] for p in periods).isoformat())
