"""The main window: search bar, folders, results grid, preview, status bar.

It holds no truth of its own: it asks the :class:`Engine` and draws what the engine's
signals report. Every slot here runs on the GUI thread.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QPaintEvent,
    QShortcut,
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
from desktop.dialogs import ModelDialog, SettingsDialog
from desktop.engine import Engine, EngineConfig
from desktop.finetune_dialog import FinetuneDialog
from desktop.folders import FoldersPanel
from desktop.index_status import IndexStatus
from desktop.preview import PreviewPane
from desktop.query import Query
from desktop.results import HitRole, PathRole, ResultsModel
from desktop.results_view import ResultsGrid
from desktop.search_bar import SCORE_STEP, SearchBar
from desktop.settings import Settings
from desktop.thumbnails import preview_cache, thumbnail_cache
from desktop.tray import Tray
from desktop.watching import FolderWatcher
from desktop.wording import WELCOME, caption_language

if TYPE_CHECKING:
    from core.types import LibraryStatus, Progress, SearchHit

REFRESH_WHILE_INDEXING_S = 10.0
"""While a long run indexes, the current search is re-run this often so new photos show."""
MAX_OPEN = 20


class MainWindow(QMainWindow):
    firstPainted = Signal()
    closedForGood = Signal()  # not hidden in the tray: the application may quit

    def __init__(self, engine: Engine, settings: Settings, *, data_dir: Path,
                 watcher: FolderWatcher | None = None,
                 tray: Tray | Literal["auto"] | None = "auto",
                 autostart: Autostart | None = None) -> None:
        super().__init__()
        self.autostart = autostart or Autostart()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Pictor")
        self.setAcceptDrops(True)
        self.engine = engine
        self.settings = settings
        self.data_dir = data_dir
        self.open_url: Any = QDesktopServices.openUrl  # replaceable (tests)
        self.model_dialog: ModelDialog | None = None
        self.finetune_dialog: FinetuneDialog | None = None
        self._painted = False
        self._quitting = False
        self._generation = 0
        self._query = Query()
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
        self._build_actions()
        self._restore_layout()

    # -- building ----------------------------------------------------------------------

    def _build(self) -> None:
        self.thumbnails = thumbnail_cache(lambda: self.data_dir, self)
        self.previews = preview_cache(self)
        self.search_bar = SearchBar()
        self.search_bar.queryChanged.connect(self.run_query)
        self.search_bar.chooseImage.connect(self.choose_image)
        self.search_bar.edit.installEventFilter(self)
        self.results = ResultsModel(self.thumbnails, self)
        self.grid = ResultsGrid(self.results)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.grid.activated.connect(lambda _index: self.open_selected())
        self.grid.selectionModel().currentChanged.connect(lambda *_: self._preview_current())
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
        self.preview.captions.captionClicked.connect(self.search_bar.search_text)
        self.preview.captionsWanted.connect(
            lambda path: self.engine.captions(path, language=caption_language()))
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
        self.model_label = QLabel("Starting…")
        self.results_label = QLabel()
        self.results_label.setObjectName("resultsCount")
        self.index_status = IndexStatus()
        self.index_status.pauseToggled.connect(self.engine.pause_index)
        self.index_status.cancelRequested.connect(self.engine.cancel_index)
        self.statusBar().addWidget(self.model_label)
        self.statusBar().addWidget(self.results_label)
        self.statusBar().addPermanentWidget(self.index_status)

    def _build_actions(self) -> None:
        def action(menu: QMenu, text: str, slot: Any, keys: Any = None,
                   context: Qt.ShortcutContext | None = None) -> QAction:
            act = menu.addAction(text)
            act.triggered.connect(slot)
            if keys is not None:
                act.setShortcut(QKeySequence(keys))
            if context is not None:
                act.setShortcutContext(context)
            return act

        bar = self.menuBar()
        file = bar.addMenu("&File")
        action(file, "Add folder…", self.choose_folder, "Ctrl+O")
        action(file, "Search by image…", self.choose_image, "Ctrl+I")
        action(file, "Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        file.addSeparator()
        self.keep_watching_action = action(file, "Keep watching when closed",
                                           self._toggle_keep_watching)
        self.keep_watching_action.setCheckable(True)
        self.keep_watching_action.setChecked(self.tray is not None
                                             and self.settings.keep_watching)
        self.keep_watching_action.setEnabled(self.tray is not None)
        self.keep_watching_action.setToolTip(
            "Closing the window leaves Pictor in the tray, indexing new photos" if self.tray
            else "This desktop shows no tray icons: closing the window quits")
        self.autostart_action = action(file, "Start at login", self._toggle_autostart)
        self.autostart_action.setCheckable(True)
        self.autostart_action.setChecked(self.autostart.is_enabled())
        self.autostart_action.setToolTip(
            "Pictor starts in the tray when you log in and indexes what changed" if self.tray
            else "Pictor opens its window when you log in (this desktop shows no tray)")
        action(file, "Quit", self.quit_app, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        action(edit, "Find", self.search_bar.focus_search, QKeySequence.StandardKey.Find)
        self.paste_action = action(edit, "Paste image or text", self.paste,
                                   QKeySequence.StandardKey.Paste,
                                   Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.grid.addAction(self.paste_action)
        self.copy_action = action(edit, "Copy path", self.copy_paths,
                                  QKeySequence.StandardKey.Copy,
                                  Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.grid.addAction(self.copy_action)
        action(edit, "Find similar photos", self.find_similar, "Ctrl+L")
        library = bar.addMenu("&Library")
        action(library, "Rescan folders", lambda: self.engine.index(), "F5")
        action(library, "Teach your albums…", self.open_finetune)
        view = bar.addMenu("&View")
        self.preview_action = action(view, "Preview pane", self._toggle_preview, "F3")
        self.preview_action.setCheckable(True)
        self.preview_action.setChecked(True)
        space = QShortcut(QKeySequence(Qt.Key.Key_Space), self.grid)
        space.setContext(Qt.ShortcutContext.WidgetShortcut)
        space.activated.connect(self.toggle_preview_of_current)

    def _connect_engine(self) -> None:
        engine = self.engine
        engine.opened.connect(self._on_opened)
        engine.statusChanged.connect(self._on_status)
        engine.modelLoading.connect(self._on_model_loading)
        engine.modelReady.connect(self._on_model_ready)
        engine.modelMissing.connect(self._on_model_missing)
        engine.searched.connect(self._on_searched)
        engine.searchFailed.connect(self._on_search_failed)
        engine.captionsReady.connect(self.preview.on_captions)
        engine.captionsFailed.connect(self.preview.on_captions_failed)
        engine.indexStarted.connect(self.index_status.on_started)
        engine.indexProgress.connect(self._on_index_progress)
        engine.indexPaused.connect(self.index_status.on_paused)
        engine.indexFinished.connect(self._on_index_finished)
        engine.failed.connect(self._on_failed)
        engine.finetuneFinished.connect(self._on_finetuned)
        engine.rolledBack.connect(self._on_model_changed_here)

    def open_finetune(self) -> None:
        """The fine-tuning dialog (not modal: the window keeps searching meanwhile)."""
        if self.finetune_dialog is None:
            dialog = FinetuneDialog(self)
            engine = self.engine
            engine.albumsListed.connect(dialog.set_choices)
            engine.finetuneProgress.connect(dialog.on_progress)
            engine.finetuneFinished.connect(dialog.on_finished)
            engine.rolledBack.connect(dialog.on_rolled_back)
            dialog.startRequested.connect(engine.finetune)
            dialog.cancelRequested.connect(engine.cancel_finetune)
            dialog.rollbackRequested.connect(engine.rollback)
            dialog.useRequested.connect(self._use_version)
            dialog.deleteRequested.connect(engine.delete_version)
            engine.versionDeleted.connect(dialog.on_version_deleted)
            self.finetune_dialog = dialog
        self.engine.list_albums()
        self.finetune_dialog.show()
        self.finetune_dialog.raise_()

    def _on_finetuned(self, result: Any, _message: str) -> None:
        if result is not None:
            self._on_model_changed_here(result.model)
            self.engine.list_albums()  # the dialog shows the version now in use

    def _use_version(self, folder: str) -> None:
        """An earlier fine-tuned version: its photos are embedded first if need be (a
        version used before has its vectors), the current model answering meanwhile."""
        self.settings.model = folder
        self.engine.switch_model(folder)

    def _on_model_changed_here(self, model: str) -> None:
        """A version trained here, or its base after a rollback: remember it for the next
        start, and embed what the library's photos lack for it (in the background)."""
        self.settings.model = model
        self.engine.index()

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

    def _on_model_loading(self, name: str) -> None:
        self.model_label.setText(f"Loading the model{' ' + Path(name).name if name else ''}…")

    def _on_model_ready(self, name: str, device: str) -> None:
        self.model_label.setText(f"Model: {Path(name).name or name} ({device})")
        if self.model_dialog is not None:
            self.model_dialog.accept()
            self.model_dialog = None
        if self._query.empty:
            self._show_message(WELCOME)
        self.preview.retry_captions()  # "captions need a model": there is one now
        if self.finetune_dialog is not None and self.finetune_dialog.isVisible():
            self.engine.list_albums()  # the version in use may have changed

    def _on_model_missing(self, message: str) -> None:
        self.model_label.setText("No model")
        self._show_message("No model yet: searching needs one (see the dialog, or "
                           "File → Settings… to name a model folder).")
        if self.model_dialog is None:
            dialog = ModelDialog(self)
            dialog.downloadRequested.connect(self.engine.download_default_model)
            dialog.folderChosen.connect(self._use_model_folder)
            dialog.cancelRequested.connect(self.engine.cancel_download)
            dialog.rejected.connect(self._model_dialog_closed)
            self.engine.downloadProgress.connect(dialog.on_progress)
            self.model_dialog = dialog
        self.model_dialog.show_problem(message)
        self.model_dialog.open()

    def _model_dialog_closed(self) -> None:
        self.model_dialog = None

    def _use_model_folder(self, folder: str) -> None:
        self.settings.model = folder
        current = self.engine.config
        self.engine.reconfigure(EngineConfig(current.data_dir, folder, current.device))

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
            wording.result_count(len(hits), hidden, self._query.min_score))
        row = self.results.row_of(keep) if keep else None
        if row is not None:
            self.grid.setCurrentIndex(self.results.index(row))

    def _on_search_failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._show_message(message, error=True)
            self.results_label.clear()

    def _show_no_good_match(self, best: float | None) -> None:
        """The results area says so, instead of an empty grid or the closest random photos."""
        self._lower_to = wording.lower_minimum(best, SCORE_STEP)
        self._show_message(wording.no_good_match(self._query, best, self._lower_to), rich=True)

    def _lower_min_score(self, _link: str = "") -> None:
        self.search_bar.set_min_score(self._lower_to, search=True)

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

    def _refresh_results(self) -> None:
        self._last_refresh = time.monotonic()
        if not self._query.empty:
            self._generation = self.engine.search(self._query)

    # -- searching ---------------------------------------------------------------------

    def run_query(self, query: Query) -> None:
        self._query = query
        self._generation = self.engine.search(query)
        if query.empty:
            self.results.set_hits([])
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

    # -- results -----------------------------------------------------------------------

    def selected_paths(self) -> list[str]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        if not rows and self.grid.currentIndex().isValid():
            rows = [self.grid.currentIndex().row()]
        return [self.results.hit(r).path for r in rows]

    def open_selected(self) -> None:
        for path in self.selected_paths()[:MAX_OPEN]:
            self.open_url(QUrl.fromLocalFile(path))

    def show_in_folder(self) -> None:
        for folder in dict.fromkeys(str(Path(p).parent) for p in self.selected_paths()):
            self.open_url(QUrl.fromLocalFile(folder))

    def copy_paths(self) -> None:
        paths = self.selected_paths()
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))
            self.statusBar().showMessage("Copied " + (paths[0] if len(paths) == 1
                                                      else f"{len(paths)} paths"), 4000)

    def find_similar(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.search_bar.edit.clear()
            self.search_bar.set_image(paths[0], similar=True)

    def _context_menu(self, position: Any) -> None:
        index = self.grid.indexAt(position)
        if not index.isValid():
            return
        if not self.grid.selectionModel().isSelected(index):
            self.grid.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.context_menu().popup(self.grid.viewport().mapToGlobal(position))

    def context_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.setObjectName("resultsMenu")
        menu.addAction("Open", self.open_selected)
        menu.addAction("Show in file manager", self.show_in_folder)
        menu.addAction("Copy path", self.copy_paths)
        menu.addAction("Find similar photos", self.find_similar)
        return menu

    def _preview_current(self) -> None:
        index = self.grid.currentIndex()
        if index.isValid():
            self.preview.show_photo(index.data(PathRole), index.data(HitRole))

    def toggle_preview_of_current(self) -> None:
        shown = not self.preview.isVisible()
        self.preview.setVisible(shown)
        self.preview_action.setChecked(shown)
        if shown:
            self._preview_current()

    def _toggle_preview(self) -> None:
        self.preview.setVisible(self.preview_action.isChecked())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Down in the search box moves into the results."""
        if (watched is self.search_bar.edit and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Down
                and self.results.rowCount()):
            self.grid.setFocus(Qt.FocusReason.OtherFocusReason)
            if not self.grid.currentIndex().isValid():
                self.grid.setCurrentIndex(self.results.index(0))
            return True
        return super().eventFilter(watched, event)

    # -- settings and closing ----------------------------------------------------------

    def open_settings(self) -> None:
        dialog = SettingsDialog(model=self.settings.model, device=self.settings.device,
                                data_dir=self.settings.data_dir, parent=self)
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

    def _toggle_keep_watching(self, on: bool) -> None:
        self.settings.keep_watching = on
        if self.tray is not None:
            self.tray.show(on)

    def start_in_tray(self) -> None:
        """Started at login (``--in-tray``): only the tray icon shows; the engine and the
        watcher run as if the window had been closed to the tray."""
        if self.tray is not None:
            self.tray.show(True)

    def _toggle_autostart(self, on: bool) -> None:
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
        self.engine.shutdown()
        self.thumbnails.forget_pending()
        self.previews.forget_pending()
        self.thumbnails.wait()
        self.previews.wait()
        super().closeEvent(event)
        self.closedForGood.emit()
