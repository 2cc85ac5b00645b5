"""``main.py serve`` through real HTTP on loopback: its door (Host, token), api.json, the
same JSON as the command line's --json, limits, bad clients, and a clean stop.

One server for the module (on a small library indexed with the tiny model); the stop
tests come last and start their own where they need one."""

from __future__ import annotations

import io
import json
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from api.discovery import live_instance, write_discovery
from tests.api.api_client import Server, index_toy_library, multipart, start_server
from tests.support.cli import pictor

QUERY = "a red circle on grass"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, tiny_clip_dir: Path) -> Path:
    return index_toy_library(tmp_path_factory.mktemp("api"), tiny_clip_dir, photos=6,
                             seed=24)


@pytest.fixture(scope="module")
def server(library: Path) -> Iterator[Server]:
    running = start_server(library / "data")
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


def photos_of(library: Path) -> list[Path]:
    return sorted((library / "photos").iterdir())


def test_every_request_needs_the_token(server: Server) -> None:
    for token in (None, "wrong", server.token + "x"):
        status, headers, body = server.request("GET", "/status", token=token)
        assert status == 401 and "Authorization" in json.loads(body)["error"]
        assert headers["www-authenticate"] == "Bearer"
    status, _, body = server.request("GET", "/openapi.json", token=None)
    assert status == 401
    document = server.get_json("/openapi.json")
    assert {"/status", "/search", "/similar", "/captions", "/text", "/explain",
            "/thumbnail", "/duplicates"} <= set(document["paths"])


def test_a_foreign_host_is_refused(server: Server) -> None:
    for host in (f"evil.example:{server.port}", "127.0.0.1", f"127.0.0.1:{server.port + 1}",
                 f"localhost.evil.example:{server.port}"):
        status, _, body = server.request("GET", "/status", host=host)
        assert status == 403, host
        assert "loopback" in json.loads(body)["error"]
    for host in (f"localhost:{server.port}", f"[::1]:{server.port}"):
        assert server.request("GET", "/status", host=host)[0] == 200


def test_no_cors_headers(server: Server) -> None:
    origin = {"Origin": "http://evil.example"}
    for method in ("GET", "OPTIONS"):
        _, headers, _ = server.request(method, "/status", headers=origin)
        assert not any(name.startswith("access-control-") for name in headers)


def test_api_json_is_private_and_names_the_live_server(server: Server) -> None:
    found = server.data / "api.json"
    assert stat.S_IMODE(found.stat().st_mode) == 0o600
    assert json.loads(found.read_text())["pid"] == server.proc.pid
    assert live_instance(server.data) == (server.url, server.token)
    assert server.url.startswith("http://127.0.0.1:")


def test_a_stale_api_json_is_recognised(tmp_path: Path) -> None:
    assert live_instance(tmp_path) is None  # no file
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_discovery(tmp_path, "http://127.0.0.1:9", "t")
    entry = json.loads((tmp_path / "api.json").read_text())
    (tmp_path / "api.json").write_text(json.dumps({**entry, "pid": gone.pid}))
    assert live_instance(tmp_path) is None  # its process is gone
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    write_discovery(tmp_path, f"http://127.0.0.1:{port}", "t")
    assert live_instance(tmp_path) is None  # alive (this process), but nothing answers
    (tmp_path / "api.json").write_text("{not json")
    assert live_instance(tmp_path) is None


def test_search_and_status_answer_as_the_command_line(server: Server, library: Path) -> None:
    query = {"q": QUERY, "n": 4, "min_score": 0}
    served = server.get_json("/search", query)
    cli = pictor("search", QUERY, "-n", "4", "--min-score", "0", "--json",
                 data=server.data)
    assert cli.returncode == 0, cli.stderr
    assert served == json.loads(cli.stdout) and len(served) == 4
    folder = str(library / "photos")
    assert server.get_json("/search", {**query, "folder": folder, "words": "false"})
    assert server.get_json("/search", {**query, "near": "37.39,-5.98,10"}) == []

    served = server.get_json("/status")
    cli = pictor("status", "--json", data=server.data)
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    served.pop("device"), expected.pop("device")  # "auto" until the model has loaded
    assert served.pop("indexing") is None  # the server's own index run: none going on
    assert served == expected and served["photos"] == 6


def test_the_other_endpoints(server: Server, library: Path) -> None:
    photo = str(photos_of(library)[0])
    similar = server.get_json("/similar", {"photo": photo, "n": 3, "min_score": 0})
    assert len(similar) == 3 and photo not in [hit["path"] for hit in similar]
    captions = server.get_json("/captions", {"photo": photo, "n": 3})
    assert len(captions) == 3 and all("text" in c for c in captions)
    found = server.get_json("/text", {"photo": photo})  # null: not read (no OCR here)
    assert found is None or {"text", "lines", "error"} == set(found)
    heat = server.get_json("/explain", {"photo": photo, "q": QUERY, "method": "gradient"})
    assert heat["text"] == QUERY and heat["grid"]
    status, headers, body = server.request("GET", "/thumbnail", {"photo": photo, "size": 40})
    assert status == 200 and headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(body)).size) <= 40


def test_a_search_by_uploaded_image(server: Server, library: Path) -> None:
    photo = photos_of(library)[2]
    body, kind = multipart({"n": "3", "min_score": "0"},
                           {"image": (photo.name, photo.read_bytes())})
    status, _, answer = server.request("POST", "/search", body=body,
                                       headers={"Content-Type": kind})
    assert status == 200, answer
    assert json.loads(answer)[0]["path"] == str(photo)  # itself, by its pixels
    body, kind = multipart({}, {"image": ("x.jpg", b"not an image at all")})
    status, _, answer = server.request("POST", "/search", body=body,
                                       headers={"Content-Type": kind})
    assert status == 400 and json.loads(answer)["error"]
    assert not list(Path(tempfile.gettempdir()).glob("pictor-upload-*"))


def test_limits_and_bad_requests(server: Server, library: Path) -> None:
    def error(query: dict[str, object], path: str = "/search") -> tuple[int, str]:
        status, _, body = server.request("GET", path, query)
        message = json.loads(body)["error"]
        assert "Traceback" not in message
        return status, message

    assert error({"q": "x" * 1001}) == (422, "q: String should have at most 1000 characters")
    assert error({"q": "a dog", "n": 501})[0] == 422
    assert error({"q": "a dog", "n": "many"})[0] == 422
    assert error({})[0] == 400  # neither a text nor an image
    assert error({"q": "a dog", "near": "somewhere"})[0] == 400
    assert error({"q": "a dog", "after": "yesterday-ish"})[0] == 400
    assert error({"photo": str(library / "nope.jpg")}, "/similar")[0] == 404
    outside = library / "outside.jpg"
    Image.new("RGB", (8, 8)).save(outside)
    assert error({"photo": str(outside)}, "/thumbnail")[0] == 404
    assert error({"photo": "/etc/passwd"}, "/thumbnail")[0] == 404
    assert server.request("GET", "/nowhere")[0] == 404
    # An upload announced over 50 MB is refused before it is read.
    status, _, body = server.request(
        "POST", "/search", body=b"x" * 100,
        headers={"Content-Type": "multipart/form-data; boundary=b",
                 "Content-Length": str(60_000_000)})
    assert status == 413 and "50 MB" in json.loads(body)["error"]
    # One that does not say its size is stopped once it passes the limit.
    body, kind = multipart({}, {"image": ("big.jpg", b"\xff" * 51_000_000)})
    chunks = (body[i:i + (1 << 20)] for i in range(0, len(body), 1 << 20))
    status, _, answer = server.request("POST", "/search", body=chunks, headers={
        "Content-Type": kind, "Transfer-Encoding": "chunked"})
    assert status == 413 and "50 MB" in json.loads(answer)["error"]


def test_bad_clients_do_not_disturb_the_next(server: Server) -> None:
    def raw(data: bytes, *, read: bool) -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(data)
            return sock.recv(65536) if read else b""

    assert raw(b"\x16\x03\x01 garbage \x00\xff\r\n\r\n", read=True).startswith(b"HTTP/1.1 400")
    raw(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1", read=False)  # half a request, gone
    search = (f"GET /search?q=a+dog HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
              f"Authorization: Bearer {server.token}\r\n\r\n").encode()
    raw(search, read=False)  # asks, then hangs up before the answer
    # Requests at once queue for the one library thread; all are answered.
    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.append(server.request(
        "GET", "/search", {"q": f"a shape number {i}", "min_score": 0})[0]))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [200] * 8
    assert server.get_json("/status")["photos"] == 6


def test_duplicates_answer_as_the_command_line(server: Server) -> None:
    for extra in ((), ("--similar",)):
        served = server.get_json("/duplicates", {"similar": "true"} if extra else {})
        cli = pictor("duplicates", *extra, "--json", data=server.data)
        assert cli.returncode == 0, cli.stderr
        assert served == json.loads(cli.stdout)
    every = server.get_json("/search", {"q": QUERY, "n": 6, "min_score": 0, "copies": "true"})
    cli = pictor("search", QUERY, "-n", "6", "--min-score", "0", "--copies", "--json",
                 data=server.data)
    assert every == json.loads(cli.stdout) and len(every) == 6


def test_sigterm_stops_cleanly(server: Server) -> None:
    assert server.stop(signal.SIGTERM) == 0
    assert not (server.data / "api.json").exists()
    assert live_instance(server.data) is None


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    other = start_server(tmp_path / "data")
    assert other.get_json("/status")["photos"] == 0
    assert other.stop(signal.SIGINT) == 0
    assert not (tmp_path / "data" / "api.json").exists()

