"""HOList-v0's outcome cache (``aitp_gym/outcome_cache.py``, ``HOListBackend(outcome_cache=PATH)``) against the real
HOL Light: a hit gives the outcome the prover gives, entries are shared by backends in this process, in a forked
child and in an unpickled copy, rejected actions and failures of the infrastructure are never stored, the counters,
and ``verify_cached`` replaying a sample (and catching a tampered entry). The file itself, without a prover: several
processes writing at once, pickling without the connection, a file that is not a cache."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import pickle
import sqlite3

import pytest

from aitp_gym.envs.holist import server
from aitp_gym.envs.holist.backend import HOListBackend, verify_cached
from aitp_gym.envs.holist.prover import WorkerLost, hol_light_available
from aitp_gym.envs.holist.server import ServerGone
from aitp_gym.errors import ProverTimeout
from aitp_gym.outcome_cache import OutcomeCache
from aitp_gym.tree import Goal, OutcomeKind

needs_hol = pytest.mark.skipif(not hol_light_available(),
                               reason="HOL Light is not installed: apt-get install -y hol-light libnum-ocaml-dev")

STATEMENT = "!n. n + 0 = n /\\ 0 + n = n"
# ok, error, proved, ok (a premise), error after a search: every kind HOL Light answers but its timeout
TACTICS = ["GEN_TAC", "CONJ_TAC", "ARITH_TAC", "REWRITE_TAC [ADD_SYM]", "DISCH_TAC", "MESON_TAC []"]
HARD = "!x y z. x * y * z = z * y * x + 0 * x"
SLOW = "ASM_MESON_TAC [MULT_SYM; MULT_ASSOC; ADD_0]"  # runs for seconds on HARD: HOL Light's timer stops it
SLOW_TIMEOUT = 0.2


def _seen(outcome):
    """What a caller sees of an outcome, its time aside: kind, message, and each subgoal's text, key and data."""
    return outcome.kind, outcome.message, [(g.text, g.key, g.data) for g in outcome.subgoals]


@pytest.fixture(scope="module")
def plain():
    """A backend without a cache: the prover's own answers."""
    if not hol_light_available():
        pytest.skip("HOL Light is not installed: apt-get install -y hol-light libnum-ocaml-dev")
    b = HOListBackend()
    b.prepare()  # the session's one cold load, if no other test module has paid it
    yield b
    b.close()


@pytest.fixture(scope="module")
def goal(plain):
    return plain.start(plain.custom_theorem({"statement": STATEMENT}))


@pytest.fixture(scope="module")
def hard(plain):
    return plain.start(plain.custom_theorem({"statement": HARD}))


@needs_hol
@pytest.mark.expensive
def test_hits_give_the_provers_outcomes_and_count(tmp_path, plain, goal, hard):
    b = HOListBackend(outcome_cache=tmp_path / "o.sqlite")
    try:
        assert isinstance(b.outcome_cache, OutcomeCache) and plain.outcome_cache is None
        first = [b.apply(goal, t) for t in TACTICS] + [b.apply(hard, SLOW, timeout=SLOW_TIMEOUT)]
        assert {o.kind for o in first} == set(OutcomeKind), "every kind of outcome is stored"
        assert len(b.outcome_cache) == len(first) and b.outcome_cache.stats() == {
            "hits": 0, "misses": len(first), "saved_s": 0.0}
        worker = b.worker
        requests = worker.requests
        again = [b.apply(goal, t) for t in TACTICS] + [b.apply(hard, SLOW, timeout=SLOW_TIMEOUT)]
        assert worker.requests == requests, "a hit does not reach HOL Light"
        truth = [plain.apply(goal, t) for t in TACTICS] + [plain.apply(hard, SLOW, timeout=SLOW_TIMEOUT)]
        assert [_seen(o) for o in again] == [_seen(o) for o in first] == [_seen(o) for o in truth]
        stats = b.outcome_cache.stats()
        assert (stats["hits"], stats["misses"]) == (len(first), len(first))
        # saved: what the prover took the first time (the stored elapsed, the timeout's 0.2 s among them)
        stored = {e.tactic: e.elapsed for e in b.outcome_cache.sample(100)}
        assert stats["saved_s"] == pytest.approx(sum(stored.values()))
        assert stats["saved_s"] >= SLOW_TIMEOUT
        assert all(o.elapsed < 0.05 for o in again), [o.elapsed for o in again]  # the lookup's own time
        assert b.outcome_cache.stats_delta() == stats and b.outcome_cache.stats_delta()["hits"] == 0
        # the key: another timeout is another entry
        assert b.apply(goal, "GEN_TAC", timeout=1.5).kind is OutcomeKind.OK
        assert b.outcome_cache.stats_delta() == {"hits": 0, "misses": 1, "saved_s": 0.0}
        # the same goal in another theorem (other premises allowed, the same outcome): a hit, with subgoals of
        # that theorem
        other = Goal(goal.text, goal.key, dataclasses.replace(goal.data, theorem_index=5))
        hit = b.apply(other, "GEN_TAC")
        assert b.outcome_cache.stats_delta()["hits"] == 1
        assert [g.text for g in hit.subgoals] == [g.text for g in first[0].subgoals]
        assert hit.subgoals[0].data.theorem_index == 5
        row = sqlite3.connect(tmp_path / "o.sqlite").execute(
            "SELECT prover, timeout_ms, goal, tactic, reply FROM outcomes WHERE tactic = '(GEN_TAC)' AND timeout_ms = "
            "2000").fetchone()
        assert row[:4] == (server.version_tag(), 2000, goal.data.sexp, "(GEN_TAC)")
        assert json.loads(row[4])["status"] == "ok"
    finally:
        b.close()


@needs_hol
@pytest.mark.expensive
def test_other_backends_and_processes_share_the_file(tmp_path, goal):
    path = tmp_path / "shared.sqlite"
    first = HOListBackend(outcome_cache=path)
    first.apply(goal, "GEN_TAC")  # the connection is open when the child is forked and when it is pickled
    # a forked child (multiprocessing's fork start method) uses the inherited backend: it must open its own
    # connection, see the parent's entry and add its own
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def child():
        outcomes = [first.apply(goal, t).kind.value for t in ("GEN_TAC", "ARITH_TAC")]
        queue.put((outcomes, first.outcome_cache.stats()))

    process = ctx.Process(target=child)
    process.start()
    outcomes, stats = queue.get(timeout=120)
    process.join(30)
    assert process.exitcode == 0 and outcomes == ["ok", "proved"]
    assert (stats["hits"], stats["misses"]) == (1, 1)
    assert first.outcome_cache.stats()["misses"] == 1, "the parent's counters are its own"
    # a fresh backend object, and an unpickled copy (the path survives, the connection does not)
    fresh = HOListBackend(outcome_cache=path)
    copy = pickle.loads(pickle.dumps(first))
    assert copy.outcome_cache.path == path and copy.outcome_cache._conn is None
    assert copy.outcome_cache.stats() == {"hits": 0, "misses": 0, "saved_s": 0.0}
    for b in (fresh, copy):
        assert b.apply(goal, "ARITH_TAC").kind is OutcomeKind.PROVED
        assert b.outcome_cache.stats()["hits"] == 1 and len(b.outcome_cache) == 2
        b.close()
    first.close()
    assert first.apply(goal, "ARITH_TAC").kind is OutcomeKind.PROVED, "a closed backend reopens the file"
    first.close()


@needs_hol
@pytest.mark.expensive
def test_rejected_actions_and_lost_workers_are_never_stored(tmp_path, goal, monkeypatch):
    b = HOListBackend(outcome_cache=tmp_path / "o.sqlite")
    try:
        for action in ["", "ARITH_TAC;; Sys.command \"ls\"", "MP_TAC NO_SUCH_THEOREM_XYZ", "RAW_POP_TAC 0",
                       "MP_TAC (Obj.magic 0)"]:
            outcome = b.apply(goal, action)
            assert outcome.kind is OutcomeKind.ERROR and "rejected before reaching HOL Light" in outcome.message
        # a premise that comes after the theorem is rejected too
        early = b.start(b.theorems("valid")[0])
        assert "not available here" in b.apply(early, f"MP_TAC {b.database.entries[-1]['name']}").message
        assert b.outcome_cache.stats() == {"hits": 0, "misses": 0, "saved_s": 0.0}, "never even looked up"
        # what the infrastructure says is no answer about the tactic: not stored, asked again next time
        for failure in (ProverTimeout("no answer"), WorkerLost("worker died")):
            def fail(*args, failure=failure, **kwargs):
                raise failure

            monkeypatch.setattr(b, "_request", fail)
            assert b.apply(goal, "GEN_TAC").kind in (OutcomeKind.TIMEOUT, OutcomeKind.ERROR)
        monkeypatch.setattr(b, "_request", lambda *a, **k: {"status": "timeout", "restart": True})
        assert b.apply(goal, "GEN_TAC").kind is OutcomeKind.TIMEOUT  # interrupted in the printer: not stored

        def gone(*args, **kwargs):
            raise ServerGone("the server is gone")

        monkeypatch.setattr(b, "_request", gone)
        with pytest.raises(ServerGone):
            b.apply(goal, "GEN_TAC")
        assert len(b.outcome_cache) == 0 and b.outcome_cache.stats()["misses"] == 4
        monkeypatch.undo()
        assert b.apply(goal, "GEN_TAC").kind is OutcomeKind.OK and len(b.outcome_cache) == 1
    finally:
        b.close()


@needs_hol
@pytest.mark.expensive
def test_verify_cached_replays_a_sample_and_finds_a_tampered_entry(tmp_path, goal, hard):
    path = tmp_path / "o.sqlite"
    b = HOListBackend(outcome_cache=path)
    try:
        for t in TACTICS:
            b.apply(goal, t)
        b.apply(hard, SLOW, timeout=SLOW_TIMEOUT)
        assert len(b.outcome_cache) == len(TACTICS) + 1
        assert verify_cached(b, 100, seed=1) == []
        hits = b.outcome_cache.stats()["hits"]
        db = sqlite3.connect(path)  # tamper: GEN_TAC now "gives" another goal, ARITH_TAC "fails", SLOW "proves"
        reply = json.loads(db.execute("SELECT reply FROM outcomes WHERE tactic = '(GEN_TAC)'").fetchone()[0])
        reply["goals"][0]["concl"] = "0 = 1"
        db.execute("UPDATE outcomes SET reply = ? WHERE tactic = '(GEN_TAC)'", (json.dumps(reply),))
        db.execute("""UPDATE outcomes SET reply = '{"status":"error","message":"x"}' WHERE tactic = '(ARITH_TAC)'""")
        db.execute("""UPDATE outcomes SET reply = '{"status":"proved"}' WHERE reply LIKE '%timeout%'""")
        # an entry stored as a timeout is not replayed: whether the timer fires depends on the machine's load
        db.execute("""UPDATE outcomes SET reply = '{"status":"timeout"}' WHERE tactic = '(CONJ_TAC)'""")
        db.commit()
        db.close()
        mismatches = verify_cached(b, 100, seed=1)
        slow = b.parse_action(SLOW, len(b.database.entries)).to_sexp()
        assert sorted(m.entry.tactic for m in mismatches) == sorted(["(GEN_TAC)", "(ARITH_TAC)", slow])
        wrong = next(m for m in mismatches if m.entry.tactic == "(ARITH_TAC)")
        assert wrong.live["status"] == "proved" and "stored error, live proved" in str(wrong)
        assert b.outcome_cache.stats()["hits"] == hits, "verify_cached bypasses the cache"
        assert len(verify_cached(b, 1, seed=0)) <= 1
    finally:
        b.close()


# ---------------------------------------------------------------------------------------------- the file alone
def _writer(path, start, count, queue):
    cache = OutcomeCache(path)
    stored = sum(cache.put("p", 2000, f"goal {i}", "TAC", {"status": "ok", "goals": [i]}, 0.5)
                 for i in range(start, start + count))
    queue.put(stored)


def test_several_processes_write_one_file_at_once(tmp_path):
    path = tmp_path / "deep" / "o.sqlite"  # the folder is made on first use
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    processes = [ctx.Process(target=_writer, args=(path, 100 * k, 200, queue)) for k in range(4)]  # overlapping
    for p in processes:
        p.start()
    stored = [queue.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    cache = OutcomeCache(path)
    assert len(cache) == 500 and sum(stored) == 500, "INSERT OR IGNORE: each entry once, the first writer's"
    hit = cache.get("p", 2000, "goal 7", "TAC")
    assert hit.reply == {"status": "ok", "goals": [7]} and hit.elapsed == 0.5
    assert cache.get("p", 1000, "goal 7", "TAC") is None and cache.get("q", 2000, "goal 7", "TAC") is None
    assert cache.stats() == {"hits": 1, "misses": 2, "saved_s": 0.5}
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    sample = cache.sample(5, seed=3)
    assert len(sample) == 5 and sample == cache.sample(5, seed=3) and len({s.goal for s in sample}) == 5
    assert len(cache.sample(10_000)) == 500
    copy = pickle.loads(pickle.dumps(cache))  # pickles as its path, with counters of its own
    assert copy._conn is None and copy.path == path and copy.stats()["hits"] == 0 and len(copy) == 500
    cache.close()
    copy.close()


def test_a_file_that_is_not_a_cache_is_refused(tmp_path):
    bad = tmp_path / "notes.sqlite"
    bad.write_text("not a database " * 100)
    with pytest.raises(ValueError, match="not an outcome cache"):
        len(OutcomeCache(bad))
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("PRAGMA user_version = 7").fetchone()
    with pytest.raises(ValueError, match="format 7"):
        len(OutcomeCache(other))
