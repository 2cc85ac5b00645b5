"""The window's side of the engine: one writer thread runs every :class:`Library` call.

The writer and the long jobs it runs a step at a time live in :mod:`desktop.jobs`: a
search typed during an index run runs between two of its batches, and progress and ends
come back to the GUI thread as queued signals. Here is what the window asks for: open
the library and load the model, search, describe a photo, keep folders, and three kinds
of long job (index runs, model switches, fine-tuning; their steps are in
:mod:`desktop.job_steps`), one at a time. Quick reads that need no model (the text read in
a photo, the library's places) are :attr:`Engine.reads` (:mod:`desktop.engine_reads`).
Where a description matched in a photo (the preview's "Why?") is
:attr:`Engine.explanations` (:mod:`desktop.engine_explain`).

Searches, caption requests and index requests made before the model is ready are kept
here and run when it is (the latest search and caption request only; folders to index
accumulate). Index requests made while a job runs wait for it: a fine-tuning run ends by
switching the library's model, and an index run interrupted by one is redone after it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from core.errors import ModelUnavailableError, PictorError
from desktop import job_steps
from desktop.engine_explain import Explanations
from desktop.engine_reads import LibraryReads
from desktop.jobs import Job, JobEnd, JobRunner, Writer, sentence
from desktop.model_problem import plain_reason
from desktop.query import Query

if TYPE_CHECKING:
    from core.library import Library
    from core.search.captions import Caption
    from core.types import Progress

log = logging.getLogger(__name__)

RESULTS = 1000
"""How many results a search returns: the grid scrolls through them lazily."""
CAPTIONS = 8
"""How many captions the preview shows for a photo."""
INDEX, FINETUNE = "index", "finetune"
"""The kinds of long job: index runs and model switches show in the status bar (progress,
pause, stop); fine-tuning runs in its dialog."""


class DownloadCancelled(Exception):
    """Raised inside the download callback to stop a model download."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    data_dir: Path | None = None
    model: str | None = None  # None: the model the library was last used with
    device: str = "auto"


class Engine(QObject):
    """Owns the Library on a single writer thread and reports through signals."""

    opened = Signal(object)  # LibraryStatus, once the library is open
    modelLoading = Signal(str)  # model name
    modelReady = Signal(str, str)  # model name, device
    modelMissing = Signal(str)  # a sentence for the user
    downloadProgress = Signal(int, int)  # bytes done, bytes total
    searched = Signal(int, object)  # generation, core.types.Hits
    searchFailed = Signal(int, str)  # generation, message
    captionsReady = Signal(str, object)  # photo path, list[Caption]
    captionsFailed = Signal(str, str)  # photo path, message
    indexStarted = Signal()
    indexProgress = Signal(object)  # Progress
    indexFinished = Signal(object, bool)  # last Progress (or None), cancelled
    indexPaused = Signal(bool)
    statusChanged = Signal(object)  # LibraryStatus
    albumsListed = Signal(object, object)  # [AlbumChoice], [ModelVersion] trained here
    versionDeleted = Signal(str, int)  # the version's folder, bytes freed
    finetuneProgress = Signal(object)  # core.finetune.run.FinetuneProgress
    finetuneFinished = Signal(object, str)  # FinetuneResult or None, "" or why not
    rolledBack = Signal(str)  # the base model now in use
    failed = Signal(str)  # an operation failed: a sentence for the user

    def __init__(self, config: EngineConfig, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.config = config
        self._writer = Writer(on_error=self.failed.emit)
        self._submit = self._writer.submit
        self._jobs = JobRunner(self._writer, self)
        self._library: Library | None = None  # touched on the writer thread only
        self.reads = LibraryReads(self._submit, lambda: self._library, self)  # text, places
        self.explanations = Explanations(self._submit, lambda: self._library, self)  # Why?
        self._cancel_download = threading.Event()
        # GUI-thread state
        self.model_state = "idle"  # idle | loading | ready | missing
        self._started = False
        self.model_name = config.model or ""
        self._search_generation = 0
        self._pending_search: tuple[int, Query] | None = None
        self._captions_for: str | None = None  # the photo whose captions are wanted
        self._captions_language = "en"
        self._pending_captions = False
        self._pending_index: list[str] | None = None  # [] means every library folder
        self._pending_files: list[str] = []  # changed files a watcher saw
        self.modelReady.connect(self._on_model_ready)
        self.modelMissing.connect(self._on_model_missing)

    # -- plumbing ----------------------------------------------------------------------

    def _lib(self) -> Library:
        if self._library is None:
            raise PictorError("the library is not open")
        return self._library

    def _running(self, kind: str) -> list[Job]:
        return [job for job in self._jobs.jobs if job.kind == kind]

    @property
    def indexing(self) -> bool:
        """An index run or model switch is going on or waiting (stopped ones until their
        end arrives)."""
        return bool(self._running(INDEX))

    @property
    def tuning(self) -> bool:
        return bool(self._running(FINETUNE))

    @property
    def paused(self) -> bool:
        job = self._jobs.current
        return job is not None and job.kind == INDEX and job.paused

    def run_on_writer(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the writer thread behind what is queued there (between two steps
        of a long job): the local API's requests (desktop/api_host.py). Dropped once the
        engine shuts down; ``task`` reports its own errors."""
        self._submit(task)

    def library_here(self) -> Library | None:
        """The open library, None while none is: on the writer thread only."""
        return self._library

    # -- lifecycle (GUI thread) --------------------------------------------------------

    def start(self) -> None:
        """Open the library and load the model in the background (after the first paint, or
        at once when Pictor starts in the tray). Only the first call counts."""
        if self._started:
            return
        self._started = True
        self._open(self.config)

    def reconfigure(self, config: EngineConfig) -> None:
        """Switch data folder, model or device: the library is reopened, the model reloaded."""
        self.cancel_finetune()
        self.cancel_index()
        self.config = config
        self._open(config)

    def switch_model(self, model: str) -> None:
        """Move the open library to another model without a gap: its photos are embedded
        with ``model`` as an index run (progress, pause and stop as usual) while searches
        keep using the current model; the library switches when the run completes."""
        if self.model_state != "ready":
            self.reconfigure(dataclasses.replace(self.config, model=model))
            return
        self.cancel_finetune()
        self.cancel_index()
        self.config = dataclasses.replace(self.config, model=model)
        self._index_job(lambda: job_steps.switch_model(self._lib(), model),
                        then=lambda ready: self.modelReady.emit(*ready))

    def download_default_model(self) -> None:
        from core.models.embedder import DEFAULT_MODEL

        self.reconfigure(EngineConfig(self.config.data_dir, DEFAULT_MODEL, self.config.device))

    def cancel_download(self) -> None:
        self._cancel_download.set()

    def shutdown(self) -> None:
        """Stop the running job, close the library and wait for the writer to finish."""
        if self._writer.closing:
            return
        self._jobs.cancel_all(report=False)
        self._submit(self._close_library)
        self._cancel_download.set()
        self._writer.shutdown()

    def _open(self, config: EngineConfig) -> None:
        self._cancel_download.clear()
        self.model_state = "loading"
        self.model_name = config.model or ""
        self.modelLoading.emit(self.model_name)
        self._submit(self._open_library, config)
        self._submit(self._load_model)

    # -- lifecycle (writer thread) -----------------------------------------------------

    def _open_library(self, config: EngineConfig) -> None:
        from core.library import Library

        self._close_library()
        # verify: the window writes to the library, so a damaged database is found now and
        # the newest backup restored; the user is told through `failed`.
        self._library = Library(config.data_dir, model=config.model, device=config.device,
                                on_download=self._on_download, verify=True,
                                on_wait=self.failed.emit)  # "another program is using…"
        for notice in self._library.notices:
            self.failed.emit(notice)
        status = self._library.status(failures=500)
        self.opened.emit(status)

    def _close_library(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None

    def _load_model(self) -> None:
        library = self._lib()
        try:
            embedder = library.embedder
        except (ModelUnavailableError, DownloadCancelled) as error:
            cancelled = self._cancel_download.is_set() or isinstance(error, DownloadCancelled)
            self.modelMissing.emit("The download was cancelled." if cancelled
                                   else plain_reason(error))  # the details: in the log
            return
        self.modelReady.emit(library.model_name, embedder.device)

    def _on_download(self, done: int, total: int) -> None:
        if self._cancel_download.is_set():
            raise DownloadCancelled
        self.downloadProgress.emit(done, total)

    # -- model state (GUI thread) ------------------------------------------------------

    def _on_model_ready(self, name: str, _device: str) -> None:
        self.model_state = "ready"
        self.model_name = name
        if self._pending_search is not None:
            generation, query = self._pending_search
            self._pending_search = None
            if generation == self._search_generation:
                self._submit(self._search, generation, query)
        if self._pending_captions and self._captions_for is not None:
            self._submit(self._captions, self._captions_for, self._captions_language)
        self._pending_captions = False
        self._run_pending_index()

    def _on_model_missing(self, _message: str) -> None:
        self.model_state = "missing"

    # -- search ------------------------------------------------------------------------

    def search(self, query: Query) -> int:
        """Run a query (now, or when the model is ready); returns its generation number.

        Only the latest generation is worth running: older ones still queued are skipped.
        """
        self._search_generation += 1
        generation = self._search_generation
        if query.empty:
            self._pending_search = None  # nothing to run: the window clears its grid
        elif self.model_state != "ready":
            self._pending_search = (generation, query)
        else:
            self._submit(self._search, generation, query)
        return generation

    @property
    def search_pending(self) -> bool:
        return self._pending_search is not None

    def _search(self, generation: int, query: Query) -> None:
        if generation != self._search_generation:
            return  # the user typed on: a newer query is queued
        library = self._lib()
        try:
            if query.similar_to:
                hits = library.similar(query.similar_to, k=RESULTS, min_score=query.min_score,
                                       copies=query.copies)
            else:
                hits = library.search(
                    query.text or None, image=query.image, negative=query.negative or None,
                    k=RESULTS, folder=query.folder, after=query.after or None,
                    before=query.before or None, min_score=query.min_score,
                    place=query.place, region=query.region, copies=query.copies)
        except Exception as error:
            self.searchFailed.emit(generation, sentence(error, "search"))
            return
        self.searched.emit(generation, hits)

    # -- captions ----------------------------------------------------------------------

    def captions(self, path: str | None, *, language: str = "en") -> None:
        """Describe a photo (now, or when the model is ready): ``captionsReady`` or
        ``captionsFailed`` follow, unless another photo was asked for meanwhile. ``None``
        forgets the request (nothing is selected any more)."""
        self._captions_for, self._captions_language = path, language
        self._pending_captions = False
        if path is None:
            return
        if self.model_state == "missing":
            self.captionsFailed.emit(path, "no model yet")
        elif self.model_state != "ready":
            self._pending_captions = True
        else:
            self._submit(self._captions, path, language)

    def _captions(self, path: str, language: str) -> None:
        if path != self._captions_for:
            return  # the user moved on to another photo
        try:
            captions: list[Caption] = self._lib().captions(path, n=CAPTIONS, language=language)
        except Exception as error:  # said in the preview
            self.captionsFailed.emit(path, sentence(error, f"captions of {path}"))
            return
        self.captionsReady.emit(path, captions)

    # -- folders -----------------------------------------------------------------------

    def add_folders(self, paths: Sequence[str]) -> None:
        """Remember folders now (they show at once) and index them when the model is ready."""
        self._submit(self._add_roots, list(paths))
        self.index(list(paths))

    def _add_roots(self, paths: list[str]) -> None:
        self._lib().add_roots(paths)
        self._emit_status()

    def remove_folder(self, path: str) -> None:
        """Forget a folder and its photos' records (the files are never touched)."""
        self.cancel_index()
        self._submit(self._remove_root, path)

    def _remove_root(self, path: str) -> None:
        self._lib().remove_root(path)
        self._emit_status()

    def refresh_status(self) -> None:
        self._submit(self._emit_status)

    def _emit_status(self) -> None:
        self.statusChanged.emit(self._lib().status(failures=500))

    # -- indexing --------------------------------------------------------------------------

    def index(self, paths: Sequence[str] | None = None) -> None:
        """Index folders (every library folder when ``paths`` is None or empty)."""
        wanted = list(paths or [])
        if self.model_state != "ready" or self._jobs.busy:
            if self._pending_index is None:
                self._pending_index = wanted
            elif wanted and self._pending_index:
                self._pending_index += wanted
            else:
                self._pending_index = []  # a full re-index covers everything
            return
        self._index_job(lambda: job_steps.index(self._lib(), wanted))

    def index_files(self, paths: Sequence[str]) -> None:
        """Bring just these files or folders up to date (what the folder watcher saw)."""
        if self.model_state != "ready" or self._jobs.busy:
            self._pending_files += [p for p in paths if p not in self._pending_files]
            return
        files = list(paths)
        self._index_job(lambda: job_steps.index_files(self._lib(), files))

    def pause_index(self, paused: bool) -> None:
        job = self._jobs.current
        if job is not None and job.kind == INDEX and self._jobs.pause(job, paused):
            self.indexPaused.emit(paused)

    def cancel_index(self) -> None:
        self._pending_index = None
        self._pending_files = []
        for job in self._running(INDEX):
            self._jobs.cancel(job)

    def _index_job(self, work: Callable[[], Iterator[Progress]],
                   then: Callable[[Any], None] | None = None) -> None:
        """An index run as a job: ``indexStarted``, ``indexProgress``, ``indexFinished``
        (``then(result)`` after it, when the run completed)."""
        def ended(end: JobEnd) -> None:
            self.indexFinished.emit(end.last, not end.completed)
            if end.error:
                self.failed.emit(end.error)
            else:
                self.refresh_status()
            if end.completed and then is not None:
                then(end.result)
            self._run_pending_index()

        self._jobs.start(Job(INDEX, work, progress=self.indexProgress,
                             on_start=self.indexStarted.emit, on_end=ended))

    def _run_pending_index(self) -> None:
        if self.model_state != "ready" or self._jobs.busy:
            return
        if self._pending_index is not None:
            paths, self._pending_index = self._pending_index, None
            if not paths:
                self._pending_files = []  # a full rescan covers them
            self.index(paths)
        elif self._pending_files:
            files, self._pending_files = self._pending_files, []
            self.index_files(files)

    # -- fine-tuning (GUI thread) ------------------------------------------------------

    def list_albums(self) -> None:
        """``albumsListed`` follows: the folders that can be albums, and the version in use."""
        self._submit(self._list_albums)

    def finetune(self, albums: Sequence[str], epochs: int, train_images: bool = False) -> None:
        """Fine-tune the model on ``albums`` (folders or tags) in steps; searches keep the
        current model meanwhile. ``finetuneFinished`` follows; on success the library uses
        the new version, and the caller indexes (``index()``: tags for the new version, and
        vectors where the image side trained)."""
        if self.tuning:
            return
        if self.model_state != "ready":
            self.finetuneFinished.emit(None, "the model is not loaded yet")
            return
        # The run ends by switching the model: no index run across it. One that was going
        # on (or waiting) becomes a full rescan once the run is over.
        interrupted = self.indexing or self._pending_index is not None or self._pending_files
        self.cancel_index()
        if interrupted:
            self._pending_index = []
        chosen = list(albums)
        self._jobs.start(Job(
            FINETUNE, lambda: job_steps.finetune(self._lib(), chosen, epochs, train_images),
            progress=self.finetuneProgress, on_end=self._finetune_ended))

    def cancel_finetune(self) -> None:
        """Stop a fine-tuning run: nothing is written, the model stays as it was."""
        for job in self._running(FINETUNE):
            self._jobs.cancel(job)

    def rollback(self) -> None:
        """Go back to the model the version in use was trained from (``rolledBack``)."""
        self.cancel_finetune()
        self.cancel_index()
        self._submit(self._rollback)

    def delete_version(self, folder: str) -> None:
        """Delete a fine-tuned version not in use (``versionDeleted``, or ``failed``)."""
        self._submit(self._delete_version, folder)

    def _finetune_ended(self, end: JobEnd) -> None:
        if end.completed and end.result is not None:
            done, name, device = end.result
            self.finetuneProgress.emit(done)
            self.finetuneFinished.emit(done.result, "")
            self.modelReady.emit(name, device)
        else:
            self.finetuneFinished.emit(None, end.error or ("cancelled" if end.cancelled else
                                                           "the run ended without a result"))
        self._run_pending_index()

    # -- fine-tuning (writer thread) ---------------------------------------------------

    def _list_albums(self) -> None:
        from core.finetune.albums import album_choices
        from core.finetune.versions import versions

        library = self._lib()
        self.albumsListed.emit(album_choices(library), versions(library))

    def _delete_version(self, folder: str) -> None:
        from core.finetune.versions import delete_version

        version, freed = delete_version(self._lib(), folder)
        self.versionDeleted.emit(version.folder, freed)
        self._list_albums()

    def _rollback(self) -> None:
        from core.finetune.versions import rollback

        library = self._lib()
        base = rollback(library)
        self.rolledBack.emit(base)
        self.modelReady.emit(library.model_name, library.embedder.device)
