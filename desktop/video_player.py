"""Playing a video from a moment with the system's player.

Qt's own player (QtMultimedia) is not part of the Qt that Pictor installs, so a video opens
in a player that takes a start time on its command line, when one is installed (mpv, VLC,
Celluloid: the first found on PATH); otherwise in the system's default application, and
the window says which moment to go to. The player runs on its own (a session of its own,
no pipes): closing Pictor leaves it playing.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.photos.video_names import clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Player:
    """A player program and how it is told where to start."""

    program: str
    name: str
    start: Callable[[float], str]
    """The start-time option for a time in seconds."""


PLAYERS: tuple[Player, ...] = (
    Player("mpv", "mpv", lambda s: f"--start={s:.2f}"),
    Player("vlc", "VLC", lambda s: f"--start-time={s:.2f}"),
    Player("celluloid", "Celluloid", lambda s: f"--mpv-start={s:.2f}"),  # mpv's option
)


def player_command(path: str, time_s: float) -> tuple[Player, list[str]] | None:
    """The first installed player and its command to play ``path`` from ``time_s``."""
    for player in PLAYERS:
        program = shutil.which(player.program)
        if program is not None:
            return player, [program, player.start(max(0.0, time_s)), path]
    return None


def play(path: str, time_s: float, *, open_default: Callable[[str], object]) -> str:
    """Play the video at ``path`` from ``time_s`` seconds; returns what the window should
    say. Without a player that takes a start time (or when it fails to start) the file is
    opened with ``open_default`` (the system's default application) and the message names
    the moment to go to."""
    name, at = Path(path).name, clock(time_s)
    found = player_command(path, time_s)
    if found is not None:
        player, command = found
        try:
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as error:
            log.warning("cannot start %s: %s", player.name, error)
        else:
            return f"Playing {name} from {at} in {player.name}"
    open_default(path)
    return f"Opened {name}: go to {at} for the moment found"
