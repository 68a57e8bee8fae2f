"""Test doubles for planner tests: a scripted prover, policy and critic over a graph written in the test.

``ScriptedProver`` is a tiny deterministic in-memory prover, not a real one: a goal is a name, and
the graph says what each tactic does to it::

    graph = {"g": {"split": ["a", "b"], "bad": "error", "done": []}, "a": {"close": []}}

``[]`` closes the goal, a list of names yields those subgoals, ``"error"`` is rejected. A goal
missing from the graph has no tactics. Tests use it to check planners' choices against values
computed by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from aitp_gym.attempt import ProofAttempt
from aitp_gym.backend import Theorem
from aitp_gym.proof import ProofStep, replay_proof
from aitp_gym.tree import Goal, Outcome

Graph = Mapping[str, Mapping[str, "list[str] | str"]]


class ScriptedProver:
    """Test double: a deterministic in-memory prover over a hand-written goal graph."""

    env_id = "scripted"

    def __init__(self, graph: Graph, root: str = "g") -> None:
        self.graph = graph
        self.root = root
        self.applied: list[tuple[str, str]] = []  # (goal, tactic) in application order

    def theorems(self, split: str) -> Sequence[Theorem]:
        return [Theorem("scripted", self.root, split)]

    def start(self, theorem: Theorem) -> Goal:
        return Goal(theorem.statement)

    def apply(self, goal: Goal, tactic: str, timeout: float | None = None) -> Outcome:
        self.applied.append((goal.text, tactic))
        result = self.graph.get(goal.text, {}).get(tactic)
        if result is None or result == "error":
            return Outcome.error(f"{tactic!r} does not apply to {goal.text!r}")
        return Outcome.ok([Goal(c) for c in result]) if result else Outcome.proved()

    def candidate_tactics(self, goal: Goal) -> list[str]:
        return list(self.graph.get(goal.text, {}))

    def check(self, theorem: Theorem, proof: ProofStep) -> tuple[bool, str]:
        return replay_proof(ScriptedProver(self.graph, self.root), theorem, proof)

    def close(self) -> None:
        pass

    def attempt(self) -> ProofAttempt:
        return ProofAttempt(self, self.theorems("valid")[0])


class ScriptedPolicy:
    """Test double: the graph's tactics in order, with the probabilities given (uniform otherwise)."""

    name = "scripted"

    def __init__(self, graph: Graph, probs: Mapping[tuple[str, str], float] | None = None) -> None:
        self.graph = graph
        self.probs = probs or {}
        self.asked: list[str] = []  # goals in the order planners expanded them

    def expanded(self) -> list[str]:
        return list(self.asked)

    def propose(self, goals: Sequence[Goal], k: int | None = None) -> list[list[tuple[str, float]]]:
        out = []
        for goal in goals:
            self.asked.append(goal.text)
            tactics = list(self.graph.get(goal.text, {}))
            out.append([(t, math.log(self.probs.get((goal.text, t), 1 / len(tactics)))) for t in tactics][:k])
        return out


class ScriptedCritic:
    """Test double: a fixed provability per goal name (``default`` for the rest)."""

    name = "scripted"

    def __init__(self, values: Mapping[str, float], default: float = 0.5) -> None:
        self.values = values
        self.default = default
        self.asked: list[str] = []

    def value(self, goals: Sequence[Goal]) -> list[float]:
        self.asked.extend(g.text for g in goals)
        return [self.values.get(g.text, self.default) for g in goals]
