"""Breadth-first search: expand open goals in the order they were first reached (FIFO).

Each goal is expanded once, with the policy's top-k candidates; every new open child joins the
back of the queue. Goals that stopped mattering (proved elsewhere, or whose parents all closed)
are skipped when they reach the front.
"""

from __future__ import annotations

from collections import deque

from aitp_gym.search.base import Planner, is_relevant, open_goals
from aitp_gym.tree import Edge, ProofNode, ProofTree


class BFS(Planner):
    name = "bfs"

    def reset(self, tree: ProofTree) -> None:
        reachable = open_goals(tree)
        self._queue: deque[ProofNode] = deque(n for n in reachable if not n.exhausted)
        self._queued: set[int] = {n.id for n in reachable}

    def select(self, tree: ProofTree) -> list[ProofNode]:
        while self._queue:
            node = self._queue.popleft()
            if not node.exhausted and is_relevant(node):
                return [node]
        return []

    def update(self, node: ProofNode, edges: list[Edge]) -> None:
        for edge in edges:
            if edge.is_dead or edge.cycle:
                continue
            for child in edge.children:
                if child.is_open and child.id not in self._queued:
                    self._queued.add(child.id)
                    self._queue.append(child)
