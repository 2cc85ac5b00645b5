"""One window per data folder: starting Pictor again shows the one already running.

With the window hidden in the tray, a user who starts Pictor again (the menu, a launcher)
means "show it", not a second window on the same library. The first instance listens on a
local socket (QLocalServer) named after the user and the data folder; a later one connects,
asks it to show itself and exits.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

WAIT_MS = 500
log = logging.getLogger(__name__)


def server_name(data_dir: Path) -> str:
    digest = hashlib.sha256(str(data_dir.resolve()).encode("utf-8", "surrogateescape"))
    return f"pictor-{getpass.getuser()}-{digest.hexdigest()[:12]}"


class SingleInstance(QObject):
    activated = Signal()  # another start asked this one to show itself

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server: QLocalServer | None = None

    def claim(self) -> bool:
        """True: this is the only instance (it now listens). False: another one runs and
        was asked to show itself."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if socket.waitForConnected(WAIT_MS):
            socket.write(b"show\n")
            socket.waitForBytesWritten(WAIT_MS)
            socket.disconnectFromServer()
            return False
        QLocalServer.removeServer(self.name)  # a socket file left by a crashed instance
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_connection)
        if not self.server.listen(self.name):  # run anyway, only without this guard
            log.warning("cannot listen on %s: %s", self.name, self.server.errorString())
        return True

    def _on_connection(self) -> None:
        assert self.server is not None
        while (connection := self.server.nextPendingConnection()) is not None:
            connection.disconnected.connect(connection.deleteLater)
            self.activated.emit()
