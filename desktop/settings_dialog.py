"""The settings dialog: model, device and data folder, each with what is in use now; and
whether other programs may search through the local API, with its address.

An empty field means "the default"; under it the dialog says what that is on this computer
(the library's own model, the folder $PICTOR_DATA_DIR names or the user data folder), in
full, or elided in the middle with the whole in its tooltip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop.options import DEVICES

if TYPE_CHECKING:
    from desktop.api_host import ApiHost
    from desktop.engine import Engine
    from desktop.settings import Settings


@dataclass(frozen=True, slots=True)
class InUse:
    """What the window uses now, whatever the fields say."""

    model: str  # "" while none is loaded
    data_dir: str
    data_dir_from: str = ""  # why that folder: "$PICTOR_DATA_DIR", "the default", ""
    for_this_run: tuple[str, ...] = ()  # what the command line gave: "model", "data folder"


def in_use_now(settings: Settings, engine: Engine, data_dir: Path) -> InUse:
    """What the window uses: the engine's model once loaded, the open data folder and,
    when the setting is empty, where that folder comes from."""
    from core.config import DATA_DIR_ENV, default_data_dir

    source = ""
    if not settings.data_dir and data_dir == default_data_dir():
        source = f"${DATA_DIR_ENV}" if os.environ.get(DATA_DIR_ENV) else "the default"
    given = tuple(name for key, name in (("data_dir", "data folder"), ("model", "model"),
                                         ("device", "device")) if settings.for_this_run(key))
    model = engine.model_name if engine.model_state == "ready" else ""
    return InUse(model, str(data_dir), source, given)


class ElidedLabel(QLabel):
    """One line that gives way in the middle (a path's both ends say the most); the
    tooltip holds it whole."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full = text
        self.setToolTip(text)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.full, Qt.TextElideMode.ElideMiddle,
                                                   max(self.width(), 40)))


class SettingsDialog(QDialog):
    """Model, device and data folder; applying them reopens the library. With ``api``, the
    local API's switch too (applied by OK itself)."""

    def __init__(self, *, model: str, device: str, data_dir: str, in_use: InUse,
                 api: ApiHost | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._api = api
        self.setWindowTitle("Settings")
        self.model = QLineEdit(model)
        self.model.setPlaceholderText("the library's own model")
        self.device = QComboBox()
        self.device.addItems(list(DEVICES))
        self.device.setCurrentText(device)
        self.data_dir = QLineEdit(data_dir)
        self.data_dir.setPlaceholderText("the default folder")
        self.model_in_use = self._in_use(in_use.model or "none loaded yet")
        where = f" ({in_use.data_dir_from})" if in_use.data_dir_from else ""
        self.data_dir_in_use = self._in_use(in_use.data_dir + where)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model (Hugging Face id or folder):", _with_browse(self.model, self))
        form.addRow("", self.model_in_use)
        form.addRow("Device:", self.device)
        form.addRow("Data folder:", _with_browse(self.data_dir, self))
        form.addRow("", self.data_dir_in_use)
        if api is not None:
            self._add_api(form, api)
        self.note = QLabel()
        self.note.setWordWrap(True)
        if in_use.for_this_run:
            self.note.setText(
                f"Given on the command line: the {' and the '.join(in_use.for_this_run)}. "
                "Changes here last for this run only; the saved settings stay as they are.")
        self.note.setVisible(bool(in_use.for_this_run))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)

    def _add_api(self, form: QFormLayout, api: ApiHost) -> None:
        self.api_enabled = QCheckBox("Let other programs on this computer search (local API)")
        self.api_enabled.setChecked(api.settings.api_enabled)
        self.api_enabled.setToolTip("Launchers, scripts and `pictor search` in a terminal ask "
                                    "this Pictor over HTTP on 127.0.0.1, with a token only "
                                    "you can read")
        self.api_address = QLabel(api.describe())
        self.api_address.setObjectName("apiAddress")
        self.api_address.setWordWrap(True)
        self.api_address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grey = self.api_address.palette().color(QPalette.ColorRole.PlaceholderText).name()
        self.api_address.setStyleSheet(f"color: {grey};")
        api.changed.connect(self._show_api)
        form.addRow("Local API:", self.api_enabled)
        form.addRow("", self.api_address)

    def _show_api(self) -> None:
        if self._api is not None:
            self.api_address.setText(self._api.describe())

    def accept(self) -> None:
        if self._api is not None:
            self._api.set_enabled(self.api_enabled.isChecked())
        super().accept()

    def _in_use(self, text: str) -> ElidedLabel:
        label = ElidedLabel(f"In use: {text}")
        grey = label.palette().color(QPalette.ColorRole.PlaceholderText).name()
        label.setStyleSheet(f"color: {grey};")
        return label

    def values(self) -> tuple[str, str, str]:
        return (self.model.text().strip(), self.device.currentText(),
                self.data_dir.text().strip())


def _with_browse(edit: QLineEdit, parent: QWidget) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    button = QPushButton("Browse…")

    def browse() -> None:
        folder = QFileDialog.getExistingDirectory(parent, "Choose a folder", edit.text())
        if folder:
            edit.setText(folder)

    button.clicked.connect(browse)
    row.addWidget(button)
    return box
