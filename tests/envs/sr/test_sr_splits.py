"""SR-v0's splits (``envs/sr/splits.py``): fixed, documented and disjoint; shipped as package data and made
lazily, one theorem on first access, shared by every env of a process; regenerated and cached per machine when the
generator changed; safe when processes generate a split at once.

Timings are not asserted here (machines are noisy); ``python bench/sr.py`` prints them."""

import gzip
import json
import os
import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest

import aitp_gym  # noqa: F401
from aitp_gym.envs.sr import backend as B
from aitp_gym.envs.sr import splits
from aitp_gym.envs.sr.backend import SPLIT_SPECS, SRBackend
from aitp_gym.trace import atomic_write_text


def test_splits_are_fixed_documented_and_disjoint():
    a, b = SRBackend(), SRBackend()
    valid = [t.data["target"] for t in a.theorems("valid")]
    assert valid == [t.data["target"] for t in b.theorems("valid")]
    spec = SPLIT_SPECS["valid"]
    assert len(valid) == spec["per_difficulty"] * len(spec["difficulties"])
    assert {t.data["difficulty"] for t in a.theorems("valid")[:5]} == set(spec["difficulties"])
    test = {t.data["target"] for t in a.theorems("test")}
    train = {t.data["target"] for t in a.theorems("train")}
    assert not (set(valid) | test) & train


def test_envs_share_one_theorem_list():
    a, b = gym.make("SR-v0", split="valid"), gym.make("SR-v0", split="valid")
    assert a.unwrapped.backend.theorems("valid") is b.unwrapped.backend.theorems("valid")
    assert SRBackend().theorems("test") is SRBackend().theorems("test")
    # shared theorems are read-only, so one env cannot change another's data
    x = a.unwrapped.backend.theorems("valid")[0].data["x"]
    assert not x.flags.writeable


REBUILD = "the shipped SR-v0 splits are out of date: run `python -m aitp_gym.envs.sr.splits`"


def _assert_same_theorem(a, b):
    assert (a.id, a.statement, a.split) == (b.id, b.statement, b.split)
    assert list(a.data) == list(b.data), a.id
    for key in ("x", "y"):
        assert a.data[key].dtype == b.data[key].dtype and a.data[key].tobytes() == b.data[key].tobytes(), (a.id, key)
        assert not a.data[key].flags.writeable
    assert {k: v for k, v in a.data.items() if k not in ("x", "y")} == \
        {k: v for k, v in b.data.items() if k not in ("x", "y")}, a.id


def _generate_all():
    fresh = {split: splits.generate(split) for split in ("valid", "test")}
    exclude = {t.data["target"] for theorems in fresh.values() for t in theorems}
    return {"train": splits.generate("train", exclude), **fresh}


def test_shipped_splits_are_exactly_the_generated_ones():
    """Every theorem of every split, as made from the shipped file, is the one the generator makes: same ids in
    the same order, statements, data (x and y to the bit), difficulties and ground-truth proofs."""
    doc = splits._read_shipped(splits.SHIPPED_FILE)
    assert doc is not None and doc["format"] == splits.FORMAT, f"no readable {splits.SHIPPED_FILE}"
    assert doc["key"] == splits.generator_key(), REBUILD
    for split, fresh in _generate_all().items():
        rows = splits.shipped_rows(split)
        assert rows is not None, REBUILD
        shipped = SRBackend().theorems(split)  # the process's shared split
        assert isinstance(shipped, splits.SplitTheorems) and shipped.split == split
        assert len(shipped) == len(rows) == len(fresh), split
        for made, theorem in zip(splits.SplitTheorems(split, rows), fresh, strict=True):
            _assert_same_theorem(made, theorem)
        for made, theorem in zip(shipped, fresh, strict=True):
            _assert_same_theorem(made, theorem)
        assert [splits.row_of(t) for t in fresh] == rows


def test_split_theorems_are_made_lazily_and_behave_like_a_tuple():
    theorems = splits.SplitTheorems("valid", splits.shipped_rows("valid"))
    n = len(theorems)
    assert n == 100 and theorems.made() == 0
    assert theorems[3] is theorems[3] and theorems.made() == 1 and theorems[3].id == "sr-valid-0003"
    assert theorems[-1] is theorems[n - 1] and theorems[np.int64(5)] is theorems[5]
    assert theorems[2:8:2] == (theorems[2], theorems[4], theorems[6]) and theorems[:0] == ()
    for index in (n, -n - 1):
        with pytest.raises(IndexError, match="out of range"):
            theorems[index]
    assert [t.id for t in theorems] == [f"sr-valid-{i:04d}" for i in range(n)] and theorems.made() == n
    assert theorems.index(theorems[9]) == 9 and theorems[9] in theorems
    shared = SRBackend().theorems("valid")
    assert pickle.loads(pickle.dumps(shared)) is shared  # a reference to the process's split, no theorems
    assert len(pickle.dumps(shared)) < 200


# ---------------------------------------------------------------------------------------------- a changed generator
def _stale_copy(path, doc, **changes):
    """A copy of the shipped file with some fields changed (written as ``write_shipped`` writes it)."""
    atomic_write_text(path, json.dumps({**doc, **changes}))
    return path


def test_a_changed_generator_regenerates_its_splits_and_caches_them(tmp_path, monkeypatch):
    doc = splits._read_shipped(splits.SHIPPED_FILE)
    valid_rows = doc["splits"]["valid"]
    other_rows = [[r[0], r[1], "x + 1", r[3]] for r in valid_rows]  # what an older generator might have made
    # only the source files changed, not the generator: the file is still used
    monkeypatch.setattr(splits, "SHIPPED_FILE", _stale_copy(tmp_path / "a.json.gz", doc, sources="0" * 64))
    assert splits.shipped_rows("valid") == valid_rows
    # the generator changed: the file is not used
    monkeypatch.setattr(splits, "SHIPPED_FILE", _stale_copy(tmp_path / "b.json.gz", doc, key="0" * 64,
                                                            sources="0" * 64, splits={"valid": other_rows}))
    assert splits.shipped_rows("valid") is None
    monkeypatch.setattr(splits, "SHIPPED_FILE", tmp_path / "missing.json.gz")
    assert splits.shipped_rows("valid") is None

    monkeypatch.setenv("AITP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(splits, "_SPLITS", {})  # as in a new process
    with pytest.warns(UserWarning, match="generating the valid split"):
        generated = splits.split_theorems("valid")
    for made, theorem in zip(splits.SplitTheorems("valid", valid_rows), generated, strict=True):
        _assert_same_theorem(made, theorem)
    key = splits.generator_key()
    assert splits.cache_file("valid", key).exists() and not splits.cache_file("train", key).exists()
    assert sorted(p.name for p in (tmp_path / "cache" / "sr").iterdir()) == [splits.cache_file("valid", key).name]

    # the next process reads the cache: no warning, no generator
    monkeypatch.setattr(splits, "_SPLITS", {})
    monkeypatch.setattr(B, "random_theorem", _refuse)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached = splits.split_theorems("valid")
    assert cached is not generated
    for made, theorem in zip(cached, generated, strict=True):
        _assert_same_theorem(made, theorem)
    # a damaged cache file counts as none
    splits.cache_file("valid", key).write_bytes(b"\x1f\x8bnot gzip")
    assert splits.cached_rows("valid", key) is None


def _refuse(*args, **kwargs):
    raise AssertionError("the generator ran")


CONCURRENT_GENERATION = """
import sys, warnings
from pathlib import Path
warnings.simplefilter("ignore")
from aitp_gym.envs.sr import splits
splits.SHIPPED_FILE = Path(sys.argv[1])
print(",".join(t.id for t in splits.split_theorems("valid")))
"""


def test_concurrent_processes_generate_and_cache_a_split_safely(tmp_path):
    env = {**os.environ, "AITP_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_GENERATION, str(tmp_path / "missing.json.gz")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    expected = ",".join(f"sr-valid-{i:04d}" for i in range(100))
    assert [out.strip() for out, _ in outputs] == [expected] * 3
    key = splits.generator_key()
    files = list((tmp_path / "cache" / "sr").iterdir())
    assert [f.name for f in files] == [splits.cache_file("valid", key).name]  # no temporary file left behind
    doc = json.loads(gzip.decompress(files[0].read_bytes()))
    assert doc["key"] == key and doc["rows"] == splits.shipped_rows("valid")


# ---------------------------------------------------------------------------------------------- a new process
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
