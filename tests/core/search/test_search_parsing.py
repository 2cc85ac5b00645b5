"""Query composition and date parsing (no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import UsageError
from core.search.queries import Weights, compose, parse_date


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2019", "2019-01-01", "2020-01-01"),
        ("2019-06", "2019-06-01", "2019-07-01"),
        ("2019-12", "2019-12-01", "2020-01-01"),
        ("2019-06-30", "2019-06-30", "2019-07-01"),
        ("2020-02-29", "2020-02-29", "2020-03-01"),
    ],
)
def test_dates_cover_whole_periods(text: str, start: str, end: str) -> None:
    assert parse_date(text) == start
    assert parse_date(text, end=True) == end


@pytest.mark.parametrize("bad", ["yesterday", "2019-13", "2019-02-30", "19", ""])
def test_bad_dates_are_usage_errors_naming_the_value(bad: str) -> None:
    with pytest.raises(UsageError, match="not a date"):
        parse_date(bad)


def _unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_compose_is_normalised_and_mixes_text_and_image() -> None:
    text, image = _unit(1, 0, 0), _unit(0, 1, 0)
    query = compose(text=text, image=image)
    assert np.isclose(np.linalg.norm(query), 1.0)
    assert np.allclose(query, _unit(1, 1, 0))
    leaning = compose(text=text, image=image, weights=Weights(text=2.0, image=1.0))
    assert leaning @ text > leaning @ image


def test_negative_pushes_away() -> None:
    text, negative = _unit(1, 1, 0), _unit(0, 1, 0)
    query = compose(text=text, negative=negative)
    assert query @ negative < text @ negative
    assert np.isclose(np.linalg.norm(query), 1.0)


def test_empty_or_self_cancelling_queries_are_refused() -> None:
    with pytest.raises(UsageError):
        compose()
    with pytest.raises(UsageError, match="cancels"):
        compose(text=_unit(1, 0), negative=_unit(1, 0), weights=Weights(negative=1.0))


def test_a_period_ending_after_9999_has_no_upper_bound() -> None:
    assert parse_date("9999", end=True) == "10000-01-01"
    assert parse_date("9999-12", end=True) == "10000-01-01"
    assert parse_date("9999-12-31", end=True) == "10000-01-01"


@pytest.mark.parametrize("name", ["x" * 300, "a\x00b"])
def test_a_path_the_system_cannot_take_is_a_usage_error(name: str, tmp_path: Path) -> None:
    from core.search.searcher import existing_file, existing_folder

    for check in (existing_file, existing_folder):
        with pytest.raises(UsageError):
            check(tmp_path / name)
