"""A DeepHOL-style tactic-and-premise model for HOList-v0, as a ``TacticPolicy``.

Two towers embed text: a **goal encoder** (hypotheses and conclusion) and a **premise encoder** (database
theorems). On top of the goal embedding sit

* a **tactic classifier** over the grammar's tactic names (the 41 HOList tactics and the extra ones the grammar
  allows, in ``grammar.TACTICS`` order), and
* a **premise ranker**: ``score(goal, theorem) = <W g, p> / sqrt(d)``, a bilinear form, so that the embeddings of
  all ~3,000 database theorems are computed once and a batch of goals is scored against all of them with one matrix
  product. Only theorems *before* the goal's theorem in load order are allowed (``goal.data.theorem_index``; a
  goal without HOList data, such as a user statement, may use the whole database). The scores are turned into a
  distribution ``q(theorem | goal)`` by a softmax over the allowed theorems.

Encoders (``HOListModelSettings.encoder``):

* ``"bag"`` (default) — hashed bags of HOL tokens: identifiers, numerals and symbol runs, unigrams and bigrams,
  tagged by whether they occur in a hypothesis or in the conclusion, hashed (CRC-32, stable across processes) into
  ``buckets`` rows of an ``EmbeddingBag`` (mean), then a residual MLP and a LayerNorm. Embedding the whole
  database takes ~0.3 s on one CPU core (tokenising included; the tokens are kept, so a re-embedding after a
  training step costs less), and ``propose(k=8)`` ~2–5 ms for one goal, ~3–10 ms for a batch of 8.
* ``"t5"`` — a tiny byte-level T5 encoder (``T5EncoderModel`` from :func:`~aitp_gym.agents.seq2seq.tiny_t5_config`,
  the ByT5 tokenizer, mean pooling), one per tower. It reads structure the bag cannot, but on the shared two-core
  CPU this was written on, embedding the database takes ~36 s (2 layers, d 128, one thread) and ``propose(k=8)``
  ~50 ms for one goal, ~270 ms for 8; every training step invalidates the ~36 s cache. Hence not the default.

Timings are with ``torch.set_num_threads(1)``; on a busy machine two intra-op threads were 5–20× slower for these
tiny matrices. ``python -m aitp_gym.agents.holist_model`` prints them for both encoders.

Premise embeddings are cached and recomputed when the premise encoder's weights change: the cache key is each
parameter's identity and in-place version counter, which every optimiser step and ``load_state_dict`` bump.
:meth:`HOListPolicy.invalidate_cache` drops it explicitly.

How ``propose(goals, k)`` forms candidates (all in the HOList-v0 grammar, checked by ``parse_tactic``), with
``log p(t)`` the classifier's log-probability renormalised over the tactics that can be emitted:

* no arguments (``ARITH_TAC``, ``CONJ_TAC``, ...): ``log p(t)``;
* one theorem (``MP_TAC A``, ``MATCH_MP_TAC A``, ...): one candidate for each of the ``premise_choices`` best
  allowed theorems, ``log p(t) + log q(A)``; ``LABEL_TAC`` uses the fixed label ``"h"``;
* a theorem list (``REWRITE_TAC``, ``MESON_TAC``, ``SIMP_TAC``, ...): one candidate, the ``premises_per_list`` best
  allowed theorems in score order, ``log p(t) + log q(list)`` where ``q(list)`` is the list's total premise
  probability (the chance that the premise the goal needs is in it); with no allowed theorem, the empty list;
* ``RAW_POP_TAC n``: every assumption index of the goal, ``log p(t) − log(#assumptions)``;
* tactics with term, conversion or conversional arguments (``EXISTS_TAC``, ``X_GEN_TAC``, ``SPEC_TAC``,
  ``CONV_TAC``, ``GEN_REWRITE_TAC``, ...) are **skipped**: this model has no term generator. The classifier still
  learns them from data; their mass is removed by the renormalisation.

The k best candidates over all tactics are returned, best first (ties broken by the tactic string).
"""

from __future__ import annotations

import copy
import dataclasses
import glob
import gzip
import json
import math
import os
import re
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitp_gym.agents.models import MODEL_FILE, read_model_file, write_model_file
from aitp_gym.agents.text import truncate_goal
from aitp_gym.envs.holist.backend import HOLGoal, goal_text
from aitp_gym.envs.holist.database import SHIPPED_DIR, TheoremDatabase, load_database
from aitp_gym.envs.holist.grammar import INT, LABEL, TACTICS, THM, THMS, TacticSyntaxError, parse_tactic
from aitp_gym.optional import require
from aitp_gym.tree import Goal

torch = require("torch", "the HOList tactic-and-premise model")

WEIGHTS_FILE = "holist_model.pt"
ENCODERS = ("bag", "t5")
EMITTABLE = frozenset({(), (THM,), (THMS,), (INT,), (LABEL, THM)})
"""Parameter signatures ``propose`` can fill in; tactics with term or conversion arguments are skipped."""
FIXED_LABEL = "h"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
_HOL_TOKENS = re.compile(r"[A-Za-z_][A-Za-z0-9_']*|\d+|[()]|[^\sA-Za-z0-9_()]+")


# ---------------------------------------------------------------------------------------------- database and goals
def shipped_database() -> TheoremDatabase:
    """The theorem database without a prover: ``load_database()`` (the cache for the installed HOL Light, or the
    copy shipped in ``envs/holist/data``), or, when no HOL Light is installed (its version is then unknown), the
    newest shipped copy."""
    try:
        return load_database()
    except FileNotFoundError:
        files = sorted(glob.glob(str(SHIPPED_DIR / "theorems-*.json.gz")))
        if not files:
            raise
        data = json.loads(gzip.decompress(Path(files[-1]).read_bytes()))
        return TheoremDatabase(data["version"], data["theorems"])


def database_goal(db: TheoremDatabase, name_or_index: str | int) -> Goal:
    """The root goal of a database theorem, exactly as ``HOListBackend.start`` builds it (no prover needed)."""
    entry = db.entries[name_or_index] if isinstance(name_or_index, int) else db.by_name[name_or_index]
    return Goal(goal_text((), entry["text"]), entry["sexp"],
                HOLGoal(entry["sexp"], entry["index"], (), entry["text"]))


def theorem_bound(goal: Goal | str, n_theorems: int) -> int:
    """How many database theorems (a prefix in load order) a goal may use as premises."""
    data = goal.data if isinstance(goal, Goal) else None
    if isinstance(data, HOLGoal):
        return max(0, min(int(data.theorem_index), n_theorems))
    return n_theorems


def goal_hyps(goal: Goal | str) -> tuple[str, ...]:
    data = goal.data if isinstance(goal, Goal) else None
    return data.hyps if isinstance(data, HOLGoal) else ()


def _text(goal: Goal | str) -> str:
    return goal.text if isinstance(goal, Goal) else str(goal)


# ---------------------------------------------------------------------------------------------- settings
@dataclass
class HOListModelSettings:
    """Architecture and decoding settings. Saved with the checkpoint."""

    encoder: str = "bag"
    """``bag`` (hashed HOL-token bags, fast) or ``t5`` (tiny byte-level T5 encoders, slow on CPU)."""
    dim: int = 128
    """Embedding width of both towers."""
    buckets: int = 1 << 14
    """Hash buckets of the bag encoder (the database's conclusions have ~4,900 distinct features)."""
    t5_config: dict = field(default_factory=lambda: {"num_layers": 2, "d_ff": 256, "d_kv": 32, "num_heads": 4})
    """Overrides of ``tiny_t5_config`` for the ``t5`` encoder (``d_model`` is ``dim``)."""
    max_goal_bytes: int = 1024
    """Goals longer than this keep head and tail (``aitp_gym.agents.text.truncate_goal``)."""
    max_premise_bytes: int = 512
    """The same for database theorems."""
    num_candidates: int = 8
    """k when the planner does not say."""
    premises_per_list: int = 4
    """Theorems in the list of ``REWRITE_TAC [...]``, ``MESON_TAC [...]``, ..."""
    premise_choices: int = 4
    """Candidates per one-theorem tactic (``MP_TAC A``): one for each of this many best theorems."""
    batch_size: int = 64
    """Goals per forward pass; premise embeddings are computed in chunks of 4× this."""
    tactics: tuple[str, ...] = tuple(TACTICS)
    """The classifier's classes, in order (the grammar's tactic names)."""

    def __post_init__(self) -> None:
        self.tactics = tuple(self.tactics)
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, not {self.encoder!r}")
        unknown = [t for t in self.tactics if t not in TACTICS]
        if unknown or not self.tactics:
            raise ValueError(f"tactics must be non-empty names from grammar.TACTICS; unknown: {unknown}")
        if min(self.dim, self.buckets, self.num_candidates, self.premises_per_list, self.premise_choices,
               self.batch_size) < 1 or min(self.max_goal_bytes, self.max_premise_bytes) < 8:
            raise ValueError("sizes must be positive and byte budgets at least 8")


# ---------------------------------------------------------------------------------------------- encoders
def hol_features(text: str, buckets: int) -> list[int]:
    """Hashed HOL-token unigrams and bigrams, tagged ``h`` (hypotheses) or ``c`` (the conclusion after ``⊢``)."""
    hyps, sep, concl = text.rpartition("⊢")
    if not sep:
        hyps, concl = "", text
    feats = []
    for part, tag in ((hyps, "h"), (concl, "c")):
        prev = None
        for tok in _HOL_TOKENS.findall(part):
            feats.append(f"{tag} {tok}")
            if prev is not None:
                feats.append(f"{tag} {prev} {tok}")
            prev = tok
    return [zlib.crc32(f.encode()) % buckets for f in feats]


class BagEncoder(torch.nn.Module):
    """Mean of hashed token embeddings, a residual MLP and a LayerNorm."""

    def __init__(self, settings: HOListModelSettings, max_bytes: int) -> None:
        super().__init__()
        self.buckets, self.max_bytes = settings.buckets, max_bytes
        d = settings.dim
        self.bag = torch.nn.EmbeddingBag(settings.buckets, d, mode="mean")
        self.mlp = torch.nn.Sequential(torch.nn.Linear(d, 2 * d), torch.nn.GELU(), torch.nn.Linear(2 * d, d))
        self.norm = torch.nn.LayerNorm(d)

    def prepare(self, texts: Sequence[str]) -> tuple[Any, Any]:
        ids: list[int] = []
        offsets: list[int] = []
        for t in texts:
            offsets.append(len(ids))
            ids.extend(hol_features(truncate_goal(t, self.max_bytes), self.buckets))
        return torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)

    def forward(self, inputs: tuple[Any, Any]) -> Any:
        ids, offsets = inputs
        x = self.bag(ids.to(self.bag.weight.device), offsets.to(self.bag.weight.device))
        return self.norm(x + self.mlp(x))

    @staticmethod
    def select(inputs: tuple[Any, Any], rows: Sequence[int]) -> tuple[Any, Any]:
        ids, offsets = inputs
        ends = torch.cat([offsets[1:], torch.tensor([len(ids)])])
        parts = [ids[offsets[r]:ends[r]] for r in rows]
        new_offsets = torch.tensor([0] + [len(p) for p in parts[:-1]], dtype=torch.long).cumsum(0)
        return (torch.cat(parts) if parts else ids[:0]), new_offsets


class T5TextEncoder(torch.nn.Module):
    """A tiny byte-level T5 encoder, mean-pooled."""

    def __init__(self, settings: HOListModelSettings, max_bytes: int) -> None:
        super().__init__()
        from aitp_gym.agents.seq2seq import byte_tokenizer, tiny_t5_config, transformers

        self.tokenizer = byte_tokenizer()
        self.max_bytes = max_bytes
        config = tiny_t5_config(len(self.tokenizer), **{**settings.t5_config, "d_model": settings.dim})
        self.t5 = transformers.T5EncoderModel(config)

    def prepare(self, texts: Sequence[str]) -> list[str]:
        return [truncate_goal(t, self.max_bytes) for t in texts]

    def forward(self, texts: list[str]) -> Any:
        device = next(self.t5.parameters()).device
        enc = self.tokenizer(texts, return_tensors="pt", padding=True).to(device)
        hidden = self.t5(input_ids=enc.input_ids, attention_mask=enc.attention_mask).last_hidden_state
        mask = enc.attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    @staticmethod
    def select(inputs: list[str], rows: Sequence[int]) -> list[str]:
        return [inputs[r] for r in rows]


def make_encoder(settings: HOListModelSettings, max_bytes: int) -> Any:
    return BagEncoder(settings, max_bytes) if settings.encoder == "bag" else T5TextEncoder(settings, max_bytes)


class HOListNet(torch.nn.Module):
    """Goal tower, premise tower, tactic classifier and the bilinear premise scorer."""

    def __init__(self, settings: HOListModelSettings) -> None:
        super().__init__()
        d = settings.dim
        self.goal_encoder = make_encoder(settings, settings.max_goal_bytes)
        self.premise_encoder = make_encoder(settings, settings.max_premise_bytes)
        self.tactic_head = torch.nn.Sequential(torch.nn.Linear(d, d), torch.nn.GELU(),
                                               torch.nn.Linear(d, len(settings.tactics)))
        self.query = torch.nn.Linear(d, d)
        self.scale = 1.0 / math.sqrt(d)

    def premise_scores(self, goal_emb: Any, premise_emb: Any) -> Any:
        """``[B, d] x [N, d] -> [B, N]`` premise scores (logits)."""
        return self.query(goal_emb) @ premise_emb.T * self.scale


# ---------------------------------------------------------------------------------------------- the policy
class HOListPolicy:
    """A ``TacticPolicy`` for HOList-v0: ``propose(goals, k)`` → per goal up to k ``(tactic, log-probability)``,
    best first, every tactic accepted by ``grammar.parse_tactic`` and using only premises allowed for its goal."""

    name = "holist-premise"

    def __init__(self, net: HOListNet, settings: HOListModelSettings, database: TheoremDatabase | None = None,
                 device: str = "cpu") -> None:
        self.settings = settings
        self.database = database if database is not None else shipped_database()
        self.net = net.to(device)
        self.net.eval()
        self.device = device
        self.premise_names = [e["name"] for e in self.database.entries]
        self.premise_index = {n: i for i, n in enumerate(self.premise_names)}
        # theorems whose names the grammar cannot spell (e.g. "Hashek.hashek_def") are never proposed
        self._unusable = torch.tensor([not _NAME.fullmatch(n) for n in self.premise_names], dtype=torch.bool)
        self._premise_inputs: Any = None  # tokenised database, independent of the weights
        self._cache: tuple[tuple, Any] | None = None
        self.tactic_index = {t: i for i, t in enumerate(settings.tactics)}
        self._emittable = torch.tensor([TACTICS[t] in EMITTABLE for t in settings.tactics], dtype=torch.bool)
        self._by_text: dict[str, int] | None = None

    # ------------------------------------------------------------------ construction and checkpoints
    @classmethod
    def tiny(cls, seed: int = 0, database: TheoremDatabase | None = None, device: str = "cpu",
             **settings: Any) -> HOListPolicy:
        """A fresh, randomly initialised model (seeded); ``settings`` are :class:`HOListModelSettings` fields."""
        s = HOListModelSettings(**settings)
        torch.manual_seed(seed)
        return cls(HOListNet(s), s, database, device)

    @classmethod
    def fresh(cls, num_candidates: int = 8, device: str = "cpu", **_: Any) -> HOListPolicy:
        """A fresh model for the models registry."""
        return cls.tiny(num_candidates=num_candidates, device=device)

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        """Write the settings (``aitp_model.json``) and the weights (a torch state dict) to the folder ``path``."""
        path = Path(path)
        write_model_file(path, "holist", dataclasses.asdict(self.settings), database_version=self.database.version,
                         database_size=len(self.database.entries))
        torch.save(self.net.state_dict(), path / WEIGHTS_FILE)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], database: TheoremDatabase | None = None,
                        device: str = "cpu", **overrides: Any) -> HOListPolicy:
        """Load a folder written by :meth:`save_pretrained`; ``overrides`` change decoding settings such as
        ``num_candidates`` or ``premises_per_list``."""
        path = Path(path)
        meta = read_model_file(path)
        if meta is None or meta["kind"] != "holist" or not (path / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(f"{path} is not a HOList model checkpoint (needs {MODEL_FILE} of kind holist and "
                                    f"{WEIGHTS_FILE}); save one with HOListPolicy.save_pretrained")
        settings = HOListModelSettings(**{**meta["settings"], **overrides})
        net = HOListNet(settings)
        net.load_state_dict(torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True))
        return cls(net, settings, database, device)

    # ------------------------------------------------------------------ embeddings
    def _cache_key(self) -> tuple:
        return tuple((id(p), p._version) for p in self.net.premise_encoder.parameters())

    def invalidate_cache(self) -> None:
        self._cache = None

    @torch.no_grad()
    def premise_embeddings(self) -> Any:
        """``[N, d]`` embeddings of every database theorem, cached until the premise encoder's weights change."""
        key = self._cache_key()
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        enc = self.net.premise_encoder
        if self._premise_inputs is None:
            self._premise_inputs = enc.prepare([e["text"] for e in self.database.entries])
        was_training = self.net.training
        self.net.eval()
        n = len(self.premise_names)
        order = sorted(range(n), key=lambda i: len(self.database.entries[i]["text"]))  # little padding for T5
        chunk = 4 * self.settings.batch_size
        out = torch.empty(n, self.settings.dim, device=self.device)
        for i in range(0, n, chunk):
            rows = order[i:i + chunk]
            out[torch.tensor(rows, device=self.device)] = enc(enc.select(self._premise_inputs, rows))
        self.net.train(was_training)
        self._cache = (key, out)
        return out

    def premise_inputs(self, rows: Sequence[int]) -> Any:
        """Encoder inputs of some database theorems (for training with gradients)."""
        enc = self.net.premise_encoder
        if self._premise_inputs is None:
            self._premise_inputs = enc.prepare([e["text"] for e in self.database.entries])
        return enc.select(self._premise_inputs, list(rows))

    def goal_embeddings(self, goals: Sequence[Goal | str]) -> Any:
        enc = self.net.goal_encoder
        return enc(enc.prepare([_text(g) for g in goals]))

    def bound_of(self, goal: Goal | str) -> int:
        """Premises allowed for ``goal``: the theorems before its theorem (HOList goals); a root goal given as plain
        text ``⊢ <database statement>`` is looked up by its statement (the earliest such theorem); anything else
        may use the whole database."""
        n = len(self.premise_names)
        if isinstance(goal, Goal) and isinstance(goal.data, HOLGoal):
            return theorem_bound(goal, n)
        index = self.statement_index(_text(goal))
        return n if index is None else index

    def statement_index(self, text: str) -> int | None:
        """The earliest database theorem whose root goal text is ``text`` (``⊢ <statement>``), if any."""
        if not text.startswith("⊢ "):
            return None
        if self._by_text is None:
            self._by_text = {}
            for e in self.database.entries:
                self._by_text.setdefault(e["text"], e["index"])
        return self._by_text.get(text[2:])

    def allowed_mask(self, goals: Sequence[Goal | str]) -> Any:
        """``[B, N]``: True where the theorem may be used for the goal."""
        n = len(self.premise_names)
        bounds = torch.tensor([self.bound_of(g) for g in goals], device=self.device)
        mask = torch.arange(n, device=self.device).unsqueeze(0) < bounds.unsqueeze(1)
        return mask & ~self._unusable.to(self.device).unsqueeze(0)

    # ------------------------------------------------------------------ TrainablePolicy
    UNPROPOSABLE = -50.0
    """``sequence_logprobs`` of a tactic the model cannot propose (outside its classes or with arguments it does not
    choose): a constant, so that a preference against such a tactic moves only the other side."""

    def parameters(self) -> list[Any]:
        return list(self.net.parameters())

    def train_modules(self) -> list[Any]:
        return [self.net]

    def frozen_copy(self) -> HOListPolicy:
        net = copy.deepcopy(self.net)
        net.requires_grad_(False)
        return HOListPolicy(net, self.settings, self.database, self.device)

    def sequence_logprobs(self, goals: Sequence[Goal | str], tactics: Sequence[str]) -> Any:
        """log π(tactic | goal) as :meth:`propose` scores it: the tactic class's log-softmax, plus a premise's
        log-softmax over the theorems allowed for the goal, or a premise list's log-sum-exp of its members', or
        −log(hypotheses) for an assumption number. Differentiable in the goal tower and the heads (the premise
        embeddings are the cached ones, as when proposing; the ``premise`` learner trains that tower). A tactic the
        model cannot propose gets :attr:`UNPROPOSABLE`."""
        g = self.goal_embeddings(goals)
        logits = self.net.tactic_head(g).masked_fill(~self._emittable.to(g.device), float("-inf"))
        tactic_lp = torch.log_softmax(logits, dim=-1)
        mask = self.allowed_mask(goals)
        scores = self.net.premise_scores(g, self.premise_embeddings()).masked_fill(~mask, float("-inf"))
        premise_lp = torch.log_softmax(scores, dim=-1)
        out = []
        for i, (goal, tactic) in enumerate(zip(goals, tactics, strict=True)):
            lp = self._logprob(tactic, len(goal_hyps(goal)), tactic_lp[i], premise_lp[i], mask[i])
            out.append(lp if lp is not None else torch.tensor(self.UNPROPOSABLE, device=g.device))
        return torch.stack(out)

    def _logprob(self, tactic: str, n_hyps: int, tactic_lp: Any, premise_lp: Any, allowed: Any) -> Any:
        try:
            call = parse_tactic(tactic)
        except TacticSyntaxError:
            return None
        cls = self.tactic_index.get(call.name)
        if cls is None or not bool(self._emittable[cls]):
            return None
        kinds, lp = TACTICS[call.name], tactic_lp[cls]
        names = call.args[-1] if kinds == (THMS,) else call.args[-1:] if kinds in ((THM,), (LABEL, THM)) else ()
        if not all(isinstance(n, str) for n in names):  # a theorem expression (GSYM ...): never proposed
            return None
        rows = [self.premise_index.get(n) for n in names]
        if any(r is None or not bool(allowed[r]) for r in rows):
            return None
        if kinds == ():
            return lp
        if kinds == (THMS,):
            return lp + torch.logsumexp(premise_lp[rows], 0) if rows else lp
        if kinds in ((THM,), (LABEL, THM)):
            return lp + premise_lp[rows[0]]
        if kinds == (INT,) and 0 <= call.args[0] < n_hyps:
            return lp - math.log(n_hyps)
        return None

    # ------------------------------------------------------------------ TacticPolicy
    @torch.no_grad()
    def propose(self, goals: Sequence[Goal | str], k: int | None = None) -> list[list[tuple[str, float]]]:
        k = k or self.settings.num_candidates
        out: list[list[tuple[str, float]]] = []
        step = self.settings.batch_size
        for i in range(0, len(goals), step):
            out.extend(self._propose(list(goals[i:i + step]), k))
        return out

    def _propose(self, goals: list[Goal | str], k: int) -> list[list[tuple[str, float]]]:
        if not goals:
            return []
        s = self.settings
        was_training = self.net.training
        self.net.eval()
        try:
            premises = self.premise_embeddings()
            g = self.goal_embeddings(goals)
            logits = self.net.tactic_head(g).masked_fill(~self._emittable.to(g.device), float("-inf"))
            tactic_lp = torch.log_softmax(logits, dim=-1).cpu()
            mask = self.allowed_mask(goals)
            scores = self.net.premise_scores(g, premises).masked_fill(~mask, float("-inf"))
            premise_lp = torch.log_softmax(scores, dim=-1)
            allowed = mask.sum(-1)
            m = min(max(s.premises_per_list, s.premise_choices), premise_lp.shape[1])
            top_lp, top_idx = premise_lp.topk(m, dim=-1) if m else (premise_lp[:, :0], premise_lp[:, :0].long())
            top_lp, top_idx, allowed = top_lp.cpu().tolist(), top_idx.cpu().tolist(), allowed.cpu().tolist()
        finally:
            self.net.train(was_training)
        out = []
        for j, goal in enumerate(goals):
            n_ok = min(allowed[j], m)
            names = [self.premise_names[i] for i in top_idx[j][:n_ok]]
            lps = top_lp[j][:n_ok]
            out.append(self._candidates(tactic_lp[j].tolist(), names, lps, len(goal_hyps(goal)), k))
        return out

    def _candidates(self, tactic_lp: list[float], names: list[str], lps: list[float], n_hyps: int,
                    k: int) -> list[tuple[str, float]]:
        s = self.settings
        cands: list[tuple[str, float]] = []
        lst = names[:s.premises_per_list]
        list_lp = float(torch.logsumexp(torch.tensor(lps[:s.premises_per_list]), 0)) if lst else 0.0
        for t, lp in zip(s.tactics, tactic_lp, strict=True):
            if lp == float("-inf"):
                continue
            kinds = TACTICS[t]
            if kinds == ():
                cands.append((t, lp))
            elif kinds == (THMS,):
                cands.append((f"{t} [{'; '.join(lst)}]", lp + list_lp))
            elif kinds == (THM,):
                cands += [(f"{t} {a}", lp + q) for a, q in zip(names[:s.premise_choices], lps, strict=False)]
            elif kinds == (LABEL, THM):
                cands += [(f'{t} "{FIXED_LABEL}" {a}', lp + q)
                          for a, q in zip(names[:s.premise_choices], lps, strict=False)]
            elif kinds == (INT,) and n_hyps:
                cands += [(f"{t} {i}", lp - math.log(n_hyps)) for i in range(n_hyps)]
        cands.sort(key=lambda c: (-c[1], c[0]))
        return [(t, float(lp)) for t, lp in cands[:k]]


def time_per_expansion(policy: HOListPolicy, goals: Sequence[Goal], k: int = 8, repeats: int = 5) -> float:
    """Mean seconds of one ``propose(goals, k)`` call with the premise cache warm."""
    policy.propose(goals[:1], k)  # warm the cache
    started = time.perf_counter()
    for _ in range(repeats):
        policy.propose(goals, k)
    return (time.perf_counter() - started) / repeats


if __name__ == "__main__":
    torch.set_num_threads(1)  # on a busy machine, intra-op threads mostly wait for each other
    db = shipped_database()
    goals = [database_goal(db, i) for i in range(500, 2900, 300)]
    for encoder in ENCODERS:
        policy = HOListPolicy.tiny(database=db, encoder=encoder, dim=128)
        started = time.perf_counter()
        policy.premise_embeddings()
        print(f"{encoder}: database embeddings ({len(db.entries)} theorems) {time.perf_counter() - started:.2f} s; "
              f"propose k=8: 1 goal {1000 * time_per_expansion(policy, goals[:1]):.1f} ms, "
              f"8 goals {1000 * time_per_expansion(policy, goals[:8]):.1f} ms")
