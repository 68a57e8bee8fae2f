"""The HOL Light theorem database, its load order, its cache and its splits.

HOL Light's ``!theorems`` is sorted by name, not by load order. As in HOList, a theorem may only
use premises proved before it, so the order is recovered from the sources: the files in the order
``hol.ml`` loads them, and within a file the order of ``let``/``and`` bindings. Named theorems
that no binding names (a handful made by derived rules) go last, by name.

The database is extracted from the loaded prover once and cached as gzipped JSON keyed by the
Debian package version of HOL Light, so listing theorems needs no prover.

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
_LOADS = re.compile(r'^\s*loads?t?\s+"([^"]+)"\s*;;', re.M)
_BINDING = re.compile(r"\b(?:let|and)\s+((?:[A-Za-z_][\w']*\s*,\s*)*[A-Za-z_][\w']*)\s*=")


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


def source_order(hol_dir: Path = HOL_DIR) -> dict[str, int]:
    """Binding names in load order: name → position of its first binding."""
    order: dict[str, int] = {}
    hol_ml = hol_dir / "hol.ml"
    for filename in _LOADS.findall(hol_ml.read_text(errors="replace")):
        path = hol_dir / filename
        if not path.exists():
            continue
        for group in _BINDING.findall(path.read_text(errors="replace")):
            for name in (n.strip() for n in group.split(",")):
                order.setdefault(name, len(order))
    return order


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
    def from_raw(cls, version: str, raw: list[dict], order: dict[str, int]) -> TheoremDatabase:
        """Order the prover's theorem list by load order and assign splits."""
        seen: set[str] = set()
        unique = []
        for t in raw:
            if t["name"] not in seen and t["hyps"] == 0:
                seen.add(t["name"])
                unique.append(t)
        unique.sort(key=lambda t: (order.get(t["name"], len(order)), t["name"]))
        entries = [{"name": t["name"], "text": t["text"], "sexp": t["sexp"], "index": i, "split": split_of(t["name"])}
                   for i, t in enumerate(unique)]
        return cls(version, entries)


def load_database(fetch_raw=None, version: str | None = None) -> TheoremDatabase:
    """The cached database for this HOL Light; ``fetch_raw()`` (the prover's THEOREMS reply) builds it
    on first use."""
    version = version or hol_light_version()
    name = f"theorems-{_safe(version)}.json.gz"
    for path in (cache_dir() / name, SHIPPED_DIR / name):
        if path.exists():
            data = json.loads(gzip.decompress(path.read_bytes()))
            return TheoremDatabase(data["version"], data["theorems"])
    if fetch_raw is None:
        raise FileNotFoundError(name)
    db = TheoremDatabase.from_raw(version, fetch_raw(), source_order())
    atomic_write_text(cache_dir() / name, db.to_json())
    return db
