"""seq2seq / expert iteration: cross-entropy of the tactic given the goal, on ``TacticPair`` buffers.

On the seq2seq generator it is the teacher-forced per-token cross-entropy; on the ranker, the cross-entropy of the
proof's tactic against every candidate at its goal (``aitp_gym.agents.learners.ranker``, where the ranker's own
learner lives under its older name ``ranker``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aitp_gym.agents.buffers import TacticPair
from aitp_gym.agents.seq2seq import Seq2SeqPolicy
from aitp_gym.agents.training import MetricsLogger, TrainResult, TrainSettings, train


@dataclass
class Seq2SeqSettings(TrainSettings):
    """Plain teacher-forced cross-entropy; nothing beyond the shared settings."""


def seq2seq_loss(policy: Seq2SeqPolicy, batch: Sequence[TacticPair]):
    """Mean per-token cross-entropy of the tactics (the model's own ``labels`` loss)."""
    enc = policy.encode_goals([p.goal for p in batch])
    labels = policy.encode_tactics([p.tactic for p in batch])
    out = policy.model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, labels=labels)
    return out.loss, {}


def train_seq2seq(policy: Any, pairs: Sequence[TacticPair], settings: Seq2SeqSettings | None = None,
                  logger: MetricsLogger | None = None, step_offset: int = 0, progress: bool = True) -> TrainResult:
    settings = settings or Seq2SeqSettings()
    if not isinstance(policy, Seq2SeqPolicy):  # a ranker: cross-entropy over its candidate set
        from aitp_gym.agents.learners.ranker import train_ranker

        return train_ranker(policy, pairs, settings, logger, step_offset, progress, name="seq2seq")
    return train("seq2seq", policy.model.parameters(), pairs, lambda b: seq2seq_loss(policy, b), settings, logger,
                 step_offset, modules=[policy.model], progress=progress)
