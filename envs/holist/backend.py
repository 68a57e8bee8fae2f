"""The HOList prover backend: HOL Light through ``aitp_server.ml``."""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aitp_gym.backend import SPLITS, Theorem, validate_seconds
from aitp_gym.envs.holist import server
from aitp_gym.envs.holist.database import TheoremDatabase, hol_light_version, load_database
from aitp_gym.envs.holist.grammar import INT, TACTICS, TacticCall, TacticSyntaxError, parse_tactic
from aitp_gym.envs.holist.prover import Worker, WorkerLost
from aitp_gym.envs.holist.server import ServerGone
from aitp_gym.errors import ProverError, ProverTimeout
from aitp_gym.outcome_cache import CachedOutcome, OutcomeCache
from aitp_gym.proof import ProofStep
from aitp_gym.tree import Goal, Outcome

ENV_ID = "HOList-v0"
DEFAULT_TACTIC_TIMEOUT = 2.0  # seconds, enforced inside HOL Light
WATCHDOG_GRACE = 5.0  # extra seconds before the Python watchdog kills a silent worker
CACHEABLE = frozenset({"ok", "proved", "error", "timeout"})  # statuses of HOL Light's own answers to a tactic


@dataclass(frozen=True)
class HOLGoal:
    sexp: str  # (g ((h "label" TERM) ...) TERM), exact, with types
    theorem_index: int  # premises must come before this position in the database
    hyps: tuple[str, ...]
    concl: str


def goal_text(hyps: Sequence[str], concl: str) -> str:
    return "".join(f"{h}\n" for h in hyps) + f"⊢ {concl}"


def _goal_from_json(j: Mapping[str, Any], theorem_index: int) -> Goal:
    hyps = tuple(h["text"] for h in j["hyps"])
    return Goal(goal_text(hyps, j["concl"]), j["sexp"], HOLGoal(j["sexp"], theorem_index, hyps, j["concl"]))


def validate_timeout(value: object, name: str = "tactic_timeout") -> float:
    """``None`` means the default; otherwise a positive, finite number of seconds."""
    return validate_seconds(value, DEFAULT_TACTIC_TIMEOUT, name)


def proof_sexp(step: ProofStep, parse: Any) -> str:
    return "(p " + parse(step.tactic).to_sexp() + "".join(" " + proof_sexp(c, parse) for c in step.children) + ")"


class HOListBackend:
    """Stateless from the caller's side: every goal carries its exact s-expression.

    ``outcome_cache``: an SQLite file (``aitp_gym.outcome_cache``) of HOL Light's replies to tactics, shared by
    every backend given the same path, in any process. ``apply`` answers a tactic from it when the same tactic was
    applied to the same goal (hypotheses included) by the same server version (``server.version_tag()``: HOL
    Light's version and the server's source) under the same timeout in ms; the outcome is the prover's, with the
    lookup's time as its ``elapsed``. What the prover says about a tactic (ok, proved, error, its own timeout) is
    stored; a worker that stopped answering or died, a gone server, or a reply interrupted while printing is not.
    ``backend.outcome_cache`` is the ``OutcomeCache`` (its hit and miss counters are this process's), or None."""

    env_id = ENV_ID

    def __init__(self, tactic_timeout: float | None = DEFAULT_TACTIC_TIMEOUT, premises_per_tactic: int = 4,
                 gsym_variants: bool = True, outcome_cache: str | os.PathLike[str] | None = None) -> None:
        self.tactic_timeout = validate_timeout(tactic_timeout)  # the effective default, in seconds
        self.premises_per_tactic = premises_per_tactic
        self.gsym_variants = gsym_variants  # the baseline also rewrites right to left with its top equation
        # pickles as its path: a copy opens the file again on first use
        self.outcome_cache = OutcomeCache(outcome_cache) if outcome_cache is not None else None
        self._db: TheoremDatabase | None = None
        self._worker: Worker | None = None
        self._lock = threading.Lock()
        self._owner = os.getpid()
        self._premise_index: _PremiseIndex | None = None
        self.restarts = 0

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        """No worker, lock, socket or caches: a copy in another process re-attaches to the machine's
        warm HOL Light on first use (and to the outcome cache's file, which pickles as its path)."""
        state = self.__dict__.copy()
        for key in ("_worker", "_lock", "_db", "_premise_index", "_owner"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._db = None
        self._worker = None
        self._lock = threading.Lock()
        self._owner = os.getpid()
        self._premise_index = None

    def _after_fork(self) -> None:
        """In a child made by ``os.fork`` (e.g. multiprocessing's fork start method) the parent's
        connection must not be shared: forget it (without killing the parent's worker)."""
        if self._owner != os.getpid():
            self._owner = os.getpid()
            self._lock = threading.Lock()
            self._worker = None

    # ------------------------------------------------------------------ start-up
    @property
    def prover_version(self) -> str:
        """``hol-light <Debian package version>``; needs no prover."""
        return f"hol-light {hol_light_version()}"

    def prepare(self, status: Callable[[str], None] | None = None) -> None:
        """Attach to a warm HOL Light now (starting the machine-wide server if there is none) and load
        the theorem database, so that the first tactic is not charged for it. ``status`` is called
        with a message only when a cold load (about 90 s) is about to happen, or when this process
        waits for another one's, and then once more when HOL Light is ready. Without ``status`` the
        same messages go to ``server.announce`` (the ``aitp_gym.envs.holist`` logger, or stderr)."""
        self._after_fork()
        with self._lock:
            if self._worker is None or not self._worker.alive:
                self._worker = server.connect(status)
        self.premise_index  # noqa: B018 -- the database (shipped, or built once from the prover) and its index

    # ------------------------------------------------------------------ database
    @property
    def database(self) -> TheoremDatabase:
        if self._db is None:
            self._db = load_database(fetch_raw=lambda: self._request("THEOREMS", 300.0))
        return self._db

    @property
    def premise_index(self) -> _PremiseIndex:
        """TF-IDF over the database's statements (built on first use; needs no prover)."""
        if self._premise_index is None:
            self._premise_index = _PremiseIndex(self.database)
        return self._premise_index

    def theorems(self, split: str) -> Sequence[Theorem]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        return self.database.theorems(split)

    def allowed_premises(self, theorem_index: int) -> list[str]:
        return [e["name"] for e in self.database.entries[:theorem_index]]

    def custom_theorem(self, options: Mapping[str, Any]) -> Theorem:
        """``reset(options={"statement": "!n. n + 0 = n"})``: any closed HOL proposition. Premises are
        then the whole database."""
        unknown = set(options) - {"statement"}
        if unknown or "statement" not in options:
            raise ValueError("HOList-v0 reset options: {'theorem': name} or {'statement': 'HOL term'}")
        statement = options["statement"]
        if not isinstance(statement, str) or not statement.strip():
            raise ValueError("a statement must be a non-empty string of HOL Light syntax, e.g. '!n. n + 0 = n'; "
                             f"got {statement!r}")
        if "\n" in statement or "\t" in statement or len(statement) > 2000:
            raise ValueError("a statement is one line of HOL Light syntax, at most 2000 characters")
        reply = self._request(f"PARSE\t{statement}", 30.0)
        if reply.get("status") != "ok":
            raise ValueError(f"HOL Light cannot parse {statement!r}: {reply.get('message')}")
        j = reply["goals"][0]
        return Theorem(f"user:{statement}", j["concl"], "", {"index": len(self.database.entries), "sexp": j["sexp"]})

    # ------------------------------------------------------------------ prover access
    def _request(self, line: str, timeout: float, fresh: bool = False) -> Any:
        """Send one request and return the reply: on this backend's worker (forked on first use), or,
        with ``fresh``, on a worker forked for this request alone and killed after it.

        A worker that stops answering raises ``ProverTimeout``; one whose connection ends while its
        server lives raises ``WorkerLost``: the request's own doing (a crash, out of memory). Either
        way the next request gets a fresh worker. If the server itself went away (a forced stop, a
        crash), that is nobody's answer to the request: it is announced and the request (every
        request is self-contained) runs again on a new server, started with an announced cold load
        if no other process has one; ``ServerGone`` if that fails too."""
        self._after_fork()
        with contextlib.nullcontext() if fresh else self._lock:
            for attempt in range(2):
                try:
                    worker = self._attach(fresh)
                except ProverError as e:
                    if attempt == 0:
                        raise
                    raise ServerGone(f"the HOL Light server is gone (stopped or crashed), and a new one could not "
                                     f"be started: {e}") from e
                try:
                    return worker.request(line, timeout)
                except ProverTimeout:
                    self.restarts += 1
                    raise
                except WorkerLost as e:
                    self.restarts += 1
                    if not self._server_went_away(worker, fresh):
                        raise
                    if attempt == 1:
                        raise ServerGone(f"the HOL Light server went away twice during one request (stopped or "
                                         f"crashed); see {server.server_dir() / 'server.log'}") from e
                    server.announce(server.SERVER_GONE_MESSAGE.format(pid=worker.server_pid))
                finally:
                    if fresh or not worker.alive:
                        worker.kill()
                        if self._worker is worker:
                            self._worker = None
        raise AssertionError("unreachable")

    def _attach(self, fresh: bool) -> Worker:
        if fresh:
            return server.connect()
        if self._worker is None or not self._worker.alive:
            self._worker = server.connect()
        return self._worker

    def _server_went_away(self, worker: Worker, fresh: bool) -> bool:
        """After ``worker`` was lost: whether its server is gone too. A fresh worker of whichever
        server runs now, if any, becomes this backend's worker (unless ``fresh``)."""
        replacement = server.attach()
        same = replacement is not None and replacement.server_pid == worker.server_pid
        if replacement is not None and not fresh:
            self._worker = replacement
        elif replacement is not None:
            replacement.close()
        return not same

    @property
    def worker(self) -> Worker:
        """The current worker (started on demand)."""
        self._request("PING", 30.0)
        return self._worker

    def start(self, theorem: Theorem) -> Goal:
        sexp = theorem.data["sexp"]
        return Goal(goal_text((), theorem.statement), sexp, HOLGoal(sexp, theorem.data["index"], (), theorem.statement))

    def parse_action(self, tactic: str, theorem_index: int) -> TacticCall:
        """Parse and whitelist; raise ``TacticSyntaxError`` for anything not allowed here."""
        call = parse_tactic(tactic)
        for name in call.theorem_names():
            index = self.database.index_of(name)
            if index is None:
                raise TacticSyntaxError(f"unknown theorem {name!r}")
            if index >= theorem_index:
                raise TacticSyntaxError(f"theorem {name!r} is not available here: premises must come before the "
                                        "theorem being proved in the database")
        return call

    def apply(self, goal: Goal, tactic: str, timeout: float | None = None) -> Outcome:
        t0 = time.perf_counter()
        state = goal.data
        if not isinstance(state, HOLGoal):
            return Outcome.error("not a HOList-v0 goal")
        try:
            call = self.parse_action(tactic, state.theorem_index)
            for kind, arg in zip(TACTICS[call.name], call.args, strict=True):
                if kind == INT and arg >= len(state.hyps):  # RAW_POP_TAC's assumption index
                    have = f"at most {len(state.hyps) - 1}" if state.hyps else "the goal has no assumptions"
                    raise TacticSyntaxError(f"assumption index {arg} out of range ({have})")
        except TacticSyntaxError as e:
            return Outcome.error(f"rejected before reaching HOL Light: {e}", time.perf_counter() - t0)
        limit = self.tactic_timeout if timeout is None else timeout
        ms = max(1, int(limit * 1000))
        tactic_sexp = call.to_sexp()
        cache = self.outcome_cache
        if cache is not None:  # only whitelisted actions get here: a rejected one is never looked up nor stored
            key = (server.version_tag(), ms, state.sexp, tactic_sexp)
            hit = cache.get(*key)
            if hit is not None:
                return self._outcome(hit.reply, state.theorem_index, time.perf_counter() - t0, limit)
        try:  # only this tactic's own failures are outcomes; a server gone for good raises ServerGone
            reply = self._request(f"APPLY\t{ms}\t{state.sexp}\t{tactic_sexp}", limit + WATCHDOG_GRACE)
        except ProverTimeout as e:  # the watchdog, not HOL Light: says nothing about the tactic, never stored
            return Outcome.timeout(f"{e}; the next tactic runs in a fresh worker", time.perf_counter() - t0)
        except WorkerLost as e:
            return Outcome.error(f"{e}; the next tactic runs in a fresh worker", time.perf_counter() - t0)
        elapsed = time.perf_counter() - t0
        if cache is not None and _cacheable(reply):
            cache.put(*key, reply, elapsed)
        return self._outcome(reply, state.theorem_index, elapsed, limit)

    @staticmethod
    def _outcome(reply: Mapping[str, Any], theorem_index: int, elapsed: float, limit: float) -> Outcome:
        status = reply.get("status")
        if status == "proved":
            return Outcome.proved(elapsed)
        if status == "ok":
            return Outcome.ok([_goal_from_json(j, theorem_index) for j in reply["goals"]], elapsed)
        if status == "timeout":
            return Outcome.timeout(f"tactic ran longer than {limit:.1f} s", elapsed)
        return Outcome.error(str(reply.get("message", "unknown HOL Light error")), elapsed)

    def check(self, theorem: Theorem, proof: ProofStep) -> tuple[bool, str]:
        """Replay the proof with HOL Light's ``prove`` on a freshly forked worker. A replay that fails,
        hangs or crashes its worker is ``(False, why)``; a server that cannot be reached raises."""
        try:
            sexp = proof_sexp(proof, lambda t: self.parse_action(t, theorem.data["index"]))
        except TacticSyntaxError as e:
            return False, f"the proof has an invalid tactic: {e}"
        limit = 60.0
        try:
            reply = self._request(f"PROVE\t{int(limit * 1000)}\t{theorem.data['sexp']}\t{sexp}", limit + 30,
                                  fresh=True)
        except (ProverTimeout, WorkerLost) as e:
            return False, str(e)
        if reply.get("status") == "proved":
            return True, ""
        return False, str(reply.get("message", reply.get("status")))

    def close(self) -> None:
        self._after_fork()
        with self._lock:
            if self._worker is not None:
                self._worker.kill()
                self._worker = None
        if self.outcome_cache is not None:
            self.outcome_cache.close()

    # ------------------------------------------------------------------ model-free baseline
    def candidate_tactics(self, goal: Goal) -> list[str]:
        """A handful of tactics: structural ones, decision procedures, and rewriting or MESON with
        the premises most similar to the goal (TF-IDF over tokens) among those allowed."""
        state: HOLGoal = goal.data
        top = self.premise_index.top(goal.text, state.theorem_index, self.premises_per_tactic)
        premises = "; ".join(top)
        out = ["ARITH_TAC", "CONJ_TAC", "DISCH_TAC", "GEN_TAC", "EQ_TAC", "STRIP_TAC", "REWRITE_TAC []"]
        if state.hyps:
            out.append("ASM_REWRITE_TAC []")
        if top:
            out += [f"REWRITE_TAC [{premises}]", f"SIMP_TAC [{premises}]", f"ASM_MESON_TAC [{premises}]",
                    f"ONCE_REWRITE_TAC [{top[0]}]", f"MATCH_MP_TAC {top[0]}"]
            if self.gsym_variants:
                equation = next((n for n in top if _is_equation(self.database.by_name[n]["text"])), None)
                if equation is not None:
                    out += [f"REWRITE_TAC [GSYM {equation}]", f"ONCE_REWRITE_TAC [GSYM {equation}]"]
        else:
            out.append("ASM_MESON_TAC []")
        return out


def _cacheable(reply: Any) -> bool:
    """HOL Light's own answer about the tactic: ok, proved, error, or its interval timer's timeout; not a reply
    interrupted inside the printer (``restart``: the worker is discarded, and the same request may succeed)."""
    return isinstance(reply, dict) and reply.get("status") in CACHEABLE and not reply.get("restart")


@dataclass(frozen=True)
class CacheMismatch:
    """An outcome-cache entry that the live prover contradicts: ``entry`` as stored, ``live`` the prover's reply
    now (or ``{"status": "lost", "message": ...}`` when its worker stopped answering or died)."""

    entry: CachedOutcome
    live: Mapping[str, Any]

    def __str__(self) -> str:
        stored = self.entry.reply.get("status") if isinstance(self.entry.reply, dict) else self.entry.reply
        return (f"{self.entry.tactic} on {self.entry.goal[:80]}: stored {stored}, "
                f"live {self.live.get('status')} {self.live.get('message', '')}".rstrip())


def verify_cached(backend: HOListBackend, n: int, seed: int = 0) -> list[CacheMismatch]:
    """Replay ``n`` entries sampled (seeded) from ``backend.outcome_cache`` on the live prover, bypassing the cache,
    and return those whose status or resulting goals (their texts and s-expressions) differ. Error messages are not
    compared, only that it is an error.

    Skipped: entries stored as timeouts (whether HOL Light's timer fires depends on the machine's load, so a
    different answer now proves nothing), and entries of another server version (``prover`` other than
    ``server.version_tag()``: this prover is not the one that answered them). An entry stored as ok, proved or
    error that now times out, or whose worker stops answering or dies, is reported: on a busy machine, check it
    again before trusting the report."""
    cache = backend.outcome_cache
    if cache is None:
        raise ValueError("this backend has no outcome cache (HOListBackend(outcome_cache=PATH))")
    version = server.version_tag()
    mismatches = []
    for entry in cache.sample(n, seed):
        if entry.prover != version or not isinstance(entry.reply, dict) or entry.reply.get("status") == "timeout":
            continue
        try:
            live = backend._request(f"APPLY\t{entry.timeout_ms}\t{entry.goal}\t{entry.tactic}",
                                    entry.timeout_ms / 1000 + WATCHDOG_GRACE)
        except (ProverTimeout, WorkerLost) as e:
            live = {"status": "lost", "message": str(e)}
        if live.get("status") != entry.reply.get("status") or live.get("goals") != entry.reply.get("goals"):
            mismatches.append(CacheMismatch(entry, live))
    return mismatches


def _is_equation(statement: str) -> bool:
    """Whether a statement (printed) is, under its universal quantifiers, an equation or a conjunction
    of them: the theorems that GSYM turns around."""
    body = re.sub(r"^(?:!\S+(?:\s+\S+)*?\.\s*)+", "", statement.strip())
    return " = " in body or " <=> " in body


_TOKENS = re.compile(r"[A-Za-z_][A-Za-z0-9_']*|\d+|[^\sA-Za-z0-9_()]+")


class _PremiseIndex:
    """TF-IDF over the tokens of theorem statements, as an inverted index."""

    def __init__(self, db: TheoremDatabase) -> None:
        self.names = [e["name"] for e in db.entries]
        docs = [Counter(_TOKENS.findall(e["text"])) for e in db.entries]
        df = Counter(tok for d in docs for tok in d)
        n = len(docs)
        self.idf = {tok: math.log((1 + n) / (1 + c)) + 1.0 for tok, c in df.items()}
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, d in enumerate(docs):
            weights = {tok: (1 + math.log(c)) * self.idf[tok] for tok, c in d.items()}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for tok, w in weights.items():
                postings[tok].append((i, w / norm))
        self.postings = {tok: (np.array([i for i, _ in p]), np.array([w for _, w in p])) for tok, p in postings.items()}

    def top(self, text: str, before: int, k: int) -> list[str]:
        return [name for name, _ in self.top_scored(text, before, k)]

    def top_scored(self, text: str, before: int, k: int) -> list[tuple[str, float]]:
        """The ``k`` theorems before position ``before`` most similar to ``text``, with their scores (positive)."""
        scores = np.zeros(len(self.names))
        for tok, c in Counter(_TOKENS.findall(text)).items():
            if tok in self.postings:
                idx, w = self.postings[tok]
                scores[idx] += w * (1 + math.log(c)) * self.idf[tok]
        scores[before:] = -1.0
        best = np.argsort(-scores[:before], kind="stable")[:k] if before > 0 else []
        return [(self.names[i], float(scores[i])) for i in best if scores[i] > 0]
