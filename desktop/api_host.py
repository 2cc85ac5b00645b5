"""The local API while the window (or its tray icon) runs: the same api/ as ``serve``, on a
background thread of this process, over the library the engine already holds (its model
is loaded once).

Each request's library call is a task on the engine's writer thread, queued behind what
the window asked for and between two steps of an index run, as a search typed in the
window is; it touches no widget. The server's own thread only speaks HTTP. It starts once
the engine has opened the library, follows it to another data folder, and stops (api.json
removed) when the setting is turned off or Pictor quits. Where another live instance
answers for the same data folder (``serve``, or a window started with the same folder
through another settings file), its api.json is left alone: this one says so and tries
again now and then, taking over once the other has gone.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.engine import Engine
from desktop.settings import Settings

if TYPE_CHECKING:
    from api.server import ApiServer
    from api.worker import LibraryWorker
    from core.types import LibraryStatus, Progress

log = logging.getLogger(__name__)

RETRY_MS = 10_000
"""How often a host kept out by another instance checks whether it has gone."""
OFF = "Off: other programs cannot search through Pictor"


class ApiHost(QObject):
    changed = Signal()  # started, stopped or kept out: url and state say what now

    def __init__(self, engine: Engine, settings: Settings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.settings = settings
        self.state = ""
        """Why it does not answer, a sentence ("" while it answers, or before it starts)."""
        self._data_dir: Path | None = None
        self._server: ApiServer | None = None
        self._worker: LibraryWorker | None = None
        self._progress: Progress | None = None  # set here, read by the server's thread
        self._retry = QTimer(self)
        self._retry.setInterval(RETRY_MS)
        self._retry.timeout.connect(self._start)
        engine.opened.connect(self._on_opened)
        engine.indexProgress.connect(self._on_progress)
        engine.indexFinished.connect(self._on_finished)

    @property
    def url(self) -> str | None:
        """The address it answers at, None when it does not."""
        return self._server.url if self._server is not None else None

    @property
    def discovery(self) -> Path | None:
        """The api.json that names it (address and token), None when it does not answer."""
        return self._server.discovery if self._server is not None else None

    def describe(self) -> str:
        """What it does, for the Settings dialog."""
        if self._server is not None:
            return (f"Answering at {self._server.url}; programs find it and its token in "
                    f"{self._server.discovery}")
        return self.state or "Starts once the library is open"

    def set_enabled(self, on: bool) -> None:
        """The setting: on starts it (once the library is open), off stops it."""
        self.settings.api_enabled = on
        if on:
            self._start()
        else:
            self.stop(OFF)

    def stop(self, state: str = "Stopped") -> None:
        """Stop answering and remove api.json; requests waiting are answered 503."""
        self._retry.stop()
        server, worker = self._server, self._worker
        self._server = self._worker = None
        self.state = state
        if worker is not None:
            worker.close()
        if server is not None:
            server.stop()
            log.info("the local API stopped")
        self.changed.emit()

    # -- engine reports (GUI thread) ---------------------------------------------------

    def _on_opened(self, status: LibraryStatus) -> None:
        data_dir = Path(status.data_dir)
        if data_dir != self._data_dir:
            if self._server is not None:
                self.stop()  # its api.json belongs to the folder left behind
            self._data_dir = data_dir
        self._start()

    def _on_progress(self, progress: Progress) -> None:
        self._progress = progress

    def _on_finished(self, *_: Any) -> None:
        self._progress = None

    def _start(self) -> None:
        if self._server is not None or self._data_dir is None:
            return
        if not self.settings.api_enabled:
            self.state = OFF
            return
        from api.discovery import AlreadyServing
        from api.server import ApiServer
        from api.worker import LibraryWorker
        from core.errors import PictorError

        worker = LibraryWorker(self.engine.library_here, submit=self.engine.run_on_writer)
        try:
            server = ApiServer(worker, self._data_dir, indexing=lambda: self._progress)
            server.start()
        except AlreadyServing as error:
            worker.close()
            self.state = (f"Another Pictor answers for this library at {error.url}; this "
                          "one takes over when it stops")
            self._retry.start()
            self.changed.emit()
            return
        except (PictorError, OSError) as error:
            worker.close()
            self.state = f"Cannot answer other programs: {error}"
            self.changed.emit()
            return
        self._server, self._worker, self.state = server, worker, ""
        self._retry.stop()
        log.info("the local API answers at %s", server.url)
        self.changed.emit()
