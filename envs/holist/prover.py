"""HOL Light processes: one cold-loaded zygote per Python process, and workers forked from it.

The zygote is the OCaml toplevel started directly (``ocaml -init hol.ml``, not the ``hol-light``
wrapper and its line editor). After ``hol.ml`` it loads ``aitp_server.ml`` and connects back over
a Unix socket; the toplevel's own output goes to a log file and is never parsed. Each worker is
``Unix.fork`` of the warm zygote (tens of milliseconds, against about 90 s for a cold load) and
speaks the line protocol of ``aitp_server.ml`` over its own socket.

Timeouts have two layers: inside the prover an interval timer interrupts a tactic; here a
watchdog on the socket kills a worker that stops answering. A dead or killed worker raises
``ProverError``/``ProverTimeout``; the backend replaces it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aitp_gym.errors import DependencyNotInstalled, ProverError, ProverTimeout

HOL_DIR = Path(os.environ.get("AITP_HOL_LIGHT_DIR", "/usr/share/hol-light"))
SERVER_ML = Path(__file__).with_name("aitp_server.ml")
STARTUP_TIMEOUT = float(os.environ.get("AITP_HOL_STARTUP_TIMEOUT", "900"))
INSTALL_HINT = "HOList-v0 needs HOL Light: apt-get install -y hol-light libnum-ocaml-dev"


def hol_light_available() -> bool:
    return (HOL_DIR / "ocaml").exists() and (HOL_DIR / "hol.ml").exists()


class Worker:
    """One forked HOL Light process and its socket. Not thread-safe: one request at a time."""

    def __init__(self, pid: int, conn: socket.socket) -> None:
        self.pid = pid
        self._conn = conn
        self._reader = conn.makefile("rb")
        self.requests = 0  # how many requests reached this prover (tests check hostile input adds none)
        self.alive = True

    def request(self, line: str, timeout: float) -> dict[str, Any]:
        if not self.alive:
            raise ProverError("this HOL Light worker is dead")
        if "\n" in line:
            raise ValueError("a request is one line")
        self.requests += 1
        try:
            self._conn.settimeout(timeout)
            self._conn.sendall(line.encode("utf-8") + b"\n")
            reply = self._reader.readline()
        except TimeoutError as e:
            self.kill()
            raise ProverTimeout(f"HOL Light did not answer within {timeout:.1f} s; the worker was killed") from e
        except OSError as e:
            self.kill()
            raise ProverError(f"lost the connection to HOL Light: {e}") from e
        if not reply:
            self.kill()
            raise ProverError("HOL Light worker exited (crash or out of memory)")
        return json.loads(reply)

    def kill(self) -> None:
        self.alive = False
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for closeable in (self._reader, self._conn):
            try:
                closeable.close()
            except OSError:
                pass

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class Zygote:
    """The cold-loaded HOL Light toplevel that forks workers."""

    def __init__(self, startup_timeout: float = STARTUP_TIMEOUT) -> None:
        if not hol_light_available():
            raise DependencyNotInstalled(INSTALL_HINT)
        self._dir = Path(tempfile.mkdtemp(prefix="aitp-hol-"))
        self.log_path = self._dir / "toplevel.log"
        self._lock = threading.Lock()
        self._count = 0
        ctl_path = str(self._dir / "ctl.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(ctl_path)
        listener.listen(1)
        started = time.monotonic()
        self._log = open(self.log_path, "wb")
        self._proc = subprocess.Popen(
            [str(HOL_DIR / "ocaml"), "-init", str(HOL_DIR / "hol.ml")], cwd=str(HOL_DIR),
            stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        # If loading the server fails, the call fails and the toplevel goes on to `exit 3`; when it
        # works, aitp_zygote never returns.
        script = f'#load "unix.cma";;\n#use "{SERVER_ML}";;\naitp_zygote "{ctl_path}";;\nexit 3;;\n'
        self._proc.stdin.write(script.encode())
        self._proc.stdin.flush()
        listener.settimeout(1.0)
        try:
            while True:
                try:
                    self._ctl, _ = listener.accept()
                    break
                except TimeoutError:
                    if self._proc.poll() is not None:
                        tail = self._log_tail()
                        self.close()
                        raise ProverError(f"HOL Light exited while loading aitp_server.ml:\n{tail}") from None
                    if time.monotonic() - started > startup_timeout:
                        tail = self._log_tail()
                        self.close()
                        raise ProverError(f"HOL Light did not finish loading in {startup_timeout:.0f} s:\n{tail}") \
                            from None
        finally:
            listener.close()
        self._ctl.settimeout(60)
        self._ctl_reader = self._ctl.makefile("rb")
        ready = json.loads(self._ctl_reader.readline() or b"{}")
        if ready.get("status") != "ready":
            self.close()
            raise ProverError(f"HOL Light server failed to start; see {self.log_path}")
        self.version: str = ready["version"]
        self.cold_start_seconds = time.monotonic() - started

    def _log_tail(self, n: int = 2000) -> str:
        self._log.flush()
        return self.log_path.read_bytes()[-n:].decode(errors="replace")

    def fork(self, timeout: float = 30.0) -> Worker:
        """A fresh worker forked from the warm image."""
        with self._lock:
            if self._proc.poll() is not None:
                raise ProverError(f"the HOL Light zygote exited; see {self.log_path}")
            self._count += 1
            path = str(self._dir / f"w{self._count}.sock")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(1)
            listener.settimeout(timeout)
            try:
                self._ctl.sendall(f"FORK\t{path}\n".encode())
                reply = json.loads(self._ctl_reader.readline() or b"{}")
                conn, _ = listener.accept()
            except (TimeoutError, OSError) as e:
                raise ProverError(f"could not fork a HOL Light worker: {e}") from e
            finally:
                listener.close()
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            return Worker(int(reply["pid"]), conn)

    def close(self) -> None:
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._proc.wait()
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)


_shared: Zygote | None = None
_shared_lock = threading.Lock()


def shared_zygote() -> Zygote:
    """The one warm HOL Light of this Python process; the cold load (about 90 s) is paid once."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared._proc.poll() is not None:
            _shared = Zygote()
            atexit.register(_shared.close)
        return _shared
