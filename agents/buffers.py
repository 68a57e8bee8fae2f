"""Rollout buffers: plain training examples built from search traces (the one trace format). No torch here.

Every builder takes an iterable of :class:`~aitp_gym.trace.TraceRecord` (for example
``iter_traces("runs/x/traces")``, which streams) and reads one record at a time.

* :func:`tactic_pairs` — seq2seq / expert iteration: ``(goal, tactic)`` for every PROVED goal, the first tactic
  of that goal's minimal proof (fewest tactics) inside the trace.
* :func:`preference_pairs` — DPO: at one goal, a tactic on its minimal proof (or else one that worked) against a
  tactic that failed there, with both log-probabilities recorded at search time.
* :func:`transitions` — ILQL: one transition per tactic application, with BAIT's rewards by default.
* :func:`value_targets` — critic: HTPS's own targets where the trace has them (1 proved, a soft value from visit
  counts, 0 failed), else 1 for PROVED and 0 for FAILED goals.
* :func:`ground_truth_pairs` — an env's generator proofs (SR-v0's) as ``(goal, tactic)`` pairs, for pre-training.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aitp_gym.trace import TraceRecord
from aitp_gym.tree import ERROR_OUTCOMES, OutcomeKind

_ERRORS = {k.value for k in ERROR_OUTCOMES}
_PROVED = OutcomeKind.PROVED.value


@dataclass(frozen=True)
class TacticPair:
    goal: str
    tactic: str


@dataclass(frozen=True)
class PreferencePair:
    goal: str
    chosen: str
    rejected: str
    chosen_logprob: float
    """log π(chosen | goal) under the policy that searched (recorded in the trace)."""
    rejected_logprob: float


@dataclass(frozen=True)
class Transition:
    goal: str
    tactic: str
    reward: float
    next_goals: tuple[str, ...]
    """The subgoals the tactic produced (all must be proved: an AND); empty when it closed the goal or failed."""
    done: bool
    """No future from here: the tactic closed the goal, failed, or closed a cycle."""
    logprob: float


@dataclass(frozen=True)
class ValueTarget:
    goal: str
    target: float
    """Provability in [0, 1]."""


@dataclass
class Rewards:
    """ILQL rewards. Defaults follow BAIT's design."""

    error: float = -0.1
    """A tactic the prover rejected (or that timed out)."""
    step: float = 0.1
    """A valid tactic that leaves subgoals."""
    close_goal: float = 1.0
    """A tactic that closes its goal."""
    prove_theorem: float = 10.0
    """Added on the root's proof edge, once the theorem is proved."""


# ---------------------------------------------------------------------------------------------- one trace
class TraceGraph:
    """The AND-OR graph of one trace record, with each goal's minimal proof recomputed from the edges."""

    def __init__(self, record: TraceRecord) -> None:
        self.record = record
        self.text: dict[int, str] = record.node_texts()
        self.status: dict[int, str] = {n["id"]: n["status"] for n in record.nodes}
        self.edges_of: dict[int, list[dict[str, Any]]] = {nid: [] for nid in self.text}
        for e in record.edges:
            self.edges_of.setdefault(e["parent"], []).append(e)
        self.proof_size, self.proof_edge = self._minimal_proofs()

    def _minimal_proofs(self) -> tuple[dict[int, int], dict[int, dict[str, Any]]]:
        """Fewest tactics to prove each goal, by relaxation to a fixpoint (sizes only ever shrink)."""
        size: dict[int, int] = {}
        best: dict[int, dict[str, Any]] = {}
        changed = True
        while changed:
            changed = False
            for nid, edges in self.edges_of.items():
                for e in edges:
                    if e["outcome"] in _ERRORS or e.get("cycle"):
                        continue
                    if all(c in size for c in e["children"]):
                        s = 1 + sum(size[c] for c in e["children"])
                        if s < size.get(nid, math.inf):
                            size[nid], best[nid] = s, e
                            changed = True
        return size, best

    @property
    def root_proved(self) -> bool:
        return bool(self.record.result.get("proved"))


def _graphs(records: Iterable[TraceRecord]) -> Iterator[TraceGraph]:
    for record in records:
        yield TraceGraph(record)


# ---------------------------------------------------------------------------------------------- builders
def tactic_pairs(records: Iterable[TraceRecord], proved_theorems_only: bool = False) -> list[TacticPair]:
    """``(goal, first tactic of its minimal proof)`` for every proved goal of every trace.

    ``proved_theorems_only``: skip traces whose theorem was not proved (their proved subgoals are kept by
    default: they are correct proofs too)."""
    return [p for g in _graphs(records) if g.root_proved or not proved_theorems_only for p in _pairs(g)]


def _pairs(g: TraceGraph) -> list[TacticPair]:
    return [TacticPair(g.text[nid], e["tactic"]) for nid, e in sorted(g.proof_edge.items())]


def preference_pairs(records: Iterable[TraceRecord], per_goal: int = 4) -> list[PreferencePair]:
    """DPO pairs: at each goal with a good tactic and a failed one, up to ``per_goal`` (good, failed) pairs.

    Good: the first tactic of the goal's minimal proof, or else the most likely tactic that did not fail.
    Failed: error or timeout outcomes, most likely first (the mistakes the policy most wants to unlearn)."""
    return [p for g in _graphs(records) for p in _preferences(g, per_goal)]


def _preferences(g: TraceGraph, per_goal: int = 4) -> list[PreferencePair]:
    out = []
    for nid, edges in g.edges_of.items():
        bad = sorted((e for e in edges if e["outcome"] in _ERRORS), key=lambda e: -e["logprob"])
        if not bad:
            continue
        good = g.proof_edge.get(nid)
        if good is None:
            valid = [e for e in edges if e["outcome"] not in _ERRORS and not e.get("cycle")
                     and e["children"] != [nid]]
            if not valid:
                continue
            good = max(valid, key=lambda e: e["logprob"])
        seen = set()
        for e in bad:
            if e["tactic"] in seen or e["tactic"] == good["tactic"]:
                continue
            seen.add(e["tactic"])
            out.append(PreferencePair(g.text[nid], good["tactic"], e["tactic"], good["logprob"], e["logprob"]))
            if len(seen) >= per_goal:
                break
    return out


def transitions(records: Iterable[TraceRecord], rewards: Rewards | None = None) -> list[Transition]:
    """One ILQL transition per tactic application (errors included), in application order."""
    return [t for g in _graphs(records) for t in _transitions(g, rewards or Rewards())]


def _transitions(g: TraceGraph, r: Rewards) -> list[Transition]:
    out = []
    root_edge = g.proof_edge.get(0) if g.root_proved else None
    for e in g.record.edges:
        failed = e["outcome"] in _ERRORS
        closes = not failed and not e["children"]
        reward = r.error if failed else (r.close_goal if closes else r.step)
        if root_edge is not None and e["id"] == root_edge["id"]:
            reward += r.prove_theorem
        children = () if failed else tuple(g.text[c] for c in e["children"])
        done = failed or closes or bool(e.get("cycle"))
        out.append(Transition(g.text[e["parent"]], e["tactic"], reward, () if done else children, done,
                              e["logprob"]))
    return out


def value_targets(records: Iterable[TraceRecord]) -> list[ValueTarget]:
    """Critic targets for every goal that has one (open goals without HTPS statistics have none)."""
    return [t for record in records for t in _value_targets(record)]


def _value_targets(record: TraceRecord) -> list[ValueTarget]:
    out = []
    texts = record.node_texts()
    for n in record.nodes:
        stats = n.get("stats") or {}
        if "critic_target" in stats:  # HTPS: Evariste-style targets
            target = stats["critic_target"]
        elif n["status"] == "proved":
            target = 1.0
        elif n["status"] == "failed":
            target = 0.0
        else:
            target = None
        if target is not None:
            out.append(ValueTarget(texts[n["id"]], float(target)))
    return out


def ground_truth_pairs(env_id: str, split: str = "train", limit: int | None = None) -> list[TacticPair]:
    """``(goal, tactic)`` along the generator's proof of each theorem of ``split`` (the first ``limit``), for
    environments that have a generator (their ``EnvTraits.ground_truth_pairs``), such as SR-v0."""
    from aitp_gym.registration import env_traits, resolve

    source = env_traits(env_id).ground_truth_pairs
    if source is None:
        raise ValueError(f"{env_id} has no generator proofs (EnvTraits.ground_truth_pairs)")
    return [TacticPair(goal, tactic) for goal, tactic in resolve(source)(split, limit)]


@dataclass
class BufferStats:
    """What went into a set of buffers, for logs and the loop's ``rounds.jsonl``."""

    traces: int = 0
    proved: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def build_all(records: Iterable[TraceRecord], rewards: Rewards | None = None) -> tuple[dict[str, list], BufferStats]:
    """Every buffer from one pass over ``records`` (each trace is parsed into a graph once)."""
    stats = BufferStats()
    buffers: dict[str, list] = {"seq2seq": [], "dpo": [], "ilql": [], "critic": []}
    for record in records:
        stats.traces += 1
        stats.proved += bool(record.result.get("proved"))
        g = TraceGraph(record)
        buffers["seq2seq"] += _pairs(g)
        buffers["dpo"] += _preferences(g)
        buffers["ilql"] += _transitions(g, rewards or Rewards())
        buffers["critic"] += _value_targets(record)
    stats.counts = {k: len(v) for k, v in buffers.items()}
    return buffers, stats
