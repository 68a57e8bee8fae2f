"""DPO (Rafailov et al. 2023) on preference pairs at the same goal:

    loss = −log σ(β · [(log π(w) − log π(l)) − (log ref(w) − log ref(l))])

The reference is a frozen copy of the policy at the start of training (``reference="frozen"``), or the
log-probabilities recorded in the traces at search time (``reference="recorded"``, no second model).
TRL's ``DPOTrainer`` is not used: it brings its own Trainer, datasets and accelerate stack and cannot take the
recorded search-time log-probabilities as the reference, which is the case this project needs most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aitp_gym.agents.buffers import PreferencePair
from aitp_gym.agents.models import TrainablePolicy
from aitp_gym.agents.training import MetricsLogger, TrainResult, TrainSettings, train
from aitp_gym.optional import require

torch = require("torch", "the DPO learner")


@dataclass
class DPOSettings(TrainSettings):
    beta: float = 0.1
    """β: how far the policy may move from the reference (the paper's default is 0.1)."""
    reference: str = "frozen"
    """``frozen``: a copy of the policy before training; ``recorded``: the search-time log-probabilities."""
    lr: float = 5e-4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reference not in ("frozen", "recorded"):
            raise ValueError(f"reference must be 'frozen' or 'recorded', not {self.reference!r}")
        if self.beta <= 0:
            raise ValueError(f"beta must be positive, not {self.beta}")


def dpo_loss(policy: TrainablePolicy, reference: TrainablePolicy | None, batch: Sequence[PreferencePair],
             beta: float):
    goals = [p.goal for p in batch]
    logp = policy.sequence_logprobs(goals + goals, [p.chosen for p in batch] + [p.rejected for p in batch])
    chosen, rejected = logp[: len(batch)], logp[len(batch):]
    if reference is None:
        ref_chosen = torch.tensor([p.chosen_logprob for p in batch])
        ref_rejected = torch.tensor([p.rejected_logprob for p in batch])
    else:
        with torch.no_grad():
            ref = reference.sequence_logprobs(goals + goals, [p.chosen for p in batch] + [p.rejected for p in batch])
        ref_chosen, ref_rejected = ref[: len(batch)], ref[len(batch):]
    margin = beta * ((chosen - rejected) - (ref_chosen - ref_rejected))
    loss = -torch.nn.functional.logsigmoid(margin).mean()
    return loss, {"accuracy": float((margin > 0).float().mean()), "margin": float(margin.mean().detach())}


def train_dpo(policy: TrainablePolicy, pairs: Sequence[PreferencePair], settings: DPOSettings | None = None,
              logger: MetricsLogger | None = None, step_offset: int = 0, progress: bool = True) -> TrainResult:
    """DPO on any ``TrainablePolicy``: the seq2seq generator (sequence log-probabilities) or the ranker (log-softmax
    over the goal's candidates; it wants a far larger ``lr``, e.g. 0.05, than a transformer)."""
    settings = settings or DPOSettings()
    reference = policy.frozen_copy() if settings.reference == "frozen" else None
    return train("dpo", policy.parameters(), pairs, lambda b: dpo_loss(policy, reference, b, settings.beta),
                 settings, logger, step_offset, modules=policy.train_modules(), progress=progress)
