"""A TacticToe-style policy for HOList-v0: propose what humans did on the most similar goals.

TacticToe (Gauthier et al.) proves much of HOL4's library on one CPU by recording every tactic of the library's
human proofs with the goal it was applied to, and proposing, for a new goal, the tactics of the most similar
recorded goals, with premises predicted by k-nearest-neighbour premise selection. This is that policy on
HOList-v0, with HOL Light's own core proofs as the memory (``envs/holist/proof_logs.py``) and the proofs the loop
finds added to it by the ``knn`` learner.

For a goal (its theorem at position ``i`` in the database's load order):

1. **Neighbours.** TF-IDF over goal tokens (identifiers, numerals and symbol runs of hypotheses and conclusion),
   cosine similarity against every remembered goal; the ``neighbours`` most similar ones vote, each with its
   similarity.
2. **Tactics as recorded.** A neighbour's tactic is proposed as it is when every theorem it names comes before
   ``i`` (the HOList rule) and its assumption numbers exist here; its score is the sum of its voters'
   similarities.
3. **Tactics adapted.** A neighbour's tactic that takes theorems (``REWRITE_TAC [...]``, ``MATCH_MP_TAC A`` ...)
   also votes for its *tactic name*, which is proposed with this goal's premises: the theorem list (or the best
   one or two theorems) chosen by k-NN premise selection, the theorems the neighbours used, weighted by
   similarity, blended with the TF-IDF similarity of the theorem statements to the goal (``premise_blend``), and
   only among the theorems allowed before ``i``. Adapted candidates score ``adapted_weight`` times their votes.
4. **The baseline's structural tactics** (the backend's model-free candidates: ``ARITH_TAC``, ``CONJ_TAC``,
   ``STRIP_TAC``, rewriting and MESON with the TF-IDF premises...) fill in below, at ``baseline_weight`` each, so
   that a goal no neighbour resembles still gets the baseline's proposals.

Log-probabilities are the log of each candidate's share of the total score. The memory is plain data (goal text,
tactic), saved as one gzipped JSON file; nothing here needs torch, and proposing takes about a millisecond.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aitp_gym.agents.models import MODEL_FILE, read_model_file, write_model_file
from aitp_gym.envs.holist.backend import _TOKENS, HOLGoal, HOListBackend
from aitp_gym.envs.holist.grammar import INT, TACTICS, THM, THMS, TacticCall, TacticSyntaxError, parse_tactic

MEMORY_FILE = "knn_memory.json.gz"


@dataclass
class KNNSettings:
    num_candidates: int = 8
    """Candidates proposed per goal when the planner does not say (``k``)."""
    neighbours: int = 24
    """Remembered goals that vote."""
    premises: int = 4
    """Theorems in an adapted theorem list."""
    premise_lists: int = 1
    """Adapted theorem lists per tactic name: the best ``premises`` theorems, then (at half the score each time) the
    next ``premises``, and so on."""
    premise_blend: float = 0.5
    """Weight of the neighbours' premises against the TF-IDF premise similarity (0: TF-IDF only, 1: k-NN only)."""
    adapted_weight: float = 0.6
    """An adapted candidate's score, as a fraction of its tactic name's votes."""
    drop_equivalent: bool = True
    """Leave out a structural tactic that does exactly what another proposed one does on this goal's conclusion
    (``GEN_TAC`` beside ``STRIP_TAC`` on a universal, ``CONJ_TAC`` beside it on a conjunction): the slot goes to the
    next candidate."""
    baseline_weight: float = 0.25
    """The score of each of the baseline's candidates (added to any votes for the same string), on the scale where
    the best-voted neighbour tactic scores 1."""


class TfIdf:
    """TF-IDF vectors of token bags as an inverted index: ``scores(tokens)`` is the cosine similarity to every
    document (documents are added in batches; the weights are recomputed on ``build``)."""

    def __init__(self) -> None:
        self.docs: list[Counter] = []
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
        self._idf: dict[str, float] = {}

    def add(self, docs: Iterable[Counter]) -> None:
        self.docs.extend(docs)
        self._postings = None

    def build(self) -> None:
        n = len(self.docs)
        df = Counter(tok for d in self.docs for tok in d)
        self._idf = {tok: math.log((1 + n) / (1 + c)) + 1.0 for tok, c in df.items()}
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for i, d in enumerate(self.docs):
            weights = {tok: (1 + math.log(c)) * self._idf[tok] for tok, c in d.items()}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for tok, w in weights.items():
                ids, ws = postings[tok]
                ids.append(i)
                ws.append(w / norm)
        self._postings = {tok: (np.asarray(i), np.asarray(w)) for tok, (i, w) in postings.items()}

    def scores(self, bag: Counter) -> np.ndarray:
        if self._postings is None:
            self.build()
        out = np.zeros(len(self.docs))
        q = {tok: (1 + math.log(c)) * self._idf[tok] for tok, c in bag.items() if tok in self._postings}
        norm = math.sqrt(sum(w * w for w in q.values())) or 1.0
        for tok, w in q.items():
            idx, ws = self._postings[tok]
            out[idx] += ws * (w / norm)
        return out


def goal_tokens(text: str) -> Counter:
    """A goal's bag of tokens: conclusion tokens, and hypothesis tokens tagged ``h:``."""
    *hyps, concl = text.split("\n")
    bag = Counter(_TOKENS.findall(concl))
    for h in hyps:
        bag.update("h:" + t for t in _TOKENS.findall(h))
    return bag


@dataclass(frozen=True)
class _Entry:
    """A remembered tactic, parsed once."""

    tactic: str
    name: str  # the tactic's name (REWRITE_TAC ...)
    theorems: tuple[str, ...]  # every database theorem it names
    max_assumption: int  # its largest assumption number (RAW_POP_TAC n), -1 if none
    adaptable: str | None  # THM or THMS: the argument kind premise selection can fill
    hypothesis: str | None = None  # the assumption UNDISCH_TAC names: proposed only where the goal has it


def _entry(tactic: str) -> _Entry | None:
    try:
        call: TacticCall = parse_tactic(tactic)
    except TacticSyntaxError:
        return None
    params = TACTICS[call.name]
    ints = [a for k, a in zip(params, call.args, strict=True) if k == INT]
    adaptable = params[0] if params in ((THM,), (THMS,)) else None
    hypothesis = call.args[0] if call.name == "UNDISCH_TAC" else None
    return _Entry(str(call), call.name, tuple(call.theorem_names()), max(ints, default=-1), adaptable, hypothesis)


# Tactics that fail unless the conclusion's head is one of these (HOL Light's definitions: STRIP_TAC is GEN_TAC,
# CONJ_TAC or DISCH_THEN, and DISCH_TAC takes ~p as p ==> F): not worth one of the k slots elsewhere.
_NEEDS = {
    "GEN_TAC": ("!",), "X_GEN_TAC": ("!",), "INDUCT_TAC": ("!",), "LIST_INDUCT_TAC": ("!",),
    "CONJ_TAC": ("/\\",), "DISJ1_TAC": ("\\/",), "DISJ2_TAC": ("\\/",), "EXISTS_TAC": ("?",), "EQ_TAC": ("=",),
    "DISCH_TAC": ("==>", "~"), "STRIP_TAC": ("!", "==>", "/\\", "~"),
}


_TYPES = {"real": re.compile(r'\("real"\)'), "int": re.compile(r'\("int"\)')}
_PREFIX = {"real": "REAL_", "int": "INT_"}
_NAME = re.compile(r"\b(REAL|INT)_[A-Z0-9_']+|\b(?:ASM_)?(?:REAL|INT)_ARITH_TAC\b")


def _numeric_type(sexp: str) -> str | None:
    """``real`` or ``int`` when the goal's terms are of that type (more of it than of the other), else None."""
    counts = {name: len(p.findall(sexp)) for name, p in _TYPES.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 and counts[best] > min(counts.values()) else None


def _retype(tactic: str, numeric: str, allowed: Any) -> str | None:
    """A neighbour's tactic for the other numeric type, moved to this goal's: ``REAL_ARITH_TAC`` becomes
    ``INT_ARITH_TAC`` on an int goal, and ``REAL_LE_TRANS`` becomes ``INT_LE_TRANS``. A moved theorem that does not
    exist or does not come before this one is left out of a theorem list, and drops a tactic that needs it alone.
    Tactics of this goal's type, or of neither, are kept as they are."""
    other = "int" if numeric == "real" else "real"
    if _PREFIX[other] not in tactic:
        return tactic

    def swap(m: re.Match) -> str:
        word = m.group(0)
        if word.endswith("ARITH_TAC"):
            return word.replace(_PREFIX[other].rstrip("_"), _PREFIX[numeric].rstrip("_"))
        return _PREFIX[numeric] + word[len(_PREFIX[other]):] if word.startswith(_PREFIX[other]) else word

    moved = _NAME.sub(swap, tactic)
    try:
        call = parse_tactic(moved)
    except TacticSyntaxError:
        return None
    if all(allowed(n) for n in call.theorem_names()):
        return moved
    params = TACTICS[call.name]
    if params != (THMS,):
        return None
    kept = [a for a in call.args[0] if all(allowed(n) for n in _names(a))]
    return str(TacticCall(call.name, (tuple(kept),))) if kept else None


def _names(arg: Any) -> list[str]:
    return arg.theorem_names() if hasattr(arg, "theorem_names") else [arg]


# On a conclusion with this head, the tactic does exactly what STRIP_TAC does.
_SAME_AS_STRIP = {"!": "GEN_TAC", "/\\": "CONJ_TAC"}


def _head(sexp: str) -> str | None:
    """The name of the constant at the head of a goal's conclusion (``!``, ``/\\``, ``==>``, ``=`` ...), read from
    its s-expression ``(g HYPS CONCL)``; None for a variable or an abstraction."""
    if not sexp.startswith("(g "):
        return None
    i = _skip(sexp, 3) + 1  # past the hypotheses' list
    while sexp.startswith("(a ", i):
        i += 3
    if not sexp.startswith("(c ", i):
        return None
    end = _skip(sexp, i)
    q = sexp.rfind('"', i, end - 1)
    p = sexp.rfind('"', i, q)
    return sexp[p + 1:q].replace("\\\\", "\\") if p >= i else None  # the s-expression escapes backslashes


def _skip(text: str, i: int) -> int:
    """The index just past the balanced s-expression that starts at ``i`` (strings may hold brackets)."""
    depth, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def _may_apply(name: str, head: str | None, concl: str) -> bool:
    """False only when ``name`` surely fails on a goal whose conclusion has this head constant (``_head``); without
    a head (a goal that is not HOList-v0's), when the conclusion does not even contain one of the needed symbols."""
    needs = _NEEDS.get(name)
    if needs is None:
        return True
    return head in needs if head is not None else any(n in concl for n in needs)


class TacticKNNPolicy:
    """See the module docstring. ``remember(pairs)`` adds (goal text, tactic) pairs to the memory."""

    name = "knn"

    def __init__(self, settings: KNNSettings | None = None, backend: HOListBackend | None = None) -> None:
        self.settings = settings or KNNSettings()
        self.backend = backend or HOListBackend()  # for the database and the baseline's candidates; no prover
        self.goals: list[str] = []
        self.tactics: list[str] = []
        self._entries: list[_Entry | None] = []
        self._index = TfIdf()
        self._seen: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ the models registry
    @classmethod
    def fresh(cls, num_candidates: int = 8, **_: Any) -> TacticKNNPolicy:
        """An empty memory: until pairs are remembered (pre-training on the human proof logs, or the ``knn``
        learner), it proposes the baseline's candidates."""
        return cls(KNNSettings(num_candidates=num_candidates))

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        path = Path(path)
        write_model_file(path, "knn", dataclasses.asdict(self.settings), memory=len(self.goals))
        data = json.dumps({"goals": self.goals, "tactics": self.tactics}, ensure_ascii=False).encode()
        from aitp_gym.trace import atomic_write_bytes

        atomic_write_bytes(path / MEMORY_FILE, gzip.compress(data, 6))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], **overrides: Any) -> TacticKNNPolicy:
        path = Path(path)
        meta = read_model_file(path)
        if meta is None or meta["kind"] != "knn" or not (path / MEMORY_FILE).is_file():
            raise FileNotFoundError(f"{path} is not a k-NN policy checkpoint (needs {MODEL_FILE} of kind knn and "
                                    f"{MEMORY_FILE}); save one with TacticKNNPolicy.save_pretrained")
        overrides.pop("device", None)
        policy = cls(KNNSettings(**{**meta["settings"], **overrides}))
        data = json.loads(gzip.decompress((path / MEMORY_FILE).read_bytes()))
        policy.remember(zip(data["goals"], data["tactics"], strict=True))
        return policy

    # ------------------------------------------------------------------ memory
    def remember(self, pairs: Iterable[Any]) -> int:
        """Add ``(goal text, tactic)`` pairs (tuples or ``TacticPair``); returns how many were new. Tactics outside
        the grammar are skipped."""
        added = []
        for p in pairs:
            goal, tactic = (p.goal, p.tactic) if hasattr(p, "goal") else p
            entry = _entry(tactic)
            if entry is None or (goal, entry.tactic) in self._seen:
                continue
            self._seen.add((goal, entry.tactic))
            self.goals.append(goal)
            self.tactics.append(entry.tactic)
            self._entries.append(entry)
            added.append(goal_tokens(goal))
        self._index.add(added)
        return len(added)

    def __len__(self) -> int:
        return len(self.goals)

    # ------------------------------------------------------------------ proposing
    def propose(self, goals: Sequence[Any], k: int | None = None) -> list[list[tuple[str, float]]]:
        k = k or self.settings.num_candidates
        return [self._propose_one(g, k) for g in goals]

    def _propose_one(self, goal: Any, k: int) -> list[tuple[str, float]]:
        s = self.settings
        db = self.backend.database
        state = goal.data if isinstance(goal.data, HOLGoal) else None
        before = state.theorem_index if state is not None else len(db.entries)
        hyps = set(state.hyps) if state is not None else set()
        n_hyps = len(hyps)
        concl = state.concl if state is not None else goal.text.rsplit("⊢ ", 1)[-1]
        scores: dict[str, float] = defaultdict(float)
        name_votes: dict[str, float] = defaultdict(float)
        premise_votes: dict[str, float] = defaultdict(float)

        def allowed(name: str) -> bool:
            i = db.index_of(name)
            return i is not None and i < before

        if self.goals:
            sims = self._index.scores(goal_tokens(goal.text))
            m = min(s.neighbours, len(sims))
            top = np.argpartition(-sims, m - 1)[:m] if m < len(sims) else np.arange(len(sims))
            for j in top:
                sim = float(sims[j])
                entry = self._entries[j]
                if sim <= 0 or entry is None:
                    continue
                ok = all(allowed(n) for n in entry.theorems)
                for n in entry.theorems:
                    if allowed(n):
                        premise_votes[n] += sim
                if entry.adaptable is not None:
                    name_votes[entry.name] += sim
                if ok and entry.max_assumption < n_hyps and (not entry.hypothesis or entry.hypothesis in hyps):
                    scores[entry.tactic] += sim
        if name_votes:
            ranked = self._premises(goal.text, before, premise_votes, s.premises * s.premise_lists)
            for i in range(s.premise_lists):
                premises = ranked[i * s.premises:(i + 1) * s.premises]
                if i and not premises:
                    break
                for name, votes in name_votes.items():
                    for cand in _adapted(name, TACTICS[name][0], premises):
                        scores[cand] += s.adapted_weight * votes / 2 ** i
        if scores:  # the best-voted tactic scores 1, so that the baseline's weight means the same on every goal
            top_score = max(scores.values())
            scores = defaultdict(float, {t: v / top_score for t, v in scores.items()})
        if state is not None:
            for cand in self.backend.candidate_tactics(goal):
                scores[cand] += s.baseline_weight
        numeric = _numeric_type(state.sexp) if state is not None else None
        if numeric is not None:  # a real goal's neighbour may be an int one, and the other way round
            retyped: dict[str, float] = defaultdict(float)
            for t, v in scores.items():
                t2 = _retype(t, numeric, allowed)
                if t2 is not None:
                    retyped[t2] = max(retyped[t2], v) if t2 in scores and t2 != t else retyped[t2] + v
            scores = retyped
        head = _head(state.sexp) if state is not None else None
        scores = {t: v for t, v in scores.items() if _may_apply(t.split(" ", 1)[0], head, concl)}
        if s.drop_equivalent and state is not None and "STRIP_TAC" in scores:
            same = _SAME_AS_STRIP.get(head)
            if same in scores:
                scores["STRIP_TAC"] = max(scores["STRIP_TAC"], scores.pop(same))
        total = sum(scores.values()) or 1.0
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [(t, math.log(v / total)) for t, v in ranked if v > 0]

    def _premises(self, text: str, before: int, votes: dict[str, float], count: int) -> list[str]:
        """This goal's premises: the neighbours' premises (normalised votes) blended with TF-IDF similarity."""
        s = self.settings
        tfidf = self.backend.premise_index.top_scored(text, before, 4 * count)
        blended: dict[str, float] = defaultdict(float)
        if votes:
            top_vote = max(votes.values())
            for n, v in votes.items():
                blended[n] += s.premise_blend * v / top_vote
        if tfidf:
            top_score = max(v for _, v in tfidf) or 1.0
            for n, v in tfidf:
                blended[n] += (1 - s.premise_blend) * v / top_score
        return [name for name, _ in sorted(blended.items(), key=lambda kv: (-kv[1], kv[0]))[:count]]



def _adapted(name: str, kind: str, premises: list[str]) -> list[str]:
    if not premises:
        return [f"{name} []"] if kind == THMS else []
    if kind == THMS:
        return [f"{name} [{'; '.join(premises)}]"]
    return [f"{name} {p}" for p in premises[:2]]
