"""LeanDojo Benchmark 4 on disk: theorem records and the premise corpus. Needs neither Lean nor lean_dojo.

The layout, as LeanDojo publishes it::

    leandojo_benchmark_4/
        corpus.jsonl                       one line per Lean file: path, imports, premises (full_name, start, end)
        random/{train,val,test}.json       a JSON list of theorem records
        novel_premises/{train,val,test}.json

A theorem record has ``url``, ``commit``, ``file_path``, ``full_name``, ``start`` (``[line, column]``) and
``traced_tactics`` (the human proof: ``tactic``, ``state_before``, ``state_after``, ...). Our ``valid`` split is
LeanDojo's ``val``.

The human proofs become training data as ordinary trace records (``proof_log_records``, ``write_proof_logs``):
every buffer builder of ``aitp_gym.agents.buffers`` reads them as it reads a search's traces.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aitp_gym
from aitp_gym.backend import SPLITS, Theorem
from aitp_gym.proof import ProofStep
from aitp_gym.trace import TraceRecord, atomic_write_text, write_traces
from aitp_gym.tree import Goal, OutcomeKind, Status

ENV_ID = "Lean-v0"
VARIANTS = ("random", "novel_premises")
SPLIT_FILES = {"train": "train.json", "valid": "val.json", "test": "test.json"}
REQUIRED_FIELDS = ("url", "commit", "file_path", "full_name")


def resolve_benchmark(path: str | Path, variant: str = "random") -> Path:
    """The folder holding ``{train,val,test}.json``: ``path`` itself, or ``path/variant``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
    root = Path(path).expanduser()
    for folder in (root, root / variant):
        if any((folder / name).is_file() for name in SPLIT_FILES.values()):
            return folder
    raise ValueError(f"{root} is not a LeanDojo Benchmark 4 folder: expected {variant}/train.json, val.json, "
                     "test.json in it (or those files directly); see docs/lean.md")


def corpus_path(folder: Path) -> Path | None:
    """``corpus.jsonl`` next to the split files or one level up (the benchmark's root), if there is one."""
    for candidate in (folder / "corpus.jsonl", folder.parent / "corpus.jsonl"):
        if candidate.is_file():
            return candidate
    return None


def theorem_from_record(record: Mapping[str, Any], split: str = "", theorem_id: str | None = None) -> Theorem:
    """An aitp-gym ``Theorem`` from a benchmark record (or any mapping with url, commit, file_path, full_name).

    ``data`` keeps what the backend needs to open a Dojo and find premises, all JSON-serialisable (it goes
    into trace headers): url, commit, file_path, full_name, start, and the human proof's tactics as ``proof``.
    """
    missing = [k for k in REQUIRED_FIELDS if not isinstance(record.get(k), str) or not record.get(k)]
    if missing:
        raise ValueError(f"a Lean theorem record needs non-empty strings {list(REQUIRED_FIELDS)}; missing or "
                         f"empty: {missing} in {dict(record)!r:.200}")
    if not str(record["file_path"]).endswith(".lean"):
        raise ValueError(f"file_path must be a .lean file, not {record['file_path']!r}")
    tactics = record.get("traced_tactics") or []
    statement = tactics[0].get("state_before", "") if tactics else ""
    data: dict[str, Any] = {k: str(record[k]) for k in REQUIRED_FIELDS}
    if record.get("start") is not None:
        data["start"] = [int(x) for x in record["start"]]
    if tactics:
        data["proof"] = [t["tactic"] for t in tactics if "tactic" in t]
    return Theorem(theorem_id or str(record["full_name"]), statement or str(record["full_name"]), split, data)


def unique_ids(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Theorem ids for ``records``, one each and all different: the full name when no other record has that
    name, ``file_path:full_name`` when the name occurs in several records (the same name in different files is
    a different theorem), and ``file_path:full_name#k`` (k = 2, 3, ...) for later repeats within one file."""
    names = [str(r.get("full_name", "")) for r in records]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    seen: set[str] = set()
    ids = []
    for record, name in zip(records, names, strict=True):
        base = name if counts[name] == 1 else f"{record.get('file_path')}:{name}"
        theorem_id, k = base, 1
        while theorem_id in seen:
            k += 1
            theorem_id = f"{base}#{k}"
        seen.add(theorem_id)
        ids.append(theorem_id)
    return ids


def load_split(folder: Path, split: str) -> tuple[Theorem, ...]:
    """The theorems of one split (empty when its file is missing), with ids from ``unique_ids``: full names,
    qualified by the file where a name occurs more than once."""
    records = read_split(folder, split)
    return tuple(theorem_from_record(record, split, theorem_id)
                 for record, theorem_id in zip(records, unique_ids(records), strict=True))


def read_split(folder: Path, split: str) -> list[dict[str, Any]]:
    """The theorem records of one split as LeanDojo wrote them (empty when its file is missing)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    path = folder / SPLIT_FILES[split]
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as f:
        records = json.load(f)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path}: expected a JSON list of theorem records")
    return records


class PremiseCorpus:
    """Accessible premises from ``corpus.jsonl``, as in ReProver: every premise of the files the theorem's file
    imports (transitively), plus the premises of its own file that end before the theorem starts.

    Only names, positions and imports are kept (not the premises' code), so Mathlib's corpus fits in memory.
    """

    def __init__(self, files: Iterable[Mapping[str, Any]]) -> None:
        self.imports: dict[str, tuple[str, ...]] = {}
        self.premises: dict[str, tuple[tuple[str, tuple[int, int]], ...]] = {}
        for entry in files:
            path = str(entry["path"])
            self.imports[path] = tuple(str(p) for p in entry.get("imports", ()))
            self.premises[path] = tuple((str(p["full_name"]), _pos(p.get("end"))) for p in entry.get("premises", ()))
        self._closure: dict[str, tuple[str, ...]] = {}

    @classmethod
    def load(cls, path: Path) -> PremiseCorpus:
        with path.open(encoding="utf-8") as f:
            return cls(json.loads(line) for line in f if line.strip())

    def imported_files(self, path: str) -> tuple[str, ...]:
        """The files ``path`` imports, directly or not, each once, in depth-first order."""
        if path not in self._closure:
            order: list[str] = []
            seen = {path}
            stack = list(reversed(self.imports.get(path, ())))
            while stack:
                p = stack.pop()
                if p in seen:
                    continue
                seen.add(p)
                order.append(p)
                stack.extend(reversed(self.imports.get(p, ())))
            self._closure[path] = tuple(order)
        return self._closure[path]

    def accessible(self, file_path: str, start: Sequence[int] | None) -> tuple[str, ...]:
        """Premise names a theorem at ``start`` in ``file_path`` may use (the whole file when ``start`` is None)."""
        names = [name for p in self.imported_files(file_path) for name, _ in self.premises.get(p, ())]
        here = self.premises.get(file_path, ())
        limit = _pos(start) if start is not None else None
        names += [name for name, end in here if limit is None or end <= limit]
        return tuple(dict.fromkeys(names))


def _pos(value: Any) -> tuple[int, int]:
    if not value:
        return (0, 0)
    line, column = value[:2]
    return int(line), int(column)


# ---------------------------------------------------------------------------------------------- human proofs
NO_GOALS = "no goals"
"""LeanDojo's text for a tactic state without goals: the ``state_after`` of a tactic that finished its goals."""
HELD_OUT_SPLITS = ("valid", "test")
PROOF_LOG_SOURCE = "human"
PROOF_LOG_GLOB = "proof_logs-*.jsonl.gz"


def _acted_on(before: Sequence[str], after: Sequence[str]) -> tuple[int, int] | None:
    """``(i, n)``: the tactic replaced goal ``i`` of ``before`` by ``after[i:i + n]`` and left every other goal
    as it was, in place; ``None`` when no single goal explains ``after`` (the tactic changed several goals).

    Goal 0, the main goal a Lean tactic works on, is tried first; a later goal explains steps such as
    ``case right => ...`` or ``on_goal 2 => ...``, which Lean-v0 runs on that goal (rotated to the front and
    focused) just the same."""
    new = len(after) - len(before) + 1
    if new < 0:
        return None
    for i in range(len(before)):
        if after[:i] == before[:i] and after[i + new:] == before[i + 1:]:
            return i, new
    return None


class _ProofLog:
    """The AND-OR graph of one human proof, one node per goal key as in a ``ProofTree``."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.by_key: dict[str, int] = {}
        self.seen: set[tuple[int, str, tuple[int, ...]]] = set()
        self.children_of: dict[int, list[int]] = {}

    def node(self, text: str, depth: int) -> int:
        key = Goal(text).key  # Lean-v0's key: the goal's text with whitespace normalised
        nid = self.by_key.get(key)
        if nid is None:
            nid = self.by_key[key] = len(self.nodes)
            self.nodes.append({"id": nid, "key": key, "text": text, "status": Status.OPEN.value, "depth": depth,
                               "exhausted": False})
        elif depth < self.nodes[nid]["depth"]:
            self.nodes[nid]["depth"] = depth
        return nid

    def add(self, parent_text: str, tactic: str, child_texts: Sequence[str]) -> None:
        # a goal first met as the parent of a step is where a nested block starts (``have ... := by``, an
        # ``induction ... with`` alternative): depth 0, like the theorem's own goal
        key = Goal(parent_text).key
        parent = self.by_key[key] if key in self.by_key else self.node(parent_text, 0)
        depth = self.nodes[parent]["depth"] + 1
        children = tuple(dict.fromkeys(self.node(text, depth) for text in child_texts))
        if (parent, tactic, children) in self.seen:
            return
        self.seen.add((parent, tactic, children))
        cycle = bool(children) and self._reaches(children, parent)
        outcome = OutcomeKind.OK if children else OutcomeKind.PROVED
        self.edges.append({"id": len(self.edges), "parent": parent, "tactic": tactic, "logprob": 0.0,
                           "outcome": outcome.value, "message": "", "elapsed": 0.0, "t": 0.0,
                           "children": list(children), "cycle": cycle})
        self.children_of.setdefault(parent, []).extend(children)

    def _reaches(self, starts: Sequence[int], target: int) -> bool:
        stack, seen = list(starts), set()
        while stack:
            n = stack.pop()
            if n == target:
                return True
            if n not in seen:
                seen.add(n)
                stack.extend(self.children_of.get(n, ()))
        return False

    def prove(self) -> dict[int, dict[str, Any]]:
        """Each provable goal's proof edge, fewest tactics first (the least fixpoint, as ``ProofTree`` and
        the buffers compute it); the goals get their status from it."""
        size: dict[int, int] = {}
        best: dict[int, dict[str, Any]] = {}
        changed = True
        while changed:
            changed = False
            for e in self.edges:
                if e["cycle"] or not all(c in size for c in e["children"]):
                    continue
                s = 1 + sum(size[c] for c in e["children"])
                if s < size.get(e["parent"], math.inf):
                    size[e["parent"]], best[e["parent"]] = s, e
                    changed = True
        for nid in best:
            self.nodes[nid]["status"] = Status.PROVED.value
        return best

    def proof(self, nid: int, best: Mapping[int, dict[str, Any]]) -> ProofStep:
        edge = best[nid]
        return ProofStep(edge["tactic"], self.nodes[nid]["text"], [self.proof(c, best) for c in edge["children"]])


def proof_log_record(record: Mapping[str, Any], theorem_id: str | None = None, split: str = "train",
                     source_file: str = "") -> TraceRecord | None:
    """One theorem's human proof (its ``traced_tactics``) as a trace record; ``None`` without traced tactics.

    Nodes are goals, as Lean-v0 shows them: a tactic state is split into its goals (``split_goals``, each with
    its ``case`` line) and keyed like any ``Goal``. A traced tactic acts on one goal of its ``state_before``
    (the main goal, or the one goal whose replacement explains ``state_after``, see ``_acted_on``); its edge
    goes from that goal to the goals that took its place, and closes it when there are none (``state_after``
    is ``"no goals"``, or the state without that goal). A step that changed several goals (``all_goals``,
    ``swap``), which Lean-v0 would refuse, is left out and listed in ``result["skipped"]``, as is one that uses
    ``sorry``. Tactics inside a block (``·``, an ``induction ... with`` alternative, ``have ... := by``) are
    traced too: their goals are nodes, and a goal proved both by a block and by its inner tactics gets both
    edges. Statuses are the least fixpoint: a goal is proved when an edge's goals all are, so an unfinished
    proof keeps its proved steps."""
    from aitp_gym.envs.lean.backend import FORBIDDEN_TACTIC, split_goals  # backend imports this module

    theorem = theorem_from_record(record, split, theorem_id)
    steps = [s for s in record.get("traced_tactics") or () if isinstance(s, Mapping)]
    roots = split_goals(str(steps[0].get("state_before", ""))) if steps else ()
    if not roots:
        return None
    log = _ProofLog()
    for text in roots:
        log.node(text, 0)
    skipped = []
    for index, step in enumerate(steps):
        tactic, before, after = step.get("tactic"), step.get("state_before"), step.get("state_after")
        why = ""
        if not (isinstance(tactic, str) and tactic.strip() and isinstance(before, str) and isinstance(after, str)):
            why = "not a traced tactic (tactic, state_before and state_after must be strings)"
        elif FORBIDDEN_TACTIC.search(tactic):
            why = "uses sorry, admit or sorryAx"
        else:
            goals_before = split_goals(before)
            goals_after = () if after.strip() == NO_GOALS else split_goals(after)
            place = _acted_on(goals_before, goals_after) if goals_before else None
            if not goals_before or (not goals_after and after.strip() != NO_GOALS):
                why = "a state without goals"
            elif place is None:
                why = "it changed several goals; Lean-v0 applies a tactic to one goal"
            else:
                i, new = place
                log.add(goals_before[i], tactic, goals_after[i:i + new])
        if why:
            skipped.append({"step": index, "tactic": str(tactic), "why": why})
    best = log.prove()
    proved = all(log.by_key[Goal(text).key] in best for text in roots)
    proof = log.proof(0, best) if 0 in best else None
    data = theorem.data
    header = {
        "env_id": ENV_ID, "theorem_id": theorem.id, "statement": theorem.statement, "theorem_data": data,
        "source": PROOF_LOG_SOURCE, "planner": "human proof", "policy": PROOF_LOG_SOURCE, "url": data["url"],
        "commit": data["commit"],
        "benchmark": {"name": "LeanDojo Benchmark 4", "split": split, "file": source_file},
        "aitp_gym_version": aitp_gym.__version__,
    }
    result = {
        "proved": proved, "source": PROOF_LOG_SOURCE, "proof": proof.to_dict() if proof else None,
        "proof_script": proof.tactics() if proof else None, "steps": len(steps), "skipped": skipped,
        "tree": {"nodes": len(log.nodes), "edges": len(log.edges), "proved_nodes": len(best)},
    }
    return TraceRecord(header, log.nodes, log.edges, result)


def _check_proof_log_args(split: str, limit: int | None, allow_held_out: bool) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be None or an integer >= 0, not {limit!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if split in HELD_OUT_SPLITS and not allow_held_out:
        raise ValueError(f"proof logs are training data, and the {split} split is held out: its theorems must "
                         f"never enter a training buffer. Build them from split='train'; pass "
                         f"allow_held_out=True only to read {split} proofs for analysis, never for training")


def proof_log_records(folder: str | Path, split: str = "train", limit: int | None = None, *,
                      variant: str = "random", allow_held_out: bool = False) -> Iterator[TraceRecord]:
    """The human proofs of a LeanDojo Benchmark 4 split as trace records (``proof_log_record``), one per
    theorem with traced tactics, at most ``limit``; the theorem ids are Lean-v0's (``unique_ids``).

    ``folder`` is the benchmark's root (then ``variant`` is used) or one variant's folder. The ``valid`` and
    ``test`` splits are refused (``ValueError``) unless ``allow_held_out``; a train theorem that is also in
    the folder's ``val.json`` or ``test.json`` (same url, commit, file and name) is left out."""
    _check_proof_log_args(split, limit, allow_held_out)
    return _proof_logs(resolve_benchmark(folder, variant), split, limit, {})


def _entry(record: Mapping[str, Any]) -> tuple[str, ...]:
    values = [str(record.get(k) or "") for k in REQUIRED_FIELDS]
    values[2] = Path(values[2]).as_posix()
    return tuple(values)


def _proof_logs(folder: Path, split: str, limit: int | None, counts: dict[str, int]) -> Iterator[TraceRecord]:
    """``proof_log_records`` after its checks; ``counts`` gathers what ``write_proof_logs`` reports."""
    for name in ("theorems", "proved", "pairs", "steps", "skipped_steps", "without_tactics", "held_out"):
        counts.setdefault(name, 0)
    records = read_split(folder, split)
    held_out = set()
    if split == "train":
        held_out = {_entry(r) for other in HELD_OUT_SPLITS for r in read_split(folder, other)}
    source_file = f"{folder.name}/{SPLIT_FILES[split]}"
    for record, theorem_id in zip(records, unique_ids(records), strict=True):
        if limit is not None and counts["theorems"] >= limit:
            return
        if _entry(record) in held_out:
            counts["held_out"] += 1
            continue
        trace = proof_log_record(record, theorem_id, split, source_file)
        if trace is None:
            counts["without_tactics"] += 1
            continue
        counts["theorems"] += 1
        counts["proved"] += bool(trace.result["proved"])
        counts["pairs"] += trace.result["tree"]["proved_nodes"]
        counts["steps"] += trace.result["steps"]
        counts["skipped_steps"] += len(trace.result["skipped"])
        yield trace


def write_proof_logs(folder: str | Path, out_dir: str | Path, split: str = "train", *, variant: str = "random",
                     limit: int | None = None, shard_size: int = 1000, overwrite: bool = False,
                     allow_held_out: bool = False) -> dict[str, Any]:
    """Write the human proofs of ``split`` as trace files in ``out_dir`` (``proof_logs-<split>-NNNNN.jsonl.gz``,
    ``shard_size`` records each, each written atomically), plus ``summary.json``, which ``iter_traces`` skips.

    Returns the summary: ``theorems`` (records written), ``pairs`` (what ``buffers.tactic_pairs`` gives: one
    per proved goal), ``proved`` (theorems whose proof reaches "no goals"), ``steps`` and ``skipped_steps``
    (traced tactics read, and left out), ``without_tactics`` (term-mode proofs: no record), ``held_out``
    (train theorems also in val or test, left out) and the ``files``. The ``valid`` and ``test`` splits are
    refused unless ``allow_held_out``. Existing proof-log files in ``out_dir`` are refused unless
    ``overwrite``; then those not rewritten are removed once the new ones are written."""
    _check_proof_log_args(split, limit, allow_held_out)
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be an integer >= 1, not {shard_size!r}")
    bench = resolve_benchmark(folder, variant)
    out = Path(out_dir).expanduser()
    old = sorted(out.glob(PROOF_LOG_GLOB)) if out.is_dir() else []
    if old and not overwrite:
        raise ValueError(f"{out} already holds proof logs ({old[0].name}, ...); pass overwrite=True to replace "
                         "them, or choose another folder")
    counts: dict[str, int] = {}
    records = _proof_logs(bench, split, limit, counts)
    files = []
    while True:
        shard = list(itertools.islice(records, shard_size))
        if not shard:
            break
        name = f"proof_logs-{split}-{len(files):05d}.jsonl.gz"
        write_traces(out / name, shard)
        files.append(name)
    for path in old:
        if path.name not in files:
            path.unlink()
    summary = {"source": PROOF_LOG_SOURCE, "split": split, **counts, "files": files}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    return summary


def prepare_proof_logs(out: str | Path | None = None, rebuild: bool = False, progress: bool = True,
                       status: Any = None, benchmark: str | Path | None = None) -> str:
    """Lean-v0's ``EnvTraits.proof_logs`` (``aitp prepare --env Lean-v0 --proof-logs --benchmark DIR --out DIR``):
    the train split's traced tactics as trace files in ``out``; one line saying what they hold."""
    if benchmark is None or out is None:
        raise ValueError("Lean-v0's proof logs come from a LeanDojo Benchmark 4: pass --benchmark DIR and --out DIR")
    s = write_proof_logs(benchmark, out, "train", overwrite=rebuild)
    return (f"{s['pairs']} (goal, tactic) pairs from {s['theorems']} train theorems ({s['proved']} proofs reach "
            f"'no goals'): {Path(out)}")
