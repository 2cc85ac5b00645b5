"""The command line's arguments: every command, its options and its help."""

from __future__ import annotations

import argparse
from typing import Any

from core.defaults import DEFAULT_MIN_SCORE
from core.errors import UsageError


class ArgumentError(UsageError):
    """Arguments argparse refused: ``str()`` is its message, ``usage`` the command's usage
    line and ``prog`` the command (``pictor search``)."""

    def __init__(self, message: str, *, usage: str, prog: str) -> None:
        super().__init__(message)
        self.usage = usage
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises instead of exiting, so main() decides."""

    def error(self, message: str) -> Any:
        raise ArgumentError(message, usage=self.format_usage(), prog=self.prog)


def _global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The options every command takes. Given before the command too (``pictor --data-dir D
    status``): there they carry the defaults, and each command's copy sets a value only
    when the option is given after it."""
    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--data-dir", metavar="D", default=default(None),
                        help="library data folder (default: the user data folder, or "
                             "$PICTOR_DATA_DIR)")
    parser.add_argument("--model", metavar="M", default=default(None),
                        help="model folder or Hugging Face id (default: the library's model, "
                             "else openai/clip-vit-base-patch32)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"],
                        default=default("auto"))
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print JSON instead of text")
    parser.add_argument("-v", "--verbose", action="store_true", default=default(False),
                        help="log what happens")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    _global_options(common, defaults=False)

    parser = _Parser(prog="pictor", description="Offline photo search: find photos by "
                     "describing them or by example.",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="With no command, main.py opens the window, with the same global "
                            "options if given:\n"
                            "  main.py [--data-dir D] [--model M] [--device DEV] [-v] "
                            "[--in-tray]\n"
                            "They override the window's saved settings for this run only; "
                            "--in-tray starts it\nwith only its tray icon, as at login.")
    _global_options(parser, defaults=True)
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
    find.add_argument("--near", type=_near, metavar="LAT,LON[,KM]",
                      help="only photos taken within KM (default 25) of a GPS position")
    find.add_argument("--region", type=_region, metavar="X,Y,W,H",
                      help="query by this part of the --image only (pixels of the photo as "
                           "shown: left, top, width, height)")

    text = commands.add_parser(
        "text", parents=[common], help="the text written in a photo",
        description="Print the text read in PHOTO (by the text pass of `index`), line by "
        "line in reading order; with --json also each line's box (four corners in the "
        "photo's pixels as shown) and confidence. A photo outside the library is read now.")
    text.add_argument("photo", metavar="PHOTO")

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

    why = commands.add_parser(
        "explain", parents=[common], help="where a description matched in a photo",
        description="Show where TEXT matched in PHOTO (in the library or not): a heat map "
        "over the photo of how much each region adds to its similarity with TEXT, computed "
        "with the library's model, and the score a search for TEXT gives it (0-100). "
        "Prints the peak (in the photo's pixels as shown) and the grid; --out writes the "
        "photo with the heat over it.")
    why.add_argument("photo", metavar="PHOTO")
    why.add_argument("text", metavar="TEXT")
    why.add_argument("--out", metavar="PNG", help="write the photo with the heat map over "
                     "it (a PNG of the photo's size as shown)")
    why.add_argument("--method", choices=["auto", "occlusion", "gradient"], default="auto",
                     help="occlusion greys out regions and measures the loss (faithful, "
                     "the default); gradient is one backward pass (faster on big models; "
                     "auto takes it when occlusion would be slow)")

    commands.add_parser("status", parents=[common], help="what the library holds")

    dupes = commands.add_parser(
        "duplicates", parents=[common], help="copies of a picture, and which one to keep",
        description="List the groups of copies of one picture in the library (the same "
        "file, or the same picture re-saved, resized, cropped a little, colour-corrected, "
        "converted or turned), the one to keep first with the reason; --similar also lists "
        "similar shots (a burst, the same scene again), which are not copies. Listing "
        "changes no file. --trash moves every copy not kept to the system's Trash, after a "
        "confirmation naming how many files and how much space (--yes: no question).")
    dupes.add_argument("--similar", action="store_true", help="also list similar shots")
    dupes.add_argument("--trash", action="store_true",
                       help="move the copies not kept to the Trash (similar shots stay)")
    dupes.add_argument("--yes", action="store_true",
                       help="with --trash: do not ask (for scripts)")

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
    _add_serve_parser(commands, common)
    return parser


def _add_serve_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve", parents=[common], help="run without a window: watch, index, answer an API",
        description="Open the library, keep its folders indexed as they change (as the "
        "window and watch do), and answer search, similar, captions, text, explain, status "
        "and thumbnails over HTTP on the loopback address, with the same JSON as --json "
        "(status also says what is being indexed). Its URL and token are in api.json in "
        "the data folder (readable by you only); every request needs the header "
        "Authorization: Bearer TOKEN. Runs until Ctrl-C or SIGTERM, which stop it cleanly "
        "(exit status 0).")
    serve.add_argument("--port", type=int, default=0, metavar="N",
                       help="TCP port (default: a free one, named in api.json)")
    serve.add_argument("--host", default="127.0.0.1", metavar="H",
                       help="address to listen on (default 127.0.0.1; another one lets "
                            "other machines reach it: a warning says so)")
    serve.add_argument("--no-watch", dest="watch", action="store_false",
                       help="only answer the API: no watching, no indexing")


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


def _near(text: str) -> tuple[float, float, float]:
    """``--near LAT,LON[,KM]`` as ``(lat, lon, km)``; bad input is a usage error."""
    from core.words.places import parse_near

    try:
        position, km = parse_near(text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return position.lat, position.lon, km


def _region(text: str) -> tuple[float, float, float, float]:
    """``--region X,Y,W,H`` as four numbers; bad input is a usage error."""
    try:
        x, y, width, height = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--region takes X,Y,WIDTH,HEIGHT in pixels, not {text!r}") from None
    if width <= 0 or height <= 0 or x < 0 or y < 0:
        raise argparse.ArgumentTypeError(
            f"--region needs a positive width and height and no negative corner: {text!r}")
    return x, y, width, height


def _add_result_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=20, metavar="K", help="number of results")
    parser.add_argument("--copies", action="store_true",
                        help="list every copy of a picture (default: each picture once, "
                             "its copies named in JSON's copies)")
    parser.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE, metavar="S",
                        help="hide photos scoring under S, 0-100 (default "
                             f"{DEFAULT_MIN_SCORE:.0f}; 0 shows every photo by rank)")
