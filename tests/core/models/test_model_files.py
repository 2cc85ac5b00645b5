"""core.models.model_files.safetensors_problem: what is wrong with a weights file, from its
header alone (the command-line cases are tests/e2e/test_bad_models_cli.py)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from core.models.model_files import safetensors_problem as problem


@pytest.fixture
def good(tmp_path: Path) -> bytes:
    path = tmp_path / "good.safetensors"
    save_file({"a": np.zeros((4, 4), np.float32), "b": np.ones(3, np.int64)}, str(path))
    return path.read_bytes()


def header(entries: dict[str, object]) -> bytes:
    text = json.dumps(entries).encode()
    return len(text).to_bytes(8, "little") + text


def test_a_whole_file_has_no_problem(tmp_path: Path, good: bytes) -> None:
    (tmp_path / "w.safetensors").write_bytes(good)
    assert problem(tmp_path / "w.safetensors") is None
    (tmp_path / "none.safetensors").write_bytes(header({"__metadata__": {"format": "pt"}}))
    assert problem(tmp_path / "none.safetensors") is None  # valid, if useless


@pytest.mark.parametrize(("content", "says"), [
    (b"", "it is empty"),
    (pickle.dumps({"w": 1}, protocol=2), "it is a Python pickle"),
    (pickle.dumps({"w": 1}, protocol=5), "it is a Python pickle"),
    (b"PK\x03\x04" + bytes(60), "it is a PyTorch checkpoint, a zip of pickles"),
    (b"\x05\x00\x00", "it is cut short: only 3 bytes"),
    (b"\xff" * 64, "it is damaged, or not a safetensors file at all"),
    (header({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, "4"]}}) + bytes(4),
     "it is damaged, or not a safetensors file at all"),
    (header({"a": {"dtype": "F32", "shape": [1]}}), "it is damaged"),
    (len(b"[1, 2]").to_bytes(8, "little") + b"[1, 2]", "it is damaged"),
    (len(b"{nope").to_bytes(8, "little") + b"{nope", "it is damaged"),
])
def test_each_kind_of_bad_file_is_named(tmp_path: Path, content: bytes, says: str) -> None:
    (tmp_path / "w.safetensors").write_bytes(content)
    assert (problem(tmp_path / "w.safetensors") or "").startswith(says)


def test_a_cut_or_padded_file_is_told_apart(tmp_path: Path, good: bytes) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(good[:-10])
    assert problem(path) == f"it is cut short: {len(good) - 10} bytes of {len(good)} bytes"
    path.write_bytes(good[:20])  # inside the header
    assert problem(path) == "it is cut short: only 20 bytes"
    path.write_bytes(good + b"\0")
    assert problem(path) == "it is damaged: its header does not account for all of its bytes"


def test_an_unreadable_file_says_why(tmp_path: Path) -> None:
    (tmp_path / "w.safetensors").mkdir()
    assert problem(tmp_path / "w.safetensors") == "it cannot be read (is a directory)"
    assert problem(tmp_path / "absent.safetensors") == (
        "it cannot be read (no such file or directory)")
