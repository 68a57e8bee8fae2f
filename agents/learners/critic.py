"""Critic: binary cross-entropy (soft targets allowed) of provability on ``ValueTarget`` buffers. It trains any
critic with differentiable ``logits(goals)``, ``parameters()`` and ``train_modules()``: the transformer
``ValueCritic`` (kind ``value``) and the featurised ``FeatureCritic`` (kind ``features``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aitp_gym.agents.buffers import ValueTarget
from aitp_gym.agents.training import MetricsLogger, TrainResult, TrainSettings, torch, train


class TrainableCritic(Protocol):
    """What the learner needs of a critic, whatever its kind."""

    def parameters(self) -> Iterable[Any]:
        ...

    def train_modules(self) -> list[Any]:
        ...

    def logits(self, goals: Sequence[str]) -> Any:
        """Logits of provability, one per goal, differentiable in the parameters."""


@dataclass
class CriticSettings(TrainSettings):
    """Plain (soft) binary cross-entropy; nothing beyond the shared settings."""


def critic_loss(critic: TrainableCritic, batch: Sequence[ValueTarget]):
    logits = critic.logits([t.goal for t in batch])
    targets = torch.tensor([t.target for t in batch], dtype=logits.dtype, device=logits.device)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    return loss, {"mae": float((torch.sigmoid(logits.detach()) - targets).abs().mean())}


def train_critic(critic: TrainableCritic, targets: Sequence[ValueTarget], settings: CriticSettings | None = None,
                 logger: MetricsLogger | None = None, step_offset: int = 0, progress: bool = True) -> TrainResult:
    settings = settings or CriticSettings()
    return train("critic", critic.parameters(), targets, lambda b: critic_loss(critic, b), settings, logger,
                 step_offset, modules=critic.train_modules(), progress=progress)
