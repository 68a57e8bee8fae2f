"""UpDown search, from BAIT's design notes.

Every goal g has a prior v(g) = critic(g) · γ^depth(g) (γ = ``depth_discount``). Its *up value* is
the best provability known for it::

    u(g) = 1 if g is proved, 0 if it failed, else max(v(g), max over edges e of ∏_{c ∈ e} u(c))

and is propagated upward whenever it changes. The *selection score* of an open goal g not yet exhausted is
v(g) times its best *context*: the product of the up values of the sibling goals still needed along
a path from g to the root (max over paths). The planner expands the argmax, or samples with
softmax(log score / temperature).

Everything is kept in log space. For the argmax, each node also keeps b(g), the best leaf score
inside its sub-graph, relative to g::

    b(g) = max( v(g) if g is not exhausted,
                max over live edges e and open children c of e of b(c) · ∏_{c' ∈ e, c' ≠ c} u(c') )

(a goal with edges but not exhausted, say after a manual ``env.step``, is still a leaf itself)

so the best leaf is found by walking down from the root along the argmax, in time proportional to
the depth, and b is updated incrementally together with u. Sampling needs every leaf's score, so
it computes the contexts of all open goals in one topological pass. Cycle edges are ignored: the
tree flags the edge that closes each cycle, so what is left is acyclic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aitp_gym.search.base import Planner, SearchSettings, open_goals
from aitp_gym.tree import Edge, ProofNode, ProofTree, Status

NEG_INF = -math.inf
TIE = 1e-9  # log-space margin below which scores count as equal


@dataclass
class UpDownSettings(SearchSettings):
    depth_discount: float = 0.95
    """γ in v(g) = critic(g) · γ^depth: deeper goals are a little less promising."""
    temperature: float = 0.0
    """0: expand the best-scoring goal; > 0: sample goals with softmax(log score / temperature)."""
    seed: int = 0
    """Seed of the sampling generator (used when temperature > 0)."""


def _live(edge: Edge) -> bool:
    return not edge.cycle and not edge.is_dead


class UpDown(Planner):
    name = "updown"
    Settings = UpDownSettings
    settings: UpDownSettings

    def __init__(self, settings: SearchSettings | None = None, **overrides: Any) -> None:
        super().__init__(settings, **overrides)
        if not 0 < self.settings.depth_discount <= 1:
            raise ValueError("UpDown depth_discount must be in (0, 1]")
        if self.settings.temperature < 0:
            raise ValueError("UpDown temperature must be >= 0")

    def reset(self, tree: ProofTree) -> None:
        self._tree = tree
        self._rng = np.random.default_rng(self.settings.seed)
        self._log_v: dict[int, float] = {}
        self._log_u: dict[int, float] = {}
        self._log_b: dict[int, float] = {}
        reachable = open_goals(tree)  # the tree as the search finds it (manual steps, an earlier search)
        self._prior([*reachable, *(c for n in reachable for e in n.edges if not e.is_error for c in e.children)])
        for node in reversed(reachable):
            self._propagate(node)

    # ------------------------------------------------------------------ values
    def _prior(self, nodes: list[ProofNode]) -> None:
        """v(g) for new goals, in one critic batch."""
        new = [n for n in nodes if n.id not in self._log_v]
        log_gamma = math.log(self.settings.depth_discount)
        for node, v in zip(new, self.critic_values([n.goal for n in new]), strict=True):
            lv = (math.log(v) if v > 0 else NEG_INF) + node.depth * log_gamma
            self._log_v[node.id] = lv
            self._log_u[node.id] = lv if node.is_open else (0.0 if node.status is Status.PROVED else NEG_INF)
            self._log_b[node.id] = lv if node.is_open and not node.exhausted else NEG_INF

    def up(self, node: ProofNode) -> float:
        """u(node) (not in log space)."""
        return math.exp(self._log_u[node.id])

    def _recompute(self, node: ProofNode) -> tuple[float, float]:
        if node.status is Status.PROVED:
            return 0.0, NEG_INF
        if node.status is Status.FAILED:
            return NEG_INF, NEG_INF
        own = NEG_INF if node.exhausted else self._log_v[node.id]  # a goal not exhausted is a leaf itself
        if not node.edges:
            return self._log_v[node.id], own
        log_u, log_b = self._log_v[node.id], own
        up, best = self._log_u, self._log_b
        for edge in node.edges:
            if edge.cycle or edge.is_error:
                continue
            children = edge.children
            if len(children) == 1:  # the common case, kept cheap
                c = children[0]
                uc = up[c.id]
                if c.status is Status.FAILED:
                    continue
                log_u = max(log_u, uc)
                if c.status is Status.OPEN and uc > NEG_INF:
                    log_b = max(log_b, best[c.id])
                continue
            if any(c.status is Status.FAILED for c in children):
                continue
            ups = [up[c.id] for c in children]
            total = sum(ups)
            log_u = max(log_u, total)
            for c, uc in zip(children, ups, strict=True):
                if c.is_open and uc > NEG_INF:
                    log_b = max(log_b, best[c.id] + total - uc)
        return log_u, log_b

    def _propagate(self, start: ProofNode) -> None:
        """Recompute u and b at ``start`` and upward, as long as something changes."""
        work, first = [start], True
        while work:
            node = work.pop()
            new = self._recompute(node)
            if new == (self._log_u[node.id], self._log_b[node.id]) and not first:
                continue
            first = False
            self._log_u[node.id], self._log_b[node.id] = new
            work.extend(e.parent for e in node.parent_edges if not e.cycle)

    # ------------------------------------------------------------------ planner
    def select(self, tree: ProofTree) -> list[ProofNode]:
        if self.settings.temperature > 0:
            return self._sample(tree)
        node = tree.root
        if self._log_b[node.id] == NEG_INF:
            return []
        while node.edges:
            own = NEG_INF if node.exhausted else self._log_v[node.id]
            best, best_child = own, None
            for edge in node.edges:
                if not _live(edge):
                    continue
                ups = [self._log_u[c.id] for c in edge.children]
                total = sum(ups)
                for c, uc in zip(edge.children, ups, strict=True):
                    # leaves of one hypertree tie by construction: keep the first unless clearly better
                    if c.is_open and uc > NEG_INF and self._log_b[c.id] + total - uc > best + TIE:
                        best, best_child = self._log_b[c.id] + total - uc, c
            if best_child is None:
                return [node] if own > NEG_INF else []
            node = best_child
        return [node]

    def leaf_scores(self, tree: ProofTree) -> dict[int, float]:
        """log score of every open goal not yet exhausted, reachable from the root: log v(g) + best context."""
        if not tree.root.is_open:
            return {}

        def open_children(n: ProofNode):
            return (c for e in n.edges if _live(e) for c in e.children if c.is_open)

        order, seen = [], {tree.root.id}
        stack = [(tree.root, open_children(tree.root))]
        while stack:  # iterative post-order DFS; reversed, it puts parents before children
            node, children = stack[-1]
            child = next((c for c in children if c.id not in seen), None)
            if child is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(child.id)
                stack.append((child, open_children(child)))

        context = {tree.root.id: 0.0}
        for node in reversed(order):  # parents before children
            base = context.get(node.id, NEG_INF)
            if base == NEG_INF:
                continue
            for edge in node.edges:
                if not _live(edge):
                    continue
                for i, c in enumerate(edge.children):
                    if c.is_open:
                        ctx = base + sum(self._log_u[s.id] for j, s in enumerate(edge.children) if j != i)
                        if ctx > context.get(c.id, NEG_INF):
                            context[c.id] = ctx
        return {nid: self._log_v[nid] + ctx for nid, ctx in context.items()
                if not tree.nodes[nid].exhausted and ctx > NEG_INF}

    def _sample(self, tree: ProofTree) -> list[ProofNode]:
        scores = {nid: s for nid, s in self.leaf_scores(tree).items() if s > NEG_INF}
        if not scores:
            return []
        ids = sorted(scores)
        logits = np.array([scores[i] for i in ids]) / self.settings.temperature
        p = np.exp(logits - logits.max())
        return [tree.nodes[ids[int(self._rng.choice(len(ids), p=p / p.sum()))]]]

    def update(self, node: ProofNode, edges: list[Edge]) -> None:
        self._prior([c for e in edges if not e.is_error for c in e.children])
        self._propagate(node)

    def node_stats(self) -> dict[int, dict[str, Any]]:
        return {nid: {"v": math.exp(lv), "u": math.exp(self._log_u[nid]), "b": math.exp(self._log_b[nid])}
                for nid, lv in self._log_v.items()}
