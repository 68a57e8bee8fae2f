"""The HOL Light theorem database, its load order, its cache and its splits.

HOL Light's ``!theorems`` is sorted by name, not by load order. As in HOList, a theorem may only
use premises proved before it, so the database is put in the exact order in which the core bound
the theorems, recorded inside HOL Light rather than guessed from the sources: every toplevel
binding creates a fresh OCaml identifier, identifiers are stamped by one increasing counter, and
``aitp_server.ml`` reads, right after ``hol.ml`` has loaded, the stamp of the identifier that each
name is bound to (``Env.fold_values`` over ``Toploop.toplevel_env``). This covers every form of
binding (``prove``, definitions, tuples, ``and``, derived rules) and, for a name bound more than
once, gives the last binding: the one whose theorem ``database.ml`` put in ``!theorems``. Names
without a stamp (none in the core) would go last, by name.

The database is extracted from the loaded prover once and cached as gzipped JSON keyed by the
Debian package version of HOL Light and ``DATABASE_FORMAT`` (bumped when the order or the entries
change, so older caches are not reused), so listing theorems needs no prover.

Splits are deterministic: a theorem goes to ``test`` when the first byte of SHA-1 of its name is
0 mod 10 (about 10 %), to ``valid`` when it is 1 mod 10 (about 10 %), and otherwise to ``train``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from aitp_gym.backend import Theorem
from aitp_gym.envs.holist.prover import HOL_DIR
from aitp_gym.trace import atomic_write_text

SHIPPED_DIR = Path(__file__).with_name("data")
# Part of the cache key: "order2" is the load order recorded inside HOL Light (binding stamps); caches
# without it used an order guessed from the sources.
DATABASE_FORMAT = "order2"


def hol_light_version() -> str:
    """The Debian package version (e.g. 20230128-1+b1), or a digest of hol.ml elsewhere."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "hol-light"], capture_output=True, text=True,
                             timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    hol_ml = HOL_DIR / "hol.ml"
    return "src-" + hashlib.sha1(hol_ml.read_bytes()).hexdigest()[:12] if hol_ml.exists() else "unknown"


def cache_dir() -> Path:
    base = os.environ.get("AITP_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "aitp-gym")
    return Path(base) / "holist"


def _safe(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", version)


def split_of(name: str) -> str:
    bucket = hashlib.sha1(name.encode()).digest()[0] % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


@dataclass
class TheoremDatabase:
    version: str
    entries: list[dict]  # in load order: name, text, sexp, index, split

    @cached_property
    def by_name(self) -> dict[str, dict]:
        return {e["name"]: e for e in self.entries}

    def index_of(self, name: str) -> int | None:
        entry = self.by_name.get(name)
        return None if entry is None else entry["index"]

    def theorems(self, split: str) -> list[Theorem]:
        return [Theorem(e["name"], e["text"], split, {"index": e["index"], "sexp": e["sexp"]})
                for e in self.entries if e["split"] == split]

    def to_json(self) -> str:
        return json.dumps({"version": self.version, "theorems": self.entries})

    @classmethod
    def from_raw(cls, version: str, raw: list[dict]) -> TheoremDatabase:
        """Order the prover's theorem list (THEOREMS reply) by load order and assign splits. Each item
        carries ``stamp``, the binding stamp of its name (see the module docstring)."""
        seen: set[str] = set()
        unique = []
        for t in raw:
            if t["name"] not in seen and t["hyps"] == 0:
                seen.add(t["name"])
                unique.append(t)
        if any(t.get("stamp") is None for t in unique):
            raise ValueError("the prover's theorem list has no binding stamps: an old aitp_server.ml?")
        last = 1 + max((t["stamp"] for t in unique), default=0)
        unique.sort(key=lambda t: (t["stamp"] if t["stamp"] >= 0 else last, t["name"]))
        entries = [{"name": t["name"], "text": t["text"], "sexp": t["sexp"], "index": i, "split": split_of(t["name"])}
                   for i, t in enumerate(unique)]
        return cls(version, entries)


def database_file_name(version: str) -> str:
    return f"theorems-{DATABASE_FORMAT}-{_safe(version)}.json.gz"


def load_database(fetch_raw=None, version: str | None = None) -> TheoremDatabase:
    """The cached database for this HOL Light; ``fetch_raw()`` (the prover's THEOREMS reply) builds it
    on first use."""
    version = version or hol_light_version()
    name = database_file_name(version)
    for path in (cache_dir() / name, SHIPPED_DIR / name):
        if path.exists():
            data = json.loads(gzip.decompress(path.read_bytes()))
            return TheoremDatabase(data["version"], data["theorems"])
    if fetch_raw is None:
        raise FileNotFoundError(name)
    db = TheoremDatabase.from_raw(version, fetch_raw())
    atomic_write_text(cache_dir() / name, db.to_json())
    return db
