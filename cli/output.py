"""What the command line prints: JSON exactly as the engine gives it, tables with every
file name escaped for the terminal, and progress bars on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from cli.exits import EXIT_OK
from cli.terminal import printable
from core.photos.video_names import clock


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
    """A table (or JSON) of a search's :class:`~core.types.Hits`."""
    return print_hit_rows([hit.to_json() for hit in hits], args, hidden=hits.hidden,
                          best_hidden=hits.best_hidden,
                          ranked=bool(getattr(hits, "ranked", False)))


def print_hit_rows(rows: list[dict[str, Any]], args: argparse.Namespace, *, hidden: int = 0,
                   best_hidden: float | None = None, ranked: bool = False) -> int:
    """A table (or JSON) of results as ``--json`` gives them (from this process or from a
    running instance); when the cut-off hid them all, say so."""
    if not rows and hidden:
        print(f"pictor: no good match: the best photo scores {best_hidden:.0f}, under "
              f"the cut-off of {args.min_score:g}; try other words, or --min-score 0 to "
              "list photos anyway", file=sys.stderr if args.json else sys.stdout)
    if ranked and rows:
        print(f"pictor: {RANKED_NOTE}", file=sys.stderr)
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        if not hidden:
            print("no matching photos (is the library indexed? try `pictor status`)")
        return EXIT_OK
    # A model whose scores cannot separate matches shows its raw similarity instead.
    print(f"{'#':>3}  {'sim' if ranked else 'score':>5}  {'date':<10}  {'from':<4}  path")
    for rank, hit in enumerate(rows, 1):  # from: the photo's EXIF, or the file's own time
        value = f"{hit['similarity']:>5.3f}" if ranked else f"{hit['score']:>5.1f}"
        print(f"{rank:>3}  {value}  {(hit['date'] or '')[:10]:<10}  "
              f"{hit['date_source'] or '':<4}  {printable(hit['path'])}{moment_mark(hit)}")
    return EXIT_OK


def moment_mark(hit: dict[str, Any]) -> str:
    """After a video's path, its best moment and its length: ``  ▶ 0:42 / 3:10``."""
    if hit.get("kind") != "video":
        return ""
    mark = "\u25b6" if _can_print("\u25b6") else "video"
    length = hit.get("duration_s")
    at = clock(hit.get("time_s") or 0.0)
    return f"  {mark} {at} / {clock(length)}" if length else f"  {mark} {at}"


def _can_print(text: str) -> bool:
    try:
        text.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def print_status(status: dict[str, Any], args: argparse.Namespace) -> int:
    """``status`` from its JSON (this library's, or a running instance's)."""
    if args.json:
        print_json(status)
        return EXIT_OK
    out: TextIO = sys.stdout
    print(f"data folder: {printable(str(status['data_dir']))}", file=out)
    print(f"model:       {printable(status['model'])} (device {status['device']})", file=out)
    print(f"photos:      {status['photos']} ({status['indexed']} indexed, "
          f"{status['pending']} pending, {status['failed']} failed)", file=out)
    text = status["text"]
    if text:
        print(f"text:        {text['read']} photos read ({text['with_text']} with text, "
              f"{text['failed']} failed, {text['pending']} to read)", file=out)
    print(f"places:      {status['places']} photos say where they were taken", file=out)
    print(f"index:       {status['index_vectors']} vectors, "
          f"{status['index_bytes'] / 1e6:.1f} MB", file=out)
    print("folders:" if status["roots"] else "folders:     none yet (pictor index FOLDER)",
          file=out)
    for root in status["roots"]:
        state = "online" if root["online"] else "OFFLINE"
        print(f"  {printable(root['path'])}  [{state}]  {root['photos']} photos, "
              f"{root['failed']} failed", file=out)
    if status["failures"]:
        print("failed files:", file=out)
        for failure in status["failures"]:
            print(f"  {printable(failure['path'])}: {printable(failure['error'])}", file=out)
    if status["scan_problems"]:
        print("not scanned:", file=out)
        for problem in status["scan_problems"]:
            print(f"  {printable(problem)}", file=out)
    return EXIT_OK


def print_captions(captions: list[dict[str, Any]], args: argparse.Namespace) -> int:
    if args.json:
        print_json(captions)
        return EXIT_OK
    print(f"{'score':>5}  {'source':<22}  text")
    for caption in captions:
        source = f"{caption['source']} ({caption['kind']})"
        print(f"{caption['score']:>5.1f}  {source:<22}  {printable(caption['text'])}")
    return EXIT_OK


def print_text(found: dict[str, Any] | None, args: argparse.Namespace) -> int:
    """The text read in a photo, None when it has not been read yet."""
    if args.json:
        print_json(found)
        return EXIT_OK
    if found is None:
        print("not read yet: the text pass of `pictor index` reads it after the photos are "
              "indexed")
    elif found["error"]:
        print(f"its text could not be read: {printable(found['error'])}")
    elif not found["lines"]:
        print("no text found in this photo")
    else:
        for line in found["lines"]:
            print(printable(str(line["text"])))
    return EXIT_OK


HEAT_RAMP = " .:-=+*#%@"
"""The grid's values as characters, coolest first."""


def print_heat(heat: dict[str, Any], args: argparse.Namespace, *,
               wrote: Path | None = None) -> int:
    """``explain`` from its JSON (drawn from the rounded grid, so that both paths agree)."""
    if args.json:
        print_json(heat)
        return EXIT_OK
    score = "" if heat["score"] is None else f"score {heat['score']:.1f}, "
    size, peak, cell, grid = heat["size"], heat["peak"], heat["cell"], heat["grid"]
    print(f"{printable(heat['photo'])}: {score}similarity {heat['similarity']:.3f} "
          f'for "{printable(heat["text"])}"')
    print(f"peak: x {peak['x']}, y {peak['y']} (of {size['width']} x {size['height']})")
    print(f"heat by {heat['method']}, {len(grid)} x {len(grid[0]) if grid else 0} cells of "
          f"{cell['width']:.0f} x {cell['height']:.0f} px (@ most, blank least):")
    for row in grid:
        cells = (HEAT_RAMP[min(int(v * len(HEAT_RAMP)), len(HEAT_RAMP) - 1)] * 2 for v in row)
        print(f"  |{''.join(cells)}|")
    if wrote is not None:
        print(f"wrote {printable(str(wrote))}")
    return EXIT_OK


def print_json(value: Any) -> None:
    sys.stdout.write(json_text(value, indent=2) + "\n")


def json_text(value: Any, indent: int | None = None) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    # A file name with bytes that are not UTF-8 holds lone surrogates: written as \udcXX
    # escapes, the output stays valid UTF-8 JSON and json.loads gives the name back exactly.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
