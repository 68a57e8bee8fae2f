"""Ranker: softmax cross-entropy of the proof's tactic against every candidate at its goal, on ``TacticPair``
buffers (the same expert-iteration pairs as seq2seq)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from aitp_gym.agents.buffers import TacticPair
from aitp_gym.agents.learners import NoExamples
from aitp_gym.agents.ranker import RankerPolicy, torch
from aitp_gym.agents.training import MetricsLogger, TrainResult, TrainSettings, train


@dataclass
class RankerSettings(TrainSettings):
    """The shared settings; a linear model over sparse features wants a far larger step than a transformer."""

    lr: float = 0.05
    grad_clip: float = 0.0


class NoRankingExamples(NoExamples):
    """No pair has another tactic to be ranked against (e.g. every proof in the buffer used the same tactic)."""


@dataclass(frozen=True)
class _Example:
    ids: object
    """Feature indices of every candidate, ``[candidates, features]``."""
    positive: int


def featurise(policy: RankerPolicy, pairs: Sequence[TacticPair], max_vocabulary: int = 64,
              seed: int = 0) -> list[_Example]:
    """Each pair's candidate set, with the pair's tactic added when the enumeration lacks it (it was applied, so
    it is legal).

    Where the featuriser cannot rebuild a goal's candidates from its text (the ``text`` featuriser, e.g. on
    HOList-v0), the candidates are the buffer's own tactics: the pair's tactic against up to ``max_vocabulary`` of
    the distinct tactics that proved other goals (a seeded sample). Pairs left with a single candidate are dropped."""
    vocabulary = sorted({p.tactic for p in pairs})
    rng = random.Random(seed)
    out = []
    for pair in pairs:
        try:
            tactics = policy.candidates(pair.goal)
        except ValueError:
            others = [t for t in vocabulary if t != pair.tactic]
            tactics = rng.sample(others, min(max_vocabulary, len(others)))
        if pair.tactic not in tactics:
            tactics = [*tactics, pair.tactic]
        if len(tactics) > 1:
            out.append(_Example(policy.feature_ids(pair.goal, tactics), tactics.index(pair.tactic)))
    return out


def ranker_loss(policy: RankerPolicy, batch: Sequence[_Example]):
    losses, hits = [], 0
    for ex in batch:
        scores = policy.score_ids(ex.ids)
        losses.append(-torch.log_softmax(scores, 0)[ex.positive])
        hits += int(scores.argmax()) == ex.positive
    return torch.stack(losses).mean(), {"top1": hits / len(batch)}


def train_ranker(policy: RankerPolicy, pairs: Sequence[TacticPair], settings: TrainSettings | None = None,
                 logger: MetricsLogger | None = None, step_offset: int = 0, progress: bool = True,
                 name: str = "ranker") -> TrainResult:
    """Cross-entropy over each pair's candidate set (``name``: the learner's name in the logged metrics; the
    ``seq2seq`` learner trains a ranker through this function)."""
    settings = settings or RankerSettings()
    examples = featurise(policy, pairs, seed=settings.seed)
    if not examples:
        raise NoRankingExamples(f"none of the {len(pairs)} (goal, tactic) pairs has a tactic to rank it against")
    return train(name, [policy.weights], examples, lambda b: ranker_loss(policy, b), settings, logger,
                 step_offset, progress=progress)
