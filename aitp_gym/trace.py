"""The versioned trace format: one JSON record per proof attempt.

A record has four parts:

* ``header``: env id, theorem id and statement, planner and its settings, model versions, budget, seed;
* ``nodes``: every goal of the tree (id, key, text, status, depth, and optional planner statistics);
* ``edges``: every tactic application in application order, with outcome, message, time stamps;
* ``result``: proved or not, the replay-checked proof, and search statistics.

A file name ending in ``.gz`` (``x.json.gz``, ``x.jsonl.gz``) is gzip-compressed, transparently.

Files are written atomically (write to a temporary file in the same folder, fsync, rename), so a
crash mid-write leaves either the old file or none, never a truncated one; new files get the permissions
the process umask gives (``0644`` under umask ``022``). ``iter_traces`` streams records from a ``.json`` file,
a ``.jsonl`` file, or a folder of them (recursively, so a whole ``aitp prove`` run folder works), without
loading all at once.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitp_gym.errors import TraceFormatError
from aitp_gym.tree import ProofTree

SCHEMA = "aitp-trace"
SCHEMA_VERSION = 1


@dataclass
class TraceRecord:
    header: dict[str, Any]
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    result: dict[str, Any]
    version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "version": self.version, "header": self.header, "nodes": self.nodes,
                "edges": self.edges, "result": self.result, **self.extra}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceRecord:
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            raise TraceFormatError("not an aitp-gym trace record (missing schema 'aitp-trace')")
        version = d.get("version")
        if version != SCHEMA_VERSION:
            raise TraceFormatError(f"trace schema version {version} is not supported (this aitp-gym reads "
                                   f"version {SCHEMA_VERSION})")
        known = {"schema", "version", "header", "nodes", "edges", "result"}
        try:
            return cls(d["header"], d["nodes"], d["edges"], d["result"], version,
                       {k: v for k, v in d.items() if k not in known})
        except KeyError as e:
            raise TraceFormatError(f"trace record lacks the field {e.args[0]!r}") from e

    def node_texts(self) -> dict[int, str]:
        """Node id → the goal's full text, as the policy saw it. Readers (buffers, visualiser) use this rather
        than ``nodes[i]["text"]``, so that the stored form may be compacted."""
        return {n["id"]: n["text"] for n in self.nodes}

    @classmethod
    def from_tree(cls, tree: ProofTree, header: dict[str, Any], result: dict[str, Any],
                  node_stats: dict[int, dict[str, Any]] | None = None) -> TraceRecord:
        """Serialise a proof tree. ``node_stats`` holds planner statistics (visit counts, Q values)."""
        node_stats = node_stats or {}
        nodes = []
        for n in tree.nodes:
            rec = {"id": n.id, "key": n.goal.key, "text": n.goal.text, "status": n.status.value,
                   "depth": n.depth, "exhausted": n.exhausted}
            if n.id in node_stats:
                rec["stats"] = node_stats[n.id]
            nodes.append(rec)
        edges = [{"id": e.id, "parent": e.parent.id, "tactic": e.tactic, "logprob": e.logprob,
                  "outcome": e.outcome.value, "message": e.message, "elapsed": e.elapsed, "t": e.time,
                  "children": [c.id for c in e.children], "cycle": e.cycle} for e in tree.edges]
        return cls(header, nodes, edges, result)


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays, without importing numpy here
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _create_temporary(folder: Path, name: str) -> tuple[int, Path]:
    """Create a new, empty temporary file beside ``name`` and return its descriptor and path.

    Like ``tempfile.mkstemp`` (a random name, ``O_EXCL`` so an existing file or symlink is never
    opened), but with mode ``0o666`` rather than ``0o600``: the kernel applies the process umask
    (and a folder's default ACL) as it does for any other new file, so a trace ends up ``0644``
    under the common umask ``022``. Nothing reads or changes the umask here, so this is safe with
    threads (``os.umask`` can only be read by setting it, which races with other threads)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, never a mix.

    The data goes to a temporary file in the same folder, is flushed to disk (fsync), and the
    temporary file is renamed over ``path``. The new file's permissions follow the process umask,
    as for ``open(path, "w")``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomic text write; gzip-compressed when the name ends in ``.gz``."""
    data = text.encode("utf-8")
    if str(path).endswith(".gz"):
        data = gzip.compress(data, compresslevel=3, mtime=0)
    atomic_write_bytes(path, data)


def write_trace(path: str | os.PathLike[str], record: TraceRecord) -> None:
    """Write one record as a ``.json`` (or ``.json.gz``) file, atomically."""
    atomic_write_text(path, json.dumps(record.to_dict(), default=_json_default, ensure_ascii=False))


def write_traces(path: str | os.PathLike[str], records: Iterable[TraceRecord]) -> None:
    """Write many records as one ``.jsonl`` (or ``.jsonl.gz``) shard, atomically."""
    lines = (json.dumps(r.to_dict(), default=_json_default, ensure_ascii=False) for r in records)
    atomic_write_text(path, "".join(line + "\n" for line in lines))


_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
NOT_TRACES = frozenset({"summary.json"})
"""File names that ``iter_traces`` skips in a folder: ``aitp prove`` writes its run summary beside ``traces/``."""


def iter_traces(path: str | os.PathLike[str]) -> Iterator[TraceRecord]:
    """Stream records from a trace file, or from every trace file under a folder.

    A file is read as ``.json`` (one record) or ``.jsonl`` (one record a line), gzip-compressed if its
    name ends in ``.gz``; a file named explicitly is always read.

    A folder, such as the run folder ``aitp prove --out runs/demo`` prints, is walked recursively
    (``runs/demo/traces/`` included), in name order with each subfolder's records where its name sorts.
    It yields every file whose name ends in ``.json``, ``.jsonl``, ``.json.gz`` or ``.jsonl.gz``, except:

    * hidden names (starting with ``.``): temporary files of interrupted writes, hidden folders;
    * the names in ``NOT_TRACES`` (``summary.json``, the run summary ``aitp prove`` writes).

    Other files (``notes.txt``) are ignored. Any other JSON file found is expected to be a trace: one
    that is not raises ``TraceFormatError`` naming it, rather than being skipped silently."""
    path = Path(path)
    if path.is_dir():
        for p in sorted(path.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_dir():
                yield from iter_traces(p)
            elif p.name.endswith(_SUFFIXES) and p.name not in NOT_TRACES:
                yield from iter_traces(p)
        return
    name = path.name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        if name.endswith((".jsonl", ".jsonl.gz")):
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    yield _parse(line, f"{path}:{lineno}")
        else:
            yield _parse(f.read(), str(path))


def _parse(text: str, where: str) -> TraceRecord:
    try:
        return TraceRecord.from_dict(json.loads(text))
    except json.JSONDecodeError as e:
        raise TraceFormatError(f"{where}: not valid JSON ({e})") from e
    except TraceFormatError as e:
        raise TraceFormatError(f"{where}: {e}") from e
