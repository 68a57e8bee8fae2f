"""HyperTree Proof Search (Lample et al. 2022), with the defaults of Evariste's ``MCTSParams``.

**Selection.** A descent starts at the root. At each goal g it takes the tactic edge t maximising::

    PUCT(g, t) = Q(g, t) + c · π(t | g) · sqrt(Σ_t' N(g, t')) / (1 + N(g, t))

and goes into *all* children of t. N counts real plus virtual visits; π is the softmax of the
policy's log-probabilities over the tactics that survived the prover; ties go to the higher π.
A descent thus picks a hypertree; its unexpanded leaves are expanded together in one batch
(``descents_per_batch`` descents, kept apart by virtual loss, share a batch).

**Q values.** Q = W / (N + virtual) for a visited edge; ``init_tactic_scores`` (0.5) for an edge
never visited, divided by its virtual count if it only has virtual visits; max(1, N) /
max(1, N + virtual) for an edge whose children are all proved. Killed edges take no part: errors,
edges to a failed goal, and edges to a goal already on the descent's path (a cycle). Of several
tactics with the same set of children only the first is kept, and a goal with a solving tactic
keeps that tactic alone.

**Backup.** A leaf is worth 1 if proved, 0 if failed (no tactic left), else the critic's value
(0.5 without a critic). A solved goal reached by a descent backs up 1. An edge is worth
``depth_penalty`` times the product of its children's values (kept in log space), and every edge of
the hypertree gets N += 1, W += value, and loses its virtual loss.

**Learner signals.** ``node_stats`` records, per expanded goal, the visit counts, Q values and
priors of its edges, the critic's estimate, and Evariste's training targets: a critic target (1 if
solved, 0 if failed, the best edge's mean backed-up value after ``count_threshold`` visits, else
none) and a policy target (the minimal proof's tactic at a solved goal, else the visit
distribution).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from aitp_gym.proof import extract_proof
from aitp_gym.search.base import Planner, SearchSettings
from aitp_gym.tree import ERROR_OUTCOMES, Edge, ProofNode, ProofTree, Status

NEG_INF = -math.inf


@dataclass
class HTPSSettings(SearchSettings):
    exploration: float = 5.0
    """c in PUCT (5 in Evariste's defaults; its paper sweeps use 1)."""
    init_tactic_scores: float = 0.5
    """Q of an edge that has never been visited."""
    virtual_loss: int = 1
    """Virtual visits added along a selected hypertree until its backup."""
    depth_penalty: float = 1.0
    """Factor applied to an edge's value per level (1: none)."""
    descents_per_batch: int = 1
    """Hypertrees selected (apart by virtual loss) before their leaves are expanded as one batch."""
    count_threshold: int = 50
    """Visits a goal needs before its mean backed-up value becomes a critic target."""
    max_empty_descents: int = 32
    """Descents in a row that find nothing to expand before the search gives up."""


@dataclass(slots=True)
class _EdgeStats:
    prior: float
    n: int = 0
    w: float = 0.0
    virtual: int = 0


@dataclass
class _Occurrence:
    """A goal as reached by one descent: a leaf, a terminal, or an internal goal with its chosen edge."""

    node: ProofNode
    kind: str  # leaf | proved | dead | internal
    edge: Edge | None = None
    children: list[int] | None = None


class HTPS(Planner):
    name = "htps"
    Settings = HTPSSettings
    settings: HTPSSettings

    def __init__(self, settings: SearchSettings | None = None, **overrides: Any) -> None:
        super().__init__(settings, **overrides)
        s = self.settings
        if s.exploration < 0 or s.virtual_loss < 0 or s.descents_per_batch < 1 or not 0 < s.depth_penalty <= 1:
            raise ValueError("HTPS needs exploration >= 0, virtual_loss >= 0, descents_per_batch >= 1 and "
                             "depth_penalty in (0, 1]")

    def reset(self, tree: ProofTree) -> None:
        self._tree = tree
        self._kept: dict[int, list[Edge]] = {}  # node id -> edges the search may take
        self._stats: dict[int, _EdgeStats] = {}  # edge id -> visit statistics
        self._log_value: dict[int, float] = {}  # node id -> log critic value
        self._pending: list[list[_Occurrence]] = []  # descents waiting for their backup
        self.descents = 0

    # ------------------------------------------------------------------ values
    def q_value(self, edge: Edge) -> float:
        st = self._stats[edge.id]
        if edge.is_proof:
            return max(1, st.n) / max(1, st.n + st.virtual)
        if st.n == 0:
            return self.settings.init_tactic_scores / st.virtual if st.virtual else self.settings.init_tactic_scores
        return st.w / (st.n + st.virtual)

    def _choose(self, node: ProofNode, on_path: set[int]) -> Edge | None:
        live = [e for e in self._kept.get(node.id, ())
                if not e.is_dead and not e.cycle and not any(c.id in on_path for c in e.children)]
        if not live:
            return None
        total = math.sqrt(sum(self._stats[e.id].n + self._stats[e.id].virtual for e in live))
        c = self.settings.exploration

        def puct(e: Edge) -> tuple[float, float]:
            st = self._stats[e.id]
            return self.q_value(e) + c * st.prior * total / (1 + st.n + st.virtual), st.prior

        return max(live, key=puct)

    # ------------------------------------------------------------------ selection
    def _descend(self, root: ProofNode) -> list[_Occurrence]:
        """One descent: the hypertree it selects, parents before children."""
        occs: list[_Occurrence] = []
        on_path: set[int] = set()
        stack: list[tuple[str, ProofNode, int | None]] = [("enter", root, None)]
        while stack:
            action, node, parent = stack.pop()
            if action == "exit":
                on_path.discard(node.id)
                continue
            index = len(occs)
            if parent is not None:
                occs[parent].children.append(index)
            if node.status is Status.FAILED:
                occs.append(_Occurrence(node, "dead"))
            elif node.status is Status.PROVED and self.settings.early_stop:
                occs.append(_Occurrence(node, "proved"))
            elif not node.exhausted:
                occs.append(_Occurrence(node, "leaf"))
            else:
                if node.id not in self._kept:  # expanded before this search began: adopt its edges
                    self.update(node, node.edges)
                on_path.add(node.id)
                edge = self._choose(node, on_path)
                if edge is None:
                    on_path.discard(node.id)
                    occs.append(_Occurrence(node, "proved" if node.status is Status.PROVED else "dead"))
                    continue
                self._stats[edge.id].virtual += self.settings.virtual_loss
                occs.append(_Occurrence(node, "internal", edge, []))
                stack.append(("exit", node, None))
                stack.extend(("enter", child, index) for child in reversed(edge.children))
        return occs

    def select(self, tree: ProofTree) -> list[ProofNode]:
        leaves: dict[int, ProofNode] = {}
        empty = 0
        while len(self._pending) < self.settings.descents_per_batch and empty < self.settings.max_empty_descents:
            occs = self._descend(tree.root)
            self.descents += 1
            new = [o.node for o in occs if o.kind == "leaf"]
            if new:
                self._pending.append(occs)
                leaves.update((n.id, n) for n in new)
            else:  # nothing to expand: back up at once so the next descent sees different statistics
                self._backup(occs)
                empty += 1
                if tree.proved and self.settings.early_stop:
                    break
        return list(leaves.values())

    # ------------------------------------------------------------------ expansion and backup
    def update(self, node: ProofNode, edges: list[Edge]) -> None:
        # One pass over the new edges (there is one per candidate tactic, so this loop is hot).
        kept: list[Edge] = []
        seen: set[frozenset[int]] = set()
        for e in edges:
            if e.outcome in ERROR_OUTCOMES or e.cycle:
                continue
            if not e.children:  # a solving tactic: keep only it
                kept = [e]
                break
            key = frozenset(c.id for c in e.children)
            if key not in seen:
                seen.add(key)
                kept.append(e)
        self._kept[node.id] = kept
        if kept:
            top = max(e.logprob for e in kept)
            weights = [math.exp(e.logprob - top) for e in kept]
            z = sum(weights)
            stats = self._stats
            for e, w in zip(kept, weights, strict=True):
                stats[e.id] = _EdgeStats(prior=w / z)

    def after_batch(self) -> None:
        leaves = {o.node.id: o.node for occs in self._pending for o in occs
                  if o.kind == "leaf" and o.node.is_open and o.node.id not in self._log_value}
        values = self.critic_values([n.goal for n in leaves.values()])
        for nid, v in zip(leaves, values, strict=True):
            self._log_value[nid] = math.log(v) if v > 0 else NEG_INF
        pending, self._pending = self._pending, []
        for occs in pending:
            self._backup(occs)

    def _leaf_value(self, node: ProofNode) -> float:
        if node.status is Status.PROVED:
            return 0.0
        if node.status is Status.FAILED:
            return NEG_INF
        if node.id not in self._log_value:
            (v,) = self.critic_values([node.goal])
            self._log_value[node.id] = math.log(v) if v > 0 else NEG_INF
        return self._log_value[node.id]

    def _backup(self, occs: list[_Occurrence]) -> None:
        log_penalty = math.log(self.settings.depth_penalty)
        value = [0.0] * len(occs)
        for i in range(len(occs) - 1, -1, -1):  # children were appended after their parents
            o = occs[i]
            if o.kind == "proved":
                value[i] = 0.0
            elif o.kind == "dead":
                value[i] = NEG_INF
            elif o.kind == "leaf":
                value[i] = self._leaf_value(o.node)
            else:
                v = log_penalty + sum(value[j] for j in o.children)
                value[i] = v if v > NEG_INF else NEG_INF
                st = self._stats[o.edge.id]
                st.n += 1
                st.w += math.exp(value[i])
                st.virtual -= self.settings.virtual_loss

    # ------------------------------------------------------------------ trace
    def node_stats(self) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for nid, kept in self._kept.items():
            node = self._tree.nodes[nid]
            edges = [{"edge": e.id, "tactic": e.tactic, "n": self._stats[e.id].n, "q": self.q_value(e),
                      "prior": self._stats[e.id].prior} for e in kept]
            visits = sum(e["n"] for e in edges)
            if node.status is Status.PROVED:
                critic_target: float | None = 1.0
                proof = extract_proof(self._tree, node)
                policy_target = {proof.tactic: 1.0} if proof else {}
            else:
                critic_target = 0.0 if node.status is Status.FAILED else None
                if critic_target is None and visits >= self.settings.count_threshold:
                    critic_target = max(self._stats[e.id].w / self._stats[e.id].n
                                        for e in kept if self._stats[e.id].n)
                policy_target = {e["tactic"]: e["n"] / visits for e in edges if e["n"]} if visits else {}
            log_value = self._log_value.get(nid)
            out[nid] = {"visits": visits, "edges": edges,
                        "value": math.exp(log_value) if log_value is not None else None,
                        "critic_target": critic_target, "policy_target": policy_target}
        return out
