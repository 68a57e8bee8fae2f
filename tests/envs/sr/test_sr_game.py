"""The conjecturer-prover game on SR-v0 (``aitp_gym.envs.sr.game``): PettingZoo's API tests, the rules with scripted
agents, bad input, seeding, legal moves and action masks (PettingZoo's documented random loop plays legal moves
only), the Parallel variant (and why ``aec_to_parallel`` refuses the AEC game), and the example script."""

from __future__ import annotations

import doctest
import importlib.util
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from doubles import ROOT  # noqa: E402
from pettingzoo.test import api_test, parallel_api_test  # noqa: E402
from pettingzoo.utils.conversions import aec_to_parallel  # noqa: E402

from aitp_gym.envs.sr import expr as E  # noqa: E402
from aitp_gym.envs.sr.backend import DEFAULT_POINTS, SRBackend, TacticError, apply_rule  # noqa: E402
from aitp_gym.envs.sr.game import (  # noqa: E402
    CONJECTURER,
    PROVER,
    SUBMIT,
    ConjectureGame,
    GameSettings,
    Phase,
    accepted_candidates,
    conjecture_problem,
    env,
    extend_conjecture,
    parallel_env,
    raw_env,
    rule_candidates,
)

EXAMPLE = ROOT / "examples" / "pettingzoo_sr_game.py"

BAD_ACTIONS = [None, 7, 3.5, b"sin @0", ["sin @0"], "", "   ", "\x00\x01", "sin @999", "sin @-1", "SUBMIT",
               "add @0 B=__import__('os')", "add @0 B=" + "x+" * 300 + "x", "x" * 10_000, "ŷ ⊢ ∀ 𝓝", "sin @0\nsin @0"]


def play_out(game_env, conjecturer_actions, prover_actions):
    """Step an AEC env to the end with scripted actions (then the given actions run out: garbage); returns each
    agent's cumulative reward as ``last()`` reports it when the agent is done."""
    scripts = {CONJECTURER: iter(conjecturer_actions), PROVER: iter(prover_actions)}
    final = {}
    for agent in game_env.agent_iter(200):
        _obs, reward, terminated, truncated, _info = game_env.last()
        if terminated or truncated:
            final[agent] = reward
            game_env.step(None)
        else:
            game_env.step(next(scripts[agent], "no such tactic"))
    assert not game_env.agents, "the game did not end within 200 actions"
    return final


# ---------------------------------------------------------------------- PettingZoo's own checks
@pytest.mark.parametrize("discrete", [False, True], ids=["text", "discrete"])
@pytest.mark.parametrize("make", [env, raw_env], ids=["env", "raw_env"])
def test_api_test(make, discrete):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its advice for Box/Discrete spaces and NumPy observations, all-0 masks
        api_test(make(discrete_actions=discrete), num_cycles=300)


@pytest.mark.parametrize("discrete", [False, True], ids=["text", "discrete"])
def test_parallel_api_test(discrete):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parallel_api_test(parallel_env(discrete_actions=discrete), num_cycles=300)


def test_aec_to_parallel_is_refused_for_a_reason():
    """PettingZoo's conversion needs every agent to act once a cycle; the conjecturer acts several times in a row.
    So the metadata says it is not parallelizable, and parallel_env() is the Parallel game."""
    assert env().metadata["is_parallelizable"] is False
    with pytest.raises(AssertionError, match="is_parallelizable"):
        aec_to_parallel(env())
    forced = raw_env()
    forced.metadata = {**forced.metadata, "is_parallelizable": True}
    converted = aec_to_parallel(forced)
    converted.reset(seed=0)
    with pytest.raises(AssertionError, match="step in a cycle"):  # what the flag protects from
        converted.step({CONJECTURER: "init @0 A=x", PROVER: "init @0 A=x"})


def test_observations_in_the_proof_phase():
    """api_test's random text never builds a valid conjecture, so its games end at the conjecturer's budget; drive
    a game into the proof phase and check the observations there too."""
    game_env = env()
    game_env.reset(seed=0)
    for action in ["init @0 A=x", "sin @0", SUBMIT]:
        game_env.step(action)
    assert game_env.agent_selection == PROVER
    for agent in game_env.possible_agents:
        obs = game_env.observe(agent)
        assert obs in game_env.observation_space(agent)
        assert obs["phase"] == Phase.PROOF
    text = game_env.observe(PROVER)["text"]
    assert text.startswith("f(x) = 0\ny: ") and "ŷ: " in text  # SR-v0's goal, with a non-ASCII character
    assert "sin" not in text, "the prover must not see the conjecture's expression"
    assert "sin(x)" in game_env.observe(CONJECTURER)["text"]


# ---------------------------------------------------------------------- rules
SCRIPTS = [
    ["init @0 A=x", SUBMIT],
    ["init @0 A=x", "sin @0", "add @0 B=2", SUBMIT],
    ["init @0 A=x", "abs @0", "ln @0", "mul @2 B=x", SUBMIT],
    ["init @0 A=3", "neg @0", "add @0 B=x", "cosh @0", "inv @0"],  # forced submission at the budget of 5
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_prover_replaying_the_construction_wins(script):
    game_env = env(max_conjecture_steps=5, max_proof_steps=5)
    game_env.reset()
    for action in script:
        game_env.step(action)
    construction = game_env.unwrapped.game.conjecture_script
    assert construction == [a for a in script if a != SUBMIT]
    final = play_out(game_env, [], construction)
    assert final == {PROVER: 1.0, CONJECTURER: -1.0}
    game = game_env.unwrapped.game
    assert game.winner == PROVER and game.reason.startswith("proved")


def test_conjecturer_wins_when_the_prover_runs_out_of_steps():
    game_env = env(max_proof_steps=4)
    game_env.reset()
    final = play_out(game_env, ["init @0 A=x", "sin @0", SUBMIT], ["init @0 A=1", "neg @0", "neg @0", "cos @0"])
    assert final == {CONJECTURER: 1.0, PROVER: -1.0}
    game = game_env.unwrapped.game
    assert game.proof_steps == 4 and game.reason == "not proved within 4 steps"
    assert game.proof_script == ["init @0 A=1", "neg @0", "neg @0", "cos @0"]


def test_random_conjectures_are_always_proved_by_their_construction():
    """Whatever a (random) conjecturer does, a valid conjecture is proved by replaying its accepted rules: every
    step it took is finite everywhere, so SR-v0 accepts every replayed step."""
    rng = np.random.default_rng(0)
    outcomes = {"valid": 0, "invalid": 0}
    for _ in range(40):
        game_env = raw_env(max_conjecture_steps=6, max_proof_steps=6)
        game_env.reset()
        while game_env.agent_selection == CONJECTURER and not game_env.terminations[CONJECTURER]:
            actions = [a for a in game_env.candidate_actions(CONJECTURER) if a != SUBMIT]
            game_env.step(actions[rng.integers(len(actions))])
        game = game_env.game
        if game.phase is Phase.OVER:
            assert game.winner == PROVER and game.reason.startswith("invalid conjecture")
            assert conjecture_problem(game.conjecture, 16) is not None
            outcomes["invalid"] += 1
            continue
        outcomes["valid"] += 1
        assert conjecture_problem(game.conjecture, 16) is None
        final = play_out(game_env, [], list(game.conjecture_script))
        assert final == {PROVER: 1.0, CONJECTURER: -1.0}, (E.to_str(game.conjecture), game.reason)
    assert outcomes["valid"] >= 10 and outcomes["invalid"] >= 1, outcomes  # both branches were exercised


@pytest.mark.parametrize("script, reason", [
    ([SUBMIT], "0 at every point"),
    (["init @0 A=x", "sub @0 B=x", SUBMIT], "0 at every point"),
    (["init @0 A=x", "mul @0 B=0", SUBMIT], "0 at every point"),
    (["garbage", "garbage", "garbage"], "0 at every point"),  # forced submission of 0 at the budget of 3
])
def test_invalid_conjecture_loses_for_the_conjecturer(script, reason):
    game_env = env(max_conjecture_steps=3)
    game_env.reset()
    final = play_out(game_env, script, [])
    assert final == {PROVER: 1.0, CONJECTURER: -1.0}
    game = game_env.unwrapped.game
    assert game.reason.startswith("invalid conjecture") and reason in game.reason
    assert game.proof_steps == 0 and game.goal is None, "the prover never had to move"


def test_forced_submission_at_the_budget_starts_the_proof():
    game_env = env(max_conjecture_steps=2)
    game_env.reset()
    game_env.step("init @0 A=x")
    assert game_env.agent_selection == CONJECTURER
    game_env.step("exp @0")
    assert game_env.agent_selection == PROVER
    assert game_env.unwrapped.game.phase is Phase.PROOF
    assert game_env.infos[PROVER]["goal_key"] == "0"


@pytest.mark.parametrize("script, rejected, why", [
    (["init @0 A=x"], "ln @0", "NaN or infinite at 10 of 20 points"),  # ln(x) at the negative points
    (["init @0 A=x"], "inv @0 B=x", "takes no substitution"),  # SR-v0's own rejection
    (["init @0 A=x", "mul @0 B=3"], "exp @0", "exceeds 1e+12"),  # e**30 at x = 10
    (["init @0 A=x", "sin @0", "cos @0", "tan @0"], "exp @0", "would have 5 nodes; a conjecture has at most 4"),
    (["init @0 A=x"], "add @0 B=x*x*x", "would have 7 nodes"),
])
def test_rejected_rules_are_error_steps(script, rejected, why):
    game_env = env(max_conjecture_size=4)
    game_env.reset()
    for action in script:
        game_env.step(action)
    before = game_env.unwrapped.game.conjecture
    left = game_env.infos[CONJECTURER]["steps_left"]
    game_env.step(rejected)
    info = game_env.infos[CONJECTURER]
    assert info["error"] is True and why in info["message"], info["message"]
    assert game_env.unwrapped.game.conjecture == before
    assert info["steps_left"] == left - 1
    assert game_env.agent_selection == CONJECTURER


def test_rule_functions():
    x = E.parse("x")
    assert extend_conjecture(x, "sin @0", 16) == ("sin", x)
    with pytest.raises(TacticError, match="finite"):
        extend_conjecture(x, "sqrt @0", 16)
    assert conjecture_problem(E.parse("sin(x) + 2"), 16) is None
    assert "0 at every point" in conjecture_problem(E.ZERO, 16)
    assert "nodes, more than 2" in conjecture_problem(E.parse("sin(x) + 2"), 2)
    assert "NaN or infinite" in conjecture_problem(E.parse("sqrt(x)"), 16)
    assert "exceeds" in conjecture_problem(E.parse("exp(x * 3)"), 16)
    assert conjecture_problem(E.parse("x - x + 1e-3"), 16) is None  # small but not 0


def test_settings_are_validated():
    for bad in ({"max_conjecture_steps": 0}, {"max_proof_steps": True}, {"max_conjecture_size": 65},
                {"max_proof_steps": 2.5}):
        with pytest.raises(ValueError):
            GameSettings(**bad)
    with pytest.raises(ValueError, match="render_mode"):
        raw_env(render_mode="rgb_array")


def test_rewards_are_zero_sum_and_only_at_the_end():
    rng = np.random.default_rng(1)
    winners = set()
    for _ in range(15):
        game_env = raw_env(max_conjecture_steps=4, max_proof_steps=4)
        game_env.reset()
        totals = dict.fromkeys(game_env.possible_agents, 0.0)
        for agent in game_env.agent_iter(100):
            _obs, _reward, terminated, truncated, _info = game_env.last()
            if terminated or truncated:
                game_env.step(None)
                continue
            actions = game_env.candidate_actions(agent)
            assert actions, f"{agent} has no candidate action on its turn"
            game_env.step(actions[rng.integers(len(actions))])
            for a, r in game_env.rewards.items():
                totals[a] += r
                if game_env.game.phase is not Phase.OVER:
                    assert r == 0.0
        assert sorted(totals.values()) == [-1.0, 1.0]
        winners.add(max(totals, key=totals.get))
    assert winners == {CONJECTURER, PROVER}, "random play should let each side win sometimes"


def test_observations_and_candidates_fit_the_spaces():
    game_env = raw_env()
    game_env.reset()
    for action in ["init @0 A=x", "sinh @0", SUBMIT, "init @0 A=x", "nonsense", "sinh @0"]:
        for agent in game_env.agents:
            assert game_env.observe(agent) in game_env.observation_space(agent)
            for candidate in game_env.candidate_actions(agent):
                assert candidate in game_env.action_space(agent)
        game_env.step(action)
    assert game_env.game.winner == PROVER
    for agent in game_env.possible_agents:
        obs = game_env.observe(agent)
        assert obs in game_env.observation_space(agent)
        assert obs["phase"] == Phase.OVER and obs["text"].startswith("game over: prover_0 wins (proved in 3 step(s))")
        assert game_env.infos[agent]["proof_script"] == ["init @0 A=x", "sinh @0"]
    assert game_env.candidate_actions(PROVER) == []


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("phase", ["conjecture", "proof"])
def test_bad_actions_are_error_steps_and_the_game_goes_on(phase):
    n = len(BAD_ACTIONS) + 5  # room for them, 3 sampled texts and the good actions around them
    game_env = env(max_conjecture_steps=n, max_proof_steps=n)
    game_env.reset(seed=0)
    game_env.step("init @0 A=x")
    if phase == "proof":
        game_env.step(SUBMIT)
    agent = game_env.agent_selection
    game = game_env.unwrapped.game
    sampled = [game_env.action_space(agent).sample() for _ in range(3)]
    for action in BAD_ACTIONS + sampled:
        state = (game.conjecture, game.goal, list(game.conjecture_script), list(game.proof_script))
        left = game.steps_left(agent)
        game_env.step(action)
        info = game_env.infos[agent]
        assert info["error"] is True and info["message"], repr(action)[:60]
        assert (game.conjecture, game.goal, game.conjecture_script, game.proof_script) == state
        assert game.steps_left(agent) == left - 1
        assert game_env.agent_selection == agent and not game_env.terminations[agent]
        assert game_env.observe(agent) in game_env.observation_space(agent)
    game_env.step("init @0 A=x" if phase == "proof" else SUBMIT)  # a good action still works afterwards
    assert game.phase is (Phase.OVER if phase == "proof" else Phase.PROOF)


def test_submit_tolerates_spaces_and_is_a_conjecturer_word():
    game_env = env()
    game_env.reset()
    game_env.step("init @0 A=x")
    game_env.step("  submit\t")
    assert game_env.agent_selection == PROVER
    game_env.step(SUBMIT)
    assert game_env.infos[PROVER]["error"] is True


def test_dead_agents_take_only_none():
    game_env = raw_env()
    game_env.reset()
    game_env.step(SUBMIT)  # invalid: over at once
    assert all(game_env.terminations.values())
    with pytest.raises(ValueError):
        game_env.step("sin @0")
    game_env.step(None)
    game_env.step(None)
    assert game_env.agents == []


def test_game_refuses_moves_after_the_end():
    game = ConjectureGame()
    game.play(SUBMIT)
    assert game.phase is Phase.OVER and game.to_move is None
    with pytest.raises(RuntimeError, match="reset"):
        game.play("init @0 A=x")


# ---------------------------------------------------------------------- seeding
def sampled_run(seed, steps=12):
    """A game played with actions sampled from the agents' spaces, and a few valid rules in between."""
    game_env = env(max_conjecture_steps=6, max_proof_steps=6)
    game_env.reset(seed=seed)
    record = []
    for i, agent in enumerate(game_env.agent_iter(steps)):
        _obs, _reward, terminated, truncated, _info = game_env.last()
        if terminated or truncated:
            action = None
        elif i % 3 == 0:
            action = game_env.candidate_actions(agent)[0]
        else:
            action = game_env.action_space(agent).sample()
        record.append((agent, action, game_env.observe(agent)["text"]))
        game_env.step(action)
    return record, game_env.unwrapped.np_random.random()


def test_seeding_is_reproducible():
    first, second, other = sampled_run(3), sampled_run(3), sampled_run(4)
    assert first == second
    assert first[0] != other[0], "different seeds should sample different actions"
    assert first[1] != other[1]


def test_parallel_seeding_is_reproducible():
    def run(seed):
        par = parallel_env()
        obs, _ = par.reset(seed=seed)
        out = []
        while par.agents:
            actions = {a: par.action_space(a).sample() for a in par.agents}
            obs, rewards, *_ = par.step(actions)
            out.append((actions, obs, rewards))
        return out

    assert run(5) == run(5)
    assert run(5) != run(6)


# ---------------------------------------------------------------------- legal moves and action masks
@pytest.mark.parametrize("settings", [{}, {"max_conjecture_steps": 3, "max_conjecture_size": 4, "max_proof_steps": 3},
                                      {"max_conjecture_steps": 12, "max_proof_steps": 30}],
                         ids=["default", "small", "long"])
def test_pettingzoo_documented_random_loop_plays_legal_moves(settings):
    """PettingZoo's documented AEC loop, with the action mask as in its classic games, plays legal moves only:
    no error step, games to the end, and into the proof phase."""
    game = env(discrete_actions=True, **settings)
    names = {agent: game.unwrapped.action_names(agent) for agent in game.possible_agents}
    moves, proof_moves, winners = 0, 0, set()
    for seed in range(25):
        game.reset(seed=seed)
        for agent in game.agent_iter(1_000):
            observation, reward, termination, truncation, info = game.last()
            if termination or truncation:
                action = None
            else:
                mask = observation["action_mask"]
                assert mask.dtype == np.int8 and mask.shape == (len(names[agent]),)
                assert sorted(names[agent][i] for i in np.flatnonzero(mask)) == sorted(info["legal_actions"])
                action = game.action_space(agent).sample(mask)  # this is where you would insert your policy
            game.step(action)
            if action is not None:
                moves += 1
                proof_moves += agent == PROVER
                assert game.infos[agent]["error"] is False, (agent, names[agent][action], game.infos[agent])
        assert not game.agents, "the game did not end"
        winners.add(game.unwrapped.game.winner)
    assert moves > 50 and proof_moves > 0
    if not settings:
        assert winners == {CONJECTURER, PROVER}


def test_legal_actions_are_exactly_the_candidates_that_are_not_error_steps():
    """``info["legal_actions"]``, against playing every candidate: the conjecturer's rule checks, SR-v0's for the
    prover. A text-mode random loop that picks from them makes no error step either."""
    rng = np.random.default_rng(0)
    backend = SRBackend()
    for _ in range(8):
        game_env = raw_env(max_conjecture_steps=5, max_proof_steps=5)
        game_env.reset()
        for agent in game_env.agent_iter(100):
            _obs, _reward, terminated, truncated, info = game_env.last()
            if terminated or truncated:
                game_env.step(None)
                continue
            game = game_env.game
            if agent == CONJECTURER:
                expected = [a for a in game.candidate_actions(agent) if a == SUBMIT or _extends(game.conjecture, a)]
            else:
                expected = [a for a in game.candidate_actions(agent) if not backend.apply(game.goal, a).failed]
            assert info["legal_actions"] == expected and expected
            other = PROVER if agent == CONJECTURER else CONJECTURER
            assert game_env.legal_actions(other) == [] == game_env.infos[other]["legal_actions"]  # not its turn
            game_env.step(expected[rng.integers(len(expected))])
            assert game_env.infos[agent]["error"] is False


def _extends(expr, tactic):
    try:
        extend_conjecture(expr, tactic, 16)
        return True
    except TacticError:
        return False


@pytest.mark.parametrize("source", ["0", "x", "sin(x) + x * 2", "exp(x * 3)", "ln(x) + 1", "inv(x - x)", "x / (x - 2)",
                                    "exp(exp(x))", "tanh(exp(x * 3)) + sqrt(abs(x))", "cosh(x) * sinh(x) - x * 3"])
def test_accepted_candidates_match_applying_each_one(source):
    expr = E.parse(source)
    y = E.evaluate(E.parse("sin(x) + 2"), DEFAULT_POINTS)

    def finite(values):
        return np.isfinite(values).all(axis=1)

    def sr_v0(values):
        return ~(~np.isfinite(values) & np.isfinite(y)).any(axis=1)

    for acceptable in (finite, sr_v0):
        for max_size in (3, 16, 64):
            slow = [t for t in rule_candidates(expr) if E.size(new := apply_rule(expr, t)) <= max_size and
                    bool(acceptable(E.evaluate(new, DEFAULT_POINTS)[None])[0])]
            assert accepted_candidates(expr, DEFAULT_POINTS, max_size, acceptable) == slow


def test_discrete_actions_play_their_names_and_refuse_anything_else():
    game_env = env(discrete_actions=True, max_conjecture_steps=20)
    game_env.reset(seed=0)
    names = game_env.unwrapped.action_names(CONJECTURER)
    assert len(names) == 16 * 33 + 1 and names[-1] == SUBMIT and len(set(names)) == len(names)
    assert game_env.action_space(CONJECTURER).n == len(names)
    assert len(game_env.unwrapped.action_names(PROVER)) == 29 * 33  # 2 * 16 - 3 positions
    for bad in [len(names), -1, True, 2.0, "init @0 A=x", None, np.array([1, 2])]:
        game_env.step(bad)
        info = game_env.infos[CONJECTURER]
        assert info["error"] is True and "an index from 0 to 528" in info["message"], bad
    game_env.step(np.int64(names.index("init @0 A=x")))
    assert game_env.unwrapped.game.conjecture == E.X
    game_env.step(names.index("ln @0"))  # masked out (NaN at x < 0): played, and refused by the rules
    assert game_env.infos[CONJECTURER]["error"] is True and "NaN" in game_env.infos[CONJECTURER]["message"]
    assert game_env.observe(CONJECTURER)["action_mask"][names.index("ln @0")] == 0
    game_env.step(names.index(SUBMIT))
    assert game_env.agent_selection == PROVER
    assert not game_env.observe(CONJECTURER)["action_mask"].any()  # not its turn


def test_discrete_parallel_game_and_seeding():
    def run(seed):
        par = parallel_env(discrete_actions=True)
        obs, _ = par.reset(seed=seed)
        out = []
        while par.agents:
            actions = {a: par.action_space(a).sample(obs[a]["action_mask"]) for a in par.agents}
            obs, rewards, _term, _trunc, infos = par.step(actions)
            assert not any(info.get("error") for info in infos.values())
            out.append((actions, rewards))
        return out

    assert run(5) == run(5)
    assert run(5) != run(6)


# ---------------------------------------------------------------------- parallel
def test_parallel_game_matches_the_aec_game():
    par = parallel_env(max_proof_steps=4)
    obs, infos = par.reset(seed=0)
    assert set(obs) == set(infos) == {CONJECTURER, PROVER}
    script = [("init @0 A=x", "sin @0"), ("sin @0", None), (SUBMIT, "garbage"),
              (None, "init @0 A=x"), ("garbage", "sin @0")]
    for conjecturer_action, prover_action in script:
        actions = {CONJECTURER: conjecturer_action, PROVER: prover_action}
        obs, rewards, terminations, truncations, infos = par.step(actions)
        assert set(obs) == set(rewards) == set(terminations) == set(truncations) == set(infos)
        assert not any(truncations.values())
    assert rewards == {PROVER: 1.0, CONJECTURER: -1.0}
    assert all(terminations.values()) and par.agents == []
    game = par.game
    assert game.conjecture_script == ["init @0 A=x", "sin @0"]
    assert game.proof_script == ["init @0 A=x", "sin @0"] and game.proof_steps == 2, "others' actions are ignored"
    assert par.step({CONJECTURER: "x"}) == ({}, {}, {}, {}, {})


def test_parallel_missing_action_of_the_agent_to_move_is_an_error_step():
    par = parallel_env()
    par.reset()
    _obs, _rewards, _term, _trunc, infos = par.step({PROVER: "init @0 A=x"})
    assert infos[CONJECTURER]["error"] is True and infos[CONJECTURER]["steps_left"] == 7
    assert par.game.conjecture == E.ZERO


def test_module_docstring_example():
    import aitp_gym.envs.sr.game

    assert doctest.testmod(aitp_gym.envs.sr.game).failed == 0


def test_old_import_path_still_works():
    """The game moved from ``aitp_gym.adversarial`` to ``aitp_gym.envs.sr.game``; the README's imports still work."""
    import aitp_gym.adversarial
    import aitp_gym.envs.sr.game
    from aitp_gym.adversarial import env as old_env
    from aitp_gym.adversarial import parallel_env as old_parallel_env

    assert old_env is env and old_parallel_env is parallel_env
    assert "moved" in aitp_gym.adversarial.__doc__.lower()
    assert {"env", "parallel_env", "raw_env", "ConjectureGame", "CONJECTURER", "PROVER", "SUBMIT",
            "conjecture_problem"} <= set(aitp_gym.adversarial.__all__)
    for name in aitp_gym.adversarial.__all__:
        assert getattr(aitp_gym.adversarial, name) is getattr(aitp_gym.envs.sr.game, name)


def test_render():
    game_env = raw_env(render_mode="ansi")
    game_env.reset()
    game_env.step("init @0 A=x")
    text = game_env.render()
    assert "-- conjecturer_0 --\nconjecture: f(x) = x" in text and "-- prover_0 --\nwaiting" in text


# ---------------------------------------------------------------------- the example
def test_example_runs(capsys):
    spec = importlib.util.spec_from_file_location("pettingzoo_sr_game", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(["--games", "3", "--conjecturer", "careful", "--prover", "greedy", "--seed", "1"])
    first = capsys.readouterr().out
    example.main(["--games", "3", "--conjecturer", "careful", "--prover", "greedy", "--seed", "1"])
    assert capsys.readouterr().out == first, "a seeded run must repeat exactly"
    lines = first.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["game 1", "game 2", "game 3"]
    assert lines[3].startswith("careful conjecturer vs greedy prover, 3 games: prover wins")
    assert "invalid conjectures 0" in lines[3]  # the careful conjecturer submits only valid conjectures
    tally = example.play(6, "random", "random", seed=0, quiet=True)
    assert tally[PROVER] + tally[CONJECTURER] == 6


def test_example_as_a_script():
    out = subprocess.run([sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "--games" in out.stdout and "--prover {greedy,random}" in out.stdout
    out = subprocess.run([sys.executable, str(EXAMPLE), "--games", "2", "--prover", "random", "--quiet"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("careful conjecturer vs random prover, 2 games: prover wins ")
