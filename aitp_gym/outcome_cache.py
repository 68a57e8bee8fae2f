"""Tactic outcomes kept in an SQLite file, shared by processes: ``OutcomeCache(path)``.

A tactic applied to the same goal (hypotheses included) by the same prover version under the same timeout gives
the same outcome, so a backend may keep the prover's reply and answer the next identical request from it. This
module knows nothing of any prover: an entry is four key parts (prover version, timeout in ms, goal and tactic as
the prover reads them), the prover's raw reply (any JSON value) and the seconds the prover took when the entry was
stored. Which replies may be stored, and how a reply becomes an ``Outcome``, is the backend's business.

Several processes (the loop's workers, rounds after rounds) read and write one file at once: the journal is WAL
(readers never wait for the writer), every write is its own short transaction, and a busy timeout makes a writer
wait for another instead of failing. WAL needs the processes on one machine: keep the file on a local disk, not on
NFS. The connection is opened on first use and opened again in a child after ``fork`` or in a copy made by
``pickle``: the object pickles without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
"""``PRAGMA user_version`` of the files this module writes; a file of another version is refused."""
BUSY_TIMEOUT = 60.0
"""Seconds a process waits for another one's write before giving up on its own."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    key BLOB PRIMARY KEY,          -- sha256 of the key parts, so the index stays small whatever the goals' size
    prover TEXT NOT NULL,
    timeout_ms INTEGER NOT NULL,
    goal TEXT NOT NULL,
    tactic TEXT NOT NULL,
    reply TEXT NOT NULL,           -- the prover's raw reply, as JSON
    elapsed REAL NOT NULL,         -- seconds the prover took when the entry was stored
    stored REAL NOT NULL           -- when it was stored (time.time())
)"""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedOutcome:
    """One entry: its key parts, the prover's reply (decoded) and the seconds the prover took for it."""

    prover: str
    timeout_ms: int
    goal: str
    tactic: str
    reply: Any
    elapsed: float


def _key(prover: str, timeout_ms: int, goal: str, tactic: str) -> bytes:
    return hashlib.sha256(json.dumps([prover, int(timeout_ms), goal, tactic]).encode("utf-8")).digest()


class OutcomeCache:
    """Tactic outcomes in the SQLite file ``path`` (created with its folder on first use).

    ``get`` looks an entry up and counts a hit or a miss; ``put`` stores one unless it is there already (the first
    reply stored wins). The counters ``hits``, ``misses`` and ``saved_seconds`` (the original ``elapsed`` of every
    hit: prover time not spent) belong to this process's object: ``stats()`` gives them, ``stats_delta()`` what
    was added since its previous call. A copy made by ``pickle`` and a child made by ``fork`` start with counters
    of their own at 0."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._owner = os.getpid()
        self._lock = threading.Lock()
        self._warned = False
        self.hits = 0
        self.misses = 0
        self.saved_seconds = 0.0
        self._reported = (0, 0, 0.0)

    # ------------------------------------------------------------------ pickling and fork
    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"OutcomeCache({str(self.path)!r})"

    def _after_fork(self) -> None:
        """In a child made by ``fork``: forget the parent's connection (SQLite forbids using it), lock and counters
        (they are per process). The connection is left unclosed: closing it here could disturb the parent's."""
        if self._owner != os.getpid():
            self.__init__(self.path)  # type: ignore[misc]

    def _connection(self) -> sqlite3.Connection:
        """The connection, opened on first use; called with ``_lock`` held, after ``_after_fork``."""
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, FORMAT_VERSION):
                    raise ValueError(f"{self.path}: an outcome cache of format {version}, not {FORMAT_VERSION}; "
                                     "delete it or choose another file")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: fast; a power cut may lose the last entries
                if version == 0:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(_SCHEMA)
                    conn.execute(f"PRAGMA user_version={FORMAT_VERSION}")
                    conn.execute("COMMIT")
                return conn
            except sqlite3.OperationalError as e:
                conn.close()
                # changing the journal mode or creating the table can find the file busy without waiting
                if "locked" in str(e) or "busy" in str(e):
                    if time.monotonic() < deadline:
                        time.sleep(0.05)
                        continue
                raise ValueError(f"{self.path}: cannot open it as an outcome cache: {e}") from e
            except sqlite3.DatabaseError as e:
                conn.close()
                raise ValueError(f"{self.path}: not an outcome cache (an SQLite file): {e}") from e
            except BaseException:
                conn.close()
                raise

    def _warn_once(self, what: str, error: Exception) -> None:
        if not self._warned:
            self._warned = True
            log.warning("outcome cache %s: %s failed (%s); carrying on without it for this request", self.path,
                        what, error)

    # ------------------------------------------------------------------ entries
    def get(self, prover: str, timeout_ms: int, goal: str, tactic: str) -> CachedOutcome | None:
        """The stored entry for these key parts, or None; counts a hit (adding its ``elapsed`` to
        ``saved_seconds``) or a miss. A file that cannot be read for a while (another process holding it longer
        than ``BUSY_TIMEOUT``, a full disk) is a miss, with a warning the first time."""
        self._after_fork()
        with self._lock:
            try:
                row = self._connection().execute("SELECT reply, elapsed FROM outcomes WHERE key = ?",
                                                 (_key(prover, timeout_ms, goal, tactic),)).fetchone()
            except sqlite3.OperationalError as e:
                self._warn_once("a lookup", e)
                row = None
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
            self.saved_seconds += row[1]
        return CachedOutcome(prover, int(timeout_ms), goal, tactic, json.loads(row[0]), row[1])

    def put(self, prover: str, timeout_ms: int, goal: str, tactic: str, reply: Any, elapsed: float) -> bool:
        """Store an entry unless one with these key parts is there already (``INSERT OR IGNORE``: concurrent
        writers of the same request keep the first); whether it was stored."""
        row = (_key(prover, timeout_ms, goal, tactic), prover, int(timeout_ms), goal, tactic,
               json.dumps(reply, separators=(",", ":")), float(elapsed), time.time())
        self._after_fork()
        with self._lock:
            try:
                cursor = self._connection().execute(
                    "INSERT OR IGNORE INTO outcomes (key, prover, timeout_ms, goal, tactic, reply, elapsed, stored) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            except sqlite3.OperationalError as e:
                self._warn_once("storing an entry", e)
                return False
        return cursor.rowcount == 1

    def sample(self, n: int, seed: int = 0) -> list[CachedOutcome]:
        """Up to ``n`` stored entries drawn without replacement (seeded), with their key parts: what a backend
        replays to check that the file still tells the truth."""
        self._after_fork()
        with self._lock:
            conn = self._connection()
            ids = [r[0] for r in conn.execute("SELECT rowid FROM outcomes ORDER BY rowid")]
            chosen = sorted(random.Random(seed).sample(ids, min(n, len(ids))))
            rows = [conn.execute("SELECT prover, timeout_ms, goal, tactic, reply, elapsed FROM outcomes "
                                 "WHERE rowid = ?", (i,)).fetchone() for i in chosen]
        return [CachedOutcome(p, t, g, tac, json.loads(reply), e) for p, t, g, tac, reply, e in rows if p is not None]

    def __len__(self) -> int:
        self._after_fork()
        with self._lock:
            return self._connection().execute("SELECT COUNT(*) FROM outcomes").fetchone()[0]

    # ------------------------------------------------------------------ counters
    def stats(self) -> dict[str, Any]:
        """This object's counters since it was made (in this process): ``hits``, ``misses``, ``saved_s``."""
        self._after_fork()
        return {"hits": self.hits, "misses": self.misses, "saved_s": self.saved_seconds}

    def stats_delta(self) -> dict[str, Any]:
        """The counters added since the previous call (since the object was made, the first time)."""
        self._after_fork()
        hits, misses, saved = self._reported
        self._reported = (self.hits, self.misses, self.saved_seconds)
        return {"hits": self.hits - hits, "misses": self.misses - misses, "saved_s": self.saved_seconds - saved}

    def close(self) -> None:
        """Close the connection (in the process that opened it); the next use opens it again."""
        self._after_fork()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
