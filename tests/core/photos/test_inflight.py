"""Decode markers: what a crashed run was reading is found; live runs are left alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.photos.inflight import InflightMarkers


def test_markers_of_a_dead_process_name_the_file_it_was_decoding(tmp_path: Path) -> None:
    name = os.fsdecode(b"/photos/caf\xe9.jpg")  # a name that is not UTF-8 survives too
    code = (f"import os, sys; sys.path.insert(0, {str(Path.cwd())!r});"
            "from pathlib import Path; from core.photos.inflight import InflightMarkers;"
            f"m = InflightMarkers(Path({str(tmp_path)!r})); m.begin({name!r}); os._exit(1)")
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    markers = InflightMarkers(tmp_path)
    assert markers.collect_dead() == [name]
    assert markers.collect_dead() == []  # collected once, then gone


def test_markers_of_this_process_are_not_collected_and_close_cleans_up(tmp_path: Path) -> None:
    markers = InflightMarkers(tmp_path)
    markers.begin("/photos/a.jpg")
    assert InflightMarkers(tmp_path).collect_dead() == []
    markers.end()
    markers.close()
    assert list(tmp_path.iterdir()) == []
