"""The command line through a running instance (``serve``): a read-only command asks it
over HTTP and prints its JSON as the in-process command would, without importing torch or
opening the library (milliseconds instead of seconds to load a model).

Only a plain success is used: any other answer (a refusal, an error, a limit the API has
and the command line has not, a connection that fails) and any argument the API does not
take make the command run in-process, so the output and exit status stay the command
line's own. ``PICTOR_NO_INSTANCE=1`` always runs in-process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

log = logging.getLogger(__name__)

REMOTE_COMMANDS = frozenset({"search", "similar", "captions", "status", "text", "explain"})
NO_INSTANCE_ENV = "PICTOR_NO_INSTANCE"
CONNECT_TIMEOUT_S = 0.5
"""Loopback accepts at once; longer means the instance is stuck: run in-process."""
ANSWER_TIMEOUT_S = 300.0
"""A first search loads the instance's model, an explain by occlusion takes seconds."""


@dataclass
class Answer:
    """The instance's JSON, and for hit lists what its cut-off hid (response headers)."""

    body: Any
    meta: dict[str, str] = field(default_factory=dict)


@dataclass
class _Call:
    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)


def ask(args: argparse.Namespace) -> Answer | None:
    """The running instance's answer to this command, or None: run it in-process."""
    if os.environ.get(NO_INSTANCE_ENV) or args.command not in REMOTE_COMMANDS:
        return None
    if args.device != "auto":  # the instance runs on its own device
        return None
    from api.discovery import live_instance
    from core.config import default_data_dir

    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    found = live_instance(data_dir)
    call = _call_for(args)
    if found is None or call is None:
        return None
    url, token = found
    try:
        if args.model is not None and not _same_model(args.model, url, token):
            return None
        answer = _send(call, url, token)
    except (OSError, ValueError, http.client.HTTPException) as error:
        # Gone since discovery, an error answer, or a body that is not JSON.
        log.debug("the instance at %s did not answer (%s): running in-process", url, error)
        return None
    if args.command == "status" and isinstance(answer.body, dict):
        answer.body.pop("indexing", None)  # the instance's own run: not the command's output
    return answer


def _same_model(model: str, url: str, token: str) -> bool:
    running = str(_send(_Call("GET", "/status"), url, token).body.get("model"))
    return model == running or os.path.realpath(os.path.expanduser(model)) == running


def _absolute(path: str) -> str:
    # The instance has its own working folder: a relative name means this one's.
    return os.path.abspath(os.path.expanduser(path))


def _result_query(args: argparse.Namespace) -> dict[str, Any]:
    query = {"n": args.n, "min_score": repr(args.min_score)}
    if getattr(args, "copies", False):
        query["copies"] = "true"
    return query


def _call_for(args: argparse.Namespace) -> _Call | None:
    """The request that answers ``args``, or None when the API cannot take them."""
    command = args.command
    if command == "status":
        return _Call("GET", "/status")
    if command == "search":
        return _search_call(args)
    photo = {"photo": _absolute(args.photo)}
    if command == "similar":
        return _Call("GET", "/similar", {**photo, **_result_query(args)})
    if command == "captions":
        return _Call("GET", "/captions", {**photo, "n": args.n, "language": args.language})
    if command == "text":
        return _Call("GET", "/text", photo)
    if args.out:  # explain --out draws the heat over the photo here
        return None
    return _Call("GET", "/explain", {**photo, "q": args.text, "method": args.method})


def _search_call(args: argparse.Namespace) -> _Call | None:
    if args.region is not None and args.image is None:
        return None  # in-process says a region needs an --image
    query: dict[str, Any] = _result_query(args)
    if args.text is not None:
        query["q"] = args.text
    # The example image by its path, not uploaded: the instance reads the same disk, and
    # a library photo is searched by its stored vector, as in-process.
    for name, key in (("image", "image"), ("folder", "folder"), ("after", "after"),
                      ("before", "before"), ("negative", "not")):
        value = getattr(args, name)
        if value is not None:
            query[key] = _absolute(value) if name in ("image", "folder") else value
    for name in ("near", "region"):
        if getattr(args, name) is not None:
            query[name] = ",".join(repr(value) for value in getattr(args, name))
    if not args.words:
        query["words"] = "false"
    return _Call("GET", "/search", query)


class _Connection(http.client.HTTPConnection):
    """Connects within CONNECT_TIMEOUT_S, then waits for the answer as long as it takes."""

    def connect(self) -> None:
        self.timeout = CONNECT_TIMEOUT_S
        super().connect()
        self.sock.settimeout(ANSWER_TIMEOUT_S)


class _Handler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_Connection, req)


# No proxies: $http_proxy must never see the token or the loopback request.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _Handler)


def _send(call: _Call, url: str, token: str) -> Answer:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    target = url + call.path + ("?" + urlencode(call.query) if call.query else "")
    request = urllib.request.Request(target, headers=headers, method=call.method)
    try:
        with _OPENER.open(request) as response:
            body = json.loads(response.read().decode("utf-8", "surrogateescape"))
            meta = {k.lower(): v for k, v in response.headers.items()
                    if k.lower().startswith("x-pictor-")}
    except urllib.error.HTTPError as error:  # raised before the body is read: close it
        error.close()
        raise
    except urllib.error.URLError as error:
        raise OSError(str(error.reason)) from error
    return Answer(body, meta)
