"""Pictor's window (PySide6): widgets, models, delegates and workers over core's Library.

Nothing here holds the truth: the catalog does. Every Library call runs on the one writer
thread of :class:`desktop.engine.Engine`; widgets only listen to its signals.
"""

from pathlib import Path

ICON = Path(__file__).resolve().parents[1] / "resources" / "pictor.png"
"""Pictor's icon: the window's, the tray's and the login entry's."""
