"""What planners ask of models (``aitp_gym/policy.py``): the ``TacticPolicy`` and ``Critic`` protocols, the
model-free ``UniformPolicy`` (every candidate, or a seeded unbiased subset), ``ConstantCritic`` and
``default_critic``."""

import math

import pytest
from doubles.scripted import ScriptedCritic, ScriptedPolicy, ScriptedProver

from aitp_gym.envs.sr.backend import DataDistanceCritic, SRBackend
from aitp_gym.policy import ConstantCritic, Critic, TacticPolicy, UniformPolicy, default_critic
from aitp_gym.tree import Goal

GRAPH = {"g": {"a": [], "b": ["x"], "c": "error"}}


def test_uniform_policy_takes_an_unbiased_reproducible_subset_when_capped():
    backend = SRBackend()
    root = backend.start(backend.theorems("valid")[0])
    goal = backend.apply(root, "init @0 A=x").subgoals[0]
    everything = backend.candidate_tactics(goal)
    policy = UniformPolicy(backend)
    assert [t for t, _ in policy.propose([goal])[0]] == everything  # no cap: every candidate
    picked = [t for t, _ in policy.propose([goal], 8)[0]]
    assert len(picked) == 8 and set(picked) <= set(everything)
    assert picked == [t for t in everything if t in picked]  # enumeration order
    assert picked != everything[:8]  # not biased towards what is enumerated first (unary rules)
    assert picked == [t for t, _ in UniformPolicy(backend).propose([goal], 8)[0]]  # reproducible
    assert picked != [t for t, _ in UniformPolicy(backend, seed=1).propose([goal], 8)[0]]


def test_uniform_policy_is_uniform_over_the_candidates_of_each_goal():
    policy = UniformPolicy(ScriptedProver(GRAPH))
    assert isinstance(policy, TacticPolicy) and policy.name == "uniform"
    known, unknown = policy.propose([Goal("g"), Goal("nowhere")])
    assert [t for t, _ in known] == ["a", "b", "c"]
    assert all(lp == pytest.approx(-math.log(3)) for _, lp in known)
    assert unknown == []  # a goal with no candidates gets none
    assert [t for t, _ in policy.propose([Goal("g")], 5)[0]] == ["a", "b", "c"]  # k above the count: all of them


def test_a_backend_that_cannot_enumerate_has_no_uniform_policy():
    class NoCandidates:
        env_id = "none"

    with pytest.raises(TypeError, match="NoCandidates cannot enumerate tactics"):
        UniformPolicy(NoCandidates())


def test_constant_critic_and_the_default_critic_of_a_backend():
    goals = [Goal("a"), Goal("b"), Goal("c")]
    assert ConstantCritic().value(goals) == [0.5, 0.5, 0.5] and ConstantCritic(0.2).value(goals[:1]) == [0.2]
    assert isinstance(ConstantCritic(), Critic) and ConstantCritic.name == "constant"
    scripted = default_critic(ScriptedProver(GRAPH))  # no critic of its own: a coin flip
    assert isinstance(scripted, ConstantCritic) and scripted.value(goals) == [0.5] * 3
    assert isinstance(default_critic(SRBackend()), DataDistanceCritic)  # SR-v0's own: distance to the data


def test_the_scripted_doubles_satisfy_the_protocols():
    assert isinstance(ScriptedPolicy(GRAPH), TacticPolicy) and isinstance(ScriptedCritic({}), Critic)
    assert not isinstance(object(), TacticPolicy) and not isinstance(ConstantCritic(), TacticPolicy)
