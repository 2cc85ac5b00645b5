"""Model families: each loads through Embedder.load and matches the reference transformers path.

The reference is what transformers itself gives: the checkpoint's processor on PIL images and
``get_image_features``; its tokenizer as the family was trained (SigLIP: padded to the trained
length; SigLIP 2: lower-cased too) and ``get_text_features``; L2-normalised. The models are
tiny and random (tests/support/families.py): vectors mean nothing, shapes and paths do.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoProcessor

from core.errors import ModelUnavailableError
from core.models import hardware
from core.models.embedder import Embedder
from core.models.families import CHINESE_CLIP_CONTEXT, ENGLISH, MULTILINGUAL, model_languages
from core.photos.imaging import to_model_pixels
from tests.conftest import cached_model
from tests.support import families, toyworld

# Different lengths in one batch: a padding mistake changes the short ones' vectors.
TEXTS = ["a photo of a dog on the beach at sunset over the sea, by the mountain city",
         "A Red Circle", "大海边的日落", "cat", ""]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Torch on one thread: on a busy shared machine two threads spin-wait (these tiny models
    ran several times slower on them)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_siglip_dir() -> Path:
    return cached_model("tiny-siglip", families.build_tiny_siglip)


@pytest.fixture(scope="session")
def tiny_siglip_spm_dir() -> Path:
    return cached_model("tiny-siglip-spm", families.build_tiny_siglip_sentencepiece)


@pytest.fixture(scope="session")
def tiny_siglip2_dir() -> Path:
    return cached_model("tiny-siglip2", families.build_tiny_siglip2)


@pytest.fixture(scope="session")
def tiny_siglip2_naflex_dir() -> Path:
    return cached_model("tiny-siglip2-naflex", families.build_tiny_siglip2_naflex)


@pytest.fixture(scope="session")
def tiny_chinese_clip_dir() -> Path:
    return cached_model("tiny-chinese-clip", families.build_tiny_chinese_clip)


FAMILIES = [  # (fixture, family, languages it reads)
    ("tiny_clip_dir", "clip", ENGLISH),
    ("tiny_siglip_dir", "siglip", ENGLISH),
    ("tiny_siglip_spm_dir", "siglip", ENGLISH),  # google/siglip-*'s own SentencePiece
    ("tiny_siglip2_dir", "siglip2", MULTILINGUAL),
    ("tiny_siglip2_naflex_dir", "siglip2", MULTILINGUAL),  # photos keep their shape
    ("tiny_chinese_clip_dir", "chinese_clip", frozenset({"zh", "en"})),
]


def _images() -> list[Any]:
    """Landscape photos: a crop (CLIP) and a squash (SigLIP, Chinese-CLIP) differ on them."""
    return toyworld.render_many(toyworld.random_scenes(4, seed=3), seed=3, size=(96, 64))


def _unit(output: Any) -> np.ndarray:
    tensor = output if isinstance(output, torch.Tensor) else output.pooler_output
    return torch.nn.functional.normalize(tensor.float(), dim=-1).numpy()


def _text_kwargs(family: str) -> dict[str, Any]:
    if family.startswith("siglip"):
        return {"padding": "max_length", "max_length": families.SIGLIP_TEXT_LENGTH,
                "truncation": True}
    return {"padding": True, "truncation": True,
            "max_length": CHINESE_CLIP_CONTEXT if family == "chinese_clip" else 77}


def _reference(model_dir: Path, family: str, images: list[Any], texts: list[str],
               **text_kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    model = AutoModel.from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    texts = [t.lower() for t in texts] if family == "siglip2" else texts
    with torch.inference_mode():
        # The image processor itself: Siglip2Processor's call puts its own defaults (16-pixel
        # patches, 256 of them) over the checkpoint's settings.
        pixels = processor.image_processor(images, return_tensors="pt")
        tokens = processor(text=texts, return_tensors="pt",
                           **(text_kwargs or _text_kwargs(family)))
        return (_unit(model.get_image_features(**pixels)),
                _unit(model.get_text_features(**tokens)))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert a.shape == b.shape
    return np.sum(a * b, axis=1)


IDS = [fixture.removeprefix("tiny_").removesuffix("_dir") for fixture, _, _ in FAMILIES]


@pytest.mark.parametrize(("fixture", "family", "languages"), FAMILIES, ids=IDS)
def test_each_family_matches_the_reference_transformers_path(
        fixture: str, family: str, languages: frozenset[str],
        request: pytest.FixtureRequest) -> None:
    model_dir = request.getfixturevalue(fixture)
    embedder = Embedder.load(str(model_dir), device="cpu", precision="fp32")
    assert (embedder.family, embedder.languages) == (family, languages)
    images = _images()
    ref_images, ref_texts = _reference(model_dir, family, images, TEXTS)
    assert embedder.dim == ref_images.shape[1] == ref_texts.shape[1]
    ours_images, ours_texts = embedder.embed_images(images), embedder.embed_texts(TEXTS)
    assert ours_images.shape == (len(images), embedder.dim) and ours_images.dtype == np.float32
    assert _cosines(ours_images, ref_images).min() >= 0.999
    assert _cosines(ours_texts, ref_texts).min() >= 0.999
    pixels = np.stack([to_model_pixels(im, embedder.image_input) for im in images])
    assert np.allclose(embedder.embed_pixels(pixels), ours_images, atol=1e-6)


@pytest.mark.parametrize("fixture", ["tiny_siglip_dir", "tiny_siglip_spm_dir", "tiny_siglip2_dir"])
def test_siglip_texts_are_padded_to_the_trained_length(
        fixture: str, request: pytest.FixtureRequest) -> None:
    """SigLIP reads its vector at the last position: a text padded only to the batch's
    longest gets another vector, so a query's vector must not depend on its batch."""
    model_dir = request.getfixturevalue(fixture)
    embedder = Embedder.load(str(model_dir), device="cpu", precision="fp32")
    alone = embedder.embed_texts(["cat"])
    in_batch = embedder.embed_texts(["cat", TEXTS[0]])[:1]
    assert _cosines(alone, in_batch).min() >= 0.99999
    family = embedder.family
    _, longest = _reference(model_dir, family, _images()[:1], ["cat", TEXTS[0]], padding=True)
    assert float(alone[0] @ longest[0]) < 0.99  # the mistake the padding rule prevents


def test_siglip2_reads_texts_lower_cased(tiny_siglip2_dir: Path) -> None:
    embedder = Embedder.load(str(tiny_siglip2_dir), device="cpu", precision="fp32")
    upper, lower = embedder.embed_texts(["A RED Circle", "a red circle"])
    assert float(upper @ lower) >= 0.99999


def test_chinese_clip_reads_52_tokens_and_real_cjk_tokens(tiny_chinese_clip_dir: Path) -> None:
    """Chinese-CLIP was trained on 52 tokens: a longer text is cut there, like the original."""
    embedder = Embedder.load(str(tiny_chinese_clip_dir), device="cpu", precision="fp32")
    tokenizer = embedder.processor.tokenizer
    query = "大海边的日落"
    ids = tokenizer(query)["input_ids"]
    assert len(ids) == len(query) + 2 and tokenizer.unk_token_id not in ids
    long_text = "一只猫在海边看日落" * 8  # 72 characters, 74 tokens
    tokens = embedder.tokens([long_text, query])
    assert tokens["input_ids"].shape == (2, CHINESE_CLIP_CONTEXT)
    _, ref = _reference(tiny_chinese_clip_dir, "chinese_clip", _images()[:1],
                        [long_text, query])
    assert _cosines(embedder.embed_texts([long_text, query]), ref).min() >= 0.999


@pytest.mark.parametrize(("fixture", "family", "languages"), FAMILIES[1:], ids=IDS[1:])
def test_mixed_precision_stays_close_to_fp32(
        fixture: str, family: str, languages: frozenset[str],
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """bf16 autocast (CPUs that do bf16) is checked at load; fp16 weights are what CUDA
    runs (here on the CPU, which computes fp16 too)."""
    model_dir = request.getfixturevalue(fixture)
    images = _images()
    monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: True)
    embedder = Embedder.load(str(model_dir), device="cpu")
    assert embedder.precision in {"bf16", "fp32"}
    embedder.autocast = False
    reference = embedder.embed_images(images), embedder.embed_texts(TEXTS)
    embedder.autocast = True  # chosen or not, it must run and stay close for this model
    bf16 = embedder.embed_images(images), embedder.embed_texts(TEXTS)
    embedder.autocast = False
    embedder.model.half()
    embedder.dtype = torch.float16  # what _choose_precision does on CUDA
    assert embedder.precision == "fp16"
    fp16 = embedder.embed_images(images), embedder.embed_texts(TEXTS)
    for fast in (bf16, fp16):
        for ours, ref in zip(fast, reference, strict=True):
            assert ours.dtype == np.float32 and np.isfinite(ours).all()
            assert _cosines(ours, ref).min() >= 0.99


def test_languages_follow_the_family_and_the_vocabulary() -> None:
    assert model_languages("clip", 49_408) == ENGLISH
    assert model_languages("siglip", 32_000) == ENGLISH  # google/siglip-base-patch16-224
    assert "zh" in model_languages("siglip", 250_000)  # ...-256-multilingual
    assert "zh" in model_languages("siglip2", 256_000)
    assert "zh" in model_languages("chinese_clip", 21_128)
    assert "zh" in model_languages("metaclip_2", 901_629)  # an XLM-V text tower


def test_laion_layout_clip_is_driven_like_openai(tmp_path: Path, tiny_clip_dir: Path) -> None:
    """LAION (open_clip) checkpoints on the hub: a legacy preprocessor_config.json with plain
    int sizes and "!" as the padding token; the same CLIPModel and normalisation."""
    folder = tmp_path / "laion"
    shutil.copytree(tiny_clip_dir, folder)
    processor = json.loads((folder / "processor_config.json").read_text())["image_processor"]
    (folder / "processor_config.json").unlink()
    legacy = {**processor, "size": 32, "crop_size": 32,
              "feature_extractor_type": "CLIPFeatureExtractor", "processor_class": "CLIPProcessor"}
    legacy.pop("image_processor_type")
    (folder / "preprocessor_config.json").write_text(json.dumps(legacy))
    tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**tokenizer_config,
                                                              "pad_token": "!"}))
    embedder = Embedder.load(str(folder), device="cpu", precision="fp32")
    assert (embedder.family, embedder.image_input.crop, embedder.image_input.size) == (
        "clip", True, 32)
    images = _images()
    ref_images, ref_texts = _reference(folder, "clip", images, TEXTS)
    assert _cosines(embedder.embed_images(images), ref_images).min() >= 0.999
    assert _cosines(embedder.embed_texts(TEXTS), ref_texts).min() >= 0.999


def test_siglip2_naflex_keeps_each_photos_shape(tiny_siglip2_naflex_dir: Path,
                                                 tmp_path: Path) -> None:
    """A landscape, a portrait and a strip: each covered by its own patch grid (at most
    16 patches here), matching transformers' processor grid for grid, through indexing too."""
    from core.library import Library
    from core.photos.imaging import naflex_unpack

    embedder = Embedder.load(str(tiny_siglip2_naflex_dir), device="cpu", precision="fp32")
    scenes = toyworld.random_scenes(3, seed=8)
    images = [toyworld.render(scene, seed=i, size=size)
              for i, (scene, size) in enumerate(zip(scenes, [(96, 64), (40, 120), (300, 20)],
                                                    strict=True))]
    pixels = np.stack([to_model_pixels(im, embedder.image_input) for im in images])
    processor = AutoProcessor.from_pretrained(tiny_siglip2_naflex_dir)
    grids = processor.image_processor(images, return_tensors="pt")["spatial_shapes"]
    assert naflex_unpack(pixels)[1].tolist() == grids.tolist() == [[3, 5], [6, 2], [1, 15]]
    reference, _ = _reference(tiny_siglip2_naflex_dir, "siglip2", images, ["a"])
    assert _cosines(embedder.embed_images(images), reference).min() >= 0.999
    assert not embedder.use_fast_images(tmp_path / "cache", build=True)  # fixed-size only

    for i, image in enumerate(images):
        image.save(tmp_path / f"photo-{i}.png")
    with Library(tmp_path / "data", model=str(tiny_siglip2_naflex_dir),
                 device="cpu") as library:  # float16 vectors, bf16 where the CPU has it
        for _ in library.index([tmp_path]):
            pass
        for i in range(3):
            row = library.catalog.photo_by_path(str(tmp_path / f"photo-{i}.png"))
            assert row is not None
            stored = library.catalog.vector_of(row.id, *library.model_key())
            assert stored is not None and float(stored @ reference[i]) >= 0.99


def test_published_siglip_reads_its_sentencepiece_model_as_the_reference_does(
        tiny_siglip_spm_dir: Path) -> None:
    """google/siglip-* ship only spiece.model: SiglipTokenizer lower-cases, drops
    punctuation and appends </s> (also the padding), even to a text cut at 64 tokens."""
    assert not (tiny_siglip_spm_dir / "tokenizer.json").exists()
    embedder = Embedder.load(str(tiny_siglip_spm_dir), device="cpu", precision="fp32")
    tokenizer = embedder.processor.tokenizer
    assert type(tokenizer).__name__ == "SiglipTokenizer"
    long_text = "a dog on the beach " * 20  # 100 words
    tokens = embedder.tokens(["A Red Circle!", "a red circle", long_text])
    assert list(tokens) == ["input_ids"]  # no attention mask, as the checkpoint declares
    ids = tokens["input_ids"]
    assert list(ids.shape) == [3, families.SIGLIP_TEXT_LENGTH]
    assert ids[0].tolist() == ids[1].tolist()
    assert tokenizer.unk_token_id not in ids[1].tolist()
    assert ids[2, -1].item() == tokenizer.eos_token_id != ids[2, -2].item()
    _, ref = _reference(tiny_siglip_spm_dir, "siglip", _images()[:1], [long_text, "A Red Circle!"])
    assert _cosines(embedder.embed_texts([long_text, "A Red Circle!"]), ref).min() >= 0.999


def test_a_sentencepiece_tokenizer_without_sentencepiece_says_what_to_install(
        tiny_siglip_spm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python where sentencepiece went missing: transformers' own check fails, and the
    user reads which packages the model needs instead of an ImportError."""
    from transformers.utils import import_utils

    _, message = import_utils.BACKENDS_MAPPING["sentencepiece"]
    monkeypatch.setitem(import_utils.BACKENDS_MAPPING, "sentencepiece", (lambda: False, message))
    with pytest.raises(ModelUnavailableError, match=r"sentencepiece and protobuf.*reinstall"):
        Embedder.load(str(tiny_siglip_spm_dir), device="cpu")


@pytest.mark.parametrize("fixture", ["tiny_siglip2_naflex_dir", "tiny_chinese_clip_dir"])
def test_fine_tuning_refuses_other_families_than_clip(fixture: str,
                                                      request: pytest.FixtureRequest) -> None:
    from core.errors import UsageError
    from core.finetune.train import check_supported

    embedder = Embedder.load(str(request.getfixturevalue(fixture)), device="cpu",
                             precision="fp32")
    with pytest.raises(UsageError, match="fine-tuning supports CLIP models only"):
        check_supported(embedder.model)
