"""Fidelity of HOList-v0 against HOL Light's own proofs (issue 13).

HOL Light's core sources prove most theorems with ``let NAME = prove(`GOAL`, TAC)``. Two kinds of
``TAC`` are replayed through the env, as a user would:

* a **single tactic** that the grammar accepts: ``env.reset(options={"theorem": NAME})`` then
  ``env.step(TAC)``; it should prove the theorem;
* a **THEN chain of atomic tactics** (``T1 THEN T2 THEN ...``, where no part uses another tactical
  or a function): each ``Ti`` is applied through ``env.unwrapped.expand`` to every goal that the
  previous one left, as ``THEN`` does; the chain should close every goal.

Only proofs of the theorem that the database holds count: a proof of a name that the sources bind
again later (the database keeps the last binding) is skipped, and so is a name the database lacks,
and a proof that uses a theorem which the sources bind again after it (the database has only the
later binding, so the rule "premises come before the theorem" rightly refuses it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aitp_gym.envs.holist.grammar import TacticSyntaxError, parse_tactic
from aitp_gym.envs.holist.sources import SourceProof, core_files, names_in, phrases, source_proofs, split_top

# Words that make a part of a THEN chain non-atomic: tacticals and tactics that take tactics or functions.
NOT_ATOMIC = frozenset({
    "THEN", "THENL", "ORELSE", "REPEAT", "EVERY", "FIRST", "MAP_EVERY", "TRY", "fun", "function", "let", "in",
    "DISCH_THEN", "FIRST_ASSUM", "FIRST_X_ASSUM", "POP_ASSUM", "POP_ASSUM_LIST", "ASSUM_LIST", "X_CHOOSE_THEN",
    "CHOOSE_THEN", "CONJUNCTS_THEN", "CONJUNCTS_THEN2", "DISJ_CASES_THEN", "DISJ_CASES_THEN2", "STRIP_GOAL_THEN",
    "SUBGOAL_THEN", "UNDISCH_THEN", "REMOVE_THEN", "USE_THEN", "LABEL_TAC", "RULE_ASSUM_TAC", "HYP_TAC",
    "ANTS_TAC_THEN", "STRIP_THM_THEN", "REPEAT_TCL", "THEN_TCL", "ORELSE_TCL", "MAP_FIRST", "REPLICATE_TAC",
    "W", "o", "CHANGED_TAC", "VALID", "EVERY_ASSUM", "FIND_ASSUM", "HYP", "ASM", "ON_CONCL",
    "TRANS_TAC_THEN", "SUBGOAL_TAC", "CLAIM_TAC", "INTRO_TAC", "DESTRUCT_TAC", "FIX_TAC", "EXISTS_TAC_THEN",
})
_WORD = re.compile(r"[A-Za-z_][\w']*")
_BOUND = re.compile(r"\b(?:let|and)\s+(?:rec\s+)?\(?((?:[A-Za-z_][\w']*\s*,\s*)*[A-Za-z_][\w']*)\s*\)?\s*(?::[^=]*)?=")


def last_bindings(hol_dir: Any = None) -> dict[str, tuple[int, int]]:
    """For each toplevel name, where the sources bind it last: (file number in load order, phrase number)."""
    out: dict[str, tuple[int, int]] = {}
    for f, path in enumerate(core_files() if hol_dir is None else core_files(hol_dir)):
        for k, phrase in enumerate(phrases(path.read_text(errors="replace"))):
            m = _BOUND.match(phrase)
            if m:
                for name in m.group(1).split(","):
                    out[name.strip()] = (f, k)
    return out


def is_atomic(part: str) -> bool:
    text = re.sub(r"`[^`]*`|\"(?:[^\"\\]|\\.)*\"", " ", part)
    return bool(part) and not (set(_WORD.findall(text)) & NOT_ATOMIC)


def parses(tactic: str) -> bool:
    try:
        parse_tactic(tactic)
        return True
    except TacticSyntaxError:
        return False


@dataclass
class Replay:
    proof: SourceProof
    kind: str  # "single" or "chain"
    proved: bool
    message: str = ""
    seconds: float = 0.0


@dataclass
class FidelityReport:
    single: list[Replay] = field(default_factory=list)
    chains: list[Replay] = field(default_factory=list)
    single_outside: int = 0  # single-tactic proofs the grammar does not cover
    atomic_chains: int = 0  # THEN chains of atomic tactics (inside the grammar or not)
    skipped: dict[str, int] = field(default_factory=dict)

    def misses(self, kind: str = "single") -> list[Replay]:
        return [r for r in (self.single if kind == "single" else self.chains) if not r.proved]

    def summary(self) -> str:
        s_ok = sum(r.proved for r in self.single)
        c_ok = sum(r.proved for r in self.chains)
        lines = [f"single tactics: {s_ok}/{len(self.single)} proved ({100 * s_ok / max(1, len(self.single)):.1f} %); "
                 f"{self.single_outside} single-tactic proofs outside the grammar",
                 f"THEN chains of atomic tactics: {len(self.chains)}/{self.atomic_chains} inside the grammar "
                 f"({100 * len(self.chains) / max(1, self.atomic_chains):.1f} %), {c_ok}/{len(self.chains)} proved "
                 f"({100 * c_ok / max(1, len(self.chains)):.1f} %)",
                 f"skipped: {self.skipped}"]
        for r in self.misses("single") + self.misses("chain"):
            lines.append(f"  miss ({r.kind}) {r.proof.file} {r.proof.name}: {r.proof.tactic[:100]} -> "
                         f"{r.message[:160]}")
        return "\n".join(lines)


def select(database: Any, proofs: Iterable[SourceProof] | None = None) -> tuple[list, list, FidelityReport]:
    """Split the core's proofs into single tactics and atomic THEN chains inside the grammar."""
    report = FidelityReport()
    last = last_bindings()
    rank = {path.name: f for f, path in enumerate(core_files())}
    proofs = list(source_proofs() if proofs is None else proofs)
    singles, chains = [], []
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for p in proofs:
        here = (rank.get(p.file, -1), p.phrase)
        if database.index_of(p.name) is None:
            skip("not in the database")
            continue
        if last.get(p.name) != here:
            skip("proves a name that the sources bind again later (the database holds the later theorem)")
            continue
        if any(last.get(n, here) > here for n in names_in(p.tactic) if database.index_of(n) is not None):
            skip("uses a theorem that the sources bind again later, after this proof")
            continue
        parts = split_top(p.tactic, "THEN")
        if len(parts) == 1:
            if parses(parts[0]):
                singles.append(p)
            else:
                report.single_outside += 1
        elif all(is_atomic(x) for x in parts):
            report.atomic_chains += 1
            if all(parses(x) for x in parts):
                chains.append(p)
    report.skipped = skipped
    return singles, chains, report


def replay_single(env: Any, proof: SourceProof) -> Replay:
    t0 = time.perf_counter()
    env.reset(options={"theorem": proof.name})
    _, reward, terminated, _, info = env.step(proof.tactic)
    ok = bool(terminated and reward > 0)
    message = "" if ok else str(info.get("error") or info.get("message") or "goals remain")
    return Replay(proof, "single", ok, message, time.perf_counter() - t0)


def replay_chain(env: Any, proof: SourceProof) -> Replay:
    t0 = time.perf_counter()
    env.reset(options={"theorem": proof.name})
    base = env.unwrapped
    goals = [base.tree.root]
    for k, tactic in enumerate(split_top(proof.tactic, "THEN")):
        following = []
        for node in goals:
            if not node.is_open:
                continue
            edge = base.expand(node, tactic)
            if edge.is_error:
                return Replay(proof, "chain", False, f"step {k + 1} ({tactic}): {edge.message}",
                              time.perf_counter() - t0)
            following.extend(edge.children)
        goals = following
    open_goals = [g for g in goals if g.is_open]
    ok = not open_goals and base.tree.proved
    message = "" if ok else f"{len(open_goals)} goal(s) left, e.g. {open_goals[0].goal.text[:120]!r}" if open_goals \
        else "not proved"
    return Replay(proof, "chain", ok, message, time.perf_counter() - t0)


def run(env: Any, database: Any, limit: int | None = None) -> FidelityReport:
    singles, chains, report = select(database)
    for p in singles[:limit]:
        report.single.append(replay_single(env, p))
    for p in chains[:limit]:
        report.chains.append(replay_chain(env, p))
    return report
