"""``pictor watch``: keep folders indexed while they change, one line per change, until
Ctrl-C or SIGTERM (which stop it within seconds, whatever the disks do); and ``pictor
serve``: the same watching, with the local API answering meanwhile (api/)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.exits import EXIT_FAILURE, EXIT_OK
from cli.output import download_bar, json_text
from cli.terminal import printable
from core.errors import UsageError

if TYPE_CHECKING:
    from core.library import Library

STOP_GRACE_S = 10.0
"""How long ``watch`` may take to stop after Ctrl-C or SIGTERM before it exits anyway."""
SERVE_BATCH = 8
"""Photos per indexing batch in ``serve``: a request waits for the batch under way, so a
small one keeps answers quick while it indexes (``watch``: 32). With 16 clients searching
during an index run (bench/api_load.py, toy model, 2 cores shared with other work), p99
was 410-810 ms with batches of 8 against 600-1210 ms with 32, indexing 30-50% slower."""


def exit_now() -> None:
    print("pictor: stopping took too long; exiting now (every indexed photo is saved in the "
          "library; its search index is brought up to date at the next start)",
          file=sys.stderr, flush=True)
    os._exit(EXIT_FAILURE)


def watch(library: Any, args: argparse.Namespace) -> int:
    import signal

    from core.sync.watcher import Change, Watcher

    if not args.paths and not library.roots():
        raise UsageError("no folders to watch: name them (pictor watch PATH...) or add "
                         "them with pictor index PATH")

    def emit(event: dict[str, Any], text: str) -> None:
        print(json_text(event) if args.json else printable(text), flush=True)

    def on_change(change: Change) -> None:
        if change.kind == "reconciled" and change.progress is not None:
            p = change.progress
            text = (f"checked {change.path or 'all folders'}: indexed {p.indexed}, failed "
                    f"{p.failed}, moved {p.moved}, removed {p.removed}, {p.skipped} "
                    f"unchanged in {p.elapsed_s:.1f} s")
        elif change.kind == "moved":
            text = f"moved {change.old_path} -> {change.path}"
        else:
            text = f"{change.kind} {change.path}"
        emit(change.to_json(), text)

    watcher = Watcher(library, folders=args.paths or None, on_change=on_change,
                      on_message=lambda text: emit({"event": "message", "message": text}, text))
    stop = stopper(watcher.stop)

    def on_signal(signum: int, frame: object) -> None:
        stop()
        signal.signal(signum, previous[signum])  # a second one acts as usual

    previous: dict[int, Any] = {sig: signal.signal(sig, on_signal)
                                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        watcher.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    emit({"event": "stopped"}, "stopped")
    return EXIT_OK


def stopper(stop: Callable[[], None]) -> Callable[[], None]:
    """``stop``, and the process ends within STOP_GRACE_S whatever happens: a read stuck
    in the kernel (a dead network share, FUSE) could hold the stop up and, at exit, the
    join of its thread."""
    def stopping() -> None:
        stop()
        deadline = threading.Timer(STOP_GRACE_S, exit_now)
        deadline.daemon = True
        deadline.start()

    return stopping


def _say(text: str) -> None:
    print(f"pictor: {printable(text)}", file=sys.stderr, flush=True)


def serve(args: argparse.Namespace) -> int:
    """``pictor serve``: the library open (as a writer, like the window, unless
    ``--no-watch``), the API answering until Ctrl-C or SIGTERM."""
    from api.discovery import AlreadyServing, live_instance
    from core.config import default_data_dir
    from core.library import Library

    # Refused before the library opens: the instance there keeps it (and its api.json).
    running = live_instance(Path(args.data_dir).expanduser() if args.data_dir
                            else default_data_dir())
    if running is not None:
        raise AlreadyServing(running[0])
    with Library(args.data_dir, model=args.model, device=args.device,
                 on_download=download_bar(args), verify=args.watch, reading=not args.watch,
                 on_wait=_say) as library:
        for notice in library.notices:
            _say(notice)
        return _serve_watching(library, args) if args.watch else _serve_only(library, args)


def _announce(server: Any) -> None:
    from api.server import warn_if_exposed

    warning = warn_if_exposed(server)
    if warning is not None:
        print(f"pictor: warning: {warning}", file=sys.stderr, flush=True)
    _say(f"serving {server.url} (token in {server.discovery}); Ctrl-C stops")


def _serve_only(library: Library, args: argparse.Namespace) -> int:
    """The API alone (``--no-watch``): the library on a thread of its own, no indexing."""
    from api.server import ApiServer
    from api.worker import LibraryWorker

    worker = LibraryWorker(library)
    try:
        server = ApiServer(worker, library.data_dir, host=args.host, port=args.port)
        _announce(server)
        server.run()
    finally:
        worker.close()
    return EXIT_OK


def _serve_watching(library: Library, args: argparse.Namespace) -> int:
    """The folders watched and indexed as ``watch`` does, on the library's one thread; the
    API's calls run there too: at once when it is idle, else between two batches."""
    from api.server import ApiServer
    from api.worker import LibraryWorker
    from core.sync.watch_settings import WatchSettings
    from core.sync.watcher import Watcher

    watcher = Watcher(library, settings=WatchSettings(batch_size=SERVE_BATCH),
                      on_message=_say)
    worker = LibraryWorker(library, submit=lambda job: watcher.submit(lambda _: job()))
    server = ApiServer(worker, library.data_dir, host=args.host, port=args.port,
                       indexing=lambda: watcher.progress)
    failed: list[BaseException] = []

    def keep_watching() -> None:
        try:
            watcher.run()
        except BaseException as error:  # the library is unusable: serve says so and ends
            failed.append(error)
        finally:
            worker.close()  # requests still waiting are answered 503 at once
            server.stop(wait=False)

    thread = threading.Thread(target=keep_watching, name="pictor-library")
    _announce(server)
    thread.start()
    try:
        server.run(on_signal=stopper(watcher.stop))
    finally:
        watcher.stop()
        thread.join()  # a batch at most (a stuck disk: the stopper's deadline)
    if failed:
        raise failed[0]
    return EXIT_OK
