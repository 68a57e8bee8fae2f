"""The TacticToe-style k-NN policy for HOList-v0 and its learner (issue 25). Proposing needs no prover: the
theorem database ships with the package, and goals are built from theorem statements."""

import math

import pytest

import aitp_gym  # noqa: F401
from aitp_gym.agents.buffers import TacticPair
from aitp_gym.agents.holist_knn import KNNSettings, TacticKNNPolicy, goal_tokens
from aitp_gym.agents.learners import LEARNERS
from aitp_gym.agents.models import POLICIES, make_model
from aitp_gym.envs.holist.backend import HOListBackend
from aitp_gym.envs.holist.grammar import parse_tactic


@pytest.fixture(scope="module")
def backend():
    b = HOListBackend()
    try:
        b.database  # noqa: B018
    except FileNotFoundError:
        pytest.skip("no theorem database for this HOL Light")
    return b


def _theorem(backend, name):
    return next(t for split in ("train", "valid", "test") for t in backend.theorems(split) if t.id == name)


def _goal(backend, name):
    return backend.start(_theorem(backend, name))


def test_the_tactics_of_the_nearest_goal_come_first(backend):
    policy = TacticKNNPolicy(backend=backend)
    add_comm = _goal(backend, "ADD_SYM")
    assert policy.remember([(add_comm.text, "ARITH_TAC"), ("⊢ !p. p ==> p", "ITAUT_TAC"),
                            (add_comm.text, "ARITH_TAC")]) == 2  # the duplicate is not remembered twice
    (props,) = policy.propose([add_comm], k=8)
    assert props[0][0] == "ARITH_TAC"
    # log-probabilities: descending shares of one total
    logps = [lp for _, lp in props]
    assert logps == sorted(logps, reverse=True) and sum(math.exp(lp) for lp in logps) <= 1 + 1e-9
    # every proposal is in the grammar
    for t, _ in props:
        parse_tactic(t)


def test_an_empty_memory_proposes_the_baselines_candidates(backend):
    goal = _goal(backend, "ADD_SYM")
    (props,) = TacticKNNPolicy(backend=backend).propose([goal], k=50)
    proposed = {t for t, _ in props}
    # all of them but those that fail on a universal (CONJ_TAC, DISCH_TAC, EQ_TAC), and GEN_TAC, which does what
    # STRIP_TAC does there
    assert proposed == set(backend.candidate_tactics(goal)) - {"CONJ_TAC", "DISCH_TAC", "EQ_TAC", "GEN_TAC"}
    assert "STRIP_TAC" in proposed


def test_premises_after_the_theorem_are_never_proposed(backend):
    db = backend.database
    early = _goal(backend, "ADD_SYM")
    late = db.entries[-1]["name"]  # the last theorem of the load order: never allowed before ADD_SYM
    policy = TacticKNNPolicy(backend=backend)
    policy.remember([(early.text, f"REWRITE_TAC [{late}]"), (early.text, f"MP_TAC {late}"),
                     (early.text, "REWRITE_TAC [ADD_CLAUSES]")])
    (props,) = policy.propose([early], k=50)
    before = early.data.theorem_index
    for tactic, _ in props:
        for name in parse_tactic(tactic).theorem_names():
            assert db.index_of(name) < before, tactic
    assert "REWRITE_TAC [ADD_CLAUSES]" in [t for t, _ in props]


def test_a_neighbours_theorem_tactic_is_adapted_with_this_goals_premises(backend):
    """k-NN premise selection: the premises a neighbour used, blended with TF-IDF, fill the tactic's list."""
    goal = _goal(backend, "ADD_SYM")
    policy = TacticKNNPolicy(KNNSettings(premises=2, premise_blend=1.0), backend=backend)
    policy.remember([(goal.text + " ", "SIMP_TAC [ADD_CLAUSES; ADD_0]")])
    (props,) = policy.propose([goal], k=50)
    tactics = [t for t, _ in props]
    assert "SIMP_TAC [ADD_CLAUSES; ADD_0]" in tactics or "SIMP_TAC [ADD_0; ADD_CLAUSES]" in tactics


def test_assumption_numbers_must_exist_here(backend):
    goal = _goal(backend, "ADD_SYM")  # no hypotheses
    policy = TacticKNNPolicy(backend=backend)
    policy.remember([(goal.text, "RAW_POP_TAC 0")])
    (props,) = policy.propose([goal], k=50)
    assert "RAW_POP_TAC 0" not in [t for t, _ in props]


def test_hypothesis_tokens_are_told_apart_from_the_conclusions():
    bag = goal_tokens("x < y\n⊢ y < z")
    assert bag["h:x"] == 1 and bag["z"] == 1 and "x" not in bag


def test_save_and_load_give_the_same_proposals(backend, tmp_path):
    goal = _goal(backend, "ADD_SYM")
    policy = TacticKNNPolicy(KNNSettings(neighbours=5), backend=backend)
    policy.remember([(goal.text, "ARITH_TAC"), ("⊢ !p. p ==> p", "ITAUT_TAC"), ("⊢ a = b", "not a tactic")])
    assert len(policy) == 2  # tactics outside the grammar are skipped
    policy.save_pretrained(tmp_path / "knn")
    loaded = make_model(str(tmp_path / "knn"), "policy")
    assert isinstance(loaded, TacticKNNPolicy) and loaded.settings.neighbours == 5 and len(loaded) == 2
    assert loaded.propose([goal], 8) == policy.propose([goal], 8)
    with pytest.raises(FileNotFoundError, match="k-NN"):
        TacticKNNPolicy.from_pretrained(tmp_path)


def test_the_knn_learner_remembers_the_proofs_found(backend):
    assert POLICIES["knn"].learners == ("knn",) and LEARNERS["knn"].buffer == "seq2seq"
    policy = make_model("knn", "policy", num_candidates=4)
    assert isinstance(policy, TacticKNNPolicy) and policy.settings.num_candidates == 4 and len(policy) == 0
    goal = _goal(backend, "ADD_SYM")
    learner = LEARNERS["knn"]
    from aitp_gym.agents.training import MemoryLogger

    logger = MemoryLogger()
    res = learner.train(policy, [TacticPair(goal.text, "ARITH_TAC")], learner.Settings(), logger, 7, False)
    assert res.final_loss == 1.0 and len(policy) == 1
    assert logger.values["losses/knn/new_share"] == [(7, 1.0)] and logger.values["losses/knn/memory"] == [(7, 1)]
    res = learner.train(policy, [TacticPair(goal.text, "ARITH_TAC")], learner.Settings(), None, 0, False)
    assert res.final_loss == 0.0 and len(policy) == 1
    assert policy.propose([goal])[0][0][0] == "ARITH_TAC"
    from aitp_gym.agents.learners.knn import train_knn

    with pytest.raises(TypeError, match="memory"):
        train_knn(object(), [TacticPair(goal.text, "ARITH_TAC")])


def test_a_neighbours_tactic_of_the_other_numeric_type_is_moved_to_this_goals(backend):
    """INT_ENTIRE's statement prints exactly as REAL_ENTIRE's: its real-valued neighbours' tactics are retyped."""
    from aitp_gym.agents.holist_knn import _numeric_type, _retype

    db = backend.database
    goal = _goal(backend, "INT_ENTIRE")
    assert _numeric_type(goal.data.sexp) == "int" and _numeric_type(_goal(backend, "REAL_ENTIRE").data.sexp) == "real"
    assert _numeric_type(_goal(backend, "ADD_SYM").data.sexp) is None

    def allowed(n):  # the load order is the policy's business; here, only whether the theorem exists
        return db.index_of(n) is not None

    assert _retype("REAL_ARITH_TAC", "int", allowed) == "INT_ARITH_TAC"
    assert _retype("ARITH_TAC", "int", allowed) == "ARITH_TAC"
    assert _retype("REWRITE_TAC [REAL_NO_SUCH_THEOREM; REAL_LE_REFL]", "int", allowed) == "REWRITE_TAC [INT_LE_REFL]"
    assert _retype("MATCH_MP_TAC REAL_NO_SUCH_THEOREM", "int", allowed) is None
    policy = TacticKNNPolicy(backend=backend)
    policy.remember([(_goal(backend, "REAL_ENTIRE").text, "REAL_ARITH_TAC")])
    tactics = [t for t, _ in policy.propose([goal], k=8)[0]]
    assert tactics[0] == "INT_ARITH_TAC" and "REAL_ARITH_TAC" not in tactics


def test_a_structural_tactic_that_does_what_strip_tac_does_gives_up_its_slot(backend):
    from aitp_gym.agents.holist_knn import _head

    goal = _goal(backend, "ADD_SYM")  # !m n. m + n = n + m: GEN_TAC is STRIP_TAC here
    assert _head(goal.data.sexp) == "!"
    conj = ('(g ((h "a" (v ("bool") "p"))) (a (a (c ("fun" ("bool") ("fun" ("bool") ("bool"))) "/\\\\") '
            '(v ("bool") "p")) (v ("bool") "q")))')
    assert _head(conj) == "/\\" and _head('(g () (v ("bool") "p"))') is None
    tactics = [t for t, _ in TacticKNNPolicy(backend=backend).propose([goal], k=50)[0]]
    assert "STRIP_TAC" in tactics and "GEN_TAC" not in tactics
    kept = [t for t, _ in TacticKNNPolicy(KNNSettings(drop_equivalent=False), backend=backend).propose([goal], k=50)[0]]
    assert "GEN_TAC" in kept


@pytest.mark.parametrize(("statement", "fails", "may_work"), [
    ("!m n. m + n = n + m", {"EQ_TAC", "CONJ_TAC", "DISCH_TAC", "DISJ1_TAC", "EXISTS_TAC `1`"},
     {"STRIP_TAC", "GEN_TAC"}),
    ("(p ==> q) <=> (~q ==> ~p)", {"STRIP_TAC", "GEN_TAC", "DISCH_TAC", "CONJ_TAC"}, {"EQ_TAC"}),
    ("p /\\ q ==> q /\\ p", {"EQ_TAC", "GEN_TAC", "CONJ_TAC"}, {"STRIP_TAC", "DISCH_TAC"}),
    ("~(p /\\ ~p)", {"EQ_TAC", "CONJ_TAC", "GEN_TAC"}, {"STRIP_TAC", "DISCH_TAC"}),
])
def test_structural_tactics_are_proposed_only_on_conclusions_they_can_apply_to(backend, statement, fails, may_work):
    """HOL Light's EQ_TAC needs <=>, CONJ_TAC /\\, GEN_TAC !, DISCH_TAC ==> or ~, STRIP_TAC one of !, /\\, ==>, ~:
    the head constant of the goal's conclusion, read from its s-expression (``_head``)."""
    from aitp_gym.agents.holist_knn import _head, _may_apply
    from aitp_gym.envs.holist.backend import HOLGoal
    from aitp_gym.envs.holist.grammar import parse_tactic
    from aitp_gym.tree import Goal, OutcomeKind

    sexp = {"!m n. m + n = n + m": _goal(backend, "ADD_SYM").data.sexp}.get(statement)
    if sexp is None:
        from aitp_gym.envs.holist.prover import hol_light_available

        if not hol_light_available():
            pytest.skip("HOL Light is not installed: the statement is parsed by it")
        sexp = backend.custom_theorem({"statement": statement}).data["sexp"]
    head = _head(sexp)
    for tactic in fails:
        assert not _may_apply(tactic.split()[0], head, ""), (statement, tactic)
    for tactic in may_work:
        assert _may_apply(tactic.split()[0], head, ""), (statement, tactic)
    # and HOL Light agrees on every one
    from aitp_gym.envs.holist.prover import hol_light_available

    if hol_light_available():
        goal = Goal(statement, sexp, HOLGoal(sexp, len(backend.database.entries), (), statement))
        for tactic in fails:
            parse_tactic(tactic)
            assert backend.apply(goal, tactic).kind is OutcomeKind.ERROR, (statement, tactic)
        for tactic in may_work:
            assert not backend.apply(goal, tactic).failed, (statement, tactic)
