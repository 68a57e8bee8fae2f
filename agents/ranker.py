"""A featurised tactic ranker: a linear model over hashed (goal feature × tactic feature) pairs.

The policy of the classic learning-guided provers (TacticToe, ENIGMA, the "learned priors" of Holophrasm), and the
one that learns on a CPU in seconds: :class:`RankerPolicy` scores every tactic a backend enumerates
(``candidate_tactics``, as SR-v0's) by

    score(goal, tactic) = Σ_{g ∈ G(goal), t ∈ T(tactic)} w[hash(g, t)]

and proposes the k best, with log-probabilities renormalised over the candidate set. ``G`` and ``T`` come from a
*featuriser* named in the settings: ``sr`` (SR-v0's numeric shapes of target, residual and ratio, see
``aitp_gym.envs.sr.features``) or ``text`` (word tokens of the goal and the tactic, for any env). The weights are a
2^18-float vector (1 MiB), trained by ``aitp_gym.agents.learners.ranker`` with a softmax over the candidate set.

An untrained ranker scores every candidate 0; ties are broken by a per-goal seeded draw, so it proposes the same
uniformly random k-subset as ``UniformPolicy``: the model-free baseline is the ranker before it has learned.

Unlike the seq2seq policy it can only propose enumerated tactics; it needs a backend (``bind_backend``) or a
featuriser that can rebuild the candidate set from a goal's text (``sr`` can).

ILQL (``aitp_gym.agents.learners.ilql_ranker``) adds :class:`RankerILQLHeads` to the policy (``policy.ilql_heads``):
two Q weight vectors over the same hashed pairs, their Polyak targets, and a V weight vector over hashed goal
features. With heads and ``settings.ilql_beta`` > 0, the ranker proposes by score + β · (min(Q1, Q2) − V).
"""

from __future__ import annotations

import dataclasses
import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aitp_gym.agents.models import MODEL_FILE, ILQLBeta, read_model_file, write_model_file
from aitp_gym.backend import SupportsCandidates
from aitp_gym.optional import require
from aitp_gym.registration import provided, resolve
from aitp_gym.tree import Goal

torch = require("torch", "the ranker policy")

WEIGHTS_FILE = "ranker_weights.pt"
HEADS_FILE = "ranker_ilql.pt"
_MIX = 1_000_003


class Featuriser(Protocol):
    name: str

    def goal(self, text: str) -> list[str]:
        """Feature names of a goal."""

    def tactics(self, text: str, tactics: list[str]) -> list[Sequence[str]]:
        """Feature names of each tactic at this goal (lists or tuples)."""

    def candidates(self, text: str) -> list[str] | None:
        """The candidate tactics of a goal, rebuilt from its text, or None if the featuriser cannot."""

    def tactic_context(self, text: str) -> str:
        """The part of a goal's text that its tactics' features depend on: goals with the same context share their
        tactics' feature ids (the ranker caches them), e.g. SR-v0's expression, or ``""`` when the tactic features
        ignore the goal."""


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_'.]*|\d+|[^\sA-Za-z0-9_]")


class TextFeaturiser:
    """Any env: the goal's word tokens (at most 64 distinct) against the tactic's tokens and its first word."""

    name = "text"

    def goal(self, text: str) -> list[str]:
        return ["bias", *sorted(set(_WORD.findall(text)))[:64]]

    def tactics(self, text: str, tactics: list[str]) -> list[list[str]]:
        out = []
        for tactic in tactics:
            words = _WORD.findall(tactic)
            out.append([f"head={words[0] if words else ''}", *(f"w={w}" for w in sorted(set(words))[:16])])
        return out

    def candidates(self, text: str) -> list[str] | None:
        return None

    def tactic_context(self, text: str) -> str:
        return ""


def make_featuriser(name: str) -> Featuriser:
    """``text`` (any env), or a featuriser a registered environment provides (``EnvTraits.featurisers``, e.g.
    SR-v0's ``sr``)."""
    if name == "text":
        return TextFeaturiser()
    target = provided("featurisers").get(name)
    if target is None:
        raise ValueError(f"unknown featuriser {name!r}; featurisers: {', '.join(['text', *provided('featurisers')])}")
    return resolve(target)()


_HASHED: dict[str, int] = {}
"""crc32 of every feature name seen (featurisers repeat a few thousand names across all goals); bounded."""


def _hash(name: str) -> int:
    value = _HASHED.get(name)
    if value is None:
        if len(_HASHED) > 1_000_000:
            _HASHED.clear()
        value = _HASHED[name] = zlib.crc32(name.encode("utf-8", "surrogatepass"))
    return value


_ROWS: dict[tuple[str, ...], tuple[int, ...]] = {}
"""Hashes of every tactic feature row seen (a few thousand distinct rows recur across goals); bounded."""


def _row_hashes(row: tuple[str, ...]) -> tuple[int, ...]:
    value = _ROWS.get(row)
    if value is None:
        if len(_ROWS) > 200_000:
            _ROWS.clear()
        value = _ROWS[row] = tuple(map(_hash, row))
    return value


def _hashes(names: Sequence[str]) -> np.ndarray:
    return np.fromiter(map(_hash, names), dtype=np.int64, count=len(names))


@dataclass
class RankerSettings:
    """Saved with the checkpoint."""

    featuriser: str = "sr"
    """``sr`` (SR-v0) or ``text`` (any env)."""
    dim_log2: int = 18
    """The weight vector has 2**dim_log2 entries (hashed pairs share entries beyond that)."""
    num_candidates: int = 8
    """k when the planner does not say."""
    seed: int = 0
    """Seeds the tie-breaking draw of equal scores (an untrained ranker's proposals)."""
    ilql_beta: float = 0.0
    """With ILQL heads (trained by the ILQL learner, which sets this to its ``beta``): propose by
    score + β · (min Q − V); 0 turns them off."""


class RankerILQLHeads(torch.nn.Module):
    """ILQL's heads on the ranker (see ``learners/ilql_ranker.py``), linear like the policy: Q1 and Q2 are weight
    vectors over the policy's hashed (goal × tactic) pairs (:meth:`RankerPolicy.feature_ids`), with Polyak-averaged
    targets; V is a weight vector over hashed goal features (:meth:`RankerPolicy.goal_ids`). A value is ``SCALE``
    times the sum of its weights at the ids (:meth:`value`). They belong to the policy (``policy.ilql_heads``):
    saved in its checkpoint (``ranker_ilql.pt``), loaded with it, and used by :meth:`RankerPolicy.propose`.

    ``SCALE`` is the heads' learning rate relative to the policy's, which they train with: Adam moves every weight
    by about the learning rate whatever the gradient's size, so a sum over ~70 weights moves by ~70 × lr a step.
    A cross-entropy saturates and the ranker learns well at lr 0.05; a regression onto rewards of 0.1 to 11 at
    that rate overshoots and diverges (measured: Q loss 30–100 where it falls below 1 at a tenth of the rate).

    V starts at 0; Q1 and Q2 start at small seeded noise (std 1e-3), which only breaks their symmetry: both are
    fitted to the same targets, so from the same start they would stay equal and their min would be no pessimism
    at all."""

    SCALE = 0.1

    def __init__(self, dim: int, seed: int = 0) -> None:
        super().__init__()
        noise = torch.Generator().manual_seed(seed)
        self.q1 = torch.nn.Parameter(torch.randn(dim, generator=noise) * 1e-3)
        self.q2 = torch.nn.Parameter(torch.randn(dim, generator=noise) * 1e-3)
        self.v = torch.nn.Parameter(torch.zeros(dim))
        self.register_buffer("target_q1", self.q1.detach().clone())
        self.register_buffer("target_q2", self.q2.detach().clone())

    @classmethod
    def for_policy(cls, policy: RankerPolicy) -> RankerILQLHeads:
        return cls(1 << policy.settings.dim_log2, policy.settings.seed)

    @torch.no_grad()
    def polyak_update(self, rate: float) -> None:
        for target, online in ((self.target_q1, self.q1), (self.target_q2, self.q2)):
            target.mul_(1 - rate).add_(online, alpha=rate)

    def value(self, ids: Any, *vectors: Any) -> Any:
        """``[rows, len(vectors)]``: ``SCALE`` × the sum of each vector's weights at each row of ``ids`` (-1 ids
        count 0), differentiable in the vectors (e.g. ``value(ids, heads.q1, heads.q2)``)."""
        mask = (ids >= 0).to(vectors[0].dtype)
        return self.SCALE * torch.nn.functional.embedding_bag(ids.clamp(min=0), torch.stack(vectors, 1), mode="sum",
                                                              per_sample_weights=mask)

    def advantages(self, policy: RankerPolicy, text: str, tactics: list[str]) -> Any:
        """min(Q1, Q2) − V of each tactic at the goal (no autograd)."""
        with torch.no_grad():
            q = self.value(policy.feature_ids(text, tactics), self.q1, self.q2).min(1).values
            return q - self.value(policy.goal_ids(text)[None], self.v)[0, 0]


class RankerPolicy(ILQLBeta):
    """A ``TacticPolicy`` over enumerated candidates; see the module docstring."""

    name = "ranker"

    def __init__(self, settings: RankerSettings | None = None, weights: Any = None) -> None:
        self.settings = settings or RankerSettings()
        self.featuriser = make_featuriser(self.settings.featuriser)
        dim = 1 << self.settings.dim_log2
        self.weights = torch.nn.Parameter(torch.zeros(dim) if weights is None else weights.float().clone())
        if self.weights.shape != (dim,):
            raise ValueError(f"weights have shape {tuple(self.weights.shape)}, settings say ({dim},)")
        self._enumerate: Any = None
        self._padded: dict[int, tuple[Any, int, np.ndarray]] = {}  # (vector, version, copy) by id(vector)
        self._tactic_cache: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        self.ilql_heads: RankerILQLHeads | None = None
        """Q and V weight vectors, trained by the ILQL learner; when set (and ``settings.ilql_beta`` > 0),
        :meth:`propose` ranks by the advantage-perturbed scores."""

    # ------------------------------------------------------------------ construction and checkpoints
    @classmethod
    def tiny(cls, featuriser: str = "sr", **settings: Any) -> RankerPolicy:
        """A fresh, untrained ranker (all weights 0)."""
        return cls(RankerSettings(featuriser=featuriser, **settings))

    @classmethod
    def fresh(cls, num_candidates: int = 8, featuriser: str = "text", **_: Any) -> RankerPolicy:
        """A fresh ranker for the models registry, with the env's featuriser (``EnvTraits.featuriser``)."""
        return cls.tiny(featuriser=featuriser, num_candidates=num_candidates)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], device: str = "cpu", **settings: Any) -> RankerPolicy:
        """A saved ranker; it runs on the CPU whatever ``device`` says (a sparse linear model gains nothing on a
        GPU)."""
        path = Path(path)
        saved = read_model_file(path)
        if saved is None or saved["kind"] != cls.name:
            raise FileNotFoundError(f"{path} is not a ranker checkpoint (no {MODEL_FILE} of kind ranker)")
        weights = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        policy = cls(RankerSettings(**{**saved["settings"], **settings}), weights)
        if (path / HEADS_FILE).is_file():  # older checkpoints and checkpoints never trained by ILQL have none
            policy.ilql_heads = RankerILQLHeads.for_policy(policy)
            policy.ilql_heads.load_state_dict(torch.load(path / HEADS_FILE, map_location="cpu", weights_only=True))
        return policy

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        """Settings (``aitp_model.json``), weights and ILQL heads (if any) in the folder ``path``."""
        path = Path(path)
        write_model_file(path, self.name, dataclasses.asdict(self.settings))
        torch.save(self.weights.detach().clone(), path / WEIGHTS_FILE)
        if self.ilql_heads is not None:
            torch.save(self.ilql_heads.state_dict(), path / HEADS_FILE)

    def bind_backend(self, backend: Any) -> None:
        """Take candidates from ``backend.candidate_tactics`` (the loop and ``aitp prove`` call this)."""
        self._enumerate = backend.candidate_tactics if isinstance(backend, SupportsCandidates) else None

    # ------------------------------------------------------------------ TrainablePolicy
    def parameters(self) -> list[Any]:
        return [self.weights]

    def train_modules(self) -> list[Any]:
        return []

    def frozen_copy(self) -> RankerPolicy:
        """A copy that does not train (DPO's frozen reference), ILQL heads included: it proposes as this policy
        does now."""
        copy_ = RankerPolicy(self.settings, self.weights.detach().clone())
        copy_.weights.requires_grad_(False)
        copy_._enumerate = self._enumerate
        if self.ilql_heads is not None:
            copy_.ilql_heads = RankerILQLHeads(len(self.weights))
            copy_.ilql_heads.load_state_dict(self.ilql_heads.state_dict())
            copy_.ilql_heads.requires_grad_(False)
        return copy_

    def sequence_logprobs(self, goals: Sequence[str], tactics: Sequence[str]) -> Any:
        """log π(tactic | goal) for each pair: the log-softmax of the scores over the goal's candidates (the
        tactic added when the enumeration lacks it; where the candidates cannot be rebuilt from the goal's text, the
        tactics asked about at that goal), differentiable in the weights. Pairs at one goal share one scoring."""
        out: list[Any] = [None] * len(goals)
        by_goal: dict[str, list[int]] = {}
        for i, goal in enumerate(goals):
            by_goal.setdefault(goal, []).append(i)
        for goal, rows in by_goal.items():
            try:
                candidates = list(self.candidates(goal))
            except ValueError:  # the featuriser cannot rebuild this goal's candidates: the pairs' own tactics
                candidates = []
            for i in rows:
                if tactics[i] not in candidates:
                    candidates.append(tactics[i])
            logp = torch.log_softmax(self.scores(goal, candidates), 0)
            for i in rows:
                out[i] = logp[candidates.index(tactics[i])]
        return torch.stack(out)

    # ------------------------------------------------------------------ scoring
    def candidates(self, goal: Goal | str) -> list[str]:
        if isinstance(goal, Goal) and self._enumerate is not None:
            return list(self._enumerate(goal))
        text = goal.text if isinstance(goal, Goal) else goal
        found = self.featuriser.candidates(text)
        if found is None:
            raise ValueError(f"the ranker needs candidate tactics: the {self.featuriser.name!r} featuriser cannot "
                             "enumerate them from a goal's text, so call policy.bind_backend(backend) with a "
                             "backend that has candidate_tactics")
        return found

    def feature_ids(self, text: str, tactics: list[str]) -> Any:
        """``[len(tactics), |G|·|T|]`` indices into the weights: every (goal feature, tactic feature) pair."""
        goal = _hashes(self.featuriser.goal(text))
        tac = self._tactic_hashes(text, tactics)
        ids = (tac[:, :, None] * _MIX + goal[None, None, :]) % (1 << self.settings.dim_log2)
        ids = np.where(tac[:, :, None] < 0, -1, ids).reshape(len(tac), -1)
        return torch.from_numpy(ids)

    def goal_ids(self, text: str) -> Any:
        """``[|G|]`` indices of the goal's own features, into a goal-only weight vector (ILQL's V)."""
        return torch.from_numpy(_hashes(self.featuriser.goal(text)) % (1 << self.settings.dim_log2))

    def _tactic_hashes(self, text: str, tactics: list[str]) -> np.ndarray:
        """``[len(tactics), width]`` hashes of each tactic's features (-1 pads), cached by the featuriser's
        ``tactic_context`` and the tactics: the same expression comes up in many searches."""
        key = (self.featuriser.tactic_context(text), tuple(tactics))
        cached = self._tactic_cache.get(key)
        if cached is not None:
            return cached
        rows = [_row_hashes(tuple(row)) for row in self.featuriser.tactics(text, tactics)]
        width = max(map(len, rows), default=0)
        if all(len(row) == width for row in rows):
            tac = np.array(rows, dtype=np.int64).reshape(len(rows), width)
        else:
            tac = np.full((len(rows), width), -1, dtype=np.int64)
            for i, row in enumerate(rows):
                tac[i, :len(row)] = row
        if len(self._tactic_cache) >= 4096:
            self._tactic_cache.pop(next(iter(self._tactic_cache)))  # the oldest entry
        self._tactic_cache[key] = tac
        return tac

    def scores(self, text: str, tactics: list[str]) -> Any:
        """Scores of ``tactics`` at the goal (differentiable in the weights)."""
        return self.score_ids(self.feature_ids(text, tactics))

    def score_ids(self, ids: Any) -> Any:
        """Scores of rows of ``feature_ids``: each the sum of its features' weights (index -1 is padding, weight 0).
        Under autograd, an ``embedding_bag`` sum (differentiable in the weights); otherwise (proposing) a NumPy
        gather from a padded copy of the weights, kept until they change, about 18× faster."""
        if torch.is_grad_enabled() and self.weights.requires_grad:
            mask = (ids >= 0).to(self.weights.dtype)
            return torch.nn.functional.embedding_bag(ids.clamp(min=0), self.weights[:, None], mode="sum",
                                                     per_sample_weights=mask).squeeze(1)
        return torch.from_numpy(np.take(self._padded_weights(), ids.numpy()).sum(-1))

    def _padded_weights(self, vector: Any = None) -> np.ndarray:
        """``vector`` (the weights by default, or an ILQL head's) with a 0 appended (index -1 lands there), rebuilt
        after every in-place update."""
        vector = self.weights if vector is None else vector
        version = vector._version  # torch bumps it on every in-place change (optimiser steps, load_state_dict)
        cached = self._padded.get(id(vector))
        if cached is None or cached[0] is not vector or cached[1] != version:
            values = vector.detach().numpy()
            cached = (vector, version, np.concatenate([values, np.zeros(1, dtype=values.dtype)]))
            if id(vector) not in self._padded and len(self._padded) >= 3:  # replaced heads leave stale entries
                self._padded.clear()
            self._padded[id(vector)] = cached
        return cached[2]


    def proposal_scores(self, text: str, tactics: list[str]) -> Any:
        """What :meth:`propose` ranks by (no autograd): the scores, or with ILQL heads and β > 0 the scores +
        β · min(Q1, Q2). The advantage's − β · V(goal) is left out: it is the same for every tactic at the goal,
        so it changes neither the order nor the log-softmax."""
        ids = self.feature_ids(text, tactics)
        if self.ilql_heads is None or self.beta == 0:
            return self.score_ids(ids)
        ids = ids.numpy()
        score, q1, q2 = (np.take(self._padded_weights(v), ids).sum(-1)
                         for v in (self.weights, self.ilql_heads.q1, self.ilql_heads.q2))
        return torch.from_numpy(score + self.beta * self.ilql_heads.SCALE * np.minimum(q1, q2))

    @torch.no_grad()
    def propose(self, goals: Sequence[Goal | str], k: int | None = None) -> list[list[tuple[str, float]]]:
        k = k or self.settings.num_candidates
        out = []
        for goal in goals:
            text = goal.text if isinstance(goal, Goal) else goal
            tactics = self.candidates(goal)
            if not tactics:
                out.append([])
                continue
            scores = self.proposal_scores(text, tactics)
            logp = torch.log_softmax(scores, 0)
            key = goal.key if isinstance(goal, Goal) else text
            jitter = np.random.default_rng(zlib.crc32(key.encode("utf-8", "surrogatepass")) ^ self.settings.seed)
            order = torch.from_numpy(jitter.random(len(tactics)) * 1e-6) + scores.double()
            top = torch.topk(order, min(k, len(tactics))).indices.tolist()
            out.append([(tactics[i], float(logp[i])) for i in top])
        return out
