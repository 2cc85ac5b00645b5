"""Answering a library's questions about its photos with its current model: search by
text, image or both, photos like a photo, and the captions and tags of any photo.

Every argument is checked before the model loads, so a typo costs no model load.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from core.defaults import DEFAULT_MIN_SCORE
from core.errors import ImageError, PathNotFoundError, UsageError
from core.models.context import ModelContext
from core.photos.formats import is_raw
from core.photos.imaging import decode_path, read_info
from core.search import queries
from core.search.calibration import Scale
from core.search.captions import Caption
from core.search.copies_in_results import fold_copies
from core.search.scores import Scores
from core.types import Hits, Vector
from core.words import keywords, user_words

log = logging.getLogger(__name__)

COPIES_PAD = 20
"""Extra results asked for when copies are folded, so that the list still holds ``k``."""


class Searcher:
    """Search, similar photos, captions and tags of one library (``scores``: its
    calibration and caption corpus)."""

    def __init__(self, library: ModelContext, scores: Scores) -> None:
        self._library = library
        self._scores = scores

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
        weights: queries.Weights = queries.DEFAULT_WEIGHTS,
        words: bool = True,
        min_score: float = DEFAULT_MIN_SCORE,
        near: tuple[float, float, float] | None = None,
        place: str | None = None,
        region: tuple[float, float, float, float] | None = None,
        copies: bool = False,
    ) -> Hits:
        """Photos matching a description, an example image (any file), or both.

        Dates in the text ("2019", "june 2021", "2021-06") become a date filter unless
        ``after`` or ``before`` is given, and are not sent to the model; with ``words``
        the text's words are also matched against file names, folders, the photos' own
        words and their tags (see :func:`core.search.queries.nearest`). Photos found by
        meaning alone that score under ``min_score`` (0-100) are hidden: see :class:`Hits`.
        A place the library's photos were taken in ("Seville", "Spain", "西班牙") becomes a
        place filter, as dates do; ``near`` (``lat, lon, km``) keeps photos taken within
        ``km`` of a position; ``place`` (a label from ``catalog.places()``) keeps the
        photos taken there. ``region`` (``x, y, width, height``) queries by that part of
        the ``image`` only (:meth:`image_vector`). With ``copies`` every copy of a picture
        is listed; without, each picture once (core.search.copies_in_results).
        """
        text = text.strip() if text else None
        if not text and image is None:
            raise UsageError("a search needs a text, an image, or both")
        filters = dataclasses.replace(self._filters(folder, after, before), near=near,
                                      place_label=place)
        match = None
        if text:
            text, filters, match = self._read_text(text, filters, words=words,
                                                   dated=after is not None or before is not None)
        _check_limits(k, min_score)
        if region is not None and image is None:
            raise UsageError("a region is a part of the query image: give --image too")
        image_vec = self.image_vector(image, region=region) if image is not None else None
        text_vec = self._library.embedder.text_vector(text) if text else None
        negative_vec = self._library.embedder.text_vector(negative) if negative else None
        query = queries.compose(text=text_vec, image=image_vec, negative=negative_vec,
                                weights=weights)
        calibration = self._scores.calibration()
        scale = calibration.for_query(text=text_vec is not None, image=image_vec is not None,
                                      words=text or "")
        # A model whose scores cannot separate matches from the rest: a cut-off would
        # hide good matches as readily as bad ones, so show the ranking whole. A fine-tuned
        # version's scores were fitted on its held-out photos: they are trusted.
        ranked = (text_vec is not None and not calibration.separates
                  and calibration.names_scale is None)
        if ranked:
            min_score = 0.0
        started = time.monotonic()
        parts = {name: vector for name, vector in
                 (("text", text_vec), ("image", image_vec), ("not", negative_vec))
                 if vector is not None}
        hits = self._nearest(query, k=k, filters=filters, words=match, scale=scale,
                             min_score=min_score, text=text or "", parts=parts,
                             copies=copies)
        hits.ranked = ranked
        log.info("search: %d hits (%d hidden under %g) in %.0f ms", len(hits), hits.hidden,
                 min_score, (time.monotonic() - started) * 1000)
        return hits

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
        copies: bool = False,
    ) -> Hits:
        """The photos nearest to a ready image vector (from :meth:`image_vector`), scored
        as image queries are."""
        filters = self._filters(folder, after, before)
        _check_limits(k, min_score)
        return self._nearest(query, k=k, filters=filters, exclude=exclude,
                             scale=self._scores.calibration().image, min_score=min_score,
                             copies=copies)

    def similar(self, photo: Path | str, *, k: int = 20,
                min_score: float = DEFAULT_MIN_SCORE, copies: bool = False) -> Hits:
        """Photos like ``photo`` (the photo itself left out when it is in the library);
        with ``copies`` every copy of a picture is listed, else each picture once."""
        path = existing_file(photo)
        row = self._library.catalog.photo_by_path(str(path))
        exclude = frozenset({row.id}) if row is not None else frozenset()
        return self.search_vector(self.image_vector(path), k=k, exclude=exclude,
                                  min_score=min_score, copies=copies)

    def image_vector(self, image: Path | str, *,
                     region: tuple[float, float, float, float] | None = None) -> Vector:
        """The vector of any image file; the stored one when it is in the library. With
        ``region`` (``x, y, width, height`` in the photo's full-size pixels as shown, EXIF
        orientation applied) the vector of that part of it ("more photos of this dog")."""
        path = existing_file(image)
        if region is not None:
            return self._region_vector(path, region)
        catalog = self._library.catalog
        row = catalog.photo_by_path(str(path))
        if row is not None:
            model_id, dim = self._library.model_key()
            stored = catalog.vector_of(row.id, model_id, dim)
            if stored is not None:
                return stored
        try:
            if not is_raw(path):  # a RAW's header is its whole preview: decoded once, below
                read_info(path)  # a text file or a broken image: refused before the model loads
            embedder = self._library.embedder
            picture, _ = decode_path(path, min_side=embedder.image_input.size)
        except ImageError as error:
            raise UsageError(f"cannot use {path} as a query image: {error.reason}") from error
        vector: Vector = embedder.embed_images([picture])[0]
        return vector

    def _region_vector(self, path: Path, region: tuple[float, float, float, float]) -> Vector:
        x, y, width, height = region
        if width <= 0 or height <= 0 or x < 0 or y < 0:
            raise UsageError(f"a region needs a positive width and height inside the photo, "
                             f"not {','.join(f'{v:g}' for v in region)}")
        try:
            if not is_raw(path):
                read_info(path)  # refused before the model loads
            picture, info = decode_path(path)
        except ImageError as error:
            raise UsageError(f"cannot use {path} as a query image: {error.reason}") from error
        # The decode may be smaller than the photo (a RAW's preview): scale the region to it.
        scale_x, scale_y = picture.width / info.width, picture.height / info.height
        box = (round(x * scale_x), round(y * scale_y), round((x + width) * scale_x),
               round((y + height) * scale_y))
        if box[2] > picture.width + 1 or box[3] > picture.height + 1 or \
                box[2] - box[0] < 1 or box[3] - box[1] < 1:
            raise UsageError(f"the region {','.join(f'{v:g}' for v in region)} is not inside "
                             f"the photo ({info.width}x{info.height} as shown)")
        crop = picture.crop((box[0], box[1], min(box[2], picture.width),
                             min(box[3], picture.height)))
        vector: Vector = self._library.embedder.embed_images([crop])[0]
        return vector

    def captions(self, photo: Path | str, *, n: int = 10,
                 language: str = "en") -> list[Caption]:
        """Texts that describe a photo (in the library or not), best first: its own words
        (title, description, keywords, sidecar, album) first, then built-in terms; at
        most ``n`` in all."""
        if n < 1:
            raise UsageError("the number of captions must be at least 1")
        if language not in ("en", "zh"):
            raise UsageError(f"unknown caption language {language!r} (use en or zh)")
        path = existing_file(photo)
        vector = self.image_vector(path)
        catalog = self._library.catalog
        row = catalog.photo_by_path(str(path))
        root = catalog.root_of(row.id) if row is not None else None
        scale = self._scores.calibration(fallback=vector).text
        own = user_words.read_user_texts(path, root=Path(root) if root else None)
        mine: list[Caption] = []
        if own:
            cosines = self._library.embedder.embed_texts([t.text for t in own]) @ vector
            mine = sorted((Caption(t.text, scale.score_one(float(c)), "user", t.source)
                           for t, c in zip(own, cosines, strict=True)),
                          key=lambda c: -c.score)
        if len(mine) >= n:
            return mine[:n]
        return mine + self._scores.caption_corpus().captions(
            vector, scale, n=n - len(mine), language=language)

    def tags(self, photo: Path | str) -> list[tuple[str, float]]:
        """A library photo's stored tags for the current model ([] when none passed)."""
        catalog = self._library.catalog
        row = catalog.photo_by_path(str(existing_file(photo)))
        if row is None:
            return []
        return catalog.tags_of(row.id, self._library.model_key()[0]) or []

    def _filters(self, folder: Path | str | None, after: str | None,
                 before: str | None) -> queries.Filters:
        filters = _filters(folder, after, before)
        if filters.folder is not None:
            roots = [Path(path) for _, path in self._library.catalog.roots()]
            wanted = Path(filters.folder)
            if not any(wanted.is_relative_to(r) or r.is_relative_to(wanted) for r in roots):
                listed = ", ".join(str(r) for r in roots) or "none yet"
                raise UsageError(f"{folder} is not in the library (its folders: {listed})")
        return filters

    def _read_text(self, text: str, filters: queries.Filters, *, words: bool,
                   dated: bool) -> tuple[str, queries.Filters, str | None]:
        """A query's text for the model, its filters with the dates and the place it names
        (unless ``dated``: the caller's dates win), and its words' FTS5 expression."""
        parsed = keywords.parse_query(text)
        if parsed.after and not dated:
            filters = dataclasses.replace(filters, after=parsed.after, before=parsed.before)
        named_place, rest = self._place_in(parsed.text) if words else (None, parsed.text)
        if named_place is not None:
            filters = dataclasses.replace(filters, place=named_place)
        # The place stays in the words: "Spain" alone finds its photos by their words.
        match = keywords.match_expression(parsed.text) if words else None
        return rest or parsed.text or text, filters, match  # dates alone still need a vector

    def _place_in(self, text: str) -> tuple[str | None, str]:
        """The longest run of ``text``'s words (up to 3) that names a place some photo was
        taken in, as an FTS5 expression on the place words, and the text without it."""
        words = [w for w in keywords.query_words(text) if w.lower() not in keywords.STOPWORDS]
        for length in (3, 2, 1):
            for start in range(len(words) - length + 1):
                phrase = " ".join(words[start : start + length])
                expression = keywords.phrase_expression(phrase, "")
                if expression and self._library.catalog.has_place_words(expression):
                    rest = [*words[:start], *words[start + length :]]
                    return expression, " ".join(rest)
        return None, text

    def _nearest(self, query: Vector, *, k: int, filters: queries.Filters,
                 exclude: frozenset[int] = frozenset(),
                 words: str | None = None, scale: Scale | None = None,
                 min_score: float = 0.0, text: str = "",
                 parts: dict[str, Vector] | None = None, copies: bool = False) -> Hits:
        catalog, (model_id, dim) = self._library.catalog, self._library.model_key()
        # Folding copies shortens the list: ask for a few more to fill it.
        wanted = k if copies else k + min(k, COPIES_PAD)
        hits = queries.nearest(catalog, self._library.vector_index(), model_id, query,
                               wanted, filters=filters, exclude=exclude, words=words,
                               scale=scale, min_score=min_score, text=text, parts=parts)
        if copies:
            return hits
        folded = fold_copies(hits, catalog, model_id, dim)
        del folded[k:]
        return folded


def _check_limits(k: int, min_score: float) -> None:
    if k < 1:
        raise UsageError("the number of results must be at least 1")
    if not 0 <= min_score <= 100:
        raise UsageError(f"the minimum score must be between 0 and 100, not {min_score}")


def _filters(folder: Path | str | None, after: str | None,
             before: str | None) -> queries.Filters:
    return queries.Filters(
        folder=str(existing_folder(folder)) if folder is not None else None,
        after=queries.parse_date(after) if after else None,
        before=queries.parse_date(before, end=True) if before else None,
    )


def existing_folder(path: Path | str) -> Path:
    """``path`` as an absolute folder, or a clear error (it is missing, or not a folder)."""
    folder = _checked(path)
    if not folder.is_dir():
        raise UsageError(f"not a folder: {path}")
    return folder.resolve()


def existing_file(path: Path | str) -> Path:
    """``path`` as a file, or a clear error (it is missing, or not a file)."""
    file = _checked(path)
    if not file.is_file():
        raise UsageError(f"not a file: {path}")
    return file.resolve()


def _checked(path: Path | str) -> Path:
    """``path`` (``~`` expanded) when it exists; a name too long for the system or holding
    a NUL is a usage error, not a crash."""
    if "\x00" in str(path):
        raise UsageError(f"not a path (it holds a NUL character): {path!r}")
    found = Path(path).expanduser()
    try:
        found.stat()
    except FileNotFoundError:
        raise PathNotFoundError(path) from None
    except OSError as error:
        raise UsageError(f"cannot use {path}: {error.strerror or error}") from error
    return found
