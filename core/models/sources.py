"""Where a model's files come from: a local folder, the Hugging Face cache, or a download;
and the record that says a folder is a fine-tuned version of another model.

Nothing here imports torch or transformers, and ``huggingface_hub`` only inside
:func:`resolve_model`. The default model is named in :mod:`core.defaults`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ModelUnavailableError
from core.files import read_json_object

DownloadCallback = Callable[[int, int], None]
"""Called with ``(bytes_done, bytes_total)`` while a model downloads."""

# A fine-tuned version (core/finetune/run.py): its record, and the parts that trained.
VERSION_RECORD = "pictor-finetune.json"
VERSION_PARTS = "pictor-trained-parts.safetensors"
# Only what loading needs: weights as safetensors (never pickles), configs, tokenizers.
MODEL_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]


def resolve_model(name: str, *, on_download: DownloadCallback | None = None) -> Path:
    """The local folder of a model given as a folder path or a Hugging Face hub id.

    A hub id is taken from the local cache when it is there, else downloaded (only the
    files needed: configs, tokenizer, safetensors weights).
    """
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return candidate.resolve()
    if name.startswith((".", "/", "~", "\\")) or candidate.suffix or name.count("/") != 1:
        raise ModelUnavailableError(
            f"model folder not found: {name} (give a folder that holds a saved CLIP-family "
            "model, or a Hugging Face id such as openai/clip-vit-base-patch32)"
        )
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, allow_patterns=MODEL_FILES, local_files_only=True))
    except Exception:  # not cached: fall through to a download
        pass
    hint = (
        f"model {name} is not on this computer and could not be downloaded"
        f" (offline?). Download it once on a connected machine, or pass --model "
        f"/path/to/folder with a saved copy of it"
    )
    if os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"):
        raise ModelUnavailableError(hint.replace(" (offline?)", " (offline mode is on)"))
    try:
        return Path(
            snapshot_download(
                name, allow_patterns=MODEL_FILES, tqdm_class=_progress_class(on_download)
            )
        )
    except Exception as error:
        raise ModelUnavailableError(f"{hint}: {error}") from error


def _progress_class(on_download: DownloadCallback | None) -> Any:
    """A tqdm stand-in that forwards byte counts to a callback (and draws nothing)."""
    from tqdm.auto import tqdm

    class _Reporter(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._done = 0

        def update(self, n: float | None = 1) -> bool | None:
            self._done += int(n or 0)
            if on_download is not None and self.total:
                on_download(self._done, int(self.total))
            return None

    return _Reporter


def version_record(folder: Path, name: str) -> dict[str, Any] | None:
    """The record of a fine-tuned version saved as its trained parts (None for a whole
    model): ``base_model`` is what it was trained from. See core/finetune/run.py."""
    if not (folder / VERSION_PARTS).is_file():
        return None
    record = read_json_object(folder / VERSION_RECORD)
    if record is None or "base_model" not in record:
        raise ModelUnavailableError(
            f"the fine-tuned version {name} has no readable {VERSION_RECORD}")
    return record
