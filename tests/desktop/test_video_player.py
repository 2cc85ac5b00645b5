"""Opening a video at a moment: the first installed player that takes a start time, told
that time; the default application otherwise, with the moment named. No real player is
ever started here."""

from __future__ import annotations

from typing import Any

import pytest

from desktop import video_player


class Launches:
    """Stands in for subprocess.Popen: records each command instead of running it."""

    def __init__(self, error: OSError | None = None) -> None:
        self.commands: list[list[str]] = []
        self.error = error

    def __call__(self, command: list[str], **options: Any) -> object:
        self.commands.append(command)
        if self.error is not None:
            raise self.error
        assert options["start_new_session"] is True  # outlives the window
        return object()


def _installed(monkeypatch: pytest.MonkeyPatch, *programs: str) -> Launches:
    monkeypatch.setattr(video_player.shutil, "which",
                        lambda name: f"/usr/bin/{name}" if name in programs else None)
    launches = Launches()
    monkeypatch.setattr(video_player.subprocess, "Popen", launches)
    return launches


@pytest.mark.parametrize(("programs", "command"), [
    (("mpv", "vlc"), ["/usr/bin/mpv", "--start=42.50", "/v/trip.mp4"]),
    (("vlc", "celluloid"), ["/usr/bin/vlc", "--start-time=42.50", "/v/trip.mp4"]),
    (("celluloid",), ["/usr/bin/celluloid", "--mpv-start=42.50", "/v/trip.mp4"]),
])
def test_the_first_installed_player_starts_at_the_moment(
        monkeypatch: pytest.MonkeyPatch, programs: tuple[str, ...], command: list[str]) -> None:
    launches = _installed(monkeypatch, *programs)
    opened: list[str] = []
    message = video_player.play("/v/trip.mp4", 42.5, open_default=opened.append)
    assert launches.commands == [command] and opened == []
    assert message.startswith("Playing trip.mp4 from 0:42 in ")


def test_without_a_player_the_default_application_opens_it_and_the_moment_is_named(
        monkeypatch: pytest.MonkeyPatch) -> None:
    launches = _installed(monkeypatch)
    opened: list[str] = []
    message = video_player.play("/v/trip.mp4", 190.0, open_default=opened.append)
    assert launches.commands == [] and opened == ["/v/trip.mp4"]
    assert message == "Opened trip.mp4: go to 3:10 for the moment found"


def test_a_player_that_fails_to_start_falls_back_to_the_default_application(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _installed(monkeypatch, "mpv")
    monkeypatch.setattr(video_player.subprocess, "Popen",
                        Launches(error=PermissionError("not executable")))
    opened: list[str] = []
    message = video_player.play("/v/trip.mp4", 5.0, open_default=opened.append)
    assert opened == ["/v/trip.mp4"] and "go to 0:05" in message
