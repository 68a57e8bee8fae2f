"""A test double of ``lean_dojo.Dojo``, for unit tests of Lean-v0 on machines without Lean.

``DojoTestDouble`` is not Lean: it plays a scripted ``LeanWorld`` (goal text → tactic → effect) and
interprets only the goal-handling commands the backend sends (``rotate_left n``, ``focus``, ``all_goals``,
tactic sequences one per line and ``·`` bullets) the way Lean does. As Lean's REPL does, it parses a
request as one tactic (a bare multi-line sequence is a parse error), and it validates a proof only when no
goals are left: only then can it answer ``ProofFinished``, or refuse the proof (``kernel_rejects``). It
returns lean_dojo's own result types (``TacticState``, ``ProofFinished``, ``LeanError``, ``ProofGivenUp``)
and raises lean_dojo's own exceptions (``DojoInitError``, ``DojoCrashError``, ``DojoTacticTimeoutError``),
and it reproduces the known faults of the real one: after a tactic timeout every later tactic of that Dojo
times out, after a crash the process is gone, and state ids of one Dojo are unknown to another.
``tests/envs/lean/test_lean_backend.py`` checks that its public methods have the signatures of the installed
``lean_dojo.Dojo``.

The end of the file holds the scripted world the Lean-v0 tests share: two theorems of yangky11/lean4-example
(``make_world``, ``THEOREMS``) and a tiny LeanDojo Benchmark 4 folder (``write_benchmark``).

It is a test fixture only: nothing in the package refers to it.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lean_dojo
from lean_dojo import (
    DojoCrashError,
    DojoInitError,
    DojoTacticTimeoutError,
    LeanError,
    ProofFinished,
    ProofGivenUp,
    TacticState,
)


@dataclass(frozen=True)
class LeanGitRepoTestDouble:
    """Stands in for ``lean_dojo.LeanGitRepo``, whose constructor asks GitHub about the repository."""

    url: str
    commit: str


@dataclass(frozen=True)
class Slow:
    """A tactic that takes ``seconds``: past the Dojo's timeout it raises DojoTacticTimeoutError."""

    seconds: float
    then: Any = None


@dataclass(frozen=True)
class Crash:
    """Lean dies (``Unexpected EOF``, as with ``congr 1``). ``times``: how many runs crash before it works."""

    times: float = float("inf")
    then: Any = None


@dataclass(frozen=True)
class Assigns:
    """Subgoals for the goal, and other goals rewritten (a metavariable they share was assigned); a goal
    rewritten to ``None`` is solved by the assignment, and disappears."""

    subgoals: tuple[str, ...]
    rewrites: dict[str, str]


@dataclass
class LeanWorld:
    """What the double knows: the root goal of each theorem (by full name) and what each tactic does to
    each goal. An effect is a list of subgoals (``[]`` closes the goal), a ``LeanError`` or ``ProofGivenUp``
    to return, or ``Slow``, ``Crash`` or ``Assigns``. Anything else is a LeanError."""

    roots: dict[str, str]
    rules: dict[str, dict[str, Any]]
    init_errors: dict[str, str] = field(default_factory=dict)
    # full name -> what ``__enter__`` raises after Lean started (lean_dojo raises AssertionError and others)
    start_faults: dict[str, BaseException] = field(default_factory=dict)
    # full names whose finished proofs Lean refuses at the final check (as a kernel type check failure)
    kernel_rejects: set[str] = field(default_factory=set)
    log: list[tuple[Any, ...]] = field(default_factory=list)  # ("start", name), ("run", command), ("exit",)
    crashes_so_far: dict[tuple[str, str], int] = field(default_factory=dict)
    open_dojos: int = 0

    def commands(self) -> list[str]:
        return [e[1] for e in self.log if e[0] == "run"]

    def starts(self) -> int:
        return sum(e[0] == "start" for e in self.log)


_serials = itertools.count(1)


class DojoTestDouble:
    """Test double of ``lean_dojo.Dojo`` (same public methods and signatures) over a ``LeanWorld``.

    Use ``DojoTestDouble.over(world)``: a subclass bound to ``world``, called like ``Dojo(entry, timeout=...)``.
    """

    world: LeanWorld

    @classmethod
    def over(cls, world: LeanWorld) -> type[DojoTestDouble]:
        return type("DojoTestDouble", (cls,), {"world": world})

    # ``additional_imports=[]`` mirrors lean_dojo.Dojo's signature exactly (the list is never mutated)
    def __init__(self, entry, timeout=600, additional_imports=[], build_deps=True):  # noqa: B006
        self.entry = entry
        self.timeout = timeout
        self.additional_imports = additional_imports
        self.build_deps = build_deps
        self._states: dict[int, tuple[str, ...]] = {}
        self._ids = itertools.count(next(_serials) * 100_000)
        self._alive = False
        self._timed_out = False
        self._assigned: dict[str, str] = {}  # goals changed by the last tactic's metavariable assignments

    def __enter__(self):
        world = self.world
        name = self.entry.full_name
        world.log.append(("start", name))
        if name in world.init_errors:
            raise DojoInitError(world.init_errors[name])
        # a root may be given for one file ("file_path:full_name") or for the name in any file
        root = world.roots.get(f"{Path(self.entry.file_path).as_posix()}:{name}", world.roots.get(name))
        if root is None:
            raise DojoInitError(f"Failed to locate the theorem with `{name}` as its fully qualified name.")
        self.proc = SimpleNamespace(timeout=self.timeout)  # lean_dojo's is a pexpect.spawn
        self._alive = True
        world.open_dojos += 1
        if name in world.start_faults:  # Lean runs, and then lean_dojo fails (no __exit__: the caller's job)
            raise world.start_faults[name]
        return self, self._state((root,))

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.world.log.append(("exit",))
        if self._alive:
            self.world.open_dojos -= 1
        self._alive = False

    def run_tac(self, state, tactic):
        if not isinstance(state, TacticState):
            raise RuntimeError(f"Attempting to run a tactic on an invalid state {state}.")
        assert isinstance(tactic, str), f"Invalid tactic {tactic}"
        self.world.log.append(("run", tactic))
        if not self._alive:
            raise DojoCrashError("Unexpected exit code: 1")
        if self._timed_out:  # as lean_dojo's: once timed out, the process never answers again
            raise DojoTacticTimeoutError()
        if state.id not in self._states:  # the real REPL dies on an unknown state id
            self._die()
            raise DojoCrashError("Unexpected EOF")
        goals = list(self._states[state.id])
        self._assigned = {}
        if len(_sequence(tactic)) != 1:  # the REPL parses the request as one tactic
            return LeanError("<stdin>:2:0: unexpected token; expected end of input")
        result = self._run(goals, tactic)
        if isinstance(result, (LeanError, ProofGivenUp)):
            return result
        # focus hides goals, not their metavariables; a goal assigned to None was solved by the assignment
        result = [self._assigned.get(g, g) for g in result]
        result = [g for g in result if g is not None]
        if not result:  # only now does Lean validate the proof (kernel check, sorry)
            if self.entry.full_name in self.world.kernel_rejects:
                return LeanError("kernel type check failed: (kernel) declaration has metavariables (test double)")
            return ProofFinished(next(self._ids), None)
        return self._state(tuple(result))

    # -- the interpreter -----------------------------------------------------------------------------------
    def _state(self, goals: tuple[str, ...]) -> TacticState:
        sid = next(self._ids)
        self._states[sid] = goals
        return TacticState("\n\n".join(goals), sid)

    def _die(self) -> None:
        self._alive = False
        self.world.open_dojos -= 1

    def _run(self, goals: list[str], tactic: str) -> Any:
        """The goals after ``tactic`` (a list), or a LeanError / ProofGivenUp."""
        items = _sequence(tactic)
        if len(items) > 1:  # a tactic sequence: one after the other
            for item in items:
                goals = self._run(goals, item)
                if not isinstance(goals, list):
                    return goals
            return goals
        tactic = items[0] if items else tactic
        if tactic.startswith("·"):  # a bullet: focus on the main goal, which the block must close
            if not goals:
                return LeanError("no goals to be proved")
            result = self._run(goals[:1], textwrap.dedent(" " + tactic[1:]))
            if not isinstance(result, list):
                return result
            if result:
                return LeanError("unsolved goals\n" + "\n\n".join(result))
            return goals[1:]
        if tactic.startswith("rotate_left"):
            n = int(tactic.split()[1]) if len(tactic.split()) > 1 else 1
            n %= max(1, len(goals))
            return goals[n:] + goals[:n]
        if tactic.startswith("focus\n"):
            inner = textwrap.dedent(tactic[len("focus\n"):])
            result = self._run(goals[:1], inner)
            return result if not isinstance(result, list) else result + goals[1:]
        if tactic.startswith("all_goals "):
            out: list[str] = []
            for g in goals:
                result = self._run([g], tactic[len("all_goals "):])
                if not isinstance(result, list):
                    return result
                out += result
            return out
        if not goals:
            return LeanError("no goals to be proved")
        return self._effect(goals, tactic, self.world.rules.get(goals[0], {}).get(tactic))

    def _effect(self, goals: list[str], tactic: str, effect: Any) -> Any:
        if isinstance(effect, Slow):
            if effect.seconds > self.proc.timeout:
                self._timed_out = True
                raise DojoTacticTimeoutError()
            return self._effect(goals, tactic, effect.then)
        if isinstance(effect, Crash):
            key = (goals[0], tactic)
            done = self.world.crashes_so_far.get(key, 0)
            if done < effect.times:
                self.world.crashes_so_far[key] = done + 1
                self._die()
                raise DojoCrashError("Unexpected EOF")
            return self._effect(goals, tactic, effect.then)
        if isinstance(effect, Assigns):
            self._assigned.update(effect.rewrites)
            return list(effect.subgoals) + goals[1:]
        if isinstance(effect, (LeanError, ProofGivenUp)):
            return effect
        if isinstance(effect, (list, tuple)):
            return list(effect) + goals[1:]
        return LeanError(f"<stdin>:1:0: unknown tactic {tactic!r} here (test double)")


def _sequence(text: str) -> list[str]:
    """The tactics of a tactic sequence, one per line at the block's indentation: a more indented line, or
    one starting with ``|`` (an alternative of ``induction ... with``), continues the tactic before it."""
    items: list[str] = []
    for line in textwrap.dedent(text.strip("\n")).splitlines():
        if items and (not line.strip() or line[0].isspace() or line.startswith("|")):
            items[-1] += "\n" + line
        elif line.strip():
            items.append(line)
    return [item.rstrip() for item in items]


# -- the scripted world of the Lean-v0 tests ----------------------------------------------------------------
AND_INTRO = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
LEFT = "case left\np q : Prop\nhp : p\nhq : q\n⊢ p"
RIGHT = "case right\np q : Prop\nhp : p\nhq : q\n⊢ q"
RIGHT_ASSIGNED = "case right\np q : Prop\nhp : p\nhq : q\n⊢ q ∧ True"
NAT = "n : ℕ\n⊢ n + 0 = n"
ZERO = "case zero\n⊢ 0 + 0 = 0"
SUCC = "case succ\nn : ℕ\nih : n + 0 = n\n⊢ n + 1 + 0 = n + 1"
REPO = LeanGitRepoTestDouble("https://github.com/yangky11/lean4-example", "3f5ff8e6a9d4b9b2b7e4b8e3c0c1c4f1b2a3d4e5")


def make_world() -> LeanWorld:
    """``and_intro`` (``p ∧ q``) and ``add_zero`` (``n + 0 = n``), with tactics that work, fail, time out, crash
    and change other goals."""
    return LeanWorld(
        roots={"and_intro": AND_INTRO, "add_zero": NAT},
        rules={
            AND_INTRO: {"constructor": [LEFT, RIGHT], "exact ⟨hp, hq⟩": [], "slow": Slow(30, []),
                        "quick": Slow(3, []), "congr 1": Crash(), "flaky": Crash(times=1, then=[LEFT]),
                        "give up": ProofGivenUp(), "exact h": LeanError("unknown identifier 'h'")},
            LEFT: {"assumption": [], "exact hp": [], "witness": Assigns((), {RIGHT: RIGHT_ASSIGNED}),
                   "solve both": Assigns((), {RIGHT: None})},
            RIGHT: {"assumption": [], "exact hq": []},
            NAT: {"simp": [], "induction n": [ZERO, SUCC]},
            ZERO: {"rfl": []},
            SUCC: {"omega": []},
        },
        init_errors={"broken": "Cannot interact with theorems with the `where` keyword."},
    )


def lean_theorem(name: str) -> lean_dojo.Theorem:
    return lean_dojo.Theorem(REPO, Path("Lean4Example.lean"), name)


THEOREMS = [lean_theorem("and_intro"), lean_theorem("add_zero")]


def write_benchmark(root: Path) -> Path:
    """A tiny LeanDojo Benchmark 4 folder: random/{train,val,test}.json and corpus.jsonl."""
    def record(name, file_path, start, tactics=()):
        return {"url": REPO.url, "commit": REPO.commit, "file_path": file_path, "full_name": name,
                "start": start, "end": [start[0] + 2, 0],
                "traced_tactics": [{"tactic": t, "state_before": AND_INTRO if name == "and_intro" else NAT,
                                    "state_after": "no goals", "annotated_tactic": [t, []]} for t in tactics]}

    (root / "random").mkdir(parents=True)
    splits = {"train": [record("add_zero", "Lean4Example/Basic.lean", [10, 0], ["simp"])],
              "val": [],
              "test": [record("and_intro", "Lean4Example.lean", [20, 0], ["exact ⟨hp, hq⟩"]),
                       record("add_zero", "Lean4Example/Basic.lean", [10, 0])]}
    for name, records in splits.items():
        (root / "random" / f"{name}.json").write_text(json.dumps(records), encoding="utf-8")
    corpus = [
        {"path": "Init/Core.lean", "imports": [], "premises": [{"full_name": "And.intro", "start": [1, 0],
                                                                "end": [1, 40], "kind": "commonNamed"}]},
        {"path": "Lean4Example/Basic.lean", "imports": ["Init/Core.lean"],
         "premises": [{"full_name": "Basic.helper", "start": [3, 0], "end": [5, 0]}]},
        {"path": "Lean4Example.lean", "imports": ["Lean4Example/Basic.lean"],
         "premises": [{"full_name": "before_it", "start": [2, 0], "end": [8, 10]},
                      {"full_name": "after_it", "start": [30, 0], "end": [31, 0]}]},
        {"path": "Unrelated.lean", "imports": [], "premises": [{"full_name": "unrelated", "start": [1, 0],
                                                                "end": [2, 0]}]},
    ]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n", encoding="utf-8")
    return root
