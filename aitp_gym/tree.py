"""The shared AND-OR proof tree.

A ``ProofTree`` holds one ``ProofNode`` per distinct goal key, so it is really a DAG (and, when a
tactic leads back to an earlier goal, a graph with cycles). A node is an OR over its edges; an
``Edge`` is one tactic application and an AND over its children.

Status rules:

* PROVED is a least fixpoint: a node becomes PROVED when some edge has all of its children PROVED
  (an edge with no children closes the goal). The edge that first did so is kept as
  ``node.proof_edge``; since its children were proved strictly earlier, following proof edges
  always terminates, and a cycle can never prove anything by circular reasoning.
* FAILED is exact: a node is FAILED when it is *exhausted* (the planner will not try more tactics
  on it) and no edge can still lead to a proof. An edge is dead when its outcome is an error or
  timeout, or when a child is FAILED. Nodes that only reach each other through a cycle, with
  nothing else left to try, fail together.
* An edge whose child is an ancestor of its parent (or the parent itself) is flagged ``cycle``.
  Planners use the flag to avoid walking around the loop.

Status changes propagate to ancestors at once. Planner statistics live in the planners, keyed by
node or edge id; this module knows nothing of Gymnasium, torch or any prover.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class Status(enum.Enum):
    OPEN = "open"
    PROVED = "proved"
    FAILED = "failed"


@dataclass(frozen=True)
class Goal:
    """An immutable proof goal.

    ``text`` is what a person (or a language model) reads; ``key`` identifies the goal for
    deduplication. ``data`` carries prover-specific payload (an expression, an s-expression, a
    Lean state id) and takes no part in equality.
    """

    text: str
    key: str = ""
    data: Any = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", " ".join(self.text.split()))


class OutcomeKind(enum.Enum):
    OK = "ok"  # the tactic produced subgoals
    PROVED = "proved"  # the tactic closed the goal
    ERROR = "error"  # the prover (or the action parser) rejected the tactic
    TIMEOUT = "timeout"  # the tactic ran out of time


ERROR_OUTCOMES = (OutcomeKind.ERROR, OutcomeKind.TIMEOUT)
"""Outcomes of a tactic that did not apply (a tuple: ``in`` on it is an identity check, cheap in hot loops)."""


@dataclass(frozen=True)
class Outcome:
    """What applying one tactic to one goal gave. Expected failures are values, not exceptions."""

    kind: OutcomeKind
    subgoals: tuple[Goal, ...] = ()
    message: str = ""
    elapsed: float = 0.0

    @classmethod
    def ok(cls, subgoals: tuple[Goal, ...] | list[Goal], elapsed: float = 0.0) -> Outcome:
        return cls(OutcomeKind.OK, tuple(subgoals), "", elapsed)

    @classmethod
    def proved(cls, elapsed: float = 0.0) -> Outcome:
        return cls(OutcomeKind.PROVED, (), "", elapsed)

    @classmethod
    def error(cls, message: str, elapsed: float = 0.0) -> Outcome:
        return cls(OutcomeKind.ERROR, (), message, elapsed)

    @classmethod
    def timeout(cls, message: str = "tactic timed out", elapsed: float = 0.0) -> Outcome:
        return cls(OutcomeKind.TIMEOUT, (), message, elapsed)

    @property
    def failed(self) -> bool:
        return self.kind in ERROR_OUTCOMES


class ProofNode:
    __slots__ = ("id", "goal", "status", "edges", "parent_edges", "exhausted", "proof_edge", "depth")

    def __init__(self, node_id: int, goal: Goal, depth: int) -> None:
        self.id = node_id
        self.goal = goal
        self.status = Status.OPEN
        self.edges: list[Edge] = []  # tactic applications on this goal (OR)
        self.parent_edges: list[Edge] = []  # edges that have this node as a child
        self.exhausted = False
        self.proof_edge: Edge | None = None
        self.depth = depth  # length of the shortest known path from the root

    @property
    def is_open(self) -> bool:
        return self.status is Status.OPEN

    @property
    def expanded(self) -> bool:
        return bool(self.edges)

    def __repr__(self) -> str:
        return f"ProofNode({self.id}, {self.status.value}, {self.goal.text[:40]!r})"


class Edge:
    __slots__ = ("id", "parent", "tactic", "logprob", "outcome", "message", "elapsed", "time",
                 "children", "cycle")

    def __init__(self, edge_id: int, parent: ProofNode, tactic: str, logprob: float, outcome: OutcomeKind,
                 message: str, elapsed: float, time_: float, children: tuple[ProofNode, ...],
                 cycle: bool) -> None:
        self.id = edge_id
        self.parent = parent
        self.tactic = tactic
        self.logprob = logprob
        self.outcome = outcome
        self.message = message
        self.elapsed = elapsed
        self.time = time_
        self.children = children
        self.cycle = cycle

    @property
    def is_error(self) -> bool:
        return self.outcome in ERROR_OUTCOMES

    @property
    def is_dead(self) -> bool:
        """An edge that can never contribute to a proof."""
        return self.is_error or any(c.status is Status.FAILED for c in self.children)

    @property
    def is_proof(self) -> bool:
        return not self.is_error and all(c.status is Status.PROVED for c in self.children)

    def __repr__(self) -> str:
        return f"Edge({self.id}, {self.parent.id} --{self.tactic!r}--> {[c.id for c in self.children]})"


class ProofTree:
    """An AND-OR graph of goals, built by tactic applications, with status propagation."""

    def __init__(self, root_goal: Goal) -> None:
        self.nodes: list[ProofNode] = []
        self.edges: list[Edge] = []
        self._by_key: dict[str, ProofNode] = {}
        self._start = time.monotonic()
        self.root = self._node_for(root_goal, depth=0)

    # ------------------------------------------------------------------ construction
    def _node_for(self, goal: Goal, depth: int) -> ProofNode:
        node = self._by_key.get(goal.key)
        if node is None:
            node = ProofNode(len(self.nodes), goal, depth)
            self.nodes.append(node)
            self._by_key[goal.key] = node
        elif depth < node.depth:
            node.depth = depth
        return node

    def get(self, goal_key: str) -> ProofNode | None:
        return self._by_key.get(goal_key)

    def add_edge(self, parent: ProofNode, tactic: str, outcome: Outcome, logprob: float = 0.0) -> Edge:
        """Record one tactic application on ``parent`` and propagate any status change."""
        children = tuple(dict.fromkeys(self._node_for(g, parent.depth + 1) for g in outcome.subgoals))
        if outcome.kind is OutcomeKind.PROVED and children:
            raise ValueError("an outcome that closes the goal cannot have subgoals")
        cycle = bool(children) and self._reaches(children, parent)
        edge = Edge(len(self.edges), parent, tactic, logprob, outcome.kind, outcome.message, outcome.elapsed,
                    time.monotonic() - self._start, children, cycle)
        self.edges.append(edge)
        parent.edges.append(edge)
        for child in children:
            child.parent_edges.append(edge)
        if parent.is_open and edge.is_proof:
            self._mark_proved(parent, edge)
        elif parent.exhausted and parent.is_open:
            self._update_failed(parent)
        return edge

    def mark_exhausted(self, node: ProofNode) -> None:
        """Say that no more tactics will be tried on ``node``; it may then become FAILED."""
        if not node.exhausted:
            node.exhausted = True
            if node.is_open:
                self._update_failed(node)

    # ------------------------------------------------------------------ propagation
    def _reaches(self, sources: tuple[ProofNode, ...], target: ProofNode) -> bool:
        """Whether ``target`` is reachable from any of ``sources`` along edges (child direction)."""
        stack, seen = list(sources), set()
        while stack:
            node = stack.pop()
            if node is target:
                return True
            if node.id in seen:
                continue
            seen.add(node.id)
            for edge in node.edges:
                stack.extend(edge.children)
        return False

    def _mark_proved(self, node: ProofNode, edge: Edge) -> None:
        worklist = [(node, edge)]
        while worklist:
            node, edge = worklist.pop()
            if not node.is_open:
                continue
            node.status = Status.PROVED
            node.proof_edge = edge
            for parent_edge in node.parent_edges:
                if parent_edge.parent.is_open and parent_edge.is_proof:
                    worklist.append((parent_edge.parent, parent_edge))

    def _update_failed(self, changed: ProofNode) -> None:
        """Recompute FAILED over the open ancestors of ``changed``.

        Only those ancestors can change status. Within them, a node stays alive if it is not
        exhausted, or if some live edge has every child PROVED, alive, or open outside the region
        (whose status this change cannot affect). What is not alive at the fixpoint is FAILED.
        """
        # Fast path, the common case: an edge whose children are proved or still expandable.
        for edge in changed.edges:
            if not edge.is_error and all(c.status is Status.PROVED or (c.is_open and not c.exhausted)
                                         for c in edge.children):
                return
        region: dict[int, ProofNode] = {}
        stack = [changed]
        while stack:
            node = stack.pop()
            if node.id in region or not node.is_open:
                continue
            region[node.id] = node
            stack.extend(e.parent for e in node.parent_edges)

        alive = {nid for nid, n in region.items() if not n.exhausted}
        changed_any = True
        while changed_any:
            changed_any = False
            for nid, node in region.items():
                if nid in alive:
                    continue
                for edge in node.edges:
                    if edge.is_error:
                        continue
                    if all(c.status is Status.PROVED or (c.is_open and (c.id not in region or c.id in alive))
                           for c in edge.children):
                        alive.add(nid)
                        changed_any = True
                        break
        for nid, node in region.items():
            if nid not in alive:
                node.status = Status.FAILED

    # ------------------------------------------------------------------ queries
    def open_leaves(self) -> Iterator[ProofNode]:
        """Open nodes that have not been expanded yet."""
        return (n for n in self.nodes if n.is_open and not n.edges)

    def ancestors(self, node: ProofNode) -> set[int]:
        seen: set[int] = set()
        stack = [node]
        while stack:
            n = stack.pop()
            for e in n.parent_edges:
                if e.parent.id not in seen:
                    seen.add(e.parent.id)
                    stack.append(e.parent)
        return seen

    @property
    def proved(self) -> bool:
        return self.root.status is Status.PROVED

    @property
    def failed(self) -> bool:
        return self.root.status is Status.FAILED

    def stats(self) -> dict[str, int]:
        return {
            "nodes": len(self.nodes),
            "edges": len(self.edges),
            "error_edges": sum(e.is_error for e in self.edges),
            "proved_nodes": sum(n.status is Status.PROVED for n in self.nodes),
            "failed_nodes": sum(n.status is Status.FAILED for n in self.nodes),
            "expanded_nodes": sum(bool(n.edges) for n in self.nodes),
        }
