"""Best-first search: expand the open goal with the highest cumulative log-probability.

A goal's priority is the sum of the tactic log-probabilities along the best path from the root
that reached it (as in GPT-f). Each goal is expanded once, with all the policy's candidates; goals that
already have edges but are not exhausted (after a manual ``env.step``) are expanded too.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

from aitp_gym.search.base import Planner, best_path_logprobs, is_relevant, open_goals
from aitp_gym.tree import Edge, ProofNode, ProofTree


class BestFS(Planner):
    name = "bestfs"

    def reset(self, tree: ProofTree) -> None:
        self._score: dict[int, float] = best_path_logprobs(tree)
        self._tie = itertools.count()
        self._heap: list[tuple[float, int, ProofNode]] = [
            (-self._score[n.id], next(self._tie), n) for n in open_goals(tree) if not n.exhausted]
        heapq.heapify(self._heap)

    def select(self, tree: ProofTree) -> list[ProofNode]:
        while self._heap:
            neg_score, _, node = heapq.heappop(self._heap)
            if -neg_score < self._score[node.id] or node.exhausted or not is_relevant(node):
                continue  # a stale entry, or no longer worth expanding
            return [node]
        return []

    def update(self, node: ProofNode, edges: list[Edge]) -> None:
        base = self._score[node.id]
        for edge in edges:
            if edge.is_dead or edge.cycle:
                continue
            score = base + edge.logprob
            for child in edge.children:
                if child.is_open and score > self._score.get(child.id, float("-inf")):
                    self._score[child.id] = score
                    heapq.heappush(self._heap, (-score, next(self._tie), child))

    def node_stats(self) -> dict[int, dict[str, Any]]:
        return {nid: {"score": s} for nid, s in self._score.items()}
