"""core.photos.text_int8: the int8 text detector is built once, checked against the float
network, kept (or refused) in the cache folder, and a failed or refused build leaves the
float network doing the work."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from pathlib import Path

import pytest

from core.photos import text_int8, text_models
from core.photos.text_reading import TextReader
from tests.core.photos.test_text_reading import INT8_CACHE
from tests.support.text_photos import text_photo

DETECTOR = text_models.model_folder() / text_models.DETECTOR_FILE
FAST_INT8 = any(flag in text_int8.cpu_int8_flags().split(",")
                for flag in ("avx512_vnni", "avx_vnni", "amx_int8"))


def _folder(cache: Path) -> Path:
    return cache / f"det-{text_int8.cache_key(DETECTOR)}"


def _never_built(*args: object, **kwargs: object) -> None:
    raise AssertionError("built again")


def test_the_build_is_checked_and_kept() -> None:
    reader = TextReader(threads=1, int8_cache=INT8_CACHE)
    reader.models  # noqa: B018 - builds (or finds) the int8 network
    meta = json.loads((_folder(INT8_CACHE) / text_int8.META_FILE).read_text())
    assert meta["format"] == text_int8.FORMAT
    assert 0 <= meta["agreement"] <= 1 and meta["speedup"] > 0
    assert meta["text_overlap"] >= text_int8.MIN_TEXT_OVERLAP or not meta["accepted"]
    if not FAST_INT8:
        pytest.skip(f"no int8 dot products on this CPU (verdict: {meta})")
    # On a CPU with int8 dot products (this project's machines) it is accepted, and the
    # detection runs it.
    assert meta["accepted"], meta
    assert (_folder(INT8_CACHE) / text_int8.MODEL_FILE).is_file()
    photo = text_photo(["RE1634 SUPERMARKT"], size=(1600, 1200), seed=4)
    assert [line.text for line in reader.read_photo(photo.image)] == ["RE1634 SUPERMARKT"]


def test_a_cached_refusal_is_not_built_again(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / text_int8.META_FILE).write_text(json.dumps(
        {"format": text_int8.FORMAT, "accepted": False, "agreement": 0.5, "speedup": 1.0}))
    monkeypatch.setattr(text_int8, "_build", _never_built)
    assert text_int8.load_or_build(DETECTOR, tmp_path, prepare=None) is None


def test_a_cached_build_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    TextReader(int8_cache=INT8_CACHE).models  # noqa: B018 - built once for the run
    monkeypatch.setattr(text_int8, "_build", _never_built)
    found = text_int8.load_or_build(DETECTOR, INT8_CACHE, prepare=None)
    assert found == _folder(INT8_CACHE) / text_int8.MODEL_FILE


@pytest.mark.parametrize("damage", ["model file gone", "older format", "not json",
                                    "model file cut short"])
def test_a_damaged_cache_is_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        damage: str) -> None:
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    meta = {"format": text_int8.FORMAT, "accepted": True, "agreement": 1, "speedup": 3}
    if damage == "older format":
        meta["format"] = text_int8.FORMAT - 1
        (folder / text_int8.MODEL_FILE).write_bytes(b"old")
    if damage == "model file cut short":
        model = (_folder(INT8_CACHE) / text_int8.MODEL_FILE).read_bytes()
        meta["sha256"] = hashlib.sha256(model).hexdigest()
        (folder / text_int8.MODEL_FILE).write_bytes(model[:1000])
    (folder / text_int8.META_FILE).write_text("{" if damage == "not json" else json.dumps(meta))
    built: list[Path] = []

    def build(detector: Path, dest: Path, prepare: object) -> dict[str, object]:
        built.append(dest)
        return {"format": text_int8.FORMAT, "accepted": False}

    monkeypatch.setattr(text_int8, "_build", build)
    assert text_int8.load_or_build(DETECTOR, tmp_path, prepare=None) is None
    assert built == [folder]


def test_a_failed_build_leaves_the_float_network(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(text_int8, "_build", broken)
    reader = TextReader(threads=1, int8_cache=tmp_path)
    with caplog.at_level(logging.WARNING):
        photo = text_photo(["No parking"], size=(960, 720), seed=9)
        assert [line.text for line in reader.read_photo(photo.image)] == ["No parking"]
    assert "float one is used" in caplog.text


def test_the_key_follows_the_network_and_the_runtime(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / DETECTOR.name
    copy.write_bytes(DETECTOR.read_bytes())
    key = text_int8.cache_key(copy)
    assert key == text_int8.cache_key(DETECTOR)
    monkeypatch.setattr(text_int8, "FORMAT", text_int8.FORMAT + 1)
    assert text_int8.cache_key(copy) != key
    monkeypatch.undo()
    with open(copy, "ab") as file:
        file.write(b"\0")
    assert text_int8.cache_key(copy) != key


def test_a_cached_model_that_will_not_load_is_removed(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Whole by its digest but no network (a disk error copied into both): the float
    network reads, and the build is removed to be made again next time."""
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    garbage = b"not an onnx file"
    (folder / text_int8.MODEL_FILE).write_bytes(garbage)
    (folder / text_int8.META_FILE).write_text(json.dumps(
        {"format": text_int8.FORMAT, "accepted": True,
         "sha256": hashlib.sha256(garbage).hexdigest()}))
    reader = TextReader(threads=1, int8_cache=tmp_path)
    with caplog.at_level(logging.WARNING):
        photo = text_photo(["No parking"], size=(960, 720), seed=9)
        assert [line.text for line in reader.read_photo(photo.image)] == ["No parking"]
    assert "float one is used" in caplog.text
    assert not folder.exists()


def test_two_asking_at_once_build_once(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Path] = []

    def build(detector: Path, dest: Path, prepare: object) -> dict[str, object]:
        built.append(dest)
        time.sleep(0.3)  # the other asks meanwhile, and waits for the lock
        meta = {"format": text_int8.FORMAT, "accepted": False}
        dest.mkdir(parents=True)
        (dest / text_int8.META_FILE).write_text(json.dumps(meta))
        return meta

    monkeypatch.setattr(text_int8, "_build", build)
    answers: list[Path | None] = []
    askers = [threading.Thread(target=lambda: answers.append(
        text_int8.load_or_build(DETECTOR, tmp_path, prepare=None))) for _ in range(2)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(30)
    assert answers == [None, None] and len(built) == 1
