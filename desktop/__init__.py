"""Pictor's window (PySide6): widgets, models, delegates and workers over core's Library.

Nothing here holds the truth: the catalog does. Every Library call runs on the one writer
thread of :class:`desktop.engine.Engine`; widgets only listen to its signals.
"""
