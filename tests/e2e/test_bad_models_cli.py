"""Broken model files through the command line: `python main.py search ... --model DIR`
with a damaged copy of the tiny CLIP answers one sentence naming what is wrong (exit 1),
never a traceback, and never searches with a model it could not load whole."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import pictor

WEIGHTS = "model.safetensors"


def pickled(folder: Path) -> None:
    (folder / WEIGHTS).write_bytes(pickle.dumps({"weight": [0.0] * 16}, protocol=4))


def torch_zip(folder: Path) -> None:  # what torch.save writes: pickles in a zip
    with zipfile.ZipFile(folder / WEIGHTS, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"weight": 1}))


def empty(folder: Path) -> None:
    (folder / WEIGHTS).write_bytes(b"")


def truncated(folder: Path) -> None:
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(data[: len(data) // 2])


def random_bytes(folder: Path) -> None:
    (folder / WEIGHTS).write_bytes(os.urandom(50_000))


def no_tensors(folder: Path) -> None:  # a valid safetensors file, of no tensor at all
    header = json.dumps({"__metadata__": {"format": "pt"}}).encode()
    (folder / WEIGHTS).write_bytes(len(header).to_bytes(8, "little") + header)


def config_not_json(folder: Path) -> None:
    text = (folder / "config.json").read_text()
    (folder / "config.json").write_text(text[: len(text) // 2])


def config_bad_value(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "projection_dim": "wide"}))


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "pickle": (pickled, f"{WEIGHTS} is not a valid safetensors file: it is a Python pickle"),
    "torch_zip": (torch_zip, f"{WEIGHTS} is not a valid safetensors file: it is a PyTorch "
                             "checkpoint"),
    "empty": (empty, f"{WEIGHTS} is not a valid safetensors file: it is empty"),
    "truncated": (truncated, f"{WEIGHTS} is not a valid safetensors file: it is cut short: "),
    "random": (random_bytes, f"{WEIGHTS} is not a valid safetensors file: it is damaged"),
    "no_tensors": (no_tensors, "tensors its config.json describes, its weights lack"),
    "config_not_json": (config_not_json, "config.json) is not valid JSON"),
    "config_bad_value": (config_bad_value, "config.json) is not a model configuration this "
                                           "Pictor can use: Validation error for field "
                                           "'projection_dim'"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_broken_model_file_is_one_sentence(
    case: str, tmp_path: Path, tiny_clip_dir: Path
) -> None:
    damage, expected = CASES[case]
    model = tmp_path / "model"
    shutil.copytree(tiny_clip_dir, model)  # the fixture is shared: damage a copy only
    damage(model)

    result = pictor("search", "a red circle", "--model", str(model), data=tmp_path / "data")

    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pictor: model {model} cannot be loaded: ")
    assert expected in lines[0]
    assert result.stdout == ""
