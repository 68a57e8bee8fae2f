"""One warm HOL Light per machine (per user), shared by every Python process over a Unix socket.

The first process that needs HOL Light starts the server: the OCaml toplevel, loaded with
``hol.ml`` (about 90 s) and ``aitp_server.ml``, detached in its own session so that it outlives
the process that started it. The server listens on ``<dir>/server.sock`` and forks one worker per
accepted connection from its warm image; a worker serves exactly that connection and exits when
the client closes it. Every later process (or a pickled env in a fresh process) just connects.

* Location: ``$AITP_HOL_SERVER_DIR`` if set, else ``$XDG_RUNTIME_DIR/aitp-gym`` when that exists,
  else ``<tmp>/aitp-gym-<uid>``. The directory is created with mode 0700 and refused if another
  user owns it, so only its owner can reach the socket.
* Staleness: a client's first request is ``HELLO``, answered with the server's version tag
  (protocol, HOL Light's Debian version, a digest of ``aitp_server.ml``). No answer (dead process,
  leftover socket file) or another tag means stale: the server's process group is killed, the
  files removed, and a fresh server started.
* One starter: starting (and replacing) happens under ``fcntl.flock`` on ``<dir>/server.lock``;
  a process that finds the lock held waits for the other's cold load and then connects.
* Idle stop: the server exits by itself after ``idle_timeout`` seconds (``$AITP_HOL_SERVER_IDLE``,
  default 900) during which no worker was alive, i.e. no client was connected.
  ``python -m aitp_gym.envs.holist.server stop`` (``stop_server()``) kills it and its workers at
  once, but refuses (``ServerBusy``) while clients are connected unless ``--force``
  (``force=True``); ``status`` and ``start`` as well.
* Telling the user: a cold load (or waiting for another process's) is announced once, when it
  starts and when it is over, through the ``status`` callback if the caller passes one (the CLI
  does), else by ``announce``: the ``aitp_gym.envs.holist`` logger at INFO, or a plain
  ``aitp-gym: ...`` line on stderr if the program has configured no logging.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aitp_gym.envs.holist.prover import HOL_DIR, INSTALL_HINT, SERVER_ML, STARTUP_TIMEOUT, Worker, hol_light_available
from aitp_gym.errors import DependencyNotInstalled, ProverError, ProverUnavailable

PROTOCOL = "aitp-hol-2"
DEFAULT_IDLE_TIMEOUT = 900.0  # seconds without any connected client before the server exits
COLD_START_MESSAGE = "starting HOL Light (about 90 s, once per machine)…"
WAIT_MESSAGE = "waiting for HOL Light, which another process is starting…"
READY_MESSAGE = "HOL Light is ready (loaded in {seconds:.0f} s)"
WAITED_MESSAGE = "HOL Light is ready (waited {seconds:.0f} s for another process to load it)"
SERVER_GONE_MESSAGE = "the HOL Light server (pid {pid}) is gone (stopped or crashed); retrying on a new one"
HELLO_TIMEOUT = 20.0
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux

LOGGER_NAME = "aitp_gym.envs.holist"
logger = logging.getLogger(LOGGER_NAME)
if logger.level == logging.NOTSET:
    logger.setLevel(logging.INFO)  # a wait of minutes is worth hearing about; setLevel(WARNING) silences it


def announce(message: str) -> None:
    """The default ``status``: ``message`` at INFO on the ``aitp_gym.envs.holist`` logger, or, if the
    program has configured no logging handler at all (where logging would drop an INFO record), a
    plain ``aitp-gym: <message>`` line on stderr, which scripts, terminals and notebooks all show."""
    if logger.hasHandlers():
        logger.info(message)
    elif logger.isEnabledFor(logging.INFO):
        print(f"aitp-gym: {message}", file=sys.stderr, flush=True)


class ServerBusy(ProverError):
    """``stop_server()`` refused to stop a server that has clients (HOList-v0 envs in running processes)."""

    def __init__(self, pid: int, clients: int) -> None:
        self.pid = pid
        self.clients = clients
        envs = "1 client" if clients == 1 else f"{clients} clients"
        super().__init__(f"the HOL Light server (pid {pid}) has {envs} connected (HOList-v0 envs in running "
                         "processes); stopped, it would have to be loaded again (about 90 s) on their next step. "
                         "Close them first, or pass force=True (aitp hol-light stop --force) to stop it anyway.")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.pid, self.clients)


class ServerGone(ProverUnavailable):
    """The HOL Light server went away (stopped or crashed) during a request, and running the request
    again on a new server did not work either."""


# ---------------------------------------------------------------------- locations
def server_dir() -> Path:
    """The private directory holding the socket, lock, state file and log (created 0700)."""
    explicit = os.environ.get("AITP_HOL_SERVER_DIR")
    if explicit:
        path = Path(explicit)
    else:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK):
            path = Path(runtime) / "aitp-gym"
        else:
            path = Path(tempfile.gettempdir()) / f"aitp-gym-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise ProverError(f"{path} belongs to another user; set AITP_HOL_SERVER_DIR to a directory of yours")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def _paths(directory: Path) -> dict[str, Path]:
    return {name: directory / f"server.{ext}" for name, ext in
            (("sock", "sock"), ("lock", "lock"), ("state", "json"), ("log", "log"), ("script", "ml"))}


def idle_timeout_default() -> float:
    value = os.environ.get("AITP_HOL_SERVER_IDLE")
    if value:
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError(f"AITP_HOL_SERVER_IDLE must be a number of seconds, not {value!r}") from None
        if seconds > 0:
            return seconds
    return DEFAULT_IDLE_TIMEOUT


@functools.cache
def version_tag() -> str:
    """What a running server must report to be reused: protocol, HOL Light version, server source."""
    from aitp_gym.envs.holist.database import hol_light_version

    digest = hashlib.sha1(SERVER_ML.read_bytes()).hexdigest()[:12]
    tag = f"{PROTOCOL}+hol-light-{hol_light_version()}+{HOL_DIR}+ml-{digest}"
    return re.sub(r"[^A-Za-z0-9.+:/_-]", "_", tag)


def _ocaml_string(s: str) -> str:
    if any(c in s for c in '"\\\n\r\t') or not s.isprintable():
        raise ProverError(f"unexpected characters in {s!r}")
    return f'"{s}"'


# ---------------------------------------------------------------------- talking to a server
def _hello(sock_path: Path, timeout: float = HELLO_TIMEOUT) -> tuple[dict[str, Any], socket.socket] | None:
    """Connect and say HELLO; the connection (a fresh worker) and its reply, or None."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(str(sock_path))
        conn.sendall(b"HELLO\n")
        reader = conn.makefile("rb")
        line = reader.readline()
        reader.close()
        reply = json.loads(line) if line else None
    except (OSError, ValueError):
        conn.close()
        return None
    if not isinstance(reply, dict) or reply.get("status") != "hello":
        conn.close()
        return None
    return reply, conn


def _ask(paths: dict[str, Path], timeout: float = 5.0) -> dict[str, Any] | None:
    """The server's HELLO reply, or None if none answers. Hangs up and waits (briefly) until the
    worker forked to answer has exited, so that it is not counted as a client by the next question."""
    hello = _hello(paths["sock"], timeout=timeout) if paths["sock"].exists() else None
    if hello is None:
        return None
    reply, conn = hello
    conn.close()
    _wait_exited(int(reply["pid"]))
    return reply


def _wait_exited(pid: int, wait: float = 2.0) -> None:
    deadline = time.monotonic() + wait
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def clients_of(reply: dict[str, Any]) -> int:
    """Connected clients according to a HELLO reply: the server's workers but the one that answered."""
    return max(0, int(reply.get("workers", 1)) - 1)


def _try_worker(paths: dict[str, Path]) -> Worker | None:
    """A worker of a healthy, current server, or None. A wrong-version server is left alone here."""
    for attempt in range(2):  # one retry: the server may have been exiting just as we connected
        hello = _hello(paths["sock"])
        if hello is not None:
            reply, conn = hello
            if reply.get("version") == version_tag():
                return Worker(int(reply["pid"]), conn, server_pid=int(reply["server_pid"]))
            conn.close()
            return None
        if attempt == 0 and paths["sock"].exists():
            time.sleep(0.2)
        else:
            return None
    return None


def attach() -> Worker | None:
    """A fresh worker of the running, current server, or None if there is none. Never starts one."""
    return _try_worker(_paths(server_dir()))


def connect(status: Callable[[str], None] | None = None, idle_timeout: float | None = None) -> Worker:
    """A fresh worker (a process forked from the warm image) on its own connection. Starts the server
    if there is none, or replaces a stale one (``idle_timeout`` applies to a server started here).
    ``status`` (default ``announce``) hears when a cold load starts, or when this process starts
    waiting for another one's, and when HOL Light is ready, with the seconds it took."""
    status = announce if status is None else status
    paths = _paths(server_dir())
    worker = _try_worker(paths)
    if worker is not None:
        return worker
    with _start_lock(paths, status) as waiting_since:
        worker = _try_worker(paths)  # someone else may have started it while we waited
        if worker is None:
            _replace(paths, status, idle_timeout)
            worker = _try_worker(paths)
        elif waiting_since is not None:
            status(WAITED_MESSAGE.format(seconds=time.monotonic() - waiting_since))
    if worker is None:
        raise ProverError(f"the HOL Light server started but does not answer; see {paths['log']}")
    return worker


@contextlib.contextmanager
def _start_lock(paths: dict[str, Path], status: Callable[[str], None] | None) -> Iterator[float | None]:
    """Hold the start lock; yields when this process started waiting for it, or None if it was free."""
    fd = os.open(paths["lock"], os.O_RDWR | os.O_CREAT, 0o600)
    try:
        waiting_since = None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting_since = time.monotonic()
            if status is not None:
                status(WAIT_MESSAGE)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield waiting_since
    finally:
        os.close(fd)  # releases the lock


def _replace(paths: dict[str, Path], status: Callable[[str], None] | None, idle_timeout: float | None = None) -> None:
    """Under the start lock: remove whatever server is there, start a fresh one and wait until it answers."""
    if not hol_light_available():
        raise DependencyNotInstalled(INSTALL_HINT)
    _kill_server(paths)
    if len(str(paths["sock"])) > _MAX_SOCKET_PATH:
        raise ProverError(f"socket path {paths['sock']} is too long for a Unix socket; set AITP_HOL_SERVER_DIR to a "
                          "shorter directory")
    idle = idle_timeout_default() if idle_timeout is None else float(idle_timeout)
    if status is not None:
        status(COLD_START_MESSAGE)
    started = time.monotonic()
    proc = _launch(paths, version_tag(), idle)
    threading.Thread(target=proc.wait, name="aitp-hol-server-reaper", daemon=True).start()
    _write_state(paths, {"pid": proc.pid, "start_ticks": _start_ticks(proc.pid), "version": version_tag(),
                         "idle_timeout": idle, "started": time.time()})
    while True:
        if proc.poll() is not None:
            raise ProverError(f"HOL Light exited while loading (code {proc.returncode}):\n{_log_tail(paths)}")
        if paths["sock"].exists():
            hello = _hello(paths["sock"])
            if hello is not None:
                hello[1].close()
                break
        if time.monotonic() - started > STARTUP_TIMEOUT:
            _kill_group(proc.pid)
            raise ProverError(f"HOL Light did not finish loading in {STARTUP_TIMEOUT:.0f} s:\n{_log_tail(paths)}")
        time.sleep(0.25)
    global last_cold_start_seconds
    last_cold_start_seconds = time.monotonic() - started
    if status is not None:
        status(READY_MESSAGE.format(seconds=last_cold_start_seconds))


last_cold_start_seconds: float | None = None  # set in the process that paid a cold load (bench/holist.py reads it)


def _launch(paths: dict[str, Path], tag: str, idle: float) -> subprocess.Popen:
    """Start the toplevel, detached: its own session (so it outlives us and can be killed as a group),
    stdin a script file, output to the log, which is never parsed."""
    paths["script"].write_text(
        '#load "unix.cma";;\n'
        f"#use {_ocaml_string(str(SERVER_ML))};;\n"
        f"aitp_server {_ocaml_string(str(paths['sock']))} {_ocaml_string(tag)} {idle:.3f};;\n"
        "exit 3;;\n")
    with open(paths["script"], "rb") as stdin, open(paths["log"], "wb") as log:
        return subprocess.Popen([str(HOL_DIR / "ocaml"), "-init", str(HOL_DIR / "hol.ml")], cwd=str(HOL_DIR),
                                stdin=stdin, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _log_tail(paths: dict[str, Path], n: int = 2000) -> str:
    try:
        return paths["log"].read_bytes()[-n:].decode(errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------- processes and state
def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell it from a reused pid."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def _read_state(paths: dict[str, Path]) -> dict[str, Any]:
    try:
        return json.loads(paths["state"].read_text())
    except (OSError, ValueError):
        return {}


def _write_state(paths: dict[str, Path], state: dict[str, Any]) -> None:
    tmp = paths["state"].with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, paths["state"])


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from /proc (Linux; empty elsewhere)."""
    out = []
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return out
    for entry in entries:
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def _kill_group(pid: int, wait: float = 10.0) -> None:
    """SIGKILL the server's process group (the server is its session leader; workers are in it) and
    wait until none of them is left."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + wait
    while (pid_alive(pid) or group_members(pid)) and time.monotonic() < deadline:
        time.sleep(0.02)


def _server_pids(paths: dict[str, Path], reply: dict[str, Any] | None = None) -> set[int]:
    """Pids that are (or were) this directory's server: from its HELLO (``reply``, else asked now) and
    from the state file, the latter only if the process still has the recorded start time."""
    pids: set[int] = set()
    reply = _ask(paths) if reply is None else reply
    if reply is not None:
        pids.add(int(reply["server_pid"]))
    state = _read_state(paths)
    pid = state.get("pid")
    if isinstance(pid, int) and pid_alive(pid) and _start_ticks(pid) == state.get("start_ticks"):
        pids.add(pid)
    return pids


def _kill_server(paths: dict[str, Path], reply: dict[str, Any] | None = None) -> bool:
    pids = _server_pids(paths, reply)
    for pid in pids:
        _kill_group(pid)
    for name in ("sock", "state"):
        with contextlib.suppress(FileNotFoundError):
            paths[name].unlink()
    return bool(pids)


# ---------------------------------------------------------------------- the three commands
def start_server(status: Callable[[str], None] | None = None, idle_timeout: float | None = None) -> dict[str, Any]:
    """Make sure a current server is running (a cold load if there is none); return ``server_status()``.
    ``idle_timeout`` applies only to a server started by this call; ``status`` as in ``connect``."""
    worker = connect(status, idle_timeout)
    worker.close()
    _wait_exited(worker.pid)  # gone before the status question, so not counted as a client
    return server_status()


def server_status() -> dict[str, Any]:
    """Whether a server runs for this directory, with its pid, version, worker count, uptime and idle
    timeout. Never starts one. (Asking forks one short-lived worker, which counts as activity.)"""
    paths = _paths(server_dir())
    out: dict[str, Any] = {"running": False, "dir": str(paths["sock"].parent), "socket": str(paths["sock"]),
                           "log": str(paths["log"]), "expected_version": version_tag()}
    reply = _ask(paths)
    if reply is None:
        state = _read_state(paths)
        pid = state.get("pid")
        if isinstance(pid, int) and pid_alive(pid) and _start_ticks(pid) == state.get("start_ticks"):
            out.update(pid=pid, loading=True)  # started, still loading (or hung)
        return out
    out.update(running=True, pid=reply["server_pid"], version=reply["version"],
               current=reply["version"] == version_tag(), hol_version=reply.get("hol_version"),
               clients=clients_of(reply), uptime=reply.get("uptime"), idle_timeout=reply.get("idle_timeout"))
    return out


def stop_server(force: bool = False) -> bool:
    """Kill the server and all its workers at once; True if there was one (running or loading).

    While clients are connected (HOList-v0 envs in running processes) it refuses with ``ServerBusy``,
    which says how many, unless ``force``: after a forced stop each of those envs announces that the
    server is gone and runs its next request again on a new server, starting one (a cold load) if no
    other process has."""
    paths = _paths(server_dir())
    for attempt in range(2):
        reply = _ask(paths)
        if reply is None or force or clients_of(reply) == 0:
            break
        if attempt == 1:
            raise ServerBusy(int(reply["server_pid"]), clients_of(reply))
        time.sleep(0.3)  # a client that has just hung up may not have been reaped by the server yet
    return _kill_server(paths, reply)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aitp_gym.envs.holist.server",
                                     description="The machine-wide warm HOL Light server of HOList-v0.")
    parser.add_argument("command", choices=["start", "status", "stop"])
    parser.add_argument("--force", action="store_true", help="stop: even while clients are connected")
    parser.add_argument("--idle-timeout", type=float, default=None,
                        help="seconds without clients before a server started now exits "
                             f"(default $AITP_HOL_SERVER_IDLE or {DEFAULT_IDLE_TIMEOUT:.0f})")
    args = parser.parse_args(argv)
    if args.command == "start":
        print(json.dumps(start_server(status=lambda m: print(m, file=sys.stderr, flush=True),
                                      idle_timeout=args.idle_timeout), indent=2))
        return 0
    if args.command == "status":
        info = server_status()
        print(json.dumps(info, indent=2))
        return 0 if info["running"] else 1
    try:
        stopped = stop_server(force=args.force)
    except ServerBusy as e:
        print(e, file=sys.stderr)
        return 1
    print("stopped" if stopped else "no server was running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
