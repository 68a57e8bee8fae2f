"""``ProofEnv`` and ``UnicodeText`` (``aitp_gym/env.py``), the central test: every registered env runs check_env and
a seeded rollout. Also the generic reset-option check, ``info["no_progress"]``, the tree the env shares with
planners, visible truncation of long observations, and ``UnicodeText`` membership without a materialised charset.
Vector envs are in test_vector_env.py; SR-v0's own env behaviour in tests/envs/sr/test_sr_env.py."""


import gymnasium as gym
import numpy as np
import pytest
from doubles.scripted import ScriptedProver
from gymnasium.utils.env_checker import check_env

import aitp_gym
from aitp_gym.env import TRUNCATION_MARKER, ProofEnv, UnicodeText, truncate_text

ENV_IDS = aitp_gym.env_ids()


def _skip_unavailable(env_id: str) -> None:
    """Envs whose prover is not installed here skip with the reason the env itself gives."""
    if env_id == "SR-v0":
        return
    try:
        env = gym.make(env_id)
        env.reset(seed=0)
        env.close()
    except aitp_gym.DependencyNotInstalled as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_and_seeded_rollout(env_id):
    _skip_unavailable(env_id)
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)

    def rollout(seed):
        obs, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        seen = [obs]
        for _ in range(5):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert obs in env.observation_space
            seen.append((obs, reward, terminated, truncated, info.get("outcome")))
            if terminated or truncated:
                break
        return seen

    assert rollout(7) == rollout(7)
    env.close()


def test_planner_and_agent_share_one_tree():
    env = gym.make("SR-v0")
    env.reset(seed=0, options={"target": "sin(x)"})
    env.step("init @0 A=x")
    tree = env.unwrapped.tree
    child = tree.root.edges[0].children[0]
    edge = env.unwrapped.expand(child, "sin @0")
    assert edge.outcome.value == "proved" and tree.proved


def test_theorem_with_other_options_is_an_error_for_any_backend():
    """The check is generic (ProofEnv), so it also covers HOList's {"statement": ..., "theorem": ...}."""
    env = ProofEnv(ScriptedProver({"g": {"done": []}}))
    with pytest.raises(ValueError, match="cannot be combined with \\['statement'\\]"):
        env.reset(options={"statement": "T", "theorem": "ADD_SYM"})
    with pytest.raises(ValueError, match="this env takes only"):
        env.reset(options={"statement": "T"})
    assert env.reset(options={"theorem": "scripted"})[1]["theorem_id"] == "scripted"


def test_no_progress_marks_a_step_back_to_the_same_goal():
    graph = {"g": {"noop": ["g"], "split": ["a", "g"], "bad": "error", "step": ["a"]}, "a": {"back": ["g"]}}
    env = ProofEnv(ScriptedProver(graph), split="valid")
    obs, info = env.reset()
    assert "no_progress" not in info
    obs2, reward, terminated, truncated, info = env.step("noop")
    assert info["outcome"] == "ok" and reward == 0.0 and obs2 == obs and info["no_progress"] is True
    assert env.unwrapped.tree.root.edges[-1].cycle
    _, _, _, _, info = env.step("bad")
    assert info["error"] and info["no_progress"] is False
    _, _, _, _, info = env.step("split")  # one new goal, but it needs g itself: circular, no progress
    assert info["no_progress"] is True
    obs3, _, _, _, info = env.step("step")
    assert info["no_progress"] is False and obs3 == "a"
    _, _, _, _, info = env.step("back")  # back to an earlier goal
    assert info["no_progress"] is True


def test_long_observations_are_cut_visibly():
    text = "f(x) = 0\n" + "y" * 1000
    cut = truncate_text(text, 100)
    assert len(cut) <= 100 and cut.startswith("f(x) = 0\n") and TRUNCATION_MARKER in cut
    kept = cut.index(TRUNCATION_MARKER)
    assert cut.endswith(f"{len(text) - kept} more characters]")
    assert truncate_text(text, len(text)) == text
    env = gym.make("SR-v0", max_goal_length=80)
    obs, _ = env.reset(options={"target": "sin(x)"})
    assert obs in env.observation_space and obs.startswith("f(x) = 0") and "truncated" in obs


def test_unicode_text_membership_without_materialising_the_charset():
    space = UnicodeText(100)
    assert "character_set" not in vars(space) and "_char_set" not in vars(space)
    for text in ["⊢ ∀ ℕ 𝓝", "⊢ ∀ n : ℕ, n + 0 = n", "x ∈ 𝓝 a", "!x. x = x", "f(x) = 0\ny: 1 2\nŷ: 0 0",
                 "tab\there", ""]:
        assert text in space, text
    for text in ["\x00", "a\x00b", "\r", "bell\x07", "\ud800", "\x7f", "\u0378", "a" * 101, b"bytes", 3]:
        assert text not in space, text
    space.seed(0)
    samples = [space.sample() for _ in range(20)]
    assert all(s in space for s in samples)
    space.seed(0)
    assert [space.sample() for _ in range(20)] == samples
    # gymnasium's generic Text code (masked sampling) still works through the shared charset
    mask = np.zeros(len(space.character_set), dtype=np.int8)
    mask[space.character_index("a")] = 1
    assert set(space.sample(mask=(5, mask))) == {"a"}
