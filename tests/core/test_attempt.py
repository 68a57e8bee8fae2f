"""ProofAttempt.apply_tactic: what a prover failure becomes in the shared tree."""

import pytest

from aitp_gym.attempt import ProofAttempt
from aitp_gym.envs.sr.backend import SRBackend
from aitp_gym.errors import ProverError, ProverUnavailable
from aitp_gym.tree import OutcomeKind


class FailingBackend(SRBackend):
    """SR-v0, except that ``apply`` raises the given error."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def apply(self, goal, tactic, timeout=None):
        raise self.error


def _attempt(error):
    backend = FailingBackend(error)
    return ProofAttempt(backend, backend.theorems("valid")[0])


def test_a_prover_crash_is_an_error_edge_and_the_attempt_goes_on():
    attempt = _attempt(ProverError("worker died"))
    edge = attempt.apply_tactic(attempt.root, "init @0 A=x")
    assert edge.outcome is OutcomeKind.ERROR and "prover failure: worker died" in edge.message
    assert attempt.applications == 1


def test_an_unavailable_prover_raises_and_records_nothing():
    """A prover that is gone for good says nothing about the tactic: it must not be recorded as failed."""
    attempt = _attempt(ProverUnavailable("the HOL Light server is gone"))
    with pytest.raises(ProverUnavailable, match="gone"):
        attempt.apply_tactic(attempt.root, "init @0 A=x")
    assert attempt.root.edges == [] and attempt.applications == 0


def test_a_non_string_tactic_is_an_error_edge():
    attempt = ProofAttempt(SRBackend(), SRBackend().theorems("valid")[0])
    edge = attempt.apply_tactic(attempt.root, 42)
    assert edge.outcome is OutcomeKind.ERROR and "must be a string" in edge.message
