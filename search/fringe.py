"""Fringe search, after TacticZero (Wu et al. 2021).

A *fringe* is a set of open goals that together suffice to prove the root. The search starts from
the fringe {root}. Expanding goal g of fringe F with a tactic that yields children C gives the new
fringe (F − {g}) ∪ C, one per tactic. The root is proved when some fringe becomes empty.

A fringe's score is the sum of its goals' log-scores: log v(g) from the critic (``score="critic"``),
or the cumulative tactic log-probability along the best path that reached g (``score="policy"``).
Each step picks a fringe (argmax, or softmax sampling with ``temperature`` > 0), then a goal in it:
a goal the shared tree has already expanded is replaced through its edges for free; otherwise the
fringe's lowest-scoring open goal is expanded (fail first: a fringe is only as good as its weakest
goal, so that is the one worth testing).

Fringes are planner statistics. When a goal is proved, every fringe holding it is replaced by one
without it; a fringe holding a failed goal is dropped.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aitp_gym.search.base import Planner, SearchSettings, best_path_logprobs
from aitp_gym.tree import ERROR_OUTCOMES, Edge, ProofNode, ProofTree, Status


@dataclass
class FringeSettings(SearchSettings):
    score: str = "critic"
    """Goal log-scores from the "critic" (log v(g)) or the "policy" (best cumulative log-probability)."""
    temperature: float = 0.0
    """0: pick the best fringe; > 0: sample fringes with softmax(score / temperature)."""
    seed: int = 0
    """Seed of the sampling generator (used when temperature > 0)."""
    max_fringes: int = 100_000
    """Stop creating fringes past this many live ones (memory bound)."""


class Fringe(Planner):
    name = "fringe"
    Settings = FringeSettings
    settings: FringeSettings

    def __init__(self, settings: SearchSettings | None = None, **overrides: Any) -> None:
        super().__init__(settings, **overrides)
        if self.settings.score not in ("critic", "policy"):
            raise ValueError(f"Fringe score must be 'critic' or 'policy', not {self.settings.score!r}")
        if self.settings.temperature < 0:
            raise ValueError("Fringe temperature must be >= 0")

    def reset(self, tree: ProofTree) -> None:
        self._tree = tree
        self._rng = np.random.default_rng(self.settings.seed)
        self._logscore: dict[int, float] = {}  # node id -> log-score
        self._path_logprob: dict[int, float] = best_path_logprobs(tree)
        self._fringes: dict[int, frozenset[int]] = {}  # live fringe id -> open goal ids
        self._fringe_score: dict[int, float] = {}
        self._seen: set[frozenset[int]] = set()
        self._holding: dict[int, set[int]] = {}  # node id -> live fringes that hold it
        self._heap: list[tuple[float, int]] = []
        self._ids = itertools.count()
        self._pending: int | None = None  # the fringe whose goal is being expanded
        self.created = 0  # fringes created, for the trace
        self._add_fringe(frozenset([tree.root.id]))

    # ------------------------------------------------------------------ scores
    def _goal_score(self, node: ProofNode) -> float:
        score = self._logscore.get(node.id)
        if score is None:
            if self.settings.score == "policy":
                score = self._path_logprob.get(node.id, 0.0)
            else:
                (v,) = self.critic_values([node.goal])
                score = math.log(v) if v > 0 else -math.inf
            self._logscore[node.id] = score
        return score

    def _score_goals(self, nodes: list[ProofNode]) -> None:
        """Score new goals in one critic batch."""
        new = [n for n in nodes if n.id not in self._logscore]
        if new and self.settings.score == "critic":
            for node, v in zip(new, self.critic_values([n.goal for n in new]), strict=True):
                self._logscore[node.id] = math.log(v) if v > 0 else -math.inf

    # ------------------------------------------------------------------ fringe bookkeeping
    def _add_fringe(self, goals: frozenset[int]) -> None:
        """Add the fringe of the open goals among ``goals``, unless one of them failed or it was seen before.

        Goals are normally scored already, in one critic batch per expansion (``update``)."""
        nodes, open_, failed = self._tree.nodes, Status.OPEN, Status.FAILED
        open_goals = []
        for g in goals:
            status = nodes[g].status
            if status is open_:
                open_goals.append(g)
            elif status is failed:
                return
        key = goals if len(open_goals) == len(goals) else frozenset(open_goals)
        if key in self._seen or len(self._fringes) >= self.settings.max_fringes:
            return
        self._seen.add(key)
        self.created += 1
        fid = next(self._ids)
        logscore = self._logscore
        score = 0.0
        for g in open_goals:
            s = logscore.get(g)
            score += s if s is not None else self._goal_score(nodes[g])
        self._fringes[fid] = key
        self._fringe_score[fid] = score
        holding = self._holding
        for g in open_goals:
            holders = holding.get(g)
            if holders is None:
                holding[g] = {fid}
            else:
                holders.add(fid)
        heapq.heappush(self._heap, (-score, fid))

    def _drop_fringe(self, fid: int) -> frozenset[int]:
        goals = self._fringes.pop(fid)
        del self._fringe_score[fid]
        for g in goals:
            holders = self._holding.get(g)
            if holders is not None:
                holders.discard(fid)
                if not holders:
                    del self._holding[g]
        return goals

    def _successors(self, fid: int, node: ProofNode) -> None:
        """Replace fringe ``fid`` by (F − {node}) ∪ C for each live edge of ``node``."""
        goals = self._drop_fringe(fid) - {node.id}
        tried: set[frozenset[int]] = set()  # tactics with the same children give the same fringe
        for edge in node.edges:
            if edge.cycle or edge.outcome in ERROR_OUTCOMES:  # a failed child is caught by _add_fringe
                continue
            children = frozenset(c.id for c in edge.children)
            if children not in tried:
                tried.add(children)
                self._add_fringe(goals | children)

    def _refresh(self, expanded: ProofNode) -> None:
        """Follow status changes: proved goals leave their fringes, failed goals kill theirs.

        Expanding a goal can only change the status of that goal and its ancestors."""
        nodes = self._tree.nodes
        changed, seen, stack = [], {expanded.id}, [expanded]
        while stack:
            node = stack.pop()
            if not node.is_open and node.id in self._holding:
                changed.append(node.id)
            for e in node.parent_edges:
                if e.parent.id not in seen:
                    seen.add(e.parent.id)
                    stack.append(e.parent)
        for g in changed:
            for fid in list(self._holding.get(g, ())):
                goals = self._drop_fringe(fid)
                if nodes[g].status is Status.PROVED:
                    self._add_fringe(goals)

    @property
    def fringes(self) -> list[frozenset[int]]:
        """The live fringes (sets of node ids), best first."""
        return [self._fringes[f] for f in sorted(self._fringes, key=lambda f: (-self._fringe_score[f], f))]

    # ------------------------------------------------------------------ planner
    def _pick_fringe(self) -> int | None:
        if self.settings.temperature > 0:
            if not self._fringes:
                return None
            fids = list(self._fringes)
            scores = np.array([self._fringe_score[f] for f in fids]) / self.settings.temperature
            if np.isneginf(scores).all():
                return fids[int(self._rng.integers(len(fids)))]
            p = np.exp(scores - scores.max())
            return fids[int(self._rng.choice(len(fids), p=p / p.sum()))]
        while self._heap:
            _, fid = heapq.heappop(self._heap)
            if fid in self._fringes:
                return fid
        return None

    def select(self, tree: ProofTree) -> list[ProofNode]:
        while True:
            fid = self._pick_fringe()
            if fid is None:
                return []
            goals = [tree.nodes[g] for g in sorted(self._fringes[fid])]
            if not goals:  # an empty fringe: the root is proved (searching on, without early stop)
                self._drop_fringe(fid)
                continue
            done = next((n for n in goals if n.exhausted), None)
            if done is not None:  # already expanded (through another fringe, or before): replace for free
                self._successors(fid, done)
                continue
            node = min(goals, key=lambda n: (self._goal_score(n), n.id))
            self._pending = fid
            return [node]

    def update(self, node: ProofNode, edges: list[Edge]) -> None:
        if self.settings.score == "policy":
            for edge in edges:
                if not edge.is_error:
                    for child in edge.children:
                        lp = self._path_logprob.get(node.id, 0.0) + edge.logprob
                        if lp > self._path_logprob.get(child.id, -math.inf):
                            self._path_logprob[child.id] = lp
        else:
            self._score_goals([c for e in edges if e.outcome not in ERROR_OUTCOMES for c in e.children
                               if c.status is Status.OPEN])
        if self._pending is not None and self._pending in self._fringes:
            self._successors(self._pending, node)
        self._pending = None
        self._refresh(node)

    def node_stats(self) -> dict[int, dict[str, Any]]:
        holding = {g: len(f) for g, f in self._holding.items()}
        return {nid: {"score": math.exp(s), "live_fringes": holding.get(nid, 0)} for nid, s in self._logscore.items()}
