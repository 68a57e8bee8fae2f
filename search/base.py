"""The expand loop that every planner shares: select → propose → apply → update.

A planner subclasses ``Planner`` and fills in ``reset`` (its own statistics), ``select`` (which open
goals to expand next) and ``update`` (what to do with the new edges). The loop owns budgets,
timing, proof extraction, replay checking and the trace. Nothing here knows about Gymnasium or
any prover.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import heapq
import itertools
import json
import math
import time
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import aitp_gym
from aitp_gym.attempt import ProofAttempt, as_attempt
from aitp_gym.policy import ConstantCritic, Critic, TacticPolicy, UniformPolicy, default_critic
from aitp_gym.proof import ProofStep, extract_proof
from aitp_gym.trace import TraceRecord, write_trace
from aitp_gym.tree import Edge, Goal, ProofNode, ProofTree


@dataclass
class SearchSettings:
    """Budgets and options every planner has."""

    max_expansions: int = 200
    """Budget: how many goals may be expanded (one expansion applies up to ``tactics_per_expansion`` tactics)."""
    time_limit: float = 60.0
    """Budget: wall-clock seconds for the whole search."""
    tactics_per_expansion: int | None = None
    """How many of the policy's candidates to try per expanded goal; None: all it offers."""
    early_stop: bool = True
    """Stop as soon as the root is proved."""
    check_proof: bool = True
    """Replay the found proof on a fresh prover; "proved" is reported only if the replay succeeds."""

    def __post_init__(self) -> None:
        """Every setting has its declared type (an int where a float is declared is fine) and the budgets are in
        range, so that a bad value from a config file fails here, naming the setting, and not mid-search."""
        for name, (kind, optional) in _setting_types(type(self)).items():
            value = getattr(self, name)
            if value is None and optional:
                continue
            if not _has_type(value, kind):
                what = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}
                raise ValueError(f"{name} must be {what.get(kind, kind.__name__)}"
                                 f"{' or None' if optional else ''}, not {value!r}")
        if self.max_expansions < 1:
            raise ValueError(f"max_expansions must be 1 or more, not {self.max_expansions}")
        if self.time_limit <= 0:
            raise ValueError(f"time_limit must be more than 0 seconds, not {self.time_limit}")
        if self.tactics_per_expansion is not None and self.tactics_per_expansion < 1:
            raise ValueError(f"tactics_per_expansion must be 1 or more (or None: all), not "
                             f"{self.tactics_per_expansion}")


def _has_type(value: Any, kind: type) -> bool:
    if kind is float:  # an int is a float here; a bool is not a number; nan and inf are refused
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


@functools.cache
def _setting_types(cls: type) -> dict[str, tuple[type, bool]]:
    """``{field: (type, None allowed)}`` of a settings dataclass, from its annotations."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        args = typing.get_args(hints[f.name])
        kinds = [a for a in args if a is not type(None)] or [hints[f.name]]
        out[f.name] = (kinds[0], type(None) in args)
    return out


@dataclass
class SearchResult:
    theorem_id: str
    planner: str
    proved: bool
    proof: ProofStep | None
    stop_reason: str  # proved | failed | expansions | time | exhausted
    expansions: int
    applications: int
    wall_time: float
    prover_time: float
    policy_time: float
    tree_time: float = 0.0
    replay_message: str = ""
    rejected: int = 0
    """Tactics the policy proposed that the prover rejected (error or timeout outcomes)."""
    proposal_entropy: float | None = None
    """Mean entropy (nats) of the policy's proposals per expanded goal, renormalised over what it proposed: a
    policy collapsing onto a few tactics shows here first."""
    trace: TraceRecord | None = field(default=None, repr=False)

    @property
    def bookkeeping_time(self) -> float:
        """Planner overhead: everything that is neither the prover (replay included), the model (policy and
        critic) nor the shared tree's status propagation."""
        return max(0.0, self.wall_time - self.prover_time - self.policy_time - self.tree_time)

    def summary(self) -> dict[str, Any]:
        return {
            "theorem_id": self.theorem_id, "planner": self.planner, "proved": self.proved,
            "stop_reason": self.stop_reason, "expansions": self.expansions, "applications": self.applications,
            "wall_time": self.wall_time, "prover_time": self.prover_time, "policy_time": self.policy_time,
            "tree_time": self.tree_time,
            "bookkeeping_time": self.bookkeeping_time, "proof_size": self.proof.size() if self.proof else None,
            "replay_message": self.replay_message, "rejected": self.rejected,
            "proposal_entropy": self.proposal_entropy,
        }


class Planner(ABC):
    """A proof-search strategy over the shared ``ProofTree``."""

    name: ClassVar[str]
    Settings: ClassVar[type[SearchSettings]] = SearchSettings

    def __init__(self, settings: SearchSettings | None = None, **overrides: Any) -> None:
        self.settings = dataclasses.replace(settings or self.Settings(), **overrides)
        self.policy: TacticPolicy | None = None
        self.critic: Critic | None = None
        self.model_time = 0.0
        self.cut_short: set[int] = set()
        self._deadline = math.inf

    # -- what a planner implements ------------------------------------------------------------
    @abstractmethod
    def reset(self, tree: ProofTree) -> None:
        """Start fresh statistics for a new search on ``tree``, as the search finds it: the tree may already
        hold edges (manual ``env.step`` calls, an earlier search). Goals that are not ``exhausted`` may be
        expanded, whether or not they have edges; ``open_goals`` and ``best_path_logprobs`` help."""

    @abstractmethod
    def select(self, tree: ProofTree) -> list[ProofNode]:
        """The open goals to expand next (empty: nothing left to do)."""

    @abstractmethod
    def update(self, node: ProofNode, edges: list[Edge]) -> None:
        """Take in the edges that expanding ``node`` produced."""

    def after_batch(self) -> None:
        """Called once the whole batch from ``select`` has been expanded (HTPS backs up here)."""
        return None

    def node_stats(self) -> dict[int, dict[str, Any]]:
        """Per-node statistics to record in the trace (visit counts, values, ...)."""
        return {}

    # -- helpers for planners -----------------------------------------------------------------
    def critic_values(self, goals: Sequence[Goal]) -> list[float]:
        """The critic's provability estimates, clipped to [0, 1] and timed as model time."""
        if not goals:
            return []
        t0 = time.perf_counter()
        values = (self.critic or ConstantCritic()).value(goals)
        self.model_time += time.perf_counter() - t0
        if len(values) != len(goals):
            raise ValueError(f"critic {getattr(self.critic, 'name', self.critic)!r} returned {len(values)} values "
                             f"for {len(goals)} goals")
        return [min(1.0, max(0.0, float(v))) for v in values]

    def expand(self, attempt: ProofAttempt, nodes: list[ProofNode]) -> list[list[Edge]]:
        """Ask the policy for candidates for every node in one batch, and apply them.

        Returns every edge of each node afterwards: the ones found in the tree (a manual ``env.step``, an
        earlier search) and the new ones. A tactic that already has an edge on the goal is not applied again.
        Each application is bounded by the time left in the budget; a node whose candidates could not all be
        applied before the deadline is left unexhausted (``self.cut_short``), so a later search resumes it.
        """
        t0 = time.perf_counter()
        proposals = self.policy.propose([n.goal for n in nodes], self.settings.tactics_per_expansion)
        self.model_time += time.perf_counter() - t0
        default_timeout = attempt.tactic_timeout or attempt.prover["tactic_timeout"]
        out = []
        for node, candidates in zip(nodes, proposals, strict=True):
            self._entropies.append(_entropy([logprob for _, logprob in candidates]))
            tried = {e.tactic for e in node.edges}
            for tactic, logprob in candidates:
                if tactic in tried:
                    continue
                left = self._deadline - time.perf_counter()
                if left <= 0:
                    self.cut_short.add(node.id)
                    break
                tried.add(tactic)
                timeout = None if default_timeout is None else min(default_timeout, left)
                self.rejected += attempt.apply_tactic(node, tactic, logprob, timeout=timeout).is_error
            out.append(list(node.edges))
        return out

    # -- the loop ------------------------------------------------------------------------------
    def search(self, target: Any, policy: TacticPolicy | None = None, critic: Critic | None = None,
               trace_path: str | Path | None = None, header: dict[str, Any] | None = None) -> SearchResult:
        """Search for a proof of the theorem of ``target`` (a ``ProofAttempt`` or a reset ``ProofEnv``).

        Without a policy, the uniform distribution over the backend's enumerated tactics is used;
        without a critic, the environment's model-free default (``default_critic``). A policy with a
        ``bind_backend(backend)`` method (the ranker, seq2seq's ``rank`` decoding) is bound to the searched backend.
        """
        attempt = as_attempt(target)
        tree = attempt.tree
        self.policy = policy or UniformPolicy(attempt.backend)
        bind = getattr(self.policy, "bind_backend", None)
        if bind is not None:  # policies that score the backend's enumerated tactics (rankers) learn which backend
            bind(attempt.backend)
        self.critic = critic or default_critic(attempt.backend)
        self.model_time = 0.0
        settings = self.settings
        started = time.perf_counter()
        self._deadline = started + settings.time_limit
        self.cut_short: set[int] = set()
        self.rejected, self._entropies = 0, []
        prover_before, apps_before, tree_before = attempt.prover_time, attempt.applications, attempt.tree_time
        self.reset(tree)
        expansions, stop_reason = 0, "exhausted"
        while True:
            if tree.proved and settings.early_stop:
                stop_reason = "proved"
                break
            if tree.failed:
                stop_reason = "failed"
                break
            if expansions >= settings.max_expansions:
                stop_reason = "expansions"
                break
            if time.perf_counter() - started >= settings.time_limit:
                stop_reason = "time"
                break
            batch = self.select(tree)[: settings.max_expansions - expansions]
            if not batch:
                stop_reason = "proved" if tree.proved else "exhausted"
                break
            for node, edges in zip(batch, self.expand(attempt, batch), strict=True):
                expansions += 1
                if node.id not in self.cut_short:
                    tree.mark_exhausted(node)  # every planner here expands a goal once, with all its candidates
                self.update(node, edges)
            self.after_batch()

        proof = extract_proof(tree) if tree.proved else None
        replay_message = ""
        proved = proof is not None
        replay_time = 0.0
        if proof is not None and settings.check_proof:
            t0 = time.perf_counter()
            proved, replay_message = attempt.check(proof)
            replay_time = time.perf_counter() - t0
            if not proved:
                replay_message = f"replay failed: {replay_message}"
        wall = time.perf_counter() - started
        result = SearchResult(attempt.theorem.id, self.name, proved, proof if proved else None, stop_reason,
                              expansions, attempt.applications - apps_before, wall,
                              attempt.prover_time - prover_before + replay_time, self.model_time,
                              attempt.tree_time - tree_before, replay_message, self.rejected,
                              sum(self._entropies) / len(self._entropies) if self._entropies else None)
        result.trace = self._trace(attempt, result, header or {})
        if trace_path is not None:
            write_trace(trace_path, result.trace)
        return result

    def _trace(self, attempt: ProofAttempt, result: SearchResult, extra: dict[str, Any]) -> TraceRecord:
        backend = attempt.backend
        header = {
            "env_id": getattr(backend, "env_id", type(backend).__name__),
            "theorem_id": attempt.theorem.id,
            "statement": attempt.theorem.statement,
            "theorem_data": _jsonable(attempt.theorem.data),
            "aitp_gym_version": aitp_gym.__version__,
            "prover_version": attempt.prover["prover_version"],
            "tactic_timeout": attempt.tactic_timeout or attempt.prover["tactic_timeout"],
            "planner": self.name,
            "settings": dataclasses.asdict(self.settings),
            "policy": getattr(self.policy, "name", type(self.policy).__name__),
            "critic": getattr(self.critic, "name", type(self.critic).__name__),
            "budget": {"max_expansions": self.settings.max_expansions, "time_limit": self.settings.time_limit},
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            **extra,
        }
        body = result.summary()
        body["proof"] = result.proof.to_dict() if result.proof else None
        body["proof_script"] = result.proof.tactics() if result.proof else None
        body["tree"] = attempt.tree.stats()
        return TraceRecord.from_tree(attempt.tree, header, body, self.node_stats())


def is_relevant(node: ProofNode) -> bool:
    """Worth expanding: open, and still needed by some open parent (or the root)."""
    if not node.is_open:
        return False
    if not node.parent_edges:
        return True
    return any(e.parent.is_open and not e.is_dead for e in node.parent_edges)


def _jsonable(data: Any) -> dict[str, Any]:
    """The JSON-serialisable part of a theorem's data (numpy arrays become lists, exactly)."""
    out = {}
    for key, value in dict(data or {}).items():
        try:
            json.dumps(value, default=_array_to_list)
        except (TypeError, ValueError):
            continue
        out[str(key)] = value.tolist() if hasattr(value, "tolist") else value
    return out


def _array_to_list(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(type(obj).__name__)


def live_edges(node: ProofNode) -> Iterator[Edge]:
    """Edges of ``node`` that may still help prove it: no error, no cycle, no failed child."""
    return (e for e in node.edges if not e.cycle and not e.is_dead)


def open_goals(tree: ProofTree) -> list[ProofNode]:
    """The open goals reachable from the root along live edges, breadth-first (the root first)."""
    if not tree.root.is_open:
        return []
    order, seen = [tree.root], {tree.root.id}
    for node in order:  # grows while iterating: a breadth-first walk
        for edge in live_edges(node):
            for child in edge.children:
                if child.is_open and child.id not in seen:
                    seen.add(child.id)
                    order.append(child)
    return order


def best_path_logprobs(tree: ProofTree) -> dict[int, float]:
    """For every open goal reachable from the root, the best sum of tactic log-probabilities along a path
    from the root (Dijkstra; exact while log-probabilities are <= 0)."""
    best: dict[int, float] = {}
    tie = itertools.count()
    heap = [(0.0, next(tie), tree.root)] if tree.root.is_open else []
    while heap:
        neg, _, node = heapq.heappop(heap)
        if node.id in best:
            continue
        best[node.id] = -neg
        for edge in live_edges(node):
            for child in edge.children:
                if child.is_open and child.id not in best:
                    heapq.heappush(heap, (neg - edge.logprob, next(tie), child))
    return best


def _entropy(logprobs: Sequence[float]) -> float:
    """Entropy (nats) of the distribution ``logprobs`` renormalised over themselves (0 for one or none)."""
    if len(logprobs) < 2:
        return 0.0
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return -sum(w / total * math.log(w / total) for w in weights if w > 0)


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The one summary of a set of searches (``SearchResult.summary()`` dicts): how many were attempted and proved,
    the proof rate, mean wall time and expansions, mean expansions of the proved ones, and the seconds per
    expansion spent in the prover, the models and the planner's bookkeeping, and the degeneration watch: the share
    of applied proposals the prover rejected and the mean entropy of the proposals. ``aitp prove``'s ``summary.json``
    and ``aitp loop``'s ``rounds.jsonl`` both hold it."""
    n = len(results)
    proved = [r for r in results if r["proved"]]
    expansions = sum(r["expansions"] for r in results)
    per = expansions or 1
    entropies = [r["proposal_entropy"] for r in results if r.get("proposal_entropy") is not None]
    return {
        "attempted": n, "proved": len(proved), "proof_rate": len(proved) / n if n else 0.0,
        "mean_time": sum(r["wall_time"] for r in results) / n if n else 0.0,
        "mean_expansions": expansions / n if n else 0.0,
        "mean_expansions_to_proof": sum(r["expansions"] for r in proved) / len(proved) if proved else None,
        "prover_s_per_expansion": sum(r["prover_time"] for r in results) / per,
        "model_s_per_expansion": sum(r["policy_time"] for r in results) / per,
        "bookkeeping_s_per_expansion": sum(r["bookkeeping_time"] + r["tree_time"] for r in results) / per,
        # what shows a collapsing policy: the share of proposals the prover rejects, the spread of the proposals
        "rejected_share": sum(r.get("rejected", 0) for r in results) / max(1, sum(r["applications"] for r in results)),
        "proposal_entropy": sum(entropies) / len(entropies) if entropies else None,
    }
