"""The facade both fronts use: one :class:`Library` per data folder.

It owns the catalog, loads the model only when a command needs it, and keeps the vector
index of the current model in step with the catalog (SQLite is the truth; the index file
is a cache that is synced or rebuilt whenever it disagrees).

A library remembers its model: opening it without ``model`` uses the one it was last
used with; naming another model switches it (each model keeps its own vectors).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.config import (
    DATABASE_NAME,
    cache_dir,
    default_data_dir,
    model_slug,
    vector_index_path,
)
from core.errors import CatalogError, ImageError, PathNotFoundError, UsageError
from core.memory import available_bytes
from core.models.embedder import DEFAULT_MODEL, DownloadCallback, Embedder
from core.photos.imaging import decode_path
from core.photos.inflight import InflightMarkers
from core.search import queries as search_mod
from core.search.calibration import (
    DEFAULT_MIN_SCORE,
    SAMPLE_PHOTOS,
    Calibration,
    Scale,
    calibrate,
)
from core.search.captions import CAPTIONS_DIR, Caption, CaptionCorpus
from core.store import backup
from core.store.catalog import Catalog
from core.store.index_keeper import IndexKeeper, index_lock
from core.store.vector_index import AnyIndex, IndexDamagedError, VectorIndex
from core.sync.scanner import SCAN_PROBLEMS_SETTING, is_online
from core.types import Hits, LibraryStatus, Progress, Root, Vector
from core.units import human_size
from core.words import keywords, user_words

log = logging.getLogger(__name__)

MODEL_SETTING = "model"
CALIBRATION_SETTING = "calibration:{model_id}"
INDEX_SAVE_INTERVAL_S = 60.0
INFLIGHT_DIR = "inflight"
FAST_IMAGES_DIR = "fast-images"
PRECISION_DIR = "precision"  # the bf16 check's verdict per model (core.models.embedder)
FAST_IMAGES_MIN_PHOTOS = 500
"""An index run with this many photos to embed builds the model's int8 ONNX image tower
(once per model, ~10-20 s for ViT-B/32 on two cores; it then runs ~1.5x as fast as bf16)."""
FAST_IMAGES_ENV = "PICTOR_FAST_IMAGES"
"""Set to 0 to keep every image on PyTorch."""


def _model_name(model: str) -> str:
    """Local model folders are remembered by absolute path; hub ids as they are."""
    folder = Path(model).expanduser()
    return str(folder.resolve()) if folder.is_dir() else model


class Library:
    """A photo library: its folders, its catalog, its model and its vector index."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        model: str | None = None,
        device: str = "auto",
        on_download: DownloadCallback | None = None,
        verify: bool = False,
        remember_model: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """``verify`` checks the whole database first (a second or so for a big library)
        and restores the newest backup if it is damaged; writers (index, watch) do.
        ``remember_model=False`` never makes ``model`` the library's model (a re-embedding
        run for :meth:`switch_model`). ``on_wait`` hears once that another program holds
        the library locked and this one waits (core.store.connection)."""
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
        self._model_saved = self.model_name == stored or not remember_model
        self.device_choice = device
        self._on_download = on_download
        self._embedder: Embedder | None = None
        self._keeper = IndexKeeper(self.catalog,
                                   vector_index_path(self.data_dir, self.model_name),
                                   self.model_name)
        self._corpus: CaptionCorpus | None = None
        self._calibration: Calibration | None = None
        self._calibration_seq = -1  # the model's change counter it was checked at

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
            self._embedder = Embedder.load(
                self.model_name, device=self.device_choice, on_download=self._on_download,
                precision_cache=cache_dir(self.data_dir) / PRECISION_DIR)
        return self._embedder

    def _model_key(self) -> tuple[int, int]:
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
        self._keeper = IndexKeeper(self.catalog,
                                   vector_index_path(self.data_dir, self.model_name),
                                   self.model_name)
        self._corpus = None
        self._calibration = None

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
        return self._keeper.get(*self._model_key(), writable=writable)

    def _save_index(self) -> None:
        if self._keeper.index is not None:
            self._keeper.save(*self._model_key())

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
        source_id, dim = self._model_key()
        count = self.catalog.share_vectors(source_id, target, dim)
        source = vector_index_path(self.data_dir, self.model_name)
        path = vector_index_path(self.data_dir, target)
        with index_lock(source), index_lock(path), \
                contextlib.suppress(IndexDamagedError):  # else built on first use
            VectorIndex.copy(source, path, model=target)
        return count

    # -- folders -----------------------------------------------------------------------

    def add_roots(self, paths: Sequence[Path | str]) -> list[tuple[int, Path]]:
        """Remember folders as library roots; returns the roots that cover them.

        A folder inside an existing root is covered by it; a folder that contains
        existing roots takes their photos over.
        """
        folders = [_existing_folder(p) for p in paths]
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
        from core.sync.indexer import Indexer

        self.catalog.refuse_if_read_only("indexing")
        if paths:
            roots = self.add_roots(paths)
        else:
            roots = [(rid, Path(p)) for rid, p in self.catalog.roots()]
        return self._run_indexer(Indexer, roots, batch_size=batch_size, workers=workers)

    def index_files(self, paths: Sequence[Path | str], *,
                    batch_size: int = 32) -> Iterator[Progress]:
        """Update just these files or folders (new, changed, moved or deleted ones), as a
        folder watcher reports them; paths outside the library's folders are ignored."""
        from core.sync.indexer import Indexer

        self.catalog.refuse_if_read_only("indexing")
        roots = [(rid, Path(p)) for rid, p in self.catalog.roots()]
        files = [Path(os.path.abspath(Path(p).expanduser())) for p in paths]
        return self._run_indexer(Indexer, roots, batch_size=batch_size, workers=None,
                                 files=files)

    def _run_indexer(self, indexer_cls: Any, roots: list[tuple[int, Path]], *,
                     batch_size: int, workers: int | None,
                     files: list[Path] | None = None) -> Iterator[Progress]:
        index = self.vector_index(writable=True)
        model_id, _ = self._model_key()
        last_save = time.monotonic()

        def save_now_and_then() -> None:
            nonlocal last_save
            if time.monotonic() - last_save > INDEX_SAVE_INTERVAL_S:
                self._save_index()
                last_save = time.monotonic()

        indexer = indexer_cls(self.catalog, index, self.embedder, model_id,
                              batch_size=batch_size, workers=workers,
                              on_batch=save_now_and_then,
                              markers=InflightMarkers(self.data_dir / INFLIGHT_DIR),
                              before_embedding=self._ready_fast_images)
        run = indexer.run(roots) if files is None else indexer.run_files(roots, files)
        try:
            report = Progress(phase="done", done=0, total=0)
            for progress in run:
                if progress.phase == "done":
                    report = progress  # the run's report stays the last thing yielded
                    continue
                yield progress
            tagged = 0.0
            for step in self.tag():  # the run's totals, with the tag pass's own count
                tagged = step.elapsed_s
                yield dataclasses.replace(report, phase="tag", done=step.done,
                                          total=step.total, current=None,
                                          elapsed_s=report.elapsed_s + tagged)
            yield dataclasses.replace(report, elapsed_s=report.elapsed_s + tagged)
            # After a complete run, so the copy holds a whole, consistent library.
            backup.backup_if_due(self.catalog.path)
        except BaseException:  # closed, interrupted or failed: keep what was done
            try:
                self._save_index()
            except Exception as error:  # e.g. the disk that failed the run: that error tells
                log.warning("the search index could not be saved: %s", error)
            raise
        self._keeper.reshape(*self._model_key())
        self._save_index()

    def _ready_fast_images(self, count: int) -> Iterator[Progress]:
        """Put images through the int8 ONNX tower (core.models.fast_images) when one is cached for
        this model, or build it first when ``count`` photos make that worth its cost."""
        if os.environ.get(FAST_IMAGES_ENV, "1") == "0" or self.embedder.precision == "int8":
            return
        cache = cache_dir(self.data_dir) / FAST_IMAGES_DIR
        built = self.embedder.has_fast_images(cache)
        if built is None or (built is False and count < FAST_IMAGES_MIN_PHOTOS):
            return
        if built is False:
            need = _tower_build_bytes(self.embedder.model)
            free = available_bytes()
            if free is not None and free < need:
                log.info("no int8 image tower: building it needs about %s of memory, %s is "
                         "free; PyTorch embeds the photos", human_size(need), human_size(free))
                return
            yield Progress(phase="optimise", done=0, total=count)
        self.embedder.use_fast_images(cache, build=True)

    # -- captions, tags and scores -----------------------------------------------------

    def caption_corpus(self) -> CaptionCorpus:
        """The built-in vocabulary embedded by the current model (built once, cached)."""
        if self._corpus is None:
            self._corpus = CaptionCorpus.for_model(self.embedder,
                                                   cache_dir(self.data_dir) / CAPTIONS_DIR)
        return self._corpus

    def calibration(self, *, fallback: Vector | None = None) -> Calibration:
        """The current model's score calibration (core.search.calibration): the stored one while
        the library has not halved or doubled, else measured again in memory (the tag pass
        of an index run stores it). Kept until the model's vectors change, so a search
        costs no query for it. ``fallback`` (a photo's vector) stands in for the photos
        of an empty library."""
        model_id, dim = self._model_key()
        seq = self.catalog.max_seq(model_id)
        if self._calibration is not None and self._calibration_seq == seq:
            return self._calibration
        count = self.catalog.counts(model_id)[1]
        current = self._calibration or self._stored_calibration(model_id)
        if current is None or current.is_stale(count, current.corpus):
            current = self._measure(model_id, dim, count, fallback)
        self._calibration, self._calibration_seq = current, seq
        return current

    def _measure(self, model_id: int, dim: int, count: int,
                 fallback: Vector | None = None) -> Calibration:
        sample = self.catalog.sample_vectors(model_id, dim, SAMPLE_PHOTOS)
        if len(sample) == 0:
            if fallback is None:  # nothing to search either: any stand-in will do
                fallback = np.eye(1, dim, dtype=np.float32)
            sample = fallback.reshape(-1, dim)
        corpus = self.caption_corpus()
        return calibrate(sample, corpus.vectors, count=count, corpus=corpus.digest)

    def _stored_calibration(self, model_id: int) -> Calibration | None:
        stored = self.catalog.get_setting(CALIBRATION_SETTING.format(model_id=model_id))
        try:
            return Calibration.from_json(json.loads(stored)) if stored else None
        except (ValueError, KeyError, TypeError):
            return None

    def tag(self) -> Iterator[Progress]:
        """Tag the photos that have no tags for the current model yet (all of them after
        a new vocabulary or a recalibration); a generator of progress, part of every
        index run (which reports its own totals with it)."""
        model_id, dim = self._model_key()
        if self._corpus is None:  # the first run with a model embeds its vocabulary first
            yield Progress(phase="tag", done=0, total=self.catalog.count_untagged(model_id))
        corpus = self.caption_corpus()
        count = self.catalog.counts(model_id)[1]
        calibration = self._stored_calibration(model_id)
        if calibration is None or calibration.is_stale(count, corpus.digest):
            calibration = self._measure(model_id, dim, count)
            self.catalog.set_setting(CALIBRATION_SETTING.format(model_id=model_id),
                                     json.dumps(calibration.to_json()))
            self.catalog.clear_tags(model_id)
        self._calibration, self._calibration_seq = calibration, self.catalog.max_seq(model_id)
        total = self.catalog.count_untagged(model_id)
        done = 0
        started = time.monotonic()
        for ids, vectors in self.catalog.iter_untagged(model_id, dim):
            tags = corpus.tags(vectors, calibration.text)
            self.catalog.write_tags(model_id, [(int(i), t, corpus.words(t))
                                               for i, t in zip(ids, tags, strict=True)])
            done += len(ids)
            yield Progress(phase="tag", done=done, total=max(total, done),
                           elapsed_s=time.monotonic() - started)

    def captions(self, photo: Path | str, *, n: int = 10,
                 language: str = "en") -> list[Caption]:
        """Texts that describe a photo (in the library or not), best first: its own words
        (title, description, keywords, sidecar, album) first, then built-in terms; at
        most ``n`` in all."""
        if n < 1:
            raise UsageError("the number of captions must be at least 1")
        if language not in ("en", "zh"):
            raise UsageError(f"unknown caption language {language!r} (use en or zh)")
        path = _existing_file(photo)
        vector = self.image_vector(path)
        row = self.catalog.photo_by_path(str(path))
        root = self.catalog.root_of(row.id) if row is not None else None
        scale = self.calibration(fallback=vector).text
        own = user_words.read_user_texts(path, root=Path(root) if root else None)
        mine: list[Caption] = []
        if own:
            cosines = self.embedder.embed_texts([t.text for t in own]) @ vector
            mine = sorted((Caption(t.text, scale.score_one(float(c)), "user", t.source)
                           for t, c in zip(own, cosines, strict=True)),
                          key=lambda c: -c.score)
        if len(mine) >= n:
            return mine[:n]
        return mine + self.caption_corpus().captions(vector, scale, n=n - len(mine),
                                                     language=language)

    def tags(self, photo: Path | str) -> list[tuple[str, float]]:
        """A library photo's stored tags for the current model ([] when none passed)."""
        row = self.catalog.photo_by_path(str(_existing_file(photo)))
        if row is None:
            return []
        return self.catalog.tags_of(row.id, self._model_key()[0]) or []

    # -- search ------------------------------------------------------------------------

    def search(
        self,
        text: str | None = None,
        *,
        image: Path | str | None = None,
        negative: str | None = None,
        k: int = 20,
        folder: Path | str | None = None,
        after: str | None = None,
        before: str | None = None,
        weights: search_mod.Weights = search_mod.DEFAULT_WEIGHTS,
        words: bool = True,
        min_score: float = DEFAULT_MIN_SCORE,
    ) -> Hits:
        """Photos matching a description, an example image (any file), or both.

        Dates in the text ("2019", "june 2021", "2021-06") become a date filter unless
        ``after`` or ``before`` is given, and are not sent to the model; with ``words``
        the text's words are also matched against file names, folders, the photos' own
        words and their tags (see :func:`core.search.queries.nearest`). Photos found by meaning
        alone that score under ``min_score`` (0-100) are hidden: see :class:`Hits`.
        """
        text = text.strip() if text else None
        if not text and image is None:
            raise UsageError("a search needs a text, an image, or both")
        # Check every argument before the (slow) model loads.
        filters = self._filters(folder, after, before)
        match = None
        if text:
            parsed = keywords.parse_query(text)
            if parsed.after and after is None and before is None:
                filters = dataclasses.replace(filters, after=parsed.after,
                                              before=parsed.before)
            text = parsed.text or text  # a query of dates alone still needs a vector
            match = keywords.match_expression(parsed.text) if words else None
        if k < 1:
            raise UsageError("the number of results must be at least 1")
        text_vec = self.embedder.text_vector(text) if text else None
        image_vec = self.image_vector(image) if image is not None else None
        negative_vec = self.embedder.text_vector(negative) if negative else None
        query = search_mod.compose(text=text_vec, image=image_vec, negative=negative_vec,
                                   weights=weights)
        scale = self.calibration().for_query(text=text_vec is not None,
                                             image=image_vec is not None)
        return self._nearest(query, k=k, filters=filters, words=match, scale=scale,
                             min_score=min_score)

    def search_vector(
        self,
        query: Vector,
        *,
        k: int = 20,
        folder: Path | str | None = None,
        after: str | None = None,
        before: str | None = None,
        exclude: frozenset[int] = frozenset(),
        min_score: float = 0.0,
    ) -> Hits:
        """The photos nearest to a ready image vector (from :meth:`image_vector`), scored
        as image queries are."""
        return self._nearest(query, k=k, filters=self._filters(folder, after, before),
                             exclude=exclude, scale=self.calibration().image,
                             min_score=min_score)

    @staticmethod
    def _filters(folder: Path | str | None, after: str | None,
                 before: str | None) -> search_mod.Filters:
        return search_mod.Filters(
            folder=str(_existing_folder(folder)) if folder is not None else None,
            after=search_mod.parse_date(after) if after else None,
            before=search_mod.parse_date(before, end=True) if before else None,
        )

    def _nearest(self, query: Vector, *, k: int, filters: search_mod.Filters,
                 exclude: frozenset[int] = frozenset(),
                 words: str | None = None, scale: Scale | None = None,
                 min_score: float = 0.0) -> Hits:
        if k < 1:
            raise UsageError("the number of results must be at least 1")
        if not 0 <= min_score <= 100:
            raise UsageError(f"the minimum score must be between 0 and 100, not {min_score}")
        return search_mod.nearest(self.catalog, self.vector_index(), self._model_key()[0],
                                  query, k, filters=filters, exclude=exclude, words=words,
                                  scale=scale, min_score=min_score)

    def image_vector(self, image: Path | str) -> Vector:
        """The vector of any image file; the stored one when it is in the library."""
        path = _existing_file(image)
        row = self.catalog.photo_by_path(str(path))
        if row is not None:
            model_id, dim = self._model_key()
            stored = self.catalog.vector_of(row.id, model_id, dim)
            if stored is not None:
                return stored
        try:
            picture, _ = decode_path(path, min_side=self.embedder.image_input.size)
        except ImageError as error:
            raise UsageError(f"cannot use {path} as a query image: {error.reason}") from error
        vector: Vector = self.embedder.embed_images([picture])[0]
        return vector

    def similar(self, photo: Path | str, *, k: int = 20,
                min_score: float = DEFAULT_MIN_SCORE) -> Hits:
        """Photos like ``photo`` (the photo itself left out when it is in the library)."""
        path = _existing_file(photo)
        row = self.catalog.photo_by_path(str(path))
        exclude = frozenset({row.id}) if row is not None else frozenset()
        return self.search_vector(self.image_vector(path), k=k, exclude=exclude,
                                  min_score=min_score)

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
        )


TOWER_BUILD_FACTOR = 3
"""Memory that preparing the int8 image tower takes beyond the loaded model, per byte of
the image tower's float32 weights (export, fusion and quantization each hold about two
copies of the graph; ViT-B/32: +1.0 GB for 350 MB, see bench/run.py memory)."""


def _tower_build_bytes(model: Any) -> int:
    """What building the int8 tower of ``model`` adds to the process, with a margin, so
    that a machine short of memory keeps PyTorch instead of swapping."""
    tower = getattr(model, "vision_model", model)
    weights = sum(p.numel() * 4 for p in tower.parameters())
    return int(TOWER_BUILD_FACTOR * weights) + 512 * 2**20


def _existing_folder(path: Path | str) -> Path:
    folder = Path(path).expanduser()
    if not folder.exists():
        raise PathNotFoundError(path)
    if not folder.is_dir():
        raise UsageError(f"not a folder: {path}")
    return folder.resolve()


def _existing_file(path: Path | str) -> Path:
    file = Path(path).expanduser()
    if not file.exists():
        raise PathNotFoundError(path)
    if not file.is_file():
        raise UsageError(f"not a file: {path}")
    return file.resolve()
