"""SR-v0's env (``envs/sr/env.py``, ``SymbolicRegressionEnv``): rewards, termination and truncation, seeding,
reset options, rendering, ``info``, large data, and cheap pickles. The generic ``ProofEnv`` checks that every env
passes are in tests/core/test_env.py."""

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import aitp_gym
from aitp_gym.env import UnicodeText
from aitp_gym.envs.sr.backend import MAX_SHOWN_POINTS, SRBackend
from aitp_gym.envs.sr.env import SymbolicRegressionEnv


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


def test_seeding_draws_the_same_theorems():
    env = gym.make("SR-v0", split="valid")
    first = [env.reset(seed=s)[1]["theorem_id"] for s in range(5)]
    again = [env.reset(seed=s)[1]["theorem_id"] for s in range(5)]
    assert first == again and len(set(first)) > 1


def test_info_carries_the_data():
    env = gym.make("SR-v0")
    assert isinstance(env.unwrapped, SymbolicRegressionEnv)
    obs, info = env.reset(options={"x": np.arange(5.0), "y": np.arange(5.0) * 2})
    assert obs.startswith("f(x) = 0") and np.array_equal(info["y"], np.arange(5.0) * 2)
    assert not info["y_hat"].any()


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


def test_sr_steps_say_no_progress_false():
    env = gym.make("SR-v0")
    env.reset(options={"target": "sin(x)"})
    assert env.step("init @0 A=x")[4]["no_progress"] is False


def test_sr_accepts_tactic_timeout():
    env = gym.make("SR-v0", tactic_timeout=1.0)
    env.reset(options={"target": "sin(x)"})
    assert env.unwrapped.tactic_timeout == 1.0 and env.unwrapped.attempt.tactic_timeout == 1.0
    assert env.step("init @0 A=x")[4]["outcome"] == "ok"


def test_large_data_is_shortened_visibly_and_info_keeps_every_point():
    n = 200_000
    xs = np.linspace(-3, 3, n)
    env = gym.make("SR-v0")
    obs, info = env.reset(options={"x": xs, "y": np.sin(xs)})
    obs, _, _, _, info = env.step("init @0 A=x")
    assert obs in env.observation_space
    lines = obs.split("\n")
    assert lines[0] == "f(x) = x" and lines[1].startswith("y: ") and lines[2].startswith("ŷ: ")
    more = f"… ({n - MAX_SHOWN_POINTS} more points)"
    assert lines[1].endswith(more) and lines[2].endswith(more)
    assert len(lines[2].split()) == MAX_SHOWN_POINTS + 1 + 4  # "ŷ:", the values, "… (N more points)"
    assert "truncated" not in obs
    assert len(info["x"]) == len(info["y"]) == len(info["y_hat"]) == n and np.array_equal(info["y_hat"], xs)


# ---------------------------------------------------------------------------------------------- pickles
def test_pickled_sr_env_is_small_and_still_works():
    env = gym.make("SR-v0", split="valid")
    env.reset(seed=0, options={"target": "sin(x) + x"})
    env.step("init @0 A=x")
    data = pickle.dumps(env)
    assert len(data) < 1_000_000, len(data)
    clone = pickle.loads(data)
    obs, info = clone.reset(seed=1)
    assert obs in clone.observation_space and info["theorem_id"].startswith("sr-valid-")
    clone.reset(options={"target": "sin(x) + x"})
    clone.step("init @0 A=x")
    clone.step("sin @0")
    *_, terminated, _, info = clone.step("add @0 B=x")
    assert terminated and info["proved"]


def test_pickled_spaces_and_backend_carry_no_charset_or_theorems():
    backend = SRBackend()
    backend.theorems("valid")
    assert len(pickle.dumps(backend)) < 200
    space = UnicodeText(65_536)
    assert len(pickle.dumps(space)) < 5_000
    assert pickle.loads(pickle.dumps(space)) == space
