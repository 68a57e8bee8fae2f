"""What planners ask of models: a tactic policy and a critic. Models live in ``agents/``."""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aitp_gym.backend import SupportsCandidates, SupportsDefaultCritic
from aitp_gym.tree import Goal


@runtime_checkable
class TacticPolicy(Protocol):
    """Goals → ranked ``(tactic, logprob)`` candidates, best first (at most ``k`` per goal)."""

    name: str

    def propose(self, goals: Sequence[Goal], k: int | None = None) -> list[list[tuple[str, float]]]:
        ...


@runtime_checkable
class Critic(Protocol):
    """Goals → estimated provability in [0, 1]."""

    name: str

    def value(self, goals: Sequence[Goal]) -> list[float]:
        ...


class UniformPolicy:
    """The model-free default: the uniform distribution over a backend's enumerated tactics.

    Without ``k`` (or with ``k`` at least the number of candidates) it proposes every candidate. With a smaller
    ``k`` it proposes a uniformly random k-subset, in enumeration order. The draw is seeded by ``seed`` and the
    goal's key, so a goal gets the same subset every time, in any process: runs are reproducible, and a model
    compared at the same ``tactics_per_expansion`` faces an unbiased baseline (the first k would favour whatever
    the backend enumerates first)."""

    name = "uniform"

    def __init__(self, backend: object, seed: int = 0) -> None:
        if not isinstance(backend, SupportsCandidates):
            raise TypeError(f"{type(backend).__name__} cannot enumerate tactics, so there is no "
                            "model-free policy for it; pass a TacticPolicy")
        self._enumerate = backend.candidate_tactics
        self.seed = seed

    def propose(self, goals: Sequence[Goal], k: int | None = None) -> list[list[tuple[str, float]]]:
        out = []
        for goal in goals:
            tactics = self._enumerate(goal)
            logp = -math.log(len(tactics)) if tactics else 0.0
            if k is not None and k < len(tactics):
                rng = random.Random(zlib.crc32(goal.key.encode("utf-8", "surrogatepass")) ^ self.seed)
                tactics = [tactics[i] for i in sorted(rng.sample(range(len(tactics)), k))]
            out.append([(t, logp) for t in tactics])
        return out


class ConstantCritic:
    """The model-free default critic: every goal is a coin flip."""

    name = "constant"

    def __init__(self, value: float = 0.5) -> None:
        self._value = value

    def value(self, goals: Sequence[Goal]) -> list[float]:
        return [self._value] * len(goals)


def default_critic(backend: object) -> Critic:
    """The model-free critic for a backend: its own heuristic (``backend.default_critic()``) if it has
    one, such as SR-v0's distance to the data, else ``ConstantCritic(0.5)``."""
    return backend.default_critic() if isinstance(backend, SupportsDefaultCritic) else ConstantCritic()
