"""The one small training loop that every learner shares, and the logging interface it writes to.

A learner gives :func:`train` its parameters, its examples and a ``loss_fn(batch) -> (loss, metrics)``; the loop
shuffles (seeded), batches, steps AdamW with gradient clipping, and logs every metric as
``losses/<learner>/<name>`` against a global step. ``after_step`` is for work such as ILQL's Polyak updates.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aitp_gym.optional import require
from aitp_gym.progress import progress as progress_bar

torch = require("torch", "the learners")


@dataclass
class TrainSettings:
    """Settings every learner has."""

    steps: int = 200
    """Optimiser steps."""
    batch_size: int = 32
    """Examples per step."""
    lr: float = 1e-3
    """AdamW learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Clip the gradient's global norm to this (0: no clipping)."""
    seed: int = 0
    """Seed of the shuffling."""
    log_every: int = 10
    """Log the metrics every this many steps (averaged over them)."""

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or self.lr <= 0 or self.log_every < 1:
            raise ValueError("steps must be >= 0, batch_size and log_every >= 1, lr > 0")


class MetricsLogger(Protocol):
    """Where learners write numbers; the loop points it at TensorBoard."""

    def scalar(self, name: str, value: float, step: int) -> None:
        ...


class NullLogger:
    def scalar(self, name: str, value: float, step: int) -> None:
        return None


class MemoryLogger:
    """Keeps every logged value: ``logger.values["losses/seq2seq/loss"] == [(step, value), ...]``."""

    def __init__(self) -> None:
        self.values: dict[str, list[tuple[int, float]]] = defaultdict(list)

    def scalar(self, name: str, value: float, step: int) -> None:
        self.values[name].append((step, float(value)))


class TensorBoardLogger:
    """``torch.utils.tensorboard.SummaryWriter`` behind the ``MetricsLogger`` interface.

    ``keep(tag, step) -> bool`` resumes a run: the events already in ``log_dir`` that it keeps are copied into this
    logger's new event file and the old files are deleted, so the folder holds one file with no step logged twice
    (TensorBoard's own ``purge_step`` cannot do this when tags count steps on different axes, as rounds and
    optimiser steps do). Without ``keep``, a new file is added beside any old ones."""

    def __init__(self, log_dir: str, keep: Callable[[str, int], bool] | None = None, **kwargs: Any) -> None:
        tb = require("torch.utils.tensorboard", "TensorBoard logging")
        old = sorted(Path(log_dir).glob("events.out.tfevents.*")) if keep is not None else []
        self.writer = tb.SummaryWriter(log_dir=log_dir, **kwargs)
        if old:
            self._copy_events(old, keep)

    def _copy_events(self, files: list[Path], keep: Callable[[str, int], bool]) -> None:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

        writer = self.writer._get_file_writer()
        seen = set()  # a resume killed between writing the new file and deleting the old ones leaves copies
        for path in files:
            for event in EventFileLoader(str(path)).Load():
                if not event.HasField("summary"):
                    continue  # the file-version header (the new file has its own)
                values = [v for v in event.summary.value if keep(v.tag, event.step)]
                if not values:
                    continue
                del event.summary.value[:]
                event.summary.value.extend(values)
                key = event.SerializeToString(deterministic=True)
                if key not in seen:
                    seen.add(key)
                    writer.add_event(event, walltime=event.wall_time)
        self.writer.flush()
        for path in files:
            path.unlink()

    def scalar(self, name: str, value: float, step: int) -> None:
        self.writer.add_scalar(name, value, step)

    def text(self, name: str, value: str, step: int = 0) -> None:
        self.writer.add_text(name, value, step)

    def hparams(self, hparams: dict[str, Any], metrics: Sequence[str]) -> None:
        """The run's settings in TensorBoard's HParams tab, with ``metrics`` (scalar tags logged in this run) as
        its columns. Written into this run's one event file (``SummaryWriter.add_hparams`` would start a new
        run folder)."""
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        exp, ssi, sei = hparams_summary(hparams, dict.fromkeys(metrics, 0.0))
        writer = self.writer._get_file_writer()
        for summary in (exp, ssi, sei):
            writer.add_summary(summary)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


@dataclass
class TrainResult:
    steps: int
    losses: list[float]
    """The loss of every step."""
    seconds: float

    @property
    def first_loss(self) -> float:
        return self.losses[0] if self.losses else float("nan")

    @property
    def final_loss(self) -> float:
        """Mean of the last tenth of the steps (at least one)."""
        tail = self.losses[-max(1, len(self.losses) // 10):]
        return sum(tail) / len(tail) if tail else float("nan")


def batches(examples: Sequence[Any], batch_size: int, seed: int) -> Iterable[list[Any]]:
    """Endless seeded reshuffles of ``examples``, cut into batches (the last one of a pass may be short)."""
    if not examples:
        from aitp_gym.agents.learners import NoExamples

        raise NoExamples("no training examples: the buffer is empty")
    rng = random.Random(seed)
    order = list(range(len(examples)))
    while True:
        rng.shuffle(order)
        for i in range(0, len(order), batch_size):
            yield [examples[j] for j in order[i:i + batch_size]]


def train(name: str, parameters: Iterable[Any], examples: Sequence[Any],
          loss_fn: Callable[[list[Any]], tuple[Any, dict[str, float]]], settings: TrainSettings,
          logger: MetricsLogger | None = None, step_offset: int = 0,
          after_step: Callable[[], None] | None = None, modules: Sequence[Any] = (),
          progress: bool = True) -> TrainResult:
    """Run ``settings.steps`` optimiser steps of ``loss_fn`` over ``examples``.

    ``modules`` are put in train mode during the loop and back in eval mode after it. Logged names are
    ``losses/<name>/<metric>`` at global step ``step_offset + step``."""
    logger = logger or NullLogger()
    params = [p for p in parameters if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    for m in modules:
        m.train()
    losses: list[float] = []
    window: dict[str, list[float]] = defaultdict(list)
    started = time.perf_counter()
    stream = batches(examples, settings.batch_size, settings.seed)
    try:
        for step in progress_bar(range(1, settings.steps + 1), desc=f"train {name}", unit="steps",
                                 enabled=progress):
            loss, metrics = loss_fn(next(stream))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if settings.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            optimiser.step()
            if after_step is not None:
                after_step()
            losses.append(float(loss.detach()))
            for key, value in {"loss": losses[-1], **metrics}.items():
                window[key].append(float(value))
            if step % settings.log_every == 0 or step == settings.steps:
                for key, values in window.items():
                    logger.scalar(f"losses/{name}/{key}", sum(values) / len(values), step_offset + step)
                window.clear()
    finally:
        for m in modules:
            m.eval()
    return TrainResult(settings.steps, losses, time.perf_counter() - started)
