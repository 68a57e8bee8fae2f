"""A featurised critic: goal features → provability in [0, 1], cheap enough to call at every expansion on a CPU.

:class:`FeatureCritic` reads a goal through the goal features of a ranker featuriser (``aitp_gym.agents.ranker``:
``sr`` on SR-v0, ``text`` word tokens on any env), hashes them with the ranker's crc32 into ``2**dim_log2`` rows,
and sums their embeddings (an ``embedding_bag``):

    linear (hidden = 0):   logit(goal) = b + Σ_{g ∈ G(goal)} w[hash(g)]
    MLP    (hidden = h):   logit(goal) = v · relu(c + Σ_{g ∈ G(goal)} E[hash(g)]) + b,   E: 2**dim_log2 × h

and ``value(goal) = sigmoid(logit)``. A fresh critic gives every goal 0.5 (the output weights start at 0), as
``ConstantCritic`` does. It is trained by the ``critic`` learner (``aitp_gym.agents.learners.critic``) like the
transformer ``ValueCritic``, but wants a much larger learning rate (a linear model over sparse features).

The features of a goal text are computed once and cached (a planner asks again about goals it has seen, and the
learner sees its examples every pass). Like the ranker, it runs on the CPU whatever device it is given.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aitp_gym.agents.models import MODEL_FILE, read_model_file, write_model_file
from aitp_gym.agents.ranker import _hashes, make_featuriser
from aitp_gym.optional import require
from aitp_gym.tree import Goal

torch = require("torch", "the features critic")

WEIGHTS_FILE = "feature_critic.pt"
CACHE_SIZE = 1 << 15
"""Goal texts whose hashed features are kept (the cache is emptied when full)."""


@dataclass
class FeatureCriticSettings:
    """Saved with the checkpoint."""

    featuriser: str = "text"
    """Whose goal features: ``text`` (any env) or an env's featuriser (``sr`` on SR-v0)."""
    dim_log2: int = 16
    """Features are hashed into 2**dim_log2 embedding rows."""
    hidden: int = 0
    """0: a linear model; h > 0: a sum of width-h embeddings, ReLU, a linear layer to the logit."""
    batch_size: int = 256
    """Goals per forward pass in ``value``."""
    seed: int = 0
    """Seeds the random embeddings of an MLP critic (a linear one starts at 0)."""

    def __post_init__(self) -> None:
        if not 4 <= self.dim_log2 <= 26:
            raise ValueError(f"dim_log2 must be in 4..26, not {self.dim_log2}")
        if self.hidden < 0 or self.batch_size < 1:
            raise ValueError(f"hidden must be >= 0 and batch_size >= 1, not {self.hidden} and {self.batch_size}")


class FeatureValueModel(torch.nn.Module):
    """Bags of hashed feature ids → logits of provability (see the module docstring)."""

    def __init__(self, settings: FeatureCriticSettings) -> None:
        super().__init__()
        rows, width = 1 << settings.dim_log2, settings.hidden or 1
        if settings.hidden:
            generator = torch.Generator().manual_seed(settings.seed)
            self.embedding = torch.nn.Parameter(torch.randn(rows, width, generator=generator) * 0.1)
            self.out = torch.nn.Linear(width, 1)
            torch.nn.init.zeros_(self.out.weight)  # a fresh critic says 0.5 everywhere, as the linear one does
            torch.nn.init.zeros_(self.out.bias)
        else:
            self.embedding = torch.nn.Parameter(torch.zeros(rows, 1))
            self.out = None
        self.bias = torch.nn.Parameter(torch.zeros(width))

    def forward(self, ids: Any, offsets: Any) -> Any:
        """One logit per bag; bag i is ``ids[offsets[i]:offsets[i + 1]]``."""
        summed = torch.nn.functional.embedding_bag(ids, self.embedding, offsets, mode="sum") + self.bias
        if self.out is None:
            return summed.squeeze(-1)
        return self.out(torch.relu(summed)).squeeze(-1)


class FeatureCritic:
    """A ``Critic``: ``value(goals)`` → provabilities in [0, 1] from hashed goal features; see the module
    docstring."""

    name = "features"

    def __init__(self, settings: FeatureCriticSettings | None = None, state: dict[str, Any] | None = None) -> None:
        self.settings = settings or FeatureCriticSettings()
        self.featuriser = make_featuriser(self.settings.featuriser)
        self.model = FeatureValueModel(self.settings)
        if state is not None:
            self.model.load_state_dict(state)
        self.model.eval()
        self._ids: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ construction and checkpoints
    @classmethod
    def fresh(cls, featuriser: str = "text", **_: Any) -> FeatureCritic:
        """A fresh critic for the models registry, with the env's featuriser (``EnvTraits.featuriser``)."""
        return cls(FeatureCriticSettings(featuriser=featuriser))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], device: str = "cpu", **settings: Any) -> FeatureCritic:
        """A saved critic (``settings`` override saved ones, e.g. ``batch_size``); it runs on the CPU whatever
        ``device`` says (summing a few dozen embedding rows gains nothing on a GPU)."""
        path = Path(path)
        saved = read_model_file(path)
        if saved is None or saved["kind"] != cls.name or not (path / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(f"{path} is not a features critic checkpoint (no {MODEL_FILE} of kind "
                                    f"{cls.name} and {WEIGHTS_FILE}); save one with FeatureCritic.save_pretrained")
        state = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        return cls(FeatureCriticSettings(**{**saved["settings"], **settings}), state)

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        path = Path(path)
        write_model_file(path, self.name, dataclasses.asdict(self.settings))
        torch.save({k: v.detach().clone() for k, v in self.model.state_dict().items()}, path / WEIGHTS_FILE)

    # ------------------------------------------------------------------ what the learner needs
    def parameters(self) -> list[Any]:
        return list(self.model.parameters())

    def train_modules(self) -> list[Any]:
        return [self.model]

    def feature_ids(self, goals: Sequence[Goal | str]) -> tuple[Any, Any]:
        """``(ids, offsets)`` for ``embedding_bag``: every goal's hashed features, concatenated."""
        rows = [self._goal_ids(g.text if isinstance(g, Goal) else str(g)) for g in goals]
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        offsets = np.zeros(len(rows), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        ids = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return torch.from_numpy(ids), torch.from_numpy(offsets)

    def _goal_ids(self, text: str) -> np.ndarray:
        ids = self._ids.get(text)
        if ids is None:
            if len(self._ids) >= CACHE_SIZE:
                self._ids.clear()
            ids = self._ids[text] = _hashes(self.featuriser.goal(text)) % (1 << self.settings.dim_log2)
        return ids

    def logits(self, goals: Sequence[Goal | str]) -> Any:
        """Logits of provability, one per goal, differentiable in the parameters."""
        return self.model(*self.feature_ids(goals))

    # ------------------------------------------------------------------ Critic
    @torch.no_grad()
    def value(self, goals: Sequence[Goal | str]) -> list[float]:
        out: list[float] = []
        for i in range(0, len(goals), self.settings.batch_size):
            chunk = goals[i:i + self.settings.batch_size]
            if chunk:
                out.extend(torch.sigmoid(self.logits(chunk)).tolist())
        return out
