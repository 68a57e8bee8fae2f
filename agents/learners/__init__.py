"""Learners: one module each, reading top to bottom (settings, batch → loss, update) on the shared loop in
``aitp_gym.agents.training``. Each needs the ``learn`` extra (torch, transformers).

``LEARNERS`` is the registry the loop reads: a learner's name, the buffer it reads (a key of
``buffers.build_all``'s result), what it trains (the policy or the critic), its settings dataclass and its train
function, all with one signature: ``train(model, data, settings, logger, step_offset, progress) -> TrainResult``.
A learner with nothing to learn from raises :class:`NoExamples`; the loop says so and skips it. Importing this
module imports no torch: a learner's module is imported when it trains.

Adding a learner: its module (a ``Settings`` dataclass and the train function) and one line in ``LEARNERS`` (or
:func:`register`); which policies it can train is said in ``aitp_gym.agents.models``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aitp_gym.registration import resolve


class NoExamples(ValueError):
    """A learner found nothing to learn from in its buffer (an empty buffer, or no usable example)."""


@dataclass(frozen=True)
class Learner:
    name: str
    buffer: str
    """Which of ``buffers.build_all``'s buffers it reads: seq2seq, dpo, ilql or critic."""
    trains: str
    """``policy`` or ``critic``."""
    settings: str | type
    """Its settings dataclass (a ``TrainSettings``), or ``"module:Class"``."""
    train_fn: str | Callable[..., Any]
    """``train(model, data, settings, logger, step_offset, progress) -> TrainResult``, or ``"module:function"``."""

    def settings_class(self) -> type:
        return resolve(self.settings)

    def Settings(self, **values: Any) -> Any:  # noqa: N802  (it builds the settings dataclass)
        return self.settings_class()(**values)

    def train(self, model: Any, data: Any, settings: Any, logger: Any = None, step_offset: int = 0,
              progress: bool = True) -> Any:
        if not data:
            raise NoExamples(f"no {self.buffer} examples yet")
        return resolve(self.train_fn)(model, data, settings, logger, step_offset, progress)



_HERE = "aitp_gym.agents.learners"
LEARNERS: dict[str, Learner] = {x.name: x for x in [
    Learner("seq2seq", "seq2seq", "policy", f"{_HERE}.seq2seq:Seq2SeqSettings", f"{_HERE}.seq2seq:train_seq2seq"),
    Learner("dpo", "dpo", "policy", f"{_HERE}.dpo:DPOSettings", f"{_HERE}.dpo:train_dpo"),
    Learner("ilql", "ilql", "policy", f"{_HERE}.ilql:ILQLSettings", f"{_HERE}.ilql:train_ilql"),
    Learner("ranker", "seq2seq", "policy", f"{_HERE}.ranker:RankerSettings", f"{_HERE}.ranker:train_ranker"),
    Learner("premise", "seq2seq", "policy", f"{_HERE}.premise:PremiseSettings", f"{_HERE}.premise:train_premise"),
    Learner("knn", "seq2seq", "policy", f"{_HERE}.knn:KNNLearnSettings", f"{_HERE}.knn:train_knn"),
    Learner("critic", "critic", "critic", f"{_HERE}.critic:CriticSettings", f"{_HERE}.critic:train_critic"),
]}


def register(learner: Learner) -> Learner:
    """Add a learner (also from a test or a user's own module)."""
    if learner.trains not in ("policy", "critic"):
        raise ValueError(f"a learner trains the policy or the critic, not {learner.trains!r}")
    LEARNERS[learner.name] = learner
    return learner
