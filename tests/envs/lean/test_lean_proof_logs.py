"""LeanDojo Benchmark 4 human proofs (``traced_tactics``) as trace records (``envs/lean/benchmark.py``:
``proof_log_records``, ``write_proof_logs``), read by the buffer builders, on a hand-written benchmark folder in
LeanDojo's format. No Lean: the goals are those of the scripted world of ``tests/doubles/lean_double.py``, and
the proofs found are replayed on its Dojo test double to check that the nodes are what Lean-v0 shows."""

from __future__ import annotations

import json
from pathlib import Path

import lean_dojo
import pytest
from doubles.lean_double import (
    AND_INTRO,
    LEFT,
    NAT,
    REPO,
    RIGHT,
    SUCC,
    ZERO,
    DojoTestDouble,
    LeanGitRepoTestDouble,
    make_world,
    write_benchmark,
)

from aitp_gym.agents.buffers import build_all, tactic_pairs, transitions
from aitp_gym.envs.lean import LeanBackend
from aitp_gym.envs.lean.benchmark import (
    NO_GOALS,
    proof_log_record,
    proof_log_records,
    unique_ids,
    write_proof_logs,
)
from aitp_gym.proof import ProofStep
from aitp_gym.trace import iter_traces

VALID_GOAL = "a : ℕ\n⊢ a * 1 = a"
TEST_GOAL = "b : ℕ\n⊢ 1 * b = b"


def state(*goals: str) -> str:
    """A tactic state as LeanDojo prints it: goals separated by a blank line, ``no goals`` when there are none."""
    return "\n\n".join(goals) or NO_GOALS


def step(tactic: str, before: tuple[str, ...], after: tuple[str, ...]) -> dict:
    return {"tactic": tactic, "annotated_tactic": [tactic, []], "state_before": state(*before),
            "state_after": state(*after)}


def theorem(name: str, file_path: str, line: int, steps: list[dict]) -> dict:
    return {"url": REPO.url, "commit": REPO.commit, "file_path": file_path, "full_name": name, "start": [line, 0],
            "end": [line + len(steps) + 1, 0], "traced_tactics": steps}


# The human proofs, as LeanDojo traces them: a tactic inside a block (`·`) is traced as well as the block.
ADD_ZERO = theorem("add_zero", "Lean4Example/Basic.lean", 10, [   # induction n; rfl; omega
    step("induction n", (NAT,), (ZERO, SUCC)),
    step("rfl", (ZERO, SUCC), (SUCC,)),
    step("omega", (SUCC,), ())])
AND_BULLETS = theorem("and_intro", "Lean4Example.lean", 20, [     # constructor; · exact hp; · exact hq
    step("constructor", (AND_INTRO,), (LEFT, RIGHT)),
    step("· exact hp", (LEFT, RIGHT), (RIGHT,)),
    step("· exact hq", (RIGHT,), ()),
    step("exact hp", (LEFT,), ()),
    step("exact hq", (RIGHT,), ())])
AND_UNFINISHED = theorem("and_intro", "Lean4Example/Partial.lean", 5, [   # the step on `right` was not traced
    step("constructor", (AND_INTRO,), (LEFT, RIGHT)),
    step("exact hp", (LEFT, RIGHT), (RIGHT,))])
AND_ALL_GOALS = theorem("and_all_goals", "Lean4Example.lean", 30, [  # all_goals acts on both goals at once
    step("constructor", (AND_INTRO,), (LEFT, RIGHT)),
    step("all_goals assumption", (LEFT, RIGHT), ())])
TERM_MODE = theorem("term_mode", "Lean4Example.lean", 40, [])
LEAKED = theorem("mul_one'", "Lean4Example/Basic.lean", 50, [step("simp", (TEST_GOAL,), ())])  # also in test
VALID = theorem("valid_only", "Lean4Example/Valid.lean", 3, [step("simp", (VALID_GOAL,), ())])
TEST = theorem("test_only", "Lean4Example/Test.lean", 3, [step("omega", (TEST_GOAL,), ())])
TRAIN = [ADD_ZERO, AND_BULLETS, AND_UNFINISHED, AND_ALL_GOALS, TERM_MODE, LEAKED]


def write_folder(root: Path) -> Path:
    """A LeanDojo Benchmark 4 folder: random/{train,val,test}.json and corpus.jsonl."""
    (root / "random").mkdir(parents=True)
    for name, records in {"train": TRAIN, "val": [VALID], "test": [LEAKED, TEST]}.items():
        (root / "random" / f"{name}.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    corpus = [{"path": "Lean4Example.lean", "imports": [], "premises": []},
              {"path": "Lean4Example/Basic.lean", "imports": [], "premises": []}]
    (root / "corpus.jsonl").write_text("".join(json.dumps(c) + "\n" for c in corpus), encoding="utf-8")
    return root


@pytest.fixture
def bench(tmp_path) -> Path:
    return write_folder(tmp_path / "leandojo_benchmark_4")


def pairs_of(records) -> set[tuple[str, str]]:
    return {(p.goal, p.tactic) for p in tactic_pairs(records)}


def by_name(records) -> dict[str, object]:
    return {r.header["theorem_id"]: r for r in records}


# -- the records -------------------------------------------------------------------------------------------
def test_a_proof_reaching_no_goals_gives_every_traced_step_as_a_pair(bench):
    (record,) = proof_log_records(bench, limit=1)
    assert record.header["theorem_id"] == "add_zero" and record.result["proved"]
    traced = [(s["state_before"].split("\n\n")[0], s["tactic"]) for s in ADD_ZERO["traced_tactics"]]
    assert [(p.goal, p.tactic) for p in tactic_pairs([record])] == traced  # the main goal of state_before
    assert [n["text"] for n in record.nodes] == [NAT, ZERO, SUCC]
    assert all(n["status"] == "proved" for n in record.nodes)
    assert [(e["parent"], e["outcome"], e["children"]) for e in record.edges] == [
        (0, "ok", [1, 2]), (1, "proved", []), (2, "proved", [])]
    assert ProofStep.from_dict(record.result["proof"]).tactics() == ["induction n", "rfl", "omega"]


def test_pairs_are_the_traced_steps_of_the_train_records(bench):
    records = by_name(proof_log_records(bench))
    assert set(records) == {"add_zero", "Lean4Example.lean:and_intro", "Lean4Example/Partial.lean:and_intro",
                            "and_all_goals"}
    bullets = records["Lean4Example.lean:and_intro"]
    assert bullets.result["proved"] and {n["text"] for n in bullets.nodes} == {AND_INTRO, LEFT, RIGHT}
    # one pair per proved goal (its shortest proof); every traced step is an edge, and a transition
    assert pairs_of([bullets]) == {(AND_INTRO, "constructor"), (LEFT, "· exact hp"), (RIGHT, "· exact hq")}
    texts = bullets.node_texts()
    assert [(texts[e["parent"]], e["tactic"]) for e in bullets.edges] == [
        (s["state_before"].split("\n\n")[0], s["tactic"]) for s in AND_BULLETS["traced_tactics"]]


def test_an_unfinished_proof_keeps_only_its_proved_steps(bench):
    records = by_name(proof_log_records(bench))
    partial = records["Lean4Example/Partial.lean:and_intro"]
    assert not partial.result["proved"] and partial.result["proof"] is None
    assert pairs_of([partial]) == {(LEFT, "exact hp")}
    status = {n["text"]: n["status"] for n in partial.nodes}
    assert status == {AND_INTRO: "open", LEFT: "proved", RIGHT: "open"}


def test_a_step_on_several_goals_is_left_out_and_said_so(bench):
    record = by_name(proof_log_records(bench))["and_all_goals"]
    assert not record.result["proved"] and pairs_of([record]) == set()
    assert [e["tactic"] for e in record.edges] == ["constructor"]
    assert record.result["skipped"] == [{"step": 1, "tactic": "all_goals assumption",
                                         "why": "it changed several goals; Lean-v0 applies a tactic to one goal"}]


def test_a_step_on_a_later_goal_belongs_to_that_goal():
    record = proof_log_record(theorem("cases", "A.lean", 1, [
        step("constructor", (AND_INTRO,), (LEFT, RIGHT)),
        step("case right => exact hq", (LEFT, RIGHT), (LEFT,)),
        step("exact hp", (LEFT,), ())]))
    assert record.result["proved"]
    assert pairs_of([record]) == {(AND_INTRO, "constructor"), (RIGHT, "case right => exact hq"), (LEFT, "exact hp")}


def test_sorry_proves_nothing_and_a_term_proof_has_no_record():
    record = proof_log_record(theorem("cheat", "A.lean", 1, [step("sorry", (NAT,), ())]))
    assert not record.result["proved"] and record.edges == [] and record.result["skipped"][0]["tactic"] == "sorry"
    assert proof_log_record(TERM_MODE) is None


def test_the_header_names_the_theorem_as_lean_v0_does(bench):
    backend = LeanBackend(benchmark=bench)
    ids = [t.id for t in backend.theorems("train")]
    assert ids == unique_ids(TRAIN)
    for record in proof_log_records(bench):
        header = record.header
        assert header["env_id"] == "Lean-v0" and header["theorem_id"] in ids
        assert header["source"] == "human" and (header["url"], header["commit"]) == (REPO.url, REPO.commit)
        assert header["theorem_data"]["full_name"] in header["theorem_id"]
        assert header["benchmark"]["file"] == "random/train.json"


# -- held-out theorems ---------------------------------------------------------------------------------------
def test_valid_and_test_theorems_never_enter_the_logs(bench, tmp_path):
    records = list(proof_log_records(bench))
    held_out = {"valid_only", "test_only", "mul_one'"}
    assert not held_out & {r.header["theorem_data"]["full_name"] for r in records}
    texts = {t for r in records for t in r.node_texts().values()}
    assert VALID_GOAL not in texts and TEST_GOAL not in texts
    for split in ("valid", "test"):
        with pytest.raises(ValueError, match="held out"):
            proof_log_records(bench, split)
        with pytest.raises(ValueError, match="held out"):
            write_proof_logs(bench, tmp_path / "out", split=split)
    assert not (tmp_path / "out").exists()
    (valid,) = proof_log_records(bench, "valid", allow_held_out=True)  # for analysis, asked for by name
    assert valid.header["theorem_id"] == "valid_only" and valid.header["benchmark"]["file"] == "random/val.json"


def test_a_train_theorem_also_in_test_is_left_out_of_the_shared_fixture(tmp_path):
    bench = write_benchmark(tmp_path / "b")  # its train add_zero is also in its test split
    summary = write_proof_logs(bench, tmp_path / "out")
    assert (summary["theorems"], summary["held_out"]) == (0, 1)
    assert list(iter_traces(tmp_path / "out")) == []


# -- files and buffers -----------------------------------------------------------------------------------------
def test_written_logs_round_trip_and_feed_the_buffers(bench, tmp_path):
    out = tmp_path / "proof_logs"
    summary = write_proof_logs(bench, out, shard_size=3)
    assert summary["files"] == ["proof_logs-train-00000.jsonl.gz", "proof_logs-train-00001.jsonl.gz"]
    assert {k: summary[k] for k in ("theorems", "proved", "pairs", "steps", "skipped_steps", "without_tactics",
                                    "held_out")} == {"theorems": 4, "proved": 2, "pairs": 7, "steps": 12,
                                                     "skipped_steps": 1, "without_tactics": 1, "held_out": 1}
    assert json.loads((out / "summary.json").read_text()) == summary
    read = list(iter_traces(out))  # summary.json is skipped
    assert [r.to_dict() for r in read] == [r.to_dict() for r in proof_log_records(bench)]
    assert len(tactic_pairs(read)) == summary["pairs"]
    assert pairs_of(read) == pairs_of(proof_log_records(bench))
    moves = transitions(read)
    assert len(moves) == sum(len(r.edges) for r in read) == 3 + 5 + 2 + 1
    closing = [t for t in moves if t.tactic == "omega"]
    assert closing[0].done and closing[0].goal == SUCC and closing[0].reward == 1.0
    buffers, stats = build_all(read)
    assert (stats.traces, stats.proved, len(buffers["seq2seq"])) == (4, 2, 7)
    assert all(v.target == 1.0 for v in buffers["critic"])  # human logs have no failed goals


def test_existing_logs_are_kept_unless_overwritten(bench, tmp_path):
    out = tmp_path / "logs"
    write_proof_logs(bench, out, shard_size=1)
    assert len(list(out.glob("*.jsonl.gz"))) == 4
    with pytest.raises(ValueError, match="overwrite=True"):
        write_proof_logs(bench, out)
    summary = write_proof_logs(bench, out, overwrite=True)
    assert sorted(p.name for p in out.glob("*.jsonl.gz")) == summary["files"] == ["proof_logs-train-00000.jsonl.gz"]
    assert len(list(iter_traces(out))) == 4


# -- what Lean-v0 shows ----------------------------------------------------------------------------------------
def test_the_nodes_are_the_goals_lean_v0_shows(bench, monkeypatch):
    """Each proved record's proof, replayed on Lean-v0 (over the Dojo test double), meets the same goal texts."""
    monkeypatch.setattr(lean_dojo, "LeanGitRepo", LeanGitRepoTestDouble)  # its constructor asks GitHub
    backend = LeanBackend(benchmark=bench, dojo_factory=DojoTestDouble.over(make_world()), proof_checker="replay")
    theorems = {t.id: t for t in backend.theorems("train")}
    proved = [r for r in proof_log_records(bench) if r.result["proved"]]
    assert len(proved) == 2
    for record in proved:
        stack = [(backend.start(theorems[record.header["theorem_id"]]), ProofStep.from_dict(record.result["proof"]))]
        while stack:
            goal, proof = stack.pop()
            assert goal.text == proof.goal
            outcome = backend.apply(goal, proof.tactic)
            assert not outcome.failed, outcome.message
            assert [g.text for g in outcome.subgoals] == [c.goal for c in proof.children]
            stack += zip(outcome.subgoals, proof.children, strict=True)
        assert all("\n\n" not in text for text in record.node_texts().values())
    backend.close()


def test_aitp_prepare_writes_the_logs_of_a_benchmark(bench, tmp_path, capsys):
    from aitp_gym.cli import main
    from aitp_gym.envs.lean.benchmark import write_proof_logs

    out = tmp_path / "logs"
    assert main(["prepare", "--env", "Lean-v0", "--proof-logs", "--benchmark", str(bench), "--out", str(out)]) == 0
    line = capsys.readouterr().out
    expected = write_proof_logs(bench, tmp_path / "again")
    assert f"{expected['pairs']} (goal, tactic) pairs from {expected['theorems']} train theorems" in line
    assert pairs_of(iter_traces(out)) == pairs_of(iter_traces(tmp_path / "again"))
    # a second run refuses to write over them unless --rebuild
    assert main(["prepare", "--env", "Lean-v0", "--proof-logs", "--benchmark", str(bench), "--out", str(out)]) == 2
    assert main(["prepare", "--env", "Lean-v0", "--proof-logs", "--benchmark", str(bench), "--out", str(out),
                 "--rebuild"]) == 0
