"""``pictor duplicates``: list the copies of each picture (and, with --similar, the similar
shots), the one to keep first; with --trash, move the other copies to the system's Trash
after a confirmation that names how many files and how much space."""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from typing import Any

from cli.exits import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from cli.output import print_json
from cli.terminal import printable
from core.units import human_size

KIND_TITLES = {"copies": "copies of one picture", "similar": "similar shots"}


def duplicates(library: Any, args: argparse.Namespace) -> int:
    groups = _find(library, similar=args.similar)
    if not args.trash:
        if args.json:
            print_json([group.to_json() for group in groups])
        else:
            _print_groups(groups)
        return EXIT_OK
    going = [(group, member) for group in groups if group.kind == "copies"
             for member in group.photos if not member.keep]
    if not going:
        _say("no copies to move to the Trash", args)
        if args.json:
            print_json({"moved": [], "failed": [], "bytes": 0})
        return EXIT_OK
    total = sum(member.bytes for _, member in going)
    if not args.yes and not _confirmed(len(going), total):
        return EXIT_USAGE
    report = library.trash_copies([g for g in groups if g.kind == "copies"])
    if args.json:
        print_json(report.to_json())
    else:
        print(f"moved {len(report.moved)} copies to the Trash, {human_size(report.bytes)} "
              "freed")
        for failure in report.failed:
            print(f"  kept {printable(failure.path)}: {printable(failure.reason or '')}")
    return EXIT_FAILURE if report.failed else EXIT_OK


def _find(library: Any, *, similar: bool) -> list[Any]:
    from tqdm import tqdm

    run = library.find_duplicates(similar=similar)
    with closing(run), tqdm(file=sys.stderr, disable=None, dynamic_ncols=True,
                            desc="finding copies") as bar:
        for progress in run:
            bar.set_description(progress.current or "finding copies")
            bar.total, bar.n = progress.total, progress.done
            bar.refresh()
    groups: list[Any] = run.groups
    return groups


def _print_groups(groups: list[Any]) -> None:
    if not groups:
        print("no copies found")
        return
    for group in groups:
        members = group.photos
        freed = sum(m.bytes for m in members if not m.keep)
        print(f"{KIND_TITLES[group.kind]} ({len(members)} photos, "
              f"{human_size(freed)} in the ones not kept):")
        for member in members:
            size = f"{member.width} x {member.height}" if member.width else "?"
            print(f"  {'keep' if member.keep else '    '}  {printable(member.path)}  {size}  "
                  f"{human_size(member.bytes)}  {printable(member.reason)}")
    copies = [m for g in groups if g.kind == "copies" for m in g.photos if not m.keep]
    if copies:
        print(f"{len(copies)} copies could go ({human_size(sum(m.bytes for m in copies))}): "
              "`pictor duplicates --trash` moves them to the Trash")


def _confirmed(count: int, total: int) -> bool:
    question = (f"Move {count} {'copy' if count == 1 else 'copies'} ({human_size(total)}) to "
                "the Trash? The photo kept of each picture stays. [y/N] ")
    if not sys.stdin.isatty():
        print(f"pictor: {question.split('?')[0]}? Not without a confirmation: run in a "
              "terminal, or add --yes", file=sys.stderr)
        return False
    answer = input(question).strip().lower()
    if answer not in ("y", "yes"):
        print("nothing moved")
        return False
    return True


def _say(message: str, args: argparse.Namespace) -> None:
    print(message, file=sys.stderr if args.json else sys.stdout)
