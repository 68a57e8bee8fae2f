"""The expand loop every planner shares (``search/base.py``): budgets in expansions and time (the deadline bounds
every tactic), seeded runs repeat, the trace records the search and what produced it, a proof counts only if its
replay succeeds, and planners search the tree as they find it: after manual ``env.step`` calls, and after an earlier
search.

Tree of the scripted prover used for resuming (``ScriptedProver`` is a test double)::

    g --bad--> error          g --detour--> d --close--> []      g --split--> a, b
                                                                 a --close--> [] ,  b --close--> []

A user steps ``detour`` by hand. ``g`` then has an edge but is not exhausted, so every planner must still
expand it (and ``d``), and must not re-apply ``detour``.
"""

from __future__ import annotations

import json
import time

import gymnasium as gym
import numpy as np
import pytest
from doubles.scripted import ScriptedPolicy, ScriptedProver

import aitp_gym
from aitp_gym import ProofAttempt, iter_traces
from aitp_gym.backend import Theorem
from aitp_gym.envs.sr.backend import SRBackend, make_theorem, theorem_from_data
from aitp_gym.proof import ProofStep
from aitp_gym.search import BFS, PLANNERS, BestFS, make_planner, summarise
from aitp_gym.search.base import Planner, SearchResult
from aitp_gym.tree import Goal, Outcome


def test_budget_in_expansions_and_time():
    backend = SRBackend()
    hard = make_theorem("tan(cosh(exp(x) / 3)) * sinh(x + 2)")
    r = BestFS(max_expansions=7).search(ProofAttempt(backend, hard))
    assert (r.proved, r.stop_reason, r.expansions) == (False, "expansions", 7)
    r = BestFS(max_expansions=10**6, time_limit=0.2).search(ProofAttempt(backend, hard))
    assert r.stop_reason == "time" and r.wall_time < 2.0


def test_same_seed_same_result(tmp_path):
    def run(out):
        env = gym.make("SR-v0", split="valid")
        summaries = []
        for seed in range(3):
            env.reset(seed=seed)
            r = BestFS(max_expansions=30).search(env, trace_path=out / f"{seed}.json")
            summaries.append((r.theorem_id, r.proved, r.expansions, r.proof and r.proof.tactics()))
        return summaries

    assert run(tmp_path / "a") == run(tmp_path / "b")
    a = [[(e["tactic"], e["outcome"]) for e in rec.edges] for rec in iter_traces(tmp_path / "a")]
    b = [[(e["tactic"], e["outcome"]) for e in rec.edges] for rec in iter_traces(tmp_path / "b")]
    assert a == b


def test_trace_records_the_search(tmp_path):
    env = gym.make("SR-v0")
    env.reset(options={"target": "cos(x)"})
    r = BestFS().search(env, trace_path=tmp_path / "t.json.gz", header={"seed": 3})
    assert isinstance(r, SearchResult)
    (rec,) = iter_traces(tmp_path / "t.json.gz")
    assert rec.header["planner"] == "bestfs" and rec.header["env_id"] == "SR-v0" and rec.header["seed"] == 3
    assert rec.result["proved"] and rec.result["proof_script"] == r.proof.tactics()
    assert len(rec.edges) == r.applications and rec.nodes[0]["status"] == "proved"


def test_a_replay_failure_is_not_reported_as_proved():
    backend = SRBackend()

    class LyingChecker(SRBackend):
        def check(self, theorem, proof: ProofStep):
            return False, "mismatch"

    r = BestFS().search(ProofAttempt(LyingChecker(), make_theorem("x + 1")))
    assert not r.proved and r.proof is None and "replay failed" in r.replay_message
    assert BestFS().search(ProofAttempt(backend, make_theorem("x + 1"))).proved


def test_make_planner_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown planner"):
        make_planner("dfs")
    planner = make_planner("htps", max_expansions=7, exploration=2.0)
    assert isinstance(planner, Planner) and type(planner) is PLANNERS["htps"]
    assert (planner.settings.max_expansions, planner.settings.exploration) == (7, 2.0)


def test_summarise_gives_one_summary_of_many_searches():
    """What ``aitp prove``'s summary.json and ``aitp loop``'s rounds.jsonl hold, computed by hand."""
    proved = {"proved": True, "expansions": 4, "applications": 10, "wall_time": 1.0, "prover_time": 0.4,
              "policy_time": 0.2, "tree_time": 0.1, "bookkeeping_time": 0.1, "rejected": 2, "proposal_entropy": 1.0}
    failed = {"proved": False, "expansions": 6, "applications": 10, "wall_time": 3.0, "prover_time": 0.6,
              "policy_time": 0.3, "tree_time": 0.0, "bookkeeping_time": 0.2, "rejected": 3, "proposal_entropy": None}
    assert summarise([proved, failed]) == pytest.approx({
        "attempted": 2, "proved": 1, "proof_rate": 0.5, "mean_time": 2.0, "mean_expansions": 5.0,
        "mean_expansions_to_proof": 4.0, "prover_s_per_expansion": 0.1, "model_s_per_expansion": 0.05,
        "bookkeeping_s_per_expansion": 0.04, "rejected_share": 0.25, "proposal_entropy": 1.0})
    empty = summarise([])
    assert (empty["attempted"], empty["proof_rate"], empty["mean_expansions_to_proof"]) == (0, 0.0, None)
    real = BestFS(max_expansions=3).search(ProofAttempt(SRBackend(), make_theorem("x + 1"))).summary()
    assert summarise([real])["attempted"] == 1 and {"proved", "expansions", "wall_time"} <= set(real)


def test_bfs_expands_in_fifo_order():
    """
    0 --init x--> x --sin--> sin(x) ...   BFS expands the root, then all depth-1 goals before any at depth 2.
    """
    attempt = ProofAttempt(SRBackend(), make_theorem("sin(x) + x"))
    result = BFS(max_expansions=50).search(attempt)
    expanded = [e.parent for e in attempt.tree.edges]
    depths = [n.depth for n in dict.fromkeys(expanded)]
    assert depths == sorted(depths) and result.proved


# ---------------------------------------------------------------------------------------------- resuming
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
    x = np.random.default_rng(0).normal(size=20)
    theorem = theorem_from_data(x, np.sin(x) / 3)
    result = BestFS(max_expansions=3).search(ProofAttempt(SRBackend(), theorem, tactic_timeout=1.5))
    header = json.loads(json.dumps(result.trace.to_dict()))["header"]
    assert header["aitp_gym_version"] == aitp_gym.__version__
    assert header["tactic_timeout"] == 1.5 and "prover_version" in header
    assert header["theorem_data"]["x"] == x.tolist(), "exact data, not 4 significant digits"


def test_a_search_counts_rejected_proposals_and_the_spread_of_the_proposals():
    """The degeneration watch: ``bad`` and ``stuck`` are rejected; at ``g`` the policy puts 0.8 on ``split``
    (entropy of 0.8/0.1/0.1 renormalised), elsewhere a single tactic (entropy 0) or uniform."""
    import math

    graph = {"g": {"bad": "error", "detour": ["d"], "split": ["a", "b"]}, "d": {"stuck": "error"},
             "a": {"close": []}, "b": {"close": []}}
    policy = ScriptedPolicy(graph, {("g", "split"): 0.8, ("g", "bad"): 0.1, ("g", "detour"): 0.1})
    result = BFS(max_expansions=20, early_stop=False).search(ScriptedProver(graph).attempt(), policy=policy)
    assert result.rejected == 2 and result.applications == 6
    at_g = -(0.8 * math.log(0.8) + 2 * 0.1 * math.log(0.1))
    assert policy.expanded() == ["g", "d", "a", "b"]
    assert result.proposal_entropy == pytest.approx(at_g / 4)  # d, a and b each had one tactic
    summary = summarise([result.summary()])
    assert summary["rejected_share"] == pytest.approx(2 / 6) and summary["proposal_entropy"] == result.proposal_entropy
