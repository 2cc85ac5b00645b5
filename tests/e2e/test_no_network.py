"""Pictor never touches the network unless it is asked to download a model.

``index`` (with its text pass), ``search``, ``status``, ``text``, ``watch`` and the window
run under strace, which sees the
socket calls of native code too: ONNX Runtime's telemetry resolved its upload host from a C++
thread about 9 s after the runtime loaded, out of reach of a guard on Python's ``socket``.
The index run builds the int8 ONNX image tower (core.models.fast_images) even for this toy library,
the watcher and the window load it and stay up past that delay, and nothing may be written
under the fake HOME's ``.cache/Microsoft`` (the runtime's event store and device id). The
Hugging Face offline switches are deliberately *not* set: with a local model folder, Pictor
must not even try.

Allowed: Unix sockets (local IPC such as the single-instance server, X11 or D-Bus), except
name lookups through them (systemd-resolved; host requests to nscd, which also answers the
user lookups that ``getpass`` makes), and the window's local API listening on a TCP socket
bound to 127.0.0.1 (it answers programs on this computer and sends nothing unasked: any
send on it still counts). Everything else counts: any connect, bind or send on an
Internet, netlink or other socket, loopback included (127.0.0.53 is a DNS resolver).
strace is required: ``make test`` installs it when run as root; without it the test fails.
"""

from __future__ import annotations

import codecs
import json
import os
import queue
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support import toyworld

ROOT = Path(__file__).resolve().parents[2]
SHARED_CACHE = ROOT / ".cache" / "pictor-cache"
TIMEOUT = 180.0
LINGER_S = 12.0
"""How long the watcher and the window stay up after loading the image tower: longer than
ONNX Runtime's telemetry waited before its first lookup (about 9 s)."""
SYSCALLS = ("connect", "bind", "sendto", "sendmsg", "sendmmsg", "writev")
RESOLVED = "/run/systemd/resolve/"
NSCD = "/nscd/socket"
NSCD_HOST_REQUESTS = {4, 5, 6, 7, 13, 14}
"""glibc's nscd request types GETHOSTBYNAME(v6), GETHOSTBYADDR(v6), GETFDHST and GETAI."""

# Patches only what makes a toy library take the int8 tower path, as each module is first
# imported (so the import order stays main.py's own), then runs main.py as a user would. Every
# tower session opened is logged, so the test knows the path ran.
RUNNER = """
import importlib.machinery, os, runpy, signal, sys
sys.path.insert(0, {root!r})
signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background

def runs(module):
    module.FAST_IMAGES_MIN_PHOTOS = 1  # build the tower for a handful of photos,

def fast_images(module):
    module.MIN_SPEEDUP = 0.0  # and keep it: a toy model says nothing of speed
    opened = module.OnnxImageTower.__init__
    def logged(self, path, **kwargs):
        opened(self, path, **kwargs)
        with open(os.environ["TOWER_LOG"], "a") as log:
            log.write(f"{{os.getpid()}} {{path}}\\n")
    module.OnnxImageTower.__init__ = logged

def engine(module):  # the window: say when its start-up scan is done
    init = module.Engine.__init__
    def hooked(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.indexFinished.connect(lambda *_: print("index-finished", flush=True))
    module.Engine.__init__ = hooked

PATCHES = {{"core.sync.runs": runs, "core.models.fast_images": fast_images,
           "desktop.engine": engine}}

class Patcher:
    @staticmethod
    def find_spec(name, path, target=None):
        if name not in PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            PATCHES[name](module)
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Patcher)
sys.argv = [{main!r}, *sys.argv[1:]]
runpy.run_path({main!r}, run_name="__main__")
"""


def network_contacts(trace: str) -> list[str]:
    """The lines of an ``strace -f -yy`` log that reach beyond local IPC (see the module)."""
    found = []
    nscd: set[tuple[str, str]] = set()  # (thread, fd) connected to nscd
    for line in trace.splitlines():
        call = re.match(r"(\d+)\s+(\w+)\((\d+)(<(?:[^>]|(?<=-)>)*>)?(.*)", line)
        if call is None or call.group(2) not in SYSCALLS:
            continue  # a resumed call (its arguments were on the first line), a signal
        tid, name, fd, socket, rest = call.groups()
        unix = (socket or "").startswith("<UNIX") or "sa_family=AF_UNIX" in rest
        if name == "connect" and unix:
            (nscd.add if NSCD in rest else nscd.discard)((tid, fd))
        elif (tid, fd) in nscd:  # data sent to nscd: a host lookup, or a user lookup
            if _nscd_request(rest) in NSCD_HOST_REQUESTS:
                found.append(line)
            continue
        if name == "bind" and _local_api(socket, rest):
            continue
        if name != "writev" and (not unix or RESOLVED in rest):
            found.append(line)
    return found


def _local_api(socket: str | None, rest: str) -> bool:
    """A TCP socket bound to 127.0.0.1: the local API's listener (api/server.py)."""
    return (socket or "").startswith("<TCP") and 'sin_addr=inet_addr("127.0.0.1")' in rest


def _nscd_request(rest: str) -> int | None:
    """The request type in the first buffer of a send to nscd (version, type, key length)."""
    quoted = re.search(r'"((?:[^"\\]|\\.)*)"', rest)
    if quoted is None:
        return None
    data = codecs.escape_decode(quoted.group(1).encode("latin-1"))[0]
    return struct.unpack_from("=ii", data)[1] if len(data) >= 8 else None


def test_the_trace_check_tells_lookups_from_local_ipc() -> None:
    nscd = '{sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = 0'
    local = [
        '7 connect(3<UNIX-STREAM:[9]>, {sa_family=AF_UNIX, sun_path="/tmp/.X11-unix/X0"}, 110)',
        "7 sendmsg(3<UNIX-STREAM:[9->10]>, {msg_name=NULL, msg_iov=[]}, 0) = 0",
        '7 bind(4<UNIX-STREAM:[11]>, {sa_family=AF_UNIX, sun_path="/tmp/.AB/s"}, 110) = 0',
        f"7 connect(5<UNIX-STREAM:[12]>, {nscd}",
        r'7 sendto(5<UNIX-STREAM:[12->13]>, "\2\0\0\0\1\0\0\0\2\0\0\0000\0", 14, 0, NULL, 0)',
        '7 writev(1<pipe:[5]>, [{iov_base="hello", iov_len=5}], 1) = 5',
        '7 bind(8<TCP:[24]>, {sa_family=AF_INET, sin_port=htons(0), '
        'sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
        "+++ exited with 0 +++",
    ]
    assert network_contacts("\n".join(local)) == []
    lookups = [
        "8 connect(6<UDP:[20]>, {sa_family=AF_INET, sin_port=htons(53), sin_addr=...}, 16)",
        r'8 sendto(6<UDP:[1.2.3.4:5->127.0.0.53:53]>, "\265\255\1\0\0\1", 50, 0, NULL, 0)',
        "8 sendmmsg(6<UDPv6:[21]>, [{msg_hdr={}}], 2, MSG_NOSIGNAL) = 2",
        "8 bind(7<NETLINK:[22]>, {sa_family=AF_NETLINK, nl_pid=0}, 12) = 0",
        '8 bind(9<TCP:[25]>, {sa_family=AF_INET, sin_port=htons(0), '
        'sin_addr=inet_addr("0.0.0.0")}, 16) = 0',
        '8 bind(9<UDP:[26]>, {sa_family=AF_INET, sin_port=htons(0), '
        'sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
        '8 sendto(8<TCP:[127.0.0.1:4->127.0.0.1:5]>, "x", 1, 0, NULL, 0) = 1',
        '8 connect(8<UNIX-STREAM:[23]>, {sa_family=AF_UNIX, sun_path="/run/systemd/resolve/x"})',
    ]
    nscd_hosts = [  # getaddrinfo (GETAI), then the mapping of nscd's hosts cache (GETFDHST)
        f"9 connect(5<UNIX-STREAM:[12]>, {nscd}",
        r'9 sendto(5<UNIX-STREAM:[12->13]>, "\2\0\0\0\16\0\0\0\33\0\0\0mobile.", 39, 0, NULL, 0)',
        f"9 connect(5<UNIX-STREAM:[14]>, {nscd}",
        r'9 writev(5<UNIX-STREAM:[14->15]>, [{iov_base="\2\0\0\0\r\0\0\0\6\0\0\0", iov_len=12}])',
    ]
    assert network_contacts("\n".join(lookups + nscd_hosts)) == lookups + nscd_hosts[1::2]


class Traced:
    """``main.py ARGS`` run under strace, with its stdout read line by line."""

    def __init__(self, name: str, args: Sequence[str], *, workdir: Path,
                 env: dict[str, str]) -> None:
        self.name = name
        self.log = workdir / f"strace-{name}.txt"
        runner = workdir / "runner.py"
        runner.write_text(RUNNER.format(root=str(ROOT), main=str(ROOT / "main.py")))
        strace = shutil.which("strace")
        if strace is None:
            pytest.fail("strace is missing: make test installs it when run as root; "
                        "otherwise run: sudo apt-get install -y strace")
        # --seccomp-bpf stops the process at the traced calls only: the model runs at speed.
        command = [strace, "-f", "-qq", "--seccomp-bpf", "-yy", "-s", "64",
                   "-e", "trace=" + ",".join(SYSCALLS), "-o", str(self.log),
                   sys.executable, str(runner), *args]
        self.proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, *texts: str) -> None:
        """Until a line of its output holds every one of ``texts``."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"{self.name}: no {texts}; {self.stderr()}") from None
            if all(text in line for text in texts):
                return

    def interrupt(self) -> None:
        """Ctrl-C for the traced process (strace itself ignores it while tracing)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        os.kill(int(children.split()[0]), signal.SIGINT)

    def finish(self) -> list[str]:
        """Waits for the exit (which must be clean); the network contacts it made."""
        try:
            code = self.proc.wait(TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert code == 0, (self.name, self.stderr())
        return [f"{self.name}: {line[:300]}"
                for line in network_contacts(self.log.read_text(errors="replace"))]

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()[-3000:]


def _environment(tmp_path: Path) -> dict[str, str]:
    """A fresh HOME (where ONNX Runtime kept its telemetry), no offline switches, an empty
    Hugging Face cache and a cache folder of our own for the int8 tower."""
    home = tmp_path / "home"
    cache = tmp_path / "pictor-cache"
    cache.mkdir()
    # The toy models' caption corpora are shared (slow to build); the tower is not, so no
    # other test meets a tower kept in spite of its speed check.
    SHARED_CACHE.mkdir(parents=True, exist_ok=True)
    for entry in SHARED_CACHE.iterdir():
        if entry.name != "fast-images":
            (cache / entry.name).symlink_to(entry)
    env = {k: v for k, v in os.environ.items()
           if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "PYTEST_CURRENT_TEST"}
           and not k.startswith("XDG_")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"), PICTOR_DATA_DIR=str(tmp_path / "data"),
               PICTOR_CACHE_DIR=str(cache), HF_HOME=str(tmp_path / "hf-home"),
               QT_QPA_PLATFORM="offscreen", TOWER_LOG=str(tmp_path / "towers.txt"),
               PICTOR_READ_TEXT="1")  # the text pass's OCR runs on ONNX Runtime too
    return env


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="strace and /proc are Linux only")
def test_commands_the_watcher_and_the_window_make_no_network_contact(
        tmp_path: Path, tiny_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(6, seed=2), seed=2)
    later = toyworld.write_photos(tmp_path / "staging", toyworld.random_scenes(2, seed=4),
                                  seed=4)
    env = _environment(tmp_path)

    def run(name: str, *args: str) -> list[str]:
        return Traced(name, args, workdir=tmp_path, env=env).finish()

    def towers() -> int:
        """How many int8 tower sessions were opened so far."""
        log = tmp_path / "towers.txt"
        return len(log.read_text().splitlines()) if log.exists() else 0

    contacts = run("index", "index", str(photos), "--model", str(tiny_clip_dir))
    (meta,) = (tmp_path / "pictor-cache" / "fast-images").glob("*/meta.json")
    assert json.loads(meta.read_text())["accepted"], meta.read_text()
    opened = towers()
    assert opened >= 1

    watch = Traced("watch", ["watch", "--json"], workdir=tmp_path, env=env)
    watch.wait_for('"message"', "watching")
    shutil.copy(later[0], photos / "new.jpg")
    watch.wait_for('"indexed"', "new.jpg")
    loaded = time.monotonic()
    assert towers() > opened
    opened = towers()
    contacts += run("search", "search", "a red circle", "--json")  # while the watcher lingers
    contacts += run("status", "status", "--json")
    contacts += run("text", "text", str(photos / "new.jpg"), "--json")
    contacts += run("text-outside", "text", str(later[1]))  # read now, outside the library
    time.sleep(max(0.0, LINGER_S - (time.monotonic() - loaded)))
    watch.interrupt()
    contacts += watch.finish()

    shutil.copy(later[1], photos / "newer.jpg")  # for the window's start-up scan to embed
    window = Traced("window", [], workdir=tmp_path, env=env)
    window.wait_for("index-finished")
    assert towers() > opened
    time.sleep(LINGER_S)
    window.interrupt()
    contacts += window.finish()

    written = [str(p) for p in Path(env["HOME"]).rglob("*") if "Microsoft" in p.parts]
    assert not contacts + written, "\n".join(contacts + written)
