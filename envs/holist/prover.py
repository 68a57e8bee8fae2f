"""HOL Light worker processes and their sockets.

The warm HOL Light image is a machine-wide server (``server.py``): the OCaml toplevel started
directly (``ocaml -init hol.ml``, not the ``hol-light`` wrapper and its line editor), with
``aitp_server.ml`` loaded after ``hol.ml``. Each connection to its socket is served by a worker,
``Unix.fork`` of the warm image (milliseconds, against about 90 s for a cold load), speaking the
line protocol of ``aitp_server.ml``.

Timeouts have two layers: inside the prover an interval timer interrupts a tactic; here a
watchdog on the socket kills a worker that stops answering. A worker that stops answering raises
``ProverTimeout``, one whose connection ends (it crashed, or its whole server went away) raises
``WorkerLost``; the backend tells the two cases of the latter apart and replaces the worker.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

from aitp_gym.errors import ProverError, ProverTimeout

HOL_DIR = Path(os.environ.get("AITP_HOL_LIGHT_DIR", "/usr/share/hol-light"))
SERVER_ML = Path(__file__).with_name("aitp_server.ml")
STARTUP_TIMEOUT = float(os.environ.get("AITP_HOL_STARTUP_TIMEOUT", "900"))
INSTALL_HINT = "HOList-v0 needs HOL Light: apt-get install -y hol-light libnum-ocaml-dev"


def hol_light_available() -> bool:
    return (HOL_DIR / "ocaml").exists() and (HOL_DIR / "hol.ml").exists()


class WorkerLost(ProverError):
    """A worker's connection ended in the middle of a request: the worker exited (a crash, out of
    memory, killed), or the server it was forked from went away with all its workers."""


class Worker:
    """One forked HOL Light process and its socket. Not thread-safe: one request at a time."""

    def __init__(self, pid: int, conn: socket.socket, server_pid: int | None = None) -> None:
        self.pid = pid
        self.server_pid = server_pid
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
            raise WorkerLost(f"lost the connection to HOL Light: {e}") from e
        if not reply:
            self.kill()
            raise WorkerLost("HOL Light worker exited (crash or out of memory)")
        answer = json.loads(reply)
        # "restart": interrupted inside HOL Light's printer, whose shared state may be dirty
        if isinstance(answer, dict) and answer.get("restart"):
            self.kill()
        return answer

    def close(self) -> None:
        """Hang up; the worker exits when it reads the end of its connection."""
        self.alive = False
        for closeable in (self._reader, self._conn):
            try:
                closeable.close()
            except OSError:
                pass

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
