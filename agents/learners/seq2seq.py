"""seq2seq / expert iteration: cross-entropy of the tactic given the goal, on ``TacticPair`` buffers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def train_seq2seq(policy: Seq2SeqPolicy, pairs: Sequence[TacticPair], settings: Seq2SeqSettings | None = None,
                  logger: MetricsLogger | None = None, step_offset: int = 0, progress: bool = True) -> TrainResult:
    settings = settings or Seq2SeqSettings()
    return train("seq2seq", policy.model.parameters(), pairs, lambda b: seq2seq_loss(policy, b), settings, logger,
                 step_offset, modules=[policy.model], progress=progress)
