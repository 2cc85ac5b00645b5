"""What each kind of long job does to the library, as a generator of progress whose return
value is the job's result. Run on the writer thread by :class:`desktop.jobs.JobRunner`,
started by :class:`desktop.engine.Engine`; nothing here knows about Qt.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.finetune.run import FinetuneProgress
    from core.library import Library
    from core.types import Progress

INDEX_BATCH = 16
"""Smaller than the command line's batches, so a search waits less between two of them."""


def index(library: Library, folders: Sequence[str]) -> Generator[Progress, None, None]:
    """Index folders (every library folder when ``folders`` is empty)."""
    yield from library.index(list(folders) or None, batch_size=INDEX_BATCH)


def index_files(library: Library, paths: Sequence[str]) -> Generator[Progress, None, None]:
    """Bring just these files or folders up to date."""
    yield from library.index_files(list(paths), batch_size=INDEX_BATCH)


def switch_model(library: Library, model: str) -> Generator[Progress, None, tuple[str, str]]:
    """Embed the library's photos with ``model``, then use it; returns (model, device)."""
    yield from library.switch_model(model, batch_size=INDEX_BATCH)
    return library.model_name, library.embedder.device


def finetune(library: Library, albums: Sequence[str], epochs: int, train_images: bool
             ) -> Generator[FinetuneProgress, None, tuple[FinetuneProgress, str, str] | None]:
    """A fine-tuning run. Its last step (the new version saved and in use) is returned
    with the model and device, rather than yielded, so that a stop asked for meanwhile
    cannot hide it; None if the run ended without one."""
    from core.finetune import run

    settings = run.FinetuneSettings(epochs=epochs, train_vision=train_images)
    steps = run.finetune(library, albums, settings)
    try:
        for progress in steps:
            if progress.phase == "done":
                return progress, library.model_name, library.embedder.device
            yield progress
    finally:
        steps.close()  # closed early: nothing is written
    return None
