"""Moving a user's file to the system's Trash: the one change Pictor ever makes to a
user's files, and only when the user asked for it and confirmed.

Send2Trash does the moving: it follows each system's rules (the freedesktop.org Trash on
Linux, with the files' original places recorded so the file manager can put them back;
the Recycle Bin on Windows; the Finder's Trash on macOS). Nothing is ever deleted: a file
the Trash cannot take stays where it is, with the reason.

Before moving, the file is checked against what the catalog knew when the user chose it
(size and modification time): a file changed since is left alone, as the user did not
see that version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class TrashResult:
    """What became of one file the user chose to move to the Trash."""

    path: str
    moved: bool
    bytes: int = 0
    reason: str | None = None  # why it stayed, when it did


def move_to_trash(path: str, *, size: int, mtime: float) -> TrashResult:
    """Move ``path`` to the Trash if it is still the file of ``size`` bytes last modified
    at ``mtime`` that the user chose."""
    try:
        stat = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return TrashResult(path, False, reason="the file is no longer there")
    except OSError as error:
        return TrashResult(path, False, reason=f"cannot read the file: {error.strerror}")
    if stat.st_size != size or abs(stat.st_mtime - mtime) > 1e-3:
        return TrashResult(path, False, reason="the file changed since it was listed; "
                                               "list the copies again")
    from send2trash import send2trash  # imported here: only this command needs it

    try:
        send2trash(Path(path))
    except OSError as error:  # TrashPermissionError is one: no Trash on that drive
        return TrashResult(path, False, reason=f"the Trash cannot take it: {error}")
    return TrashResult(path, True, bytes=size)
