"""SR-v0 envs are cheap: no per-instance charset, one theorem list per process, small pickles, and a new
process's first reset makes one theorem from the shipped splits instead of generating the train split.

Timings are not asserted here (machines are noisy); ``python bench/sr.py`` prints them.
"""

import json
import os
import pickle
import subprocess
import sys

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


FIRST_RESETS = """
import json, warnings
warnings.simplefilter("error")  # the warning of a split generated because the shipped file is stale, too
import gymnasium as gym, aitp_gym
from aitp_gym.envs.sr import backend, splits

def refuse(*args, **kwargs):
    raise AssertionError("the generator ran")

backend.random_theorem = backend.generate_split = refuse

def state(info):
    loaded = {key[0][0]: theorems.made() for key, theorems in splits._SPLITS.items()}
    return [info["theorem_id"], loaded]

out = {}
env = gym.make("SR-v0")  # the default split, train
_, info = env.reset(seed=0, options={"target": "sin(x) + x"})
out["target"] = state(info)
_, info = env.reset(options={"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.5]})
out["data"] = state(info)
valid = gym.make("SR-v0", split="valid")
_, info = valid.reset(seed=0)
out["valid"] = state(info)
_, info = env.reset(seed=0)
out["first"] = state(info)
_, info = env.reset(options={"theorem": 7})
out["index"] = state(info)
_, info = env.reset(options={"theorem": "sr-test-0005"})
out["id"] = state(info)
print(json.dumps(out))
"""


def test_a_new_process_makes_only_the_theorems_it_resets_to(tmp_path):
    """In a fresh process (as a notebook kernel or a vector-env worker starts), no reset runs the generator: a
    reset with a target or data reads no split, one on the valid split reads only valid, the first one on train
    makes one train theorem (and an index one more), and only a lookup by id goes through the splits."""
    env = {**os.environ, "AITP_CACHE_DIR": str(tmp_path)}  # an empty cache: only the shipped file can serve
    out = subprocess.run([sys.executable, "-c", FIRST_RESETS], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["target"][1] == {} and got["data"][1] == {}
    assert got["valid"][0].startswith("sr-valid-") and got["valid"][1] == {"valid": 1}
    assert got["first"][0].startswith("sr-train-") and got["first"][1] == {"valid": 1, "train": 1}
    assert got["index"] == ["sr-train-0007", {"valid": 1, "train": 2}]
    assert got["id"][0] == "sr-test-0005" and got["id"][1]["test"] >= 6
    assert list(tmp_path.iterdir()) == []  # nothing generated, so nothing cached
