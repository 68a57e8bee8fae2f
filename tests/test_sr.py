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
from hypothesis import given, settings
from hypothesis import strategies as st

import aitp_gym  # noqa: F401
from aitp_gym.envs.sr import backend as B
from aitp_gym.envs.sr import expr as E
from aitp_gym.envs.sr import splits
from aitp_gym.envs.sr.backend import (
    MAX_SHOWN_POINTS,
    RULES,
    SPLIT_SPECS,
    SRBackend,
    make_theorem,
    proof_from_script,
    random_theorem,
    theorem_from_data,
    theorem_from_record,
)
from aitp_gym.trace import atomic_write_text
from aitp_gym.tree import OutcomeKind

HOSTILE = [
    "", " ", "\x00", "sin", "@0", "sin @", "sin @-1", "sin @99999", "sin @0 B=x", "add @0", "add @0 A=x",
    "add @0 B=", "add @0 B=__import__('os').system('echo pwned')", "add @0 B=().__class__", "add @0 B=x.real",
    "add @0 B=lambda: 1", "add @0 B=[x]", "add @0 B=x if x else x", "add @0 B=1.5", "add @0 B=10**10**10",
    "add @0 B=" + "(" * 500 + "x" + ")" * 500, "add @0 B=" + "+".join(["x"] * 50), "add @0 B=foo(x)",
    "add @0 B=sin(x, x)", "add @0 B=y", "init @0 A=x", "rm -rf / @0", "sin @0;; #quit;;", "sin\n@0",
    "ℕ @0", "sin @0 " + "A" * 10_000, "pow @0 B=3", "eval @0", "__class__ @0",
]


@pytest.fixture
def goal1():
    """The goal after 'init @0 A=x' for the target sin(x) + x."""
    backend = SRBackend()
    root = backend.start(make_theorem("sin(x) + x"))
    return backend, backend.apply(root, "init @0 A=x").subgoals[0]


def test_hostile_tactics_are_error_outcomes(goal1):
    backend, goal = goal1
    for tactic in HOSTILE:
        outcome = backend.apply(goal, tactic)
        assert outcome.kind is OutcomeKind.ERROR, tactic
        assert outcome.message and len(outcome.message) < 400, tactic


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.from_regex(r"[a-z0-9]{1,5} ?@ ?[0-9]{1,3}( [AB]=.{0,12})?", fullmatch=True))
def test_random_strings_never_raise(tactic):
    backend = SRBackend()
    goal = backend.apply(backend.start(make_theorem("sin(x) + x")), "init @0 A=x").subgoals[0]
    outcome = backend.apply(goal, tactic)
    assert outcome.kind in (OutcomeKind.OK, OutcomeKind.ERROR, OutcomeKind.PROVED)


def test_episode_goes_on_after_garbage():
    env = gym.make("SR-v0")
    obs, _ = env.reset(options={"target": "sin(x) + x"})
    for tactic in HOSTILE[:10]:
        obs2, reward, terminated, truncated, info = env.step(tactic)
        assert info["error"] and not terminated and obs2 == obs and info["message"]
    env.step("init @0 A=x")
    env.step("sin @0")
    *_, terminated, _, info = env.step("add @0 B=x")
    assert terminated and info["proved"]


def test_messages_explain_what_went_wrong(goal1):
    backend, goal = goal1
    assert "out of range" in backend.apply(goal, "sin @5").message
    assert "unknown rule" in backend.apply(goal, "frob @0").message
    assert "needs a substitution B" in backend.apply(goal, "add @0").message
    assert "takes no substitution" in backend.apply(goal, "sin @0 B=x").message
    assert "only to the constant 0" in backend.apply(goal, "init @0 A=x").message
    assert "integer constants" in backend.apply(goal, "add @0 B=0.5").message
    # ln of x is NaN at the negative points, where sin(x) + x is finite
    assert "NaN or infinite" in backend.apply(goal, "ln @0").message


def test_rules_build_expressions_at_prefix_positions(goal1):
    backend, goal = goal1
    g = backend.apply(goal, "add @0 B=2").subgoals[0]
    assert g.key == "add x 2"
    g = backend.apply(g, "sin @2").subgoals[0]  # positions: 0 add, 1 x, 2 the constant
    assert g.key == "add x sin 2" and g.text.startswith("f(x) = x + sin(2)")
    assert len(RULES) == 18  # init, 13 unary, 4 binary


def test_expression_print_parse_round_trip():
    rng = np.random.default_rng(0)
    for difficulty in range(1, 8):
        target, _ = random_theorem(rng, difficulty)
        assert E.to_str(E.parse(target)) == target


def test_proved_when_values_match_even_by_another_expression():
    backend = SRBackend()
    goal = backend.apply(backend.start(make_theorem("2*x")), "init @0 A=x").subgoals[0]
    assert backend.apply(goal, "add @0 B=x").kind is OutcomeKind.PROVED


def test_nan_matches_only_nan():
    theorem = make_theorem("sqrt(x)")  # NaN at the 10 negative points: allowed (not more than half)
    backend = SRBackend()
    goal = backend.apply(backend.start(theorem), "init @0 A=x").subgoals[0]
    assert backend.apply(goal, "sqrt @0").kind is OutcomeKind.PROVED
    assert backend.apply(goal, "abs @0").kind is OutcomeKind.OK


def test_user_targets_and_raw_data():
    env = gym.make("SR-v0")
    obs, info = env.reset(options={"target": "x**3 + x**2 + x", "points": np.linspace(-1, 1, 20)})
    assert np.allclose(info["y"], info["x"] ** 3 + info["x"] ** 2 + info["x"])
    with pytest.raises(ValueError, match="more than half"):
        make_theorem("ln(x - 100)")
    with pytest.raises(ValueError, match="only variable is x"):
        make_theorem("x + z")
    with pytest.raises(ValueError, match="same length|one length"):
        theorem_from_data([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="unknown options"):
        env.reset(options={"target": "x", "pointz": [1]})


def test_ground_truth_proofs_replay_and_match_difficulty():
    backend = SRBackend()
    for theorem in backend.theorems("valid"):
        script = theorem.data["proof"]
        assert len(script) == theorem.data["difficulty"] + 1
        assert backend.check(theorem, proof_from_script(script)) == (True, "")


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


def test_candidate_tactics_are_all_applicable(goal1):
    backend, goal = goal1
    candidates = backend.candidate_tactics(goal)
    assert len(candidates) == 13 + 4 * 4
    outcomes = [backend.apply(goal, t) for t in candidates]
    assert all(o.kind is not OutcomeKind.ERROR or "NaN" in o.message for o in outcomes)


def test_out_of_range_positions_say_so(goal1):
    backend, goal = goal1  # f(x) = x: one node
    for tactic, pos in [("sin @99999", "99999"), ("sin @5", "5"), ("sin @-1", "-1"), ("add @12345 B=x", "12345")]:
        message = backend.apply(goal, tactic).message
        assert f"position {pos} is out of range" in message and "positions 0-0" in message, (tactic, message)
        assert "cannot parse" not in message


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


def _json_round_trip(data):
    return json.loads(json.dumps({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in data.items()}))


def test_theorems_rebuild_exactly_from_json_trace_data():
    rng = np.random.default_rng(0)
    xs, ys = rng.normal(size=20), rng.normal(size=20)
    ys[3] = np.nan  # allowed (less than half); JSON writes NaN
    originals = [
        theorem_from_data(xs, ys),
        make_theorem("sin(x)/3 + x**3", points=rng.normal(size=20)),
        make_theorem("exp(x)"),
        SRBackend().theorems("valid")[7],
    ]
    for theorem in originals:
        data = _json_round_trip(theorem.data)
        header = {"theorem_id": theorem.id, "statement": theorem.statement, "theorem_data": data}
        for record in (data, header):
            rebuilt = theorem_from_record(record)
            assert rebuilt == theorem and rebuilt.statement == theorem.statement and rebuilt.split == theorem.split
            for key in ("x", "y"):
                assert rebuilt.data[key].tobytes() == np.asarray(theorem.data[key]).tobytes(), key
            assert {k: v for k, v in rebuilt.data.items() if k not in ("x", "y")} == \
                {k: v for k, v in theorem.data.items() if k not in ("x", "y")}
    # the lists go back through the public constructors too, to the same theorem
    raw = originals[0]
    assert theorem_from_data(*(_json_round_trip(raw.data)[k] for k in ("x", "y"))) == raw
    env = gym.make("SR-v0")
    _, info = env.reset(options={"x": xs.tolist(), "y": ys.tolist()})
    assert info["theorem_id"] == raw.id and np.array_equal(info["y"], ys, equal_nan=True)


def test_rebuilt_theorem_gives_the_same_episode():
    theorem = make_theorem("sin(x) + x", points=np.random.default_rng(1).normal(size=20))
    rebuilt = theorem_from_record(_json_round_trip(theorem.data))
    backend = SRBackend()
    script = proof_from_script(["init @0 A=x", "sin @0", "add @0 B=x"])
    assert backend.check(rebuilt, script) == (True, "")
    assert backend.start(rebuilt).text == backend.start(theorem).text
    with pytest.raises(ValueError, match="'x' and 'y'"):
        theorem_from_record({"target": "x"})


# ---------------------------------------------------------------------- the shipped splits (envs/sr/splits.py)
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
