"""``aitp loop``'s configuration: the ``LoopConfig`` dataclasses (read from YAML plus ``--set``, typed by
``aitp_gym.config``), and every check that needs no run: ``check_before_work``."""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitp_gym.config import assign, from_dict
from aitp_gym.optional import require
from aitp_gym.registration import env_traits


@dataclass
class ProveConfig:
    """How theorems are attempted."""

    planner: str = "htps"
    """bestfs | bfs | fringe | updown | htps."""
    planner_settings: dict[str, Any] = field(default_factory=dict)
    """Extra planner settings, e.g. {exploration: 1.0}."""
    max_expansions: int = 64
    """Search budget per theorem, in expansions: evaluation always uses it, so rounds compare at one budget."""
    train_max_expansions: int | None = None
    """Budget when proving train theorems (None: max_expansions). A bigger one finds more proofs to learn from."""
    time_limit: float = 60.0
    """Search budget per theorem, in seconds."""
    tactics_per_expansion: int = 8
    """Candidates the policy proposes per expanded goal."""
    train_theorems: int = 40
    """Train-split theorems attempted per round (a fresh seeded sample each round)."""
    train_pool_size: int | None = None
    """Draw each round's train theorems from a fixed seeded sample of this many train theorems (None: the whole train
    split). Equal to train_theorems, every round attempts the same theorems again, as DeepHOL-Zero's rounds do: what
    was not proved is tried again with the improved model, and repeated tactics come from the outcome cache."""
    eval_theorems: int = 40
    """Valid-split theorems evaluated per round (the same ones every round)."""
    eval_selection: str = "sample"
    """Which valid theorems: sample (a seeded sample of the split) | first (the first eval_theorems in the split's
    order; HOList-v0's is HOL Light's load order, as in its fixed evaluation)."""
    train_difficulty_max: int | None = None
    """SR-v0 only: attempt train theorems of at most this difficulty (None: all)."""
    brute_force_reference: bool = False
    """Round 0 also evaluates brute force, the model-free policy trying every enumerated tactic per expanded goal,
    on the same theorems at the same budget (``rounds/000/brute-force``; ``eval/brute_force_proof_rate`` in
    TensorBoard and a dashed line in ``curve.png``): what a learned policy must beat to be worth its training."""
    model_free_reference: bool = False
    """Round 0 also evaluates the env's model-free policy at the same tactics_per_expansion and budget
    (``rounds/000/model-free``; ``eval/model_free_proof_rate`` and a dash-dotted line in ``curve.png``): the
    baseline a pre-trained round 0 is measured against."""
    outcome_cache: bool = False
    """Keep every tactic outcome in ``<run>/outcomes.sqlite``, shared by all rounds and workers: a tactic applied
    again to the same goal (same prover version, same tactic timeout) is answered from the file instead of the
    prover. For envs that can (EnvTraits.outcome_cache: HOList-v0); the file must be on a local disk."""


@dataclass
class ModelConfig:
    """The starting models."""

    policy: str = "seq2seq"
    """uniform (model-free) | ranker (a fresh featurised ranker of the env's enumerated tactics, e.g. SR-v0's) |
    seq2seq (a fresh tiny model) | holist (a fresh HOList tactic-and-premise model, for HOList-v0) | a checkpoint
    folder of any of them."""
    critic: str = "value"
    """default (the env's model-free critic) | value (a fresh tiny critic) | a checkpoint folder."""
    pretrain_steps: int = 0
    """SR-v0: supervised steps (seq2seq or ranker) on the generator's ground-truth proofs before round 0 (0: none)."""
    num_candidates: int = 8
    """Beam width / candidates per goal for the seq2seq policy."""
    goal_view: str = "auto"
    """What fresh models read of a goal: auto (sr for SR-v0, else full) | full | sr. See aitp_gym.agents.text."""
    bootstrap: bool = True
    """Until a model has been trained (by pre-training or a round), prove with the env's model-free policy and
    critic instead: a fresh model proves nothing, so expert iteration would have nothing to learn from."""
    device: str = "auto"
    """Where the models train and prove: auto (CUDA when torch sees a GPU, else the CPU) | cpu | cuda | cuda:N.
    The ranker always runs on the CPU."""


@dataclass
class LearnConfig:
    """Which learners run each round, and how long."""

    learners: list[str] = field(default_factory=lambda: ["seq2seq", "critic"])
    """Any of seq2seq, dpo, ilql (for a seq2seq or a ranker policy; ranker is the ranker's seq2seq under its older
    name), premise (for the HOList model), critic (for a value or features critic), in this order."""
    steps: int = 150
    """Optimiser steps per learner per round."""
    batch_size: int = 32
    lr: float | None = None
    """Learning rate of every learner (None: each learner's default for the model it trains, e.g. 1e-3 for the
    transformer learners, 0.05 for seq2seq and ILQL on the ranker's linear model, 0.005 for DPO on it)."""
    window: int = 3
    """Build buffers from this round's traces and the previous window-1 rounds'."""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each learner's own settings, over the shared ones above: ``{dpo: {beta: 0.1, reference: search}, ilql:
    {beta: 2.0}, ranker: {lr: 0.05}}`` (``--set learn.settings.dpo.beta=0.1``); the names are its settings
    dataclass's fields."""

    def settings_for(self, learner: str, seed: int, kind_defaults: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> dict[str, Any]:
        """The keyword arguments of ``learner``'s settings, each from the first that sets it:
        ``learn.settings.<learner>``, the shared ``learn`` settings (``learn.lr`` when not null), the trained model
        kind's defaults for this learner (``kind_defaults``: ``ModelKind.learner_defaults``), the learner's own."""
        shared = dict(steps=self.steps, batch_size=self.batch_size, seed=seed,
                      **({} if self.lr is None else {"lr": self.lr}))
        return {**(kind_defaults or {}).get(learner, {}), **shared, **self.settings.get(learner, {})}


@dataclass
class LoopConfig:
    """One learning run."""

    env: str = "SR-v0"
    """A registered environment id."""
    rounds: int = 3
    """Learning rounds after round 0."""
    seed: int = 0
    workers: int = 1
    """Local worker processes that prove in parallel (1: in this process)."""
    ray_address: str | None = None
    """Prove with Ray actors, one per worker: 'local' starts a local Ray, 'auto' joins a cluster, else an address."""
    torch_threads: int = 0
    """torch threads in each process (0: torch's default)."""
    prove: ProveConfig = field(default_factory=ProveConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    learn: LearnConfig = field(default_factory=LearnConfig)

    def __post_init__(self) -> None:
        _at_least(self, "", rounds=0, workers=1, torch_threads=0)
        _at_least(self.prove, "prove.", train_theorems=1, eval_theorems=1)
        if self.prove.eval_selection not in ("sample", "first"):
            raise ValueError(f"prove.eval_selection must be sample or first, not {self.prove.eval_selection!r}")
        size = self.prove.train_pool_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                 or size < self.prove.train_theorems):
            raise ValueError(f"prove.train_pool_size must be null or a whole number at least prove.train_theorems "
                             f"({self.prove.train_theorems}), not {size!r}")
        _at_least(self.model, "model.", pretrain_steps=0, num_candidates=1)
        _at_least(self.learn, "learn.", steps=0, batch_size=1, window=1)
        if self.learn.lr is not None and not self.learn.lr > 0:
            raise ValueError(f"learn.lr must be more than 0 (or null: each learner's default), not {self.learn.lr}")
        from aitp_gym.agents.learners import LEARNERS

        bad = [n for n in self.learn.learners if n not in LEARNERS]
        if bad:
            raise ValueError(f"learn.learners: unknown learner(s) {', '.join(map(str, bad))}; choose from "
                             f"{', '.join(LEARNERS)}")
        for role in ("policy", "critic"):
            _check_pairs(role, getattr(self.model, role),
                         [n for n in self.learn.learners if LEARNERS[n].trains == role])
        from aitp_gym.agents.text import goal_views

        if self.model.goal_view != "auto" and self.model.goal_view not in goal_views():
            raise ValueError(f"model.goal_view must be auto or one of {', '.join(goal_views())}, "
                             f"not {self.model.goal_view!r}")


def _at_least(section: Any, where: str, **minimum: int) -> None:
    for name, low in minimum.items():
        if getattr(section, name) < low:
            raise ValueError(f"{where}{name} must be {low} or more, not {getattr(section, name)}")


def _check_pairs(role: str, spec: str, learners: list[str]) -> None:
    """The learners that train the ``role`` model can train its kind (read from ``aitp_gym.agents.models``)."""
    from aitp_gym.agents.models import MODEL_FREE, model_kind, registry

    if not learners:
        return
    pairs = "; ".join(f"{k.name}: {', '.join(k.learners)}" for k in registry(role).values())
    try:
        kind = model_kind(spec, role)
    except ValueError:
        return  # check_before_work says what is wrong with the spec
    if kind is None:
        raise ValueError(f"learn.learners {', '.join(learners)} train the {role}, but model.{role} is "
                         f"{MODEL_FREE[role]} (model-free): set model.{role} to a model ({pairs})")
    wrong = [n for n in learners if n not in kind.learners]
    if wrong:
        plural = {"policy": "policies", "critic": "critics"}[role]
        raise ValueError(f"learn.learners: {', '.join(wrong)} cannot train a {kind.name} {role}; the {plural} and "
                         f"their learners are {pairs}")


def check_before_work(config: LoopConfig) -> None:
    """Everything about a config that can go wrong without running it: the env, the planner and its settings, and
    the model specs. ``aitp loop`` calls this before it touches the run folder."""
    import gymnasium as gym

    from aitp_gym import env_ids
    from aitp_gym.search import PLANNERS, make_planner

    if config.env not in gym.envs.registry:
        raise ValueError(f"env: unknown environment {config.env!r}; aitp-gym registers {', '.join(env_ids())}")
    from aitp_gym.loop.models import resolve_device

    resolve_device(config.model.device)  # refuses a GPU that is not there
    _check_learner_settings(config.learn)
    if config.prove.outcome_cache and not env_traits(config.env).outcome_cache:
        able = [e for e in env_ids() if env_traits(e).outcome_cache]
        raise ValueError(f"prove.outcome_cache: {config.env} keeps no outcome cache (only {', '.join(able)} "
                         "do: EnvTraits.outcome_cache); set it to false")
    if config.model.pretrain_steps and env_traits(config.env).ground_truth_pairs is None:
        raise ValueError(f"model.pretrain_steps: {config.env} has no generator proofs to pre-train on "
                         "(EnvTraits.ground_truth_pairs); set it to 0")
    p = config.prove
    if p.planner not in PLANNERS:
        raise ValueError(f"prove.planner: unknown planner {p.planner!r}; choose from {', '.join(PLANNERS)}")
    fields = {f.name for f in dataclasses.fields(PLANNERS[p.planner].Settings)}
    budget = {"max_expansions", "time_limit", "tactics_per_expansion"}
    bad = set(p.planner_settings) - (fields - budget)
    if bad:
        raise ValueError(f"prove.planner_settings: {p.planner} has no setting(s) {', '.join(sorted(map(str, bad)))}"
                         f" (budgets are prove.max_expansions, prove.time_limit, prove.tactics_per_expansion); "
                         f"its settings: {', '.join(sorted(fields - budget))}; to drop settings meant for another "
                         f"planner, add --set \"prove.planner_settings={{}}\"")
    # the values too: build the planner with both budgets, as the workers will
    for where, expansions in (("max_expansions", p.max_expansions), ("train_max_expansions", p.train_max_expansions)):
        if expansions is None:
            continue
        try:
            make_planner(p.planner, max_expansions=expansions, time_limit=p.time_limit,
                         tactics_per_expansion=p.tactics_per_expansion, **p.planner_settings)
        except (ValueError, TypeError) as e:
            message = str(e).replace("max_expansions", where)
            budgets = ("max_expansions", "train_max_expansions", "time_limit", "tactics_per_expansion")
            raise ValueError(f"prove.{message}" if message.startswith(budgets)
                             else f"prove.planner_settings: {message}") from None
    from aitp_gym.agents.models import model_kind

    for role in ("policy", "critic"):
        try:
            model_kind(getattr(config.model, role), role)
        except ValueError as e:
            raise ValueError(f"model.{role}: {e}") from None
    # the theorem counts, against the env's splits (listing them starts no prover)
    env = gym.make(config.env, split="valid")
    try:
        backend = env.unwrapped.backend
        valid = len(backend.theorems("valid"))
        if p.eval_theorems > valid:
            raise ValueError(f"prove.eval_theorems: {p.eval_theorems} is more than the {valid} theorems of "
                             f"{config.env}'s valid split")
        train = len(train_pool(backend, p.train_difficulty_max))
        if p.train_pool_size is not None and p.train_pool_size > train:
            raise ValueError(f"prove.train_pool_size: {p.train_pool_size} is more than the {train} theorems of "
                             f"{config.env}'s train split")
        if config.rounds and p.train_theorems > train:
            raise ValueError(f"prove.train_theorems: {p.train_theorems} is more than the {train} theorems of "
                             f"{config.env}'s train split" + (f" of difficulty at most {p.train_difficulty_max}"
                                                               if p.train_difficulty_max is not None else ""))
    finally:
        env.close()


def _check_learner_settings(learn: LearnConfig) -> None:
    """``learn.settings`` names learners of ``learn.learners`` and fields of their settings, with values of the
    right types and ranges (the learners' settings dataclasses say; importing them imports torch)."""
    from aitp_gym.agents.learners import LEARNERS

    for name, values in learn.settings.items():
        if name not in learn.learners:
            raise ValueError(f"learn.settings.{name}: {name} is not one of learn.learners "
                             f"({', '.join(learn.learners)})")
        if not isinstance(values, dict):
            raise ValueError(f"learn.settings.{name} must be a mapping of settings, not {values!r}")
        try:
            from_dict(LEARNERS[name].settings_class(), learn.settings_for(name, 0), f"learn.settings.{name}.")
        except (TypeError, ValueError) as e:
            raise ValueError(str(e)) from None


def config_warnings(config: LoopConfig) -> list[str]:
    """What is allowed but will likely go badly, said once when the run starts."""
    from aitp_gym.agents.learners import LEARNERS
    from aitp_gym.agents.models import registry

    out = []
    if config.prove.outcome_cache and config.ray_address not in (None, "", "local"):
        out.append(f"prove.outcome_cache with ray_address {config.ray_address}: every Ray actor opens the run "
                   "folder's outcomes.sqlite, which works only on one machine's local disk (SQLite's WAL journal); "
                   "on a cluster, set it to false")
    trains_policy = [n for n in config.learn.learners if LEARNERS[n].trains == "policy"]
    fresh = config.model.policy in registry("policy") and not config.model.pretrain_steps
    imitation = [n for n in trains_policy if LEARNERS[n].buffer == "seq2seq"]
    if fresh and trains_policy and not imitation and set(trains_policy) <= {"dpo", "ilql"}:
        out.append(f"learn.learners {', '.join(trains_policy)} train a fresh {config.model.policy} policy with no "
                   "imitation warm start (no seq2seq learner, no model.pretrain_steps): preference and offline-RL "
                   "losses on an untrained policy have little to compare, and such runs fell to 0% when tried; "
                   "add seq2seq to learn.learners or set model.pretrain_steps")
    return out


def train_pool(backend: Any, difficulty_max: int | None, size: int | None = None, seed: int = 0) -> list[Any]:
    """The train theorems rounds draw from: those of at most ``difficulty_max`` and, with ``size``, a fixed seeded
    sample of that many (in the split's order)."""
    train = list(backend.theorems("train"))
    if difficulty_max is not None:
        train = [t for t in train if t.data.get("difficulty", 0) <= difficulty_max]
    if size is not None and size < len(train):
        keep = set(random.Random(seed).sample(range(len(train)), size))
        train = [t for i, t in enumerate(train) if i in keep]
    return train


def load_config(path: str | os.PathLike[str] | None, overrides: Sequence[str] = ()) -> LoopConfig:
    yaml = require("yaml", "aitp loop (its YAML configs)")

    data = {}
    if path is not None:
        text = Path(path).read_text()
        data = yaml.safe_load(text) or {}
    for assignment in overrides:
        assign(data, assignment, yaml.safe_load)
    return from_dict(LoopConfig, data)


def config_to_yaml(config: LoopConfig) -> str:
    yaml = require("yaml", "aitp loop (its YAML configs)")

    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
