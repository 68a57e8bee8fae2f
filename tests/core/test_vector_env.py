"""SR-v0 in Gymnasium's vector envs: observations must be the real goals, as a single env gives them.

Gymnasium's shared memory for ``Text`` decoded the buffer once, so an ``AsyncVectorEnv`` returned the
empty buffer ('\\n' * 65536 for UnicodeText) as every observation; ``UnicodeText`` registers its own
shared-memory functions (UTF-32 code points plus a length, read through a live view).
"""

import copy
import multiprocessing

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

import aitp_gym  # noqa: F401
from aitp_gym.env import UnicodeText

SEEDS = [3, 4]
ACTIONS = [("init @0 A=x", "init @0 A=1"), ("sin @0", "add @0 B=x"), ("nonsense", "exp @0")]


def single_env_run(seed, actions, options=None):
    env = gym.make("SR-v0", split="valid")
    obs, info = env.reset(seed=seed, options=options)
    seen = [(obs, info["theorem_id"])]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        seen.append((obs, info["theorem_id"]))
    env.close()
    return seen


def vector_run(mode, options=None, **vector_kwargs):
    envs = gym.make_vec("SR-v0", num_envs=2, vectorization_mode=mode, vector_kwargs=vector_kwargs, split="valid")
    try:
        obs, info = envs.reset(seed=SEEDS, options=options)
        seen = [list(zip(tuple(obs), info["theorem_id"], strict=True))]
        for pair in ACTIONS:
            obs, reward, terminated, truncated, info = envs.step(pair)
            assert not terminated.any() and not truncated.any()
            seen.append(list(zip(tuple(obs), info["theorem_id"], strict=True)))
        assert all(o in envs.single_observation_space for o in obs)
    finally:
        envs.close()
    return seen


def expected(options=None):
    per_env = [single_env_run(seed, [pair[i] for pair in ACTIONS], options) for i, seed in enumerate(SEEDS)]
    return [list(step) for step in zip(*per_env, strict=True)]


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_vector_env_observations_equal_single_env(mode):
    want = expected()
    got = vector_run(mode)
    assert got == want
    assert got[0][0][0].startswith("f(x) = 0\ny: ") and got[1][0][0].startswith("f(x) = x\n")


def test_async_vector_env_with_reset_options():
    options = {"target": "sin(x) + x"}
    assert vector_run("async", options=options) == expected(options)


def test_async_vector_env_without_shared_memory_agrees():
    assert vector_run("async", shared_memory=False) == expected()


def test_unicode_text_shared_memory_round_trip_and_live_view():
    space = UnicodeText(16)
    memory = create_shared_memory(space, n=3, ctx=multiprocessing)
    view = read_from_shared_memory(space, memory, n=3)
    texts = ["⊢ ∀ n:ℕ 𝓝", "", "a\tb\nc"]
    for i, text in enumerate(texts):
        write_to_shared_memory(space, i, text, memory)
    assert tuple(view) == tuple(texts)  # the view read before the writes sees them
    assert copy.deepcopy(view) == tuple(texts) and isinstance(copy.deepcopy(view), tuple)
    write_to_shared_memory(space, 1, "x", memory)
    assert view[1] == "x" and view[0] == texts[0]
    with pytest.raises(ValueError, match="does not fit"):
        write_to_shared_memory(space, 0, "y" * 17, memory)
    # 4 bytes per character plus a length, per env
    assert np.frombuffer(memory.get_obj(), dtype=np.int32).size == 3 * (16 + 1)
