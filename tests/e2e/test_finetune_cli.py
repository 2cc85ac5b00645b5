"""`python main.py finetune` as a user runs it: albums in, a better model out, undo."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support import toyworld
from tests.support.cli import pictor


def test_finetune_search_list_and_roll_back(tmp_path: Path, toy_clip_dir: Path) -> None:
    photos, data = tmp_path / "photos", tmp_path / "data"
    toyworld.write_photos(photos / "Grandma Rosa", [toyworld.Scene("star", "yellow", "night")]
                          * 12, seed=1)
    toyworld.write_photos(photos / "Bella the dog", [toyworld.Scene("square", "blue", "sand")]
                          * 12, seed=2)
    toyworld.write_photos(photos / "misc", toyworld.random_scenes(20, seed=3), seed=3)
    assert pictor("index", str(photos), "--model", str(toy_clip_dir), data=data).returncode == 0

    bad = pictor("finetune", "Grandma Rosa", data=data)
    assert bad.returncode == 2 and "at least two albums" in bad.stderr

    tuned = pictor("finetune", "Grandma Rosa", str(photos / "Bella the dog"), "--epochs", "20",
                   "--json", data=data)
    assert tuned.returncode == 0, tuned.stderr
    report = json.loads(tuned.stdout)
    assert report["after"]["recall_at_1"] > report["before"]["recall_at_1"]
    assert report["vectors_reused"] == 44 and report["reindexed"] == 0  # image side frozen
    model = Path(report["model"])
    assert model.parent == data / "models" and (model / "pictor-finetune.json").is_file()

    hits = json.loads(pictor("search", "Bella the dog", "-n", "1", "--json", data=data).stdout)
    assert Path(hits[0]["path"]).parent.name == "Bella the dog"
    listed = json.loads(pictor("models", "--json", data=data).stdout)
    assert listed["current"] == str(model) and listed["versions"][0]["current"]

    back = pictor("finetune", "--rollback", "--json", data=data)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["model"] == str(toy_clip_dir)
    status = json.loads(pictor("status", "--json", data=data).stdout)
    assert status["model"] == str(toy_clip_dir) and status["pending"] == 0

    in_use = pictor("models", "--delete", str(toy_clip_dir), data=data)
    assert in_use.returncode == 2 and "no fine-tuned version named" in in_use.stderr
    deleted = pictor("models", "--delete", model.name, data=data)
    assert deleted.returncode == 0, deleted.stderr
    assert re.search(rf"deleted {re.escape(model.name)} \([0-9.]+ (KB|MB) freed\)", deleted.stdout)
    assert not model.exists() and json.loads(
        pictor("models", "--json", data=data).stdout)["versions"] == []
    assert len([p for p in photos.rglob("*") if p.is_file()]) == 44  # photos untouched
