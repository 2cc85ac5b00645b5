"""What a new user meets in the window's first hour: options given for one run, the
first-run dialog's words, removing a folder, the preview, the failed files, the status
bar, Settings, the keyboard and each photo's date."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_command_line_values_are_used_for_this_run_and_never_saved(tmp_path: Path,
                                                                   qapp: Any) -> None:
    from desktop.settings import Settings

    saved = Settings.at(tmp_path / "s.ini")
    saved.data_dir, saved.model, saved.device = "/saved", "saved/model", "cuda"
    saved.sync()
    settings = Settings.at(tmp_path / "s.ini")
    settings.use_for_this_run(data_dir="/this-run", device="cpu")
    # Another library brings its own model: not the saved library's.
    assert (settings.data_dir, settings.model, settings.device) == ("/this-run", "", "cpu")
    assert settings.for_this_run("model") and not settings.for_this_run("nothing")
    settings.model = "a version trained during the run"
    assert settings.model == "a version trained during the run"
    settings.sync()
    again = Settings.at(tmp_path / "s.ini")
    assert (again.data_dir, again.model, again.device) == ("/saved", "saved/model", "cuda")
