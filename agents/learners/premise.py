"""Tactic classifier + premise ranker (DeepHOL-style) on ``(goal, tactic)`` pairs, for :class:`HOListPolicy`.

Each tactic string is parsed with the HOList grammar into its name and its theorem arguments. The loss is

* cross-entropy of the tactic name under the classifier, plus
* ``premise_weight`` × a contrastive (InfoNCE) loss for every theorem argument: its score against ``negatives``
  theorems sampled uniformly among those the goal may use (before the goal's theorem in load order) and not used
  by the tactic.

Which theorems a goal may use: a :class:`HOListPair`'s ``theorem_index``, else a goal given as a ``Goal`` with
HOList data, else a root goal ``⊢ <statement>`` found in the database by its statement, else (a subgoal from a
plain ``TacticPair``) the theorems up to the latest one the tactic uses, which are certainly allowed.
:func:`holist_tactic_pairs` reads traces into ``HOListPair`` with the index from each trace's header.

Logged as ``losses/premise/<metric>``: ``loss``, ``tactic_ce``, ``tactic_acc``, ``premise_nce``, ``premise_acc``
(the used theorem outscores all its sampled negatives).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aitp_gym.agents.buffers import TacticPair, TraceGraph
from aitp_gym.agents.holist_model import HOListPolicy, torch
from aitp_gym.agents.training import MetricsLogger, TrainResult, TrainSettings, train
from aitp_gym.envs.holist.backend import HOLGoal
from aitp_gym.envs.holist.grammar import TacticSyntaxError, parse_tactic
from aitp_gym.trace import TraceRecord
from aitp_gym.tree import Goal


@dataclass
class PremiseSettings(TrainSettings):
    negatives: int = 15
    """Theorems sampled as negatives for each used theorem (fewer when the goal allows fewer)."""
    premise_weight: float = 1.0
    """Weight of the premise loss against the tactic cross-entropy."""


@dataclass(frozen=True)
class HOListPair:
    """A ``TacticPair`` that knows which theorem its goal belongs to (premises must come before it)."""

    goal: str | Goal
    tactic: str
    theorem_index: int | None = None


@dataclass(frozen=True)
class PremiseExample:
    """A parsed training pair: goal, tactic class, used theorems (database positions), allowed prefix length."""

    goal: str | Goal
    tactic: int
    premises: tuple[int, ...]
    bound: int


def holist_tactic_pairs(records: Iterable[TraceRecord]) -> list[HOListPair]:
    """Like ``buffers.tactic_pairs`` (every proved goal, the first tactic of its minimal proof), keeping the theorem's
    database index from each trace header (``theorem_data["index"]``)."""
    out = []
    for record in records:
        g = TraceGraph(record)
        index = (record.header.get("theorem_data") or {}).get("index")
        for nid, e in sorted(g.proof_edge.items()):
            out.append(HOListPair(g.text[nid], e["tactic"], index if isinstance(index, int) else None))
    return out


def premise_examples(policy: HOListPolicy, pairs: Sequence[TacticPair | HOListPair]) -> tuple[list[PremiseExample],
                                                                                                 int]:
    """Parse the pairs; returns the examples and how many pairs were skipped (unparsable tactic, a tactic outside
    the classifier's classes, or a theorem the database lacks or the goal may not use)."""
    out, skipped = [], 0
    n = len(policy.premise_names)
    for p in pairs:
        try:
            call = parse_tactic(p.tactic)
        except TacticSyntaxError:
            skipped += 1
            continue
        cls = policy.tactic_index.get(call.name)
        used = [policy.premise_index.get(name) for name in call.theorem_names()]
        if cls is None or any(i is None for i in used):
            skipped += 1
            continue
        index = getattr(p, "theorem_index", None)
        if index is None and isinstance(p.goal, Goal) and isinstance(p.goal.data, HOLGoal):
            index = p.goal.data.theorem_index
        if index is None:
            index = policy.statement_index(p.goal.text if isinstance(p.goal, Goal) else p.goal)
        if index is None:
            index = max(used) + 1 if used else n
        bound = min(int(index), n)
        if any(i >= bound for i in used):
            skipped += 1
            continue
        out.append(PremiseExample(p.goal, cls, tuple(dict.fromkeys(used)), bound))
    return out, skipped


def premise_loss(policy: HOListPolicy, batch: Sequence[PremiseExample], settings: PremiseSettings,
                 rng: random.Random):
    net = policy.net
    g = policy.goal_embeddings([e.goal for e in batch])
    logits = net.tactic_head(g)
    target = torch.tensor([e.tactic for e in batch], device=g.device)
    tactic_ce = torch.nn.functional.cross_entropy(logits, target)
    metrics = {"tactic_ce": float(tactic_ce.detach()),
               "tactic_acc": float((logits.detach().argmax(-1) == target).float().mean())}
    # one row per used theorem: [positive, negatives...], padded with -inf
    rows: list[tuple[int, list[int]]] = []
    for b, e in enumerate(batch):
        if not e.premises:
            continue
        pool = e.bound - len(e.premises)
        used = set(e.premises)
        negs: list[int] = []
        if pool > 0:
            want = min(settings.negatives, pool)
            seen: set[int] = set()
            while len(negs) < want:
                i = rng.randrange(e.bound)
                if i not in used and i not in seen:
                    seen.add(i)
                    negs.append(i)
        rows += [(b, [pos, *negs]) for pos in e.premises]
    if not rows:
        return tactic_ce, {**metrics, "premise_nce": 0.0, "premise_acc": 0.0}
    unique = sorted({i for _, cands in rows for i in cands})
    where = {i: j for j, i in enumerate(unique)}
    emb = net.premise_encoder(policy.premise_inputs(unique))  # [U, d], with gradients
    width = max(len(c) for _, c in rows)
    idx = torch.zeros(len(rows), width, dtype=torch.long, device=g.device)
    valid = torch.zeros(len(rows), width, dtype=torch.bool, device=g.device)
    for r, (_, cands) in enumerate(rows):
        idx[r, :len(cands)] = torch.tensor([where[i] for i in cands])
        valid[r, :len(cands)] = True
    goal_rows = torch.tensor([b for b, _ in rows], device=g.device)
    query = net.query(g)[goal_rows]  # [R, d]
    scores = (query.unsqueeze(1) * emb[idx]).sum(-1) * net.scale  # [R, W]
    scores = scores.masked_fill(~valid, float("-inf"))
    nce = torch.nn.functional.cross_entropy(scores, torch.zeros(len(rows), dtype=torch.long, device=g.device))
    metrics["premise_nce"] = float(nce.detach())
    metrics["premise_acc"] = float((scores.detach().argmax(-1) == 0).float().mean())
    return tactic_ce + settings.premise_weight * nce, metrics


def train_premise(policy: HOListPolicy, pairs: Sequence[TacticPair | HOListPair],
                  settings: PremiseSettings | None = None, logger: MetricsLogger | None = None,
                  step_offset: int = 0, progress: bool = True) -> TrainResult:
    """Train the tactic classifier and the premise ranker of ``policy`` on ``pairs`` (the shared loop). The premise
    embedding cache is invalidated by the weight updates."""
    settings = settings or PremiseSettings()
    examples, _ = premise_examples(policy, pairs)
    rng = random.Random(settings.seed)
    try:
        return train("premise", policy.net.parameters(), examples, lambda b: premise_loss(policy, b, settings, rng),
                     settings, logger, step_offset, modules=[policy.net], progress=progress)
    finally:
        policy.invalidate_cache()
