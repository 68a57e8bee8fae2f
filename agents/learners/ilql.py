"""ILQL: Implicit Language Q-Learning (Snell et al. 2022, "Offline RL for Natural Language Generation with
Implicit Language Q Learning"), on the decoder of the seq2seq tactic policy, from ``Transition`` buffers.

Each tactic is a sequence of token actions; the state at token t is (goal, tactic prefix), read off the decoder's
last hidden state h_t. Heads on h_t:

* two Q heads, Q_i(h_t) ∈ R^vocab, and their Polyak-averaged targets (``polyak``); the min of the two is used;
* a V head, V(h_t) ∈ R, fitted by **expectile regression** (``tau``) to the target Q of the token taken.

Bellman targets: inside a tactic the next state is the next token's (no reward, no discount); after the tactic's
last token (EOS) the target is ``reward + gamma · V(next goal)``, where the next goal's V is read at the decoder's
first position, the min over the subgoals (all must be proved: the weakest one bounds the value), and 0 when the
tactic closed the goal or failed. Losses: Q (MSE, both heads), V (expectile), a conservative **CQL** term
(cross-entropy of the Q values against the token taken, ``cql_weight``), and the behaviour-cloning cross-entropy
of the policy's own head (``bc_weight``), which keeps π_β the base of the perturbed decoding.

On the featurised ranker, a tactic is one action: ``learners/ilql_ranker.py``, to which :func:`train_ilql`
hands a :class:`~aitp_gym.agents.ranker.RankerPolicy`.

The heads belong to the policy (``policy.ilql_heads``, :class:`~aitp_gym.agents.seq2seq.ILQLHeads`): this learner
creates them on first use and trains them on, they are saved in the policy's checkpoint and loaded with it, and
:meth:`Seq2SeqPolicy.propose` decodes with advantage-perturbed logits, logits + β · (min_i Q_i − V) (β is
``beta`` here, saved as the policy's ``ilql_beta``), by swapping the model's ``lm_head`` so that ``generate``
(beam search, sampling, ranking) runs unchanged.

Defaults: τ = 0.7, γ = 0.99, CQL weight 0.1, β = 4 — the settings of the paper's reference implementation as
ported to trlx; Polyak 0.005 is the usual soft-target rate (trlx syncs the targets every 10 steps instead).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aitp_gym.agents.buffers import Transition
from aitp_gym.agents.seq2seq import HEADS_FILE, ILQLHeads, Seq2SeqPolicy, torch
from aitp_gym.agents.training import MetricsLogger, TrainResult, TrainSettings, train

__all__ = ["HEADS_FILE", "ILQLHeads", "ILQLSettings", "ilql_loss", "train_ilql"]
nn = torch.nn


@dataclass
class ILQLSettings(TrainSettings):
    tau: float = 0.7
    """Expectile of the V regression (0.5 would be the mean, SARSA-like; towards 1, the max: Q-learning)."""
    gamma: float = 0.99
    """Discount per tactic (tokens inside a tactic are not discounted)."""
    cql_weight: float = 0.1
    """Weight of the conservative term."""
    bc_weight: float = 1.0
    """Weight of the behaviour-cloning cross-entropy on the policy's own head."""
    polyak: float = 0.005
    """Target heads move this fraction of the way to the online heads after every step."""
    beta: float = 4.0
    """Advantage weight at inference (logits + β · (Q − V))."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.tau < 1 or not 0 <= self.gamma <= 1 or not 0 < self.polyak <= 1:
            raise ValueError("ILQL needs 0 < tau < 1, 0 <= gamma <= 1 and 0 < polyak <= 1")


def _decoder_states(policy: Seq2SeqPolicy, goals: list[str], labels: Any = None) -> tuple[Any, Any]:
    """(lm logits, the hidden states the lm head reads) for ``labels`` (teacher forcing), or for the decoder's
    first position when ``labels`` is None."""
    enc = policy.encode_goals(goals)
    model = policy.model
    kwargs: dict[str, Any] = {"labels": labels} if labels is not None else {
        "decoder_input_ids": torch.full((len(goals), 1), model.config.decoder_start_token_id, device=policy.device)}
    out = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, output_hidden_states=True, **kwargs)
    h = out.decoder_hidden_states[-1]
    if getattr(model.config, "tie_word_embeddings", False):  # T5 rescales before a tied lm head
        h = h * model.model_dim ** -0.5
    return out.logits, h


def _expectile(diff: Any, tau: float) -> Any:
    weight = torch.where(diff > 0, torch.full_like(diff, tau), torch.full_like(diff, 1 - tau))
    return weight * diff.pow(2)


def ilql_loss(policy: Seq2SeqPolicy, heads: ILQLHeads, batch: Sequence[Transition], s: ILQLSettings):
    goals = [t.goal for t in batch]
    labels = policy.encode_tactics([t.tactic for t in batch])  # [B, T], -100 after EOS
    mask = labels != -100
    logits, h = _decoder_states(policy, goals, labels)
    actions = labels.clamp(min=0).unsqueeze(-1)

    q1 = heads.q1(h).gather(-1, actions).squeeze(-1)  # Q_i(s_t, a_t)   [B, T]
    q2 = heads.q2(h).gather(-1, actions).squeeze(-1)
    v = heads.v(h).squeeze(-1)  # V(s_t)   [B, T]
    with torch.no_grad():
        target_q = torch.minimum(heads.target_q1(h).gather(-1, actions), heads.target_q2(h).gather(-1, actions))
        target_q = target_q.squeeze(-1)
        # the value after each token: the next token's V inside the tactic, r + γ V(next goal) after EOS
        next_v = torch.zeros_like(v)
        next_v[:, :-1] = v[:, 1:].detach()
        last = mask.sum(-1) - 1  # index of each tactic's EOS
        after = torch.tensor([t.reward for t in batch], dtype=v.dtype, device=v.device)
        needs = [(i, g) for i, t in enumerate(batch) if not t.done for g in t.next_goals]
        if needs:
            _, h_next = _decoder_states(policy, [g for _, g in needs])
            v_next = heads.v(h_next[:, 0]).squeeze(-1)
            best = torch.full((len(batch),), float("inf"), dtype=v.dtype, device=v.device)
            best = best.scatter_reduce(0, torch.tensor([i for i, _ in needs], device=v.device), v_next, "amin")
            after = after + s.gamma * torch.where(torch.isinf(best), torch.zeros_like(best), best)
        rows = torch.arange(len(batch), device=v.device)
        next_v[rows, last] = after
    q_loss = (((q1 - next_v) ** 2 + (q2 - next_v) ** 2) * mask).sum() / mask.sum()
    v_loss = (_expectile(target_q - v, s.tau) * mask).sum() / mask.sum()
    ce = nn.functional.cross_entropy
    flat = labels.view(-1)
    cql = (ce(heads.q1(h).view(-1, heads.q1.out_features), flat, ignore_index=-100)
           + ce(heads.q2(h).view(-1, heads.q2.out_features), flat, ignore_index=-100))
    bc = ce(logits.view(-1, logits.size(-1)), flat, ignore_index=-100)
    loss = q_loss + v_loss + s.cql_weight * cql + s.bc_weight * bc
    return loss, {"q": q_loss.item(), "v": v_loss.item(), "cql": cql.item(), "bc": bc.item(),
                  "mean_v": ((v * mask).sum() / mask.sum()).item()}


def train_ilql(policy: Any, transitions: Sequence[Transition], settings: ILQLSettings | None = None,
               logger: MetricsLogger | None = None, step_offset: int = 0, progress: bool = True) -> TrainResult:
    """Train the policy's model and its ILQL heads (``policy.ilql_heads``, made on first use and kept by the
    policy); from then on the policy proposes with logits + ``settings.beta`` · (Q − V). A ranker policy is
    trained by ``learners/ilql_ranker.py``."""
    settings = settings or ILQLSettings()
    if not isinstance(policy, Seq2SeqPolicy):  # the ranker: one action per tactic
        from aitp_gym.agents.learners.ilql_ranker import train_ilql_ranker

        return train_ilql_ranker(policy, transitions, settings, logger, step_offset, progress)
    if policy.ilql_heads is None:
        policy.ilql_heads = ILQLHeads.for_policy(policy)
    heads = policy.ilql_heads
    policy.settings = dataclasses.replace(policy.settings, ilql_beta=settings.beta)
    params = [*policy.model.parameters(), *heads.parameters()]
    return train("ilql", params, transitions, lambda b: ilql_loss(policy, heads, b, settings), settings, logger,
                 step_offset, after_step=lambda: heads.polyak_update(settings.polyak),
                 modules=[policy.model, heads], progress=progress)
