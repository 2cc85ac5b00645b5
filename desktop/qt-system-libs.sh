#!/bin/sh
# Does Qt's X11 (xcb) platform plugin find the system libraries it links to?
# Usage: desktop/qt-system-libs.sh PYTHON. Installs what is missing when run as root on a
# system with apt-get; otherwise prints the command to run and fails. The check itself is
# desktop/qt_libs.py, which the window also runs before Qt starts. Tests never need this:
# they run on Qt's offscreen platform.
set -eu
PYTHON=${1:-.venv/bin/python}
case "$0" in */*) here=${0%/*} ;; *) here=. ;; esac
root=$(cd "$here/.." && pwd)
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m desktop.qt_libs --install
