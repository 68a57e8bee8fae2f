"""HOList-v0's human proof logs (issue 25): HOL Light's own core proofs of train theorems, replayed step by step.

The tactical parser needs no prover. The replays use the session's one warm HOL Light (tests/conftest.py): a
sample of the core's proofs in the default run; the whole log (about 50 s) is ``expensive``.
"""

import pytest

import aitp_gym  # noqa: F401
from aitp_gym.agents.buffers import tactic_pairs, transitions
from aitp_gym.envs.holist import proof_logs as PL
from aitp_gym.envs.holist.database import load_database
from aitp_gym.envs.holist.prover import HOL_DIR, hol_light_available
from aitp_gym.envs.holist.sources import SourceProof
from aitp_gym.proof import extract_proof
from aitp_gym.trace import iter_traces

needs_hol = pytest.mark.skipif(not hol_light_available(),
                               reason="HOL Light is not installed: apt-get install -y hol-light libnum-ocaml-dev")
needs_sources = pytest.mark.skipif(not (HOL_DIR / "hol.ml").exists(), reason="HOL Light's sources are not installed")


@pytest.fixture(scope="module")
def database():
    try:
        return load_database()
    except FileNotFoundError:
        pytest.skip("no theorem database for this HOL Light")


@pytest.fixture(scope="module")
def backend():
    from aitp_gym.envs.holist.backend import HOListBackend

    b = HOListBackend()
    yield b
    b.close()


# ---------------------------------------------------------------------------------------------- the tactical parser
def _show(t: PL.Tac) -> str:
    if t.op == "atomic":
        return t.text
    if t.op == "unsupported":
        return f"?{t.text}?"
    return f"{t.op}(" + ", ".join(_show(a) for a in t.args) + ")"


def test_infix_tacticals_are_left_associative_at_one_level():
    t = PL.parse_tactical("REPEAT GEN_TAC THEN INDUCT_TAC THENL [REWRITE_TAC[ADD_CLAUSES]; ASM_REWRITE_TAC[]] "
                          "THEN ARITH_TAC")
    assert _show(t) == ("then(thenl(then(repeat(GEN_TAC), INDUCT_TAC), REWRITE_TAC [ADD_CLAUSES], "
                        "ASM_REWRITE_TAC []), ARITH_TAC)")
    # ORELSE at the same level as THEN: (A THEN B) ORELSE C
    assert _show(PL.parse_tactical("CONJ_TAC THEN ARITH_TAC ORELSE ITAUT_TAC")) == \
        "orelse(then(CONJ_TAC, ARITH_TAC), ITAUT_TAC)"
    # application binds tighter than the infixes; brackets and quotations are opaque
    assert _show(PL.parse_tactical("TRY(CONJ_TAC THEN ARITH_TAC) THEN EXISTS_TAC `a THEN b:bool`")) == \
        "then(try(then(CONJ_TAC, ARITH_TAC)), EXISTS_TAC `a THEN b:bool`)"


def test_list_tacticals_and_assumption_tacticals_that_the_grammar_can_say():
    assert _show(PL.parse_tactical("EVERY [GEN_TAC; DISCH_TAC]")) == "every(GEN_TAC, DISCH_TAC)"
    assert _show(PL.parse_tactical("FIRST [ARITH_TAC; ITAUT_TAC]")) == "first(ARITH_TAC, ITAUT_TAC)"
    assert _show(PL.parse_tactical("MAP_EVERY X_GEN_TAC [`m:num`; `n:num`]")) == \
        "every(X_GEN_TAC `m:num`, X_GEN_TAC `n:num`)"
    assert _show(PL.parse_tactical("DISCH_THEN(ASSUME_TAC)")) == "DISCH_TAC"
    assert _show(PL.parse_tactical("DISCH_THEN STRIP_ASSUME_TAC")) == "STRIP_TAC"
    assert PL.parse_tactical("DISCH_THEN MP_TAC") == PL.ALL
    assert PL.parse_tactical("POP_ASSUM MP_TAC").op == "pop_mp"
    assert _show(PL.parse_tactical("ASM MESON_TAC[ADD_SYM]")) == "ASM_MESON_TAC [ADD_SYM]"
    assert PL.parse_tactical("ALL_TAC") == PL.ALL and PL.parse_tactical("EVERY []") == PL.ALL


def test_what_the_grammar_cannot_say_is_unsupported_not_evaluated():
    for text in ["DISCH_THEN(fun th -> REWRITE_TAC[th])", "FIRST_ASSUM MATCH_MP_TAC", "CONV_TAC TAUT",
                 "let th = ADD_SYM in REWRITE_TAC[th]", "ARITH_TAC THENL ARITH_TAC", "W(MP_TAC o SPEC `x`)",
                 "Sys.command \"ls\"", ""]:
        t = PL.parse_tactical(text)
        unsupported = [x for x in _walk(t) if x.op == "unsupported"]
        assert unsupported, text


def _walk(t):
    yield t
    for a in t.args:
        yield from _walk(a)


# ---------------------------------------------------------------------------------------------- which proofs
@needs_sources
def test_only_train_theorems_are_replayed(database):
    chosen = PL.train_proofs(database)
    assert len(chosen) > 1500
    assert {database.by_name[p.name]["split"] for p in chosen} == {"train"}
    # a valid or a test theorem's proof offered explicitly is still left out
    held_out = [e["name"] for e in database.entries if e["split"] in ("valid", "test")][:5]
    fake = [SourceProof("bool.ml", n, "T", "ITAUT_TAC") for n in held_out]
    assert PL.train_proofs(database, fake) == []


# ---------------------------------------------------------------------------------------------- replays
@needs_hol
@needs_sources
def test_a_proof_with_repeat_orelse_and_thenl_replays_to_a_checked_proof(backend, database):
    proof = next(p for p in PL.train_proofs(database) if p.name == "EXISTS_UNIQUE_REFL")
    assert "THENL" in proof.tactic and "REPEAT" in proof.tactic and "ORELSE" in proof.tactic
    theorem = next(t for t in backend.theorems("train") if t.id == proof.name)
    r = PL.replay(backend, theorem, proof)
    assert r.proved and r.steps >= 5 and not r.stopped
    # every tactic that reached HOL Light was one atomic tactic of the grammar, and the proof checks in HOL Light
    script = extract_proof(r.attempt.tree)
    assert script is not None
    assert backend.check(theorem, script) == (True, "")
    record = PL.record_of(r)
    assert record.header["source"] == "human" and record.header["theorem_id"] == "EXISTS_UNIQUE_REFL"
    pairs = tactic_pairs([record])
    assert len(pairs) >= 5 and pairs[0].tactic == "GEN_TAC"


@needs_hol
@needs_sources
def test_a_sample_of_the_logs_builds_as_ordinary_traces(backend, database, tmp_path, capsys):
    sample = PL.train_proofs(database)[:60]
    out = tmp_path / "logs.jsonl.gz"
    summary = PL.build_proof_logs(backend, out=out, proofs=sample, progress=False)
    records = list(iter_traces(out))
    assert summary.theorems == len(records) > 40
    assert summary.proved > 30 and summary.pairs > 70 and summary.steps >= summary.pairs
    assert all(database.by_name[r.header["theorem_id"]]["split"] == "train" for r in records)
    assert sum(r.result["proved"] for r in records) == summary.proved
    # every buffer reads them
    assert len(tactic_pairs(records)) == summary.pairs
    assert len(transitions(records)) >= summary.steps
    assert len(PL.human_steps(records)) == summary.steps
    # aitp prepare reuses a log that is there, and says what it holds
    from aitp_gym.cli import main

    assert main(["prepare", "--env", "HOList-v0", "--proof-logs", "--out", str(out)]) == 0
    assert (f"{summary.steps} human tactic steps, {summary.pairs} of them on goals the proofs close, from "
            f"{summary.theorems} train theorems, already built") in capsys.readouterr().out


def test_aitp_prepare_says_which_envs_have_proof_logs(capsys):
    from aitp_gym.cli import build_parser, main
    from aitp_gym.cli.prepare import cmd_prepare

    assert build_parser().parse_args(["prepare", "--proof-logs"]).func is cmd_prepare

    assert main(["prepare", "--env", "SR-v0", "--proof-logs"]) == 2
    assert "SR-v0 has no human proof logs; environments that have them: HOList-v0, Lean-v0" in capsys.readouterr().err
    assert main(["prepare", "--env", "Lean-v0", "--proof-logs"]) == 2
    assert "--benchmark DIR and --out DIR" in capsys.readouterr().err
    assert main(["prepare", "--env", "HOList-v0", "--rebuild"]) == 2


@needs_hol
@needs_sources
def test_an_unreplayable_step_leaves_its_goal_open_and_keeps_what_came_before(backend, database):
    theorem = next(t for t in backend.theorems("train") if t.id == "EXISTS_UNIQUE_REFL")
    proof = SourceProof("bool.ml", theorem.id, theorem.statement,
                        "GEN_TAC THEN REWRITE_TAC[EXISTS_UNIQUE_THM] THEN DISCH_THEN(fun th -> ALL_TAC)")
    r = PL.replay(backend, theorem, proof)
    assert not r.proved and r.steps == 2 and "outside the grammar" in r.stopped[0]


@needs_hol
@needs_sources
@pytest.mark.expensive
def test_the_whole_log_has_3000_pairs_and_no_held_out_theorem(database):
    records = PL.load_proof_logs(build=True)
    pairs = tactic_pairs(records)
    assert len(pairs) >= 3000
    ids = {r.header["theorem_id"] for r in records}
    assert len(ids) > 1500
    assert all(database.by_name[i]["split"] == "train" for i in ids)
    # no record starts from a held-out theorem's statement (a statement shared with a train theorem aside); a
    # subgoal inside a train proof may still read like one: that is the train proof's step, not the theorem's proof
    train_statements = {e["text"] for e in database.entries if e["split"] == "train"}
    held_out = {e["text"] for e in database.entries if e["split"] != "train"} - train_statements
    assert not {r.node_texts()[0].removeprefix("⊢ ") for r in records} & held_out
    steps = PL.human_pairs()
    assert len(steps) >= len(pairs) and set((p.goal, p.tactic) for p in pairs) <= set(steps)
    with pytest.raises(ValueError, match="train"):
        PL.human_pairs("valid")
