"""Human proof logs for HOList-v0: every atomic step of HOL Light's own core proofs, as traces.

DeepHOL trained on "human proof logs" recorded from an instrumented HOL Light. Here the same logs are
recorded by replaying the core's ``let NAME = prove(`GOAL`, TAC)`` proofs (``sources.py``) through the
backend, as a user would: ``TAC`` is parsed as a *tactical expression* (``parse_tactical``) and
interpreted in Python (``Replayer``), so every tactic that reaches HOL Light is an atomic tactic of
the action grammar, applied to one goal. The tacticals are interpreted with HOL Light's semantics:

* ``t1 THEN t2`` (``t2`` on every goal ``t1`` leaves), ``t THENL [t1; ...; tn]`` (one tactic per goal),
  ``t1 ORELSE t2``, ``EVERY [...]``, ``FIRST [...]``, ``REPEAT t``, ``TRY t``, ``ALL_TAC``, ``NO_TAC``;
  the infixes are left-associative at one precedence, as in HOL Light's syntax extension;
* ``MAP_EVERY TAC [a; b]`` is ``EVERY [TAC a; TAC b]``;
* assumption tacticals whose step the grammar can say: ``DISCH_THEN ASSUME_TAC`` is ``DISCH_TAC``,
  ``DISCH_THEN STRIP_ASSUME_TAC`` is ``STRIP_TAC``, ``DISCH_THEN MP_TAC`` changes nothing, and
  ``POP_ASSUM MP_TAC`` is ``UNDISCH_TAC`` of the last assumption.

Anything else (a tactic outside the grammar, a function, a local lemma) stops the replay of that goal:
the goal stays open, and the steps already applied stay in the log. Each theorem's replay is one
ordinary trace record (``source: "human"`` in its header), so every buffer reads the logs:
``tactic_pairs`` gives (goal, tactic) for every goal the human proof closes.

Only **train-split** theorems are replayed; valid and test theorems never enter the logs. The logs
are built once per HOL Light version and cached (``proof_logs_path``), by ``aitp prepare --env
HOList-v0 --proof-logs`` or on first use (``human_pairs``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitp_gym.envs.holist.database import _safe, cache_dir, hol_light_version
from aitp_gym.envs.holist.grammar import TACTICS, TacticSyntaxError, parse_tactic
from aitp_gym.envs.holist.sources import SourceProof, core_files, names_in, source_proofs
from aitp_gym.trace import TraceRecord, iter_traces, write_traces

# Part of the cache key: bump when the replay changes what the logs hold.
PROOF_LOGS_FORMAT = "logs1"
MAX_REPEAT = 64  # REPEAT stops after this many rounds on one goal (HOL Light's would loop for ever)
MAX_APPLICATIONS = 2_000  # per theorem


# ---------------------------------------------------------------------------------------------- tactical expressions
@dataclass(frozen=True)
class Tac:
    """A tactical expression: ``op`` is ``atomic`` (``text``: one tactic of the grammar), ``then``, ``thenl``,
    ``orelse``, ``every``, ``first``, ``repeat``, ``try``, ``all``, ``no``, ``pop_mp`` (``POP_ASSUM MP_TAC``) or
    ``unsupported`` (``text``: what the grammar cannot say)."""

    op: str
    args: tuple[Tac, ...] = ()
    text: str = ""


ALL = Tac("all")
_INFIXES = ("THENL", "THEN", "ORELSE")
_WORD = re.compile(r"[A-Za-z_][\w']*")


def _scan(text: str) -> Iterator[tuple[int, str, int]]:
    """``(position, character, bracket depth)`` outside quotations and strings."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in "`\"":
            j = text.find(c, i + 1)
            i = n if j < 0 else j + 1
            continue
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        yield i, c, depth
        i += 1


def _top_words(text: str) -> list[tuple[int, str]]:
    """Infix tacticals at bracket depth 0: ``(position, word)``."""
    out = []
    for i, c, depth in _scan(text):
        if depth or not (c.isalpha()) or (i and (text[i - 1].isalnum() or text[i - 1] in "_'")):
            continue
        m = _WORD.match(text, i)
        if m and m.group() in _INFIXES:
            out.append((i, m.group()))
    return out


def _split_items(text: str) -> list[str] | None:
    """``[a; b; c]`` → ``["a", "b", "c"]`` (``[]`` → ``[]``); None if ``text`` is not one bracketed list."""
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")) or _closing(text, 0) != len(text) - 1:
        return None
    inner, items, start = text[1:-1], [], 0
    for i, c, depth in _scan(inner):
        if c == ";" and depth == 0:
            items.append(inner[start:i].strip())
            start = i + 1
    items.append(inner[start:].strip())
    return [x for x in items if x]


def _closing(text: str, start: int) -> int:
    """Where the bracket opened at ``start`` closes (-1 if it does not)."""
    base = None
    for i, c, depth in _scan(text):
        if i == start:
            base = depth - 1
        elif base is not None and c in ")]" and depth == base:
            return i
    return -1


def _unparen(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def parse_tactical(text: str) -> Tac:
    """A proof's tactic text as a tactical expression (never raises: what it cannot read is ``unsupported``)."""
    text = _unparen(text)
    if not text:
        return Tac("unsupported", text="(empty)")
    words = _top_words(text)
    if words:
        pos, word = words[-1]  # left-associative: the last infix at depth 0 is the root
        left, right = text[:pos], text[pos + len(word):]
        if word == "THENL":
            items = _split_items(right)
            if items is None:
                return Tac("unsupported", text=text)
            return Tac("thenl", (parse_tactical(left), *(parse_tactical(x) for x in items)))
        return Tac("then" if word == "THEN" else "orelse", (parse_tactical(left), parse_tactical(right)))
    m = _WORD.match(text)
    head, rest = (m.group(), text[m.end():].strip()) if m else ("", text)
    if head in ("REPEAT", "TRY") and rest:
        return Tac(head.lower(), (parse_tactical(rest),))
    if head in ("EVERY", "FIRST"):
        items = _split_items(rest)
        if items is None:
            return Tac("unsupported", text=text)
        if not items:
            return ALL if head == "EVERY" else Tac("no")
        return Tac(head.lower(), tuple(parse_tactical(x) for x in items))
    if head == "ALL_TAC" and not rest:
        return ALL
    if head == "NO_TAC" and not rest:
        return Tac("no")
    if head == "MAP_EVERY":
        m2 = _WORD.match(rest)
        items = _split_items(rest[m2.end():]) if m2 else None
        if m2 is None or items is None or m2.group() not in TACTICS:
            return Tac("unsupported", text=text)
        return Tac("every", tuple(parse_tactical(f"{m2.group()} {x}") for x in items)) if items else ALL
    if head == "DISCH_THEN":
        inner = _unparen(rest)
        if inner == "ASSUME_TAC":
            return Tac("atomic", text="DISCH_TAC")
        if inner == "STRIP_ASSUME_TAC":
            return Tac("atomic", text="STRIP_TAC")
        if inner == "MP_TAC":
            return ALL
        return Tac("unsupported", text=text)
    if head == "ASM" and rest:  # ASM MESON_TAC [...] is ASM_MESON_TAC [...], and so on
        m2 = _WORD.match(rest)
        if m2 and "ASM_" + m2.group() in TACTICS:
            return parse_tactical("ASM_" + m2.group() + rest[m2.end():])
        return Tac("unsupported", text=text)
    if head == "POP_ASSUM" and _unparen(rest) == "MP_TAC":
        return Tac("pop_mp")
    try:
        return Tac("atomic", text=str(parse_tactic(text)))
    except TacticSyntaxError:
        return Tac("unsupported", text=text)


# ---------------------------------------------------------------------------------------------- replay
class _Failed(Exception):
    """The tactical expression fails on this goal (as a HOL Light tactic raises ``Failure``)."""


@dataclass
class Replay:
    """The result of replaying one proof: its attempt (tree), whether it closed the theorem, what stopped it."""

    proof: SourceProof
    attempt: Any
    proved: bool
    steps: int  # atomic tactics that succeeded
    stopped: list[str] = field(default_factory=list)  # what could not be replayed (unsupported or failing)
    seconds: float = 0.0


class Replayer:
    """Interprets tactical expressions on a ``ProofAttempt`` (HOL Light's semantics, one atomic tactic per
    application). Results are lists of open goals, as HOL Light's tactics return them."""

    def __init__(self, attempt: Any) -> None:
        self.attempt = attempt
        self.steps = 0
        self.applications = 0
        self.stopped: list[str] = []

    def run(self, tac: Tac, node: Any) -> list[Any]:
        op = tac.op
        if op == "all":
            return [node]
        if op == "no":
            raise _Failed("NO_TAC")
        if op == "unsupported":
            self.stopped.append(f"outside the grammar: {tac.text[:80]}")
            raise _Failed(tac.text)
        if op in ("atomic", "pop_mp"):
            return self._apply(tac, node)
        if op in ("then", "every"):
            goals = [node]
            for part in tac.args:
                goals = [g for goal in goals for g in self.run(part, goal)]
            return goals
        if op == "thenl":
            goals = self.run(tac.args[0], node)
            if len(goals) != len(tac.args) - 1:
                raise _Failed(f"THENL: {len(goals)} goals for {len(tac.args) - 1} tactics")
            return [g for goal, part in zip(goals, tac.args[1:], strict=True) for g in self.run(part, goal)]
        if op in ("orelse", "first"):
            for part in tac.args[:-1]:
                try:
                    return self.run(part, node)
                except _Failed:
                    continue
            return self.run(tac.args[-1], node)
        if op == "try":
            try:
                return self.run(tac.args[0], node)
            except _Failed:
                return [node]
        if op == "repeat":
            return self._repeat(tac.args[0], node, 0)
        raise AssertionError(op)

    def _repeat(self, tac: Tac, node: Any, depth: int) -> list[Any]:
        if depth >= MAX_REPEAT:
            return [node]
        try:
            goals = self.run(tac, node)
        except _Failed:
            return [node]
        if goals == [node]:  # no change: HOL Light's REPEAT would loop; stop here
            return [node]
        return [g for goal in goals for g in self._repeat(tac, goal, depth + 1)]

    def _apply(self, tac: Tac, node: Any) -> list[Any]:
        if self.applications >= MAX_APPLICATIONS:
            raise _Failed("too many applications")
        text = tac.text
        if tac.op == "pop_mp":
            hyps = node.goal.data.hyps
            if not hyps:
                raise _Failed("POP_ASSUM: no assumptions")
            text = f"UNDISCH_TAC `{hyps[-1]}`"
            try:
                parse_tactic(text)
            except TacticSyntaxError as e:
                self.stopped.append(f"POP_ASSUM MP_TAC: {e}")
                raise _Failed(str(e)) from e
        self.applications += 1
        edge = self.attempt.apply_tactic(node, text)
        if edge.is_error:
            raise _Failed(edge.message)
        self.steps += 1
        if edge.cycle or list(edge.children) == [node]:
            return [node]
        return list(edge.children)


def replay(backend: Any, theorem: Any, proof: SourceProof) -> Replay:
    """Replay one core proof of ``theorem`` through ``backend`` (see the module docstring)."""
    from aitp_gym.attempt import ProofAttempt

    t0 = time.perf_counter()
    attempt = ProofAttempt(backend, theorem)
    runner = Replayer(attempt)
    try:
        left = runner.run(parse_tactical(proof.tactic), attempt.root)
        proved = not left and attempt.tree.proved
    except _Failed as e:
        proved = False
        if not runner.stopped:
            runner.stopped.append(f"failed: {str(e)[:120]}")
    return Replay(proof, attempt, proved, runner.steps, runner.stopped, time.perf_counter() - t0)


def record_of(r: Replay) -> TraceRecord:
    """One replay as an ordinary trace record (``source: "human"``)."""
    import datetime as _dt

    import aitp_gym

    attempt = r.attempt
    header = {
        "env_id": "HOList-v0", "theorem_id": attempt.theorem.id, "statement": attempt.theorem.statement,
        "theorem_data": {"index": attempt.theorem.data["index"]},
        "aitp_gym_version": aitp_gym.__version__, "prover_version": attempt.prover["prover_version"],
        "tactic_timeout": attempt.prover["tactic_timeout"], "source": "human",
        "human_proof": {"file": r.proof.file, "tactic": r.proof.tactic},
        "planner": "human-proof-replay", "policy": "human",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    result = {"proved": r.proved, "steps": r.steps, "stopped": r.stopped[:5], "wall_time": round(r.seconds, 3),
              "tree": attempt.tree.stats()}
    return TraceRecord.from_tree(attempt.tree, header, result)


# ---------------------------------------------------------------------------------------------- which proofs
def train_proofs(database: Any, proofs: Iterable[SourceProof] | None = None) -> list[SourceProof]:
    """The core proofs of **train-split** theorems that the database holds as proved there: the name's last
    binding, and no theorem used that the sources bind again later (as in ``fidelity.select``)."""
    from aitp_gym.envs.holist.fidelity import last_bindings

    last = last_bindings()
    rank = {path.name: f for f, path in enumerate(core_files())}
    out = []
    for p in source_proofs() if proofs is None else proofs:
        entry = database.by_name.get(p.name)
        if entry is None or entry["split"] != "train":
            continue
        here = (rank.get(p.file, -1), p.phrase)
        if last.get(p.name) != here:
            continue
        if any(last.get(n, here) > here for n in names_in(p.tactic) if database.index_of(n) is not None):
            continue
        out.append(p)
    return out


# ---------------------------------------------------------------------------------------------- the cached logs
def proof_logs_path(version: str | None = None) -> Path:
    """Where the logs for this HOL Light version are cached (one gzipped trace file)."""
    version = version or hol_light_version()
    return cache_dir() / f"proof-logs-{PROOF_LOGS_FORMAT}-{_safe(version)}.jsonl.gz"


@dataclass
class LogSummary:
    path: str
    theorems: int  # train theorems whose proof was replayed (at least one step)
    proved: int  # of which the replay closed the theorem
    steps: int  # atomic tactic applications that succeeded (``human_steps``)
    pairs: int  # (goal, tactic) pairs of proved goals (what ``tactic_pairs`` reads)
    seconds: float

    def line(self) -> str:
        return (f"{self.steps} human tactic steps, {self.pairs} of them on goals the proofs close, from "
                f"{self.theorems} train theorems ({self.proved} replayed to the end) in {self.seconds:.0f} s: "
                f"{self.path}")


def build_proof_logs(backend: Any, out: str | Path | None = None, proofs: Iterable[SourceProof] | None = None,
                     progress: bool = True, status: Callable[[str], None] | None = None) -> LogSummary:
    """Replay the train-split core proofs (all, or ``proofs``) and write their records to ``out`` (default: the
    cache, ``proof_logs_path()``), atomically."""
    from aitp_gym.agents.buffers import tactic_pairs
    from aitp_gym.progress import progress as bar_of

    t0 = time.perf_counter()
    backend.prepare(status)
    db = backend.database
    chosen = train_proofs(db, proofs)
    theorems = {t.id: t for t in backend.theorems("train")}
    records, proved, steps = [], 0, 0
    bar = bar_of(total=len(chosen), desc="human proofs", unit="proofs", enabled=progress)
    try:
        for p in chosen:
            r = replay(backend, theorems[p.name], p)
            bar.update(1)
            if r.steps == 0:
                continue
            records.append(record_of(r))
            proved += r.proved
            steps += r.steps
            bar.set_postfix(steps=steps, proved=proved, refresh=False)
    finally:
        bar.close()
    path = Path(out) if out is not None else proof_logs_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_traces(path, records)
    pairs = len(tactic_pairs(records))
    steps = len(human_steps(records))  # distinct successful applications, as the records hold them
    return LogSummary(str(path), len(records), proved, steps, pairs, time.perf_counter() - t0)


def load_proof_logs(build: bool = True, backend: Any = None, status: Callable[[str], None] | None = None,
                    progress: bool = False) -> list[TraceRecord]:
    """The cached logs for this HOL Light (built first, with the real prover, when ``build`` and absent)."""
    path = proof_logs_path()
    if not path.exists():
        if not build:
            raise FileNotFoundError(f"no HOList-v0 proof logs for this HOL Light ({path}); build them with "
                                    "`aitp prepare --env HOList-v0 --proof-logs`")
        from aitp_gym.envs.holist.backend import HOListBackend

        owned = backend is None
        backend = backend or HOListBackend()
        try:
            build_proof_logs(backend, progress=progress, status=status)
        finally:
            if owned:
                backend.close()
    return list(iter_traces(path))


def prepare_proof_logs(out: str | Path | None = None, rebuild: bool = False, progress: bool = True,
                       status: Callable[[str], None] | None = None, benchmark: Any = None) -> str:
    """HOList-v0's ``EnvTraits.proof_logs`` (``aitp prepare --env HOList-v0 --proof-logs``): build the logs into the
    cache (or ``out``) unless they are cached already; one line saying what they hold."""
    from aitp_gym.agents.buffers import tactic_pairs
    from aitp_gym.envs.holist.backend import HOListBackend

    if benchmark is not None:
        raise ValueError("--benchmark is for Lean-v0; HOList-v0's proof logs come from HOL Light's own sources")
    path = Path(out) if out is not None else proof_logs_path()
    if path.exists() and not rebuild:
        records = list(iter_traces(path))
        return (f"{len(human_steps(records))} human tactic steps, {len(tactic_pairs(records))} of them on goals the "
                f"proofs close, from {len(records)} train theorems, already built: {path} "
                "(--rebuild builds them again)")
    backend = HOListBackend()
    try:
        return build_proof_logs(backend, out=path, progress=progress, status=status).line()
    finally:
        backend.close()


def human_steps(records: Iterable[TraceRecord]) -> list[tuple[str, str]]:
    """Every atomic tactic application that succeeded in the human proofs, as (goal text, tactic), in proof order:
    the steps of proofs that were replayed to the end, and those before the point where a replay stopped."""
    out = []
    for r in records:
        texts = r.node_texts()
        out.extend((texts[e["parent"]], e["tactic"]) for e in r.edges
                   if e["outcome"] not in ("error", "timeout") and not e.get("cycle"))
    return out


def human_pairs(split: str = "train", limit: int | None = None) -> list[tuple[str, str]]:
    """HOList-v0's ``EnvTraits.ground_truth_pairs``: every step of the human proofs (``human_steps``) from the cached
    logs (built on first use). Only the train split has logs."""
    if split != "train":
        raise ValueError("HOList-v0's human proof logs hold train-split theorems only")
    pairs = human_steps(load_proof_logs())
    return pairs[:limit] if limit is not None else pairs
