"""Trace schema version 3: SR-v0 node keys are replayed from the edges and node texts rebuilt from the key and the
header's exact data, exactly; times are kept to 1 ms (``t``) and 2 significant figures (``elapsed``)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from aitp_gym import ProofAttempt
from aitp_gym.envs.sr import expr as E
from aitp_gym.envs.sr.backend import SRBackend, TacticError, apply_rule, make_theorem, replay_key, theorem_from_data
from aitp_gym.errors import TraceFormatError
from aitp_gym.search import BestFS, make_planner
from aitp_gym.trace import SCHEMA_VERSION, TraceRecord, iter_traces, write_trace, write_traces
from aitp_gym.tree import Goal, Outcome, ProofTree


def _v1_dict(record: TraceRecord) -> dict:
    """The record as version 1 wrote it: one dict per node (full text) and per edge."""
    return {"schema": "aitp-trace", "version": 1, "header": record.header, "nodes": record.nodes,
            "edges": record.edges, "result": record.result}


# A small record exactly as schema version 2 wrote it (aitp-gym before version 3): BestFS, one expansion, on
# make_theorem("x**3 - sin(x)", points=[-1.5, 0.25, 2.0]). Times to the microsecond, every key, no text.
_V2_RECORD = (
    '{"schema":"aitp-trace","version":2,"header":{"env_id":"SR-v0","theorem_id":"sr-user-09c4e7a302","sta'
    'tement":"find f with f(x) = x**3 - sin(x) at 3 points","theorem_data":{"id":"sr-user-09c4e7a302","sp'
    'lit":"","target":"x**3 - sin(x)","x":[-1.5,0.25,2.0],"y":[-2.3775050133959454,-0.23177895925452294,7'
    '.090702573174318]},"aitp_gym_version":"0.1.0","prover_version":null,"tactic_timeout":null,"planner":'
    '"bestfs","settings":{"max_expansions":1,"time_limit":60.0,"tactics_per_expansion":null,"early_stop":'
    'true,"check_proof":true},"policy":"uniform","critic":"sr-data-distance","budget":{"max_expansions":1'
    ',"time_limit":60.0},"created":"2026-11-23T10:39:22+00:00"},"nodes":{"rows":5,"columns":{"id":{"codec'
    '":"row"},"key":["0","x","1","2","3"],"status":["open","open","open","open","open"],"depth":[0,1,1,1,'
    '1],"exhausted":[true,false,false,false,false],"stats":[{"score":-0.0},{"score":-1.3862943611198906},'
    '{"score":-1.3862943611198906},{"score":-1.3862943611198906},{"score":-1.3862943611198906}]},"text_re'
    'builder":"SR-v0"},"edges":{"rows":4,"columns":{"id":{"codec":"row"},"parent":[0,0,0,0],"tactic":["in'
    'it @0 A=x","init @0 A=1","init @0 A=2","init @0 A=3"],"logprob":[-1.3862943611198906,-1.386294361119'
    '8906,-1.3862943611198906,-1.3862943611198906],"outcome":["ok","ok","ok","ok"],"message":["","","",""'
    '],"elapsed":{"codec":"us","values":[156,124,109,146]},"t":{"codec":"us-delta","values":[277,155,171,'
    '182]},"children":{"codec":"id-delta","values":[[1],[1],[1],[1]]},"cycle":[false,false,false,false]}}'
    ',"result":{"theorem_id":"sr-user-09c4e7a302","planner":"bestfs","proved":false,"stop_reason":"expans'
    'ions","expansions":1,"applications":4,"wall_time":0.0008017790005396819,"prover_time":0.000556997998'
    '5011742,"policy_time":1.567999970575329e-05,"tree_time":0.00013500400018529035,"bookkeeping_time":9.'
    '409700214746408e-05,"proof_size":null,"replay_message":"","proof":null,"proof_script":null,"tree":{"'
    'nodes":5,"edges":4,"error_edges":0,"proved_nodes":0,"failed_nodes":0,"expanded_nodes":1}}}'
)


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
    assert back.version == SCHEMA_VERSION == 3
    assert back.node_texts() == {n.id: n.goal.text for n in attempt.tree.nodes}
    assert [n["key"] for n in back.nodes] == [n.goal.key for n in attempt.tree.nodes]
    # every SR text was left out of the file, and every key but the root's
    stored = json.loads(gzip.decompress((tmp_path / "t.json.gz").read_bytes()))
    assert stored["nodes"]["text_rebuilder"] == "SR-v0" and "text" not in stored["nodes"]["columns"]
    assert stored["nodes"]["key_replayer"] == "SR-v0"
    assert stored["nodes"]["columns"]["key"] == {"codec": "plain", "values": ["0"], "rows": [0]}
    # the rest of the record comes back as it was, times to 1 ms (t) and 2 significant figures (elapsed)
    assert [(e["tactic"], e["outcome"], e["children"], e["parent"]) for e in back.edges] == \
        [(e["tactic"], e["outcome"], e["children"], e["parent"]) for e in result.trace.edges]
    for a, b in zip(back.edges, result.trace.edges, strict=True):
        assert abs(a["t"] - b["t"]) <= 0.0005 + 1e-9 and abs(a["elapsed"] - b["elapsed"]) <= 0.05 * b["elapsed"]
    assert [n["status"] for n in back.nodes] == [n["status"] for n in result.trace.nodes]
    assert [n.get("stats") for n in back.nodes] == [n.get("stats") for n in result.trace.nodes]
    assert back.result == json.loads(json.dumps(result.trace.result))


def test_times_keep_the_time_split():
    theorem = next(t for t in SRBackend().theorems("valid") if t.data["difficulty"] == 4)
    record = BestFS(max_expansions=20).search(ProofAttempt(SRBackend(), theorem)).trace
    stored = record.to_dict()
    assert stored["edges"]["columns"]["t"]["codec"] == "ms-delta"
    assert stored["edges"]["columns"]["elapsed"]["codec"] == "us-2sf"
    assert all(len(str(v).replace(".", "").strip("0")) <= 2 for v in stored["edges"]["columns"]["elapsed"]["values"])
    back = TraceRecord.from_dict(json.loads(json.dumps(stored)))
    total, total_back = sum(e["elapsed"] for e in record.edges), sum(e["elapsed"] for e in back.edges)
    assert abs(total_back - total) <= 0.05 * total, (total, total_back)  # each term is within 5%
    assert all(abs(a["t"] - b["t"]) <= 0.0005 + 1e-9 for a, b in zip(back.edges, record.edges, strict=True))
    # written again, a record read back is stored the same
    assert back.to_dict()["edges"] == json.loads(json.dumps(stored["edges"]))


def test_two_significant_figures():
    edges = [{"elapsed": v, "t": 0.0} for v in (0.000234, 0.0000045, 0.00000044, 0.0, 1.234, 987.6, 0.0999)]
    stored = TraceRecord({"env_id": "x"}, [], edges, {}).to_dict()["edges"]["columns"]["elapsed"]
    assert stored == {"codec": "us-2sf", "values": [230, 4.5, 0.44, 0, 1200000, 990000000, 100000]}
    back = TraceRecord.from_dict(json.loads(json.dumps(TraceRecord({"env_id": "x"}, [], edges, {}).to_dict())))
    assert [e["elapsed"] for e in back.edges] == pytest.approx([0.00023, 0.0000045, 0.00000044, 0, 1.2, 990, 0.1])


def test_replay_key_is_apply_rule_on_the_key():
    theorem = SRBackend().theorems("valid")[7]
    attempt = ProofAttempt(SRBackend(), theorem)
    BestFS(max_expansions=6).search(attempt)
    checked = 0
    for node in attempt.tree.nodes:
        expr = node.goal.data.expr
        for tactic in [*SRBackend().candidate_tactics(node.goal), "mul @1 B=x*(x+2)", "sin @99", "init @0 A=x",
                       "add @0 B=sin(x)", "add @0 B=1.5", "neg @0 B=x", "add @0", "nope @0"]:
            try:
                want = (E.to_prefix(apply_rule(expr, tactic)),)
            except TacticError:
                want = None
            assert replay_key(node.goal.key, tactic) == want, (node.goal.key, tactic)
            checked += 1
    assert checked > 1000


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
    # node 4's key is not what replay gives: it is stored, and so are those of the nodes made from it
    made_from_4 = [c for e in record.edges if e["parent"] == 4 for c in e["children"]]
    assert stored["nodes"]["columns"]["key"]["rows"] == sorted({0, 4, *made_from_4})
    (back,) = iter_traces(tmp_path / "t.json")
    assert back.node_texts() == {n["id"]: n["text"] for n in record.nodes}
    assert back.nodes == record.nodes


def test_a_key_replay_does_not_give_back_is_stored():
    attempt = ProofAttempt(SRBackend(), SRBackend().theorems("valid")[3])
    record = BestFS(max_expansions=6).search(attempt).trace
    child = record.edges[-1]["children"][0]
    record.nodes[child]["key"] = record.nodes[child]["key"] + " "  # not what the tactic gives
    record.edges.append({**record.edges[-1], "id": len(record.edges), "tactic": "sin @0"})  # a second source
    stored = record.to_dict()
    assert stored["nodes"]["columns"]["key"]["rows"] == [0, child]
    back = TraceRecord.from_dict(json.loads(json.dumps(stored)))
    assert [n["key"] for n in back.nodes] == [n["key"] for n in record.nodes]


def test_nodes_made_before_their_parent_keep_their_keys():
    # hand-made: edge 0 makes node 2 from node 1, which edge 1 makes later from the root
    nodes = [{"id": i, "key": k} for i, k in enumerate(["0", "x", "sin x"])]
    edges = [{"id": 0, "parent": 1, "tactic": "sin @0", "children": [2]},
             {"id": 1, "parent": 0, "tactic": "init @0 A=x", "children": [1]}]
    stored = TraceRecord({"env_id": "SR-v0"}, nodes, edges, {}).to_dict()
    assert stored["nodes"]["columns"]["key"] == {"codec": "plain", "values": ["0", "sin x"], "rows": [0, 2]}
    assert TraceRecord.from_dict(json.loads(json.dumps(stored))).nodes == nodes


def test_other_envs_keep_every_text_and_key(tmp_path):
    tree = ProofTree(Goal("⊢ ∀n. n + 0 = n", key="g"))
    tree.add_edge(tree.root, "CONJ_TAC", Outcome.ok([Goal("⊢ a", key="a"), Goal("⊢ b", key="b")]))
    tree.add_edge(tree.root, "ARITH_TAC", Outcome.proved())
    record = TraceRecord.from_tree(tree, {"env_id": "HOList-v0", "theorem_id": "ADD_0"}, {"proved": True})
    stored = record.to_dict()
    assert "text_rebuilder" not in stored["nodes"] and "key_replayer" not in stored["nodes"]
    assert stored["nodes"]["columns"]["text"] == ["⊢ ∀n. n + 0 = n", "⊢ a", "⊢ b"]
    assert stored["nodes"]["columns"]["key"] == ["g", "a", "b"]
    write_trace(tmp_path / "t.json", record)
    (back,) = iter_traces(tmp_path / "t.json")
    assert back.node_texts() == {0: "⊢ ∀n. n + 0 = n", 1: "⊢ a", 2: "⊢ b"}
    assert [n["key"] for n in back.nodes] == ["g", "a", "b"]


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
    # a v1 record written again becomes version 3, with the same content
    write_trace(tmp_path / "new" / "t.json", first)
    (again,) = iter_traces(tmp_path / "new" / "t.json")
    assert again.version == 3 and again.node_texts() == first.node_texts() and again.nodes == first.nodes


def test_version_2_traces_are_still_read(tmp_path):
    theorem = make_theorem("x**3 - sin(x)", points=[-1.5, 0.25, 2.0])
    attempt = ProofAttempt(SRBackend(), theorem)
    BestFS(max_expansions=1).search(attempt)
    (tmp_path / "old.json.gz").write_bytes(gzip.compress(_V2_RECORD.encode()))
    (old,) = iter_traces(tmp_path / "old.json.gz")
    assert old.version == 2
    assert old.node_texts() == {n.id: n.goal.text for n in attempt.tree.nodes}
    assert [n["key"] for n in old.nodes] == ["0", "x", "1", "2", "3"]
    assert [(e["elapsed"], e["t"]) for e in old.edges] == \
        [(0.000156, 0.000277), (0.000124, 0.000432), (0.000109, 0.000603), (0.000146, 0.000785)]
    # written again it becomes version 3, with the same nodes
    write_trace(tmp_path / "new.json", old)
    (again,) = iter_traces(tmp_path / "new.json")
    assert again.version == 3 and again.nodes == old.nodes
    assert [e["t"] for e in again.edges] == [0.0, 0.0, 0.001, 0.001]


@pytest.mark.parametrize("version", [0, 4, 99, "3", None, True])
def test_unknown_versions_are_rejected_clearly(tmp_path, version):
    d = TraceRecord({"env_id": "test"}, [], [], {}).to_dict() | {"version": version}
    (tmp_path / "t.json").write_text(json.dumps(d))
    with pytest.raises(TraceFormatError, match=r"t\.json: trace schema version .* is not supported: this aitp-gym "
                                               r"reads versions 1, 2, 3"):
        list(iter_traces(tmp_path / "t.json"))


def test_malformed_tables_are_format_errors():
    good = TraceRecord({"env_id": "test"}, [{"id": 0, "key": "k", "text": "t"}], [], {}).to_dict()
    for nodes in ({"rows": 2, "columns": {"key": ["k"]}}, {"columns": {}}, [{"id": 0}],
                  {"rows": 1, "columns": {"t": {"codec": "zip", "values": [1]}}}):
        with pytest.raises(TraceFormatError):
            TraceRecord.from_dict(good | {"nodes": nodes})
    lost = good | {"nodes": {"rows": 1, "columns": {"key": ["k"]}, "text_rebuilder": "Nope-v0"}}
    with pytest.raises(TraceFormatError, match="rebuilt by 'Nope-v0'"):
        TraceRecord.from_dict(lost)
    lost = good | {"nodes": {"rows": 1, "columns": {"text": ["t"]}, "key_replayer": "Nope-v0"}}
    with pytest.raises(TraceFormatError, match="replayed by 'Nope-v0'"):
        TraceRecord.from_dict(lost)
    # SR-v0 keys left out with no edge that produces them, or an edge whose tactic gives no such key
    sr = {"schema": "aitp-trace", "version": 3, "header": {"env_id": "SR-v0"}, "result": {},
          "nodes": {"rows": 2, "columns": {"id": {"codec": "row"},
                                           "key": {"codec": "plain", "values": ["0"], "rows": [0]}},
                    "key_replayer": "SR-v0"}}
    empty = {"rows": 0, "columns": {}}
    with pytest.raises(TraceFormatError, match="node 1 has no key and no edge produces it"):
        TraceRecord.from_dict(sr | {"edges": empty})
    bad = {"rows": 1, "columns": {"parent": [0], "tactic": ["sin @5"], "children": [[1]]}}
    with pytest.raises(TraceFormatError, match="cannot replay the key of node 1"):
        TraceRecord.from_dict(sr | {"edges": bad})
    good = {"rows": 1, "columns": {"parent": [0], "tactic": ["init @0 A=x"], "children": [[1]]}}
    assert [n["key"] for n in TraceRecord.from_dict(sr | {"edges": good}).nodes] == ["0", "x"]
    with pytest.raises(TraceFormatError, match="has no parent node"):
        TraceRecord.from_dict(sr | {"edges": {"rows": 1, "columns": {"parent": [5], "tactic": ["init @0 A=x"],
                                                                      "children": [[1]]}}})


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


def test_an_sr_trace_is_a_fraction_of_its_version_1_size():
    theorem = next(t for t in SRBackend().theorems("valid") if t.data["difficulty"] == 4)
    record = BestFS(max_expansions=40).search(ProofAttempt(SRBackend(), theorem)).trace
    v3 = len(gzip.compress(json.dumps(record.to_dict()).encode(), 6))
    v1 = len(gzip.compress(json.dumps(_v1_dict(record)).encode(), 6))
    assert v3 < v1 / 10, (v1, v3)
    assert v3 / len(record.nodes) < 6, "bytes per node, gzipped"


@pytest.mark.expensive
def test_an_sr_trace_of_200_expansions_is_at_most_50_kb(tmp_path):
    theorem = SRBackend().theorems("valid")[3]  # difficulty 4, not proved in 200 expansions
    result = BestFS(max_expansions=200).search(ProofAttempt(SRBackend(), theorem), trace_path=tmp_path / "t.json.gz")
    assert not result.proved and len(result.trace.edges) > 10_000
    assert (tmp_path / "t.json.gz").stat().st_size <= 50_000
