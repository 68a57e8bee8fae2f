"""SR-v0 envs are cheap: no per-instance charset, one theorem list per process, small pickles.

Timings are not asserted here (machines are noisy); ``python bench/sr.py`` prints them.
"""

import pickle

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import aitp_gym  # noqa: F401
from aitp_gym.env import UnicodeText
from aitp_gym.envs.sr.backend import SRBackend


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


def test_envs_share_one_theorem_list():
    a, b = gym.make("SR-v0", split="valid"), gym.make("SR-v0", split="valid")
    assert a.unwrapped.backend.theorems("valid") is b.unwrapped.backend.theorems("valid")
    assert SRBackend().theorems("test") is SRBackend().theorems("test")
    # shared theorems are read-only, so one env cannot change another's data
    x = a.unwrapped.backend.theorems("valid")[0].data["x"]
    assert not x.flags.writeable


def test_unicode_text_membership_without_materialising_the_charset():
    space = UnicodeText(100)
    assert "character_set" not in vars(space) and "_char_set" not in vars(space)
    for text in ["⊢ ∀ ℕ 𝓝", "f(x) = 0\ny: 1 2\nŷ: 0 0", "tab\there", ""]:
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


def test_check_env_passes_on_a_cheap_env():
    check_env(gym.make("SR-v0", split="valid").unwrapped, skip_render_check=True)
