"""Critic: binary cross-entropy (soft targets allowed) of provability on ``ValueTarget`` buffers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aitp_gym.agents.buffers import ValueTarget
from aitp_gym.agents.critic import ValueCritic
from aitp_gym.agents.seq2seq import torch
from aitp_gym.agents.training import MetricsLogger, TrainResult, TrainSettings, train


@dataclass
class CriticSettings(TrainSettings):
    """Plain (soft) binary cross-entropy; nothing beyond the shared settings."""


def critic_loss(critic: ValueCritic, batch: Sequence[ValueTarget]):
    logits = critic.logits([t.goal for t in batch])
    targets = torch.tensor([t.target for t in batch], dtype=logits.dtype, device=logits.device)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    return loss, {"mae": float((torch.sigmoid(logits.detach()) - targets).abs().mean())}


def train_critic(critic: ValueCritic, targets: Sequence[ValueTarget], settings: CriticSettings | None = None,
                 logger: MetricsLogger | None = None, step_offset: int = 0, progress: bool = True) -> TrainResult:
    settings = settings or CriticSettings()
    return train("critic", critic.model.parameters(), targets, lambda b: critic_loss(critic, b), settings, logger,
                 step_offset, modules=[critic.model], progress=progress)
