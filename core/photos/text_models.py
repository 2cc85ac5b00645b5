"""The OCR models that read text in photos: PP-OCRv6 small detection and recognition and the
PP-OCR text-direction classifier, as ONNX files shipped inside the ``rapidocr`` wheel.

Pictor builds the ONNX Runtime sessions itself and hands them to rapidocr's detector,
classifier and recognizer, so rapidocr's own loader, the one that downloads a model it does
not find, never runs: a missing file raises :class:`ModelUnavailableError` here instead. The
recognizer's alphabet is read from the model's metadata (checked before use: without it
rapidocr would fetch a dictionary file).

rapidocr logs INFO lines to the terminal through a handler of its own; once loaded, its
logger keeps WARNING and up and hands them to Python's logging like any other library.
rapidocr, OpenCV, Shapely and ONNX Runtime are imported on first use only (about 0.5 s).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from core.errors import ModelUnavailableError

DETECTOR_FILE = "PP-OCRv6_det_small.onnx"
RECOGNIZER_FILE = "PP-OCRv6_rec_small.onnx"
CLASSIFIER_FILE = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
_ALPHABET_KEY = "character"
_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"
_RAPIDOCR_LOGGER = "RapidOCR"

DETECTOR_MEAN = (0.5, 0.5, 0.5)
DETECTOR_STD = (0.5, 0.5, 0.5)
"""The same for the three channels (detector_input relies on it)."""


@dataclass(frozen=True)
class OcrModels:
    """Loaded models, thread-safe to call (ONNX Runtime sessions are; rapidocr's
    classifier and recognizer keep no state between calls).

    ``detect(pixels)`` runs the detection network on normalised ``(1, 3, h, w)`` pixels;
    ``postprocess(probabilities, (height, width))`` turns its map into boxes and scores,
    ``gate`` likewise with the gate's thresholds;
    ``classify`` and ``recognize`` are rapidocr's, ``parts`` its modules."""

    detect: Any
    postprocess: Any
    gate: Any
    classify: Any
    recognize: Any
    parts: SimpleNamespace
    providers: tuple[str, ...]


def model_folder() -> Path:
    """Where the installed ``rapidocr`` package keeps its models (not imported to find it)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise ModelUnavailableError(
            "reading text in photos needs the rapidocr package, which is not installed")
    return Path(spec.origin).parent / "models"


def model_paths() -> dict[str, Path]:
    """The three model files by task; each one must exist and be a file."""
    folder = model_folder()
    paths = {"det": folder / DETECTOR_FILE, "cls": folder / CLASSIFIER_FILE,
             "rec": folder / RECOGNIZER_FILE}
    for path in paths.values():
        if not path.is_file():
            raise ModelUnavailableError(
                f"the text-reading model {path.name} is missing from {folder}: reinstall "
                "rapidocr (Pictor never downloads it)")
    return paths


def providers_for(device: str) -> list[str]:
    """ONNX Runtime's CUDA provider first when asked for and installed, else the CPU's."""
    import onnxruntime as ort

    if device == "cuda" and _CUDA in ort.get_available_providers():
        return [_CUDA, _CPU]
    return [_CPU]


def _sessions(paths: dict[str, Path], providers: list[str],
              threads: int | None) -> dict[str, Any]:
    """A session for each model file, by task; ModelUnavailableError if one will not load."""
    try:
        return {task: _session(path, providers, threads) for task, path in paths.items()}
    except Exception as error:  # a damaged file, an unusable provider
        detail = (str(error).strip().splitlines() or [""])[0][:200]
        raise ModelUnavailableError(
            f"the text-reading models cannot be loaded ({type(error).__name__}: {detail})"
        ) from error


def _session(path: Path, providers: list[str], threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    # Idle runtime threads would otherwise spin after each photo, taking the cores that
    # decoding and the image model need; photos come one at a time, sizes vary.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    chosen: list[Any] = [
        (name, {"cudnn_conv_algo_search": "HEURISTIC"}) if name == _CUDA else name
        for name in providers]
    return ort.InferenceSession(os.fspath(path), options, providers=chosen)


_MODULES = {
    "det_utils": "rapidocr.ch_ppocr_det.utils",
    "cls": "rapidocr.ch_ppocr_cls", "rec": "rapidocr.ch_ppocr_rec",
    "rec_types": "rapidocr.ch_ppocr_rec.typings", "images": "rapidocr.utils.process_img",
    "params": "rapidocr.utils.parse_parameters",
}


_lock = threading.Lock()


def _parts() -> SimpleNamespace:
    """rapidocr's modules, imported now (typed as Any: the package has no annotations),
    and its terminal handler removed, which importing it installs."""
    _import_urllib3_without_probe()
    parts = SimpleNamespace(**{name: importlib.import_module(module)
                               for name, module in _MODULES.items()})
    quiet_rapidocr()
    return parts


def _import_urllib3_without_probe() -> None:
    """rapidocr imports requests (for downloads Pictor never lets it make), and urllib3
    probes for IPv6 as it is imported by binding a socket on ::1: not traffic, but a socket
    no offline application should open. Nothing in Pictor speaks HTTP through urllib3, so
    it is imported with the probe's answer given ("no IPv6": plain IPv4 lookups)."""
    if "urllib3" in sys.modules:
        return
    with _lock:
        had_ipv6 = socket.has_ipv6
        socket.has_ipv6 = False
        try:
            importlib.import_module("urllib3")
        finally:
            socket.has_ipv6 = had_ipv6


def quiet_rapidocr() -> None:
    """rapidocr's logger without its own terminal handler: INFO is dropped, WARNING and up
    go to Python's logging (where the application decides what is shown)."""
    logger = logging.getLogger(_RAPIDOCR_LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = True


def _config(parts: SimpleNamespace, sessions: dict[str, Any]) -> Any:
    """rapidocr's default configuration, the classifier and the recognizer each given its
    ready session (rapidocr's loader then uses it as is: no model path is resolved,
    nothing is downloaded)."""
    config = parts.params.ParseParams.load(model_folder().parent / "config.yaml")
    config._set_flag("allow_objects", True)  # the sessions are Python objects
    for task, name in (("cls", "Cls"), ("rec", "Rec")):
        section = config[name]
        section.engine_cfg = config.EngineConfig.onnxruntime
        section.session = sessions[task]
    config.Rec.font_path = None
    return config


class _Detector:
    """The detection network: normalised ``(1, 3, h, w)`` pixels in, ``(1, 1, h, w)`` text
    probabilities out."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name

    def __call__(self, pixels: Any) -> Any:
        return self._session.run(None, {self._input: pixels})[0]


def load(*, device: str = "cpu", threads: int | None = None,
         read_thresholds: tuple[float, float] = (0.3, 0.5),
         gate_thresholds: tuple[float, float] = (0.3, 0.5),
         int8_cache: Path | None = None) -> OcrModels:
    """The three models in sessions on ``device`` ("cpu" or "cuda": CUDA when ONNX Runtime
    has it, else the CPU), ``threads`` intra-op threads each (None: the runtime's choice);
    ``read_thresholds`` and ``gate_thresholds``: the least probability of a text pixel and
    the least mean probability in a box, for a full read's detection and for the gate's.
    With ``int8_cache`` on a CPU, detection runs the int8 network (core.photos.text_int8)
    kept there, built first if need be, unless its check refused it."""
    paths = model_paths()
    providers = providers_for(device)
    sessions = _sessions({task: paths[task] for task in ("cls", "rec")}, providers, threads)
    if _ALPHABET_KEY not in sessions["rec"].get_modelmeta().custom_metadata_map:
        raise ModelUnavailableError(
            f"the text-reading model {RECOGNIZER_FILE} carries no alphabet: reinstall rapidocr")
    parts = _parts()
    config = _config(parts, sessions)
    int8 = _int8_detector(paths["det"], int8_cache, parts, threads) \
        if int8_cache is not None and providers == [_CPU] else None
    # The float network is opened only when the int8 one is not used.
    sessions["det"] = int8 or _sessions({"det": paths["det"]}, providers, threads)["det"]
    return OcrModels(
        detect=_Detector(sessions["det"]), postprocess=_boxes(parts, read_thresholds),
        gate=_boxes(parts, gate_thresholds), classify=parts.cls.TextClassifier(config.Cls),
        recognize=parts.rec.TextRecognizer(config.Rec), parts=parts,
        providers=tuple(sessions["det"].get_providers()))


def detector_input(parts: SimpleNamespace, pixels: Any, side: int) -> Any:
    """BGR ``pixels`` as the detection network takes them: resized (rapidocr's way) to a
    long side of at most ``side``, both sides multiples of 32, normalised to -1..1 in
    ``(1, 3, h, w)`` float32; None when nothing is left of the picture. (rapidocr's own
    normalisation computes in float64: a tenth of the gate's time.)"""
    resized = parts.det_utils.DetPreProcess(side, "max", DETECTOR_MEAN, DETECTOR_STD).resize(
        pixels)
    if resized is None:
        return None
    scaled = resized.astype(np.float32)
    scaled *= np.float32(1 / (255 * DETECTOR_STD[0]))
    scaled -= np.float32(DETECTOR_MEAN[0] / DETECTOR_STD[0])
    return np.ascontiguousarray(scaled.transpose(2, 0, 1)[np.newaxis])


def _int8_detector(detector: Path, cache: Path, parts: SimpleNamespace,
                   threads: int | None) -> Any:
    """A session of the int8 detection network, or None (refused, or its build or load
    failed: the float network works as before, so a failure here is logged, never raised;
    a cached build that will not load is removed, to be built again next time)."""
    from core.photos import text_int8

    def prepare(pixels: Any, side: int) -> Any:
        return detector_input(parts, pixels, side)

    model = None
    try:
        model = text_int8.load_or_build(detector, cache, prepare)
        return None if model is None else _session(model, [_CPU], threads)
    except Exception:  # a full disk, a quantizer that fails on this runtime, a bad file
        logging.getLogger(__name__).warning(
            "cannot build or load the int8 text detector; the float one is used",
            exc_info=True)
        if model is not None:
            text_int8.forget(model)
        return None


def _boxes(parts: SimpleNamespace, thresholds: tuple[float, float]) -> Any:
    """rapidocr's post-processing of the detection map into boxes (its defaults otherwise)."""
    return parts.det_utils.DBPostProcess(
        thresh=thresholds[0], box_thresh=thresholds[1], unclip_ratio=1.6, use_dilation=True,
        score_mode="fast")
