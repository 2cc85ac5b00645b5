"""The main window: search bar, folders, results grid, preview, status bar.

It holds no truth of its own: it asks the :class:`Engine` and draws what the engine's
signals report. Every slot here runs on the GUI thread. Its parts are wired in modules of
their own: the menus (desktop/window_menus.py), the results grid
(desktop/window_results.py), the preview pane (desktop/window_preview.py) and the dialogs
that follow the engine (desktop/window_dialogs.py).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop import wording
from desktop.autostart import Autostart, AutostartError
from desktop.engine import Engine, EngineConfig
from desktop.folders import FoldersPanel
from desktop.preview import PreviewPane
from desktop.query import Query
from desktop.results import ResultsModel
from desktop.results_view import ResultsGrid
from desktop.search_bar import SCORE_STEP, SearchBar
from desktop.settings import Settings
from desktop.settings_dialog import SettingsDialog, in_use_now
from desktop.thumbnails import preview_cache, thumbnail_cache
from desktop.tray import Tray
from desktop.watching import FolderWatcher
from desktop.window_dialogs import DialogsWiring
from desktop.window_menus import build_menus
from desktop.window_preview import PreviewWiring
from desktop.window_results import ResultsWiring
from desktop.window_status import StatusBar
from desktop.wording import WELCOME

if TYPE_CHECKING:
    from core.types import LibraryStatus, Progress, SearchHit
    from desktop.api_host import ApiHost
    from desktop.dialogs import ModelDialog
    from desktop.finetune_dialog import FinetuneDialog

REFRESH_WHILE_INDEXING_S = 10.0
"""While a long run indexes, the current search is re-run this often so new photos show."""


class MainWindow(QMainWindow):
    firstPainted = Signal()
    closedForGood = Signal()  # not hidden in the tray: the application may quit
    # set by desktop/window_menus.py
    keep_watching_action: QAction
    autostart_action: QAction
    paste_action: QAction
    copy_action: QAction
    preview_action: QAction

    def __init__(self, engine: Engine, settings: Settings, *, data_dir: Path,
                 watcher: FolderWatcher | None = None,
                 tray: Tray | Literal["auto"] | None = "auto",
                 autostart: Autostart | None = None, api: ApiHost | None = None) -> None:
        super().__init__()
        self.api = api  # the local API (desktop/api_host.py): its switch is in Settings
        self.autostart = autostart or Autostart()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Pictor")
        self.setAcceptDrops(True)
        self.engine = engine
        self.settings = settings
        self.data_dir = data_dir
        self.open_url: Any = QDesktopServices.openUrl  # replaceable (tests)
        self._painted = False
        self._quitting = False
        self._generation = 0
        self._query = Query()
        self.show_copies = False  # View > Show every copy
        self._last_refresh = 0.0
        self._lower_to = 0  # the minimum score the "no good match" link sets
        self._build()
        self.search_bar.set_min_score(settings.min_score)
        self.search_bar.minScoreChanged.connect(self._remember_min_score)
        self.watcher = watcher or FolderWatcher(parent=self)
        self.watcher.changed.connect(lambda: self.engine.index())
        self.watcher.foldersChanged.connect(self.engine.index)
        self.watcher.filesChanged.connect(self.engine.index_files)
        self.watcher.message.connect(lambda text: self.statusBar().showMessage(text, 15000))
        self._connect_engine()
        self.tray = (Tray(self) if Tray.available() else None) if tray == "auto" else tray
        if self.tray is not None:
            self.tray.openRequested.connect(self.bring_back)
            self.tray.quitRequested.connect(self.quit_app)
            self.tray.show(settings.keep_watching)
        build_menus(self)
        self._restore_layout()

    # -- building ----------------------------------------------------------------------

    def _build(self) -> None:
        self.thumbnails = thumbnail_cache(lambda: self.data_dir, self)
        self.previews = preview_cache(self)
        self.search_bar = SearchBar()
        self.search_bar.queryChanged.connect(self.run_query)
        self.search_bar.chooseImage.connect(self.choose_image)
        self.results = ResultsModel(self.thumbnails, self)
        self.grid = ResultsGrid(self.results)
        self.message = QLabel()
        self.message.setObjectName("resultsMessage")
        self.message.setWordWrap(True)
        self.message.setContentsMargins(6, 2, 6, 2)
        self.message.linkActivated.connect(self._lower_min_score)
        self.folders = FoldersPanel()
        self.folders.addRequested.connect(self.choose_folder)
        self.folders.removeRequested.connect(self.remove_folder)
        self.folders.reindexRequested.connect(lambda: self.engine.index())
        self.preview = PreviewPane(self.previews)
        self.grid_wiring = ResultsWiring(self)
        self.preview_wiring = PreviewWiring(self)
        self._build_layout()
        self._build_status_bar()
        self.resize(1400, 860)
        self._show_message(WELCOME)

    def _build_layout(self) -> None:
        """Search bar above; folders | message and grid | preview below."""
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addWidget(self.message)
        middle_layout.addWidget(self.grid, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        for widget, stretch in ((self.folders, 0), (middle, 1), (self.preview, 0)):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        self.splitter.setSizes([300, 760, 340])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.addWidget(self.search_bar)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        bar = StatusBar(self.engine)
        self.setStatusBar(bar)
        self.model_label, self.results_label = bar.model_label, bar.results_label
        self.index_status = bar.index_status

    def _connect_engine(self) -> None:
        engine = self.engine
        engine.opened.connect(self._on_opened)
        engine.statusChanged.connect(self._on_status)
        engine.modelReady.connect(self._on_model_ready)
        engine.modelMissing.connect(self._on_model_missing)
        engine.searched.connect(self._on_searched)
        engine.searchFailed.connect(self._on_search_failed)
        engine.indexStarted.connect(self.index_status.on_started)
        engine.indexProgress.connect(self._on_index_progress)
        engine.indexPaused.connect(self.index_status.on_paused)
        engine.indexFinished.connect(self._on_index_finished)
        engine.failed.connect(self._on_failed)
        engine.reads.placesListed.connect(self.search_bar.set_places)
        self.dialogs = DialogsWiring(self)

    @property
    def model_dialog(self) -> ModelDialog | None:
        return self.dialogs.model_dialog

    @property
    def finetune_dialog(self) -> FinetuneDialog | None:
        return self.dialogs.finetune_dialog

    def open_finetune(self) -> None:
        """The fine-tuning dialog (not modal: the window keeps searching meanwhile)."""
        self.dialogs.open_finetune()

    def _on_failed(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        self._show_message(message, error=True)

    # -- first paint -------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self.firstPainted.emit)  # after this frame is flushed

    # -- engine reports ----------------------------------------------------------------

    def _on_opened(self, status: LibraryStatus) -> None:
        self._on_status(status)
        if status.roots:
            self.engine.index()  # a reconciliation scan: catch what changed while closed

    def _on_status(self, status: LibraryStatus) -> None:
        self.folders.show_status(status)
        folders = [root.path for root in status.roots]
        self.search_bar.set_folders(folders)
        self.watcher.set_folders(folders)
        self.engine.reads.places()  # an index run or a removed folder may change them

    def _on_model_ready(self, _name: str, _device: str) -> None:
        if self._query.empty:
            self._show_message(WELCOME)

    def _on_model_missing(self, _message: str) -> None:
        """(The model dialog says why: desktop/window_dialogs.py.)"""
        self._show_message("No model yet: searching needs one (see the dialog, or "
                           "File → Settings… to name a model folder).")

    def _on_searched(self, generation: int, hits: list[SearchHit]) -> None:
        if generation != self._generation:
            return
        keep = self.preview.path
        self.results.set_hits(hits)
        hidden: int = getattr(hits, "hidden", 0)
        if self._query.empty:
            self._show_message(WELCOME)
        elif not hits and hidden:
            self._show_no_good_match(getattr(hits, "best_hidden", None))
        elif not hits:
            self._show_message(wording.NO_PHOTOS)
        else:
            self._show_message("")
        self.results_label.setText(
            wording.result_count(len(hits), hidden, self._query.min_score,
                                 ranked=bool(getattr(hits, "ranked", False))))
        row = self.results.row_of(keep) if keep else None
        if row is not None:
            self.grid_wiring.select(row)
        elif keep:
            self.preview.show_photo(None)  # not among these results: not shown as if it were

    def _on_search_failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._show_message(message, error=True)
            self.results_label.clear()

    def _show_no_good_match(self, best: float | None) -> None:
        """The results area says so, instead of an empty grid or the closest random photos."""
        self._lower_to = wording.lower_minimum(best, SCORE_STEP)
        self._show_message(wording.no_good_match(self._query, best, self._lower_to), rich=True)

    def _lower_min_score(self, _link: str = "") -> None:
        self.search_bar.lower_min_score_once(self._lower_to)  # this search only

    def _remember_min_score(self, value: int) -> None:
        self.settings.min_score = value

    def _on_index_progress(self, progress: Progress) -> None:
        self.index_status.on_progress(progress)
        now = time.monotonic()
        if progress.indexed and now - self._last_refresh > REFRESH_WHILE_INDEXING_S:
            self._refresh_results()

    def _on_index_finished(self, last: Progress | None, cancelled: bool) -> None:
        self.index_status.on_finished(last, cancelled)
        if last is not None and (last.indexed or last.moved or last.removed):
            self._refresh_results()

    def refresh_results(self) -> None:
        """Ask the current query again (photos came or went)."""
        self._refresh_results()

    def toggle_copies(self, shown: bool) -> None:
        """View > Show every copy: list each copy of a picture, or each picture once."""
        self.show_copies = shown
        if not self._query.empty:
            self.run_query(self._query)

    def _refresh_results(self) -> None:
        self._last_refresh = time.monotonic()
        if not self._query.empty:
            self._generation = self.engine.search(self._query)

    # -- searching ---------------------------------------------------------------------

    def run_query(self, query: Query) -> None:
        query = dataclasses.replace(query, copies=self.show_copies)
        self._query = query
        self._generation = self.engine.search(query)
        if query.empty:
            self.results.set_hits([])
            self.preview.show_photo(None)
            self.results_label.clear()
            self._show_message(WELCOME)
        if not query.empty and self.engine.search_pending:
            if self.engine.model_state == "missing":
                self._show_message("Searching needs a model (File → Settings…).", error=True)
            else:
                self._show_message("Loading the model… your search runs as soon as it is ready.")

    def _show_message(self, text: str, *, error: bool = False, rich: bool = False) -> None:
        self.message.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
        self.message.setText(text)
        self.message.setStyleSheet("color: #c62828;" if error else "")
        self.message.setVisible(bool(text))

    def choose_image(self) -> None:
        from core.photos.formats import PHOTO_EXTENSIONS

        patterns = " ".join(f"*{extension}" for extension in sorted(PHOTO_EXTENSIONS))
        path, _ = QFileDialog.getOpenFileName(
            self, "Search by an example photo", str(Path.home()),
            f"Photos ({patterns});;All files (*)")
        if path:
            self.search_bar.set_image(path)

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and not self._use_mime(mime) and mime.hasText():
            self.search_bar.edit.setText(mime.text().strip())
            self.search_bar.queryChanged.emit(self.search_bar.query())

    def _use_mime(self, mime: Any) -> bool:
        """Folders are added to the library, a file becomes the query image."""
        paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        folders = [p for p in paths if Path(p).is_dir()]
        files = [p for p in paths if Path(p).is_file()]
        if folders:
            self.add_folders(folders)
        if files:
            self.search_bar.set_image(files[0])
        if not paths and mime.hasImage():
            image = mime.imageData()
            target = self.data_dir / "queries" / f"pasted-{int(time.time() * 1000)}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            if image is not None and image.save(str(target), "PNG"):
                self.search_bar.set_image(str(target))
                return True
        return bool(folders or files)

    # -- drag and drop onto the window -------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasImage() or any(url.isLocalFile() for url in mime.urls()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: Any) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self._use_mime(event.mimeData()):
            event.acceptProposedAction()

    # -- folders -----------------------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos",
                                                  str(Path.home()))
        if folder:
            self.add_folders([folder])

    def add_folders(self, folders: list[str]) -> None:
        self.engine.add_folders(folders)
        self.statusBar().showMessage(f"Adding {', '.join(folders)}", 5000)

    def remove_folder(self, path: str) -> None:
        self.engine.remove_folder(path)
        self.statusBar().showMessage(f"Removed {path} from the library (files untouched)", 8000)
        self._refresh_results()

    def context_menu(self) -> QMenu:
        """What a right click on the selected results offers."""
        return self.grid_wiring.context_menu()

    # -- settings and closing ----------------------------------------------------------

    def open_settings(self) -> None:
        dialog = SettingsDialog(model=self.settings.model, device=self.settings.device,
                                data_dir=self.settings.data_dir, parent=self, api=self.api,
                                in_use=in_use_now(self.settings, self.engine, self.data_dir))
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            model, device, data_dir = dialog.values()
            only_the_model = (device, data_dir) == (self.settings.device,
                                                    self.settings.data_dir)
            changed = model != self.settings.model
            self.settings.model, self.settings.device = model, device
            self.settings.data_dir = data_dir
            if only_the_model and changed and model and self.engine.model_state == "ready":
                self.engine.switch_model(model)  # the current model answers meanwhile
            else:
                self.apply_config(self.settings.engine_config())

    def apply_config(self, config: EngineConfig) -> None:
        from core.config import default_data_dir

        self.data_dir = config.data_dir or default_data_dir()  # thumbnails follow it
        self.results.set_hits([])
        self.preview.show_photo(None)
        self.engine.reconfigure(config)

    def _restore_layout(self) -> None:
        geometry = self.settings.layout("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self.settings.layout("splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def quit_app(self) -> None:
        """Close for good (File → Quit, the tray's Quit, Ctrl-C or SIGTERM)."""
        self._quitting = True
        self.close()

    def bring_back(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def toggle_keep_watching(self, on: bool) -> None:
        self.settings.keep_watching = on
        if self.tray is not None:
            self.tray.show(on)

    def start_in_tray(self) -> None:
        """Started at login (``--in-tray``): only the tray icon shows; the engine and the
        watcher run as if the window had been closed to the tray."""
        if self.tray is not None:
            self.tray.show(True)

    def toggle_autostart(self, on: bool) -> None:
        try:
            self.autostart.enable() if on else self.autostart.disable()
        except AutostartError as error:
            self.autostart_action.setChecked(not on)
            text = str(error)
            self._show_message(text[:1].upper() + text[1:], error=True)
            return
        self._show_message(f"Pictor will start at login ({self.autostart.where})" if on
                           else "Pictor will no longer start at login")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.set_layout("geometry", self.saveGeometry())
        self.settings.set_layout("splitter", self.splitter.saveState())
        self.settings.sync()
        if self.tray is not None and self.settings.keep_watching and not self._quitting:
            event.ignore()  # to the tray: the engine and the watcher go on
            self.hide()
            self.tray.tell_still_running()
            return
        if self.tray is not None:
            self.tray.show(False)
        self.watcher.stop()
        if self.api is not None:
            self.api.stop()  # before the engine: requests waiting on it are answered
        self.engine.shutdown()
        self.thumbnails.forget_pending()
        self.previews.forget_pending()
        self.thumbnails.wait()
        self.previews.wait()
        super().closeEvent(event)
        self.closedForGood.emit()
