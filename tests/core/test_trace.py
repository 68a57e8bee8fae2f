"""Trace files (``aitp_gym/trace.py``): records round-trip, writes are atomic and follow the umask, ``iter_traces``
reads files, shards and whole run folders and refuses what is not a trace, and file names are safe for any theorem
id. The compact schema (version 3: SR-v0 texts and keys rebuilt, rounded times) is in test_trace_compact.py."""

import json
import os
import stat
import threading

import pytest

from aitp_gym.errors import TraceFormatError
from aitp_gym.proof import ProofStep, extract_proof
from aitp_gym.trace import TraceRecord, atomic_write_text, iter_traces, write_trace, write_traces
from aitp_gym.tree import Goal, Outcome, ProofTree


def _record(theorem_id: str = "t0") -> TraceRecord:
    tree = ProofTree(Goal("R ⊢ ∀x. x = x"))
    tree.add_edge(tree.root, "bad", Outcome.error("no"))
    tree.add_edge(tree.root, "REFL_TAC", Outcome.proved())
    proof = extract_proof(tree)
    return TraceRecord.from_tree(tree, {"env_id": "test", "theorem_id": theorem_id},
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


# ---------------------------------------------------------------------------------------------- atomic writes
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


@pytest.fixture
def umask():
    """Set the process umask for one test, and restore it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)],
                         ids=["umask022", "umask002", "umask077"])
@pytest.mark.parametrize("name", ["t.json", "t.json.gz", "t.jsonl.gz"])
def test_written_traces_follow_the_umask(tmp_path, umask, mask, mode, name):
    umask(mask)
    if name.endswith(".jsonl.gz"):
        write_traces(tmp_path / name, [_record()])
    else:
        write_trace(tmp_path / name, _record())
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode


def test_replacing_a_file_keeps_the_write_atomic_and_leaves_no_temporary(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "t.json"
    write_trace(path, _record("old"))
    write_trace(path, _record("new"))
    assert [r.header["theorem_id"] for r in iter_traces(path)] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_concurrent_writers_to_one_folder_do_not_collide(tmp_path):
    def write(i):
        for j in range(20):
            atomic_write_text(tmp_path / f"{i}-{j}.json", json.dumps(_record(f"{i}-{j}").to_dict()))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(list(iter_traces(tmp_path))) == 80 and not list(tmp_path.glob(".*"))


# ---------------------------------------------------------------------------------------------- reading folders
def _run_folder(tmp_path):
    """A folder laid out as ``aitp prove --out`` leaves it, plus the leftovers a real folder collects."""
    run = tmp_path / "run"
    write_trace(run / "traces" / "0000-a.json.gz", _record("a"))
    write_trace(run / "traces" / "0001-b.json.gz", _record("b"))
    (run / "summary.json").write_text(json.dumps({"proved": 2, "attempted": 2}))
    (run / "traces" / ".0002-c.json.gz.1a2b3c.tmp").write_bytes(b"\x1f\x8b half a write")
    (run / "traces" / ".0003-d.json").write_text("{}")  # hidden: skipped
    (run / "notes.txt").write_text("not a trace")
    return run


def test_iter_traces_reads_the_run_folder_the_cli_prints(tmp_path):
    run = _run_folder(tmp_path)
    assert [r.header["theorem_id"] for r in iter_traces(run)] == ["a", "b"]
    assert [r.header["theorem_id"] for r in iter_traces(run / "traces")] == ["a", "b"]
    assert [r.header["theorem_id"] for r in iter_traces(str(run))] == ["a", "b"]


def test_iter_traces_recurses_in_name_order(tmp_path):
    write_trace(tmp_path / "b" / "deep" / "x.json", _record("b/deep/x"))
    write_traces(tmp_path / "a.jsonl", [_record("a1"), _record("a2")])
    write_trace(tmp_path / "c.json", _record("c"))
    (tmp_path / ".hidden").mkdir()
    write_trace(tmp_path / ".hidden" / "h.json", _record("hidden"))
    assert [r.header["theorem_id"] for r in iter_traces(tmp_path)] == ["a1", "a2", "b/deep/x", "c"]


def test_other_json_in_a_folder_is_an_error_not_skipped_silently(tmp_path):
    run = _run_folder(tmp_path)
    (run / "notes.json").write_text(json.dumps({"lr": 0.1}))
    with pytest.raises(TraceFormatError, match="notes.json"):
        list(iter_traces(run))


def test_a_summary_named_explicitly_is_read_and_refused(tmp_path):
    run = _run_folder(tmp_path)
    with pytest.raises(TraceFormatError, match="not an aitp-gym trace"):
        list(iter_traces(run / "summary.json"))


# ---------------------------------------------------------------------------------------------- file names
def test_trace_file_names_are_safe_for_any_theorem_id():
    from aitp_gym.trace import safe_name, trace_file_name

    assert trace_file_name("Nat.add_comm") == "Nat.add_comm.json.gz"
    assert trace_file_name("list/rev ' app", 3) == "0003-list_rev___app.json.gz"
    assert safe_name("../..") == "_" and safe_name("x" * 500) == "x" * 120
