"""The endpoints: the command line's read-only commands, answering the same JSON as their
``--json``. Each awaits its library call on the one library thread (api.worker)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from api import params
from api.errors import PictorJSON, install_handlers
from api.guard import Guard
from api.params import MAX_BODY, MAX_QUERY, MAX_RESULTS
from api.worker import LibraryWorker, disconnected
from core.defaults import DEFAULT_MIN_SCORE
from core.errors import PathNotFoundError

if TYPE_CHECKING:
    from core.library import Library
    from core.types import Progress

Indexing = Callable[[], "Progress | None"]
"""The progress of the index run under way in this process, None when there is none."""

Photo = Annotated[str, Query(min_length=1, max_length=4096, description="a photo's path")]
Text = Annotated[str, Query(min_length=1, max_length=MAX_QUERY)]
SomeText = Annotated[str | None, Query(min_length=1, max_length=MAX_QUERY)]
Count = Annotated[int, Query(ge=1, le=MAX_RESULTS)]
MinScore = Annotated[float, Query(alias="min_score", ge=0, le=100)]


def create_app(worker: LibraryWorker, *, token: str, hosts: frozenset[str],
               indexing: Indexing = lambda: None) -> ASGIApp:
    """The API behind its guard (Host, then token); no CORS: browsers may not read it."""
    app = FastAPI(title="Pictor", summary="Offline photo search on this computer",
                  docs_url=None, redoc_url=None,  # they load scripts from the internet
                  default_response_class=PictorJSON, max_body_size=MAX_BODY)
    install_handlers(app)
    _add_routes(app, worker, indexing)
    return Guard(app, token=token, hosts=hosts, max_body=MAX_BODY)


def _hits(hits: Any) -> PictorJSON:
    """A hit list as ``--json`` prints it; what the cut-off hid, and whether the model's
    scores could only rank, in headers (the body stays the command line's)."""
    headers = {"X-Pictor-Hidden": str(getattr(hits, "hidden", 0)),
               "X-Pictor-Ranked": "1" if getattr(hits, "ranked", False) else "0"}
    best = getattr(hits, "best_hidden", None)
    if best is not None:
        headers["X-Pictor-Best-Hidden"] = repr(float(best))
    return PictorJSON([hit.to_json() for hit in hits], headers=headers)


def _add_routes(app: FastAPI, worker: LibraryWorker, indexing: Indexing) -> None:
    async def ask(request: Request, call: Callable[[Library], Any], *,
                  threads: int | None = 1) -> Any:
        """``call(library)`` on the library's thread, skipped if the client leaves first."""
        return await worker.run(call, threads=threads, gone=disconnected(request.receive))

    @app.get("/status")
    async def status(request: Request) -> Any:
        """What the library holds (``status --json``), and ``indexing``: the index run
        under way here (its phase, ``done`` of ``total`` files, ...), null when none is."""
        held = await ask(request, lambda lib: lib.status().to_json())
        running = indexing()
        return {**held, "indexing": None if running is None else running.to_json()}

    @app.get("/search")
    async def search(request: Request, q: SomeText = None,
                     image: Annotated[str | None, Query(
                         min_length=1, max_length=4096,
                         description="an example image: a file on this computer")] = None,
                     region: Annotated[str | None, Query(description="X,Y,W,H")] = None,
                     n: Count = 20, min_score: MinScore = DEFAULT_MIN_SCORE,
                     folder: str | None = None, after: str | None = None,
                     before: str | None = None,
                     near: Annotated[str | None, Query(description="LAT,LON[,KM]")] = None,
                     words: bool = True,
                     negative: Annotated[str | None, Query(alias="not",
                                                           max_length=MAX_QUERY)] = None,
                     copies: bool = False,
                     ) -> Any:
        """Photos matching a description, an example image, or both (``search TEXT
        --image PATH --json``; a library photo is searched by its stored vector). Each
        picture once, its copies named in ``copies``; ``copies=true`` lists them all."""
        where, box = params.near(near), params.region(region)
        return await ask(request, lambda lib: _hits(lib.search(
            q, image=image, negative=negative, k=n, folder=folder, after=after,
            before=before, words=words, min_score=min_score, near=where, region=box,
            copies=copies)))

    @app.post("/search")
    async def search_image(
            request: Request,
            image: Annotated[UploadFile, File(description="an example image, 50 MB at most")],
            q: Annotated[str | None, Form(max_length=MAX_QUERY)] = None,
            region: Annotated[str | None, Form(description="X,Y,W,H")] = None,
            n: Annotated[int, Form(ge=1, le=MAX_RESULTS)] = 20,
            min_score: Annotated[float, Form(ge=0, le=100)] = DEFAULT_MIN_SCORE) -> Any:
        """Photos like an uploaded image, with an optional text (``search --image``)."""
        box = params.region(region)
        path = await params.save_upload(image)
        try:
            return await ask(request, lambda lib: _hits(lib.search(
                q, image=path, k=n, min_score=min_score, region=box)))
        finally:
            path.unlink(missing_ok=True)

    @app.get("/similar")
    async def similar(request: Request, photo: Photo, n: Count = 20,
                      min_score: MinScore = DEFAULT_MIN_SCORE, copies: bool = False) -> Any:
        """Photos like this one (``similar PHOTO --json``)."""
        return await ask(request, lambda lib: _hits(lib.similar(
            photo, k=n, min_score=min_score, copies=copies)))

    @app.get("/duplicates")
    async def duplicates(request: Request, similar: bool = False) -> Any:
        """The copies of each picture, the one to keep first, and with ``similar`` the
        similar shots (``duplicates --json``). Listing changes no file; moving copies to
        the Trash is not offered here: it needs the user's confirmation on this computer."""
        def find(lib: Library) -> Any:
            run = lib.find_duplicates(similar=similar)
            for _ in run:
                pass
            return [group.to_json() for group in run.groups]
        return await ask(request, find, threads=None)

    @app.get("/captions")
    async def captions(request: Request, photo: Photo, n: Count = 10,
                       language: Literal["en", "zh"] = "en") -> Any:
        """Texts that describe a photo (``captions PHOTO --json``)."""
        return await ask(request, lambda lib: [c.to_json() for c in lib.captions(
            photo, n=n, language=language)])

    @app.get("/text")
    async def text(request: Request, photo: Photo) -> Any:
        """The text read in a photo, null if not read yet (``text PHOTO --json``)."""
        def read(lib: Library) -> Any:
            found = lib.text_of(photo)
            return None if found is None else {"text": found.text, "lines": found.lines,
                                               "error": found.error}
        return await ask(request, read)

    @app.get("/explain")
    async def explain(request: Request, photo: Photo, q: Text,
                      method: Literal["auto", "occlusion", "gradient"] = "auto") -> Any:
        """Where a description matched in a photo (``explain PHOTO TEXT --json``)."""
        return await ask(request, lambda lib: lib.explain(photo, q, method=method).to_json(),
                         threads=None)  # heavy: seconds of image passes

    @app.get("/thumbnail", response_class=Response,
             responses={200: {"content": {"image/jpeg": {}}}})
    async def thumbnail(request: Request, photo: Photo,
                        size: Annotated[int, Query(ge=16, le=2048)] = 256) -> Response:
        """A JPEG of a library photo as shown (upright), ``size`` pixels at most."""
        return Response(await ask(request, lambda lib: _thumbnail(lib, photo, size)),
                        media_type="image/jpeg")


def _thumbnail(library: Library, photo: str, size: int) -> bytes:
    from core.photos.imaging import decode_path

    if "\x00" in photo:
        raise PathNotFoundError(photo)
    path = os.path.realpath(os.path.expanduser(photo))
    # Only the library's photos: the API is no window onto the rest of the disk.
    if not os.path.isfile(path):
        raise PathNotFoundError(photo)
    if library.catalog.photo_by_path(path) is None:
        raise HTTPException(404, f"not a photo of the library: {photo}")
    picture, _ = decode_path(path, min_side=size)
    picture.thumbnail((size, size))
    out = io.BytesIO()
    picture.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()
