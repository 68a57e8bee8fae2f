"""A proof attempt: one theorem, one backend, one shared proof tree.

``ProofEnv`` (the Gymnasium view) and every planner in ``search/`` work on a ``ProofAttempt``, so an
RL agent and a planner see one data structure.
"""

from __future__ import annotations

import time
from typing import Any

from aitp_gym.backend import ProverBackend, SupportsCandidates, Theorem, describe
from aitp_gym.errors import ProverError, ProverUnavailable
from aitp_gym.proof import ProofStep
from aitp_gym.tree import Edge, Outcome, ProofNode, ProofTree


class ProofAttempt:
    def __init__(self, backend: ProverBackend, theorem: Theorem, tactic_timeout: float | None = None) -> None:
        self.backend = backend
        self.theorem = theorem
        self.tactic_timeout = tactic_timeout
        self.tree = ProofTree(backend.start(theorem))
        self.prover = describe(backend)
        """The backend's prover version and default tactic timeout (for timeouts and trace headers)."""
        self.prover_time = 0.0  # seconds spent inside backend.apply
        self.tree_time = 0.0  # seconds spent recording results in the proof tree
        self.applications = 0

    @property
    def root(self) -> ProofNode:
        return self.tree.root

    def apply_tactic(self, node: ProofNode, tactic: Any, logprob: float = 0.0, timeout: float | None = None) -> Edge:
        """Apply ``tactic`` to ``node``'s goal and record the result in the tree.

        ``timeout`` (seconds) overrides the attempt's ``tactic_timeout`` for this application (planners pass
        the time left in their budget).

        Never raises for bad input: a non-string or rejected tactic becomes an error edge, and a
        prover failure (crash, hang) becomes an error edge after the backend has restarted itself.
        """
        t0 = time.perf_counter()
        if not isinstance(tactic, str):
            outcome = Outcome.error(f"a tactic must be a string, not {type(tactic).__name__}")
            tactic = repr(tactic)
        else:
            try:
                outcome = self.backend.apply(node.goal, tactic, self.tactic_timeout if timeout is None else timeout)
            except ProverUnavailable:
                raise  # nothing is known about this tactic: do not record it as failed
            except ProverError as e:
                outcome = Outcome.error(f"prover failure: {e}")
        t1 = time.perf_counter()
        self.prover_time += t1 - t0
        self.applications += 1
        edge = self.tree.add_edge(node, tactic, outcome, logprob)
        self.tree_time += time.perf_counter() - t1
        return edge

    expand = apply_tactic  # the name DESIGN.md uses: env.unwrapped.expand(node, tactic)

    def candidate_tactics(self, node: ProofNode) -> list[str]:
        if not isinstance(self.backend, SupportsCandidates):
            raise TypeError(f"{type(self.backend).__name__} cannot enumerate tactics; pass a policy")
        return self.backend.candidate_tactics(node.goal)

    def check(self, proof: ProofStep) -> tuple[bool, str]:
        """Replay ``proof`` on a fresh prover instance."""
        return self.backend.check(self.theorem, proof)


def as_attempt(target: Any) -> ProofAttempt:
    """Accept a ``ProofAttempt`` or a (wrapped) ``ProofEnv`` after ``reset``."""
    if isinstance(target, ProofAttempt):
        return target
    inner = getattr(target, "unwrapped", target)
    attempt = getattr(inner, "attempt", None)
    if attempt is None:
        raise TypeError("expected a ProofAttempt, or a ProofEnv on which reset() has been called")
    return attempt
