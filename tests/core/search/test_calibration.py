"""Score calibration on synthetic vectors: unrelated pairs score low, clear matches high."""

from __future__ import annotations

import numpy as np
import pytest

from core.defaults import DEFAULT_MIN_SCORE
from core.search.calibration import Calibration, Scale, calibrate


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def world() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Photos in 30 clusters, 300 unrelated captions, and one query per cluster that
    points at its cluster's centre (a caption that describes those photos)."""
    rng = np.random.default_rng(0)
    dim = 64
    centres = _unit(rng.normal(size=(30, dim)))
    photos = _unit(centres[rng.integers(0, 30, 1500)] + 0.2 * rng.normal(size=(1500, dim)))
    captions = _unit(rng.normal(size=(300, dim)))
    queries = _unit(centres + 0.1 * rng.normal(size=centres.shape))
    return photos, captions, queries


def test_scale_maps_cosine_to_0_100_around_its_centre() -> None:
    scale = Scale(center=0.25, width=0.02)
    scores = scale.score([-1.0, 0.2, 0.25, 0.3, 1.0])
    assert scores[0] == pytest.approx(0, abs=1e-6) and scores[-1] == pytest.approx(100)
    assert scores[2] == pytest.approx(50) and np.all(np.diff(scores) > 0)
    assert scale.cosine_for(50) == pytest.approx(0.25)
    assert scale.score_one(scale.cosine_for(80)) == pytest.approx(80, abs=0.1)


def test_unrelated_queries_score_under_the_cut_off(world) -> None:
    photos, captions, _ = world
    calibration = calibrate(photos, captions, count=len(photos), corpus="c")
    rng = np.random.default_rng(1)
    unrelated = _unit(rng.normal(size=(50, photos.shape[1])))
    scores = calibration.text.score(unrelated @ photos.T)
    assert np.mean(scores >= DEFAULT_MIN_SCORE) < 0.005
    assert np.median(scores) < 5


def test_a_describing_query_scores_its_photos_high(world) -> None:
    photos, captions, queries = world
    calibration = calibrate(photos, captions, count=len(photos), corpus="c")
    cosines = queries @ photos.T
    best = calibration.text.score(cosines.max(axis=1))
    assert np.all(best >= 80)


def test_image_scale_separates_near_copies_from_other_photos(world) -> None:
    photos, captions, _ = world
    calibration = calibrate(photos, captions, count=len(photos), corpus="c")
    rng = np.random.default_rng(2)
    copies = _unit(photos[:20] + 0.02 * rng.normal(size=(20, photos.shape[1])))
    copy_scores = calibration.image.score(np.sum(copies * photos[:20], axis=1))
    assert np.all(copy_scores > 95)
    others = calibration.image.score(photos[:20] @ photos[-200:].T)
    assert np.median(others) < 10


def test_single_photo_library_still_calibrates_text() -> None:
    rng = np.random.default_rng(3)
    photo = _unit(rng.normal(size=(1, 32)))
    captions = _unit(rng.normal(size=(100, 32)))
    calibration = calibrate(photo, captions, count=1, corpus="c")
    assert calibration.image.center == pytest.approx(0.9)
    assert calibration.text.center > float(np.median(captions @ photo[0]))
    with pytest.raises(ValueError):
        calibrate(photo[:0], captions, count=0, corpus="c")


def test_staleness_and_json_round_trip(world) -> None:
    photos, captions, _ = world
    calibration = calibrate(photos, captions, count=1500, corpus="c")
    assert Calibration.from_json(calibration.to_json()) == calibration
    assert not calibration.is_stale(1500, "c") and not calibration.is_stale(2900, "c")
    assert calibration.is_stale(3100, "c") and calibration.is_stale(700, "c")
    assert calibration.is_stale(1500, "another vocabulary")
    small = calibrate(photos[:10], captions, count=10, corpus="c")
    assert small.is_stale(11, "c") and not small.is_stale(10, "c")


def test_a_combined_query_uses_a_scale_between_text_and_image(world) -> None:
    photos, captions, _ = world
    calibration = calibrate(photos, captions, count=len(photos), corpus="c")
    both = calibration.for_query(text=True, image=True)
    low, high = sorted([calibration.text.center, calibration.image.center])
    assert low < both.center < high
    assert calibration.for_query(text=True, image=False) == calibration.text
    assert calibration.for_query(text=False, image=True) == calibration.image


def test_a_model_whose_unrelated_pairs_spread_as_wide_as_its_matches_does_not_separate(
        world) -> None:
    # Photos and captions spread evenly over a circle: every cosine from -1 to 1 is as
    # common as any other, so no photo's best caption stands out of the crowd.
    rng = np.random.default_rng(1)

    def circle(n: int) -> np.ndarray:
        angles = rng.uniform(0, 2 * np.pi, n)
        return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)

    flat = calibrate(circle(200), circle(300), count=200, corpus="c")
    assert not flat.separates
    assert Calibration.from_json(flat.to_json()) == flat
    photos, captions, _ = world
    assert calibrate(photos, captions, count=1500, corpus="c").separates
    # too few photos to judge by: trusted
    assert calibrate(circle(20), circle(300), count=20, corpus="c").separates
    # a calibration stored before the judgement existed is trusted
    stored = flat.to_json()
    del stored["separates"]
    assert Calibration.from_json(stored).separates
