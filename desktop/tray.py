"""The tray icon: Pictor keeps watching the library's folders after its window is closed.

Where the desktop shows tray icons, closing the window only hides it (File → Keep watching
when closed, on by default): the folders stay watched and new photos are indexed. The icon's
menu opens the window again or quits. Without a tray, closing the window quits, as before.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop import ICON

TOOLTIP = "Pictor: watching your photo folders"


def app_icon() -> QIcon:
    return QIcon(str(ICON))


class Tray(QObject):
    openRequested = Signal()
    quitRequested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.icon.setToolTip(TOOLTIP)
        self.menu = QMenu()
        self.menu.addAction("Open Pictor").triggered.connect(self.openRequested)
        self.menu.addSeparator()
        self.menu.addAction("Quit Pictor").triggered.connect(self.quitRequested)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.told = False  # the "still running" balloon is shown once per run

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self, visible: bool = True) -> None:
        self.icon.setVisible(visible)

    def show_api(self, url: str | None) -> None:
        """Say in the tooltip where other programs reach this Pictor (the local API)."""
        self.icon.setToolTip(TOOLTIP if url is None else
                             f"{TOOLTIP}; other programs search it at {url}")

    def tell_still_running(self) -> None:
        if not self.told and self.icon.supportsMessages():
            self.icon.showMessage("Pictor is still watching your folders",
                                  "New photos are indexed in the background. Quit from this "
                                  "icon's menu.", app_icon(), 8000)
        self.told = True

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.openRequested.emit()
