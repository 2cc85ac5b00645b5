"""Which copy to keep: the camera's original over exports, messenger copies and re-saves, with
a reason for every member."""

from __future__ import annotations

import random

import pytest

from core.search.keepers import CopyFacts, export_name, rank_group

TAKEN = "2024-06-12T10:00:00"


def _original(**changes: object) -> CopyFacts:
    facts = CopyFacts(1, "/photos/camera/IMG_2041.jpg", 4000, 3000, 5_200_000, "JPEG", TAKEN,
                      "Canon EOS R6", True, 1_000.0, 0.9, 92, "aaa")
    return _with(facts, **changes)


def _with(facts: CopyFacts, **changes: object) -> CopyFacts:
    values = {name: getattr(facts, name) for name in CopyFacts.__slots__}
    values.update(changes)
    return CopyFacts(**values)  # type: ignore[arg-type]


def _copies() -> list[CopyFacts]:
    original = _original()
    return [
        original,
        _with(original, photo_id=2, path="/backup/IMG_2041.jpg", mtime=9_000.0),  # same bytes
        _with(original, photo_id=3, path="/photos/camera/IMG_2041 (1).jpg", mtime=2_000.0),
        _with(original, photo_id=4, path="/phone/WhatsApp Images/IMG-20240612-WA0003.jpg",
              width=1600, height=1200, bytes=180_000, taken_at=None, camera=None,
              has_position=False, jpeg_quality=70, content_hash="bbb"),
        _with(original, photo_id=5, path="/exports/IMG_2041.png", bytes=21_000_000,
              format="PNG", taken_at=None, camera=None, has_position=False,
              jpeg_quality=None, content_hash="ccc"),
        _with(original, photo_id=6, path="/edits/IMG_2041-edited.jpg", content_hash="ddd"),
        _with(original, photo_id=7, path="/old/IMG_2041.jpg", width=800, height=600,
              bytes=90_000, taken_at=None, camera=None, has_position=False,
              jpeg_quality=80, content_hash="eee"),
    ]


def test_the_original_is_kept_first_with_one_keeper() -> None:
    ranked = rank_group(_copies())
    assert [r.keep for r in ranked] == [True] + [False] * 6
    assert ranked[0].facts.photo_id == 1
    assert ranked[0].reason == "original: 4000\u00d73000, camera EXIF, JPEG quality 92"
    reasons = {r.facts.photo_id: r.reason for r in ranked}
    assert reasons[2] == "identical copy"  # the later file of the same bytes
    assert reasons[3] == "identical copy"
    assert reasons[4] == "named like a copy ('IMG-20240612-WA0003')"
    assert reasons[5] == "an export: no camera data"
    assert reasons[6] == "named like a copy ('edited')"
    assert reasons[7] == "an export: no camera data"


def test_the_order_given_never_changes_the_choice() -> None:
    first = [(r.facts.photo_id, r.reason) for r in rank_group(_copies())]
    for seed in range(5):
        shuffled = _copies()
        random.Random(seed).shuffle(shuffled)
        assert [(r.facts.photo_id, r.reason) for r in rank_group(shuffled)] == first


def test_among_exports_the_largest_then_the_best_quality_wins() -> None:
    base = _original(taken_at=None, camera=None, has_position=False, content_hash=None)
    small = _with(base, photo_id=2, path="/a/b.jpg", width=800, height=600)
    worse = _with(base, photo_id=3, path="/a/c.jpg", jpeg_quality=40)
    ranked = rank_group([small, worse, base])
    assert ranked[0].facts is base and ranked[0].reason.startswith("largest: 4000\u00d73000")
    assert {r.facts.photo_id: r.reason for r in ranked[1:]} == {
        3: "re-saved at lower quality (JPEG quality 40)", 2: "smaller copy: 800\u00d7600"}
    assert [r.facts.photo_id for r in ranked] == [1, 3, 2]  # the last one out comes last


def test_a_sharper_copy_wins_and_tiny_differences_do_not_count() -> None:
    base = _original(jpeg_quality=None)
    crisp = _with(base, photo_id=2, path="/b/IMG_2041.jpg", sharpness=1.2, content_hash="x")
    assert rank_group([base, crisp])[0].facts is crisp
    assert rank_group([base, crisp])[0].reason.startswith("sharper")
    almost = _with(base, photo_id=3, path="/c/IMG_2041.jpg", width=3998, sharpness=0.93,
                   bytes=5_250_000, mtime=5_000.0, content_hash="y")
    ranked = rank_group([almost, base])  # within 2% of pixels and bytes, 10% of sharpness
    assert ranked[0].facts is base and ranked[1].reason == "a later copy"


def test_similar_shots_keep_the_sharpest() -> None:
    shots = [_original(photo_id=i, path=f"/burst/IMG_{i}.jpg", sharpness=s, content_hash=str(i))
             for i, s in ((1, 0.5), (2, 1.1), (3, 0.8))]
    ranked = rank_group(shots, kind="similar")
    assert [r.facts.photo_id for r in ranked] == [2, 3, 1]
    assert ranked[0].reason.startswith("sharpest") and ranked[1].reason == "less sharp"


def test_a_group_of_one_or_none() -> None:
    assert rank_group([]) == []
    (only,) = rank_group([_original()])
    assert only.keep and only.reason


@pytest.mark.parametrize("name", [
    "IMG_2041 copy.jpg", "IMG_2041 (1).jpg", "IMG_2041-edited.jpg", "IMG_2041_small.jpg",
    "IMG-20240612-WA0003.jpg", "WhatsApp Image 2024-06-12 at 10.00.00.jpeg",
    "photo_800x600.jpg", "IMG_2041 Kopie.jpg", "FB_IMG_1718181818.jpg", "IMG_2041_crop.jpg"])
def test_export_names_are_recognised(name: str) -> None:
    assert export_name(f"/x/{name}")


@pytest.mark.parametrize("name", [
    "IMG_2041.jpg", "DSC01234.ARW", "PXL_20240612_100000123.jpg", "20240612_100000.jpg",
    "IMG_2041_1.jpg", "P1010001.JPG", "beach copyright.jpg"])
def test_camera_names_are_not_exports(name: str) -> None:
    assert export_name(f"/x/{name}") is None
