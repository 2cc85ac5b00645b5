"""The pinned Qt binding itself: what the window leans on thousands of times a run."""

from __future__ import annotations

import subprocess
import sys

EMITS = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal

class Source(QObject):
    changed = Signal(int)

app = QCoreApplication([])
source, seen = Source(), []
source.changed.connect(seen.append)
before = sys.getrefcount(True)
for i in range(20000):
    source.changed.emit(i)
assert len(seen) == 20000
print(sys.getrefcount(True) - before)
"""


def test_emitting_a_signal_from_python_many_times_never_aborts() -> None:
    """PySide6 6.12.0 dropped a reference to ``True`` on every ``emit()``: after about
    12,000 progress signals (a long index run, a day in the tray) Python aborted with
    "bool_dealloc". Emitted 20,000 times here, in a process of its own."""
    done = subprocess.run([sys.executable, "-c", EMITS], capture_output=True, text=True,
                          timeout=120, env={"QT_QPA_PLATFORM": "offscreen",
                                            "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert abs(int(done.stdout.strip())) < 100  # references to True neither lost nor piling up
