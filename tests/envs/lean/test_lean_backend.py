"""Lean-v0's backend (``envs/lean/backend.py``) against a test double of ``lean_dojo.Dojo``
(``tests/doubles/lean_double.py``): the wrapper logic, without Lean.

The double returns lean_dojo's own result types and raises its own exceptions; the first test pins its
signatures to the installed lean_dojo.Dojo. The Gymnasium env and the benchmark are in test_lean_env.py; tests
with a real Lean are in test_lean_integration.py.
"""

from __future__ import annotations

import inspect
import json
import pickle
import time
from pathlib import Path

import gymnasium as gym
import lean_dojo
import pytest
from doubles.lean_double import (
    AND_INTRO,
    LEFT,
    NAT,
    REPO,
    RIGHT,
    SUCC,
    THEOREMS,
    DojoTestDouble,
    LeanWorld,
    Slow,
    lean_theorem,
    make_world,
)

import aitp_gym  # noqa: F401
from aitp_gym.envs.lean import LeanBackend, proof_script, split_goals
from aitp_gym.envs.lean.backend import focused_command
from aitp_gym.errors import ProverError
from aitp_gym.proof import ProofStep
from aitp_gym.tree import OutcomeKind


@pytest.fixture
def world() -> LeanWorld:
    return make_world()


def backend_over(world: LeanWorld, **kwargs) -> LeanBackend:
    kwargs.setdefault("proof_checker", "replay")
    return LeanBackend(THEOREMS, dojo_factory=DojoTestDouble.over(world), **kwargs)


def start(backend: LeanBackend, name: str = "and_intro"):
    theorem = next(t for t in backend.theorems("test") if t.id == name)
    return theorem, backend.start(theorem)


# -- the double itself -------------------------------------------------------------------------------------
def _parameters(fn) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_double_has_the_signatures_of_the_installed_dojo():
    public = {n for n, v in vars(DojoTestDouble).items() if callable(v) and not n.startswith("_")} - {"over"}
    checked = public | {"__init__", "__enter__", "__exit__"}
    assert {"run_tac", "__init__", "__enter__", "__exit__"} <= checked
    for name in sorted(checked):
        assert hasattr(lean_dojo.Dojo, name), f"lean_dojo.Dojo has no {name}: the double drifted"
        assert _parameters(getattr(DojoTestDouble, name)) == _parameters(getattr(lean_dojo.Dojo, name)), name
    assert lean_dojo.__version__ == "4.20.0", "the backend and the double were written against lean-dojo 4.20.0"


def test_double_reproduces_the_real_faults(world):
    dojo, state = DojoTestDouble.over(world)(lean_theorem("and_intro"), timeout=5).__enter__()
    with pytest.raises(lean_dojo.DojoTacticTimeoutError):
        dojo.run_tac(state, "slow")
    with pytest.raises(lean_dojo.DojoTacticTimeoutError):  # every later tactic times out too
        dojo.run_tac(state, "exact ⟨hp, hq⟩")
    other, state2 = DojoTestDouble.over(world)(lean_theorem("and_intro")).__enter__()
    with pytest.raises(lean_dojo.DojoCrashError):  # a state id of another Dojo kills Lean
        other.run_tac(state, "constructor")
    assert isinstance(state2, lean_dojo.TacticState)


# -- goals, commands, scripts ----------------------------------------------------------------------------
def test_split_goals_matches_lean_dojos_parser():
    pp = "\n\n".join([LEFT, RIGHT, SUCC])
    goals = split_goals(pp)
    assert goals == (LEFT, RIGHT, SUCC)
    assert len(goals) == len(lean_dojo.TacticState(pp, 1).goals) == 3
    assert split_goals(NAT) == (NAT,)


def test_focused_command_and_proof_script():
    assert focused_command("simp") == "focus\n  simp"
    assert focused_command("induction n with\n| zero => rfl\n| succ n ih => simp") == \
        "focus\n  induction n with\n  | zero => rfl\n  | succ n ih => simp"
    proof = ProofStep("constructor", children=[ProofStep("assumption"),
                                               ProofStep("cases h", children=[ProofStep("intro x\nexact x")])])
    assert proof_script(proof) == "constructor\n· assumption\n· cases h\n  intro x\n  exact x"
    chain = ProofStep("intro n", children=[ProofStep("simp")])
    assert proof_script(chain) == "intro n\nsimp"


# -- outcome mapping ---------------------------------------------------------------------------------------
def test_tactic_state_becomes_one_goal_per_lean_goal(world):
    backend = backend_over(world)
    _, root = start(backend)
    assert root.text == AND_INTRO
    outcome = backend.apply(root, "constructor")
    assert outcome.kind is OutcomeKind.OK and [g.text for g in outcome.subgoals] == [LEFT, RIGHT]
    assert [g.data.index for g in outcome.subgoals] == [0, 1]
    assert outcome.subgoals[0].key != outcome.subgoals[1].key


def test_lean_error_and_proof_given_up_are_error_outcomes_with_the_message(world):
    backend = backend_over(world)
    _, root = start(backend)
    error = backend.apply(root, "exact h")
    assert error.kind is OutcomeKind.ERROR and error.message == "unknown identifier 'h'"
    given_up = backend.apply(root, "give up")
    assert given_up.kind is OutcomeKind.ERROR and "sorry" in given_up.message
    assert backend.apply(root, "no such tactic").kind is OutcomeKind.ERROR


def test_proof_finished_closes_the_goal(world):
    backend = backend_over(world)
    _, root = start(backend)
    assert backend.apply(root, "exact ⟨hp, hq⟩").kind is OutcomeKind.PROVED


def test_sorry_is_refused_before_reaching_lean(world):
    backend = backend_over(world)
    _, root = start(backend)
    before = len(world.log)
    for tactic in ("sorry", "exact sorryAx _", "constructor <;> admit", "exact _root_.sorryAx _ false",
                   "exact Lean.sorryAx _ false", "exact «sorry»", "simp [Foo.admit]", "exact (by sorry)"):
        outcome = backend.apply(root, tactic)
        assert outcome.kind is OutcomeKind.ERROR and "refuses" in outcome.message
    assert len(world.log) == before
    assert backend.apply(root, "exact not_sorry_lemma").kind is OutcomeKind.ERROR  # sent: a word containing it
    assert world.commands()[-1] == "exact not_sorry_lemma"
    theorem = backend.theorems("test")[0]
    assert backend.check(theorem, ProofStep("exact _root_.sorryAx _ false")) == \
        (False, "the proof uses sorry, admit or sorryAx")


def test_timeout_restarts_and_replays_so_the_next_tactic_works(world):
    backend = backend_over(world, tactic_timeout=5)
    _, root = start(backend)
    left, right = backend.apply(root, "constructor").subgoals
    timed_out = backend.apply(root, "slow")
    assert timed_out.kind is OutcomeKind.TIMEOUT and "restarted" in timed_out.message
    assert world.log[-1] == ("exit",) and world.open_dojos == 0
    # the timed-out Dojo would time out again; the backend starts a fresh one and replays to RIGHT's state
    assert backend.apply(right, "exact hq").kind is OutcomeKind.PROVED
    assert world.starts() == 2 and world.open_dojos == 1
    assert world.commands()[-3:] == ["constructor", "rotate_left 1", "focus\n  exact hq"]
    assert backend.stats == {"starts": 2, "crashes": 0, "timeouts": 1}


def test_per_call_timeout_reaches_the_dojo(world):
    backend = backend_over(world, tactic_timeout=5)
    _, root = start(backend)
    assert backend.apply(root, "quick").kind is OutcomeKind.PROVED  # 3 s < 5 s
    assert backend.apply(root, "quick", timeout=1.0).kind is OutcomeKind.TIMEOUT  # a planner's remaining budget


def test_crash_restarts_retries_a_bounded_number_of_times_and_reports(world):
    backend = backend_over(world, crash_retries=2)
    _, root = start(backend)
    outcome = backend.apply(root, "congr 1")
    assert outcome.kind is OutcomeKind.ERROR
    assert "crashed" in outcome.message and "Unexpected EOF" in outcome.message and "3 Dojo(s)" in outcome.message
    assert world.commands().count("congr 1") == 3 and world.starts() == 3
    assert world.open_dojos == 0  # the next Dojo starts when it is needed
    assert backend.apply(root, "exact ⟨hp, hq⟩").kind is OutcomeKind.PROVED
    assert world.starts() == 4
    flaky = backend.apply(root, "flaky")  # crashes once, works in the fresh Dojo
    assert flaky.kind is OutcomeKind.OK and [g.text for g in flaky.subgoals] == [LEFT]
    assert backend.stats["crashes"] == 4


def test_restarts_are_bounded_per_theorem(world):
    backend = backend_over(world, crash_retries=0, max_restarts=3)
    _, root = start(backend)
    for _ in range(3):  # three Dojos: the first and two restarts
        assert backend.apply(root, "congr 1").kind is OutcomeKind.ERROR
    with pytest.raises(ProverError, match="giving up"):
        backend.apply(root, "congr 1")


def test_init_error_is_a_clear_error_at_reset_naming_the_theorem(world):
    env = gym.make("Lean-v0", theorems=[lean_theorem("broken")], dojo_factory=DojoTestDouble.over(world))
    with pytest.raises(ProverError) as caught:
        env.reset(seed=0)
    message = str(caught.value)
    assert "broken" in message and "Lean4Example.lean" in message and "`where` keyword" in message
    assert isinstance(caught.value.__cause__, lean_dojo.DojoInitError)


def test_restart_every_n_applications_replays_to_the_states_needed(world):
    backend = backend_over(world, restart_every=2)
    _, root = start(backend, "add_zero")
    zero, succ = backend.apply(root, "induction n").subgoals
    assert backend.apply(zero, "rfl").kind is OutcomeKind.PROVED
    assert world.starts() == 1
    assert backend.apply(succ, "omega").kind is OutcomeKind.PROVED  # third application: a fresh Dojo first
    assert world.starts() == 2
    assert world.commands()[-3:] == ["induction n", "rotate_left 1", "focus\n  omega"]


# -- goals other than the first ----------------------------------------------------------------------------
def test_a_tactic_on_a_later_goal_rotates_it_to_the_front_and_focuses(world):
    backend = backend_over(world)
    _, root = start(backend)
    left, right = backend.apply(root, "constructor").subgoals
    assert backend.apply(right, "exact hq").kind is OutcomeKind.PROVED
    assert world.commands()[-2:] == ["rotate_left 1", "focus\n  exact hq"]
    assert backend.apply(right, "assumption").kind is OutcomeKind.PROVED
    assert world.commands().count("rotate_left 1") == 1  # the rotated state is reused
    assert backend.apply(right, "exact hp").kind is OutcomeKind.ERROR  # hp does not prove q
    assert backend.apply(left, "exact hp").kind is OutcomeKind.PROVED


def test_focus_keeps_a_tactic_off_the_other_goals(world):
    backend = backend_over(world)
    _, root = start(backend)
    left, right = backend.apply(root, "constructor").subgoals
    outcome = backend.apply(left, "all_goals assumption")
    assert outcome.kind is OutcomeKind.PROVED
    assert world.commands()[-1] == "focus\n  all_goals assumption"
    # without focus, the double (like Lean) would have closed RIGHT too and finished the proof
    dojo, state = DojoTestDouble.over(world)(lean_theorem("and_intro")).__enter__()
    split = dojo.run_tac(state, "constructor")
    assert isinstance(dojo.run_tac(split, "all_goals assumption"), lean_dojo.ProofFinished)


def test_a_tactic_that_changes_other_goals_is_refused(world):
    backend = backend_over(world)
    _, root = start(backend)
    left, _ = backend.apply(root, "constructor").subgoals
    outcome = backend.apply(left, "witness")
    assert outcome.kind is OutcomeKind.ERROR and "other goals" in outcome.message


def test_a_tactic_that_finishes_the_proof_by_closing_other_goals_is_refused(world):
    backend = backend_over(world)
    _, root = start(backend)
    left, _ = backend.apply(root, "constructor").subgoals
    outcome = backend.apply(left, "solve both")  # Lean: ProofFinished, RIGHT solved through a shared mvar
    assert outcome.kind is OutcomeKind.ERROR and "closed other goals" in outcome.message
    assert backend.apply(left, "assumption").kind is OutcomeKind.PROVED  # LEFT alone: fine


def test_multi_line_tactics_go_under_focus_with_one_goal_or_several(world):
    backend = backend_over(world)
    _, root = start(backend)
    # Lean's REPL parses one tactic per request: a bare sequence is a parse error, also on a lone goal
    outcome = backend.apply(root, "constructor\nall_goals assumption")
    assert outcome.kind is OutcomeKind.PROVED
    assert world.commands()[-1] == "focus\n  constructor\n  all_goals assumption"
    left, right = backend.apply(root, "constructor").subgoals
    assert backend.apply(right, "skip_none\nexact hq").kind is OutcomeKind.ERROR
    assert world.commands()[-1] == "focus\n  skip_none\n  exact hq"
    assert backend.apply(root, "exact ⟨hp, hq⟩").kind is OutcomeKind.PROVED
    assert world.commands()[-1] == "exact ⟨hp, hq⟩"  # one line on one goal: as it is


def test_a_planner_out_of_budget_does_not_touch_the_dojo(world):
    backend = backend_over(world, tactic_timeout=5)
    _, root = start(backend)
    log = len(world.log)
    outcome = backend.apply(root, "exact ⟨hp, hq⟩", timeout=1e-3)
    assert outcome.kind is OutcomeKind.TIMEOUT and "not sent to Lean" in outcome.message
    assert len(world.log) == log and backend.stats["timeouts"] == 0  # no tactic, no restart
    assert backend.apply(root, "exact ⟨hp, hq⟩", timeout=0.5).kind is OutcomeKind.PROVED


def test_a_timeout_while_replaying_is_not_the_tactics_timeout(world):
    world.rules[AND_INTRO]["split slowly"] = Slow(3, [LEFT, RIGHT])
    backend = backend_over(world, tactic_timeout=5)
    _, root = start(backend)
    _, right = backend.apply(root, "split slowly").subgoals
    assert backend.apply(root, "slow").kind is OutcomeKind.TIMEOUT  # the Dojo is restarted
    world.rules[AND_INTRO]["split slowly"] = Slow(30, [LEFT, RIGHT])  # Lean is slower this time
    outcome = backend.apply(right, "exact hq")
    assert outcome.kind is OutcomeKind.TIMEOUT and "reaching the goal's state" in outcome.message
    assert "focus\n  exact hq" not in world.commands()  # the tactic itself never ran
    assert world.open_dojos == 0


def test_a_dojo_that_fails_to_start_is_cleaned_up_and_named(world):
    world.start_faults["and_intro"] = AssertionError("Unable to find Lean4Repl.lean in the traced repo.")
    backend = backend_over(world)
    theorem = backend.theorems("test")[0]
    with pytest.raises(ProverError) as caught:
        backend.start(theorem)
    message = str(caught.value)
    assert "and_intro" in message and "Lean4Example.lean" in message and "AssertionError" in message
    assert isinstance(caught.value.__cause__, AssertionError)
    assert world.open_dojos == 0 and world.log[-1] == ("exit",)  # the Lean process was ended

    def failing_factory(entry, timeout=600):
        raise RuntimeError("git clone failed")  # e.g. tracing the repository

    backend = LeanBackend(THEOREMS, dojo_factory=failing_factory, proof_checker="replay")
    with pytest.raises(ProverError, match="and_intro.*RuntimeError: git clone failed"):
        backend.start(theorem)


def test_the_same_name_in_two_files_is_two_theorems(world):
    other = "x : ℕ\n⊢ x = x"
    world.roots["Other.lean:and_intro"] = other
    world.rules[other] = {"rfl": []}
    here, there = lean_theorem("and_intro"), lean_dojo.Theorem(REPO, Path("Other.lean"), "and_intro")
    backend = LeanBackend([here, there, lean_theorem("add_zero")], dojo_factory=DojoTestDouble.over(world),
                          proof_checker="replay")
    first, second, third = backend.theorems("test")
    assert (first.id, second.id, third.id) == ("Lean4Example.lean:and_intro", "Other.lean:and_intro", "add_zero")
    assert backend.lean_theorem(first) is here and backend.lean_theorem(second) is there
    assert backend.start(first).text == AND_INTRO and backend.start(second).text == other
    # a theorem given at reset with a name of the list but another file is that other theorem
    only_here = LeanBackend([here], dojo_factory=DojoTestDouble.over(world), proof_checker="replay")
    custom = only_here.custom_theorem({"lean_theorem": there})
    assert custom.id == "Other.lean:and_intro" and only_here.lean_theorem(custom) is there
    assert only_here.start(custom).text == other
    backend.close()
    only_here.close()


def test_goals_of_an_earlier_attempt_are_refused(world):
    backend = backend_over(world)
    _, old_root = start(backend)
    start(backend, "add_zero")
    assert world.log.count(("exit",)) == 1  # the first Dojo was closed
    outcome = backend.apply(old_root, "exact ⟨hp, hq⟩")
    assert outcome.kind is OutcomeKind.ERROR and "earlier proof attempt" in outcome.message


# -- proof checking ----------------------------------------------------------------------------------------
PROOF = ProofStep("constructor", AND_INTRO, [ProofStep("assumption", LEFT), ProofStep("exact hq", RIGHT)])


def test_check_uses_lean_dojos_check_proof_with_the_script(world, tmp_path):
    record = tmp_path / "calls.json"

    def checker(theorem, proof):  # runs in a child process: it reports through a file
        record.write_text(json.dumps([theorem.full_name, str(theorem.file_path), proof]), encoding="utf-8")
        return True

    backend = backend_over(world, proof_checker=checker)
    theorem, _ = start(backend)
    starts = world.starts()
    assert backend.check(theorem, PROOF) == (True, "")
    assert json.loads(record.read_text()) == ["and_intro", "Lean4Example.lean",
                                              " by\n  constructor\n  · assumption\n  · exact hq"]
    assert world.starts() == starts  # no replay was needed


def test_check_falls_back_to_a_whole_script_replay_in_a_fresh_dojo(world):
    def cannot_run(theorem, proof):
        raise lean_dojo.DojoInitError("Cannot interact with theorems with the `where` keyword.")

    backend = backend_over(world, proof_checker=cannot_run)
    theorem, _ = start(backend)
    starts = world.starts()
    ok, message = backend.check(theorem, PROOF)
    assert ok and "could not run (DojoInitError" in message and "replay in a fresh Dojo" in message
    assert world.starts() == starts + 1 and world.open_dojos == 1  # the fresh Dojo was closed again
    # the whole script went to Lean as one tactic block, from the start state
    assert world.commands()[-1] == "focus\n  constructor\n  · assumption\n  · exact hq"
    wrong = ProofStep("constructor", AND_INTRO, [ProofStep("exact hq", LEFT), ProofStep("exact hq", RIGHT)])
    ok, message = backend.check(theorem, wrong)
    assert not ok and "rejected it" in message
    assert backend.check(theorem, ProofStep("sorry")) == (False, "the proof uses sorry, admit or sorryAx")


def test_replay_check_needs_lean_to_finish_the_whole_proof(world):
    """Lean validates a proof (kernel check, sorry) only when no goals are left, so replaying goal by goal,
    which closes each branch in its own state, never reaches that check for a proof that branches."""
    world.kernel_rejects.add("and_intro")
    backend = backend_over(world)  # proof_checker="replay"
    theorem, _ = start(backend)
    ok, message = backend.check(theorem, PROOF)
    assert not ok and "kernel type check failed" in message
    world.kernel_rejects.clear()
    assert backend.check(theorem, PROOF) == (True, "")
    unfinished = ProofStep("constructor", AND_INTRO, [ProofStep("assumption", LEFT)])  # RIGHT stays open
    ok, message = backend.check(theorem, unfinished)
    assert not ok and "1 goal(s) open" in message
    assert backend.check(theorem, ProofStep("exact ⟨hp, hq⟩")) == (True, "")


def test_check_proof_returning_false_is_settled_by_the_replay_and_said_so(world):
    backend = backend_over(world, proof_checker=lambda theorem, proof: False)
    theorem, _ = start(backend)
    ok, message = backend.check(theorem, PROOF)
    assert ok and "check_proof returned False" in message and "which accepted it" in message
    wrong = ProofStep("constructor", AND_INTRO, [ProofStep("exact hq", LEFT), ProofStep("exact hq", RIGHT)])
    ok, message = backend.check(theorem, wrong)
    assert not ok and "check_proof returned False" in message and "rejected it" in message


def test_check_proof_has_a_time_limit(world, tmp_path):
    finished = tmp_path / "finished"

    def slow(theorem, proof):
        time.sleep(30)
        finished.write_text("yes")
        return False

    backend = backend_over(world, proof_checker=slow, check_timeout=0.5)
    theorem, _ = start(backend)
    t0 = time.perf_counter()
    ok, message = backend.check(theorem, PROOF)
    assert time.perf_counter() - t0 < 10
    assert ok and "did not finish within 0.5 s" in message and "which accepted it" in message
    time.sleep(0.2)
    assert not finished.exists()  # the checking process was killed, not left running


# -- pickling and settings ---------------------------------------------------------------------------------
class PicklableDouble(DojoTestDouble):
    world = make_world()


def test_backend_pickles_without_its_lean_process():
    backend = LeanBackend(THEOREMS, dojo_factory=PicklableDouble, proof_checker="replay")
    _, root = start(backend)
    copy = pickle.loads(pickle.dumps(backend))
    assert copy._session is None and [t.id for t in copy.theorems("train")] == ["and_intro", "add_zero"]
    assert copy.apply(root, "exact ⟨hp, hq⟩").kind is OutcomeKind.ERROR  # that attempt stayed behind
    _, root = start(copy)
    assert copy.apply(root, "exact ⟨hp, hq⟩").kind is OutcomeKind.PROVED
    backend.close()
    copy.close()


@pytest.mark.parametrize("kwargs, match", [
    ({"tactic_timeout": 0}, "tactic_timeout"), ({"restart_every": 0}, "restart_every"),
    ({"crash_retries": -1}, "crash_retries"), ({"proof_checker": "nope"}, "proof_checker"),
])
def test_bad_settings_are_value_errors(world, kwargs, match):
    with pytest.raises(ValueError, match=match):
        backend_over(world, **kwargs)
