"""The command line: ``python main.py index|search|similar|captions|explain|status|serve|...``.

A thin front over :class:`core.library.Library`: it parses arguments, draws progress with
tqdm on a terminal, prints tables or ``--json``, and turns expected errors into one line
on stderr and an exit code (0 ok, 1 failure, 2 bad usage or missing path, 130 Ctrl-C).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cli import commands, remote
from cli.duplicates import duplicates
from cli.exits import EXIT_CLOSED_PIPE, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from cli.output import (
    download_bar,
    print_captions,
    print_heat,
    print_hit_rows,
    print_hits,
    print_status,
    print_text,
)
from cli.parser import ArgumentError, build_parser
from cli.terminal import PrintableFormatter, printable
from cli.watching import serve, watch
from core.errors import PictorError, UsageError, explain

READING_COMMANDS = frozenset({"search", "similar", "captions", "text", "explain"})
"""Commands that only read: they never switch the library's model."""


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_OK
        handler = logging.StreamHandler()  # a warning may name a file: escaped, as below
        handler.setFormatter(PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            handlers=[handler])
        return int(_run(args))
    except ArgumentError as error:
        print(f"{error.usage.rstrip()}\n{error.prog}: {printable(str(error))}",
              file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return closed_pipe()
    except UsageError as error:  # messages may name a file: escaped like every name
        print(f"pictor: {printable(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except PictorError as error:
        print(f"pictor: {printable(str(error))}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("pictor: interrupted; what was done is saved, run again to continue",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        known = explain(error)  # a full disk is the machine's doing: a sentence, no trace
        if known is None:
            raise
        print(f"pictor: {printable(str(known))}", file=sys.stderr)
        return EXIT_FAILURE


def closed_pipe() -> int:
    """The reader of stdout has gone: point stdout at /dev/null so that nothing (not even
    the interpreter's last flush) complains, and report it as SIGPIPE would."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_CLOSED_PIPE


def finish(code: int) -> int:
    """``code``, once stdout is flushed; a reader that left early is no error to show."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return closed_pipe()
    return code


def _say_loading(model: str) -> None:
    """A terminal hears why nothing happens for a few seconds; a pipe or a script does not."""
    if sys.stderr.isatty():
        print(f"pictor: loading the model {printable(model)}…", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    if args.command == "search" and args.text is None and args.image is None:
        raise UsageError("search needs a TEXT, an --image, or both")
    # A running instance answers in milliseconds.
    answer = remote.ask(args)
    if answer is not None:
        shown = _print_answer(args, answer)
        if shown is not None:
            return shown
    if args.command == "serve":  # opens the library as it serves it (a writer, or not)
        return serve(args)
    from core.library import Library

    reading = args.command in READING_COMMANDS
    with Library(args.data_dir, model=args.model, device=args.device,
                 on_download=download_bar(args),
                 verify=args.command in ("index", "watch"),
                 reading=reading, remember_model=args.command != "status",
                 on_loading=_say_loading if reading else None,
                 on_wait=lambda message: print(f"pictor: {message}", file=sys.stderr,
                                               flush=True)) as library:
        for notice in library.notices:
            print(f"pictor: {printable(notice)}", file=sys.stderr)
        if args.command == "index":
            return commands.index(library, args)
        if args.command == "duplicates":
            return duplicates(library, args)
        if args.command == "search":
            hits = library.search(args.text, image=args.image, negative=args.negative,
                                  k=args.n, folder=args.folder, after=args.after,
                                  before=args.before, words=args.words,
                                  min_score=args.min_score, near=args.near,
                                  region=args.region, copies=args.copies)
            return print_hits(hits, args)
        if args.command == "similar":
            return print_hits(library.similar(args.photo, k=args.n, min_score=args.min_score,
                                              copies=args.copies), args)
        if args.command == "captions":
            return commands.captions(library, args)
        if args.command == "text":
            return commands.text(library, args)
        if args.command == "explain":
            return commands.explain(library, args)
        if args.command == "watch":
            return watch(library, args)
        if args.command == "finetune":
            return commands.finetune(library, args)
        if args.command == "models":
            return commands.models(library, args)
        if args.command == "use":
            return commands.use(library, args)
        return print_status(library.status().to_json(), args)


def _print_answer(args: argparse.Namespace, answer: remote.Answer) -> int | None:
    """Print a running instance's answer as the command prints its own; None when it
    cannot be told apart from another outcome (run in-process then)."""
    body, command = answer.body, args.command
    if command == "status":
        return print_status(body, args)
    if command == "captions":
        return print_captions(body, args)
    if command == "text":
        return print_text(body, args)
    if command == "explain":
        body["photo"] = str(Path(args.photo).expanduser())  # as given, not made absolute
        return print_heat(body, args)
    meta = answer.meta
    if "x-pictor-hidden" not in meta:
        # An instance that does not say what its cut-off hid: its empty list may mean
        # "no good match" or "nothing indexed"; only this process can tell which.
        if not body:
            return None
        return print_hit_rows(body, args)
    best = meta.get("x-pictor-best-hidden")
    return print_hit_rows(body, args, hidden=int(meta["x-pictor-hidden"]),
                          best_hidden=None if best is None else float(best),
                          ranked=meta.get("x-pictor-ranked") == "1")


