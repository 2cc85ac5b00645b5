"""A model folder's files, checked so that a bad one is a sentence, not a stack of errors.

Before transformers reads a folder, :func:`check_folder` refuses pickled weights, code that
comes with a model, a config.json that is not JSON, and weights files that are not whole
safetensors files (:func:`safetensors_problem` reads only their header: never a tensor,
never a pickle). After, :func:`check_loaded` refuses weights that do not fill the model.

A safetensors file is an 8-byte little-endian header length, a JSON header giving each
tensor's byte range, then the tensors' bytes, which must fill the rest of the file exactly.
The safetensors library rejects a bad file with "Error while deserializing header: header
too large"; :func:`safetensors_problem` says what the file is instead: empty, a pickle
renamed, cut short, damaged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from core.errors import ModelUnavailableError
from core.files import read_json_object
from core.units import human_size

MAX_HEADER_BYTES: Final = 100_000_000
"""The safetensors library's own limit on the header."""
_PICKLE: Final = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))
_ZIP: Final = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6: a zip of pickles
_DAMAGED: Final = "it is damaged, or not a safetensors file at all"


def check_folder(folder: Path, name: str) -> None:
    """Refuse folders that would need pickled weights or code from the model's authors,
    and those whose config.json or safetensors weights are broken.

    transformers would refuse too (``use_safetensors=True``, ``trust_remote_code=False``)
    or fail somewhere inside; checking first gives the user a sentence instead of a stack
    of library errors.
    """
    if not any(folder.glob("*.safetensors")):
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in {".bin", ".pt", ".pth"})
        found = f" (it has {', '.join(pickles)})" if pickles else ""
        raise ModelUnavailableError(
            f"model {name} has no .safetensors weights{found}: Pictor loads only safetensors, "
            "which cannot run code. Convert the weights with transformers' save_pretrained "
            "on a trusted machine, or choose another model"
        )
    config = folder / "config.json"
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except OSError:
        raise ModelUnavailableError(f"model {name} has no readable config.json") from None
    except ValueError:
        raise ModelUnavailableError(
            f"model {name} cannot be loaded: its config.json ({config}) is not valid JSON"
        ) from None
    if not isinstance(settings, dict):
        raise ModelUnavailableError(
            f"model {name} cannot be loaded: its config.json ({config}) holds no settings "
            "(a JSON object)")
    if "auto_map" in settings:
        raise ModelUnavailableError(
            f"model {name} asks to run its own Python code (auto_map in config.json); "
            "Pictor never runs code that comes with a model"
        )
    for weights in _weight_files(folder):
        why = safetensors_problem(weights)
        if why is not None:
            raise ModelUnavailableError(
                f"model {name} cannot be loaded: {weights} is not a valid safetensors file: "
                f"{why}; replace it with a good copy of the model")


def _weight_files(folder: Path) -> list[Path]:
    """The safetensors files transformers reads for a whole model: ``model.safetensors``,
    else the shards its index names (one missing is transformers' to report)."""
    single = folder / "model.safetensors"
    if single.exists():
        return [single]
    index = read_json_object(folder / "model.safetensors.index.json") or {}
    shards = index.get("weight_map")
    names = sorted(set(shards.values())) if isinstance(shards, dict) else []
    return [folder / n for n in names
            if isinstance(n, str) and "/" not in n and (folder / n).exists()]


def check_loaded(name: str, loaded: dict[str, Any], tensors: int) -> None:
    """Refuse weights that do not fill the model: transformers would put random numbers
    where tensors are missing or of another size, and every vector would be meaningless."""
    missing = sorted(loaded["missing_keys"])
    other = sorted(str(key[0] if isinstance(key, tuple) else key)
                   for key in loaded["mismatched_keys"])
    if not missing and not other:
        return
    counts = " and ".join(part for part in (
        f"lack {len(missing)}" if missing else "",
        f"hold {len(other)} in another shape" if other else "") if part)
    shown = ", ".join([*missing, *other][:3]) + (", ..." if len(missing) + len(other) > 3 else "")
    raise ModelUnavailableError(
        f"model {name} cannot be loaded: of the {tensors} tensors its config.json describes, "
        f"its weights {counts} ({shown}); they belong to another model or were saved "
        "incompletely")


def safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a whole safetensors file (``"it is empty"``, ``"it is cut short:
    6.8 MB of 13.5 MB"``), or None when its header is sound and its tensors fill it."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = handle.read(8)
            length = int.from_bytes(start, "little")
            sound = len(start) == 8 and length <= min(size, MAX_HEADER_BYTES)
            header = handle.read(length) if sound else b""  # never a damaged file's GBs
    except OSError as error:
        return f"it cannot be read ({(error.strerror or str(error)).lower()})"
    if size == 0:
        return "it is empty"
    if start.startswith(_PICKLE):
        return "it is a Python pickle, which Pictor never loads (it could run code)"
    if start.startswith(_ZIP):
        return ("it is a PyTorch checkpoint, a zip of pickles, which Pictor never loads (it "
                "could run code)")
    if len(start) < 8:
        return f"it is cut short: only {human_size(size)}"
    if length > MAX_HEADER_BYTES:  # random bytes, most likely
        return _DAMAGED
    if 8 + length > size:
        return f"it is cut short: only {human_size(size)}"
    try:
        tensors = json.loads(header.decode("utf-8"))
        end = max([_end(info) for key, info in tensors.items() if key != "__metadata__"],
                  default=0)
    except (ValueError, TypeError, AttributeError, KeyError):
        return _DAMAGED
    needed = 8 + length + end
    if needed > size:
        return f"it is cut short: {human_size(size)} of {human_size(needed)}"
    if needed < size:
        return "it is damaged: its header does not account for all of its bytes"
    return None


def _end(info: object) -> int:
    """Where a tensor's bytes end, from its header entry (raises on a malformed one)."""
    begin, end = info["data_offsets"]  # type: ignore[index]
    if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
        raise ValueError(f"bad data_offsets {begin!r}, {end!r}")
    return end
