"""The main window's dialogs that follow the engine: the model dialog (no model yet:
download one or pick a folder; closed once a model is ready) and the fine-tuning dialog
(not modal: the window keeps searching while it trains). A model that changes here (a
version trained, used again or rolled back) is remembered for the next start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from desktop.dialogs import ModelDialog
from desktop.duplicates_dialog import DuplicatesDialog
from desktop.engine import EngineConfig
from desktop.engine_duplicates import DuplicatesFinder
from desktop.finetune_dialog import FinetuneDialog

if TYPE_CHECKING:
    from desktop.window import MainWindow


class DialogsWiring(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.engine = engine = window.engine
        self.settings = window.settings
        self.model_dialog: ModelDialog | None = None
        self.finetune_dialog: FinetuneDialog | None = None
        self.duplicates_dialog: DuplicatesDialog | None = None
        engine.modelReady.connect(self._on_model_ready)
        engine.modelMissing.connect(self._on_model_missing)
        engine.finetuneFinished.connect(self._on_finetuned)
        engine.rolledBack.connect(self._on_model_changed_here)

    # -- the model dialog ----------------------------------------------------------------

    def _on_model_missing(self, message: str) -> None:
        if self.model_dialog is None:
            dialog = ModelDialog(self.window)
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

    def _on_model_ready(self, _name: str, _device: str) -> None:
        if self.model_dialog is not None:
            self.model_dialog.accept()
            self.model_dialog = None
        if self.finetune_dialog is not None and self.finetune_dialog.isVisible():
            self.engine.list_albums()  # the version in use may have changed

    # -- the fine-tuning dialog -----------------------------------------------------------

    def open_finetune(self) -> None:
        if self.finetune_dialog is None:
            dialog = FinetuneDialog(self.window)
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

    # -- the duplicates view ---------------------------------------------------------------

    def open_duplicates(self) -> None:
        """The Duplicates view (not modal); it looks for copies as it opens."""
        if self.duplicates_dialog is None:
            dialog = DuplicatesDialog(self.window.thumbnails, self.window)
            finder = DuplicatesFinder(self.engine.run_on_writer, self.engine.library_here,
                                      dialog)
            dialog.findRequested.connect(lambda similar: finder.find(similar=similar))
            dialog.cancelRequested.connect(finder.cancel)
            dialog.trashRequested.connect(finder.trash)
            finder.progress.connect(dialog.on_progress)
            finder.found.connect(dialog.on_found)
            finder.failed.connect(dialog.on_failed)
            finder.trashed.connect(dialog.on_trashed)
            finder.trashed.connect(lambda _report: self.window.refresh_results())
            self.duplicates_dialog = dialog
            dialog.look()
        self.duplicates_dialog.show()
        self.duplicates_dialog.raise_()

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
