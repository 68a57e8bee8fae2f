"""The trace side of the visualiser: read a trace file, pick one record, and turn it into the data the page
embeds (``tree_payload``). Nothing here knows about HTML; ``page.py`` puts this data into the page."""

from __future__ import annotations

import gzip
import heapq
import json
import math
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aitp_gym.errors import AitpError, TraceFormatError
from aitp_gym.trace import TraceRecord, iter_traces

ERROR_OUTCOMES = frozenset({"error", "timeout"})
"""Edge outcomes of a tactic that did not apply (no subgoals, no AND node)."""

_MAX_THEOREM_DATA = 4096
"""Header ``theorem_data`` larger than this (in JSON characters) is left out of the page."""

_LISTED = 40
"""How many records a selection error lists."""


class TraceSelectionError(AitpError, ValueError):
    """A trace file holds several records and ``--theorem`` / ``--index`` do not pick exactly one."""


# ---------------------------------------------------------------------------------------------- loading
def load_records(path: str | os.PathLike[str]) -> list[TraceRecord]:
    """Every record of a trace file (``.json``, ``.jsonl``, gzipped or not) or of a folder of them."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    try:
        records = list(iter_traces(path))
    except TraceFormatError:
        raise
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise TraceFormatError(f"{path}: not a trace file ({type(e).__name__}: {e})") from e
    if not records:
        raise TraceFormatError(f"{path}: no traces in it (a trace file ends in .json, .jsonl, .json.gz or "
                               ".jsonl.gz)")
    return records


def describe(records: Sequence[TraceRecord]) -> str:
    """One line per record (index, theorem id, planner, outcome, size), for selection messages."""
    lines = []
    for i, r in enumerate(records[:_LISTED]):
        proved = "proved" if r.result.get("proved") else "not proved"
        lines.append(f"  --index {i}: {r.header.get('theorem_id', '?')}  ({r.header.get('planner', '?')} on "
                     f"{r.header.get('env_id', '?')}, {proved}, {len(r.nodes)} goals)")
    if len(records) > _LISTED:
        lines.append(f"  ... and {len(records) - _LISTED} more")
    return "\n".join(lines)


def select_record(records: Sequence[TraceRecord], theorem: str | None = None,
                  index: int | None = None) -> TraceRecord:
    """The one record that ``theorem`` (a theorem id) and ``index`` (its place in the file) pick.

    With neither, the file must hold exactly one record. With both, the record at ``index`` must be of
    ``theorem``. Raises ``TraceSelectionError`` listing what there is otherwise."""
    where = f"the trace holds {len(records)} record{'s' if len(records) != 1 else ''}:\n{describe(records)}"
    if index is not None:
        if not 0 <= index < len(records):
            raise TraceSelectionError(f"--index {index} is out of range; {where}")
        record = records[index]
        if theorem is not None and record.header.get("theorem_id") != theorem:
            raise TraceSelectionError(f"--index {index} is {record.header.get('theorem_id')!r}, not --theorem "
                                      f"{theorem!r}; {where}")
        return record
    if theorem is not None:
        matches = [i for i, r in enumerate(records) if r.header.get("theorem_id") == theorem]
        if not matches:
            raise TraceSelectionError(f"no trace of theorem {theorem!r}; {where}")
        if len(matches) > 1:
            raise TraceSelectionError(f"{len(matches)} traces of theorem {theorem!r} (--index "
                                      f"{', '.join(map(str, matches))}): add --index; {where}")
        return records[matches[0]]
    if len(records) > 1:
        raise TraceSelectionError(f"choose one with --theorem ID or --index N; {where}")
    return records[0]


# ---------------------------------------------------------------------------------------------- the data
def tree_payload(record: TraceRecord) -> dict[str, Any]:
    """What the page embeds: the trace's columns plus what the page derives from them.

    ``derived`` holds, per node: ``source`` (the edge that first produced it, -1 for a root), ``expand``
    (the step it was first expanded at, -1 if never), ``proved_at`` (the step its proof was complete, -1
    if not proved); per edge: ``step``; per step: ``step_node`` (the goal expanded); and ``proof_edges``
    (the edges of the proof, highlighted). Node texts are stored as lists of indices into ``lines``, since
    many goals share lines (the data lines of an SR-v0 goal, the hypotheses of a HOL Light goal)."""
    nodes, edges = record.nodes, record.edges
    row: dict[Any, int] = {}
    for i, n in enumerate(nodes):
        row.setdefault(n.get("id", i), i)
    n_nodes = len(nodes)
    if not n_nodes:
        raise TraceFormatError("the trace has no goals")

    parents: list[int] = []
    children: list[list[int]] = []
    outcomes: list[str] = []
    for e in edges:
        p = row.get(e.get("parent"))
        if p is None:
            raise TraceFormatError(f"edge {e.get('id')} has a parent {e.get('parent')!r} that is not a goal")
        cs = []
        for c in e.get("children") or ():
            if c not in row:
                raise TraceFormatError(f"edge {e.get('id')} has a child {c!r} that is not a goal")
            if row[c] not in cs:
                cs.append(row[c])
        parents.append(p)
        children.append(cs)
        outcomes.append(str(e.get("outcome", "ok")))

    # expansion steps: runs of consecutive edges on one goal
    edge_step, step_node, expand = [], [-1], [-1] * n_nodes
    previous = None
    for p in parents:
        if p != previous:
            step_node.append(p)
            previous = p
        edge_step.append(len(step_node) - 1)
        if expand[p] < 0:
            expand[p] = len(step_node) - 1
    steps = len(step_node) - 1

    roots = {0} | {i for i, n in enumerate(nodes) if n.get("depth") == 0}
    source = [-1] * n_nodes
    for e, cs in enumerate(children):
        if outcomes[e] in ERROR_OUTCOMES:
            continue
        for c in cs:
            if source[c] < 0 and c not in roots:
                source[c] = e

    proved_at, first_proof = _proof_times(n_nodes, parents, children, outcomes, edge_step)
    statuses = [str(n.get("status", "open")) for n in nodes]
    texts = [str(n.get("text", n.get("key", ""))) for n in nodes]
    tactics = [str(e.get("tactic", "")) for e in edges]
    proof_edges = _proof_path(record.result.get("proof"), texts, tactics, parents, children, outcomes, first_proof)

    lines: dict[str, int] = {}
    text_lines = [[lines.setdefault(line, len(lines)) for line in t.split("\n")] for t in texts]

    header = dict(record.header)
    data = header.get("theorem_data")
    if data is not None and len(json.dumps(data, default=str)) > _MAX_THEOREM_DATA:
        header["theorem_data"] = f"(left out: {len(json.dumps(data, default=str))} characters)"
    result = {k: v for k, v in record.result.items() if k != "proof"}
    return _plain({
        "version": record.version,
        "header": header,
        "result": result,
        "lines": list(lines),
        "nodes": {
            "id": [n.get("id", i) for i, n in enumerate(nodes)],
            "text": text_lines,
            "status": statuses,
            "depth": [n.get("depth") for n in nodes],
            "exhausted": [bool(n.get("exhausted")) for n in nodes],
            "stats": [n.get("stats") for n in nodes],
        },
        "edges": {
            "id": [e.get("id", i) for i, e in enumerate(edges)],
            "parent": parents,
            "children": children,
            "tactic": tactics,
            "outcome": outcomes,
            "logprob": [e.get("logprob") for e in edges],
            "message": [e.get("message") or "" for e in edges],
            "elapsed": [e.get("elapsed") for e in edges],
            "t": [e.get("t") for e in edges],
            "cycle": [bool(e.get("cycle")) for e in edges],
        },
        "derived": {
            "steps": steps, "step": edge_step, "step_node": step_node, "source": source, "expand": expand,
            "proved_at": proved_at, "proof_edges": proof_edges,
        },
    })


def _proof_times(n_nodes: int, parents: list[int], children: list[list[int]], outcomes: list[str],
                 edge_step: list[int]) -> tuple[list[int], list[int]]:
    """For each goal, the first step at which it was proved (-1: never) and the edge that proved it.

    A goal is proved at the earliest step at which one of its edges had been applied and all that edge's
    subgoals were proved: Dijkstra's algorithm with ``max`` in place of ``+`` (Knuth's generalisation)."""
    proved_at, first = [-1] * n_nodes, [-1] * n_nodes
    parent_edges: list[list[int]] = [[] for _ in range(n_nodes)]
    heap: list[tuple[int, int, int]] = []
    for e, cs in enumerate(children):
        if outcomes[e] in ERROR_OUTCOMES:
            continue
        for c in cs:
            parent_edges[c].append(e)
        if not cs:
            heapq.heappush(heap, (edge_step[e], e, parents[e]))
    while heap:
        step, e, node = heapq.heappop(heap)
        if proved_at[node] >= 0:
            continue
        proved_at[node], first[node] = step, e
        for pe in parent_edges[node]:
            p = parents[pe]
            if proved_at[p] < 0 and all(proved_at[c] >= 0 for c in children[pe]):
                heapq.heappush(heap, (max(edge_step[pe], *(proved_at[c] for c in children[pe])), pe, p))
    return proved_at, first


def _proof_path(proof: Any, texts: list[str], tactics: list[str], parents: list[int], children: list[list[int]],
                outcomes: list[str], first_proof: list[int]) -> list[int]:
    """The edges of the trace's proof (``result["proof"]``, matched by tactic and subgoal texts); failing
    that, the edges that first proved each goal from the root. Empty when the root is not proved."""
    out_edges: list[list[int]] = [[] for _ in texts]
    for e, p in enumerate(parents):
        if outcomes[e] not in ERROR_OUTCOMES:
            out_edges[p].append(e)

    def match(step: Any, node: int, path: list[int], depth: int) -> bool:
        if not isinstance(step, dict) or depth > 10_000:
            return False
        subproofs = step.get("children") or []
        for e in out_edges[node]:
            cs = children[e]
            if step.get("tactic") == tactics[e] and len(cs) == len(subproofs) and \
                    all(isinstance(s, dict) and s.get("goal") == texts[c] for s, c in zip(subproofs, cs, strict=True)):
                mark = len(path)
                path.append(e)
                if all(match(s, c, path, depth + 1) for s, c in zip(subproofs, cs, strict=True)):
                    return True
                del path[mark:]
        return False

    if proof:
        path: list[int] = []
        try:
            if match(proof, 0, path, 0):
                return path
        except RecursionError:
            pass
    if first_proof[0] < 0:
        return []
    path, stack, seen = [], [0], set()
    while stack:
        node = stack.pop()
        if node in seen or first_proof[node] < 0:
            continue
        seen.add(node)
        path.append(first_proof[node])
        stack.extend(children[first_proof[node]])
    return path


def _plain(value: Any) -> Any:
    """``value`` with what JSON cannot hold made plain: non-finite floats become strings (``"inf"``), tuples
    lists, other objects their ``str``, so the page's ``JSON.parse`` never meets ``NaN``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy
        return _plain(value.tolist())
    return str(value)
