"""What the command line prints: JSON exactly as the engine gives it, tables with every
file name escaped for the terminal, and progress bars on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from cli.exits import EXIT_OK
from cli.terminal import printable


def download_bar(args: argparse.Namespace) -> Any:
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


RANKED_NOTE = ("this model's scores cannot tell good matches from the rest (its calibration "
               "found almost no photo standing out), so nothing is hidden: the photos are "
               "ranked by similarity")


def print_hits(hits: Any, args: argparse.Namespace) -> int:
    """A table (or JSON) of results; when the cut-off hid them all, say so."""
    if not hits and hits.hidden:
        print(f"pictor: no good match: the best photo scores {hits.best_hidden:.0f}, under "
              f"the cut-off of {args.min_score:g}; try other words, or --min-score 0 to "
              "list photos anyway", file=sys.stderr if args.json else sys.stdout)
    ranked = bool(getattr(hits, "ranked", False))
    if ranked and hits:
        print(f"pictor: {RANKED_NOTE}", file=sys.stderr)
    if args.json:
        print_json([hit.to_json() for hit in hits])
        return EXIT_OK
    if not hits:
        if not hits.hidden:
            print("no matching photos (is the library indexed? try `pictor status`)")
        return EXIT_OK
    # A model whose scores cannot separate matches shows its raw similarity instead.
    print(f"{'#':>3}  {'sim' if ranked else 'score':>5}  {'date':<10}  {'from':<4}  path")
    for rank, hit in enumerate(hits, 1):  # from: the photo's EXIF, or the file's own time
        value = f"{hit.similarity:>5.3f}" if ranked else f"{hit.score:>5.1f}"
        print(f"{rank:>3}  {value}  {(hit.date or '')[:10]:<10}  "
              f"{hit.date_source or '':<4}  {printable(hit.path)}")
    return EXIT_OK


def status(library: Any, args: argparse.Namespace) -> int:
    status = library.status()
    if args.json:
        print_json(status.to_json())
        return EXIT_OK
    out: TextIO = sys.stdout
    print(f"data folder: {printable(str(status.data_dir))}", file=out)
    print(f"model:       {printable(status.model)} (device {status.device})", file=out)
    print(f"photos:      {status.photos} ({status.indexed} indexed, {status.pending} pending, "
          f"{status.failed} failed)", file=out)
    text = status.text
    if text:
        print(f"text:        {text['read']} photos read ({text['with_text']} with text, "
              f"{text['failed']} failed, {text['pending']} to read)", file=out)
    print(f"places:      {status.places} photos say where they were taken", file=out)
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


def print_json(value: Any) -> None:
    sys.stdout.write(json_text(value, indent=2) + "\n")


def json_text(value: Any, indent: int | None = None) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    # A file name with bytes that are not UTF-8 holds lone surrogates: written as \udcXX
    # escapes, the output stays valid UTF-8 JSON and json.loads gives the name back exactly.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
