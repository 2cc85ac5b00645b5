#!/bin/sh
# Does Qt's X11 (xcb) platform plugin find the system libraries it links to?
# Usage: desktop/qt-system-libs.sh PYTHON. Installs what is missing when run as root on a
# system with apt-get; otherwise prints the command to run and fails. Tests never need
# this: they run on Qt's offscreen platform.
set -eu
PYTHON=${1:-.venv/bin/python}
qt=$("$PYTHON" -c 'import os, PySide6; print(os.path.join(os.path.dirname(PySide6.__file__), "Qt"))')
plugin="$qt/plugins/platforms/libqxcb.so"
[ -f "$plugin" ] || exit 0  # not Linux/X11 (macOS, Windows): nothing to check
missing=$(ldd "$plugin" "$qt"/lib/libQt6XcbQpa.so.* 2>/dev/null | awk '/not found/ {print $1}' | sort -u)
[ -n "$missing" ] || exit 0
# Debian names: libxcb-icccm.so.4 -> libxcb-icccm4, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0
packages=$(for lib in $missing; do
  case "$lib" in
    libglib-2.0.so.*) echo libglib2.0-0 ;;
    *) echo "$lib" | tr 'A-Z' 'a-z' | sed -E 's/\.so\.([0-9]+).*$/ \1/; s/([0-9]) ([0-9]+)$/\1-\2/; s/ //' ;;
  esac
done | sort -u | tr '\n' ' ')
echo "Qt's window system plugin is missing: $(echo $missing | tr '\n' ' ')"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing: $packages"
  apt-get install -y --no-install-recommends $packages || { apt-get update && apt-get install -y --no-install-recommends $packages; }
else
  echo "Install them, then run make run again:"
  echo "  sudo apt-get install -y $packages"
  exit 1
fi
