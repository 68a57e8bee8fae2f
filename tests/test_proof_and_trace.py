import json
import os

import pytest

from aitp_gym.envs.sr.backend import SRBackend, make_theorem, proof_from_script
from aitp_gym.errors import TraceFormatError
from aitp_gym.proof import ProofStep, extract_proof, replay_proof
from aitp_gym.trace import TraceRecord, iter_traces, write_trace, write_traces
from aitp_gym.tree import Goal, Outcome, ProofTree


def test_extract_picks_the_smallest_proof():
    """
    R --long--> (A);  A --a--> closed          (2 tactics)
    R --short--> closed                        (1 tactic)
    """
    tree = ProofTree(Goal("R"))
    a = tree.add_edge(tree.root, "long", Outcome.ok([Goal("A")])).children[0]
    tree.add_edge(a, "a", Outcome.proved())
    assert extract_proof(tree).tactics() == ["long", "a"]
    tree.add_edge(tree.root, "short", Outcome.proved())
    assert extract_proof(tree).tactics() == ["short"]


def test_extract_returns_none_when_unproved():
    assert extract_proof(ProofTree(Goal("R"))) is None


def test_replay_accepts_a_real_proof_and_rejects_tampered_ones():
    backend = SRBackend()
    theorem = make_theorem("sin(x) + x")
    good = proof_from_script(["init @0 A=x", "sin @0", "add @0 B=x"])
    assert replay_proof(backend, theorem, good) == (True, "")
    assert backend.check(theorem, good)[0]
    for script in (["init @0 A=x", "cos @0", "add @0 B=x"],  # wrong tactic: a goal is left open
                   ["init @0 A=x", "sin @0", "add @0 B=1"],  # wrong constant
                   ["init @0 A=x", "sin @0"],  # proof stops early
                   ["init @0 A=x", "sin @7", "add @0 B=x"]):  # bad position: an error on replay
        ok, why = backend.check(theorem, proof_from_script(script))
        assert not ok and why


def _record() -> TraceRecord:
    tree = ProofTree(Goal("R ⊢ ∀x. x = x"))
    tree.add_edge(tree.root, "bad", Outcome.error("no"))
    tree.add_edge(tree.root, "REFL_TAC", Outcome.proved())
    proof = extract_proof(tree)
    return TraceRecord.from_tree(tree, {"env_id": "test", "theorem_id": "t0"},
                                 {"proved": True, "proof": proof.to_dict()}, {0: {"visits": 3}})


@pytest.mark.parametrize("name", ["t.json", "t.json.gz"])
def test_trace_round_trip(tmp_path, name):
    record = _record()
    write_trace(tmp_path / name, record)
    (back,) = list(iter_traces(tmp_path / name))
    assert back.to_dict() == json.loads(json.dumps(record.to_dict()))
    assert back.nodes[0]["text"] == "R ⊢ ∀x. x = x" and back.nodes[0]["stats"] == {"visits": 3}
    assert [e["outcome"] for e in back.edges] == ["error", "proved"]
    assert ProofStep.from_dict(back.result["proof"]).tactics() == ["REFL_TAC"]


def test_jsonl_shards_and_folders_stream(tmp_path):
    write_traces(tmp_path / "a.jsonl.gz", [_record(), _record()])
    write_trace(tmp_path / "b.json", _record())
    (tmp_path / "notes.txt").write_text("ignored")
    assert len(list(iter_traces(tmp_path))) == 3


def test_interrupted_write_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "t.json"
    write_trace(path, _record())
    before = path.read_bytes()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        write_trace(path, _record())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]
    assert len(list(iter_traces(tmp_path))) == 1


def test_reader_rejects_foreign_and_future_records(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(TraceFormatError, match="not an aitp-gym trace"):
        list(iter_traces(tmp_path / "x.json"))
    d = _record().to_dict() | {"version": 99}
    (tmp_path / "y.json").write_text(json.dumps(d))
    with pytest.raises(TraceFormatError, match="version 99"):
        list(iter_traces(tmp_path / "y.json"))
    (tmp_path / "z.json").write_text('{"schema": "aitp-trace", "vers')
    with pytest.raises(TraceFormatError, match="not valid JSON"):
        list(iter_traces(tmp_path / "z.json"))
