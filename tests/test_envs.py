"""The checker is the central test: every registered aitp-gym env runs check_env and a seeded rollout."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import registry
from gymnasium.utils.env_checker import check_env

import aitp_gym  # noqa: F401
from aitp_gym.env import UnicodeText

ENV_IDS = sorted(k for k, spec in registry.items() if str(spec.entry_point).startswith("aitp_gym.envs."))


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


def test_registered_ids_include_sr():
    assert "SR-v0" in ENV_IDS


def test_unicode_text_space_accepts_prover_goals():
    space = UnicodeText(100)
    for goal in ["⊢ ∀ n : ℕ, n + 0 = n", "x ∈ 𝓝 a", "ŷ: 1 2 3\nline two", "!x. x = x", ""]:
        assert goal in space, goal
    assert "bell\x07" not in space and "a" * 101 not in space and b"bytes" not in space
    assert space.sample() in space


def test_sr_step_penalty_terminated_and_truncated():
    env = gym.make("SR-v0", step_penalty=0.1, max_episode_steps=3)
    env.reset(seed=0, options={"target": "x**2"})
    _, r, term, trunc, info = env.step("init @0 A=x")
    assert (r, term, trunc, info["outcome"]) == (-0.1, False, False, "ok")
    _, r, term, trunc, info = env.step("nonsense")
    assert (r, term, trunc, info["error"]) == (-0.1, False, False, True)
    _, r, term, trunc, _ = env.step("neg @0")
    assert trunc and not term  # out of steps, not proved: truncated
    env.reset(seed=0, options={"target": "x**2"})
    env.step("init @0 A=x")
    _, r, term, trunc, info = env.step("pow2 @0")
    assert (r, term, trunc, info["proved"]) == (1.0, True, False, True)


def test_planner_and_agent_share_one_tree():
    env = gym.make("SR-v0")
    env.reset(seed=0, options={"target": "sin(x)"})
    env.step("init @0 A=x")
    tree = env.unwrapped.tree
    child = tree.root.edges[0].children[0]
    edge = env.unwrapped.expand(child, "sin @0")
    assert edge.outcome.value == "proved" and tree.proved


def test_seeding_draws_the_same_theorems():
    env = gym.make("SR-v0", split="valid")
    first = [env.reset(seed=s)[1]["theorem_id"] for s in range(5)]
    again = [env.reset(seed=s)[1]["theorem_id"] for s in range(5)]
    assert first == again and len(set(first)) > 1


def test_info_carries_the_data():
    env = gym.make("SR-v0")
    obs, info = env.reset(options={"x": np.arange(5.0), "y": np.arange(5.0) * 2})
    assert obs.startswith("f(x) = 0") and np.array_equal(info["y"], np.arange(5.0) * 2)
    assert not info["y_hat"].any()


def test_import_is_light():
    code = ("import sys, aitp_gym, gymnasium as gym; gym.make('SR-v0'); "
            "bad = [m for m in ('torch', 'lean_dojo', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
