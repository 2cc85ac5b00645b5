"""A Chinese query, end to end, with a Chinese-capable model (a tiny random Chinese-CLIP).

A random model ranks photos arbitrarily, so nothing here judges ranking by meaning: the
query must reach the model as real CJK tokens, searching must work in the library and on
the command line, and a photo whose file name says the words must come first.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.library import Library
from tests.conftest import cached_model
from tests.support import families, toyworld

ROOT = Path(__file__).resolve().parents[2]
QUERY = "大海边的日落"  # "sunset by the sea"
NAMED = "海边日落.jpg"  # "seaside sunset"


@pytest.fixture(scope="session")
def tiny_chinese_clip_dir() -> Path:
    return cached_model("tiny-chinese-clip", families.build_tiny_chinese_clip)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Torch on one thread: on a busy shared machine two threads spin-wait, and this tiny
    model ran 40 times slower on them."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def library_dirs(tmp_path_factory: pytest.TempPathFactory,
                 tiny_chinese_clip_dir: Path) -> tuple[Path, Path]:
    """``(photos, data)``: six toy photos and a sunset named in Chinese, indexed once."""
    base = tmp_path_factory.mktemp("chinese")
    photos, data = base / "照片", base / "data"  # "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(6, seed=8), seed=8)
    sunset = toyworld.render(toyworld.Scene("circle", "orange", "sand"), seed=9)
    sunset.save(photos / NAMED, format="JPEG", quality=90)
    with _one_thread(), Library(data, model=str(tiny_chinese_clip_dir), device="cpu") as lib:
        for _ in lib.index([photos]):
            pass
    return photos, data


def _every_hit() -> dict[str, Any]:
    """Search options that list every photo by rank: a random model's scores mean nothing."""
    return {"min_score": 0}


def _every_hit_options() -> list[str]:
    return ["--min-score", "0"]


def test_a_chinese_query_searches_the_library(library_dirs: tuple[Path, Path],
                                              tiny_chinese_clip_dir: Path) -> None:
    photos, data = library_dirs
    with _one_thread(), Library(data, model=str(tiny_chinese_clip_dir), device="cpu") as lib:
        embedder = lib.embedder
        assert embedder.family == "chinese_clip" and "zh" in embedder.languages
        tokenizer = embedder.processor.tokenizer
        pieces = tokenizer.convert_ids_to_tokens(tokenizer(QUERY)["input_ids"])
        assert pieces == ["[CLS]", *QUERY, "[SEP]"]  # one real token per character, no [UNK]
        hits = lib.search(QUERY, k=10, **_every_hit())
        assert len({hit.path for hit in hits}) == len(hits) == 7
        # the file name's own words, a part of them, and a sentence sharing some of them
        for words in ("海边日落", "日落", QUERY):
            best = lib.search(words, k=3, **_every_hit())[0]
            assert best.path == str(photos / NAMED) and best.match in {"words", "both"}


def test_a_chinese_query_on_the_command_line(library_dirs: tuple[Path, Path],
                                             tiny_chinese_clip_dir: Path) -> None:
    photos, data = library_dirs
    env = {**os.environ, "PICTOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}  # see _one_thread
    found = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "search", QUERY, "--model",
         str(tiny_chinese_clip_dir), "--device", "cpu", "-n", "3", *_every_hit_options()],
        cwd=ROOT, env=env, capture_output=True, timeout=300, check=False)
    assert found.returncode == 0, found.stderr.decode("utf-8", "replace")
    output = found.stdout.decode("utf-8")  # UTF-8, Chinese names printed as they are
    rows = [line for line in output.splitlines() if str(photos) in line]
    assert len(rows) == 3 and rows[0].endswith(str(photos / NAMED))
