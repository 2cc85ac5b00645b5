"""A faster image tower for CPUs: the model's image side exported to ONNX with its matrix
products quantized to int8 (weights per tensor, activations per batch), run by ONNX Runtime.

Why: on a CPU the image tower is half of what indexing costs (decoding is the other half).
ONNX Runtime's int8 kernels run a ViT-B/32 image tower about 1.5x as fast as PyTorch under
bf16 autocast (``bench/run.py ingest``), with vectors within cosine 0.9998 of fp32.

The build holds no copy of the whole graph: the exporter writes the graph without its
weights (a few hundred KB), and the weights are then written in straight from the PyTorch
model, one matrix at a time, already in int8, in the form ONNX Runtime's own dynamic
quantizer gives. Exporting with the weights, then ONNX Runtime's fusion and quantizer,
each held two or three copies of the graph (ViT-B/32: 2.55 GB at the peak of an index
run, over its 2 GB budget; ``bench/run.py memory``). Nor is the graph fused beforehand:
the runtime fuses what it can as it loads the tower, and the Python fusion's attention
node kept the attention's matrix products out of int8, which made the tower slower.

Building costs a few seconds per model (about 7 s for ViT-B/32 on two cores), so it is
done for large index runs only and then kept in the cache folder, keyed by the model's
files; a cached build is cheap to load and is used by every later run. The int8 vectors are
checked against fp32 on probe images and timed against PyTorch at the precision it would
use; the tower is refused (PyTorch keeps the work) when its vectors differ more than
:data:`core.models.hardware.MIN_PRECISION_COSINE` or when it is not clearly faster (tiny
models, CPUs without int8 dot products). The refusal is cached too. Text stays on PyTorch:
it is one short sequence per query and its vectors are cached.

ONNX Runtime's official builds report usage to Microsoft (1DS telemetry): once the runtime is
imported they keep an event store and a device id under ``~/.cache/Microsoft/DeveloperTools``
(``$XDG_CACHE_HOME`` if set) and, about 9 s later, a native thread resolves
``mobile.events.data.microsoft.com`` to upload. ``ORT_DISABLE_TELEMETRY=1`` in the
environment when the runtime loads stops all of it (``disable_telemetry_events()`` afterwards
does not), so this module sets it on import, before it imports the runtime.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from core.config import model_files_digest, model_slug
from core.files import read_json_object
from core.memory import trim_heap
from core.models import outputs

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

FORMAT = 3
"""Bumped when the build changes, so older cached builds are not reused."""
GRAPH_FILE = "image.graph.onnx"
MODEL_FILE = "image.int8.onnx"
META_FILE = "meta.json"
MIN_SPEEDUP = 1.15
"""The tower must beat PyTorch by this much, or it is not worth a second runtime."""
TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"

# The runtime reads it once, as it loads. Pictor imports the runtime only in this module's
# functions, so always after this line; child processes inherit it.
os.environ[TELEMETRY_ENV] = "1"

Features = npt.NDArray[np.float32]
ImageTower = Callable[[Features], Features]
"""Normalised ``(n, 3, size, size)`` float32 pixels in, the image features out."""


def available() -> bool:
    """True when ONNX Runtime and the ONNX exporter's dependencies are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


class OnnxImageTower:
    """An ONNX Runtime session over one exported image tower; thread-safe."""

    def __init__(self, path: Path, *, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # Idle runtime threads would otherwise spin for the next batch, taking the cores
        # that the decode threads need while the model waits for them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(os.fspath(path), options,
                                             providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def __call__(self, pixels: Features) -> Features:
        (features,) = self._session.run(None, {self._input: pixels})
        return np.asarray(features, dtype=np.float32)


def cache_key(folder: Path) -> str:
    """A digest of what the build depends on: the model's files and the tools' versions
    (read from the installed packages' metadata: a small run need not load the 35 MB
    runtime just to know whether a tower is cached)."""
    from importlib.metadata import PackageNotFoundError, version

    import torch  # loaded already: the model runs on it

    try:
        runtime = version("onnxruntime")
    except PackageNotFoundError:  # installed as onnxruntime-gpu, -openvino, ...
        import onnxruntime

        runtime = onnxruntime.__version__
    return model_files_digest(folder, f"{FORMAT}|{runtime}|{torch.__version__}")


def _folder(cache: Path, name: str, folder: Path) -> Path:
    return cache / f"{model_slug(name)}-{cache_key(folder)}"


def is_built(*, name: str, folder: Path, cache: Path) -> bool:
    """True when ``cache`` holds a build (or a refusal) for this model's files."""
    return _read_meta(_folder(cache, name, folder)) is not None


def load_or_build(model: Any, *, name: str, folder: Path, cache: Path, image_size: int,
                  reference: Callable[[Features], Features],
                  current: Callable[[Features], Features], probe: Features,
                  min_cosine: float, threads: int, build: bool) -> OnnxImageTower | None:
    """The model's fast image tower from ``cache``, built there first when ``build`` is set.

    ``reference`` gives fp32 features for normalised pixels (the accuracy check's yardstick),
    ``current`` the features the way PyTorch would compute them otherwise (the speed
    check's), and ``probe`` holds normalised probe images. None when the tower is missing
    and not to be built, was refused, or cannot be built here (logged, never raised).
    """
    folder_out = _folder(cache, name, folder)
    meta = _read_meta(folder_out)
    if meta is None:
        if not build:
            return None
        meta = _build(model, folder_out, image_size, reference, current, probe, min_cosine,
                      threads)
        if meta is None:
            return None
    if not meta.get("accepted"):
        return None
    try:
        return OnnxImageTower(folder_out / MODEL_FILE, threads=threads)
    except Exception as error:  # a damaged cache file: forget it, PyTorch does the work
        log.warning("cannot load the cached image tower %s: %s", folder_out, error)
        shutil.rmtree(folder_out, ignore_errors=True)
        return None


def _read_meta(folder: Path) -> dict[str, Any] | None:
    meta = read_json_object(folder / META_FILE)
    if meta is None or meta.get("format") != FORMAT:
        return None
    if meta.get("accepted") and not (folder / MODEL_FILE).is_file():
        return None
    return meta


def _build(model: Any, dest: Path, image_size: int, reference: Callable[[Features], Features],
           current: Callable[[Features], Features], probe: Features, min_cosine: float,
           threads: int) -> dict[str, Any] | None:
    """Export, quantize and check; write the result (or the refusal) to ``dest``."""
    started = time.perf_counter()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".building-", dir=dest.parent) as tmp:
        work = Path(tmp)
        meta: dict[str, Any] = {"format": FORMAT, "accepted": False}
        try:
            with _quiet():
                tower = _tower_module(model)
                _export(tower, work / GRAPH_FILE, image_size)
                trim_heap(collect=True)  # the exporter's trace, before the weights come in
                _quantize(work / GRAPH_FILE, tower, work / MODEL_FILE)
                del tower
                trim_heap(collect=True)
            session = OnnxImageTower(work / MODEL_FILE, threads=threads)
            cosine = _worst_cosine(reference(probe), session(probe))
            speedup = _speedup(session, current, probe)
            meta.update(accepted=cosine >= min_cosine and speedup >= MIN_SPEEDUP,
                        worst_cosine=round(cosine, 6), speedup=round(speedup, 2))
        except Exception as error:  # an architecture the exporter cannot handle: remembered
            log.warning("cannot build a fast image tower, PyTorch stays: %s: %s",
                        type(error).__name__, error)
            meta["error"] = f"{type(error).__name__}: {error}"[:500]
        accepted = bool(meta["accepted"])
        meta["built_s"] = round(time.perf_counter() - started, 1)
        (work / GRAPH_FILE).unlink(missing_ok=True)
        if not accepted:
            (work / MODEL_FILE).unlink(missing_ok=True)
        (work / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
        with contextlib.suppress(OSError):  # another process built it at the same time
            work.rename(dest)
    log.info("fast image tower for %s: %s", dest.name, meta)
    return _read_meta(dest)


class _DropRootRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "root"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep the exporter's and optimiser's chatter out of the user's terminal: the ONNX
    tools print to stdout (which would spoil ``--json`` output) and log to the root logger."""
    drop = _DropRootRecords()
    logging.getLogger().addFilter(drop)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.getLogger().removeFilter(drop)


def _tower_module(model: Any) -> torch.nn.Module:
    """The image tower as a module of its own, as the exporter wants one."""
    import torch

    class Tower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return outputs.features(self.model.get_image_features(pixel_values=pixel_values))

    return Tower().eval()


def _export(tower: torch.nn.Module, path: Path, image_size: int) -> None:
    """The tower's graph alone: its weights become named inputs (``_quantize`` fills them)
    and nothing is folded, so no weight is copied (folding would transpose every matrix)."""
    import torch

    example = torch.zeros(2, 3, image_size, image_size)
    with torch.no_grad():
        torch.onnx.export(tower, (example,), os.fspath(path),
                          input_names=["pixel_values"], output_names=["features"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "features": {0: "batch"}},
                          opset_version=17, dynamo=False, export_params=False,
                          do_constant_folding=False)


def _quantize(graph_path: Path, tower: torch.nn.Module, dest: Path) -> None:
    """The exported graph with its weights in: every ``MatMul`` by a weight matrix becomes
    ONNX Runtime's dynamic int8 pattern (what its ``quantize_dynamic`` writes for
    ``MatMul``, which the runtime fuses into one kernel as it loads), any other weight goes
    in as it is. Only one float matrix is held at a time, beside the int8 ones."""
    import onnx

    proto = onnx.load(os.fspath(graph_path))
    graph = proto.graph
    named: dict[str, torch.Tensor] = dict(tower.named_parameters(remove_duplicate=False))
    named.update(tower.named_buffers(remove_duplicate=False))
    weights = {value.name: named[value.name] for value in graph.input if value.name in named}
    missing = [value.name for value in graph.input[1:] if value.name not in weights]
    if missing:
        raise ValueError(f"the exported graph wants inputs the model lacks: {missing[:3]}")
    matrices = {name for name, tensor in weights.items()
                if tensor.dim() == 2 and tensor.is_floating_point()}
    as_matrix = {node.input[1] for node in graph.node if node.op_type == "MatMul"}
    elsewhere = {name for node in graph.node for i, name in enumerate(node.input)
                 if node.op_type != "MatMul" or i != 1}
    # The exporter writes x @ W.T as MatMul(x, Transpose(W)): the transpose is done here.
    transposed = {node.output[0]: node.input[0] for node in graph.node
                  if node.op_type == "Transpose" and node.input[0] in matrices
                  and [list(a.ints) for a in node.attribute] == [[1, 0]]
                  and node.output[0] in as_matrix and node.output[0] not in elsewhere}
    nodes: list[onnx.NodeProto] = []
    quantized_inputs: set[str] = set()
    used: set[str] = set()
    for node in graph.node:
        if node.op_type == "Transpose" and node.output[0] in transposed:
            continue
        matrix = node.input[1] if node.op_type == "MatMul" else ""
        if matrix in transposed or matrix in matrices:
            tensor = weights[transposed.get(matrix, matrix)].detach()
            values = (tensor.t() if matrix in transposed else tensor).contiguous().numpy()
            graph.initializer.extend(_int8_matrix(values, matrix))
            del values
            nodes += _int8_matmul(node, matrix, quantized_inputs)
            continue
        used.update(name for name in node.input if name in weights)
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    for name in sorted(used):
        graph.initializer.append(
            onnx.numpy_helper.from_array(weights[name].detach().contiguous().numpy(), name))
    inputs = [value for value in graph.input if value.name not in weights]
    del graph.input[:]
    graph.input.extend(inputs)
    onnx.save(proto, os.fspath(dest))


def _int8_matrix(values: npt.NDArray[np.float32], name: str) -> list[Any]:
    """A weight matrix as symmetric int8 with one scale (ONNX Runtime's default for weights:
    zero point 0, the largest magnitude at 127)."""
    from onnx import numpy_helper

    largest = float(np.max(np.abs(values))) if values.size else 0.0
    scale = np.float32(largest / 127.0 if largest > 0 else 1.0)
    quantized = np.clip(np.rint(values / scale), -127, 127).astype(np.int8)
    return [numpy_helper.from_array(quantized, name + "_quantized"),
            numpy_helper.from_array(np.array(scale, np.float32), name + "_scale"),
            numpy_helper.from_array(np.array(0, np.int8), name + "_zero_point")]


def _int8_matmul(node: Any, matrix: str, quantized_inputs: set[str]) -> list[Any]:
    """``node`` (MatMul by ``matrix``) as: its input quantized per batch (once per input,
    shared by the matrices it feeds), an integer product, and the two scales applied."""
    from onnx import TensorProto, helper

    source, out = node.input[0], node.output[0]
    nodes = []
    if source not in quantized_inputs:
        quantized_inputs.add(source)
        nodes.append(helper.make_node(
            "DynamicQuantizeLinear", [source],
            [source + "_quantized", source + "_scale", source + "_zero_point"],
            name=source + "_QuantizeLinear"))
    nodes += [
        helper.make_node("Mul", [source + "_scale", matrix + "_scale"], [out + "_scales"],
                         name=node.name + "_quant_scales_mul"),
        helper.make_node("MatMulInteger", [source + "_quantized", matrix + "_quantized",
                                           source + "_zero_point", matrix + "_zero_point"],
                         [out + "_int32"], name=node.name + "_quant"),
        helper.make_node("Cast", [out + "_int32"], [out + "_float"], to=TensorProto.FLOAT,
                         name=node.name + "_quant_cast"),
        helper.make_node("Mul", [out + "_float", out + "_scales"], [out],
                         name=node.name + "_quant_output_scale_mul"),
    ]
    return nodes


def _speedup(tower: OnnxImageTower, current: Callable[[Features], Features],
             probe: Features) -> float:
    """How many times faster the tower is than PyTorch on a batch of 16 (best of three
    interleaved timings each, so a burst of other work hurts neither side alone)."""
    batch = np.ascontiguousarray(np.resize(probe, (16, *probe.shape[1:])))
    tower(batch[:2])
    current(batch[:2])
    best = {"tower": float("inf"), "torch": float("inf")}
    for _ in range(3):
        for side, run in (("tower", tower), ("torch", current)):
            start = time.perf_counter()
            run(batch)
            best[side] = min(best[side], time.perf_counter() - start)
    return best["torch"] / best["tower"]


def _worst_cosine(a: Features, b: Features) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(np.min(np.sum(a * b, axis=1)))
