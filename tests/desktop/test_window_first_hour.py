"""What a new user meets in the window's first hour: options given for one run, the
first-run dialog's words, removing a folder, the preview, the failed files, the status
bar, Settings, the keyboard and each photo's date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt


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


def _offline_load(name: str, **_: Any) -> Any:
    """What loading the default model meets offline: huggingface_hub's error about a
    failed connection, inside Pictor's own."""
    import httpx2

    from core.errors import ModelUnavailableError

    try:
        try:
            raise httpx2.ConnectError("[Errno -2] Name or service not known")
        except httpx2.ConnectError as error:
            raise FileNotFoundError(f"Got: ConnectError: {error}\nAn error happened while "
                                    "trying to locate the files on the Hub") from error
    except FileNotFoundError as error:
        raise ModelUnavailableError(
            f"model {name} is not on this computer and could not be downloaded (offline?). "
            "Download it once on a connected machine, or pass --model /path/to/folder with "
            f"a saved copy of it: {error}") from error


def test_the_first_run_dialog_says_offline_plainly_and_answers_each_download(
        qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: Any, caplog: Any) -> None:
    from core.models import embedder

    monkeypatch.setattr(embedder.Embedder, "load", _offline_load)
    window = make_window(tmp_path / "data", model="openai/clip-vit-base-patch32")
    qtbot.waitUntil(lambda: window.model_dialog is not None
                    and window.model_dialog.isVisible(), timeout=10_000)
    dialog = window.model_dialog
    text = dialog.detail.text()
    assert "The model could not be downloaded: this computer seems to be offline." in text
    for raw in ("Errno", "ConnectError", "Got:", "--model"):
        assert raw not in text
    assert "ConnectError: [Errno -2]" in caplog.text  # the details are in the log

    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Download failed" in dialog.detail.text(), timeout=10_000)
    first = dialog.detail.text()
    assert "this computer seems to be offline" in first and "Errno" not in first
    assert dialog.download_button.isEnabled() and not dialog.progress.isVisible()
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)  # and again
    qtbot.waitUntil(lambda: "attempt 2" in dialog.detail.text(), timeout=10_000)


def test_a_refused_download_is_one_sentence_too() -> None:
    from desktop.model_problem import plain_reason

    class Response:
        status_code = 503

    class HfHubHTTPError(Exception):
        response = Response()

    try:
        try:
            raise HfHubHTTPError("503 Server Error: Service Unavailable for url: https://...")
        except HfHubHTTPError as error:
            raise RuntimeError(f"model m could not be downloaded: {error}") from error
    except RuntimeError as error:
        refused = plain_reason(error)
    assert refused == ("The model could not be downloaded: the Hugging Face server refused "
                       "(HTTP 503).")
    assert plain_reason(ValueError("model folder not found: /x")) == (
        "Model folder not found: /x.")


def _search(qtbot: Any, window: Any, text: str) -> None:
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        window.search_bar.edit.setText(text)
        window.search_bar.edit.returnPressed.emit()


def test_the_preview_follows_the_results(qtbot: Any, make_window: Any,
                                         library_copy: Any) -> None:
    from desktop.results import PathRole
    from tests.desktop.qt_helpers import wait_idle

    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    _search(qtbot, window, "a red circle")
    window.grid.setCurrentIndex(window.results.index(1))
    shown = window.results.hit(1).path
    assert window.preview.path == shown
    _search(qtbot, window, "a red circle on sand")  # found again: kept, and selected
    if window.results.row_of(shown) is not None:
        assert window.preview.path == shown
        assert window.grid.currentIndex().data(PathRole) == shown
    _search(qtbot, window, "a crimson ring")  # nothing found: nothing to preview
    assert window.results.rowCount() == 0
    assert window.preview.path is None
    assert window.preview.image.text() == "Select a photo to see it here"
    assert window.preview.values["path"].text() == ""

    _search(qtbot, window, "a red circle")
    window.grid.setCurrentIndex(window.results.index(0))
    red = window.results.hit(0).path
    _search(qtbot, window, "a blue star")  # other photos: the red circle is not among them
    assert window.results.rowCount() > 0 and window.results.row_of(red) is None
    assert window.preview.path is None
    window.grid.setCurrentIndex(window.results.index(0))
    assert window.preview.path == window.results.hit(0).path
    window.search_bar.edit.clear()  # an empty query clears the grid, and the preview
    assert window.results.rowCount() == 0 and window.preview.path is None


def test_failed_files_elide_their_path_never_their_reason(qtbot: Any) -> None:
    from core.types import FailedPhoto, LibraryStatus, Root
    from desktop.folders import FoldersPanel

    path = "/home/someone/Pictures/2019 Summer holiday in the mountains/day 3/IMG_0042.jpg"
    reasons = ["not an image (unknown format)", "truncated or corrupt JPEG"]
    panel = FoldersPanel()
    qtbot.addWidget(panel)
    panel.resize(240, 600)  # the folders pane made narrow
    panel.show()
    qtbot.waitExposed(panel)
    panel.show_status(LibraryStatus(
        data_dir="/d", model="m", device="cpu", roots=[Root(1, "/home/someone/Pictures",
                                                            True, 1, 2)],
        photos=1, indexed=1, pending=0, failed=2,
        failures=[FailedPhoto(path, reason) for reason in reasons]))
    tree = panel.failures
    metrics = tree.fontMetrics()
    qtbot.waitUntil(lambda: tree.header().sectionSize(1) >= max(
        metrics.horizontalAdvance(reason) for reason in reasons))  # whole, never cut
    assert tree.header().sectionSize(0) < metrics.horizontalAdvance(path)  # the path gives way
    assert tree.textElideMode() == Qt.TextElideMode.ElideLeft  # ... keeping its file name
    item = tree.topLevelItem(0)
    assert item.toolTip(0) == item.toolTip(1) == f"{path}\n{reasons[0]}"
    assert panel.summary.text().startswith("1 photo, 1 indexed")


def test_a_notice_never_covers_the_model_or_the_result_count(
        qtbot: Any, make_window: Any, library_copy: Any, tmp_path: Path) -> None:
    from tests.desktop.qt_helpers import wait_idle
    from tests.support import toyworld

    folder = tmp_path.joinpath(*["a folder with a rather long name, as photo folders are"] * 5)
    toyworld.write_photos(folder, toyworld.random_scenes(1, seed=41), seed=41)
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    _search(qtbot, window, "a red circle")
    bar = window.statusBar()
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.add_folders([str(folder)])
        notice = bar.currentMessage()
        assert notice.startswith("Adding ") and "…" in notice  # elided to its room
        # Qt hides the ordinary widgets of a status bar while a notice shows, and paints
        # the notice where they were: these stay, right of the notice.
        qtbot.wait(100)  # (indexing has started: its progress bar shows)
        end = bar.fontMetrics().horizontalAdvance(bar.currentMessage())
        for label in (window.results_label, window.model_label):
            assert label.isVisible() and label.text()
            assert label.geometry().left() > end
    assert window.results_label.text().endswith("(under 50)")
    assert window.model_label.text().startswith("Model: ")
    assert window.index_status.label.text().startswith("1 photo indexed in ")


def test_settings_say_what_is_in_use(qtbot: Any, make_window: Any, tmp_path: Path,
                                     toy_clip_dir: Path) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from tests.desktop.qt_helpers import wait_idle

    window = make_window(tmp_path / "default-data")  # the folder $PICTOR_DATA_DIR names
    wait_idle(qtbot, window)
    seen: dict[str, Any] = {}

    def look() -> None:
        dialog = QApplication.activeModalWidget()
        for name in ("model", "data_dir"):
            label = getattr(dialog, f"{name}_in_use")
            seen[name] = (getattr(dialog, name).text(), label.full, label.toolTip())
        seen["note"] = dialog.note.isVisible()
        dialog.reject()

    QTimer.singleShot(100, look)
    window.open_settings()
    assert seen["model"] == ("", f"In use: {toy_clip_dir}", f"In use: {toy_clip_dir}")
    in_use = f"In use: {tmp_path / 'default-data'} ($PICTOR_DATA_DIR)"
    assert seen["data_dir"] == ("", in_use, in_use)
    assert not seen["note"]  # nothing came from the command line

    window.settings.use_for_this_run(model=str(toy_clip_dir))
    QTimer.singleShot(100, look)
    window.open_settings()
    assert seen["model"][0] == str(toy_clip_dir) and seen["note"]


def test_a_long_value_in_use_is_elided_in_the_middle(qtbot: Any) -> None:
    from desktop.settings_dialog import ElidedLabel

    text = "In use: /home/someone/.cache/huggingface/hub/models--openai--clip-vit-large-patch14"
    label = ElidedLabel(text)
    qtbot.addWidget(label)
    label.resize(160, 20)
    label.show()
    shown = label.text()
    assert "…" in shown and shown.startswith("In use") and shown.endswith("patch14")
    assert label.toolTip() == label.full == text
    label.resize(label.fontMetrics().horizontalAdvance(text) + 20, 20)
    assert label.text() == text


def test_each_result_shows_the_date_the_filters_use_and_where_it_came_from(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    from PIL import ExifTags, Image

    from tests.desktop.qt_helpers import wait_idle
    from tests.support import toyworld

    folder = tmp_path / "red things"
    toyworld.write_photos(folder, [toyworld.Scene("circle", "red", "sand")], seed=42)
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2019:07:14 10:30:00"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(folder / "dated-red.jpg", exif=exif)
    window = make_window(tmp_path / "data")
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.add_folders([str(folder)])
    window.search_bar.set_min_score(0)
    _search(qtbot, window, "red things")  # the folder's name: both photos
    hits = {Path(hit.path).name: hit for hit in window.results.hits()}
    dated, undated = hits["dated-red.jpg"], next(h for n, h in hits.items() if n != "dated-red.jpg")
    day = undated.date[:10]  # the file's modification day
    for hit, short, long in (
            (dated, "2019-07-14 (taken, EXIF)", "2019-07-14 (taken, from the photo's EXIF)"),
            (undated, f"{day} (file date)",
             f"{day} (the file's date: the photo carries no date of its own)")):
        row = window.results.row_of(hit.path)
        tooltip = window.results.data(window.results.index(row), Qt.ItemDataRole.ToolTipRole)
        assert f"\ndated {short}" in tooltip
        window.grid_wiring.select(row)
        assert window.preview.values["date"].text() == long
        qtbot.wait(300)  # the photo's own facts arrive: the date stays the filters' one
        assert window.preview.values["date"].text() == long
