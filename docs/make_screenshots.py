"""Every screenshot the README shows, of the real window, with a generated library.

Run under a virtual X server (Debian: ``apt-get install xvfb trayer``):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py --out DIR

It writes toy photos (tests/support/toyworld.py; the "Holiday 2024" ones carry an EXIF
date), indexes them with the toy CLIP the tests train (cached in .cache/test-models/),
opens the window on them and saves into DIR (default: docs/) with QWidget.grab():
screenshot-search.png, window-captions.png, screenshot-image-query.png,
screenshot-finetune.png, screenshot-first-run.png, screenshot-tray.png (the window closed
to a real X11 tray: trayer, started here) and screenshot-dark.png (the search again, in a
second process with a dark palette). ``--dark`` takes every screenshot with the dark
palette instead, under the same names.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import cached_model  # noqa: E402  (also sets the offline flags)
from tests.support import models, toyworld  # noqa: E402

WORK = Path("/tmp/pictor-screenshots")
SIZE = (320, 240)
ALL = ("screenshot-search.png", "window-captions.png", "screenshot-image-query.png",
       "screenshot-finetune.png", "screenshot-tray.png", "screenshot-first-run.png",
       "screenshot-dark.png")
TRAY_SHOT = (580, 200)
"""The top right corner of the screen, where trayer puts the tray."""


def build_library(model: Path) -> tuple[Path, Path]:
    from PIL import ExifTags, Image

    from core.library import Library

    shutil.rmtree(WORK, ignore_errors=True)
    scenes = toyworld.all_scenes()
    holiday = toyworld.write_photos(WORK / "Pictures" / "Holiday 2024", scenes[::2], seed=1,
                                    size=SIZE)
    for day, path in enumerate(holiday):  # a camera's photos: dated in their EXIF
        exif = Image.Exif()
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = (
            f"2024:07:{day % 14 + 1:02d} 1{day % 10}:30:00")
        with Image.open(path) as image:
            image.load()
            image.save(path, quality=90, exif=exif)
    toyworld.write_photos(WORK / "Pictures" / "Garden", scenes[1::2], seed=2, size=SIZE)
    (WORK / "Pictures" / "Garden" / "IMG_0042.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with Library(WORK / "data", model=str(model), device="cpu") as library:
        for _ in library.index([WORK / "Pictures" / "Holiday 2024", WORK / "Pictures" / "Garden"]):
            pass
    query = WORK / "query.jpg"
    with Image.open(holiday[7]) as image:
        toyworld.near_duplicate(image, seed=3).save(query)
    return WORK / "data", query


def dark_palette() -> Any:
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    role = QPalette.ColorRole
    for name, colour in (("Window", "#2b2b2b"), ("WindowText", "#e6e6e6"),
                         ("Base", "#1e1e1e"), ("AlternateBase", "#262626"),
                         ("Text", "#e6e6e6"), ("Button", "#353535"),
                         ("ButtonText", "#e6e6e6"), ("Highlight", "#2f65ca"),
                         ("HighlightedText", "#ffffff"), ("Midlight", "#3a3a3a"),
                         ("PlaceholderText", "#8a8a8a"), ("ToolTipBase", "#353535"),
                         ("ToolTipText", "#e6e6e6")):
        palette.setColor(getattr(role, name), QColor(colour))
    for name in ("WindowText", "Text", "ButtonText"):  # greyed out when disabled
        palette.setColor(QPalette.ColorGroup.Disabled, getattr(role, name), QColor("#7a7a7a"))
    return palette


def save_png(pixmap: Any, path: Path) -> None:
    """A 256-colour PNG: a third of the size, and the difference does not show."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG")
    with Image.open(io.BytesIO(bytes(buffer.data()))) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.NONE)
        small.save(path, optimize=True)
    print("wrote", path, flush=True)


class Shots:
    """The application, and the waiting that screenshots need."""

    def __init__(self, out: Path, wanted: set[str], dark: bool) -> None:
        from PySide6.QtWidgets import QApplication

        self.out, self.wanted = out, wanted
        self.app = QApplication(["pictor"])
        if dark:  # a dark desktop's palette, to check nothing is hard-coded
            self.app.setStyle("Fusion")
            self.app.setPalette(dark_palette())

    def want(self, name: str) -> bool:
        return name in self.wanted

    def wait(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise SystemExit(f"timed out waiting for line {condition.__code__.co_firstlineno}")
            self.app.processEvents()
            time.sleep(0.02)

    def pause(self, seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.02)

    def settle(self, window: Any) -> None:
        for _ in range(5):
            window.thumbnails.wait()
            window.previews.wait()
            self.pause()

    def save(self, widget: Any, name: str) -> None:
        save_png(widget.grab(), self.out / name)


def start_tray_program() -> subprocess.Popen[bytes] | None:
    """trayer at the top right of the X server's screen (None: not installed)."""
    trayer = shutil.which("trayer")
    if trayer is None:
        return None
    return subprocess.Popen([trayer, "--edge", "top", "--align", "right", "--widthtype",
                             "request", "--height", "24", "--SetDockType", "true"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main_window_shots(shots: Shots, model: Path, data: Path, query: Path) -> None:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from desktop.engine import Engine, EngineConfig
    from desktop.settings import Settings
    from desktop.tray import Tray
    from desktop.window import MainWindow

    if shots.want("screenshot-tray.png"):  # the window must find the tray when it starts
        shots.wait(Tray.available, timeout=20)
    engine = Engine(EngineConfig(data, str(model), "cpu"))
    window = MainWindow(engine, Settings.at(WORK / "settings.ini"), data_dir=data)
    window.resize(1400, 860)
    window.show()
    engine.start()
    shots.wait(lambda: engine.model_state == "ready" and not engine.indexing)
    window.search_bar.edit.setText("a red circle")
    window.search_bar.edit.returnPressed.emit()
    shots.wait(lambda: window.results.rowCount() > 0)
    window.grid.setFocus()

    def select(row: int, hover: int) -> None:
        window.grid_wiring.select(row)
        shots.wait(lambda: window.preview.captions.state == "ready", timeout=120)
        shots.settle(window)
        QTest.mouseMove(window.grid.viewport(),
                        window.grid.visualRect(window.results.index(hover)).center())
        shots.settle(window)

    garden = next(row for row, hit in enumerate(window.results.hits())
                  if "/Garden/" in hit.path)
    holiday = next(row for row, hit in enumerate(window.results.hits())
                   if "/Holiday 2024/" in hit.path)
    if shots.want("screenshot-search.png"):
        select(garden, hover=1 if garden != 1 else 0)
        shots.save(window, "screenshot-search.png")
    if shots.want("window-captions.png"):
        select(holiday, hover=0 if holiday != 0 else 1)
        shots.save(window, "window-captions.png")

    if shots.want("screenshot-image-query.png"):
        window.search_bar.edit.clear()
        window.search_bar.set_image(str(query))
        shots.wait(lambda: window.results.rowCount() > 0
                   and "0007" in window.results.hit(0).path)
        window.grid_wiring.select(0)
        QTest.mouseMove(window.grid.viewport(), QPoint(5, 5))
        shots.settle(window)
        shots.save(window, "screenshot-image-query.png")

    if shots.want("screenshot-finetune.png"):
        window.open_finetune()  # Library → Teach your albums…
        dialog = window.finetune_dialog
        assert dialog is not None
        shots.wait(lambda: dialog.albums.count() >= 2)
        for i in range(dialog.albums.count()):
            dialog.albums.item(i).setCheckState(Qt.CheckState.Checked)
        dialog.start_button.click()
        shots.wait(lambda: not dialog.running and dialog.results.isVisible(), timeout=300)
        shots.settle(window)
        shots.save(dialog, "screenshot-finetune.png")
        dialog.close()

    if shots.want("screenshot-tray.png"):
        assert window.tray is not None
        window.close()  # to the tray: the "still watching" balloon shows
        shots.pause(1.5)
        screen = shots.app.primaryScreen().geometry()
        width, height = TRAY_SHOT
        save_png(shots.app.primaryScreen().grabWindow(0, screen.width() - width, 0, width,
                                                      height), shots.out / "screenshot-tray.png")
    window.quit_app()


def first_run_shot(shots: Shots) -> None:
    from desktop.engine import Engine, EngineConfig
    from desktop.model_problem import OFFLINE
    from desktop.settings import Settings
    from desktop.window import MainWindow

    lost = Engine(EngineConfig(WORK / "empty", str(WORK / "no-model"), "cpu"))
    bare = MainWindow(lost, Settings.at(WORK / "settings2.ini"), data_dir=WORK / "empty",
                      tray=None)
    bare.resize(1100, 700)
    bare.show()
    lost.start()
    shots.wait(lambda: bare.model_dialog is not None and bare.model_dialog.isVisible())
    dialog = bare.model_dialog
    assert dialog is not None
    dialog.show_problem(OFFLINE)  # what a computer without a network is told
    shots.settle(bare)
    shots.save(dialog, "screenshot-first-run.png")
    bare.quit_app()


def dark_search(out: Path) -> None:
    """screenshot-dark.png: the search, in a process of its own with the dark palette."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, __file__, "--dark", "--out", folder,
                        "--only", "screenshot-search.png"], check=True)
        shutil.copy(Path(folder) / "screenshot-search.png", out / "screenshot-dark.png")
        print("wrote", out / "screenshot-dark.png", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", metavar="DIR",
                        help="where to write the PNG files (default: docs/)")
    parser.add_argument("--dark", action="store_true",
                        help="every screenshot with a dark palette, under the same names")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated: just these")
    args = parser.parse_args(argv)
    wanted = set(args.only.split(",")) if args.only else set(ALL)
    if args.dark:
        wanted.discard("screenshot-dark.png")
    args.out.mkdir(parents=True, exist_ok=True)
    tray = start_tray_program() if "screenshot-tray.png" in wanted else None
    if "screenshot-tray.png" in wanted and tray is None:
        print("screenshot-tray.png needs a system tray on the X server: "
              "apt-get install trayer", file=sys.stderr)
        return 1
    try:
        model = cached_model("toy-clip", models.train_toy_clip)
        data, query = build_library(model)
        shots = Shots(args.out, wanted, args.dark)
        main_window_shots(shots, model, data, query)
        if shots.want("screenshot-first-run.png"):
            first_run_shot(shots)
    finally:
        if tray is not None:
            tray.terminate()
    if "screenshot-dark.png" in wanted:
        dark_search(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
