"""Trace schema version 2: SR-v0 node texts are rebuilt from the key and the header's exact data, exactly."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from aitp_gym import ProofAttempt
from aitp_gym.envs.sr.backend import SRBackend, make_theorem, theorem_from_data
from aitp_gym.errors import TraceFormatError
from aitp_gym.search import BestFS, make_planner
from aitp_gym.trace import SCHEMA_VERSION, TraceRecord, iter_traces, write_trace, write_traces
from aitp_gym.tree import Goal, Outcome, ProofTree


def _v1_dict(record: TraceRecord) -> dict:
    """The record as version 1 wrote it: one dict per node (full text) and per edge."""
    return {"schema": "aitp-trace", "version": 1, "header": record.header, "nodes": record.nodes,
            "edges": record.edges, "result": record.result}


def _theorems():
    backend = SRBackend()
    valid = backend.theorems("valid")
    rng = np.random.default_rng(0)
    xs = np.sort(rng.uniform(-3, 3, 17))
    ys = np.sin(xs) * 1.7 + rng.normal(0, 1e-3, 17)  # noisy data: no exact fit, never proved
    ys[4] = np.nan  # a missing value
    return [
        ("easy", valid[0]),                                      # difficulty 1, proved
        ("medium", next(t for t in valid if t.data["difficulty"] == 3)),
        ("hard", next(t for t in valid if t.data["difficulty"] == 5)),
        ("user-target", make_theorem("x**3 - sin(x)", points=np.linspace(-2.5, 4.0, 13))),
        ("user-data", theorem_from_data(xs, ys)),
        ("user-data-exact", theorem_from_data([0.5, 1.25, 2.0, 1e-7, -3.0], [1.5, 2.25, 3.0, 1.0000001, -2.0])),
    ]


@pytest.mark.parametrize("planner", ["bestfs", "htps"])
@pytest.mark.parametrize("name, theorem", _theorems(), ids=[n for n, _ in _theorems()])
def test_node_texts_of_a_written_trace_equal_the_tree_goal_texts(tmp_path, name, theorem, planner):
    attempt = ProofAttempt(SRBackend(), theorem)
    result = make_planner(planner, max_expansions=12).search(attempt, trace_path=tmp_path / "t.json.gz")
    (back,) = iter_traces(tmp_path / "t.json.gz")
    assert back.version == SCHEMA_VERSION == 2
    assert back.node_texts() == {n.id: n.goal.text for n in attempt.tree.nodes}
    assert [n["key"] for n in back.nodes] == [n.goal.key for n in attempt.tree.nodes]
    # every SR text was left out of the file: nodes have no text column
    stored = json.loads(gzip.decompress((tmp_path / "t.json.gz").read_bytes()))
    assert stored["nodes"]["text_rebuilder"] == "SR-v0" and "text" not in stored["nodes"]["columns"]
    # the rest of the record comes back as it was (times to the microsecond)
    assert [(e["tactic"], e["outcome"], e["children"], e["parent"]) for e in back.edges] == \
        [(e["tactic"], e["outcome"], e["children"], e["parent"]) for e in result.trace.edges]
    for a, b in zip(back.edges, result.trace.edges, strict=True):
        assert abs(a["t"] - b["t"]) < 1e-6 and abs(a["elapsed"] - b["elapsed"]) < 1e-6
    assert [n["status"] for n in back.nodes] == [n["status"] for n in result.trace.nodes]
    assert [n.get("stats") for n in back.nodes] == [n.get("stats") for n in result.trace.nodes]
    assert back.result == json.loads(json.dumps(result.trace.result))


def test_proved_and_unproved_are_both_covered():
    proved = {}
    for name, theorem in _theorems():
        proved[name] = BestFS(max_expansions=12).search(ProofAttempt(SRBackend(), theorem)).proved
    assert proved["easy"] and not proved["user-data"]


def test_many_points_keep_the_shortened_rows(tmp_path):
    theorem = make_theorem("sin(x) * x", points=np.linspace(-5, 5, 2_050))
    attempt = ProofAttempt(SRBackend(), theorem)
    BestFS(max_expansions=2).search(attempt, trace_path=tmp_path / "t.json")
    (back,) = iter_traces(tmp_path / "t.json")
    assert "… (50 more points)" in back.node_texts()[0]
    assert back.node_texts() == {n.id: n.goal.text for n in attempt.tree.nodes}


def test_a_text_the_rebuilder_does_not_give_back_is_stored(tmp_path):
    attempt = ProofAttempt(SRBackend(), SRBackend().theorems("valid")[3])
    record = BestFS(max_expansions=3).search(attempt).trace
    record.nodes[2]["text"] += "\n(edited)"
    record.nodes[4]["key"] = "not an expression ("
    write_trace(tmp_path / "t.json", record)
    stored = json.loads((tmp_path / "t.json").read_text())
    assert stored["nodes"]["columns"]["text"]["rows"] == [2, 4]
    (back,) = iter_traces(tmp_path / "t.json")
    assert back.node_texts() == {n["id"]: n["text"] for n in record.nodes}


def test_other_envs_keep_every_text(tmp_path):
    tree = ProofTree(Goal("⊢ ∀n. n + 0 = n", key="g"))
    tree.add_edge(tree.root, "ARITH_TAC", Outcome.proved())
    record = TraceRecord.from_tree(tree, {"env_id": "HOList-v0", "theorem_id": "ADD_0"}, {"proved": True})
    stored = record.to_dict()
    assert "text_rebuilder" not in stored["nodes"] and stored["nodes"]["columns"]["text"] == ["⊢ ∀n. n + 0 = n"]
    write_trace(tmp_path / "t.json", record)
    (back,) = iter_traces(tmp_path / "t.json")
    assert back.node_texts() == {0: "⊢ ∀n. n + 0 = n"}


def test_an_sr_header_without_data_keeps_every_text():
    attempt = ProofAttempt(SRBackend(), SRBackend().theorems("valid")[0])
    record = BestFS(max_expansions=2).search(attempt).trace
    record.header = {k: v for k, v in record.header.items() if k != "theorem_data"}
    stored = record.to_dict()
    assert "text_rebuilder" not in stored["nodes"] and len(stored["nodes"]["columns"]["text"]) == len(record.nodes)
    assert TraceRecord.from_dict(json.loads(json.dumps(stored))).node_texts() == record.node_texts()


def test_version_1_traces_are_still_read(tmp_path):
    attempt = ProofAttempt(SRBackend(), SRBackend().theorems("valid")[5])
    record = make_planner("htps", max_expansions=6).search(attempt).trace
    old = _v1_dict(record)
    (tmp_path / "old.json.gz").write_bytes(gzip.compress(json.dumps(old).encode()))
    (tmp_path / "old.jsonl").write_text(json.dumps(old) + "\n" + json.dumps(old) + "\n")
    first, *rest = iter_traces(tmp_path)
    assert first.version == 1 and len(rest) == 2
    assert first.nodes == json.loads(json.dumps(record.nodes)) and first.edges == json.loads(json.dumps(record.edges))
    assert first.node_texts() == {n.id: n.goal.text for n in attempt.tree.nodes}
    # a v1 record written again becomes version 2, with the same content
    write_trace(tmp_path / "new" / "t.json", first)
    (again,) = iter_traces(tmp_path / "new" / "t.json")
    assert again.version == 2 and again.node_texts() == first.node_texts()


@pytest.mark.parametrize("version", [0, 3, 99, "2", None, True])
def test_unknown_versions_are_rejected_clearly(tmp_path, version):
    d = TraceRecord({"env_id": "test"}, [], [], {}).to_dict() | {"version": version}
    (tmp_path / "t.json").write_text(json.dumps(d))
    with pytest.raises(TraceFormatError, match=r"t\.json: trace schema version .* is not supported: this aitp-gym "
                                               r"reads versions 1, 2"):
        list(iter_traces(tmp_path / "t.json"))


def test_malformed_version_2_tables_are_format_errors():
    good = TraceRecord({"env_id": "test"}, [{"id": 0, "key": "k", "text": "t"}], [], {}).to_dict()
    for nodes in ({"rows": 2, "columns": {"key": ["k"]}}, {"columns": {}}, [{"id": 0}],
                  {"rows": 1, "columns": {"t": {"codec": "zip", "values": [1]}}}):
        with pytest.raises(TraceFormatError):
            TraceRecord.from_dict(good | {"nodes": nodes})
    lost = good | {"nodes": {"rows": 1, "columns": {"key": ["k"]}, "text_rebuilder": "Nope-v0"}}
    with pytest.raises(TraceFormatError, match="rebuilt by 'Nope-v0'"):
        TraceRecord.from_dict(lost)


def test_round_trip_is_stable_and_shards_stream(tmp_path):
    theorems = SRBackend().theorems("valid")[:4]
    records = [BestFS(max_expansions=4).search(ProofAttempt(SRBackend(), t)).trace for t in theorems]
    write_traces(tmp_path / "shard.jsonl.gz", records)
    back = list(iter_traces(tmp_path / "shard.jsonl.gz"))
    assert [r.node_texts() for r in back] == [r.node_texts() for r in records]
    assert [r.to_dict() for r in back] == [json.loads(json.dumps(r.to_dict())) for r in records]


def test_hand_made_records_keep_every_field():
    nodes = [{"id": 0, "key": "a", "text": "A", "status": "open", "note": [1, 2]}, {"id": 1, "key": "b", "text": "B"}]
    edges = [{"id": 0, "parent": 0, "tactic": "t", "children": [1], "t": 0.5, "elapsed": None},
             {"id": 7, "parent": 1, "tactic": "u", "children": [], "t": 1.25}]
    record = TraceRecord({"env_id": "x"}, nodes, edges, {"proved": False}, extra={"comment": "hi"})
    back = TraceRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert back.nodes == nodes and back.edges == edges and back.extra == {"comment": "hi"}


def test_trace_module_does_not_import_environments():
    code = ("import sys, aitp_gym.trace; "
            "assert not [m for m in sys.modules if m.startswith('aitp_gym.envs')], sys.modules.keys()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_sr_trace_is_a_fraction_of_its_version_1_size():
    theorem = next(t for t in SRBackend().theorems("valid") if t.data["difficulty"] == 4)
    record = BestFS(max_expansions=40).search(ProofAttempt(SRBackend(), theorem)).trace
    v2 = len(gzip.compress(json.dumps(record.to_dict()).encode(), 6))
    v1 = len(gzip.compress(json.dumps(_v1_dict(record)).encode(), 6))
    assert v2 < v1 / 5, (v1, v2)
    assert v2 / len(record.nodes) < 12, "bytes per node, gzipped"
