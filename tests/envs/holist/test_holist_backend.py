"""HOList-v0's backend (``envs/holist/backend.py``) against the real HOL Light, and the action grammar
(``envs/holist/grammar.py``) without it: hostile actions never reach the prover, goals round-trip, premises come
before the theorem, timeouts and dead workers, proofs replayed with ``prove``, every planner on easy goals, the env,
and the shipped theorem database. One warm prover serves the test session: the machine-wide server, pointed at a
session directory by tests/conftest.py and stopped at the end; the cold load takes about 90 s."""

import os
import signal

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aitp_gym  # noqa: F401
from aitp_gym import ProofAttempt
from aitp_gym.envs.holist import backend as holist_backend
from aitp_gym.envs.holist.grammar import HOLIST_TACTICS, TACTICS, TacticSyntaxError, parse_tactic
from aitp_gym.envs.holist.prover import hol_light_available
from aitp_gym.proof import ProofStep
from aitp_gym.search import PLANNERS, make_planner
from aitp_gym.tree import OutcomeKind

needs_hol = pytest.mark.skipif(not hol_light_available(),
                               reason="HOL Light is not installed: apt-get install -y hol-light libnum-ocaml-dev")

SAMPLE_ACTIONS = {
    "EXISTS_TAC": "EXISTS_TAC `1`", "DISJ_CASES_TAC": "DISJ_CASES_TAC EXCLUDED_MIDDLE", "RAW_POP_TAC": "RAW_POP_TAC 0",
    "REWRITE_TAC": "REWRITE_TAC [ADD_SYM; MULT_SYM]", "MATCH_ACCEPT_TAC": "MATCH_ACCEPT_TAC ADD_SYM",
    "X_GEN_TAC": "X_GEN_TAC `m:num`",
    "BACKCHAIN_TAC": "BACKCHAIN_TAC LT_IMP_LE",
    "RAW_SUBGOAL_TAC": "RAW_SUBGOAL_TAC `1 = 1`", "UNDISCH_TAC": "UNDISCH_TAC `p:bool`",
    "ASM_METIS_TAC": "ASM_METIS_TAC [ADD_SYM]", "MP_TAC": "MP_TAC (ADD_SYM)",
    "RAW_CONJUNCTS_TAC": "RAW_CONJUNCTS_TAC ADD_0",
    "ACCEPT_TAC": "ACCEPT_TAC TRUTH", "PURE_REWRITE_TAC": "PURE_REWRITE_TAC []",
    "MATCH_MP_TAC": "MATCH_MP_TAC LT_IMP_LE",
    "PURE_ONCE_REWRITE_TAC": "PURE_ONCE_REWRITE_TAC [ADD_SYM]", "SUBST1_TAC": "SUBST1_TAC ADD_SYM",
    "CONV_TAC": "CONV_TAC (DEPTH_CONV BETA_CONV)", "SIMP_TAC": "SIMP_TAC [ADD_0]", "CONTR_TAC": "CONTR_TAC TRUTH",
    "ASM_MESON_TAC": "ASM_MESON_TAC []", "X_CHOOSE_TAC": "X_CHOOSE_TAC `k:num` LT_EXISTS",
    "SPEC_TAC": "SPEC_TAC (`n:num`, `n:num`)", "LABEL_TAC": 'LABEL_TAC "h" ADD_SYM',
    "ONCE_REWRITE_TAC": "ONCE_REWRITE_TAC [ADD_SYM]",
    "GEN_REWRITE_TAC": "GEN_REWRITE_TAC (RAND_CONV o LAND_CONV) [ADD_SYM]",
    "TRANS_TAC": "TRANS_TAC LE_TRANS `n:num`",
}

HOSTILE = [
    "", " ", "ARITH_TAC;;", "ARITH_TAC;; Sys.command \"touch /tmp/pwned\";;", "Sys.command \"ls\"",
    "Unix.system \"ls\"", "#quit;;", "exit 0", "ARITH_TAC THEN ALL_TAC", "(fun g -> ARITH_TAC g)",
    "let x = 1 in ARITH_TAC", "REWRITE_TAC [ADD_SYM", "REWRITE_TAC ADD_SYM]", "REWRITE_TAC [ADD_SYM;; MULT_SYM]",
    "REWRITE_TAC [(Sys.command \"ls\"; ADD_SYM)]", "MP_TAC (Obj.magic 0)", "MP_TAC NO_SUCH_THEOREM_XYZ",
    "EXISTS_TAC `x", "EXISTS_TAC x", "EXISTS_TAC ``", "EXISTS_TAC `a\nb`", "EXISTS_TAC `1` `2`",
    "ARITH_TAC\n", "ARITH_TAC\x00", "ARITH_TAC\r", "CONJ_TAC\tCONJ_TAC", "ARITH_TAC ARITH_TAC",
    "arith_tac", "ALL_TAC", "FAIL_TAC \"x\"", "CHEAT_TAC", "new_axiom `F`", "mk_thm([], `F`)",
    "CONV_TAC (fun t -> failwith \"x\")", "CONV_TAC NO_CONV_XYZ", "GEN_REWRITE_TAC (Sys.command) [ADD_SYM]",
    'LABEL_TAC "a\\"b" ADD_SYM', "LABEL_TAC h ADD_SYM", "RAW_POP_TAC -1", "RAW_POP_TAC 99999999",
    "SPEC_TAC (`n:num`)", "MP_TAC ADD_SYM)", "((((((((ARITH_TAC", "]" * 100, "ARITH_TAC" * 300,
    "REWRITE_TAC [" + "; ".join(["ADD_SYM"] * 100) + "]", "EXISTS_TAC `" + "1 + " * 400 + "1`",
    "ℕ_TAC", "⊢ ARITH_TAC", "ARITH_TAC (* comment *)", "ARITH_TAC // comment", "'ARITH_TAC'",
    "MP_TAC ADD_SYM; MP_TAC ADD_SYM", "REWRITE_TAC [ADD_SYM,MULT_SYM]", "MP_TAC(ADD_SYM",
    # theorem expressions (issue 13): only whitelisted functions, well formed, bounded
    "REWRITE_TAC [GSYM]", "MP_TAC GSYM ADD_SYM", 'REWRITE_TAC [distinctness "li\\"st"]',
    'REWRITE_TAC [distinctness "(* x *)"]', "REWRITE_TAC [distinctness `list`]", "REWRITE_TAC [Obj.magic ADD_SYM]",
    "REWRITE_TAC [(fun th -> th) ADD_SYM]", "REWRITE_TAC [ARITH_RULE `1 = 1` `2 = 2`]", "MP_TAC (SPECL [] ADD_SYM)",
    "MP_TAC " + "(GSYM " * 40 + "ADD_SYM" + ")" * 40, "REWRITE_TAC [" + "; ".join(["GSYM ADD_SYM"] * 200) + "]",
]


def test_grammar_covers_the_41_holist_tactics():
    assert len(HOLIST_TACTICS) == 41 and set(HOLIST_TACTICS) <= set(TACTICS)
    for name in HOLIST_TACTICS:
        action = SAMPLE_ACTIONS.get(name, name)
        call = parse_tactic(action)
        assert call.name == name and parse_tactic(str(call)) == call


def test_grammar_rejects_hostile_strings_without_a_prover():
    for action in HOSTILE:
        with pytest.raises(TacticSyntaxError):
            call = parse_tactic(action)
            # a few parse (e.g. unknown theorem names); the backend's database check rejects those
            if not any(n == "NO_SUCH_THEOREM_XYZ" for n in call.theorem_names()):
                raise AssertionError(f"accepted {action!r}")
            raise TacticSyntaxError("unknown theorem")


@pytest.fixture(scope="session")
def backend():
    if not hol_light_available():
        pytest.skip("HOL Light is not installed: apt-get install -y hol-light libnum-ocaml-dev")
    b = holist_backend.HOListBackend(tactic_timeout=2.0)
    assert b.worker.alive  # start: the cold load happens once per session, then a fork per connection
    yield b
    b.close()


@pytest.fixture(scope="session")
def goal(backend):
    return backend.start(backend.custom_theorem({"statement": "!n. n + 0 = n /\\ 0 + n = n"}))


@needs_hol
@pytest.mark.expensive
def test_hostile_actions_never_reach_the_prover(backend, goal):
    worker = backend.worker
    before = worker.requests
    for action in HOSTILE:
        outcome = backend.apply(goal, action)
        assert outcome.kind is OutcomeKind.ERROR, action
        assert "rejected before reaching HOL Light" in outcome.message
    assert worker.requests == before, "a hostile action reached HOL Light"
    assert backend.apply(goal, "GEN_TAC").kind is OutcomeKind.OK  # and the prover still works


@needs_hol
@pytest.mark.expensive
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60).filter(lambda s: not s.strip().isidentifier()))
def test_random_strings_are_rejected_or_run_safely(backend, goal, action):
    outcome = backend.apply(goal, action)
    assert outcome.kind in (OutcomeKind.ERROR, OutcomeKind.OK, OutcomeKind.PROVED, OutcomeKind.TIMEOUT)


@needs_hol
@pytest.mark.expensive
def test_conj_tac_splits_and_arith_closes(backend):
    root = backend.start(backend.custom_theorem({"statement": "1 + 1 = 2 /\\ 2 * 3 = 6"}))
    split = backend.apply(root, "CONJ_TAC")
    assert split.kind is OutcomeKind.OK and len(split.subgoals) == 2
    assert [g.text for g in split.subgoals] == ["⊢ 1 + 1 = 2", "⊢ 2 * 3 = 6"]
    assert all(backend.apply(g, "ARITH_TAC").kind is OutcomeKind.PROVED for g in split.subgoals)
    bad = backend.apply(root, "MP_TAC NO_SUCH_THEOREM_XYZ")
    assert bad.kind is OutcomeKind.ERROR and "unknown theorem" in bad.message
    hol_error = backend.apply(split.subgoals[0], "DISCH_TAC")
    assert hol_error.kind is OutcomeKind.ERROR and hol_error.message  # HOL Light's own message


@needs_hol
@pytest.mark.expensive
def test_goals_round_trip_exactly_with_hypotheses(backend):
    root = backend.start(backend.custom_theorem({"statement": "!x:num. x = 1 ==> x + x = 2"}))
    g = backend.apply(root, "GEN_TAC").subgoals[0]
    h = backend.apply(g, "DISCH_TAC").subgoals[0]
    assert h.data.hyps == ("x = 1",) and h.text == "x = 1\n⊢ x + x = 2"
    assert backend.apply(h, "ASM_REWRITE_TAC []").kind in (OutcomeKind.OK, OutcomeKind.PROVED)
    assert backend.apply(h, "EXISTS_TAC `x + 1`").kind is OutcomeKind.ERROR  # parsed in context, then HOL says no
    assert backend.apply(h, "UNDISCH_TAC `x = 1`").subgoals[0].key == g.key


@needs_hol
@pytest.mark.expensive
def test_premises_must_come_before_the_theorem(backend):
    db = backend.database
    theorem = next(t for t in db.theorems("valid") if t.data["index"] > 100)
    later = db.entries[theorem.data["index"] + 1]["name"]
    earlier = db.entries[0]["name"]
    root = backend.start(theorem)
    assert "not available here" in backend.apply(root, f"MP_TAC {later}").message
    assert "not available" not in backend.apply(root, f"MP_TAC {earlier}").message
    assert db.index_of("ADD_SYM") < db.index_of("MULT_SYM")  # arith.ml proves ADD_SYM first


@needs_hol
@pytest.mark.expensive
def test_tactic_timeout_inside_the_prover(backend):
    hard = "?x y. x * x * x + y * y * y = 1729 /\\ ~(x = 1) /\\ ~(x = 12)"
    root = backend.start(backend.custom_theorem({"statement": hard}))
    outcome = backend.apply(root, "ASM_MESON_TAC [ADD_SYM; MULT_SYM; ADD_ASSOC; MULT_ASSOC]", timeout=0.3)
    assert outcome.kind in (OutcomeKind.TIMEOUT, OutcomeKind.ERROR)
    assert outcome.elapsed < 4.0
    assert backend.apply(root, "CONJ_TAC").kind is OutcomeKind.ERROR  # still answering


@needs_hol
@pytest.mark.expensive
def test_crashed_and_hung_workers_are_replaced(backend, goal, monkeypatch):
    os.kill(backend.worker.pid, signal.SIGKILL)
    crashed = backend.apply(goal, "GEN_TAC")
    assert crashed.kind is OutcomeKind.ERROR and "fresh worker" in crashed.message
    assert backend.apply(goal, "GEN_TAC").kind is OutcomeKind.OK
    monkeypatch.setattr(holist_backend, "WATCHDOG_GRACE", 0.5)
    hung = backend.worker.pid
    os.kill(hung, signal.SIGSTOP)
    out = backend.apply(goal, "GEN_TAC", timeout=0.2)
    assert out.kind is OutcomeKind.TIMEOUT and out.elapsed < 5
    assert backend.worker.pid != hung and backend.apply(goal, "GEN_TAC").kind is OutcomeKind.OK


@needs_hol
@pytest.mark.expensive
def test_proofs_are_replayed_with_prove(backend):
    theorem = backend.custom_theorem({"statement": "1 + 1 = 2 /\\ 2 * 3 = 6"})
    good = ProofStep("CONJ_TAC", children=[ProofStep("ARITH_TAC"), ProofStep("ARITH_TAC")])
    assert backend.check(theorem, good) == (True, "")
    for bad in (ProofStep("CONJ_TAC", children=[ProofStep("ARITH_TAC")]),
                ProofStep("CONJ_TAC", children=[ProofStep("ARITH_TAC"), ProofStep("CONJ_TAC")]),
                ProofStep("REFL_TAC")):
        ok, why = backend.check(theorem, bad)
        assert not ok and why


@needs_hol
@pytest.mark.expensive
@pytest.mark.parametrize("planner", sorted(PLANNERS))
def test_every_planner_proves_easy_holist_goals(backend, planner):
    for statement in ("1 + 1 = 2 /\\ 2 * 3 = 6", "!n. n + 0 = n", "p /\\ q ==> q /\\ p"):
        theorem = backend.custom_theorem({"statement": statement})
        result = make_planner(planner, max_expansions=20, time_limit=60).search(ProofAttempt(backend, theorem))
        assert result.proved, (planner, statement, result.stop_reason)
        assert backend.check(theorem, result.proof) == (True, "")  # replayed with HOL Light's prove, again


@needs_hol
@pytest.mark.expensive
def test_env_observations_info_and_theorem_listing(backend, capsys):
    env = gym.make("HOList-v0", split="valid")
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space and obs.startswith("⊢ ")
    assert info["sexp"].startswith("(g ") and isinstance(info["premises"], list)
    obs, reward, terminated, truncated, info = env.step("Sys.command \"ls\"")
    assert info["error"] and not terminated
    env.close()
    from aitp_gym.cli import main

    assert main(["theorems", "--env", "HOList-v0", "--split", "valid", "--limit", "5"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 5
    db = backend.database
    assert sum(1 for e in db.entries if e["split"] == "valid") > 100 and len(db.entries) > 2500


@needs_hol
@pytest.mark.expensive
def test_shipped_database_matches_a_fresh_extraction(backend):
    """The cache is built from the prover's THEOREMS reply, ordered by the binding stamps recorded in HOL Light."""
    from aitp_gym.envs.holist.database import TheoremDatabase

    fresh = TheoremDatabase.from_raw(backend.database.version, backend._request("THEOREMS", 300.0))
    assert fresh.entries == backend.database.entries
    assert [e["index"] for e in fresh.entries] == list(range(len(fresh.entries)))
