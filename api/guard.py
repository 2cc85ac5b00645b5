"""The API's door: a request must name this server as its Host (a web page that rebinds
its DNS name to 127.0.0.1 still sends its own name: refused) and carry the token.

Plain ASGI, in front of everything else, so that no route, error page or OpenAPI
document answers a request that fails either check.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send


def allowed_hosts(port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host values of this server: loopback by name and number, and ``extra`` hosts
    (the address the user asked to bind to)."""
    names = ["127.0.0.1", "localhost", "[::1]", *extra]
    return frozenset(f"{name.lower()}:{port}" for name in names)


class Guard:
    """Refuse foreign Host headers (403), then missing or wrong tokens (401), then bodies
    announced over ``max_body`` bytes (413)."""

    def __init__(self, app: ASGIApp, *, token: str, hosts: frozenset[str],
                 max_body: int) -> None:
        self.app = app
        self._max_body = max_body
        self._expected = f"Bearer {token}".encode()
        self._hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self._hosts:
            await _refuse(send, 403, "this server answers requests for its loopback "
                          "address only (Host must be 127.0.0.1, localhost or [::1] "
                          "with its port)")
            return
        given = headers.get(b"authorization", b"")
        if not secrets.compare_digest(given, self._expected):
            await _refuse(send, 401, "a request needs the header Authorization: Bearer "
                          "TOKEN, with the token of api.json in the data folder")
            return
        # A body announced too large is refused unread; one that grows past it while
        # streaming is stopped by FastAPI's own limit (api.routes).
        declared = headers.get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self._max_body:
            await _refuse(send, 413, f"the request is too large (uploads: at most "
                          f"{self._max_body // 1_000_000} MB)")
            return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
