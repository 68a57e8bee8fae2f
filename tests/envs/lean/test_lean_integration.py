"""Lean-v0 against a real Lean 4 and a repository traced by LeanDojo (docs/lean.md).

Skipped where ``lake`` is not on PATH (CI, and these machines: no Lean toolchain can be installed offline).
The repository is yangky11/lean4-example at ``AITP_LEAN_EXAMPLE_COMMIT``, a commit whose ``lean-toolchain`` is
Lean 4.18 or older (lean-dojo 4.20.0 passes ``--memory``, which Lean 4.19 and newer reject). Tracing it the first
time takes minutes; the trace is cached in ``CACHE_DIR``.
"""

from __future__ import annotations

import os
import shutil

import gymnasium as gym
import pytest

import aitp_gym  # noqa: F401
from aitp_gym.search import BestFS

pytestmark = [
    pytest.mark.expensive,
    pytest.mark.skipif(shutil.which("lake") is None,
                       reason="Lean-v0 integration tests need a Lean 4 toolchain: `lake` is not on PATH "
                              "(install elan, see docs/lean.md)"),
]

URL = "https://github.com/yangky11/lean4-example"
COMMIT = os.environ.get("AITP_LEAN_EXAMPLE_COMMIT", "")


@pytest.fixture(scope="module")
def example_theorem():
    if not COMMIT:
        pytest.skip("set AITP_LEAN_EXAMPLE_COMMIT to a lean4-example commit on Lean 4.18 or older (docs/lean.md)")
    from lean_dojo import LeanGitRepo, Theorem

    return Theorem(LeanGitRepo(URL, COMMIT), "Lean4Example.lean", "hello_world")


def test_real_lean_steps_and_checks_a_proof(example_theorem):
    env = gym.make("Lean-v0", theorems=[example_theorem], tactic_timeout=60)
    obs, info = env.reset(seed=0)
    assert "⊢ a + b + c = a + c + b" in obs and obs in env.observation_space
    _, _, _, _, info = env.step("exact nonexistent_lemma")
    assert info["error"] and "unknown" in info["message"]
    _, reward, terminated, _, info = env.step("rw [Nat.add_assoc, Nat.add_comm b, ← Nat.add_assoc]")
    assert (reward, terminated, info["proved"]) == (1.0, True, True)
    proof = aitp_gym.extract_proof(env.unwrapped.tree)
    assert env.unwrapped.attempt.check(proof) == (True, "")
    env.close()


def test_real_lean_goal_splitting_and_a_later_goal(example_theorem):
    """Two independent goals; the second is proved first (rotate_left 1, then focus), then the first."""
    env = gym.make("Lean-v0", theorems=[example_theorem], tactic_timeout=60)
    env.reset(seed=0)
    tree = env.unwrapped.tree
    edge = env.unwrapped.expand(tree.root, "cases Nat.lt_or_ge a b")
    assert edge.outcome.value == "ok" and len(edge.children) == 2, edge.message
    first, second = edge.children
    assert first.goal.text.startswith("case inl") and second.goal.text.startswith("case inr")
    assert env.unwrapped.expand(second, "omega").outcome.value == "proved"
    assert env.unwrapped.expand(first, "omega").outcome.value == "proved"
    assert tree.proved
    proof = aitp_gym.extract_proof(tree)
    assert env.unwrapped.attempt.check(proof) == (True, "")
    # the replay check runs the branching script as one block in a fresh Dojo and needs ProofFinished
    assert env.unwrapped.backend._check_by_replay(env.unwrapped.attempt.theorem, proof) == (True, "")
    env.close()


def test_real_lean_planner_with_the_model_free_policy(example_theorem):
    env = gym.make("Lean-v0", theorems=[example_theorem], tactic_timeout=60)
    env.reset(seed=0)
    result = BestFS(max_expansions=5, time_limit=600).search(env)  # omega, among the candidates, proves it
    assert result.proved and result.replay_message == "", (result.stop_reason, result.replay_message)
    env.close()
