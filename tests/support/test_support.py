"""Tests of the test support code: the tokenizer, the offline models and the toy world.

If these drift, every other test measures the wrong thing, so they check the properties the
rest of the suite relies on: real CLIP token ids, models that load like downloaded ones,
deterministic photos, and a toy model good enough to make search results meaningful.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support import models, toyworld
from tests.support.tokenizer import VOCAB_SIZE, write_clip_tokenizer

SENTENCES = [
    "a photo of a red circle on grass",
    "Hello, World! It's 2024 -- café naïve 😀",
    "  multiple   spaces\tand TABS  ",
    "a yellow star at night",
    "IMG_2041.JPG from the beach (2019)",
]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tokenizer")
    write_clip_tokenizer(folder)
    return folder


def test_tokenizer_files_have_the_real_clip_vocabulary(tokenizer_dir: Path) -> None:
    vocab = json.loads((tokenizer_dir / "vocab.json").read_text(encoding="utf-8"))
    merges = (tokenizer_dir / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == VOCAB_SIZE
    assert vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407
    assert vocab["!"] == 0 and vocab["!</w>"] == 256
    assert merges[0].startswith("#version") and len(merges) == 1 + 48894


@pytest.mark.parametrize("text", SENTENCES)
def test_tokenizer_matches_open_clip(tokenizer_dir: Path, text: str) -> None:
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizer

    reference = SimpleTokenizer()
    expected = [reference.sot_token_id, *reference.encode(text), reference.eot_token_id]
    assert CLIPTokenizer.from_pretrained(tokenizer_dir)(text)["input_ids"] == expected


def test_tiny_model_loads_like_a_downloaded_one(tiny_clip_dir: Path) -> None:
    import torch
    from transformers import AutoModel, AutoProcessor, CLIPModel, CLIPProcessor

    model = AutoModel.from_pretrained(tiny_clip_dir)
    processor = AutoProcessor.from_pretrained(tiny_clip_dir)
    assert isinstance(model, CLIPModel) and isinstance(processor, CLIPProcessor)
    assert (tiny_clip_dir / "model.safetensors").is_file()
    assert model.config.text_config.vocab_size == VOCAB_SIZE
    assert model.config.text_config.max_position_embeddings == 77

    photo = toyworld.render(toyworld.Scene("circle", "red", "grass"), seed=1)
    inputs = processor(
        text=["a red circle", "a much longer description of a photo"],
        images=[photo],
        return_tensors="pt",
        padding=True,
    )
    assert inputs["pixel_values"].shape == (1, 3, 32, 32)  # 96x72 resized and centre-cropped
    with torch.inference_mode():
        image = model.get_image_features(pixel_values=inputs["pixel_values"])
        text = model.get_text_features(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
        )
    # transformers 5 returns a ModelOutput; the projected vectors are its pooler_output
    assert image.pooler_output.shape == (1, 32) and text.pooler_output.shape == (2, 32)


def test_tiny_model_build_is_deterministic(tmp_path: Path) -> None:
    a = models.build_tiny_clip(tmp_path / "a", seed=3)
    b = models.build_tiny_clip(tmp_path / "b", seed=3)
    c = models.build_tiny_clip(tmp_path / "c", seed=4)
    weights = [(d / "model.safetensors").read_bytes() for d in (a, b, c)]
    assert weights[0] == weights[1] != weights[2]


def test_scenes_have_captions_and_slugs() -> None:
    scene = toyworld.Scene("circle", "red", "grass")
    assert scene.caption == "a red circle on grass"
    assert scene.slug == "red-circle-grass"
    assert len(set(toyworld.all_scenes())) == (
        len(toyworld.SHAPES) * len(toyworld.COLOURS) * len(toyworld.BACKGROUNDS)
    )
    with pytest.raises(ValueError, match="shape"):
        toyworld.Scene("hexagon", "red", "grass")


def test_render_is_deterministic_and_not_square() -> None:
    scene = toyworld.Scene("star", "blue", "night")
    a, b = toyworld.render(scene, seed=5), toyworld.render(scene, seed=5)
    assert a.size == toyworld.DEFAULT_SIZE and a.mode == "RGB"
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != toyworld.render(scene, seed=6).tobytes()
    assert toyworld.render(scene, seed=5, size=(40, 120)).size == (40, 120)


def test_near_duplicate_is_close_but_not_identical() -> None:
    photo = toyworld.render(toyworld.Scene("square", "yellow", "sand"), seed=2)
    copy = toyworld.near_duplicate(photo, seed=0)
    assert copy.size == photo.size
    diff = np.abs(np.asarray(copy, np.int16) - np.asarray(photo, np.int16))
    assert 0 < diff.mean() < 30


def test_write_photos_names_files_readably(tmp_path: Path) -> None:
    scenes = [toyworld.Scene("cross", "green", "sky"), toyworld.Scene("circle", "red", "sand")]
    paths = toyworld.write_photos(tmp_path, scenes, seed=1)
    assert [p.name for p in paths] == ["0000-green-cross-sky.jpg", "0001-red-circle-sand.jpg"]
    again = toyworld.write_photos(tmp_path / "again", scenes, seed=1)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    png = toyworld.write_photos(tmp_path / "png", scenes[:1], seed=1, fmt="PNG")
    with Image.open(png[0]) as image:
        assert image.format == "PNG" and image.size == toyworld.DEFAULT_SIZE


def test_toy_photos_fixture_writes_into_a_fresh_folder(toy_photos, tmp_path: Path) -> None:
    paths = toy_photos(n=3, seed=9, folder="holiday")
    assert len(paths) == 3 and all(p.parent == tmp_path / "holiday" for p in paths)


@pytest.mark.slow
def test_toy_model_finds_what_a_query_describes(toy_clip_dir: Path) -> None:
    quality = models.evaluate_toy_clip(toy_clip_dir)
    assert quality["text_recall_at_1"] >= 0.8, quality
    assert quality["duplicate_recall_at_1"] >= 0.9, quality
