"""Words: tokens, safe FTS5 queries, the full-text table kept in step, dates in queries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from core.store.catalog import Catalog, PhotoFacts
from core.store.schema import MIGRATIONS
from core.words import keywords
from core.words.keywords import match_expression, parse_query, tokens


@pytest.fixture
def catalog(tmp_path: Path):
    with Catalog(tmp_path / "library.db") as cat:
        yield cat


def _add(catalog: Catalog, root: str, *paths: str) -> list[int]:
    root_id = catalog.add_root(root)
    facts = [PhotoFacts(path=p, root_id=root_id, size=1, mtime=1_600_000_000.0,
                        content_hash=ascii(p)) for p in paths]
    vectors = [np.eye(4, dtype=np.float32)[i % 4] for i in range(len(paths))]
    return catalog.write_batch(facts, vectors, catalog.model_id("m", 4))


def _find(catalog: Catalog, text: str) -> list[int]:
    match = match_expression(text)
    if match is None:
        return []
    return catalog.word_matches(match, catalog.model_id("m", 4), limit=50)


def test_file_names_split_into_words_letters_digits_and_cjk() -> None:
    assert tokens("IMG_2041.JPG") == ["img", "2041", "jpg"]
    assert tokens("harbour-2019_Boat.v2") == ["harbour", "2019", "boat", "v", "2"]
    assert tokens("Café 海边") == ["café", "海", "边"]


@pytest.mark.parametrize("query", ['"', "a*", "NOT", "-x", "(", ")", "x OR", "NEAR(a b)",
                                   "AND", '"unterminated', "col:word", "^start", "{a b}",
                                   "", "   ", "***", "海", "\udce9"])
def test_any_query_is_safe_syntax(catalog: Catalog, query: str) -> None:
    _add(catalog, "/lib", "/lib/not/x-and-or.jpg")
    _find(catalog, query)  # never raises


def test_operators_are_plain_words(catalog: Catalog) -> None:
    ids = _add(catalog, "/lib", "/lib/not/x-and-or.jpg", "/lib/other.jpg")
    assert _find(catalog, "NOT") == [ids[0]]
    assert _find(catalog, "-x") == [ids[0]]
    assert _find(catalog, "x OR") == [ids[0]]


def test_names_folders_diacritics_and_cjk_match(catalog: Catalog) -> None:
    ids = _add(catalog, "/home/me/Holidays", "/home/me/Holidays/Harbour 2019/IMG_2041.jpg",
               "/home/me/Holidays/Été/café.jpg", "/home/me/Holidays/旅行/海边日落.jpg")
    assert _find(catalog, "img_2041") == [ids[0]]
    assert _find(catalog, "IMG_2041.jpg") == [ids[0]]
    assert _find(catalog, "harbour") == [ids[0]]
    assert _find(catalog, "ete cafe") == [ids[1]]
    assert _find(catalog, "海边") == [ids[2]]
    assert _find(catalog, "边海") == []  # a short CJK run is a phrase
    assert _find(catalog, "大海边的日落") == [ids[2]]  # a sentence: any of its pairs
    assert _find(catalog, "山上的雪") == []
    assert sorted(_find(catalog, "holidays")) == sorted(ids)  # the root's own name counts
    assert _find(catalog, "home") == []  # folders above the root do not


def test_moves_and_removals_keep_the_words_in_step(catalog: Catalog) -> None:
    first, _ = _add(catalog, "/lib", "/lib/harbour/a.jpg", "/lib/b.jpg")
    root_id = catalog.roots()[0][0]
    catalog.move_photo(first, path="/lib/mountains/a.jpg", root_id=root_id, size=1, mtime=1.0)
    assert _find(catalog, "harbour") == []
    assert _find(catalog, "mountains") == [first]
    catalog.remove_photos([first])
    assert _find(catalog, "mountains") == []
    catalog.remove_root(root_id)
    assert catalog.db.execute(f"SELECT COUNT(*) FROM {keywords.TABLE}").fetchone()[0] == 0


def test_absorbed_root_counts_folders_from_the_outer_root(catalog: Catalog) -> None:
    (photo,) = _add(catalog, "/lib/trips", "/lib/trips/x.jpg")
    outer = catalog.add_root("/lib")
    catalog.absorb_root(catalog.roots()[1][0], outer)
    assert _find(catalog, "lib trips") == [photo]


def test_rewriting_a_photo_keeps_its_other_words(catalog: Catalog) -> None:
    (photo,) = _add(catalog, "/lib", "/lib/x.jpg")
    with catalog.db.conn:
        catalog.db.execute(f"UPDATE {keywords.TABLE} SET words = 'lighthouse' WHERE rowid = ?",
                           [photo])
    _add(catalog, "/lib", "/lib/x.jpg")  # re-indexed: name and folders are rewritten
    assert _find(catalog, "lighthouse") == [photo]


def test_non_utf8_names_are_indexed_without_their_bad_bytes(catalog: Catalog) -> None:
    (photo,) = _add(catalog, "/lib", "/lib/beach\udce9day.jpg")
    assert _find(catalog, "beach") == [photo]
    assert _find(catalog, "day") == [photo]
    assert catalog.photo_details([photo])[photo]["path"] == "/lib/beach\udce9day.jpg"


def test_migration_builds_words_for_existing_photos(tmp_path: Path) -> None:
    db_path = tmp_path / "old.db"
    with Catalog(db_path) as catalog:
        (photo,) = _add(catalog, "/lib", "/lib/lighthouse/p\udce9.jpg")
    conn = sqlite3.connect(db_path)  # back to schema 2, as an older Pictor left it
    conn.execute(f"DROP TABLE {keywords.TABLE}")
    conn.execute("DROP TRIGGER photos_words_delete")
    conn.execute("DROP TABLE photo_tags")  # schema 4's
    conn.execute("ALTER TABLE photos DROP COLUMN sidecars")  # schema 5's
    conn.execute("DROP TABLE photo_text")  # schema 6's
    for column in ("lat", "lon", "place"):
        conn.execute(f"ALTER TABLE photos DROP COLUMN {column}")
    conn.execute("DROP TABLE photo_prints")  # schema 7's
    conn.execute("DROP TABLE carried_words")
    conn.execute("DROP TABLE video_frames")  # schema 8's
    for column in ("kind", "duration_s"):
        conn.execute(f"ALTER TABLE photos DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    assert len(MIGRATIONS) >= 3
    with Catalog(db_path) as catalog:
        assert _find(catalog, "lighthouse") == [photo]


@pytest.mark.parametrize(
    ("query", "text", "after", "before"),
    [
        ("harbour 2019", "harbour", "2019-01-01", "2020-01-01"),
        ("june 2021 beach", "beach", "2021-06-01", "2021-07-01"),
        ("Sept. 2020", "", "2020-09-01", "2020-10-01"),
        ("dog 2021-06", "dog", "2021-06-01", "2021-07-01"),
        ("2020-02-29", "", "2020-02-29", "2020-03-01"),
        ("summer 2019", "", "2019-06-01", "2019-09-01"),
        ("winter 2019 snow", "snow", "2019-12-01", "2020-03-01"),
        ("from 2018 to 2019", "from to", "2018-01-01", "2020-01-01"),
        ("IMG_2041", "IMG_2041", None, None),
        ("a red circle", "a red circle", None, None),
        ("2019-02-30", "2019-02-30", None, None),
        ("room 1234", "room 1234", None, None),
    ],
)
def test_dates_in_a_query_become_a_period(query: str, text: str, after: str | None,
                                          before: str | None) -> None:
    assert parse_query(query) == keywords.ParsedQuery(text=text, after=after, before=before)
