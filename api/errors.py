"""Errors as the API answers them: ``{"error": "one sentence"}`` with a status that says
whose fault it was; never a traceback (that goes to the server's log)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from core.errors import ImageError, PathNotFoundError, PictorError, UsageError, explain


class PictorJSON(JSONResponse):
    """JSON as the command line's ``--json`` writes it: UTF-8, and a file name's bytes that
    are not UTF-8 (lone surrogates) as ``\\udcXX`` escapes that decode back to the name."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def error(status: int, message: str) -> PictorJSON:
    return PictorJSON({"error": message}, status_code=status)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PictorError, _pictor_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


async def _pictor_error(request: Request, exc: Exception) -> PictorJSON:
    if isinstance(exc, PathNotFoundError):
        return error(404, str(exc))
    if isinstance(exc, (UsageError, ImageError)):  # the request's fault: a bad value or file
        return error(400, str(exc))
    return error(500, str(exc))


async def _invalid(request: Request, exc: Exception) -> PictorJSON:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for problem in exc.errors():
        where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "request"
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    return error(422, "; ".join(problems) or "invalid request")


async def _http_error(request: Request, exc: Exception) -> PictorJSON:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 413:
        return error(413, "the request is too large (uploads: at most 50 MB)")
    return error(exc.status_code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> PictorJSON:
    known = explain(exc)  # a full disk, a permission: a sentence, no trace
    if known is not None:
        return error(500, str(known))
    # The server logs the traceback (Starlette re-raises after this answer).
    return error(500, "internal error (the server's log has the details)")
