"""The versioned trace format: one JSON record per proof attempt.

A record has four parts:

* ``header``: env id, theorem id and statement, planner and its settings, model versions, budget, seed;
* ``nodes``: every goal of the tree (id, key, text, status, depth, and optional planner statistics);
* ``edges``: every tactic application in application order, with outcome, message, time stamps;
* ``result``: proved or not, the replay-checked proof, and search statistics.

In memory (``TraceRecord``) nodes and edges are lists of plain dicts, whatever the file's version. On disk,
schema version 3 stores them column by column (``_encode_table``): node and edge ids that equal their row are
implied, child ids are delta-coded, and two things an environment can recompute are left out:

* a node's **text**, when the environment rebuilds it exactly from the node's key and the header (a *text
  rebuilder*, see ``register_text_rebuilder``; SR-v0 rebuilds ``f(x) = ...``, ``y: ...``, ``ŷ: ...`` from the
  expression and the header's exact ``theorem_data`` x and y);
* a node's **key**, when replaying the edge that first produced the node gives it back (a *key replayer*, see
  ``register_key_replayer``; SR-v0 applies the edge's tactic to the parent's expression). The first edge (in
  application order) that lists a node among its children is the node's *source*; its key is left out only if
  its source edge's parent key is known by then (stored, or replayed by an earlier edge) and the replayer
  gives the node's key at the node's place among the children. Roots keep their keys.

Either is left out only if the function gives it back character for character when the record is written;
other backends (HOList-v0) register neither and keep every key and text. Reading replays the keys (each distinct
parent key and tactic once), then rebuilds the texts, so ``TraceRecord.node_texts()``, ``nodes[i]["key"]`` and
``nodes[i]["text"]`` are as the environment showed them.

Times are kept as precisely as the time split needs, not to the microsecond: an edge's time stamp ``t``
(seconds since the search started) to the millisecond, delta-coded (codec ``ms-delta``), and its ``elapsed``
(seconds the tactic took) to two significant figures, stored as that many microseconds (codec ``us-2sf``:
``230`` for 0.000234 s, ``4.5`` for 0.0000045 s), which is at most 5% off per edge and far less over a sum.
Versions 2 (the same columns, times to the microsecond, every key) and 1 (one dict per node and edge, every
text in full) are still read.

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
from aitp_gym.registration import env_traits
from aitp_gym.tree import ProofTree

SCHEMA = "aitp-trace"
SCHEMA_VERSION = 3
"""The version ``write_trace`` writes."""
READABLE_VERSIONS = (1, 2, 3)
"""The versions ``TraceRecord.from_dict`` reads."""

TextRebuilder = Callable[[Sequence[str]], list[str | None]]
"""Node keys → the nodes' full goal texts (``None`` for a key it cannot read), for one record's nodes."""

KeyReplayer = Callable[[str, str], Sequence[str] | None]
"""(parent key, tactic) → the keys of the subgoals the tactic gives, in order (``None``: it cannot tell)."""

_REBUILDERS: dict[str, Callable[[Mapping[str, Any]], TextRebuilder | None]] = {}
_REPLAYERS: dict[str, Callable[[Mapping[str, Any]], KeyReplayer | None]] = {}


def register_text_rebuilder(env_id: str, factory: Callable[[Mapping[str, Any]], TextRebuilder | None]) -> None:
    """Let records of ``env_id`` leave node texts out of their files.

    ``factory(header)`` returns a function from a list of node keys to their full texts for that record (or
    ``None`` when the header lacks what it needs; then every text is stored). It must be deterministic: a text
    is left out only where the function gives it back exactly when the record is written, and reading calls it
    again. The factory is looked up by the header's ``env_id``."""
    _REBUILDERS[env_id] = factory


def register_key_replayer(env_id: str, factory: Callable[[Mapping[str, Any]], KeyReplayer | None]) -> None:
    """Let records of ``env_id`` leave out the keys of nodes that replaying their source edge gives back.

    ``factory(header)`` returns a function ``(parent key, tactic) → subgoal keys`` (or ``None`` for no
    replay in that record). It must be deterministic and depend only on its arguments and the header: a key is
    left out only where it gives the key back exactly when the record is written, and reading calls it again
    (once per distinct parent key and tactic of a record)."""
    _REPLAYERS[env_id] = factory


def _env_factory(registry: dict[str, Callable[[Mapping[str, Any]], Any]], header: Mapping[str, Any]) -> Any:
    env_id = header.get("env_id") if isinstance(header, Mapping) else None
    if not isinstance(env_id, str):
        return None
    codec = env_traits(env_id).trace_codec  # a module that registers the env's rebuilder and replayer
    if env_id not in registry and codec is not None:
        importlib.import_module(codec)
    factory = registry.get(env_id)
    return factory(header) if factory is not None else None


def text_rebuilder(header: Mapping[str, Any]) -> TextRebuilder | None:
    """The text rebuilder for a record with this header, or ``None`` (its env id has none)."""
    return _env_factory(_REBUILDERS, header)


def key_replayer(header: Mapping[str, Any]) -> KeyReplayer | None:
    """The key replayer for a record with this header, or ``None`` (its env id has none)."""
    return _env_factory(_REPLAYERS, header)


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
        """The record as schema version 3 stores it (columns; texts and keys the env can rebuild left out)."""
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
                nodes = [_without(n, "text") if text == n["text"] else n
                         for n, text in zip(nodes, rebuilt, strict=True)]
            else:
                rebuild = None
        replayed = _replayable_keys(self.header, self.nodes, self.edges)
        if replayed:
            nodes = [_without(n, "key") if i in replayed else n for i, n in enumerate(nodes)]
        node_table = _encode_table(nodes)
        if rebuild is not None:
            node_table["text_rebuilder"] = self.header["env_id"]
        if replayed:
            node_table["key_replayer"] = self.header["env_id"]
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
        if version >= 2:
            node_table = nodes
            nodes, edges = _decode_table(node_table, "nodes"), _decode_table(edges, "edges")
            if version >= 3:
                _replay_keys(node_table.get("key_replayer"), header, nodes, edges)
            _rebuild_texts(node_table.get("text_rebuilder"), header, nodes)
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


def _without(node: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != name}


# ---------------------------------------------------------------------------------------------- key replay
def _source_edges(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> list[tuple[int, int, str, int]] | None:
    """(node, parent, tactic, place among the children) for each node's source edge (the first edge that lists
    it as a child), in edge order; ``None`` when the ids do not allow replay (an id that is not its row, a
    parent or child that is not a node)."""
    n = len(nodes)
    if not all(node.get("id") == i and type(node.get("id")) is int for i, node in enumerate(nodes)):
        return None
    seen = [False] * n
    sources = []
    for e in edges:
        parent, tactic, children = e.get("parent"), e.get("tactic"), e.get("children")
        if not children:
            continue
        if type(parent) is not int or not 0 <= parent < n or not isinstance(tactic, str) or \
                not isinstance(children, list):
            return None
        for place, c in enumerate(children):
            if type(c) is not int or not 0 <= c < n:
                return None
            if not seen[c]:
                seen[c] = True
                sources.append((c, parent, tactic, place))
    return sources


def _replayable_keys(header: Mapping[str, Any], nodes: list[dict[str, Any]],
                     edges: list[dict[str, Any]]) -> set[int]:
    """The rows of the nodes whose keys ``_replay_keys`` gives back exactly: left out of the file."""
    if not nodes or not all(isinstance(n.get("key"), str) for n in nodes):
        return set()
    replay = key_replayer(header)
    sources = _source_edges(nodes, edges) if replay is not None else None
    if not sources:
        return set()
    cache: dict[tuple[str, str], Sequence[str] | None] = {}
    known = [True] * len(nodes)  # a node's key is known when its source is reached: stored or replayed before
    for c, _, _, _ in sources:
        known[c] = False
    out: set[int] = set()
    for c, parent, tactic, place in sources:
        if known[parent]:
            try:
                keys = _replayed(replay, cache, nodes[parent]["key"], tactic)
            except Exception:  # a faulty replayer must not lose a trace: store the key
                keys = None
            if keys is not None and place < len(keys) and keys[place] == nodes[c]["key"]:
                out.add(c)
        known[c] = True
    return out


def _replayed(replay: KeyReplayer, cache: dict[tuple[str, str], Sequence[str] | None], key: str,
              tactic: str) -> Sequence[str] | None:
    """The distinct subgoal keys of ``tactic`` on ``key`` (the tree merges equal subgoals), replayed once."""
    pair = (key, tactic)
    if pair in cache:
        return cache[pair]
    keys = replay(key, tactic)
    out = None if keys is None else keys if len(keys) < 2 else list(dict.fromkeys(keys))
    cache[pair] = out
    return out


def _replay_keys(env_id: Any, header: Mapping[str, Any], nodes: list[dict[str, Any]],
                 edges: list[dict[str, Any]]) -> None:
    """Fill in the keys a version-3 file left out, by replaying each node's source edge in edge order.

    The first edge that lists a node without a key is its source (the writer left the key out only there)."""
    if env_id is None:
        return
    replay = key_replayer(header) if header.get("env_id") == env_id else None
    if replay is None:
        raise TraceFormatError(f"the node keys of this trace are to be replayed by {env_id!r}, but no key "
                               "replayer is registered for it")
    n = len(nodes)
    if [node.get("id") for node in nodes] != list(range(n)):
        raise TraceFormatError("the node keys of this trace are to be replayed, but its node ids are not its rows")
    keys = [node.get("key") for node in nodes]
    cache: dict[tuple[str, str], Sequence[str] | None] = {}
    for e in edges:
        children = e.get("children")
        if not children:
            continue
        for place, c in enumerate(children):
            if type(c) is not int or not 0 <= c < n:
                raise TraceFormatError(f"edge {e.get('id')} has a child {c!r} that is not a node")
            if keys[c] is not None:
                continue
            parent, tactic = e.get("parent"), e.get("tactic")
            if type(parent) is not int or not 0 <= parent < n or not isinstance(tactic, str):
                raise TraceFormatError(f"cannot replay the key of node {c}: edge {e.get('id')} has no parent "
                                       "node or tactic")
            key = keys[parent]
            if not isinstance(key, str):
                raise TraceFormatError(f"cannot replay the key of node {c}: its parent {parent} has no key yet")
            try:
                got = _replayed(replay, cache, key, tactic)
            except Exception as exc:
                raise TraceFormatError(f"cannot replay the key of node {c} ({type(exc).__name__}: {exc})") from exc
            if got is None or place >= len(got):
                raise TraceFormatError(f"cannot replay the key of node {c}: {tactic[:80]!r} on {key[:80]!r} "
                                       f"gives no subgoal {place}")
            keys[c] = nodes[c]["key"] = got[place]
    missing = [i for i, k in enumerate(keys) if k is None]
    if missing:
        raise TraceFormatError(f"node {missing[0]} has no key and no edge produces it")


# ---------------------------------------------------------------------------------------------- columns
# A table is {"rows": N, "columns": {name: column}}. A column is a list of N values (plain), or a dict:
#   {"codec": "row"}                              the value is the row number (ids);
#   {"codec": "ms-delta", "values": [...]}        seconds, as whole milliseconds minus the previous row's
#                                                 (version 3: edge time stamps ``t``);
#   {"codec": "us-2sf", "values": [...]}          seconds, as microseconds to 2 significant figures: 230 for
#                                                 0.000234, 4.5 for 0.0000045 (version 3: ``elapsed``);
#   {"codec": "us", "values": [...]}              seconds, as whole microseconds (version 2: ``elapsed``);
#   {"codec": "us-delta", "values": [...]}        seconds, as whole microseconds minus the previous row's
#                                                 (version 2: ``t``);
#   {"codec": "id-delta", "values": [[...]]}      lists of ints, each minus the previous int in the column;
#   {"codec": "plain", "values": [...]}           the values as they are;
# plus "rows": [...] when only those rows have the field (the other rows lack it).
_TIME_FIELDS = {"elapsed": "us-2sf", "t": "ms-delta"}


def _is_number(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _encode_column(name: str, values: list[Any]) -> dict[str, Any]:
    codec = _TIME_FIELDS.get(name)
    if codec == "ms-delta" and all(_is_number(v) for v in values):
        millis = [round(v * 1e3) for v in values]
        return {"codec": codec, "values": [b - a for a, b in zip([0, *millis], millis, strict=False)]}
    if codec == "us-2sf" and all(_is_number(v) for v in values):
        return {"codec": codec, "values": [_two_figures(v * 1e6) for v in values]}
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


def _two_figures(v: float) -> int | float:
    """``v`` rounded to 2 significant figures, as an int when whole (``234.5`` → ``230``, ``4.47`` → ``4.5``)."""
    r = float(f"{v:.2g}")
    return int(r) if r.is_integer() else r


def _decode_column(column: dict[str, Any]) -> list[Any]:
    codec, values = column.get("codec"), column.get("values")
    if not isinstance(values, list):
        raise TraceFormatError(f"column with codec {codec!r} has no list of values")
    if codec == "plain":
        return values
    if codec in ("us", "us-2sf"):
        return [v / 1e6 for v in values]
    if codec == "us-delta":
        return [v / 1e6 for v in itertools.accumulate(values)]
    if codec == "ms-delta":
        return [v / 1e3 for v in itertools.accumulate(values)]
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
        raise TraceFormatError(f"malformed {what} table in a trace ({type(e).__name__}: {e})") from e


def _rebuild_texts(env_id: Any, header: Mapping[str, Any], nodes: list[dict[str, Any]]) -> None:
    """Fill in the texts a version-2 or -3 file left out."""
    if env_id is None:
        return
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


def safe_name(name: str, limit: int = 120) -> str:
    """The one file-name sanitiser: every character but letters, digits, ``-``, ``_`` and ``.`` becomes ``_`` (a
    HOL Light or Lean name may hold ``/``, ``'`` or spaces), no leading or trailing dots, at most ``limit``
    characters."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:limit].strip(".") or "_"


def trace_file_name(theorem_id: str, index: int | None = None) -> str:
    """The file name of a theorem's trace, ``[NNNN-]<safe id>.json.gz``; ``index`` (a run's order) keeps apart two
    ids that sanitise alike."""
    return (f"{index:04d}-" if index is not None else "") + f"{safe_name(theorem_id)}.json.gz"


def write_trace(path: str | os.PathLike[str], record: TraceRecord) -> None:
    """Write one record as a ``.json`` (or ``.json.gz``) file, atomically."""
    atomic_write_text(path, json.dumps(record.to_dict(), default=_json_default, ensure_ascii=False))


def write_traces(path: str | os.PathLike[str], records: Iterable[TraceRecord]) -> None:
    """Write many records as one ``.jsonl`` (or ``.jsonl.gz``) shard, atomically."""
    lines = (json.dumps(r.to_dict(), default=_json_default, ensure_ascii=False) for r in records)
    atomic_write_text(path, "".join(line + "\n" for line in lines))


_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
MODEL_FILE = "aitp_model.json"
"""The file that says what a model checkpoint folder holds (``aitp_gym.agents.models`` writes and reads it)."""
CHECKPOINT_FILES = frozenset({
    MODEL_FILE, "config.json", "generation_config.json", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "tokenizer.json",
    "aitp_policy.json", "aitp_ranker.json", "aitp_holist_model.json", "aitp_critic.json",  # before aitp_model.json
})
"""The JSON files of a model checkpoint folder (``rounds/<r>/policy`` and ``rounds/<r>/critic`` of a loop run)."""
NOT_TRACES = frozenset({
    "summary.json",  # aitp prove's run summary, beside traces/
    "rounds.jsonl", "buffers.json",  # aitp loop's per-round figures and buffer statistics
    *CHECKPOINT_FILES,
})
"""File names that ``iter_traces`` skips in a folder: the other JSON files of ``aitp prove`` and ``aitp loop`` run
folders, so that a whole run folder (``runs/sr_demo``) streams every trace in it."""


def iter_traces(path: str | os.PathLike[str]) -> Iterator[TraceRecord]:
    """Stream records from a trace file, or from every trace file under a folder.

    A file is read as ``.json`` (one record) or ``.jsonl`` (one record a line), gzip-compressed if its
    name ends in ``.gz``; a file named explicitly is always read.

    A folder, such as the run folder ``aitp prove --out runs/demo`` prints, is walked recursively
    (``runs/demo/traces/`` included), in name order with each subfolder's records where its name sorts.
    It yields every file whose name ends in ``.json``, ``.jsonl``, ``.json.gz`` or ``.jsonl.gz``, except:

    * hidden names (starting with ``.``): temporary files of interrupted writes, hidden folders;
    * the names in ``NOT_TRACES`` (``summary.json``, the run summary ``aitp prove`` writes, and the figures and
      checkpoint files of ``aitp loop`` run folders).

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
