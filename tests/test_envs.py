"""The checker is the central test: every registered aitp-gym env runs check_env and a seeded rollout."""

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from scripted import ScriptedProver

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


def test_check_env_with_render_checks_raises_no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("SR-v0", split="valid").unwrapped)


def test_human_render_prints_and_returns_none(capsys):
    env = gym.make("SR-v0", render_mode="human")
    env.reset(options={"target": "sin(x)"})
    env.step("init @0 A=x")
    assert env.render() is None
    assert "f(x) = x" in capsys.readouterr().out
    ansi = gym.make("SR-v0", render_mode="ansi")
    assert isinstance(ansi.unwrapped.render(), str)  # even before reset
    ansi.reset(options={"target": "sin(x)"})
    assert "f(x) = 0" in ansi.render()


@pytest.mark.parametrize("options, match", [
    ({"target": "x", "theorem": 3}, r"'theorem' cannot be combined with \['target'\]"),
    ({"x": [1.0, 2.0], "y": [3.0, 4.0], "theorem": "sr-valid-0000"}, "cannot be combined"),
    ({"theorem": True}, "must be a Theorem, a theorem id .str. or an index .int."),
    ({"theorem": np.bool_(True)}, "not bool"),
    ({"theorem": 1.0}, "not float"),
    ({"theorem": [1]}, "not list"),
    ({"target": "x", "pointz": [1]}, "unknown options"),
    ({"x": [1.0, 2.0], "y": [3.0, 4.0], "z": 1}, "unknown options"),
])
def test_wrong_reset_options_raise_value_error(options, match):
    env = gym.make("SR-v0", split="valid")
    with pytest.raises(ValueError, match=match):
        env.reset(options=options)


def test_theorem_option_alone_still_works_and_unknown_ids_are_typed():
    env = gym.make("SR-v0", split="valid")
    theorems = env.unwrapped.backend.theorems("valid")
    assert env.reset(options={"theorem": 3})[1]["theorem_id"] == theorems[3].id
    assert env.reset(options={"theorem": np.int64(4)})[1]["theorem_id"] == theorems[4].id
    assert env.reset(options={"theorem": theorems[5].id})[1]["theorem_id"] == theorems[5].id
    assert env.reset(options={"theorem": theorems[6]})[1]["theorem_id"] == theorems[6].id
    assert env.reset(seed=1, options={"theorem": None})[0] == env.reset(seed=1)[0]
    for bad in (-1, len(theorems), "no-such-theorem"):
        with pytest.raises(aitp_gym.UnknownTheorem):
            env.reset(options={"theorem": bad})


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


def test_sr_steps_say_no_progress_false():
    env = gym.make("SR-v0")
    env.reset(options={"target": "sin(x)"})
    assert env.step("init @0 A=x")[4]["no_progress"] is False


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


def test_sr_accepts_tactic_timeout():
    env = gym.make("SR-v0", tactic_timeout=1.0)
    env.reset(options={"target": "sin(x)"})
    assert env.unwrapped.tactic_timeout == 1.0 and env.unwrapped.attempt.tactic_timeout == 1.0
    assert env.step("init @0 A=x")[4]["outcome"] == "ok"
