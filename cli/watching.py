"""``pictor watch``: keep folders indexed while they change, one line per change, until
Ctrl-C or SIGTERM (which stop it within seconds, whatever the disks do)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Any

from cli.exits import EXIT_FAILURE, EXIT_OK
from cli.output import json_text
from cli.terminal import printable
from core.errors import UsageError

STOP_GRACE_S = 10.0
"""How long ``watch`` may take to stop after Ctrl-C or SIGTERM before it exits anyway."""


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

    def on_signal(signum: int, frame: object) -> None:
        watcher.stop()
        # A read stuck in the kernel (a dead network share, FUSE) could hold the stop up
        # and, at exit, the join of its thread: ending takes seconds, whatever happens.
        deadline = threading.Timer(STOP_GRACE_S, exit_now)
        deadline.daemon = True
        deadline.start()
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
