"""The k-NN policy's learner: remember the (goal, tactic) pairs of the proofs found (expert iteration by memory).

A k-NN policy has no weights: what it learns is its memory. The loop hands this learner the round's ``seq2seq``
buffer (the first tactic of every proved goal's minimal proof) and the pairs join the memory, so each round
proposes from the human proofs plus every proof found so far. The "loss" logged is the share of the buffer's
pairs that were new (1.0: everything was new; 0.0: the memory had them all).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aitp_gym.agents.buffers import TacticPair
from aitp_gym.agents.training import MetricsLogger, TrainResult, TrainSettings


@dataclass
class KNNLearnSettings(TrainSettings):
    """Nothing to tune: the shared settings (steps, lr ...) are ignored by a memory."""


def train_knn(policy: Any, pairs: Sequence[TacticPair], settings: KNNLearnSettings | None = None,
              logger: MetricsLogger | None = None, step_offset: int = 0, progress: bool = True) -> TrainResult:
    if not hasattr(policy, "remember"):
        raise TypeError(f"the knn learner trains a policy with a memory (remember), not {type(policy).__name__}")
    t0 = time.perf_counter()
    added = policy.remember(pairs)
    share_new = added / max(1, len(pairs))
    if logger is not None:
        logger.scalar("losses/knn/new_share", share_new, step_offset)
        logger.scalar("losses/knn/memory", len(policy), step_offset)
    return TrainResult(steps=1, losses=[share_new], seconds=time.perf_counter() - t0)
