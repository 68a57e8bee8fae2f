"""SR-v0's backend (``envs/sr/backend.py``) and expressions (``envs/sr/expr.py``): hostile and random tactics are
error outcomes with messages that explain, rules build expressions at prefix positions, proofs by values, user
targets and data, ground-truth proofs, candidate tactics, theorems rebuilt exactly from trace data, and the
distance-to-data critic."""

import json

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aitp_gym  # noqa: F401
from aitp_gym.envs.sr import expr as E
from aitp_gym.envs.sr.backend import (
    RULES,
    DataDistanceCritic,
    SRBackend,
    make_goal,
    make_theorem,
    proof_from_script,
    random_theorem,
    theorem_arrays,
    theorem_from_data,
    theorem_from_record,
)
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


def test_sr_critic_prefers_goals_closer_to_the_data():
    theorem = make_theorem("sin(x) + x")
    x, y = theorem_arrays(theorem)
    goals = [make_goal(E.parse(s), x, y) for s in ("0", "x", "sin(x)", "exp(x)")]
    zero, near, nearer, far = DataDistanceCritic().value(goals)
    assert 0 <= far < zero < near and 0 < nearer <= 1


# ------------------------------------------------------------------------------------- theorems from trace data
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
