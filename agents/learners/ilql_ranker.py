"""ILQL (Snell et al. 2022) on the featurised ranker, from ``Transition`` buffers: ``learners/ilql.py``'s algorithm
with one action per tactic instead of one per token.

The state is a goal and the action a tactic among the goal's candidates (as the ranker enumerates them); the
heads are linear like the ranker (:class:`~aitp_gym.agents.ranker.RankerILQLHeads`, ``policy.ilql_heads``):

* Q_i(goal, tactic) = c · Σ q_i[feature_ids(goal, tactic)], i = 1, 2, and their Polyak-averaged targets;
* V(goal) = c · Σ v[goal_ids(goal)], over the goal's own features;

where c = ``RankerILQLHeads.SCALE`` (0.1) sets the heads' learning rate to a tenth of the policy's (a regression
onto the rewards diverges at the rate the ranker's cross-entropy wants).

Per transition (goal, tactic, reward, next goals, done):

* Q target y = reward + γ · min over the next goals of V(next) (all must be proved: the weakest bounds the
  value), y = reward when done; V(next) is the online V, without gradient;
* Q loss: (Q1 − y)² + (Q2 − y)²;
* V loss: expectile regression (``tau``) of V(goal) towards min_i target-Q_i(goal, tactic);
* CQL (``cql_weight``): the cross-entropy of each Q head's values over the goal's candidates against the tactic
  taken, which keeps the tactics never tried from looking better than the ones that were;
* BC (``bc_weight``): the ranker's own cross-entropy on the tactic taken (the log-softmax of its scores over the
  candidates), so that the policy stays the behaviour policy π_β that the advantage perturbs.

After every step the target Q vectors move ``polyak`` of the way to the online ones. From then on the ranker
proposes by score + β · (min Q − V) (β = ``beta``, saved as the policy's ``ilql_beta``).

Feature ids are computed once per goal and kept for the rest of the call (a goal's transitions share them: the
searcher applies several tactics at each goal it expands); the buffer itself is not featurised up front, because
an ILQL buffer holds every tactic application of a window of rounds (hundreds of thousands of transitions, where
``steps`` × ``batch_size`` are read). A batch scores its goals' candidates for the policy and both Q heads in one
``embedding_bag`` per model.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aitp_gym.agents.buffers import Transition
from aitp_gym.agents.learners.ilql import ILQLSettings
from aitp_gym.agents.ranker import RankerILQLHeads, RankerPolicy, torch
from aitp_gym.agents.training import MetricsLogger, TrainResult, train

nn = torch.nn


@dataclass
class _Goal:
    """A goal's candidate tactics and feature ids, computed once per goal and call."""

    tactics: list[str]
    index: dict[str, int]
    ids: Any
    """``[len(tactics), |G|·|T|]`` pair ids (the policy's and Q's), -1 padding."""
    goal_ids: Any
    """``[|G|]`` goal-feature ids (V's)."""


class Featurised:
    """Each goal's :class:`_Goal`, made on first use. Where the featuriser cannot rebuild a goal's candidates
    from its text (``text``), they are the tactics tried at that goal in the buffer and up to ``max_vocabulary``
    others of the buffer's tactics (a seeded sample), as the ranker's cross-entropy learner does."""

    def __init__(self, policy: RankerPolicy, transitions: Sequence[Transition], max_vocabulary: int = 64,
                 seed: int = 0) -> None:
        self.policy = policy
        self.transitions = transitions
        self.max_vocabulary = max_vocabulary
        self.rng = random.Random(seed)
        self.goals: dict[str, _Goal] = {}
        self.next_goals: dict[str, Any] = {}
        self._tried: dict[str, list[str]] | None = None  # the buffer's tactics by goal, for featurisers that
        self._vocabulary: list[str] = []  # cannot enumerate candidates; made on first need

    def goal(self, text: str, tactic: str) -> _Goal:
        """The goal's candidates and ids, with ``tactic`` among the candidates (it was applied, so it is legal)."""
        found = self.goals.get(text)
        if found is None or tactic not in found.index:
            tactics = self._candidates(text) if found is None else found.tactics
            if tactic not in tactics:
                tactics = [*tactics, tactic]
            found = self.goals[text] = _Goal(tactics, {t: i for i, t in enumerate(tactics)},
                                             self.policy.feature_ids(text, tactics), self.policy.goal_ids(text))
        return found

    def goal_ids(self, text: str) -> Any:
        """A goal's V ids (next goals are often never a transition's goal: the search did not expand them)."""
        found = self.next_goals.get(text)
        if found is None:
            found = self.next_goals[text] = self.policy.goal_ids(text)
        return found

    def _candidates(self, text: str) -> list[str]:
        try:
            return self.policy.candidates(text)
        except ValueError:
            pass
        if self._tried is None:
            self._tried = {}
            for t in self.transitions:
                tried = self._tried.setdefault(t.goal, [])
                if t.tactic not in tried:
                    tried.append(t.tactic)
            self._vocabulary = sorted({t.tactic for t in self.transitions})
        tried = self._tried.get(text, [])
        others = [t for t in self._vocabulary if t not in tried]
        return [*tried, *self.rng.sample(others, min(self.max_vocabulary, len(others)))]


def _sum_at(ids: Any, weights: Any) -> Any:
    """``[rows, 1]``: the policy's scores, each row of ``ids`` summed over ``weights`` ``[dim, 1]`` (-1 ids count
    0), as :meth:`RankerPolicy.score_ids` does; the heads' values are :meth:`RankerILQLHeads.value`."""
    mask = (ids >= 0).to(weights.dtype)
    return nn.functional.embedding_bag(ids.clamp(min=0), weights, mode="sum", per_sample_weights=mask)


def _stack_rows(rows: Sequence[Any]) -> Any:
    """Concatenate ``[n_i, width_i]`` id tensors, padding the widths with -1."""
    width = max(r.shape[1] for r in rows)
    return torch.cat([nn.functional.pad(r, (0, width - r.shape[1]), value=-1) for r in rows])


def _pad_ids(rows: Sequence[Any]) -> Any:
    """``[len(rows), max length]`` from 1-D id tensors, padded with -1."""
    return nn.utils.rnn.pad_sequence(list(rows), batch_first=True, padding_value=-1)


def _expectile(diff: Any, tau: float) -> Any:
    return torch.where(diff > 0, tau, 1 - tau) * diff.pow(2)


def ilql_ranker_loss(policy: RankerPolicy, heads: RankerILQLHeads, featurised: Featurised,
                     batch: Sequence[Transition], s: ILQLSettings):
    for t in batch:  # first, so that each goal's candidates include all of its tactics in the batch
        featurised.goal(t.goal, t.tactic)
    position = {text: i for i, text in enumerate(dict.fromkeys(t.goal for t in batch))}
    unique = [featurised.goals[text] for text in position]
    goals = [unique[position[t.goal]] for t in batch]
    # every candidate of the batch's distinct goals, scored by the policy and both Q heads at once
    sizes = [len(g.tactics) for g in unique]
    ids = _stack_rows([g.ids for g in unique])
    sums = torch.cat([_sum_at(ids, policy.weights[:, None]), heads.value(ids, heads.q1, heads.q2)], 1)
    table = torch.full((len(unique), max(sizes), 3), float("-inf"))  # [goal, candidate, (score, Q1, Q2)]
    mask = torch.arange(max(sizes))[None, :] < torch.tensor(sizes)[:, None]
    table = table.masked_scatter(mask[:, :, None].expand_as(table), sums)
    rows = torch.tensor([position[t.goal] for t in batch])
    taken = torch.tensor([g.index[t.tactic] for g, t in zip(goals, batch, strict=True)])
    scores, q1_all, q2_all = table[rows].unbind(-1)  # [B, candidates]
    q1, q2 = q1_all[torch.arange(len(batch)), taken], q2_all[torch.arange(len(batch)), taken]
    v = heads.value(_pad_ids([g.goal_ids for g in goals]), heads.v).squeeze(1)

    with torch.no_grad():
        taken_ids = _stack_rows([g.ids[i:i + 1] for g, i in zip(goals, taken.tolist(), strict=True)])
        target_q = heads.value(taken_ids, heads.target_q1, heads.target_q2).min(1).values
        y = torch.tensor([t.reward for t in batch], dtype=v.dtype)
        needs = [(i, g) for i, t in enumerate(batch) if not t.done for g in t.next_goals]
        if needs:
            v_next = heads.value(_pad_ids([featurised.goal_ids(g) for _, g in needs]), heads.v).squeeze(1)
            worst = torch.full((len(batch),), float("inf"), dtype=v.dtype)
            worst = worst.scatter_reduce(0, torch.tensor([i for i, _ in needs]), v_next, "amin")
            y = y + s.gamma * torch.where(torch.isinf(worst), torch.zeros_like(worst), worst)

    q_loss = ((q1 - y) ** 2 + (q2 - y) ** 2).mean()
    v_loss = _expectile(target_q - v, s.tau).mean()
    ce = nn.functional.cross_entropy  # -inf pads the smaller candidate sets: probability 0
    cql = ce(q1_all, taken) + ce(q2_all, taken)
    bc = ce(scores, taken)
    loss = q_loss + v_loss + s.cql_weight * cql + s.bc_weight * bc
    advantage = torch.minimum(q1, q2) - v
    return loss, {"q": q_loss.item(), "v": v_loss.item(), "cql": cql.item(), "bc": bc.item(),
                  "mean_v": v.mean().item(), "mean_advantage": advantage.mean().item()}


def train_ilql_ranker(policy: RankerPolicy, transitions: Sequence[Transition], settings: ILQLSettings | None = None,
                      logger: MetricsLogger | None = None, step_offset: int = 0,
                      progress: bool = True) -> TrainResult:
    """Train the ranker's weights (BC) and its ILQL heads (``policy.ilql_heads``, made on first use and kept by
    the policy); from then on the ranker proposes by score + ``settings.beta`` · (min Q − V)."""
    settings = settings or ILQLSettings()
    if policy.ilql_heads is None:
        policy.ilql_heads = RankerILQLHeads.for_policy(policy)
    heads = policy.ilql_heads
    policy.settings = dataclasses.replace(policy.settings, ilql_beta=settings.beta)
    featurised = Featurised(policy, transitions, seed=settings.seed)
    return train("ilql", [policy.weights, heads.q1, heads.q2, heads.v], transitions,
                 lambda b: ilql_ranker_loss(policy, heads, featurised, b, settings), settings, logger, step_offset,
                 after_step=lambda: heads.polyak_update(settings.polyak), progress=progress)
