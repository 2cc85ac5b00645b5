"""Screenshots of the real window for the README, with a generated library.

Run under a virtual X server (Debian: ``apt-get install xvfb``):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

It writes toy photos (tests/support/toyworld.py), indexes them with the toy CLIP the tests
train (cached in .cache/test-models/), opens the window on them and saves
docs/screenshot-*.png with QWidget.grab().
"""

from __future__ import annotations

import io
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import cached_model  # noqa: E402  (also sets the offline flags)
from tests.support import models, toyworld  # noqa: E402

WORK = Path("/tmp/pictor-screenshots")
OUT = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else REPO / "docs"
SIZE = (320, 240)


def build_library(model: Path) -> tuple[Path, Path]:
    from core.library import Library

    shutil.rmtree(WORK, ignore_errors=True)
    scenes = toyworld.all_scenes()
    holiday = toyworld.write_photos(WORK / "Pictures" / "Holiday 2024", scenes[::2], seed=1,
                                    size=SIZE)
    toyworld.write_photos(WORK / "Pictures" / "Garden", scenes[1::2], seed=2, size=SIZE)
    (WORK / "Pictures" / "Garden" / "IMG_0042.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with Library(WORK / "data", model=str(model), device="cpu") as library:
        for _ in library.index([WORK / "Pictures" / "Holiday 2024", WORK / "Pictures" / "Garden"]):
            pass
    query = WORK / "query.jpg"
    from PIL import Image

    with Image.open(holiday[7]) as image:
        toyworld.near_duplicate(image, seed=3).save(query)
    return WORK / "data", query


def dark_palette() -> object:
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
    return palette


def save(widget: object, name: str) -> None:
    """A 256-colour PNG: a third of the size, and the difference does not show."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(buffer, "PNG")  # type: ignore[attr-defined]
    with Image.open(io.BytesIO(bytes(buffer.data()))) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.NONE)
        small.save(OUT / name, optimize=True)


def main() -> int:
    model = cached_model("toy-clip", models.train_toy_clip)
    data, query = build_library(model)
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from desktop.engine import Engine, EngineConfig
    from desktop.settings import Settings
    from desktop.window import MainWindow

    app = QApplication(["pictor"])
    if "--dark" in sys.argv:  # a dark desktop's palette, to check nothing is hard-coded
        app.setStyle("Fusion")
        app.setPalette(dark_palette())

    def wait(condition: Callable[[], bool], timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise SystemExit(f"timed out waiting for {condition.__code__.co_firstlineno}")
            app.processEvents()
            time.sleep(0.02)

    def settle(window: MainWindow) -> None:
        for _ in range(5):
            window.thumbnails.wait()
            window.previews.wait()
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                app.processEvents()
                time.sleep(0.02)

    settings = Settings.at(WORK / "settings.ini")
    engine = Engine(EngineConfig(data, str(model), "cpu"))
    window = MainWindow(engine, settings, data_dir=data)
    window.resize(1400, 860)
    window.show()
    engine.start()
    wait(lambda: engine.model_state == "ready" and not engine.indexing)
    window.search_bar.edit.setText("a red circle")
    window.search_bar.edit.returnPressed.emit()
    wait(lambda: window.results.rowCount() > 0)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.results.index(0))
    settle(window)
    rect = window.grid.visualRect(window.results.index(1))
    QTest.mouseMove(window.grid.viewport(), rect.center())
    settle(window)
    save(window, "screenshot-search.png")

    window.search_bar.edit.clear()
    window.search_bar.set_image(str(query))
    wait(lambda: window.results.rowCount() > 0 and "0007" in window.results.hit(0).path)
    window.grid.setCurrentIndex(window.results.index(0))
    QTest.mouseMove(window.grid.viewport(), QPoint(5, 5))
    settle(window)
    save(window, "screenshot-image-query.png")

    window.open_finetune()  # Library → Teach your albums…
    dialog = window.finetune_dialog
    assert dialog is not None
    wait(lambda: dialog.albums.count() >= 2)
    for i in range(dialog.albums.count()):
        dialog.albums.item(i).setCheckState(Qt.CheckState.Checked)
    dialog.start_button.click()
    wait(lambda: not dialog.running and dialog.results.isVisible(), timeout=300)
    settle(window)
    save(dialog, "screenshot-finetune.png")
    dialog.close()
    window.close()

    lost = Engine(EngineConfig(WORK / "empty", str(WORK / "no-model"), "cpu"))
    bare = MainWindow(lost, Settings.at(WORK / "settings2.ini"), data_dir=WORK / "empty")
    bare.resize(1100, 700)
    bare.show()
    lost.start()
    wait(lambda: bare.model_dialog is not None and bare.model_dialog.isVisible())
    bare.model_dialog.show_problem("model openai/clip-vit-base-patch32 is not on this computer "
                                   "and could not be downloaded (offline?). Download it once on "
                                   "a connected machine, or choose a folder with a saved copy.")
    settle(bare)
    save(bare.model_dialog, "screenshot-first-run.png")
    bare.close()
    print("wrote", *sorted(p.name for p in OUT.glob("screenshot-*.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
