"""The versioned trace format: one JSON record per proof attempt.

A record has four parts:

* ``header``: env id, theorem id and statement, planner and its settings, model versions, budget, seed;
* ``nodes``: every goal of the tree (id, key, text, status, depth, and optional planner statistics);
* ``edges``: every tactic application in application order, with outcome, message, time stamps;
* ``result``: proved or not, the replay-checked proof, and search statistics.

In memory (``TraceRecord``) nodes and edges are lists of plain dicts, whatever the file's version. On disk,
schema version 2 stores them column by column (``_encode_table``): node and edge ids that equal their row are
implied, child ids are delta-coded, time stamps are kept to the microsecond, and a node's text is left out
when the environment can rebuild it exactly from the node's key and the header (a *text rebuilder*, see
``register_text_rebuilder``; SR-v0 rebuilds ``f(x) = ...``, ``y: ...``, ``ŷ: ...`` from the expression and the
header's exact ``theorem_data`` x and y). A text is left out only if the rebuilder gives it back character for
character when the record is written; other backends (HOList-v0) keep every text. Reading rebuilds the texts,
so ``TraceRecord.node_texts()`` and ``nodes[i]["text"]`` are the goal texts as the environment showed them.
Version 1 files (one dict per node and edge, every text in full) are still read.

A file name ending in ``.gz`` (``x.json.gz``, ``x.jsonl.gz``) is gzip-compressed, transparently.

Files are written atomically (write to a temporary file in the same folder, fsync, rename), so a
crash mid-write leaves either the old file or none, never a truncated one; new files get the permissions
the process umask gives (``0644`` under umask ``022``). ``iter_traces`` streams records from a ``.json`` file,
a ``.jsonl`` file, or a folder of them (recursively, so a whole ``aitp prove`` run folder works), without
loading all at once.
"""

from __future__ import annotations

import gzip
import importlib
import itertools
import json
import math
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitp_gym.errors import TraceFormatError
from aitp_gym.tree import ProofTree

SCHEMA = "aitp-trace"
SCHEMA_VERSION = 2
"""The version ``write_trace`` writes."""
READABLE_VERSIONS = (1, 2)
"""The versions ``TraceRecord.from_dict`` reads."""

TextRebuilder = Callable[[Sequence[str]], list[str | None]]
"""Node keys → the nodes' full goal texts (``None`` for a key it cannot read), for one record's nodes."""

_REBUILDERS: dict[str, Callable[[Mapping[str, Any]], TextRebuilder | None]] = {}
_REBUILDER_MODULES = {"SR-v0": "aitp_gym.envs.sr.backend"}
"""Env ids whose module registers a text rebuilder when imported; imported on first use, never by this module."""


def register_text_rebuilder(env_id: str, factory: Callable[[Mapping[str, Any]], TextRebuilder | None]) -> None:
    """Let records of ``env_id`` leave node texts out of their files.

    ``factory(header)`` returns a function from a list of node keys to their full texts for that record (or
    ``None`` when the header lacks what it needs; then every text is stored). It must be deterministic: a text
    is left out only where the function gives it back exactly when the record is written, and reading calls it
    again. The factory is looked up by the header's ``env_id``."""
    _REBUILDERS[env_id] = factory


def text_rebuilder(header: Mapping[str, Any]) -> TextRebuilder | None:
    """The text rebuilder for a record with this header, or ``None`` (its env id has none)."""
    env_id = header.get("env_id") if isinstance(header, Mapping) else None
    if not isinstance(env_id, str):
        return None
    if env_id not in _REBUILDERS and env_id in _REBUILDER_MODULES:
        importlib.import_module(_REBUILDER_MODULES[env_id])  # registers itself
    factory = _REBUILDERS.get(env_id)
    return factory(header) if factory is not None else None


@dataclass
class TraceRecord:
    """One proof attempt. ``nodes`` and ``edges`` are lists of dicts with every field (``text`` included)
    whichever schema version the record was read from; ``version`` is that version (new records: the
    current one). ``to_dict`` gives the current on-disk form."""

    header: dict[str, Any]
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    result: dict[str, Any]
    version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record as schema version 2 stores it (columns; texts the env can rebuild left out)."""
        rebuild = None
        if self.nodes and all(isinstance(n.get("key"), str) and isinstance(n.get("text"), str) for n in self.nodes):
            rebuild = text_rebuilder(self.header)
        nodes = self.nodes
        if rebuild is not None:
            try:
                rebuilt = list(rebuild([n["key"] for n in self.nodes]))
            except Exception:  # a faulty rebuilder must not lose a trace: store every text
                rebuild, rebuilt = None, []
            if len(rebuilt) == len(nodes):
                nodes = [_without_text(n) if text == n["text"] else n for n, text in zip(nodes, rebuilt, strict=True)]
            else:
                rebuild = None
        node_table = _encode_table(nodes)
        if rebuild is not None:
            node_table["text_rebuilder"] = self.header["env_id"]
        return {"schema": SCHEMA, "version": SCHEMA_VERSION, "header": self.header, "nodes": node_table,
                "edges": _encode_table(self.edges), "result": self.result, **self.extra}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceRecord:
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            raise TraceFormatError("not an aitp-gym trace record (missing schema 'aitp-trace')")
        version = d.get("version")
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            raise TraceFormatError(
                f"trace schema version {version!r} is not supported: this aitp-gym reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))} (a newer aitp-gym wrote it? upgrade to read it)")
        known = {"schema", "version", "header", "nodes", "edges", "result"}
        try:
            header, nodes, edges, result = d["header"], d["nodes"], d["edges"], d["result"]
        except KeyError as e:
            raise TraceFormatError(f"trace record lacks the field {e.args[0]!r}") from e
        if version == 2:
            nodes, edges = _decode_nodes(nodes, header), _decode_table(edges, "edges")
        return cls(header, nodes, edges, result, version, {k: v for k, v in d.items() if k not in known})

    def node_texts(self) -> dict[int, str]:
        """Node id → the goal's full text, as the policy saw it (rebuilt when the record was read, for
        texts a version-2 file left out). Readers (buffers, visualiser) use this rather than
        ``nodes[i]["text"]``."""
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


def _without_text(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != "text"}


# ---------------------------------------------------------------------------------------------- columns
# A table is {"rows": N, "columns": {name: column}}. A column is a list of N values (plain), or a dict:
#   {"codec": "row"}                              the value is the row number (ids);
#   {"codec": "us", "values": [...]}              seconds, stored as integer microseconds;
#   {"codec": "us-delta", "values": [...]}        seconds, as microseconds minus the previous row's;
#   {"codec": "id-delta", "values": [[...]]}      lists of ints, each minus the previous int in the column;
#   {"codec": "plain", "values": [...]}           the values as they are;
# plus "rows": [...] when only those rows have the field (the other rows lack it).
_TIME_FIELDS = {"elapsed": "us", "t": "us-delta"}


def _is_number(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _encode_column(name: str, values: list[Any]) -> dict[str, Any]:
    codec = _TIME_FIELDS.get(name)
    if codec is not None and all(_is_number(v) for v in values):
        micros = [round(v * 1e6) for v in values]
        if codec == "us-delta":
            micros = [b - a for a, b in zip([0, *micros], micros, strict=False)]
        return {"codec": codec, "values": micros}
    if name == "children" and all(isinstance(c, list) and all(type(i) is int for i in c) for c in values):
        out, prev = [], 0
        for c in values:
            row = []
            for i in c:
                row.append(i - prev)
                prev = i
            out.append(row)
        return {"codec": "id-delta", "values": out}
    return {"codec": "plain", "values": values}


def _decode_column(column: dict[str, Any]) -> list[Any]:
    codec, values = column.get("codec"), column.get("values")
    if not isinstance(values, list):
        raise TraceFormatError(f"column with codec {codec!r} has no list of values")
    if codec == "plain":
        return values
    if codec == "us":
        return [v / 1e6 for v in values]
    if codec == "us-delta":
        return [v / 1e6 for v in itertools.accumulate(values)]
    if codec == "id-delta":
        out, prev = [], 0
        for row in values:
            ids = []
            for d in row:
                prev += d
                ids.append(prev)
            out.append(ids)
        return out
    raise TraceFormatError(f"unknown column codec {codec!r}")


def _encode_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    columns: dict[str, Any] = {}
    for name in dict.fromkeys(k for r in rows for k in r):
        if name == "id" and all(r.get("id") == i and type(r.get("id")) is int for i, r in enumerate(rows)):
            columns[name] = {"codec": "row"}
            continue
        present = [i for i, r in enumerate(rows) if name in r]
        column = _encode_column(name, [rows[i][name] for i in present])
        if len(present) < n:
            column["rows"] = present
        elif column["codec"] == "plain":
            column = column["values"]
        columns[name] = column
    return {"rows": n, "columns": columns}


def _decode_table(table: Any, what: str) -> list[dict[str, Any]]:
    try:
        n, columns = table["rows"], table["columns"]
        dense: dict[str, Any] = {}
        sparse: list[tuple[str, list[int], list[Any]]] = []
        for name, column in columns.items():
            if isinstance(column, list):
                values = column
            elif column.get("codec") == "row":
                values = range(n)
            else:
                values = _decode_column(column)
                if "rows" in column:
                    if len(column["rows"]) != len(values):
                        raise TraceFormatError(f"{what} column {name!r} has {len(values)} values for "
                                               f"{len(column['rows'])} rows")
                    sparse.append((name, column["rows"], values))
                    continue
            if len(values) != n:
                raise TraceFormatError(f"{what} column {name!r} has {len(values)} values for {n} rows")
            dense[name] = values
        names = tuple(dense)
        rows = [dict(zip(names, row, strict=True)) for row in zip(*dense.values(), strict=True)] if names else \
            [{} for _ in range(n)]
        for name, present, values in sparse:
            for i, v in zip(present, values, strict=True):
                rows[i][name] = v
        return rows
    except TraceFormatError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
        raise TraceFormatError(f"malformed {what} table in a version-2 trace ({type(e).__name__}: {e})") from e


def _decode_nodes(table: Any, header: Mapping[str, Any]) -> list[dict[str, Any]]:
    nodes = _decode_table(table, "nodes")
    env_id = table.get("text_rebuilder")
    if env_id is None:
        return nodes
    rebuild = text_rebuilder(header) if header.get("env_id") == env_id else None
    if rebuild is None:
        raise TraceFormatError(f"the node texts of this trace are to be rebuilt by {env_id!r}, but no text "
                               "rebuilder is registered for it or the header lacks its data")
    missing = [n for n in nodes if "text" not in n]
    if not all(isinstance(n.get("key"), str) for n in missing):
        raise TraceFormatError("a node whose text is to be rebuilt has no key")
    for n, text in zip(missing, rebuild([n["key"] for n in missing]), strict=True):
        if text is None:
            raise TraceFormatError(f"cannot rebuild the text of node {n.get('id')} from its key {n['key']!r}")
        n["text"] = text
    return nodes


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
        data = gzip.compress(data, compresslevel=6, mtime=0)
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
