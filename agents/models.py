"""The model registries: which policies and critics exist, how to make a fresh one, how to load a checkpoint, and
which learners can train each. Importing this module imports no torch; a model's class is imported when one is
made or loaded.

Every checkpoint folder holds one ``aitp_model.json``: ``{"kind": <a name in POLICIES or CRITICS>, "settings":
{...}}`` (and whatever else the model keeps there). Folders written before it existed are still read.

Adding a model: a class with ``fresh(**options)`` (options: ``num_candidates``, ``goal_view``; take what you need),
``from_pretrained(path, **overrides)`` and ``save_pretrained(path)`` (writing ``aitp_model.json`` with
:func:`write_model_file`), and one line in ``POLICIES`` or ``CRITICS`` (or :func:`register`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from aitp_gym.registration import resolve
from aitp_gym.trace import MODEL_FILE


@runtime_checkable
class TrainablePolicy(Protocol):
    """What a learner needs of a policy, whatever its kind (a generator or a ranker): its parameters, the modules
    to put in train mode, differentiable log-probabilities of tactics at goals (a sequence log-probability for a
    generator, a log-softmax over the candidate set for a ranker) and a frozen copy of itself (a reference)."""

    def parameters(self) -> Iterable[Any]:
        ...

    def train_modules(self) -> list[Any]:
        ...

    def sequence_logprobs(self, goals: Sequence[str], tactics: Sequence[str]) -> Any:
        ...

    def frozen_copy(self) -> TrainablePolicy:
        ...

class ILQLBeta:
    """For a policy whose proposals ILQL perturbs by β · advantage: the β they use, ``settings.ilql_beta`` or,
    within ``with policy.perturbed(beta):``, that one (0: the plain policy, without its ILQL heads)."""

    _beta: float | None = None
    settings: Any

    @property
    def beta(self) -> float:
        return self.settings.ilql_beta if self._beta is None else self._beta

    @contextlib.contextmanager
    def perturbed(self, beta: float) -> Iterator[Any]:
        previous, self._beta = self._beta, beta
        try:
            yield self
        finally:
            self._beta = previous


_LEGACY_FILES = {"aitp_ranker.json": "ranker", "aitp_holist_model.json": "holist", "aitp_policy.json": "seq2seq",
                 "aitp_critic.json": "value"}
"""Checkpoints written before ``aitp_model.json``: their settings file names the kind."""


@dataclass(frozen=True)
class ModelKind:
    """One kind of policy or critic."""

    name: str
    """The keyword in configs (``model.policy: ranker``) and the ``kind`` in ``aitp_model.json``."""
    role: str
    """``policy`` or ``critic``."""
    model: str | type
    """The class, or ``"module:Class"`` (imported on first use, so that listing kinds imports no torch)."""
    learners: tuple[str, ...]
    """The learners (names in ``aitp_gym.agents.learners.LEARNERS``) that can train it."""
    learner_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each learner's default settings on this kind, where they differ from the learner's own: a linear ranker over
    sparse features wants steps a hundred times a transformer's, and ILQL on it no behaviour cloning. The config's
    ``learn.lr`` and ``learn.settings.<learner>`` override them."""

    def model_class(self) -> type:
        return resolve(self.model)

    def fresh(self, **options: Any) -> Any:
        """A fresh, untrained model; ``options``: ``num_candidates``, ``goal_view``."""
        return self.model_class().fresh(**options)

    def load(self, path: str | os.PathLike[str], **overrides: Any) -> Any:
        return self.model_class().from_pretrained(path, **overrides)



POLICIES: dict[str, ModelKind] = {k.name: k for k in [
    # DPO at 0.05 collapsed the ranker's proposals; ILQL's behaviour cloning of round 1's model-free searches undid
    # its expert iteration (27 -> 11 of 100 held-out, 27 -> 35 without it): docs/benchmarks.md
    ModelKind("ranker", "policy", "aitp_gym.agents.ranker:RankerPolicy", ("seq2seq", "ranker", "dpo", "ilql"),
              {"seq2seq": {"lr": 0.05}, "ranker": {"lr": 0.05}, "dpo": {"lr": 0.005},
               "ilql": {"lr": 0.05, "bc_weight": 0.0}}),
    # the T5 at 2e-3 ignored the goal (log-prob spread across goals 0.12); at 2e-4 to 5e-4 it conditions on it
    ModelKind("seq2seq", "policy", "aitp_gym.agents.seq2seq:Seq2SeqPolicy", ("seq2seq", "dpo", "ilql"),
              {"seq2seq": {"lr": 5e-4}, "ilql": {"lr": 5e-4}}),
    ModelKind("holist", "policy", "aitp_gym.agents.holist_model:HOListPolicy", ("premise", "dpo")),
    # TacticToe-style: the tactics of the most similar remembered goals (HOList-v0); its learner adds proofs found
    ModelKind("knn", "policy", "aitp_gym.agents.holist_knn:TacticKNNPolicy", ("knn",)),
]}
CRITICS: dict[str, ModelKind] = {k.name: k for k in [
    ModelKind("value", "critic", "aitp_gym.agents.critic:ValueCritic", ("critic",)),
    ModelKind("features", "critic", "aitp_gym.agents.feature_critic:FeatureCritic", ("critic",),
              {"critic": {"lr": 0.03}}),
]}
MODEL_FREE = {"policy": "uniform", "critic": "default"}
"""The keyword of the env's model-free policy and critic (no model, nothing to train)."""


def registry(role: str) -> dict[str, ModelKind]:
    return POLICIES if role == "policy" else CRITICS


def kind_of(model: Any, role: str) -> ModelKind | None:
    """The registered kind whose class ``model`` is an instance of (None for the model-free None or a stranger)."""
    if model is None:
        return None
    return next((k for k in registry(role).values() if isinstance(model, k.model_class())), None)


def register(kind: ModelKind) -> ModelKind:
    """Add a kind of policy or critic (also from a test or a user's own module)."""
    if kind.role not in MODEL_FREE:
        raise ValueError(f"role must be policy or critic, not {kind.role!r}")
    registry(kind.role)[kind.name] = kind
    return kind


# ---------------------------------------------------------------------------------------------- checkpoint files
def write_model_file(path: str | os.PathLike[str], kind: str, settings: dict[str, Any], **extra: Any) -> None:
    Path(path).mkdir(parents=True, exist_ok=True)
    (Path(path) / MODEL_FILE).write_text(json.dumps({"kind": kind, "settings": settings, **extra}, indent=1))


def read_model_file(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``{"kind", "settings", ...}`` of a checkpoint folder, from ``aitp_model.json`` or an older settings file;
    None when the folder has neither."""
    path = Path(path)
    if (path / MODEL_FILE).is_file():
        return json.loads((path / MODEL_FILE).read_text())
    for name, kind in _LEGACY_FILES.items():
        if (path / name).is_file():
            data = json.loads((path / name).read_text())
            if kind == "holist":  # it already kept {"settings": ..., "database_version": ...}
                return {"kind": kind, **data}
            return {"kind": kind, "settings": data}
    return None


def checkpoint_kind(path: str | os.PathLike[str]) -> str | None:
    """The kind of the checkpoint folder ``path``: its ``aitp_model.json`` (or older settings file) says; a bare
    ``transformers`` folder (``config.json``) is a seq2seq policy, or a value critic beside ``value_head.pt``."""
    saved = read_model_file(path)
    if saved is not None:
        return saved["kind"]
    path = Path(path)
    if (path / "value_head.pt").is_file():
        return "value"
    if (path / "config.json").is_file():
        return "seq2seq"
    return None


def checkpoint_problem(spec: str, role: str) -> str | None:
    """Why ``spec`` is not a checkpoint folder of a ``role`` model (None if it is one): cheap, so a typo fails at
    once instead of after a slow load (transformers would try the hub for a name that is not a folder)."""
    path = Path(spec)
    if not path.is_dir():
        return f"{spec}: no such checkpoint folder"
    kind = checkpoint_kind(path)
    if kind is None:
        return (f"{spec}: not a checkpoint folder (no {MODEL_FILE}; the loop writes them in rounds/<r>/policy and "
                "rounds/<r>/critic)")
    if kind not in registry(role):
        other = "critic" if role == "policy" else "policy"
        where = f"a {other}'s" if kind in registry(other) else f"an unknown kind ({kind!r})"
        return f"{spec}: holds {where} checkpoint, not a {role}'s ({', '.join(registry(role))})"
    return None


def model_kind(spec: str, role: str) -> ModelKind | None:
    """The kind of a model spec: a keyword, or a checkpoint folder's kind; None for the model-free keyword."""
    if spec == MODEL_FREE[role]:
        return None
    kinds = registry(role)
    if spec in kinds:
        return kinds[spec]
    problem = checkpoint_problem(spec, role)
    if problem is not None:
        raise ValueError(f"{spec!r} is neither {' nor '.join([MODEL_FREE[role], *kinds])} nor a {role} checkpoint "
                         f"folder ({problem})")
    return kinds[checkpoint_kind(spec)]


def make_model(spec: str, role: str, **options: Any) -> Any:
    """None for the model-free keyword; a fresh model for a kind's keyword (``options``: ``num_candidates``,
    ``goal_view``, ``featuriser``, ``device``); else the checkpoint folder, loaded with ``num_candidates`` and
    ``device`` (a checkpoint keeps its own goal view and featuriser)."""
    kind = model_kind(spec, role)
    if kind is None:
        return None
    if spec in registry(role):
        return kind.fresh(**options)
    overrides = {} if role != "policy" or options.get("num_candidates") is None else {
        "num_candidates": options["num_candidates"]}
    if "device" in options:
        overrides["device"] = options["device"]
    return kind.load(spec, **overrides)
