"""Quantities as people read them."""

from __future__ import annotations


def human_size(size: int) -> str:
    """``2.6 MB``, ``20.1 KB``, ``12 bytes`` (decimal units, as file managers show)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"
