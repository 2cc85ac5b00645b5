"""The command line: ``python main.py index|search|similar|captions|status|watch|...``.

A thin front over :class:`core.library.Library`: it parses arguments, draws progress with
tqdm on a terminal, prints tables or ``--json``, and turns expected errors into one line
on stderr and an exit code (0 ok, 1 failure, 2 bad usage or missing path, 130 Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, TextIO

from cli.terminal import PrintableFormatter, printable
from core.defaults import DEFAULT_MIN_SCORE
from core.errors import PictorError, UsageError, explain
from core.units import human_size

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises instead of exiting, so main() decides."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--data-dir", metavar="D",
                        help="library data folder (default: the user data folder, or "
                             "$PICTOR_DATA_DIR)")
    common.add_argument("--model", metavar="M",
                        help="model folder or Hugging Face id (default: the library's model, "
                             "else openai/clip-vit-base-patch32)")
    common.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens")

    parser = _Parser(prog="pictor", description="Offline photo search: find photos by "
                     "describing them or by example.",
                     epilog="With no command, main.py opens the window; main.py --in-tray "
                            "starts it with only its tray icon, as at login.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    index = commands.add_parser("index", parents=[common], help="index photo folders")
    index.add_argument("paths", nargs="*", metavar="PATH",
                       help="folders to add and index (default: every library folder)")
    index.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)

    find = commands.add_parser("search", parents=[common], help="search by text and/or image")
    find.add_argument("text", nargs="?", default=None, metavar="TEXT")
    find.add_argument("--image", metavar="IMG", help="an example image (any file)")
    find.add_argument("--not", dest="negative", metavar="TEXT",
                      help="push results away from this description")
    _add_result_options(find)
    find.add_argument("--folder", metavar="F", help="only photos under this folder")
    find.add_argument("--after", metavar="DATE", help="taken on or after (YYYY[-MM[-DD]])")
    find.add_argument("--before", metavar="DATE", help="taken before (YYYY[-MM[-DD]])")
    find.add_argument("--no-words", dest="words", action="store_false",
                      help="rank by meaning only: don't also match file and folder names")

    similar = commands.add_parser("similar", parents=[common], help="photos like this one")
    similar.add_argument("photo", metavar="PHOTO")
    _add_result_options(similar)

    captions = commands.add_parser(
        "captions", parents=[common], help="texts that describe a photo (image to text)",
        description="Rank texts that describe PHOTO (in the library or not): its own "
        "title, description, keywords, sidecar text and album name first (source user), "
        "then the built-in vocabulary (source vocabulary). Scores are 0-100, as in search.")
    captions.add_argument("photo", metavar="PHOTO")
    captions.add_argument("-n", type=int, default=10, metavar="K", help="number of captions")
    captions.add_argument("--language", choices=["en", "zh"], default="en",
                          help="language of the built-in terms (default en)")

    commands.add_parser("status", parents=[common], help="what the library holds")

    watch = commands.add_parser(
        "watch", parents=[common], help="keep folders indexed while they change",
        description="Add the folders (like index), bring them up to date, then keep "
        "watching them: new, changed, moved and deleted photos are indexed as they "
        "settle, one line each (JSON lines with --json). Without PATH, every library "
        "folder is watched. Runs until Ctrl-C or SIGTERM, which stop it cleanly with "
        "exit status 0 (a second Ctrl-C aborts at once, status 130).")
    watch.add_argument("paths", nargs="*", metavar="PATH",
                       help="folders to add and watch (default: every library folder)")
    _add_finetune_parsers(commands, common)
    return parser


def _add_finetune_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    tune = commands.add_parser(
        "finetune", parents=[common], help="teach the model your album names",
        description="Fine-tune the library's model on albums: folders of the library whose "
        "names are what to learn (\"Grandma Rosa\"), or a tag your photos carry in their own "
        "words (keywords, titles, captions) when no folder has that name. Some photos of "
        "each album are held out to measure the gain; the new model version is saved in the "
        "data folder and used from then on (only its text side learns, so the photos' "
        "vectors carry over: nothing is re-embedded). --rollback "
        "goes back to the base model at once (its vectors are kept).")
    tune.add_argument("albums", nargs="*", metavar="ALBUM",
                      help="album folders (a path, or a folder name of the library), or "
                      "tags of your photos")
    tune.add_argument("--epochs", type=int, default=60, metavar="N")
    tune.add_argument("--seed", type=int, default=0, metavar="S")
    tune.add_argument("--train-images", action="store_true",
                      help="train the image side's head too (it can learn more from "
                      "albums whose photos the model sees alike; every photo is then "
                      "embedded again)")
    tune.add_argument("--rollback", action="store_true",
                      help="switch back to the model the current version was trained from")
    models = commands.add_parser(
        "models", parents=[common], help="list (or delete) fine-tuned model versions",
        description="List the fine-tuned versions in the data folder, the one in use marked "
        "*. Each holds only the parts that trained (a few MB); --delete removes one that is "
        "not in use, with its vectors (your photos are not touched).")
    models.add_argument("--delete", metavar="VERSION",
                        help="a version's folder name (as listed) or path")
    use = commands.add_parser(
        "use", parents=[common], help="switch the library to another model",
        description="Embed every photo with MODEL (a folder or a Hugging Face id), then make "
        "it the library's model. Until the run completes, searches (here or in the window) "
        "keep using the current model; an interrupted run switches nothing and resumes "
        "where it stopped. A model used before switches at once: its vectors are kept.")
    use.add_argument("target", metavar="MODEL")


def _add_result_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=20, metavar="K", help="number of results")
    parser.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE, metavar="S",
                        help="hide photos scoring under S, 0-100 (default "
                             f"{DEFAULT_MIN_SCORE:.0f}; 0 shows every photo by rank)")


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


def _run(args: argparse.Namespace) -> int:
    from core.library import Library

    with Library(args.data_dir, model=args.model, device=args.device,
                 on_download=_download_bar(args),
                 verify=args.command in ("index", "watch"),
                 on_wait=lambda message: print(f"pictor: {message}", file=sys.stderr,
                                               flush=True)) as library:
        for notice in library.notices:
            print(f"pictor: {printable(notice)}", file=sys.stderr)
        if args.command == "index":
            return _index(library, args)
        if args.command == "search":
            if args.text is None and args.image is None:
                raise UsageError("search needs a TEXT, an --image, or both")
            hits = library.search(args.text, image=args.image, negative=args.negative,
                                  k=args.n, folder=args.folder, after=args.after,
                                  before=args.before, words=args.words,
                                  min_score=args.min_score)
            return _print_hits(hits, args)
        if args.command == "similar":
            return _print_hits(library.similar(args.photo, k=args.n,
                                               min_score=args.min_score), args)
        if args.command == "captions":
            return _captions(library, args)
        if args.command == "watch":
            return _watch(library, args)
        if args.command == "finetune":
            return _finetune(library, args)
        if args.command == "models":
            return _models(library, args)
        if args.command == "use":
            return _use(library, args)
        return _status(library, args)


def _download_bar(args: argparse.Namespace) -> Any:
    bar: Any = None

    def report(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, desc="downloading model",
                       file=sys.stderr, disable=None)
        bar.total = total
        bar.n = done
        bar.refresh()

    return report


def _index(library: Any, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    last = None
    run = library.index(args.paths, batch_size=args.batch_size)
    # closing() stops the decode pool and saves the index even on Ctrl-C.
    with closing(run), tqdm(unit="photo", file=sys.stderr, disable=None, dynamic_ncols=True,
                            desc="scanning") as bar:
        for progress in run:
            last = progress
            if progress.phase in ("optimise", "embed", "tag"):
                bar.set_description({"optimise": "preparing the model for this CPU (once)",
                                     "embed": "indexing", "tag": "tagging"}[progress.phase])
            bar.total = progress.total
            bar.n = progress.done
            bar.set_postfix(failed=progress.failed, refresh=False)
            bar.refresh()
    assert last is not None
    report = last.to_json()
    if args.json:
        _print_json(report)
        return EXIT_OK
    print(f"indexed {last.indexed}, failed {last.failed}, skipped {last.skipped} unchanged, "
          f"moved {last.moved}, removed {last.removed} in {last.elapsed_s:.1f} s")
    if last.failed:
        print("run `pictor status` to see why files failed")
    return EXIT_OK


def _print_hits(hits: Any, args: argparse.Namespace) -> int:
    """A table (or JSON) of results; when the cut-off hid them all, say so."""
    if not hits and hits.hidden:
        print(f"pictor: no good match: the best photo scores {hits.best_hidden:.0f}, under "
              f"the cut-off of {args.min_score:g}; try other words, or --min-score 0 to "
              "list photos anyway", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        _print_json([hit.to_json() for hit in hits])
        return EXIT_OK
    if not hits:
        if not hits.hidden:
            print("no matching photos (is the library indexed? try `pictor status`)")
        return EXIT_OK
    print(f"{'#':>3}  {'score':>5}  {'date':<10}  path")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:>3}  {hit.score:>5.1f}  {(hit.taken_at or '')[:10]:<10}  "
              f"{printable(hit.path)}")
    return EXIT_OK


def _captions(library: Any, args: argparse.Namespace) -> int:
    found = library.captions(args.photo, n=args.n, language=args.language)
    if args.json:
        _print_json([caption.to_json() for caption in found])
        return EXIT_OK
    print(f"{'score':>5}  {'source':<22}  text")
    for caption in found:
        source = f"{caption.source} ({caption.kind})"
        print(f"{caption.score:>5.1f}  {source:<22}  {printable(caption.text)}")
    return EXIT_OK


def _status(library: Any, args: argparse.Namespace) -> int:
    status = library.status()
    if args.json:
        _print_json(status.to_json())
        return EXIT_OK
    out: TextIO = sys.stdout
    print(f"data folder: {printable(str(status.data_dir))}", file=out)
    print(f"model:       {printable(status.model)} (device {status.device})", file=out)
    print(f"photos:      {status.photos} ({status.indexed} indexed, {status.pending} pending, "
          f"{status.failed} failed)", file=out)
    print(f"index:       {status.index_vectors} vectors, {status.index_bytes / 1e6:.1f} MB",
          file=out)
    print("folders:" if status.roots else "folders:     none yet (pictor index FOLDER)",
          file=out)
    for root in status.roots:
        state = "online" if root.online else "OFFLINE"
        print(f"  {printable(root.path)}  [{state}]  {root.photos} photos, "
              f"{root.failed} failed", file=out)
    if status.failures:
        print("failed files:", file=out)
        for failure in status.failures:
            print(f"  {printable(failure.path)}: {printable(failure.error)}", file=out)
    if status.scan_problems:
        print("not scanned:", file=out)
        for problem in status.scan_problems:
            print(f"  {printable(problem)}", file=out)
    return EXIT_OK


STOP_GRACE_S = 10.0
"""How long ``watch`` may take to stop after Ctrl-C or SIGTERM before it exits anyway."""


def _exit_now() -> None:
    print("pictor: stopping took too long; exiting now (every indexed photo is saved in the "
          "library; its search index is brought up to date at the next start)",
          file=sys.stderr, flush=True)
    os._exit(EXIT_FAILURE)


def _watch(library: Any, args: argparse.Namespace) -> int:
    import signal

    from core.sync.watcher import Change, Watcher

    if not args.paths and not library.roots():
        raise UsageError("no folders to watch: name them (pictor watch PATH...) or add "
                         "them with pictor index PATH")

    def emit(event: dict[str, Any], text: str) -> None:
        print(_json_text(event) if args.json else printable(text), flush=True)

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
        deadline = threading.Timer(STOP_GRACE_S, _exit_now)
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


def _finetune(library: Any, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.finetune import run as finetune
    from core.finetune.versions import rollback

    if args.rollback:
        if args.albums:
            raise UsageError("--rollback takes no ALBUM")
        base = rollback(library)
        if args.json:
            _print_json({"model": base})
        else:
            print(f"now using {printable(base)} (its vectors were kept: nothing to re-embed)")
        return EXIT_OK
    if not args.albums:
        raise UsageError("finetune needs two or more ALBUM folders (or --rollback)")
    settings = finetune.FinetuneSettings(epochs=args.epochs, seed=args.seed,
                                         train_vision=args.train_images)
    result = None
    run = finetune.finetune(library, args.albums, settings)
    with closing(run), tqdm(total=args.epochs, unit="epoch", file=sys.stderr, disable=None,
                            desc="reading photos") as bar:
        for progress in run:
            if progress.phase == "train" and progress.metrics is not None:
                bar.set_description("training")
                bar.n = progress.epoch
                bar.set_postfix(loss=f"{progress.loss:.3f}",
                                recall1=f"{progress.metrics.recall_at_1:.2f}")
                bar.refresh()
            result = progress.result or result
    assert result is not None
    indexed = 0
    run_index = library.index()
    with closing(run_index), tqdm(unit="photo", file=sys.stderr, disable=None,
                                  desc="indexing with the new version") as bar:
        for step in run_index:
            bar.total, bar.n, indexed = step.total, step.done, step.indexed
            bar.refresh()
    if args.json:
        _print_json({**result.to_json(), "reindexed": indexed})
        return EXIT_OK
    for album in result.albums:
        where = printable(album["folder"]) if album["folder"] else "photos tagged so"
        left = [f"{album[k]} {what}" for k, what in (("unreadable", "unreadable"),
                ("shared", "also in another album")) if album[k]]
        print(f"album '{printable(album['name'])}' ({where}): {album['photos']} photos, "
              f"{album['train']} to learn from, {album['held_out']} held out"
              + (f"; left out: {', '.join(left)}" if left else ""))
    print(f"{'':<12}{'recall@1':>10}{'recall@5':>10}{'retention':>11}")
    for label, m in (("before", result.before), ("after", result.after)):
        print(f"{label:<12}{m.recall_at_1:>10.2f}{m.recall_at_5:>10.2f}{m.retention:>11.2f}")
    print(f"new model: {printable(result.model)} ({result.epochs_run} epochs, best "
          f"{result.best_epoch}, {result.elapsed_s:.1f} s); {result.vectors_reused} photo "
          f"vectors carried over, {indexed} photos embedded")
    print("undo with: pictor finetune --rollback")
    return EXIT_OK


def _models(library: Any, args: argparse.Namespace) -> int:
    from core.finetune.versions import delete_version, versions

    if args.delete:
        version, freed = delete_version(library, args.delete)
        if args.json:
            _print_json({"deleted": version.to_json(), "bytes_freed": freed})
        else:
            print(f"deleted {printable(Path(version.folder).name)} "
                  f"({human_size(freed)} freed)")
        return EXIT_OK
    found = versions(library)
    if args.json:
        _print_json({"current": library.model_name, "versions": [v.to_json() for v in found]})
        return EXIT_OK
    print(f"current model: {printable(library.model_name)}")
    if not found:
        print("no fine-tuned versions (pictor finetune ALBUM ALBUM ...)")
    for v in found:
        after = v.metrics.get("after", {})
        mark = "*" if v.current else " "
        albums = printable(", ".join(v.albums))
        print(f"{mark} {printable(v.folder)}  {v.date}  albums: {albums}  "
              f"recall@1 {after.get('recall_at_1', 0):.2f}")
    return EXIT_OK


def _use(library: Any, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    embedded = 0
    run = library.switch_model(args.target, batch_size=32)
    with closing(run), tqdm(unit="photo", file=sys.stderr, disable=None,
                            desc="embedding with the new model") as bar:
        for progress in run:
            if progress.phase in ("embed", "done"):
                embedded = progress.indexed
            bar.total, bar.n = progress.total, progress.done
            bar.refresh()
    if args.json:
        _print_json({"model": library.model_name, "embedded": embedded})
    else:
        print(f"now using {printable(library.model_name)} ({embedded} photos embedded)")
    return EXIT_OK


def _print_json(value: Any) -> None:
    sys.stdout.write(_json_text(value, indent=2) + "\n")


def _json_text(value: Any, indent: int | None = None) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    # A file name with bytes that are not UTF-8 holds lone surrogates: written as \udcXX
    # escapes, the output stays valid UTF-8 JSON and json.loads gives the name back exactly.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
