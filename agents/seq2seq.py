"""A byte-level seq2seq tactic generator: goal text in, k ranked tactics with log-probabilities out.

The model is a ``transformers`` T5 encoder-decoder with the byte-level ByT5 tokenizer (one token per UTF-8 byte,
no vocabulary file), the recipe of ReProver's tactic generator. :meth:`Seq2SeqPolicy.tiny` builds a randomly
initialised ~0.7 M-parameter model that trains on two CPU cores in minutes; :meth:`Seq2SeqPolicy.from_pretrained`
loads a checkpoint saved by :meth:`save_pretrained`, or any local or hub seq2seq checkpoint with a tokenizer (for
example a ReProver tactic generator for Lean, on a machine with hub access; that path is not tested here).

Goals longer than ``max_goal_bytes`` keep their head and tail (see :mod:`aitp_gym.agents.text`).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitp_gym.agents.models import ILQLBeta, read_model_file, write_model_file
from aitp_gym.agents.text import goal_view, model_input
from aitp_gym.backend import SupportsCandidates
from aitp_gym.optional import require
from aitp_gym.tree import Goal

torch = require("torch", "the seq2seq tactic policy")
transformers = require("transformers", "the seq2seq tactic policy")

HEADS_FILE = "ilql_heads.pt"
METHODS = ("beam", "sample", "rank")


@dataclass
class GenerationSettings:
    """How :meth:`Seq2SeqPolicy.propose` decodes. Saved with the checkpoint."""

    num_candidates: int = 8
    """k: candidates per goal when the planner does not say (``tactics_per_expansion``)."""
    method: str = "beam"
    """``beam``: beam search, k beams, the k best distinct sequences; ``sample``: k samples at ``temperature``;
    ``rank``: score every tactic the backend enumerates (``candidate_tactics``, e.g. SR-v0's) and keep the k most
    likely, so that every proposal is legal. Ranking needs the backend: see :meth:`Seq2SeqPolicy.bind_backend`."""
    temperature: float = 1.0
    """Sampling temperature (``method="sample"``)."""
    max_goal_bytes: int = 512
    """Goals longer than this keep their head and tail (UTF-8 bytes; one ByT5 token per byte)."""
    goal_view: str = "full"
    """What the model reads of a goal: ``full`` (its text) or ``sr`` (SR-v0's compact view); see ``agents.text``."""
    max_tactic_bytes: int = 64
    """Longest tactic generated, in bytes."""
    batch_size: int = 32
    """Goals per forward pass; a planner's batch of goals is split into chunks of this size."""
    ilql_beta: float = 4.0
    """With ILQL heads (trained by the ILQL learner): decode with logits + β · (min Q − V); 0 turns them off."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.num_candidates < 1 or self.max_goal_bytes < 8 or self.max_tactic_bytes < 1 or self.batch_size < 1:
            raise ValueError("num_candidates, max_tactic_bytes and batch_size must be positive, max_goal_bytes >= 8")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, not {self.temperature}")
        goal_view("", self.goal_view)  # an unknown view fails here, with the list of views


def tiny_t5_config(vocab_size: int = 384, **overrides: Any) -> Any:
    """A T5 configuration small enough to train on a laptop CPU: 2+2 layers, d_model 128 (~0.7 M parameters)."""
    settings = dict(vocab_size=vocab_size, d_model=128, d_kv=32, d_ff=256, num_layers=2, num_decoder_layers=2,
                    num_heads=4, dropout_rate=0.0, feed_forward_proj="gated-gelu", tie_word_embeddings=True,
                    decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    settings.update(overrides)
    return transformers.T5Config(**settings)


def byte_tokenizer() -> Any:
    """ByT5's tokenizer: bytes + 3 special tokens (pad 0, eos 1, unk 2); it needs no vocabulary file."""
    return transformers.ByT5Tokenizer()


def _texts(goals: Sequence[Goal | str]) -> list[str]:
    return [g.text if isinstance(g, Goal) else str(g) for g in goals]


class Seq2SeqPolicy(ILQLBeta):
    """A ``TacticPolicy``: ``propose(goals, k)`` returns, per goal, up to k ``(tactic, log-probability)`` pairs,
    best first, distinct, from one batched ``generate`` call per chunk of goals."""

    name = "seq2seq"

    def __init__(self, model: Any, tokenizer: Any, settings: GenerationSettings | None = None,
                 device: str = "cpu") -> None:
        self.model = model.to(device)
        self.tokenizer = tokenizer
        self.settings = settings or GenerationSettings()
        self.device = device
        self.model.eval()
        self._enumerate: Any = None
        self.ilql_heads: ILQLHeads | None = None
        """Q and V heads on the decoder, trained by the ILQL learner; when set (and ``settings.ilql_beta`` > 0),
        :meth:`propose` decodes with advantage-perturbed logits."""

    def bind_backend(self, backend: Any) -> None:
        """Use ``backend.candidate_tactics`` as the candidate set of ``method="rank"`` (a no-op for backends that
        cannot enumerate tactics). Planners' callers (the loop, ``aitp prove``) call this for every policy that
        has it."""
        self._enumerate = backend.candidate_tactics if isinstance(backend, SupportsCandidates) else None

    # ------------------------------------------------------------------ construction and checkpoints
    @classmethod
    def tiny(cls, seed: int = 0, settings: GenerationSettings | None = None, device: str = "cpu",
             **config: Any) -> Seq2SeqPolicy:
        """A fresh, randomly initialised tiny model (seeded)."""
        tokenizer = byte_tokenizer()
        torch.manual_seed(seed)
        model = transformers.T5ForConditionalGeneration(tiny_t5_config(len(tokenizer), **config))
        return cls(model, tokenizer, settings, device)

    @classmethod
    def fresh(cls, num_candidates: int = 8, goal_view: str = "full", device: str = "cpu", **_: Any) -> Seq2SeqPolicy:
        """A fresh tiny model for the models registry."""
        return cls.tiny(settings=GenerationSettings(num_candidates=num_candidates, goal_view=goal_view), device=device)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str], device: str = "cpu",
                        **settings: Any) -> Seq2SeqPolicy:
        """Load a checkpoint: a folder written by :meth:`save_pretrained` (with its ILQL heads, if it has any), or
        any seq2seq checkpoint that ``transformers`` can load (a local folder or, with hub access, a hub name).
        ``settings`` override the saved :class:`GenerationSettings`."""
        path = Path(name_or_path)
        saved = read_model_file(path) or {"settings": {}}
        model = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(name_or_path))
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(name_or_path))
        except (OSError, ValueError):  # a bare model folder: our models use the byte tokenizer
            tokenizer = byte_tokenizer()
        policy = cls(model, tokenizer, GenerationSettings(**{**saved["settings"], **settings}), device)
        if (path / HEADS_FILE).is_file():
            policy.ilql_heads = ILQLHeads.for_policy(policy)
            policy.ilql_heads.load_state_dict(torch.load(path / HEADS_FILE, map_location=device, weights_only=True))
        return policy

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        """Write model, tokenizer, generation settings and ILQL heads (if any) to ``path`` (a folder)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        write_model_file(path, self.name, dataclasses.asdict(self.settings))
        if self.ilql_heads is not None:
            torch.save(self.ilql_heads.state_dict(), path / HEADS_FILE)

    # ------------------------------------------------------------------ TrainablePolicy
    def parameters(self) -> Any:
        return self.model.parameters()

    def train_modules(self) -> list[Any]:
        return [self.model]

    def frozen_copy(self) -> Seq2SeqPolicy:
        """A copy that does not train (DPO's frozen reference); the ILQL heads are not copied."""
        copy_ = Seq2SeqPolicy(copy.deepcopy(self.model), self.tokenizer, self.settings, self.device)
        copy_.model.requires_grad_(False)
        return copy_

    # ------------------------------------------------------------------ tensors
    def encode_goals(self, goals: Sequence[Goal | str]) -> Any:
        """Token ids and attention mask of the (truncated) goals, on the model's device."""
        s = self.settings
        texts = [model_input(t, s.goal_view, s.max_goal_bytes) for t in _texts(goals)]
        return self.tokenizer(texts, return_tensors="pt", padding=True).to(self.device)

    def encode_tactics(self, tactics: Sequence[str]) -> Any:
        """Decoder labels for ``tactics`` (padding is -100, ignored by the loss), ending in EOS."""
        enc = self.tokenizer([t[: self.settings.max_tactic_bytes * 4] for t in tactics], return_tensors="pt",
                             padding=True, truncation=True, max_length=self.settings.max_tactic_bytes + 1)
        labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)
        return labels.to(self.device)

    def token_logprobs(self, goals: Sequence[Goal | str], tactics: Sequence[str]) -> tuple[Any, Any]:
        """Per-token log-probabilities of ``tactics`` given ``goals`` (teacher forcing), and the label mask.

        Returns ``(logprobs [B, T], mask [B, T])``; gradients flow (call under ``torch.no_grad()`` to score)."""
        enc = self.encode_goals(goals)
        labels = self.encode_tactics(tactics)
        out = self.model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, labels=labels)
        mask = labels != -100
        logp = torch.log_softmax(out.logits.float(), dim=-1)
        token = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return token * mask, mask

    def sequence_logprobs(self, goals: Sequence[Goal | str], tactics: Sequence[str]) -> Any:
        """log π(tactic | goal) for each pair: the sum over the tactic's tokens, EOS included."""
        token, _ = self.token_logprobs(goals, tactics)
        return token.sum(-1)

    # ------------------------------------------------------------------ TacticPolicy
    @torch.no_grad()
    def propose(self, goals: Sequence[Goal | str], k: int | None = None) -> list[list[tuple[str, float]]]:
        k = k or self.settings.num_candidates
        with self._ilql_logits():
            if self.settings.method == "rank":
                return self._rank(goals, k)
            texts = _texts(goals)
            out: list[list[tuple[str, float]]] = []
            step = self.settings.batch_size
            for i in range(0, len(texts), step):
                out.extend(self._generate(texts[i:i + step], k))
            return out

    @contextlib.contextmanager
    def _ilql_logits(self) -> Iterator[None]:
        """With ILQL heads and β > 0: the model's logits are logits + β · (min Q − V) within the block, by swapping
        the lm head, so that ``generate`` (beam search, sampling) and scoring run unchanged."""
        beta = self.beta
        original = self.model.get_output_embeddings()
        if self.ilql_heads is None or beta == 0 or isinstance(original, _PerturbedHead):
            yield
            return
        self.model.set_output_embeddings(_PerturbedHead(original, self.ilql_heads, beta))
        try:
            yield
        finally:
            self.model.set_output_embeddings(original)

    def _rank(self, goals: Sequence[Goal | str], k: int) -> list[list[tuple[str, float]]]:
        if self._enumerate is None:
            raise ValueError("method='rank' scores the tactics a backend enumerates: call "
                             "policy.bind_backend(env.unwrapped.backend) with a backend that has candidate_tactics, "
                             "or use method='beam' or 'sample'")
        goal_objs = [g for g in goals if isinstance(g, Goal)]
        if len(goal_objs) != len(goals):
            raise TypeError("method='rank' needs Goal objects (the backend enumerates their tactics), not strings")
        candidates = [self._enumerate(g) for g in goal_objs]
        scores = self.score_candidates(goal_objs, candidates)
        out = []
        for tactics, logp in zip(candidates, scores, strict=True):
            if not tactics:
                out.append([])
                continue
            # renormalised over the legal set: a distribution over what can be applied, as planners' priors expect
            t = torch.tensor(logp)
            t = torch.log_softmax(t, dim=0)
            top = torch.topk(t, min(k, len(tactics)))
            out.append([(tactics[i], float(v)) for v, i in zip(top.values.tolist(), top.indices.tolist(),
                                                                strict=True)])
        return out

    @torch.no_grad()
    def score_candidates(self, goals: Sequence[Goal | str], candidates: Sequence[Sequence[str]],
                         chunk: int = 1024) -> list[list[float]]:
        """log π(tactic | goal) for every tactic in ``candidates[i]`` of ``goals[i]``: each goal is encoded once, and
        the decoder scores its candidates in batches of ``chunk`` tactics."""
        was_training = self.model.training
        self.model.eval()
        out: list[list[float]] = [[] for _ in goals]
        step = self.settings.batch_size
        for start in range(0, len(goals), step):
            part = list(range(start, min(start + step, len(goals))))
            enc = self.encode_goals([goals[i] for i in part])
            hidden = self.model.get_encoder()(input_ids=enc.input_ids, attention_mask=enc.attention_mask)
            hidden = hidden.last_hidden_state
            pairs = [(j, t) for j, i in enumerate(part) for t in candidates[i]]
            scores: list[float] = []
            for c in range(0, len(pairs), chunk):
                rows = pairs[c:c + chunk]
                index = torch.tensor([j for j, _ in rows], device=self.device)
                labels = self.encode_tactics([t for _, t in rows])
                logits = self.model(encoder_outputs=(hidden[index],), attention_mask=enc.attention_mask[index],
                                    labels=labels).logits
                mask = labels != -100
                logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, labels.clamp(min=0).unsqueeze(-1))
                scores += (logp.squeeze(-1) * mask).sum(-1).tolist()
            it = iter(scores)
            for i in part:
                out[i] = [next(it) for _ in candidates[i]]
        self.model.train(was_training)
        return out

    def _suppressed(self) -> list[int]:
        """Padding and unknown tokens are never part of a tactic (an untrained model likes padding)."""
        ids = {self.tokenizer.pad_token_id, self.tokenizer.unk_token_id}
        return sorted(i for i in ids if i is not None)

    def _generate(self, texts: list[str], k: int) -> list[list[tuple[str, float]]]:
        if not texts:
            return []
        was_training = self.model.training
        self.model.eval()
        s = self.settings
        enc = self.encode_goals(texts)
        common = dict(input_ids=enc.input_ids, attention_mask=enc.attention_mask, max_new_tokens=s.max_tactic_bytes + 1,
                      num_return_sequences=k, return_dict_in_generate=True, output_scores=True,
                      suppress_tokens=self._suppressed())
        if s.method == "beam":
            # length_penalty 0: sequences_scores is the plain sum of token log-probabilities. early_stopping=False:
            # stop only when no running beam can beat the k-th finished one (exact for sums, which only fall);
            # True would stop at the first k finished beams, so short tactics would crowd out better long ones.
            gen = self.model.generate(**common, num_beams=k, do_sample=False, length_penalty=0.0,
                                      early_stopping=False)
            scores = gen.sequences_scores.tolist()
        else:
            gen = self.model.generate(**common, do_sample=True, temperature=s.temperature, top_k=0, num_beams=1)
            scores = None
        decoded = self.tokenizer.batch_decode(gen.sequences, skip_special_tokens=True)
        finished = (gen.sequences == self.tokenizer.eos_token_id).any(-1).tolist()  # unfinished: cut at max length
        if scores is None:  # samples: score each exactly under the model (temperature 1)
            flat_goals = [t for t in texts for _ in range(k)]
            scores = self.sequence_logprobs(flat_goals, decoded).tolist()
        self.model.train(was_training)
        out = []
        for j in range(len(texts)):
            best: dict[str, float] = {}
            rows = range(j * k, (j + 1) * k)
            for tactic, score, done in zip([decoded[r] for r in rows], [scores[r] for r in rows],
                                           [finished[r] for r in rows], strict=True):
                tactic = tactic.strip()
                if done and tactic and score > best.get(tactic, float("-inf")):
                    best[tactic] = float(score)
            out.append(sorted(best.items(), key=lambda kv: -kv[1]))
        return out


class ILQLHeads(torch.nn.Module):
    """ILQL's heads on the decoder's hidden states (see ``learners/ilql.py``): Q1, Q2 over the vocabulary, their
    Polyak-averaged targets, and V. They belong to the policy (``policy.ilql_heads``): saved in its checkpoint,
    loaded with it, and used by :meth:`Seq2SeqPolicy.propose`."""

    def __init__(self, hidden: int, vocab: int) -> None:
        super().__init__()
        nn = torch.nn
        self.q1, self.q2 = nn.Linear(hidden, vocab), nn.Linear(hidden, vocab)
        self.v = nn.Linear(hidden, 1)
        self.target_q1, self.target_q2 = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        for p in [*self.target_q1.parameters(), *self.target_q2.parameters()]:
            p.requires_grad_(False)

    @classmethod
    def for_policy(cls, policy: Seq2SeqPolicy) -> ILQLHeads:
        lm = policy.model.get_output_embeddings()
        return cls(lm.in_features, lm.out_features).to(policy.device)

    @torch.no_grad()
    def polyak_update(self, rate: float) -> None:
        for target, online in ((self.target_q1, self.q1), (self.target_q2, self.q2)):
            for t, o in zip(target.parameters(), online.parameters(), strict=True):
                t.mul_(1 - rate).add_(o, alpha=rate)

    def advantage(self, h: Any) -> Any:
        """min_i Q_i(h) − V(h), per vocabulary entry."""
        return torch.minimum(self.q1(h), self.q2(h)) - self.v(h)


class _PerturbedHead(torch.nn.Module):
    def __init__(self, lm_head: Any, heads: ILQLHeads, beta: float) -> None:
        super().__init__()
        self.lm_head, self.heads, self.beta = lm_head, heads, beta
        self.weight = lm_head.weight  # what generation utilities may look at

    @property
    def in_features(self) -> int:
        return self.lm_head.in_features

    @property
    def out_features(self) -> int:
        return self.lm_head.out_features

    def forward(self, h: Any) -> Any:
        return self.lm_head(h) + self.beta * self.heads.advantage(h)
