"""The facade both fronts use: one :class:`Library` per data folder.

It owns the catalog, loads the model only when a command needs it, and holds the parts
that work for the current model (as Anki's collection holds its managers): the index
keeper (the vector index, in step with the catalog: SQLite is the truth, the index file
a cache that is synced or rebuilt whenever it disagrees), the scores (calibration, caption
corpus, tags), the searcher, and the index runs.

A library remembers its model: opening it without ``model`` uses the one it was last
used with; naming another model switches it (each model keeps its own vectors).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from core.config import (
    DATABASE_NAME,
    PRECISION_DIR,
    cache_dir,
    default_data_dir,
    model_slug,
    vector_index_path,
)
from core.errors import CatalogError, UsageError
from core.models.embedder import DEFAULT_MODEL, DownloadCallback, Embedder
from core.search.explain import Heat, Method
from core.search.explain import explain as explain_match
from core.search.scores import CALIBRATION_SETTING, Scores
from core.search.searcher import Searcher, existing_folder
from core.store import backup
from core.store.catalog import Catalog
from core.store.catalog_text import PhotoText
from core.store.index_base import AnyIndex, IndexDamagedError
from core.store.index_files import copy_index
from core.store.index_keeper import IndexKeeper, index_lock
from core.sync.copies import CopyGroup, CopyMember, FindDuplicates, TrashReport, trash_copies
from core.sync.runs import IndexRuns
from core.sync.scanner import SCAN_PROBLEMS_SETTING, is_online
from core.sync.text_pass import TextPass
from core.types import LibraryStatus, Progress, Root

log = logging.getLogger(__name__)

MODEL_SETTING = "model"
"""The catalog setting that remembers the library's model."""


def _model_name(model: str) -> str:
    """Local model folders are remembered by absolute path; hub ids as they are."""
    folder = Path(model).expanduser()
    return str(folder.resolve()) if folder.is_dir() else model


class Library:
    """A photo library: its folders, its catalog, its model and its vector index.

    Its searcher's questions are asked of the library itself (``library.search("a dog")``,
    ``similar``, ``captions``, ...); the calibrated scores and tags are :attr:`scores`."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        model: str | None = None,
        device: str = "auto",
        on_download: DownloadCallback | None = None,
        verify: bool = False,
        remember_model: bool = True,
        reading: bool = False,
        on_wait: Callable[[str], None] | None = None,
        on_loading: Callable[[str], None] | None = None,
    ) -> None:
        """``verify`` checks the whole database first (a second or so for a big library)
        and restores the newest backup if it is damaged; writers (index, watch) do.
        ``remember_model=False`` never makes ``model`` the library's model (a re-embedding
        run for :meth:`switch_model`). ``reading``: a command that only reads (search,
        similar, captions) never switches the library's model either, and naming a model
        the library holds no vectors of is refused at once (UsageError), before any model
        loads. ``on_wait`` hears once that another program holds
        the library locked and this one waits (core.store.connection). ``on_loading`` hears
        the model's name just before it loads (seconds: a front may say so)."""
        self.data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir()
        db_path = self.data_dir / DATABASE_NAME
        self.notices: list[str] = []
        """Things the user should be told (a restored backup, ...), oldest first."""
        # A missing or empty database beside backups is restored (never silently started
        # afresh), whoever opens it; the full check (every page read) only for writers.
        if verify or backup.is_empty(db_path):
            self._restore(db_path)
        try:
            self.catalog = Catalog(db_path, on_wait=on_wait)
        except CatalogError:
            if not self._restore(db_path):
                raise
            self.catalog = Catalog(db_path, on_wait=on_wait)
        stored = self.catalog.get_setting(MODEL_SETTING)
        self.model_name = _model_name(model) if model else (stored or DEFAULT_MODEL)
        # Remembered only once the model has loaded: a typo must not switch the library.
        self._model_saved = self.model_name == stored or not remember_model or reading
        if reading and stored and self.model_name != stored and not self._has_vectors():
            self.catalog.close()
            raise UsageError(
                f"this library is indexed with {stored} and holds no vectors of {model}: "
                f"leave out --model to use the library's model, or switch the library to "
                f"it with `pictor use {model}` (every photo is embedded again)")
        self.device_choice = device
        self._on_download = on_download
        self._on_loading = on_loading
        self._embedder: Embedder | None = None
        # The OCR models do not depend on the CLIP model: one text pass per library.
        self.text_pass = TextPass(self.catalog, self.data_dir,
                                  device="cpu" if device == "cpu" else "cuda")
        self._hold_parts()
        log.info("library %s (model %s)", self.data_dir, self.model_name)

    def _hold_parts(self) -> None:
        """The parts that work for the current model, made afresh when it changes."""
        self._keeper = IndexKeeper(self.catalog,
                                   vector_index_path(self.data_dir, self.model_name),
                                   self.model_name)
        self.scores = Scores(self)
        self.searcher = Searcher(self, self.scores)
        self._runs = IndexRuns(self, self._keeper, self.scores, self.text_pass)
        # What the fronts ask a library, answered by its searcher.
        self.search = self.searcher.search
        self.search_vector = self.searcher.search_vector
        self.similar = self.searcher.similar
        self.image_vector = self.searcher.image_vector
        self.captions = self.searcher.captions
        self.tags = self.searcher.tags

    def _has_vectors(self) -> bool:
        known = self.catalog.known_model(self.model_name)
        return known is not None and self.catalog.counts(known[0])[1] > 0

    def _restore(self, db_path: Path) -> bool:
        message = backup.restore_if_damaged(db_path)
        if message:
            self.notices.append(message)
        return message is not None

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model and index ---------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use (raises ModelUnavailableError)."""
        if self._embedder is None:
            if self._on_loading is not None:
                self._on_loading(self.model_name)
            started = time.monotonic()
            self._embedder = Embedder.load(
                self.model_name, device=self.device_choice, on_download=self._on_download,
                precision_cache=cache_dir(self.data_dir) / PRECISION_DIR)
            log.info("model %s loaded in %.1f s: device %s, precision %s, %d-dimensional "
                     "vectors", self.model_name, time.monotonic() - started,
                     self._embedder.device, self._embedder.precision, self._embedder.dim)
        return self._embedder

    @property
    def model_loaded(self) -> bool:
        return self._embedder is not None

    def model_key(self) -> tuple[int, int]:
        """``(model id, dim)``; loads the model only if this library has never used it."""
        known = self.catalog.known_model(self.model_name)
        if known is None:
            self.catalog.refuse_if_read_only(f"using the model {self.model_name}")
            dim = self.embedder.dim
            known = self.catalog.model_id(self.model_name, dim), dim
        if not self._model_saved and not self.catalog.read_only:
            self.catalog.set_setting(MODEL_SETTING, self.model_name)
            self._model_saved = True
        return known

    def use_model(self, model: str) -> None:
        """Switch to another model now and remember it (a fine-tuned version, or back to
        its base). Vectors are kept per model: a model used before needs no re-embedding."""
        self.catalog.refuse_if_read_only("switching models")
        self._save_index()
        self.model_name = _model_name(model)
        self.catalog.set_setting(MODEL_SETTING, self.model_name)
        self._model_saved = True
        self._embedder = None
        self._hold_parts()

    def switch_model(self, model: str, *, batch_size: int = 32) -> Iterator[Progress]:
        """Move the library to another model without a gap: every photo is embedded (and
        tagged) with ``model`` first, while this library keeps answering with the current
        one between the steps; only a complete run switches. A model used before has its
        vectors already, so switching back is a quick check. A generator of progress:
        closing it early leaves the current model in place, and what was embedded is kept
        for the next try."""
        target = _model_name(model)
        if target == self.model_name:
            return
        self.catalog.refuse_if_read_only("switching models")
        with Library(self.data_dir, model=target, device=self.device_choice,
                     on_download=self._on_download, remember_model=False) as other:
            yield from other.index(batch_size=batch_size)
        self.use_model(target)

    def vector_index(self, *, writable: bool = False) -> AnyIndex:
        """The current model's index, synced with the catalog (rebuilt if damaged); an
        index already open first takes in what other processes committed meanwhile."""
        return self._keeper.get(*self.model_key(), writable=writable)

    def _save_index(self) -> None:
        self._runs.save_index()

    def forget_model(self, name: str) -> None:
        """Drop what the library derived from a model it no longer uses: vectors, tags,
        calibration, search index and caches (model ids are reused, so nothing may stay)."""
        if _model_name(name) == self.model_name:
            raise UsageError(f"{name} is the library's model")
        self.catalog.refuse_if_read_only("forgetting a model")
        known = self.catalog.known_model(name)
        if known is not None:
            self.catalog.forget_model(name, [CALIBRATION_SETTING.format(model_id=known[0])])
        index = vector_index_path(self.data_dir, name)
        for path in [index, index.with_suffix(".json"),
                     *cache_dir(self.data_dir).glob(f"*/{model_slug(name)}*")]:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def share_vectors(self, target: str) -> int:
        """Give model ``target`` this model's photo vectors, for a model whose image side is
        this one's (a version fine-tuned on its text side only): nothing to re-embed. The
        search index is copied too, so the first search need not build one."""
        self.catalog.refuse_if_read_only("sharing vectors")
        self._save_index()
        source_id, dim = self.model_key()
        count = self.catalog.share_vectors(source_id, target, dim)
        source = vector_index_path(self.data_dir, self.model_name)
        path = vector_index_path(self.data_dir, target)
        with index_lock(source), index_lock(path), \
                contextlib.suppress(IndexDamagedError):  # else built on first use
            copy_index(source, path, model=target)
        return count

    # -- folders -----------------------------------------------------------------------

    def add_roots(self, paths: Sequence[Path | str]) -> list[tuple[int, Path]]:
        """Remember folders as library roots; returns the roots that cover them.

        A folder inside an existing root is covered by it; a folder that contains
        existing roots takes their photos over.
        """
        folders = [existing_folder(p) for p in paths]
        self.catalog.refuse_if_read_only("adding folders")
        covered: dict[int, Path] = {}
        for folder in folders:
            roots = [(rid, Path(p)) for rid, p in self.catalog.roots()]
            outer = next((r for r in roots if folder.is_relative_to(r[1])), None)
            if outer is not None:
                covered[outer[0]] = outer[1]
                continue
            root_id = self.catalog.add_root(str(folder))
            for rid, path in roots:
                if path.is_relative_to(folder):
                    self.catalog.absorb_root(rid, root_id)
                    covered.pop(rid, None)
            covered[root_id] = folder
        return list(covered.items())

    def roots(self) -> list[Root]:
        counts = self.catalog.root_counts()
        return [Root(id=rid, path=path, online=is_online(Path(path)),
                     photos=counts.get(rid, (0, 0))[0], failed=counts.get(rid, (0, 0))[1])
                for rid, path in self.catalog.roots()]

    def remove_root(self, path: Path | str) -> int:
        """Forget a library folder (offline ones too): its photos' records and vectors go,
        the files stay. Returns how many photos were forgotten. Not during an index run."""
        given = Path(path).expanduser()
        wanted = {str(given), str(given.resolve())}
        root_id = next((rid for rid, p in self.catalog.roots() if str(p) in wanted), None)
        if root_id is None:
            raise UsageError(f"not a library folder: {path}")
        self.catalog.refuse_if_read_only("removing folders")
        count = self.catalog.remove_root(root_id)
        self._keeper.forget()  # resynced from the catalog (and saved) on next use
        return count

    # -- indexing ----------------------------------------------------------------------

    def index(
        self,
        paths: Sequence[Path | str] | None = None,
        *,
        batch_size: int = 32,
        workers: int | None = None,
    ) -> Iterator[Progress]:
        """Index folders (all roots when ``paths`` is None); a generator of progress.

        Paths are checked before anything is written, so a typo changes nothing.
        """
        self.catalog.refuse_if_read_only("indexing")
        if paths:
            roots = self.add_roots(paths)
        else:
            roots = [(rid, Path(p)) for rid, p in self.catalog.roots()]
        return self._runs.run(roots, batch_size=batch_size, workers=workers)

    def index_files(self, paths: Sequence[Path | str], *,
                    batch_size: int = 32) -> Iterator[Progress]:
        """Update just these files or folders (new, changed, moved or deleted ones), as a
        folder watcher reports them; paths outside the library's folders are ignored."""
        self.catalog.refuse_if_read_only("indexing")
        roots = [(rid, Path(p)) for rid, p in self.catalog.roots()]
        files = [Path(os.path.abspath(Path(p).expanduser())) for p in paths]
        return self._runs.run(roots, batch_size=batch_size, workers=None, files=files)

    # -- duplicates --------------------------------------------------------------------

    def find_duplicates(self, *, similar: bool = False) -> FindDuplicates:
        """The copies of each picture in the library (and similar shots with ``similar``),
        each group's photo to keep first; iterate it for progress, then read its
        ``groups`` (core.sync.copies). Listing changes no file."""
        return FindDuplicates(self.catalog, *self.model_key(), similar=similar)

    def trash_copies(self, groups: Sequence[CopyGroup], *,
                     chosen: Callable[[CopyMember], bool] | None = None) -> TrashReport:
        """Move the groups' chosen photos (by default every one not kept) to the system's
        Trash, confirmed by the user beforehand; the catalog and the index follow."""
        self.catalog.refuse_if_read_only("moving copies to the Trash")
        return trash_copies(self.catalog, self.vector_index(writable=True), groups,
                            chosen=chosen or (lambda member: not member.keep),
                            save=self._save_index)

    # -- status ------------------------------------------------------------------------

    def status(self, *, failures: int | None = 100) -> LibraryStatus:
        known = self.catalog.known_model(self.model_name)
        model_id = known[0] if known else None
        photos, indexed, failed = self.catalog.counts(model_id)
        index_path = vector_index_path(self.data_dir, self.model_name)
        device = self._embedder.device if self._embedder else self.device_choice
        return LibraryStatus(
            data_dir=str(self.data_dir),
            model=self.model_name,
            device=device,
            roots=self.roots(),
            photos=photos,
            indexed=indexed,
            pending=max(0, photos - failed - indexed),
            failed=failed,
            failures=self.catalog.failures(failures),
            index_vectors=indexed,
            index_bytes=index_path.stat().st_size if index_path.exists() else 0,
            models=self.catalog.model_names(),
            scan_problems=json.loads(self.catalog.get_setting(SCAN_PROBLEMS_SETTING) or "[]"),
            text=self._text_status(),
            places=self.catalog.count_places(),
        )

    def _text_status(self) -> dict[str, int]:
        read, with_text, failed = self.catalog.text_counts()
        return {"read": read, "with_text": with_text, "failed": failed,
                "pending": self.catalog.count_text_pending()}

    def text_of(self, photo: Path | str) -> PhotoText | None:
        """The text read in a photo, with its boxes (core.sync.text_pass.TextPass.text_of)."""
        return self.text_pass.text_of(photo)

    def explain(self, photo: Path | str, text: str, *, method: Method = "auto") -> Heat:
        """Where ``text`` matched in ``photo`` (in the library or not): a heat map from the
        library's model, its similarity scored as a search for ``text`` scores it
        (core.search.explain). The request is checked before the model loads."""
        return explain_match(
            photo, text, embedder=lambda: self.embedder, method=method,
            scale=lambda vector: self.scores.calibration(fallback=vector).for_query(
                text=True, image=False, words=text))
