"""The Lean 4 backend: lean_dojo's ``Dojo`` behind the stateless ``ProverBackend`` interface.

Written against lean-dojo 4.20.0. What it hides from the caller:

* **Goals, not states.** A Dojo works on tactic states (every open goal at once, ``TacticState.pp``); the
  proof tree wants one node per goal. A state is split into its goals (the ``⊢`` blocks that lean_dojo's
  ``parse_goals`` also splits on, ``case`` lines included), and each goal refers to its state and position
  through ``LeanGoalRef``; Lean's state ids stay inside the backend.
* **A tactic on any goal.** A Lean tactic acts on the main (first) goal. To apply one to goal ``i`` of a
  state, the backend first runs ``rotate_left i`` (core Lean 4) to make it the main goal, once per (state, i),
  and then runs the tactic under ``focus`` (core Lean 4), which hides the other goals from it. Per-goal
  Dojo states were the alternative, but Lean has no core tactic to drop the other goals, and the goals of
  one state may share metavariables, so states cannot be split for real; ``focus`` makes the tactic see
  only its goal (``all_goals``, ``case``, ``<;>`` included), and ``rotate_left``/``focus`` are core
  tactics, unlike Mathlib's ``pick_goal``/``on_goal``. The new subgoals are then the first goals of the
  result and the other goals follow unchanged; a result where the other goals changed (shared
  metavariables were assigned), or were closed along with the focused goal (``ProofFinished`` while the
  state had other goals), is refused as an error outcome, because the tree treats goals as independent.
  A multi-line tactic is always sent under ``focus`` (Lean's REPL parses one tactic per request, and
  ``focus`` takes a tactic sequence), with one goal or several. A found proof is written the same way,
  with ``·`` bullets (``proof_script``).
* **Failures.** ``LeanError`` and ``ProofGivenUp`` are error outcomes with Lean's message; ``ProofFinished``
  (when the state had no other goals) and a result without the goal close it. ``DojoTacticTimeoutError`` is
  a timeout outcome, and the Dojo is then restarted (a Dojo that timed out times out on every later
  tactic); ``DojoCrashError`` restarts it too and the tactic is retried in the fresh Dojo up to
  ``crash_retries`` times, the crash reported in the outcome's message. A restarted Dojo is replayed
  lazily, on first use, to the states that are needed, by re-running the tactics that led to them. The
  Dojo is also restarted every ``restart_every`` applications,
  to bound Lean's memory. A tactic whose time budget is below ``MIN_TACTIC_TIMEOUT`` is a timeout outcome
  without reaching Lean (it would time out and cost a restart); a timeout while reaching the goal's state
  (replay, ``rotate_left``) is reported as that, not as the tactic's.
* **Proof checking.** ``check`` runs lean_dojo's ``check_proof`` (the whole file, with the proof script in
  place of the human proof) in a child process killed after ``check_timeout`` seconds. When it cannot run
  (for example a theorem declared with ``where``), does not finish in time, or returns False (which does not
  tell a wrong proof from a Lean that failed for another reason), the whole proof script is replayed in a
  fresh Dojo as one tactic block from the theorem's start state, and must give ``ProofFinished``: Lean's
  REPL kernel-checks a proof, and refuses ``sorry``, only when a state has no goals left.
"""

from __future__ import annotations

import importlib.metadata
import multiprocessing
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitp_gym.backend import SPLITS, Theorem, validate_seconds
from aitp_gym.envs.lean.benchmark import (
    ENV_ID,
    REQUIRED_FIELDS,
    PremiseCorpus,
    corpus_path,
    load_split,
    resolve_benchmark,
    theorem_from_record,
    unique_ids,
)
from aitp_gym.errors import DependencyNotInstalled, ProverError
from aitp_gym.optional import require
from aitp_gym.proof import ProofStep
from aitp_gym.tree import Goal, Outcome

DEFAULT_TACTIC_TIMEOUT = 10.0  # seconds per tactic
DEFAULT_INIT_TIMEOUT = 600  # seconds for a Dojo to start (``import Mathlib`` alone can take minutes)
DEFAULT_RESTART_EVERY = 400  # tactic applications between Dojo restarts (Lean's memory only grows)
DEFAULT_CRASH_RETRIES = 1
DEFAULT_MAX_RESTARTS = 50  # Dojo starts per theorem before tactics are refused outright
DEFAULT_CHECK_TIMEOUT = 900.0  # seconds for lean_dojo.check_proof, which compiles the theorem's whole file
MIN_TACTIC_TIMEOUT = 0.05  # seconds: with less budget left, a tactic is a timeout without reaching Lean

INSTALL_LEAN = ("Install elan, Lean's toolchain manager (curl https://raw.githubusercontent.com/leanprover/elan/"
                "master/elan-init.sh -sSf | sh), open a new shell so that ~/.elan/bin is on PATH, then trace your "
                "repository with LeanDojo. lean-dojo 4.20.0 needs a repository on Lean 4.18 or older (its "
                "lean-toolchain): Lean 4.19 and newer reject the --memory option it passes. docs/lean.md walks "
                "through it.")

# Tactics a search must not use: they close goals without proving them. Lean itself refuses a finished proof
# that uses them (ProofGivenUp), but only once every goal is closed; refusing them here keeps the tree honest.
# Any identifier component counts, after a dot too (``_root_.sorryAx``, ``Lean.sorryAx``, ``«sorry»``);
# a longer name that contains one (``not_sorry_lemma``, ``sorry'``) is another name and passes.
# ``native_decide`` is not refused: it is a real proof that trusts Lean's compiler (axiom ``Lean.ofReduceBool``),
# and check_proof and the Dojo accept it; see docs/lean.md.
FORBIDDEN_TACTIC = re.compile(r"(?<![\w'])(sorry|admit|sorryAx)(?![\w'])")

# The model-free policy's candidates: core Lean 4 tactics only (no Mathlib), so they parse in any project.
CANDIDATE_TACTICS = ("rfl", "trivial", "decide", "assumption", "contradiction", "intro", "intros", "constructor",
                     "simp", "simp_all", "omega")


def import_lean_dojo() -> Any:
    """lean_dojo, or ``DependencyNotInstalled`` with one clear message (its import checks git and may fail)."""
    try:
        return require("lean_dojo", "Lean-v0")
    except DependencyNotInstalled:
        raise
    except Exception as e:  # noqa: BLE001  (lean_dojo asserts on git's version at import time)
        raise DependencyNotInstalled(f"Lean-v0: lean_dojo is installed but failed to import "
                                     f"({type(e).__name__}: {e}); it needs git 2.25 or newer on PATH") from e


def require_lake() -> str:
    """The path of ``lake``, or ``DependencyNotInstalled`` saying what to install."""
    lake = shutil.which("lake")
    if lake is None:
        raise DependencyNotInstalled(f"Lean-v0 needs a Lean 4 toolchain, and `lake` is not on PATH. {INSTALL_LEAN}")
    return lake


def validate_timeout(value: object, name: str = "tactic_timeout") -> float:
    """``None`` means the default; otherwise a positive, finite number of seconds."""
    return validate_seconds(value, DEFAULT_TACTIC_TIMEOUT, name)


def split_goals(pp: str) -> tuple[str, ...]:
    """The goals of a pretty-printed tactic state, split as lean_dojo's ``parse_goals`` splits them: blocks
    separated by a blank line that contain ``⊢``; a block keeps its ``case`` line."""
    return tuple(block for block in pp.split("\n\n") if "⊢" in block)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line.strip() else line for line in text.splitlines())


def focused_command(tactic: str) -> str:
    """``tactic`` under ``focus``: it sees the main goal only, whatever it does (``all_goals``, ``case``)."""
    return "focus\n" + _indent(tactic.strip("\n"), "  ")


def tactic_command(tactic: str, goals: int) -> str:
    """What is sent to Lean for ``tactic`` on the main goal of a state with ``goals`` goals: a one-line tactic
    on a lone goal as it is, anything else under ``focus``. Lean's REPL parses each request as one tactic, so
    a multi-line tactic sequence needs the ``focus`` block with one goal as much as with several."""
    if goals == 1 and "\n" not in tactic.strip("\n"):
        return tactic
    return focused_command(tactic)


def proof_script(proof: ProofStep) -> str:
    """A proof tree as a Lean 4 tactic block (without ``by``): a step's subgoals are proved one by one under
    ``·`` bullets, in the order Lean lists them, as the backend produced them; a single subgoal needs none."""
    lines = [proof.tactic.strip("\n")]
    if len(proof.children) == 1:
        lines.append(proof_script(proof.children[0]))
    else:
        for child in proof.children:
            body = proof_script(child)
            lines.append("· " + _indent(body, "  ")[2:])
    return "\n".join(lines)


@dataclass(frozen=True)
class LeanGoalRef:
    """What a ``Goal`` of Lean-v0 carries in ``data``: which proof attempt, which state, which goal of it."""

    session: int
    state: int  # the backend's handle for the state, stable across Dojo restarts (not Lean's state id)
    index: int
    theorem_id: str


@dataclass
class _StateRecord:
    """A tactic state reached in this attempt, and how to reach it again in a fresh Dojo."""

    parent: int | None
    command: str | None  # the Lean command that led from the parent state here
    goals: tuple[str, ...]
    rotations: dict[int, int] = field(default_factory=dict)  # goal index -> handle of the state rotated to it


class _Session:
    """One proof attempt: one theorem, at most one live Dojo at a time, and every state reached so far."""

    def __init__(self, backend: LeanBackend, session_id: int, theorem: Theorem, entry: Any) -> None:
        self.backend = backend
        self.id = session_id
        self.theorem = theorem
        self.entry = entry  # the lean_dojo.Theorem
        self.context: Any = None  # the Dojo object (its __exit__ kills Lean)
        self.dojo: Any = None  # what __enter__ returned (the same Dojo in lean_dojo)
        self.states: list[_StateRecord] = []
        self.live: dict[int, Any] = {}  # handle -> TacticState of the current Dojo
        self.applications = 0  # tactic applications since the current Dojo started
        self.starts = 0
        self.crashes = 0
        self.timeouts = 0

    # -- the Dojo process --------------------------------------------------------------------------------
    def open(self) -> None:
        ld = self.backend.lean_dojo
        if self.starts >= self.backend.max_restarts:
            raise ProverError(f"Lean-v0 started a Dojo {self.starts} times for {self.describe()}; giving up "
                              "(max_restarts)")
        self.starts += 1
        context = None
        try:
            context = self.backend.dojo_factory(self.entry, timeout=self.backend.init_timeout)
            dojo, state = context.__enter__()
        except BaseException as e:
            # lean_dojo raises more than its own errors here (AssertionError for a repo traced by an old
            # LeanDojo, git and tracing errors, ...). A Lean process may already run: end it.
            if context is not None and getattr(context, "proc", None) is not None:
                try:
                    context.__exit__(None, None, None)
                except Exception:  # noqa: BLE001, S110  (best effort: the process may be gone already)
                    pass
            if not isinstance(e, Exception):
                raise  # KeyboardInterrupt and the like, after the clean-up
            if isinstance(e, ld.DojoInitError):
                raise ProverError(f"Lean-v0 could not start a Dojo for {self.describe()}: {e}") from e
            raise ProverError(f"Lean-v0: the Dojo for {self.describe()} failed while starting: "
                              f"{type(e).__name__}: {e}") from e
        self.context, self.dojo = context, dojo
        self.applications = 0
        self.live.clear()
        if not isinstance(state, ld.TacticState):
            self.close()
            raise ProverError(f"Lean-v0: the Dojo for {self.describe()} did not start in tactic mode ({state!r})")
        goals = split_goals(state.pp)
        if not self.states:
            if len(goals) != 1:
                self.close()
                raise ProverError(f"Lean-v0: {self.describe()} starts with {len(goals)} goals; one was expected")
            self.states.append(_StateRecord(None, None, goals))
        elif goals != self.states[0].goals:
            self.close()
            raise ProverError(f"Lean-v0: a restarted Dojo for {self.describe()} shows another initial goal")
        self.live[0] = state

    def close(self) -> None:
        context, self.context, self.dojo = self.context, None, None
        self.live.clear()
        if context is not None:
            try:
                context.__exit__(None, None, None)
            except Exception:  # noqa: BLE001, S110  (a crashed Lean may already be gone; nothing to clean)
                pass

    def describe(self) -> str:
        data = self.theorem.data
        where = f" in {data['file_path']}" if data.get("file_path") else ""
        repo = f" ({data['url']} at {data['commit']})" if data.get("url") else ""
        return f"theorem {data.get('full_name', self.theorem.id)}{where}{repo}"

    # -- states ------------------------------------------------------------------------------------------
    def run(self, state: Any, command: str, timeout: float) -> Any:
        """One Dojo call with its own timeout (lean_dojo's Dojo reads its timeout from its pexpect process)."""
        proc = getattr(self.dojo, "proc", None)
        if proc is not None and hasattr(proc, "timeout"):
            proc.timeout = timeout
        return self.dojo.run_tac(state, command)

    def live_state(self, handle: int) -> Any:
        """The current Dojo's TacticState for ``handle``: a restarted Dojo replays the commands that led to it."""
        if self.dojo is None:
            self.open()
        chain = []
        h: int | None = handle
        while h is not None and h not in self.live:
            chain.append(h)
            h = self.states[h].parent
        ld = self.backend.lean_dojo
        for h in reversed(chain):  # a timeout or crash goes up to apply, which reports it and restarts
            record = self.states[h]
            result = self.run(self.live[record.parent], record.command, self.backend.tactic_timeout)
            if not isinstance(result, ld.TacticState) or split_goals(result.pp) != record.goals:
                raise ProverError(f"replaying {record.command!r} in a fresh Dojo gave another result: "
                                  f"{_describe(result)}")
            self.live[h] = result
        return self.live[handle]

    def add_state(self, parent: int, command: str, state: Any, goals: tuple[str, ...]) -> int:
        self.states.append(_StateRecord(parent, command, goals))
        handle = len(self.states) - 1
        self.live[handle] = state
        return handle

    def focus(self, ref: LeanGoalRef, timeout: float) -> int:
        """The handle of a state whose main goal is ``ref``'s goal (rotating once per state and index)."""
        record = self.states[ref.state]
        if ref.index == 0:
            return ref.state
        if ref.index in record.rotations:
            return record.rotations[ref.index]
        ld = self.backend.lean_dojo
        command = f"rotate_left {ref.index}"
        result = self.run(self.live_state(ref.state), command, timeout)
        expected = record.goals[ref.index:] + record.goals[:ref.index]
        if not isinstance(result, ld.TacticState) or split_goals(result.pp) != expected:
            raise ProverError(f"{command!r} did not bring goal {ref.index} to the front: {_describe(result)}")
        handle = self.add_state(ref.state, command, result, expected)
        record.rotations[ref.index] = handle
        return handle

    # -- one tactic --------------------------------------------------------------------------------------
    def apply(self, ref: LeanGoalRef, tactic: str, timeout: float) -> Outcome:
        backend, ld = self.backend, self.backend.lean_dojo
        t0 = time.perf_counter()
        if backend.restart_every and self.applications >= backend.restart_every:
            self.close()  # restarted, and replayed to the states needed, on first use below
        crashes: list[str] = []
        for _ in range(backend.crash_retries + 1):
            stage = "prepare"
            try:
                handle = self.focus(ref, timeout)
                state = self.live_state(handle)
                command = tactic_command(tactic, len(self.states[handle].goals))
                stage = "tactic"
                self.applications += 1
                result = self.run(state, command, timeout)
            except ld.DojoTacticTimeoutError:
                self.timeouts += 1
                self.close()  # the next tactic gets a fresh Dojo, replayed to its state
                if stage == "tactic":
                    message = f"tactic ran longer than {timeout:.3g} s; the Dojo was restarted"
                else:
                    message = ("reaching the goal's state in the Dojo (replaying earlier tactics, or rotate_left) "
                               "timed out before the tactic ran; the tactic was not tried, and the Dojo was "
                               "restarted")
                return Outcome.timeout(message, time.perf_counter() - t0)
            except ld.DojoCrashError as e:
                self.crashes += 1
                self.close()
                crashes.append(f"{e}" or "DojoCrashError")
                continue
            return self.outcome(handle, command, result, crashes, time.perf_counter() - t0)
        return Outcome.error(f"Lean crashed ({'; '.join(crashes)}) in {len(crashes)} Dojo(s) in a row; the Dojo "
                             "was restarted each time", time.perf_counter() - t0)

    def outcome(self, handle: int, command: str, result: Any, crashes: list[str], elapsed: float) -> Outcome:
        ld = self.backend.lean_dojo
        note = f" (after Lean crashed: {'; '.join(crashes)}; the Dojo was restarted)" if crashes else ""
        if isinstance(result, ld.LeanError):
            return Outcome.error(result.error + note, elapsed)
        if isinstance(result, ld.ProofGivenUp):
            return Outcome.error("Lean: the proof gives up (it uses sorry)" + note, elapsed)
        if isinstance(result, ld.ProofFinished):
            if self.states[handle].goals[1:]:  # they were closed too: assigned through a shared metavariable
                return Outcome.error("the tactic closed other goals as well (it assigned metavariables they share) "
                                     "and finished the proof; Lean-v0 proves goals independently, so this step is "
                                     "refused" + note, elapsed)
            return Outcome.proved(elapsed)
        if not isinstance(result, ld.TacticState):
            return Outcome.error(f"unexpected Dojo result {result!r}", elapsed)
        goals = split_goals(result.pp)
        others = self.states[handle].goals[1:]
        new = len(goals) - len(others)
        if new < 0 or goals[new:] != others:
            return Outcome.error("the tactic changed other goals as well (they share metavariables); Lean-v0 "
                                 "proves goals independently, so this step is refused" + note, elapsed)
        if new == 0:
            return Outcome.proved(elapsed)
        child = self.add_state(handle, command, result, goals)
        return Outcome.ok([Goal(goals[i], data=LeanGoalRef(self.id, child, i, self.theorem.id)) for i in range(new)],
                          elapsed)


def _entry_key(data: Mapping[str, Any]) -> tuple[str, ...]:
    """What identifies a Lean theorem: url, commit, file_path (normalised) and full_name."""
    values = [str(data.get(k) or "") for k in REQUIRED_FIELDS]
    if values[2]:
        values[2] = Path(values[2]).as_posix()
    return tuple(values)


def call_with_time_limit(fn: Callable[..., Any], args: tuple[Any, ...], seconds: float) -> tuple[str, Any]:
    """``fn(*args)`` in a forked child process in its own process group, killed with everything it started
    (``lake``, ``lean``) after ``seconds``: ``("done", bool(result))``, ``("error", message)`` or
    ``("timeout", None)``. lean_dojo's ``check_proof`` has no time limit of its own, and it changes the working
    directory while it runs, so a thread would not do. Where ``fork`` does not exist, ``fn`` runs here, with no
    time limit."""
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        try:
            return "done", bool(fn(*args))
        except Exception as e:  # noqa: BLE001
            return "error", f"{type(e).__name__}: {e}"
    receive, send = ctx.Pipe(duplex=False)

    def child() -> None:
        os.setpgid(0, 0)
        try:
            send.send(("done", bool(fn(*args))))
        except BaseException as e:  # noqa: BLE001  (reported to the parent)
            send.send(("error", f"{type(e).__name__}: {e}"))

    process = ctx.Process(target=child, name="aitp-lean-check-proof", daemon=True)
    process.start()
    send.close()
    try:
        if receive.poll(seconds):
            return receive.recv()
        return "timeout", None
    except EOFError:
        process.join(1)
        return "error", f"the checking process died (exit code {process.exitcode})"
    finally:
        receive.close()
        for kill in (lambda: os.killpg(process.pid, signal.SIGKILL), process.kill):
            try:
                kill()
            except (ProcessLookupError, PermissionError, OSError):
                pass
        process.join(5)


def _describe(result: Any) -> str:
    for attr in ("pp", "error"):
        if hasattr(result, attr):
            return f"{type(result).__name__}: {str(getattr(result, attr))[:300]}"
    return repr(result)[:300]


class LeanBackend:
    """Lean 4 through lean_dojo. Stateless from the caller's side: every goal names its state.

    Theorems come from ``theorems`` (``lean_dojo.Theorem`` objects, or aitp ``Theorem``\\ s whose data has
    url, commit, file_path and full_name; the same list for every split) or from ``benchmark``, a LeanDojo
    Benchmark 4 folder (``variant`` picks ``random`` or ``novel_premises``). Nothing starts Lean before
    ``start``; listing the theorems needs neither Lean nor lean_dojo.

    ``dojo_factory`` is called like ``lean_dojo.Dojo(entry, timeout=...)`` (the default), for example
    ``functools.partial(Dojo, additional_imports=[...])``. ``proof_checker`` is called like
    ``lean_dojo.check_proof(theorem, proof)`` (the default), in a child process killed after ``check_timeout``
    seconds; ``"replay"`` checks proofs by replay in a fresh Dojo only.

    Theorem ids are full names, qualified as ``file_path:full_name`` where a name occurs more than once
    (``unique_ids``); the Dojo entry of a theorem is found by its url, commit, file_path and full_name.
    """

    env_id = ENV_ID

    def __init__(self, theorems: Sequence[Any] | None = None, benchmark: str | Path | None = None,
                 variant: str = "random", corpus: str | Path | None = None,
                 tactic_timeout: float | None = DEFAULT_TACTIC_TIMEOUT, init_timeout: int = DEFAULT_INIT_TIMEOUT,
                 restart_every: int | None = DEFAULT_RESTART_EVERY, crash_retries: int = DEFAULT_CRASH_RETRIES,
                 max_restarts: int = DEFAULT_MAX_RESTARTS, dojo_factory: Callable[..., Any] | None = None,
                 proof_checker: Callable[[Any, str], bool] | str | None = None,
                 check_timeout: float = DEFAULT_CHECK_TIMEOUT,
                 candidate_tactics: Sequence[str] = CANDIDATE_TACTICS) -> None:
        if theorems is not None and benchmark is not None:
            raise ValueError("give Lean-v0 either theorems=[...] or benchmark=DIR, not both")
        for name, value, least in (("restart_every", restart_every, 1), ("crash_retries", crash_retries, 0),
                                   ("max_restarts", max_restarts, 1), ("init_timeout", init_timeout, 1)):
            if value is None and name == "restart_every":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, not {value!r}")
        if isinstance(proof_checker, str) and proof_checker != "replay":
            raise ValueError(f"proof_checker must be a callable, None (lean_dojo.check_proof) or 'replay', "
                             f"not {proof_checker!r}")
        self.tactic_timeout = validate_timeout(tactic_timeout)
        self.check_timeout = validate_seconds(check_timeout, None, "check_timeout")
        self.init_timeout = init_timeout
        self.restart_every = restart_every
        self.crash_retries = crash_retries
        self.max_restarts = max_restarts
        self._dojo_factory = dojo_factory
        self._proof_checker = proof_checker
        self._candidates = list(candidate_tactics)
        self._benchmark = resolve_benchmark(benchmark, variant) if benchmark is not None else None
        self.variant = variant
        self._corpus_path = Path(corpus) if corpus is not None else (
            corpus_path(self._benchmark) if self._benchmark is not None else None)
        self._corpus: PremiseCorpus | None = None
        self._premises: dict[tuple[str, tuple[int, ...] | None], tuple[str, ...]] = {}  # (file, start) -> names
        self._splits: dict[str, tuple[Theorem, ...]] = {}
        # lean_dojo.Theorem objects by (url, commit, file_path, full_name): built on demand, or given by the user
        self._entries: dict[tuple[str, ...], Any] = {}
        self._given_entries: dict[tuple[str, ...], Any] = {}
        self._repos: dict[tuple[str, str], Any] = {}  # (url, commit) -> LeanGitRepo (its constructor asks GitHub)
        self._given: tuple[Theorem, ...] | None = None
        self._given = self._as_theorems(theorems) if theorems is not None else None
        self._session: _Session | None = None
        self._sessions = 0

    # -- pickling: no Lean process travels ------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_session=None, _corpus=None, _premises={}, _repos={}, _entries={})
        return state

    # -- lean_dojo ----------------------------------------------------------------------------------------
    @property
    def lean_dojo(self) -> Any:
        return import_lean_dojo()

    @property
    def dojo_factory(self) -> Callable[..., Any]:
        return self._dojo_factory or self.lean_dojo.Dojo

    @property
    def prover_version(self) -> str:
        """``lean-dojo <version>``, read from the installed package's metadata (no import)."""
        try:
            return f"lean-dojo {importlib.metadata.version('lean-dojo')}"
        except importlib.metadata.PackageNotFoundError:
            return "lean-dojo (not installed)"

    # -- theorems -----------------------------------------------------------------------------------------
    def _as_theorems(self, items: Sequence[Any]) -> tuple[Theorem, ...]:
        """The given theorems, with unique ids: an aitp ``Theorem`` keeps its own, a ``lean_dojo.Theorem`` gets
        its full name, or ``file_path:full_name`` when another given theorem has the same name."""
        theorems = [self._as_theorem(item) for item in items]
        ids = unique_ids([t.data for t in theorems])
        out = tuple(t if isinstance(item, Theorem) else Theorem(theorem_id, t.statement, t.split, t.data)
                    for item, t, theorem_id in zip(items, theorems, ids, strict=True))
        repeated = sorted({t.id for t in out if sum(u.id == t.id for u in out) > 1})
        if repeated:
            raise ValueError(f"Lean-v0 theorems must have different ids; repeated: {repeated}")
        return out

    def _as_theorem(self, item: Any) -> Theorem:
        if isinstance(item, Theorem):
            if not all(item.data.get(k) for k in ("url", "commit", "file_path")):
                raise ValueError(f"theorem {item.id!r}: a Lean-v0 Theorem needs url, commit, file_path and full_name "
                                 "in its data (aitp_gym.envs.lean.theorem_from_record builds one)")
            return theorem_from_record({**item.data, "full_name": item.data.get("full_name") or item.id},
                                       item.split, item.id)
        repo = getattr(item, "repo", None)
        if repo is None or not hasattr(item, "full_name") or not hasattr(item, "file_path"):
            raise TypeError(f"Lean-v0 theorems are lean_dojo.Theorem objects (or aitp_gym Theorems with url, "
                            f"commit, file_path, full_name in data), not {type(item).__name__}")
        theorem = theorem_from_record({"url": str(repo.url), "commit": str(repo.commit),
                                       "file_path": str(item.file_path), "full_name": str(item.full_name)})
        if self._given and any(t.id == theorem.id and _entry_key(t.data) != _entry_key(theorem.data)
                               for t in self._given):
            theorem = Theorem(f"{theorem.data['file_path']}:{theorem.id}", theorem.statement, "", theorem.data)
        self._given_entries[_entry_key(theorem.data)] = item
        return theorem

    def theorems(self, split: str) -> Sequence[Theorem]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        if self._given is not None:
            return self._given
        if self._benchmark is None:
            return ()
        if split not in self._splits:
            self._splits[split] = load_split(self._benchmark, split)
        return self._splits[split]

    def custom_theorem(self, options: Mapping[str, Any]) -> Theorem:
        """``reset(options={"lean_theorem": lean_dojo.Theorem})`` or
        ``reset(options={"url": ..., "commit": ..., "file_path": ..., "full_name": ...})``."""
        if set(options) == {"lean_theorem"}:
            return self._as_theorem(options["lean_theorem"])
        if set(options) == {"url", "commit", "file_path", "full_name"}:
            theorem = theorem_from_record(options)
            if self._given and any(t.id == theorem.id and _entry_key(t.data) != _entry_key(theorem.data)
                                   for t in self._given):
                theorem = Theorem(f"{theorem.data['file_path']}:{theorem.id}", theorem.statement, "", theorem.data)
            return theorem
        raise ValueError("Lean-v0 reset options: {'theorem': id | index | Theorem}, {'lean_theorem': "
                         "lean_dojo.Theorem}, or {'url', 'commit', 'file_path', 'full_name'}; got "
                         f"{sorted(options)}")

    def lean_theorem(self, theorem: Theorem) -> Any:
        """The ``lean_dojo.Theorem`` of ``theorem`` (the one given, or one built and cached), found by url,
        commit, file_path and full_name; a repo is built once per (url, commit)."""
        data = theorem.data
        key = _entry_key(data)
        entry = self._given_entries.get(key) or self._entries.get(key)
        if entry is not None:
            return entry
        missing = [k for k in ("url", "commit", "file_path", "full_name") if not data.get(k)]
        if missing:
            raise ProverError(f"Lean-v0: theorem {theorem.id!r} has no {missing} in its data, so no Dojo can start")
        ld = self.lean_dojo
        repo_key = (data["url"], data["commit"])
        if repo_key not in self._repos:
            try:
                self._repos[repo_key] = ld.LeanGitRepo(data["url"], data["commit"])
            except Exception as e:  # noqa: BLE001  (network and git errors of every kind)
                raise ProverError(f"Lean-v0: cannot open the repository {data['url']} at {data['commit']} for "
                                  f"theorem {data['full_name']}: {type(e).__name__}: {e}") from e
        entry = ld.Theorem(self._repos[repo_key], Path(data["file_path"]), data["full_name"])
        self._entries[key] = entry
        return entry

    def accessible_premises(self, theorem: Theorem) -> tuple[str, ...]:
        """The premises ``theorem`` may use, from the benchmark's ``corpus.jsonl`` (or ``corpus=``); empty
        without a corpus."""
        if self._corpus_path is None:
            return ()
        start = theorem.data.get("start")
        key = (str(theorem.data.get("file_path", "")), tuple(start) if start is not None else None)
        if key not in self._premises:
            if self._corpus is None:
                self._corpus = PremiseCorpus.load(self._corpus_path)
            if len(self._premises) > 64:
                self._premises.clear()
            self._premises[key] = self._corpus.accessible(key[0], start)
        return self._premises[key]

    # -- proving ------------------------------------------------------------------------------------------
    def start(self, theorem: Theorem) -> Goal:
        """Start a Dojo on ``theorem`` (closing the previous attempt's) and return its goal. A Dojo that cannot
        start raises ``ProverError`` naming the theorem."""
        self.close()
        if self._dojo_factory is None:
            require_lake()
        self._sessions += 1
        session = _Session(self, self._sessions, theorem, self.lean_theorem(theorem))
        session.open()
        self._session = session
        (text,) = session.states[0].goals
        return Goal(text, data=LeanGoalRef(session.id, 0, 0, theorem.id))

    @property
    def stats(self) -> dict[str, int]:
        """Dojo starts, crashes and timeouts of the current proof attempt."""
        s = self._session
        return {"starts": s.starts, "crashes": s.crashes, "timeouts": s.timeouts} if s else {}

    def apply(self, goal: Goal, tactic: str, timeout: float | None = None) -> Outcome:
        ref = goal.data
        if not isinstance(ref, LeanGoalRef):
            return Outcome.error("not a Lean-v0 goal")
        session = self._session
        if session is None or session.id != ref.session:
            return Outcome.error(f"this goal belongs to an earlier proof attempt (theorem {ref.theorem_id}); "
                                 "reset the env to prove it again")
        if not isinstance(tactic, str) or not tactic.strip():
            return Outcome.error("a tactic must be a non-empty string")
        if FORBIDDEN_TACTIC.search(tactic):
            return Outcome.error("sorry, admit and sorryAx close goals without proving them; Lean-v0 refuses them")
        limit = self.tactic_timeout if timeout is None else float(timeout)
        if not limit >= MIN_TACTIC_TIMEOUT:  # NaN too
            return Outcome.timeout(f"only {max(limit, 0.0):.3g} s of the time budget left (less than "
                                   f"{MIN_TACTIC_TIMEOUT} s); the tactic was not sent to Lean")
        return session.apply(ref, tactic, limit)

    def check(self, theorem: Theorem, proof: ProofStep) -> tuple[bool, str]:
        """Check ``proof`` with lean_dojo's ``check_proof`` (in a child process, at most ``check_timeout``
        seconds). When it cannot run, does not finish, or returns False, the proof is replayed as one script in
        a fresh Dojo instead, and the message says so: check_proof's False does not tell a wrong proof (an
        error or ``sorry`` in it) from a Lean that failed for another reason (the rest of the file, memory)."""
        if FORBIDDEN_TACTIC.search("\n".join(proof.tactics())):
            return False, "the proof uses sorry, admit or sorryAx"
        script = proof_script(proof)
        checker = self._proof_checker
        if checker == "replay":
            return self._check_by_replay(theorem, proof)
        if checker is None:
            checker = self.lean_dojo.check_proof
        try:
            entry = self.lean_theorem(theorem)
        except ProverError as e:
            return False, str(e)
        status, value = call_with_time_limit(checker, (entry, " by\n" + _indent(script, "  ")), self.check_timeout)
        if status == "done" and value:
            return True, ""
        if status == "done":
            why = ("lean_dojo.check_proof returned False (a `sorry` warning in the proof, or Lean exited with an "
                   "error: in the proof, or elsewhere in the file, or Lean itself failed)")
        elif status == "timeout":
            why = f"lean_dojo.check_proof did not finish within {self.check_timeout:g} s (check_timeout; stopped)"
        else:
            why = f"lean_dojo.check_proof could not run ({value})"
        ok, message = self._check_by_replay(theorem, proof)
        verdict = "accepted it" if ok else f"rejected it: {message}"
        return ok, f"{why}; checked by replay in a fresh Dojo instead, which {verdict}"

    def _check_by_replay(self, theorem: Theorem, proof: ProofStep) -> tuple[bool, str]:
        """Run the whole proof script as one tactic block (under ``focus``) from the theorem's start state in a
        fresh Dojo (another Lean process), and require ``ProofFinished``. Lean's REPL kernel-checks the proof
        (and refuses ``sorry``) only when a state has no goals left, which replaying goal by goal never
        reaches for a proof that branches."""
        ld = self.lean_dojo
        command = focused_command(proof_script(proof))
        limit = self.tactic_timeout * max(1, len(proof.tactics()))
        fresh = None
        try:
            fresh = LeanBackend(
                [self.lean_theorem(theorem)], tactic_timeout=self.tactic_timeout, init_timeout=self.init_timeout,
                restart_every=None, crash_retries=0, max_restarts=1, dojo_factory=self._dojo_factory,
                proof_checker="replay")
            (fresh_theorem,) = fresh.theorems("test")
            fresh.start(fresh_theorem)
            session = fresh._session
            assert session is not None
            result = session.run(session.live[0], command, limit)
        except ld.DojoTacticTimeoutError:
            return False, f"the proof did not finish within {limit:g} s in a fresh Dojo"
        except ld.DojoCrashError as e:
            return False, f"Lean crashed running the proof in a fresh Dojo: {e or 'DojoCrashError'}"
        except ProverError as e:
            return False, str(e)
        finally:
            if fresh is not None:
                fresh.close()
        if isinstance(result, ld.ProofFinished):
            return True, ""
        if isinstance(result, ld.TacticState):
            return False, (f"the proof, run as one script in a fresh Dojo, leaves {len(split_goals(result.pp))} "
                           f"goal(s) open: {_describe(result)}")
        if isinstance(result, ld.ProofGivenUp):
            return False, "the proof, run as one script in a fresh Dojo, gives up (it uses sorry)"
        return False, f"the proof, run as one script in a fresh Dojo, failed: {_describe(result)}"

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def candidate_tactics(self, goal: Goal) -> list[str]:
        """Core Lean 4 tactics that need no arguments (``CANDIDATE_TACTICS``): a model-free baseline."""
        return list(self._candidates)


