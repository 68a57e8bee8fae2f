"""Proof extraction from a PROVED tree and proof replay on a prover."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aitp_gym.tree import OutcomeKind, ProofNode, ProofTree, Status

if TYPE_CHECKING:
    from aitp_gym.backend import ProverBackend, Theorem


@dataclass
class ProofStep:
    """One tactic applied to ``goal``; ``children`` prove its subgoals, in the prover's order."""

    tactic: str
    goal: str = ""
    children: list[ProofStep] = field(default_factory=list)

    def size(self) -> int:
        return 1 + sum(c.size() for c in self.children)

    def tactics(self) -> list[str]:
        """The tactics in depth-first order, as a linear tactic script."""
        out = [self.tactic]
        for child in self.children:
            out.extend(child.tactics())
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"tactic": self.tactic, "goal": self.goal, "children": [c.to_dict() for c in self.children]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProofStep:
        return cls(d["tactic"], d.get("goal", ""), [cls.from_dict(c) for c in d.get("children", [])])


def extract_proof(tree: ProofTree, node: ProofNode | None = None) -> ProofStep | None:
    """The smallest proof (fewest tactic applications) of ``node`` (default: the root).

    A Knuth-style generalisation of Dijkstra over the AND-OR graph: a node's cost is the cheapest
    edge whose children are all settled, 1 + the children's costs. Only edges whose children were
    proved before their parent can settle it, so the result is always well-founded.
    """
    node = node or tree.root
    if node.status is not Status.PROVED:
        return None
    cost: dict[int, int] = {}
    best: dict[int, Any] = {}
    heap: list[tuple[int, int, Any]] = []
    for edge in tree.edges:
        if edge.outcome is OutcomeKind.PROVED and edge.parent.status is Status.PROVED:
            heapq.heappush(heap, (1, edge.id, edge))
    while heap:
        c, _, edge = heapq.heappop(heap)
        parent = edge.parent
        if parent.id in cost:
            continue
        cost[parent.id], best[parent.id] = c, edge
        if parent is node:
            break
        for pe in parent.parent_edges:
            if pe.is_error or pe.parent.id in cost or pe.parent.status is not Status.PROVED:
                continue
            if all(ch.id in cost for ch in pe.children):
                heapq.heappush(heap, (1 + sum(cost[ch.id] for ch in pe.children), pe.id, pe))

    def build(n: ProofNode) -> ProofStep:
        edge = best[n.id]
        return ProofStep(edge.tactic, n.goal.text, [build(ch) for ch in edge.children])

    return build(node) if node.id in best else None


def replay_proof(backend: ProverBackend, theorem: Theorem, proof: ProofStep,
                 timeout: float | None = None) -> tuple[bool, str]:
    """Replay ``proof`` on ``backend`` from the theorem's root goal; (ok, reason if not)."""
    stack = [(backend.start(theorem), proof, "root")]
    while stack:
        goal, step, where = stack.pop()
        outcome = backend.apply(goal, step.tactic, timeout)
        if outcome.failed:
            return False, f"at {where}: {step.tactic!r} failed: {outcome.message}"
        if len(outcome.subgoals) != len(step.children):
            return False, (f"at {where}: {step.tactic!r} left {len(outcome.subgoals)} subgoal(s), "
                           f"the proof has {len(step.children)}")
        for i, (sub, child) in enumerate(zip(outcome.subgoals, step.children, strict=True)):
            stack.append((sub, child, f"{where}.{i}"))
    return True, ""
