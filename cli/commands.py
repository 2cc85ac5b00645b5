"""The command line's commands that run work: index, captions, explain, use a model,
fine-tune, and list or delete fine-tuned versions."""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from cli.exits import EXIT_OK
from cli.output import print_captions, print_heat, print_json, print_text
from cli.terminal import printable
from core.errors import UsageError
from core.units import human_size


def index(library: Any, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    last = None
    run = library.index(args.paths, batch_size=args.batch_size)
    # closing() stops the decode pool and saves the index even on Ctrl-C.
    with closing(run), tqdm(unit="photo", file=sys.stderr, disable=None, dynamic_ncols=True,
                            desc="scanning") as bar:
        for progress in run:
            last = progress
            if progress.phase in ("load", "optimise", "embed", "tag", "text"):
                bar.set_description({"load": "loading the model",
                                     "optimise": "preparing the model for this CPU (once)",
                                     "embed": "indexing", "tag": "tagging",
                                     "text": "reading text in photos"}[progress.phase])
            bar.total = progress.total
            bar.n = progress.done
            bar.set_postfix(failed=progress.failed, refresh=False)
            bar.refresh()
    assert last is not None
    report = last.to_json()
    if args.json:
        print_json(report)
        return EXIT_OK
    print(f"indexed {last.indexed}, failed {last.failed}, skipped {last.skipped} unchanged, "
          f"moved {last.moved}, removed {last.removed} in {last.elapsed_s:.1f} s")
    if last.failed:
        print("run `pictor status` to see why files failed")
    return EXIT_OK


def captions(library: Any, args: argparse.Namespace) -> int:
    found = library.captions(args.photo, n=args.n, language=args.language)
    return print_captions([caption.to_json() for caption in found], args)


def text(library: Any, args: argparse.Namespace) -> int:
    found = library.text_of(args.photo)
    return print_text(None if found is None else {"text": found.text, "lines": found.lines,
                                                  "error": found.error}, args)


def explain(library: Any, args: argparse.Namespace) -> int:
    from core.search.explain import check_output
    from core.search.heat_image import write_overlay

    out = check_output(args.out) if args.out else None  # before the model loads
    heat = library.explain(args.photo, args.text, method=args.method)
    if out is not None:
        write_overlay(heat, out)
    return print_heat(heat.to_json(), args, wrote=out)


def use(library: Any, args: argparse.Namespace) -> int:
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
        print_json({"model": library.model_name, "embedded": embedded})
    else:
        print(f"now using {printable(library.model_name)} ({embedded} photos embedded)")
    return EXIT_OK


def finetune(library: Any, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.finetune import run as finetune
    from core.finetune.versions import rollback

    if args.rollback:
        if args.albums:
            raise UsageError("--rollback takes no ALBUM")
        base = rollback(library)
        if args.json:
            print_json({"model": base})
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
        print_json({**result.to_json(), "reindexed": indexed})
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


def models(library: Any, args: argparse.Namespace) -> int:
    from core.finetune.versions import delete_version, versions

    if args.delete:
        version, freed = delete_version(library, args.delete)
        if args.json:
            print_json({"deleted": version.to_json(), "bytes_freed": freed})
        else:
            print(f"deleted {printable(Path(version.folder).name)} "
                  f"({human_size(freed)} freed)")
        return EXIT_OK
    found = versions(library)
    if args.json:
        print_json({"current": library.model_name, "versions": [v.to_json() for v in found]})
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
