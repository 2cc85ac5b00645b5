"""The int8 ONNX Runtime image tower: built once, checked against fp32, cached, refused and
remembered when not good enough, and switched on by large index runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.config import FAST_IMAGES_DIR
from core.library import Library
from core.models import fast_images
from core.models.embedder import Embedder
from core.models.hardware import MIN_PRECISION_COSINE
from core.sync.runs import FAST_IMAGES_ENV
from tests.support import toyworld

pytestmark = pytest.mark.skipif(not fast_images.available(), reason="onnxruntime missing")


def _pixels(embedder: Embedder, n: int = 6) -> np.ndarray:
    side = embedder.image_input.size
    return np.random.default_rng(3).integers(0, 256, (n, side, side, 3), dtype=np.uint8)


def _meta(cache: Path) -> dict[str, object]:
    (path,) = cache.glob(f"*/{fast_images.META_FILE}")
    result: dict[str, object] = json.loads(path.read_text())
    return result


def _never_build(*args: object, **kwargs: object) -> None:
    raise AssertionError("built again instead of using the cached result")


@pytest.fixture
def any_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accept the tower whatever its speed: tiny test models say nothing about speed."""
    monkeypatch.setattr(fast_images, "MIN_SPEEDUP", 0.0)


@pytest.mark.usefixtures("any_speed")
def test_the_int8_tower_matches_fp32_and_is_reused_from_the_cache(
        tiny_clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    embedder = Embedder.load(str(tiny_clip_dir), device="cpu", precision="fp32")
    pixels = _pixels(embedder)
    reference = embedder.embed_pixels(pixels)
    assert embedder.has_fast_images(cache) is False
    assert embedder.use_fast_images(cache, build=True)
    assert embedder.precision == "int8"
    fast = embedder.embed_pixels(pixels)
    assert fast.shape == reference.shape
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(fast * reference, axis=1))) >= MIN_PRECISION_COSINE
    meta = _meta(cache)
    assert meta["accepted"] is True and float(meta["worst_cosine"]) >= MIN_PRECISION_COSINE

    monkeypatch.setattr(fast_images, "_build", _never_build)
    again = Embedder.load(str(tiny_clip_dir), device="cpu", precision="fp32")
    assert again.has_fast_images(cache) is True
    assert again.use_fast_images(cache, build=False)
    assert np.allclose(again.embed_pixels(pixels), fast, atol=1e-6)


def test_a_tower_that_is_not_faster_is_refused_once_and_pytorch_stays(
        tiny_clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(fast_images, "MIN_SPEEDUP", 1e9)
    embedder = Embedder.load(str(tiny_clip_dir), device="cpu", precision="fp32")
    before = embedder.embed_pixels(_pixels(embedder))
    assert not embedder.use_fast_images(cache, build=True)
    assert embedder.precision == "fp32"
    assert np.array_equal(embedder.embed_pixels(_pixels(embedder)), before)
    meta = _meta(cache)
    assert meta["accepted"] is False and "speedup" in meta
    assert not list(cache.glob(f"*/{fast_images.MODEL_FILE}"))  # no dead weight kept
    monkeypatch.setattr(fast_images, "_build", _never_build)  # the refusal is remembered
    assert embedder.has_fast_images(cache) is True
    assert not embedder.use_fast_images(cache, build=True)


@pytest.mark.usefixtures("any_speed")
def test_the_build_never_holds_the_graph_with_its_weights_and_quantizes_every_matrix(
        tiny_clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What kept an index run's peak over its 2 GB budget (2.55 GB for ViT-B/32): the
    exporter, ONNX Runtime's fusion and its quantizer each held whole copies of the graph
    with its weights. Now the graph is exported bare and the weights go in one at a time,
    already int8; and every matrix product by a weight runs in int8 (the fusion's attention
    node had kept the attention's out of it)."""
    import onnx
    import torch

    embedder = Embedder.load(str(tiny_clip_dir), device="cpu", precision="fp32")
    tower = embedder.model.vision_model
    weight_bytes = sum(p.numel() * 4 for p in tower.parameters())
    graphs: list[int] = []
    quantize = fast_images._quantize

    def measured(graph: Path, *args: object) -> None:
        graphs.append(graph.stat().st_size)
        quantize(graph, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(fast_images, "_quantize", measured)
    monkeypatch.setattr("onnxruntime.quantization.quantize_dynamic", _never_build)
    assert embedder.use_fast_images(tmp_path / "cache", build=True)
    assert len(graphs) == 1 and graphs[0] < weight_bytes / 4  # no weights in the export
    (built,) = (tmp_path / "cache").glob(f"*/{fast_images.MODEL_FILE}")
    model = onnx.load(str(built))
    ops = [node.op_type for node in model.graph.node]
    linears = [m for m in [*tower.modules(), embedder.model.visual_projection]
               if isinstance(m, torch.nn.Linear)]
    assert ops.count("MatMulInteger") == len(linears) and "Attention" not in ops
    weights = {t.name for t in model.graph.initializer}
    assert not [n for n in model.graph.node  # no float product by a weight, transposed or not
                if (n.op_type == "MatMul" and n.input[1] in weights)
                or (n.op_type == "Transpose" and n.input[0] in weights)]


@pytest.mark.usefixtures("any_speed")
def test_a_model_the_exporter_cannot_handle_keeps_pytorch(
        tiny_clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(fast_images, "_export", fail)
    embedder = Embedder.load(str(tiny_clip_dir), device="cpu", precision="fp32")
    assert not embedder.use_fast_images(tmp_path / "cache", build=True)
    assert "unsupported operator" in str(_meta(tmp_path / "cache")["error"])
    assert embedder.embed_pixels(_pixels(embedder)).shape == (6, embedder.dim)


@pytest.mark.usefixtures("any_speed")
def test_a_damaged_cached_tower_is_dropped_and_pytorch_does_the_work(
        tiny_clip_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert Embedder.load(str(tiny_clip_dir), device="cpu").use_fast_images(cache, build=True)
    (model_file,) = cache.glob(f"*/{fast_images.MODEL_FILE}")
    model_file.write_bytes(b"not an onnx model")
    embedder = Embedder.load(str(tiny_clip_dir), device="cpu")
    assert not embedder.use_fast_images(cache, build=False)
    assert not model_file.parent.exists()
    assert embedder.embed_pixels(_pixels(embedder)).shape == (6, embedder.dim)


@pytest.mark.usefixtures("any_speed")
def test_a_large_index_run_prepares_the_tower_first_and_search_still_finds(
        toy_clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.sync.runs.FAST_IMAGES_MIN_PHOTOS", 8)
    monkeypatch.setenv("PICTOR_CACHE_DIR", str(tmp_path / "cache"))
    others = [s for s in toyworld.random_scenes(30, seed=4)
              if (s.shape, s.colour) != ("circle", "red")]
    scenes = [toyworld.Scene("circle", "red", "grass"), *others[:9]]
    paths = toyworld.write_photos(tmp_path / "photos", scenes, seed=4)
    with Library(tmp_path / "data", model=str(toy_clip_dir), device="cpu") as lib:
        steps = list(lib.index([tmp_path / "photos"], batch_size=4))
        phases = [s.phase for s in steps]
        assert "optimise" in phases
        assert phases.index("optimise") < max(i for i, p in enumerate(phases) if p == "embed")
        assert steps[-1].indexed == 10 and lib.embedder.precision == "int8"
        assert (tmp_path / "cache" / FAST_IMAGES_DIR).is_dir()
        hits = lib.search("a red circle", min_score=0)
        assert hits[0].path == str(paths[0].resolve())


def test_small_runs_and_the_off_switch_keep_pytorch(
        tiny_clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTOR_CACHE_DIR", str(tmp_path / "cache"))
    toyworld.write_photos(tmp_path / "photos", toyworld.random_scenes(3, seed=2), seed=2)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as lib:
        assert "optimise" not in {s.phase for s in lib.index([tmp_path / "photos"])}
        assert lib.embedder.precision != "int8"
    monkeypatch.setattr("core.sync.runs.FAST_IMAGES_MIN_PHOTOS", 1)
    monkeypatch.setenv(FAST_IMAGES_ENV, "0")
    toyworld.write_photos(tmp_path / "more", toyworld.random_scenes(3, seed=5), seed=5)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as lib:
        assert "optimise" not in {s.phase for s in lib.index([tmp_path / "more"])}
        assert lib.embedder.precision != "int8"
    assert not (tmp_path / "cache" / FAST_IMAGES_DIR).exists()


def test_a_machine_short_of_memory_keeps_pytorch_instead_of_building_the_tower(
        tiny_clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Preparing the tower costs about one copy of the image tower's weights and a margin:
    with less free memory than that, the run embeds with PyTorch and builds nothing."""
    monkeypatch.setenv("PICTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("core.sync.runs.FAST_IMAGES_MIN_PHOTOS", 1)
    monkeypatch.setattr("core.sync.runs.available_bytes", lambda: 256 * 2**20)
    toyworld.write_photos(tmp_path / "photos", toyworld.random_scenes(3, seed=6), seed=6)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as lib:
        steps = list(lib.index([tmp_path / "photos"]))
        assert "optimise" not in {s.phase for s in steps}
        assert steps[-1].indexed == 3 and lib.embedder.precision != "int8"
    assert not (tmp_path / "cache" / FAST_IMAGES_DIR).exists()
