"""Clients that misbehave while ``serve`` indexes: connections left half-sent (a request
line, headers, an upload's body), idle ones, and clients that hang up in the middle of a
request or an upload. None of them holds up or changes the answers the others get, the
index run goes on, and no upload is left behind in the temp folder."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from core.library import Library
from tests.api.api_client import Server, multipart, start_server
from tests.support import toyworld

QUERY = {"q": "a red circle on grass", "n": 5, "min_score": 0}
NEW_PHOTOS = 150


def paths(hits: list[dict[str, Any]]) -> list[str]:
    """The photos a search found, in order (their scores follow the library's calibration,
    which the index run refits)."""
    return [hit["path"] for hit in hits]


def uploads_left() -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob("pictor-upload-*"))


def bad_requests(server: Server) -> tuple[list[bytes], list[bytes]]:
    """What stalled clients send and then keep their connection open; what rude ones
    send before they hang up."""
    head = (f"Host: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {server.token}\r\n").encode()
    body, kind = multipart({"n": "2"}, {"image": ("a.jpg", b"\xff\xd8" + b"\x00" * 200_000)})
    upload = (b"POST /search HTTP/1.1\r\n" + head + f"Content-Type: {kind}\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode())
    stalled = [
        b"",  # connects, says nothing
        b"GET /search?q=a+d",  # half a request line
        b"GET /status HTTP/1.1\r\n" + head,  # headers never end
        upload + body[:len(body) // 2],  # half an upload
    ]
    rude = [
        b"GET /search?q=a+dog+that+hangs+up HTTP/1.1\r\n" + head + b"\r\n",
        upload + body[:len(body) // 3],
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # TLS hello
        b"GET /status HTTP/1.1\r\n" + head + b"Transfer-Encoding: chunked\r\n"
        b"Content-Length: 5\r\n\r\nzz\r\n",
    ]
    return stalled, rude


def test_stalled_and_vanishing_clients_during_an_index_run(tmp_path: Path,
                                                         tiny_clip_dir: Path) -> None:
    folder, data = tmp_path / "photos", tmp_path / "data"
    toyworld.write_photos(folder / "first", toyworld.random_scenes(6, seed=12), seed=12)
    with Library(data) as library:
        library.add_roots([folder])
    server = start_server(data, "--model", str(tiny_clip_dir))
    sockets: list[socket.socket] = []
    before = set(uploads_left())
    try:
        deadline = time.monotonic() + 60
        while server.get_json("/status")["indexed"] < 6:
            assert time.monotonic() < deadline, "the start-up scan did not finish"
            time.sleep(0.1)
        query = {**QUERY, "folder": str(folder / "first")}  # untouched by the new photos
        expected = paths(server.get_json("/search", query))
        stalled, rude = bad_requests(server)
        for data_sent in stalled:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(data_sent)
            sockets.append(sock)  # held open to the end
        toyworld.write_photos(folder / "new", toyworld.random_scenes(NEW_PHOTOS, seed=13),
                              seed=13)

        answers: list[Any] = []
        slowest = [0.0]
        stop = threading.Event()

        def good() -> None:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    answers.append(paths(server.get_json("/search", query)))
                except (AssertionError, OSError, ValueError) as error:  # kept: fails below
                    answers.append(repr(error))
                slowest[0] = max(slowest[0], time.monotonic() - started)

        def vanish() -> None:  # a few dozen a second: misbehaving clients, not a flood
            while not stop.wait(0.05):
                for data_sent in rude:
                    with contextlib.suppress(OSError), \
                            socket.create_connection(("127.0.0.1", server.port), 10) as sock:
                        sock.sendall(data_sent)  # and gone, unanswered

        threads = [threading.Thread(target=good) for _ in range(3)] + \
            [threading.Thread(target=vanish) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            while server.get_json("/status")["photos"] < 6 + NEW_PHOTOS \
                    or server.get_json("/status")["indexing"] is not None:
                assert time.monotonic() < deadline + 60, "the index run did not finish"
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        assert len(answers) > 10 and all(answer == expected for answer in answers), \
            [answer for answer in answers if answer != expected][:3]
        assert slowest[0] < 5.0, f"a search took {slowest[0]:.1f} s"
        assert server.get_json("/status")["indexed"] == 6 + NEW_PHOTOS
    finally:
        for sock in sockets:
            sock.close()
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
    assert set(uploads_left()) <= before
