"""A property-style fuzzer over the OpenAPI document of ``main.py serve``: every operation,
every parameter, sent boundary and garbage values (empty, huge, negative, NaN, unicode,
control characters, bytes that are not UTF-8, path traversal, wrong types, repeats),
alone and in seeded random mixes. Whatever comes in, the server answers no 5xx, and every
error is JSON ``{"error": "..."}``. Then: clients that hang up mid-request or send garbage
do not disturb a normal request sent right after.

One server for the module, on a small library indexed with the tiny model."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest

from tests.api.api_client import Server, index_toy_library, multipart, start_server

QUERY = "a red circle on grass"
Value = str | bytes
"""A query value: text (sent UTF-8, percent-encoded) or raw bytes (maybe not UTF-8)."""

GARBAGE: tuple[Value, ...] = (
    "", " ", "0", "-1", "1", "-0", "1.5", "1e309", "-1e309", "NaN", "nan", "inf", "-inf",
    "9" * 40, "-" + "9" * 40, "0x10", "true", "null", "[]", "{}", "[1,2]", "a,b", ",,,",
    "1,2", "1,2,3,4", "0,0,0,0", "-1,-1,5,5", "nan,nan,nan", "91,181", "0,0,-5", "0,0,1e309",
    "2020-13-45", "0000-00-00", "9999", "-2020", "2020-02-30",
    "x" * 5000, "日本語の写真 🙂🐈", "\u202e\u200b\ufeff", "é" * 1001, "%", "%%00", "+",
    "\x00", "a\x00b", "\x1b[31mred", "\r\nX-Injected: 1", "\t\n\r", "\x7f",
    "../../../../etc/passwd", "/etc/passwd", "/etc/shadow", "~", "~/.ssh/id_rsa", "/",
    ".", "..", "/dev/zero", "/proc/self/environ", "C:\\Windows\\win.ini", "file:///etc/passwd",
    "' OR 1=1 --", "\"; DROP TABLE photos; --", "*", "?", "${HOME}", "$(id)",
    b"\xff\xfe\xfd", b"\xc0\xaf", b"\xed\xa0\x80", b"a\x80b",
)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, tiny_clip_dir: Path) -> Path:
    return index_toy_library(tmp_path_factory.mktemp("fuzz"), tiny_clip_dir, photos=4,
                             seed=42)


@pytest.fixture(scope="module")
def server(library: Path) -> Iterator[Server]:
    running = start_server(library / "data")
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    found: dict[str, Any] = server.get_json("/openapi.json")
    return found


Params = list[tuple[str, Value]]


def encode(params: Params) -> str:
    def one(value: Value) -> str:
        return quote_from_bytes(value, safe="") if isinstance(value, bytes) \
            else quote(value, safe="", errors="surrogatepass")
    return "&".join(f"{quote(name)}={one(value)}" for name, value in params)


def known_5xx(path: str, params: Params) -> str | None:
    """Why a request is known to get a 500 from this server, else None (none known: the
    four the first run found, a date past 9999, a name over 255 bytes, a NUL in
    /thumbnail's photo, are fixed and sent by test_once_known_5xx_answer_cleanly)."""
    return None


def valid(parameter: dict[str, Any], photo: str) -> str:
    """A value the operation accepts, for the parameters not being fuzzed."""
    name, schema = parameter["name"], parameter.get("schema", {})
    if name == "photo":
        return photo
    if "enum" in schema:
        return str(schema["enum"][0])
    kind = schema.get("type") or next((s.get("type") for s in schema.get("anyOf", ())
                                       if s.get("type") != "null"), "string")
    if kind in ("integer", "number"):
        return str(schema.get("minimum", schema.get("exclusiveMinimum", 0)) or 1)
    if kind == "boolean":
        return "true"
    return QUERY


class Fuzzer:
    """Sends requests and keeps what went wrong: 5xx answers not known, and error
    bodies not of the API's shape ``{"error": "a sentence"}``."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.problems: list[str] = []
        self.known: dict[str, int] = {}
        self.statuses: dict[int, int] = {}

    def send(self, method: str, path: str, params: Params | None = None, *,
             body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
        params = params or []
        target = f"{path}?{encode(params)}" if params else path
        status, answer_headers, answer = self.server.request(method, target, body=body,
                                                             headers=headers)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        where = f"{method} {target[:200]!r} -> {status}: {answer[:200]!r}"
        reason = known_5xx(path, params)
        if status >= 500 and reason is not None:
            self.known[reason] = self.known.get(reason, 0) + 1
        elif status >= 500:
            self.problems.append(where)
        if answer_headers.get("content-type", "").startswith("image/"):
            if status != 200:
                self.problems.append(where)
            return status
        try:
            decoded = json.loads(answer)  # every answer is JSON, errors too
        except ValueError:
            self.problems.append(f"not JSON: {where}")
            return status
        if status >= 400 and not (isinstance(decoded, dict) and isinstance(
                decoded.get("error"), str) and decoded["error"]
                and "Traceback" not in decoded["error"]):
            self.problems.append(f"not an error of the API's shape: {where}")
        return status

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems[:20]) + \
            "\n--- server log ---\n" + self.server.log_tail()


def get_operations(document: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(path, operation.get("parameters", []))
            for path, item in sorted(document["paths"].items())
            for method, operation in item.items() if method == "get"]


def test_the_document_lists_every_operation(document: dict[str, Any]) -> None:
    operations = {(path, method) for path, item in document["paths"].items()
                  for method in item}
    assert {("/search", "get"), ("/search", "post"), ("/status", "get"),
            ("/similar", "get"), ("/captions", "get"), ("/text", "get"),
            ("/explain", "get"), ("/thumbnail", "get")} <= operations


def test_every_parameter_with_garbage_gets_no_5xx(server: Server, document: dict[str, Any],
                                                  library: Path) -> None:
    fuzz = Fuzzer(server)
    photo = str(sorted((library / "photos").iterdir())[0])
    for path, parameters in get_operations(document):
        base = [(p["name"], valid(p, photo)) for p in parameters if p.get("required")]
        if path == "/search":  # a text, an image or both: neither is required alone
            base.append(("q", QUERY))
        assert fuzz.send("GET", path, list(base)) == 200, path
        for parameter in parameters:
            name = parameter["name"]
            others: Params = [(n, v) for n, v in base if n != name]
            # Explain runs the model over the photo: a slice of the values keeps it quick.
            values = GARBAGE[::4] if path == "/explain" else GARBAGE
            for value in values:
                fuzz.send("GET", path, [*others, (name, value)])
            # Missing, repeated, and under a wrong-cased name.
            for params in (others, [*others, (name, "1"), (name, "2")],
                           [*others, (name.upper(), valid(parameter, photo))]):
                fuzz.send("GET", path, params)
    fuzz.assert_clean()
    assert fuzz.statuses.get(200, 0) > 0 and fuzz.statuses.get(422, 0) > 0  # both sides


def test_random_mixes_of_garbage_get_no_5xx(server: Server, document: dict[str, Any],
                                            library: Path) -> None:
    fuzz = Fuzzer(server)
    rng = random.Random(24)
    photo = str(sorted((library / "photos").iterdir())[1])
    cheap = [(path, ps) for path, ps in get_operations(document) if path != "/explain"]
    for _ in range(200):
        path, parameters = rng.choice(cheap)
        params: Params = [(p["name"], rng.choice((valid(p, photo), *GARBAGE)))
                          for p in parameters if p.get("required") or rng.random() < 0.5]
        fuzz.send("GET", path, params)
    fuzz.assert_clean()


def test_uploads_with_garbage_get_no_5xx(server: Server, library: Path) -> None:
    fuzz = Fuzzer(server)
    image = sorted((library / "photos").iterdir())[0].read_bytes()
    for name in ("q", "region", "n", "min_score"):
        for value in GARBAGE[::2]:
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            body, kind = multipart({name: text}, {"image": ("a.jpg", image)})
            fuzz.send("POST", "/search", body=body, headers={"Content-Type": kind})
    files: list[tuple[str, bytes]] = [
        ("a.jpg", b""), ("a.jpg", b"\x00" * 100), ("a.png", image[:50]), ("", image),
        ("../../etc/passwd", image), ("x" * 300 + ".jpg", image), ("a.jpg\x00.exe", image),
        ("日本.heic", image), ("a.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("a.gif", b"GIF89a" + b"\xff" * 64), ("a.tif", b"II*\x00" + b"\x00" * 64)]
    for filename, data in files:
        body, kind = multipart({"min_score": "0"}, {"image": (filename, data)})
        fuzz.send("POST", "/search", body=body, headers={"Content-Type": kind})
    for body, kind in ((b"", "multipart/form-data; boundary=b"),
                       (b"--b\r\nnot a part\r\n--b--\r\n", "multipart/form-data; boundary=b"),
                       (b"garbage", "multipart/form-data"),
                       (b'{"q": "a dog"}', "application/json"),
                       (b"q=a+dog", "application/x-www-form-urlencoded"),
                       (image, "image/jpeg"), (b"\xff" * 1000, "text/plain; charset=utf-7")):
        fuzz.send("POST", "/search", body=body, headers={"Content-Type": kind})
    fuzz.send("POST", "/search", body=b"")
    for method in ("PUT", "DELETE", "PATCH", "POST"):
        fuzz.send(method, "/status")
    fuzz.assert_clean()
    assert fuzz.statuses.get(200, 0) > 0 and fuzz.statuses.get(400, 0) > 0  # both sides
    assert not list(Path(tempfile.gettempdir()).glob("pictor-upload-*"))


KNOWN_5XX: list[tuple[str, Params]] = [
    ("/similar", [("photo", "é" * 200)]),
    ("/captions", [("photo", "x" * 300)]),
    ("/text", [("photo", "x" * 300)]),
    ("/search", [("q", QUERY), ("folder", "x" * 300)]),
    ("/thumbnail", [("photo", "a\x00b")]),
    ("/search", [("q", QUERY), ("before", "9999")]),
]


def test_once_known_5xx_answer_cleanly(server: Server) -> None:
    fuzz = Fuzzer(server)
    for path, params in KNOWN_5XX:
        fuzz.send("GET", path, params)
    assert max(fuzz.statuses) < 500
    fuzz.assert_clean()


def raw(server: Server, data: bytes, *, read: bool) -> bytes:
    """Send ``data`` on a connection of its own, then read the answer or hang up at once."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(data)
        return sock.recv(65536) if read else b""


def test_hang_ups_and_garbage_do_not_disturb_the_next_request(server: Server) -> None:
    query = {"q": QUERY, "n": 3, "min_score": 0}
    expected = server.get_json("/search", query)
    head = (f"Host: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {server.token}\r\n").encode()
    body, kind = multipart({"n": "2"}, {"image": ("a.jpg", b"\xff\xd8" + b"\x00" * 4000)})
    hang_ups = [
        b"GET /search?q=a+dog HTTP/1.1\r\n" + head + b"\r\n",  # asks, hangs up unanswered
        b"GET /explain?photo=%2F&q=x HTTP/1.1\r\n" + head + b"\r\n",
        b"GET /search?q=a+d",  # half a request line
        b"GET /status HTTP/1.1\r\n" + head,  # headers never end
        b"POST /search HTTP/1.1\r\n" + head + f"Content-Type: {kind}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:len(body) // 2],  # half a body
        b"POST /search HTTP/1.1\r\n" + head + b"Transfer-Encoding: chunked\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n\r\nfff\r\n--b",  # half a chunk
    ]
    garbage = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS hello
        b"\x00" * 10000,
        b"GET / HTTP/1.1\r\nHost: " + b"x" * 70000 + b"\r\n\r\n",  # headers too large
        b"GET /status HTTP/9.9\r\n" + head + b"\r\n",
        b"GET /status HTTP/1.1\r\n" + head + b"Content-Length: -5\r\n\r\n",
        b"GET /status HTTP/1.1\r\n" + head + b"Transfer-Encoding: chunked\r\n"
        b"Content-Length: 5\r\n\r\nzz\r\n",  # request smuggling shape
    ]
    bad_clients = hang_ups + garbage
    for data in bad_clients:
        for read in (False, True) if data in garbage else (False,):
            try:
                answer = raw(server, data, read=read)
            except OSError:  # the server may close on garbage before we finish sending
                answer = b""
            assert not answer.startswith(b"HTTP/1.1 5"), (data[:80], answer[:200])
            assert server.get_json("/search", query) == expected, data[:80]
    # A search in flight beside clients that hang up: every normal one is answered right.
    results: list[Any] = []

    def normal() -> None:
        results.append(server.get_json("/search", query))

    def rude(data: bytes) -> None:
        with contextlib.suppress(OSError):
            raw(server, data, read=False)

    threads = [threading.Thread(target=normal) for _ in range(4)] + \
        [threading.Thread(target=rude, args=(data,)) for data in bad_clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [expected] * 4
    assert server.proc.poll() is None
