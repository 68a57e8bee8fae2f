"""Planners search the tree as they find it: after manual ``env.step`` calls, and after an earlier search.

Tree of the scripted prover used here (``ScriptedProver`` is a test double)::

    g --bad--> error          g --detour--> d --close--> []      g --split--> a, b
                                                                 a --close--> [] ,  b --close--> []

A user steps ``detour`` by hand. ``g`` then has an edge but is not exhausted, so every planner must still
expand it (and ``d``), and must not re-apply ``detour``.
"""

from __future__ import annotations

import time

import gymnasium as gym
import pytest
from scripted import ScriptedPolicy, ScriptedProver

import aitp_gym  # noqa: F401
from aitp_gym.backend import Theorem
from aitp_gym.search import PLANNERS, BestFS, make_planner
from aitp_gym.tree import Goal, Outcome

GRAPH = {"g": {"bad": "error", "detour": ["d"], "split": ["a", "b"]}, "d": {"stuck": "error"},
         "a": {"close": []}, "b": {"close": []}}


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_planners_search_after_a_manual_step(name):
    prover = ScriptedProver(GRAPH)
    attempt = prover.attempt()
    attempt.apply_tactic(attempt.root, "detour")  # what env.step does
    assert attempt.root.expanded and not attempt.root.exhausted
    result = make_planner(name, max_expansions=20).search(attempt, policy=ScriptedPolicy(GRAPH))
    assert result.proved and result.expansions > 0, result
    assert prover.applied.count(("g", "detour")) == 1, "a tactic already in the tree is not applied again"


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_a_second_search_resumes_where_the_first_stopped(name):
    prover = ScriptedProver(GRAPH)
    attempt = prover.attempt()
    first = make_planner(name, max_expansions=1).search(attempt, policy=ScriptedPolicy(GRAPH))
    assert (first.proved, first.stop_reason, first.expansions) == (False, "expansions", 1)
    second = make_planner(name, max_expansions=20).search(attempt, policy=ScriptedPolicy(GRAPH))
    assert second.proved and second.expansions > 0, second
    assert prover.applied.count(("g", "split")) == 1, "the exhausted root is not expanded again"


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_planners_search_an_sr_env_after_manual_steps(name):
    env = gym.make("SR-v0")
    env.reset(options={"target": "sin(x) + x**2"})
    env.step("init @0 A=x")
    result = make_planner(name, max_expansions=100).search(env)
    assert result.expansions > 0 and result.stop_reason in ("proved", "expansions"), result
    if name in ("fringe", "updown"):  # guided by SR's distance-to-data critic: they find it quickly
        assert result.proved, result
        again = make_planner(name, max_expansions=5).search(env)  # the root is proved: nothing left to do
        assert again.proved and again.expansions == 0


class SlowProver(ScriptedProver):
    """Test double: every tactic takes 0.2 s (or the timeout it is given, if smaller)."""

    def __init__(self) -> None:
        super().__init__({"g": {f"t{i}": "error" for i in range(10)}})
        self.timeouts: list[float | None] = []
        self.tactic_timeout = 5.0

    def apply(self, goal: Goal, tactic: str, timeout: float | None = None) -> Outcome:
        self.timeouts.append(timeout)
        time.sleep(min(0.2, timeout if timeout is not None else 0.2))
        return super().apply(goal, tactic, timeout)

    def theorems(self, split: str) -> list[Theorem]:
        return [Theorem("slow", "g", split)]


def test_the_time_limit_bounds_every_tactic():
    prover = SlowProver()
    attempt = prover.attempt()
    result = BestFS(time_limit=0.5).search(attempt, policy=ScriptedPolicy(prover.graph))
    assert result.stop_reason == "time"
    assert len(prover.applied) <= 4, "tactics were applied after the time limit"  # 10 before the fix
    assert all(t is not None and t <= 0.5 for t in prover.timeouts), prover.timeouts
    assert not attempt.root.exhausted and attempt.root.is_open, "a goal cut short by the deadline stays open"


def test_trace_header_says_what_produced_it():
    import json

    import numpy as np

    from aitp_gym.attempt import ProofAttempt
    from aitp_gym.envs.sr.backend import SRBackend, theorem_from_data

    x = np.random.default_rng(0).normal(size=20)
    theorem = theorem_from_data(x, np.sin(x) / 3)
    result = BestFS(max_expansions=3).search(ProofAttempt(SRBackend(), theorem, tactic_timeout=1.5))
    header = json.loads(json.dumps(result.trace.to_dict()))["header"]
    assert header["aitp_gym_version"] == aitp_gym.__version__
    assert header["tactic_timeout"] == 1.5 and "prover_version" in header
    assert header["theorem_data"]["x"] == x.tolist(), "exact data, not 4 significant digits"
