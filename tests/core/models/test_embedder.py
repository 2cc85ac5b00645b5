"""Model loading and vectors: parity with the reference transformers path, bad models."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoProcessor

from core.errors import ModelUnavailableError
from core.models import embedder as embedder_mod
from core.models import hardware
from core.models.embedder import Embedder
from core.photos.imaging import decode
from tests.support import toyworld

TEXTS = ["a red circle on grass", "a photo of a dog", "大海边的日落", ""]


def _reference(model_dir: Path, images, texts) -> tuple[np.ndarray, np.ndarray]:
    """What transformers itself gives: processor + get_*_features, L2-normalised."""
    model = AutoModel.from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    with torch.inference_mode():
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        image_out = model.get_image_features(pixel_values=pixels)
        tokens = processor(text=texts, return_tensors="pt", padding=True)
        text_out = model.get_text_features(input_ids=tokens["input_ids"],
                                           attention_mask=tokens["attention_mask"])
    vectors = []
    for out in (image_out, text_out):
        t = out if isinstance(out, torch.Tensor) else out.pooler_output
        t = torch.nn.functional.normalize(t.float(), dim=-1)
        vectors.append(t.numpy())
    return vectors[0], vectors[1]


def _toy_images(n: int = 6, size=(96, 72)) -> list:
    scenes = toyworld.random_scenes(n, seed=3)
    return toyworld.render_many(scenes, seed=3, size=size)


@pytest.mark.parametrize("fixture", ["tiny_clip_dir", "toy_clip_dir"])
def test_vectors_match_the_reference_transformers_path(fixture: str,
                                                       request: pytest.FixtureRequest) -> None:
    model_dir = request.getfixturevalue(fixture)
    images = _toy_images()
    texts = [t for t in TEXTS if t]
    ref_images, ref_texts = _reference(model_dir, images, texts)
    embedder = Embedder.load(str(model_dir), device="cpu", precision="fp32")
    ours_images = embedder.embed_images(images)
    ours_texts = embedder.embed_texts(texts)
    assert ours_images.dtype == np.float32 and ours_images.shape == ref_images.shape
    assert np.allclose(np.linalg.norm(ours_images, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(ours_images * ref_images, axis=1)) >= 0.999
    assert np.min(np.sum(ours_texts * ref_texts, axis=1)) >= 0.999


def test_jpeg_draft_decoding_keeps_vectors_close(toy_clip_dir: Path) -> None:
    """Decoding a large JPEG reduced (draft) must not change what the model sees much."""
    big = toyworld.render(toyworld.Scene("star", "yellow", "night"), seed=5, size=(1600, 1200))
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG", quality=92)
    embedder = Embedder.load(str(toy_clip_dir), device="cpu", precision="fp32")
    full, _ = decode(buffer.getvalue())
    drafted, info = decode(buffer.getvalue(), min_side=embedder.image_input.size)
    assert drafted.size[0] < full.size[0] and (info.width, info.height) == (1600, 1200)
    vectors = embedder.embed_images([full, drafted])
    assert float(vectors[0] @ vectors[1]) >= 0.99


def test_batches_give_the_same_vectors_as_single_images(tiny_clip_dir: Path) -> None:
    embedder = Embedder.load(str(tiny_clip_dir), device="cpu", precision="fp32")
    images = _toy_images(4)
    batch = embedder.embed_images(images)
    single = np.concatenate([embedder.embed_images([im]) for im in images])
    assert np.allclose(batch, single, atol=1e-5)
    assert embedder.embed_images([]).shape == (0, embedder.dim)
    assert embedder.embed_texts([]).shape == (0, embedder.dim)


def test_bf16_is_used_only_when_it_stays_close_to_fp32(
    toy_clip_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: True)
    auto = Embedder.load(str(toy_clip_dir), device="cpu")
    exact = Embedder.load(str(toy_clip_dir), device="cpu", precision="fp32")
    assert exact.precision == "fp32" and auto.precision in {"bf16", "fp32"}
    images = _toy_images(4)
    cosine = np.sum(auto.embed_images(images) * exact.embed_images(images), axis=1)
    assert cosine.min() >= 0.999
    texts = ["a blue star at night", "a green square on sand"]
    assert np.sum(auto.embed_texts(texts) * exact.embed_texts(texts), axis=1).min() >= 0.999


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="model folder not found"):
        Embedder.load(str(tmp_path / "no-such-model"), device="cpu")


def test_a_folder_without_a_clip_model_is_refused(tmp_path: Path, tiny_clip_dir: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match=r"no \.safetensors weights"):
        Embedder.load(str(tmp_path / "empty"), device="cpu")
    # A text-only model from the same files: not a CLIP-family model.
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(**{k: v for k, v in json.loads(
        (tiny_clip_dir / "config.json").read_text())["text_config"].items()
        if k in CLIPTextConfig().to_dict()})
    CLIPTextModel(config).save_pretrained(tmp_path / "text-only")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                 "special_tokens_map.json"):
        if (tiny_clip_dir / name).exists():
            (tmp_path / "text-only" / name).write_bytes((tiny_clip_dir / name).read_bytes())
    with pytest.raises(ModelUnavailableError):
        Embedder.load(str(tmp_path / "text-only"), device="cpu")


def test_unknown_or_unavailable_device_is_refused(tiny_clip_dir: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="device"):
        Embedder.load(str(tiny_clip_dir), device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelUnavailableError, match="cuda"):
            Embedder.load(str(tiny_clip_dir), device="cuda")


def test_pickled_weights_only_are_refused(tmp_path: Path, tiny_clip_dir: Path) -> None:
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_clip_dir, folder)
    model = AutoModel.from_pretrained(folder)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(ModelUnavailableError, match=r"safetensors.*pytorch_model\.bin"):
        Embedder.load(str(folder), device="cpu")


def test_models_asking_for_remote_code_are_refused(tmp_path: Path, tiny_clip_dir: Path) -> None:
    import shutil

    folder = tmp_path / "remote"
    shutil.copytree(tiny_clip_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(ModelUnavailableError, match="own Python code"):
        Embedder.load(str(folder), device="cpu")


def test_query_text_vectors_are_remembered(tiny_clip_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = Embedder.load(str(tiny_clip_dir), device="cpu", precision="fp32")
    first = embedder.text_vector("a dog on the beach")
    assert np.allclose(first, embedder.embed_texts(["a dog on the beach"])[0], atol=1e-6)
    first[:] = 0  # the caller's copy: changing it must not change the remembered vector
    runs = []
    real = embedder.embed_texts
    monkeypatch.setattr(embedder, "embed_texts", lambda texts: runs.append(texts) or real(texts))
    again = embedder.text_vector("a dog on the beach")
    assert runs == [] and np.allclose(again, real(["a dog on the beach"])[0], atol=1e-6)
    monkeypatch.setattr(embedder_mod, "TEXT_CACHE_SIZE", 2)
    for text in ("one", "two", "three"):
        embedder.text_vector(text)
    assert len(runs) == 3 and len(embedder._text_cache) == 2
    embedder.text_vector("one")  # pushed out by the bound: the model runs again
    assert len(runs) == 4


def test_the_bf16_check_runs_once_per_model_and_is_remembered(
        tiny_clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: True)
    cache = tmp_path / "precision"
    first = Embedder.load(str(tiny_clip_dir), device="cpu", precision_cache=cache)
    [record] = cache.glob("*.json")
    remembered = json.loads(record.read_text())
    assert remembered["bf16_autocast"] == first.autocast and remembered["worst_cosine"] > 0.9

    def no_probe(_size: int) -> None:
        raise AssertionError("the check ran again")

    monkeypatch.setattr(hardware, "probe_pixels", no_probe)
    again = Embedder.load(str(tiny_clip_dir), device="cpu", precision_cache=cache)
    assert again.autocast == first.autocast
    record.write_text(json.dumps({**remembered, "weights": "other weights"}))
    with pytest.raises(AssertionError, match="ran again"):  # new weights: checked anew
        Embedder.load(str(tiny_clip_dir), device="cpu", precision_cache=cache)
