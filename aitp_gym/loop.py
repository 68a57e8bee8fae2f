"""The learning loop: prove → traces → buffers → train → checkpoints → reload → evaluate, round after round.

``aitp loop CONFIG.yaml [--set key=value ...] [--resume RUN_DIR] [--ray [ADDRESS]]``

Round 0 evaluates the starting models (the model-free policy, a given checkpoint, or a policy pre-trained on SR-v0's
generator proofs). Every later round proves a slice of the train split with the current models, builds buffers
from this round's traces and a window of earlier rounds, trains the configured learners, saves checkpoints, reloads
them and evaluates on a fixed slice of the valid split at the same budget.

A run folder holds everything: ``config.yaml`` (as resolved), ``rounds/<r>/`` (traces, checkpoints, buffer
statistics), ``rounds.jsonl`` (one line per finished round), ``eval_theorems.txt`` (the held-out theorem ids, for
``aitp prove --theorems``) and ``tb/`` (TensorBoard, one event file). A round is built in
``rounds/<r>.partial/`` and renamed when it is complete, then recorded in ``rounds.jsonl``; ``--resume`` deletes
partial rounds and continues after the last recorded one, so a kill at any moment loses at most the unfinished
round and never counts one twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitp_gym.backend import SupportsPrepare
from aitp_gym.config import assign, from_dict
from aitp_gym.optional import require
from aitp_gym.registration import env_traits
from aitp_gym.search import summarise
from aitp_gym.trace import atomic_write_text, iter_traces, trace_file_name

# ---------------------------------------------------------------------------------------------- configuration


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
    eval_theorems: int = 40
    """Valid-split theorems evaluated per round (the same ones every round)."""
    train_difficulty_max: int | None = None
    """SR-v0 only: attempt train theorems of at most this difficulty (None: all)."""


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


@dataclass
class LearnConfig:
    """Which learners run each round, and how long."""

    learners: list[str] = field(default_factory=lambda: ["seq2seq", "critic"])
    """Any of seq2seq, dpo, ilql (for a seq2seq policy), ranker (for a ranker policy), premise (for the HOList
    model), critic (for a value critic), in this order."""
    steps: int = 150
    """Optimiser steps per learner per round."""
    batch_size: int = 32
    lr: float | None = None
    """Learning rate of every learner (None: each learner's own default, e.g. 1e-3 for the transformer learners and
    0.05 for the ranker's linear model)."""
    window: int = 3
    """Build buffers from this round's traces and the previous window-1 rounds'."""


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
        train = len(_train_pool(backend, p.train_difficulty_max))
        if config.rounds and p.train_theorems > train:
            raise ValueError(f"prove.train_theorems: {p.train_theorems} is more than the {train} theorems of "
                             f"{config.env}'s train split" + (f" of difficulty at most {p.train_difficulty_max}"
                                                               if p.train_difficulty_max is not None else ""))
    finally:
        env.close()


def _train_pool(backend: Any, difficulty_max: int | None) -> list[Any]:
    train = list(backend.theorems("train"))
    if difficulty_max is not None:
        train = [t for t in train if t.data.get("difficulty", 0) <= difficulty_max]
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


# ---------------------------------------------------------------------------------------------- models


def quiet_transformers() -> None:
    """The loop shows its own progress; transformers' per-file bars (saving shards) would drown it."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()


def _torch_threads(n: int) -> None:
    if n > 0:
        import torch

        torch.set_num_threads(n)


def load_policy(spec: str, num_candidates: int | None = 8, goal_view: str = "full",
                featuriser: str = "text") -> Any:
    """None for ``uniform`` (the model-free policy); a fresh model for a kind's name in ``POLICIES``
    (``ranker``, ``seq2seq``, ``holist``, reading ``goal_view``; a ranker with ``featuriser``); else a checkpoint
    folder, with its own goal view and, unless ``num_candidates`` is None, that many candidates per goal."""
    from aitp_gym.agents.models import make_model

    return make_model(spec, "policy", num_candidates=num_candidates, goal_view=goal_view, featuriser=featuriser)


def load_critic(spec: str, goal_view: str = "full") -> Any:
    """None for ``default`` (the env's model-free critic); a fresh ``value`` critic; else a checkpoint folder."""
    from aitp_gym.agents.models import make_model

    return make_model(spec, "critic", goal_view=goal_view)


def resolve_goal_view(config: LoopConfig) -> str:
    """``model.goal_view``, or for ``auto`` the env's (``EnvTraits.goal_view``)."""
    return env_traits(config.env).goal_view if config.model.goal_view == "auto" else config.model.goal_view


# ---------------------------------------------------------------------------------------------- proving


class ProverActor:
    """One round's prover: loads the models once (from the checkpoint paths in ``base``, unless given), keeps one
    env, and proves theorem after theorem, writing one trace each. The main process, every local worker process
    (``_init_worker``) and every Ray actor (``ray.remote(ProverActor)``) hold one. Over Ray, the checkpoint paths
    must be readable on every node (a shared run folder)."""

    def __init__(self, base: dict[str, Any], policy: Any = None, critic: Any = None) -> None:
        import gymnasium as gym

        import aitp_gym  # noqa: F401  (registers the environments)

        self.base = base
        _torch_threads(base.get("torch_threads", 0))
        quiet_transformers()  # a worker process draws no bars of its own
        view = base.get("goal_view", "full")
        if policy is None:
            policy = load_policy(base["policy"], base["num_candidates"], view, env_traits(base["env_id"]).featuriser)
        self.policy = policy
        self.critic = critic if critic is not None else load_critic(base["critic"], view)
        self.env = gym.make(base["env_id"], split=base["split"])
        self.backend = self.env.unwrapped.backend
        self.theorems = {t.id: t for t in self.backend.theorems(base["split"])}

    def prove(self, theorem_id: str) -> dict[str, Any]:
        """Attempt one theorem; write its trace into ``base["out_dir"]``; return the result's summary."""
        from aitp_gym.attempt import ProofAttempt
        from aitp_gym.search import make_planner

        p = self.base["prove"]
        planner = make_planner(p["planner"], max_expansions=p["max_expansions"], time_limit=p["time_limit"],
                               tactics_per_expansion=p["tactics_per_expansion"], **p["planner_settings"])
        trace_path = Path(self.base["out_dir"]) / trace_file_name(theorem_id)
        result = planner.search(ProofAttempt(self.backend, self.theorems[theorem_id]), policy=self.policy,
                                critic=self.critic, trace_path=trace_path)
        return result.summary()

    def close(self) -> None:
        self.env.close()


_WORKER: dict[str, ProverActor] = {}


def _exit_with_parent(parent: int) -> None:
    """A worker process ends when the loop's process ``parent`` is gone (a SIGKILL leaves no one to stop the pool);
    the pid comes from the parent, since the worker may start after it has died."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="aitp-parent-watch").start()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this process for the block (only the main thread can change signal handlers)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _init_worker(base: dict[str, Any], parent: int) -> None:
    """A local worker process loads the round's models and its env once, then proves one theorem per task."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the loop's process handles Ctrl-C and ends its workers
    _exit_with_parent(parent)
    _WORKER["prover"] = ProverActor(base)


def _prove_one(theorem_id: str) -> dict[str, Any]:
    return _WORKER["prover"].prove(theorem_id)


# ---------------------------------------------------------------------------------------------- the loop


class Loop:
    """One run folder, driven round by round. ``Loop(config, run_dir).run()``."""

    def __init__(self, config: LoopConfig, run_dir: str | os.PathLike[str], progress: bool = True,
                 log: Any = None) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._tb = None
        self._ray = None

    # -- run-folder state ---------------------------------------------------------------------------
    @property
    def rounds_file(self) -> Path:
        return self.run_dir / "rounds.jsonl"

    def finished_rounds(self) -> list[dict[str, Any]]:
        if not self.rounds_file.exists():
            return []
        return [json.loads(line) for line in self.rounds_file.read_text().splitlines() if line.strip()]

    def round_dir(self, r: int) -> Path:
        return self.run_dir / "rounds" / f"{r:03d}"

    def _record(self, row: dict[str, Any]) -> None:
        rows = self.finished_rounds() + [row]
        atomic_write_text(self.rounds_file, "".join(json.dumps(x) + "\n" for x in rows))

    # -- theorems -----------------------------------------------------------------------------------
    def _theorems(self, backend: Any) -> tuple[list[Any], list[Any]]:
        c = self.config
        train = _train_pool(backend, c.prove.train_difficulty_max)
        valid = list(backend.theorems("valid"))
        rng = random.Random(c.seed)
        rng.shuffle(valid)
        return train, sorted(valid[: c.prove.eval_theorems], key=lambda t: t.id)

    # -- phases -------------------------------------------------------------------------------------
    def _prove(self, split: str, theorem_ids: list[str], out_dir: Path, policy_spec: str, critic_spec: str,
               policy: Any, critic: Any, label: str) -> list[dict[str, Any]]:
        from aitp_gym.progress import progress

        c = self.config
        out_dir.mkdir(parents=True, exist_ok=True)
        prove = dataclasses.asdict(c.prove)
        if split == "train" and c.prove.train_max_expansions is not None:
            prove["max_expansions"] = c.prove.train_max_expansions
        base = dict(env_id=c.env, split=split, out_dir=str(out_dir), policy=policy_spec, critic=critic_spec,
                    prove=prove, num_candidates=c.model.num_candidates,
                    torch_threads=c.torch_threads, goal_view=resolve_goal_view(c))
        bar = progress(total=len(theorem_ids), desc=label, unit="theorems", enabled=self.progress)
        results: list[dict[str, Any]] = []

        def done(result: dict[str, Any]) -> None:
            results.append(result)
            bar.set_postfix(proved=f"{sum(r['proved'] for r in results)}/{len(results)}", refresh=False)
            bar.update(1)

        try:
            if c.ray_address is not None:
                self._prove_on_ray(base, theorem_ids, done)
            elif c.workers > 1:
                self._prove_in_pool(base, theorem_ids, done)
            else:
                prover = ProverActor(base, policy, critic)
                try:
                    for t in theorem_ids:
                        done(prover.prove(t))
                finally:
                    prover.close()
        finally:
            bar.close()
        return results

    def _prove_on_ray(self, base: dict[str, Any], theorem_ids: list[str], done: Any) -> None:
        """One Ray actor per worker loads the round's checkpoints once; theorems go to whichever is free. On
        Ctrl-C or SIGTERM the actors are killed at once."""
        ray = self._ray_module()
        from ray.util import ActorPool

        actor = ray.remote(num_cpus=1)(ProverActor)
        actors = [actor.remote(base) for _ in range(min(self.config.workers, len(theorem_ids)))]
        try:
            for res in ActorPool(actors).map_unordered(lambda a, t: a.prove.remote(t), theorem_ids):
                done(res)
        finally:
            for a in actors:
                ray.kill(a)

    def _prove_in_pool(self, base: dict[str, Any], theorem_ids: list[str], done: Any) -> None:
        """Local worker processes, one task per theorem (the bar moves, and a free worker takes the next one); each
        loads the round's models once, in its initializer. The workers ignore SIGINT (a terminal's Ctrl-C reaches
        the whole process group): the loop's process alone handles it, and then ends them at once instead of
        waiting for the theorems they are proving."""
        import multiprocessing

        with _sigint_ignored():  # spawned children inherit the ignored SIGINT from their first instruction
            pool = ProcessPoolExecutor(min(self.config.workers, len(theorem_ids)) or 1,
                                       mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker, initargs=(base, os.getpid()))
            futures = [pool.submit(_prove_one, t) for t in theorem_ids]  # the workers are spawned here
        try:
            for future in as_completed(futures):
                done(future.result())
        except BaseException:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()

    def _ray_module(self) -> Any:
        if self._ray is None:
            from aitp_gym.optional import require

            ray = require("ray", "aitp loop --ray")
            if not ray.is_initialized():
                address = None if self.config.ray_address in ("", "local") else self.config.ray_address
                ray.init(address=address, num_cpus=None if address else max(1, self.config.workers),
                         include_dashboard=False, log_to_driver=False,
                         runtime_env={"env_vars": {"TQDM_DISABLE": "1"}})
            self._ray = ray
        return self._ray

    def _train(self, r: int, rdir: Path, policy: Any, critic: Any) -> dict[str, Any]:
        """Every configured learner, in order, on buffers of this round's traces and the window before it."""
        from aitp_gym.agents import buffers as B
        from aitp_gym.agents.learners import LEARNERS, NoExamples

        c = self.config
        windows = [self.round_dir(q) / "train" for q in range(max(1, r - c.learn.window + 1), r)] + [rdir / "train"]
        buffers, stats = B.build_all(rec for d in windows if d.exists() for rec in iter_traces(d))
        losses: dict[str, float] = {}
        common = dict(steps=c.learn.steps, batch_size=c.learn.batch_size, seed=c.seed + r,
                      **({} if c.learn.lr is None else {"lr": c.learn.lr}))
        for name in c.learn.learners:
            learner = LEARNERS[name]
            model = policy if learner.trains == "policy" else critic
            try:
                res = learner.train(model, buffers[learner.buffer], learner.Settings(**common), self._logger(),
                                    self._loss_offset(r), self.progress)
            except NoExamples as e:
                self.log(f"round {r}: {name} skipped: {e}")
                continue
            losses[name] = res.final_loss
        (rdir / "buffers.json").write_text(json.dumps({"traces": stats.traces, "proved": stats.proved,
                                                        "counts": stats.counts}))
        return losses

    def _loss_offset(self, r: int) -> int:
        """Round ``r``'s first optimiser step on the ``losses/*`` axis: pre-training takes the first
        ``model.pretrain_steps``, then every round ``learn.steps``."""
        return self.config.model.pretrain_steps + (r - 1) * self.config.learn.steps

    def _logger(self) -> Any:
        if self._tb is None:
            from aitp_gym.agents.training import TensorBoardLogger

            self._tb = TensorBoardLogger(str(self.run_dir / "tb"))
        return self._tb

    def _resume_tensorboard(self, done: list[dict[str, Any]]) -> None:
        """Open ``tb/`` for a run that continues after ``done``: one event file again, holding the losses of the
        recorded rounds only (a killed round's are dropped, so curves do not zig-zag) and the per-round scalars
        re-logged from ``rounds.jsonl`` (a kill between recording a round and logging it loses nothing)."""
        from aitp_gym.agents.training import TensorBoardLogger

        start, end = len(done), self._loss_offset(len(done))

        def keep(tag: str, step: int) -> bool:
            if tag.startswith("losses/"):
                return start > 0 and step < end
            if tag.split("/")[0] in ROUND_SCALARS:
                return False
            return start > 0  # the config text and hparams, written when round 0 starts

        self._tb = TensorBoardLogger(str(self.run_dir / "tb"), keep=keep)
        for row in done:
            self._scalars(row)

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        import gymnasium as gym

        import aitp_gym  # noqa: F401
        from aitp_gym.agents.learners import LEARNERS
        from aitp_gym.agents.models import MODEL_FREE, registry

        c = self.config
        _torch_threads(c.torch_threads)
        quiet_transformers()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        done = self.finished_rounds()
        for folder in sorted((self.run_dir / "rounds").glob("*")):
            # a round killed before it was recorded (even after its folder was renamed) is redone from scratch
            if folder.name.endswith(".partial") or (folder.name.isdigit() and int(folder.name) >= len(done)):
                shutil.rmtree(folder)
        resolved = config_to_yaml(c)
        saved = self.run_dir / "config.yaml"
        if saved.exists() and saved.read_text() != resolved:
            raise ValueError(f"{self.run_dir} holds a run with another configuration; resume it with its own "
                             f"config ({saved}) or choose a new run folder")
        atomic_write_text(saved, resolved)
        start = len(done)
        env = gym.make(c.env, split="train")
        backend = env.unwrapped.backend
        if isinstance(backend, SupportsPrepare):
            backend.prepare(self.log)
        train_pool, eval_theorems = self._theorems(backend)
        eval_ids = [t.id for t in eval_theorems]
        atomic_write_text(self.run_dir / "eval_theorems.txt", "".join(
            [f"# the {c.env} valid theorems every round evaluates; aitp prove --theorems FILE proves them again\n",
             *(f"{i}\n" for i in eval_ids)]))
        env.close()

        # the current models: the last finished round's checkpoints, or the starting models
        if start > 0:
            last = self.round_dir(start - 1)
            policy_spec = str(last / "policy") if (last / "policy").exists() else c.model.policy
            critic_spec = str(last / "critic") if (last / "critic").exists() else c.model.critic
        else:
            policy_spec, critic_spec = c.model.policy, c.model.critic
        view = resolve_goal_view(c)
        policy = load_policy(policy_spec, c.model.num_candidates, view, env_traits(c.env).featuriser)
        critic = load_critic(critic_spec, view)
        # a model counts as trained once a round (or pre-training) has trained it, or if it was given as a checkpoint
        trained = {role: getattr(c.model, role) not in (MODEL_FREE[role], *registry(role))
                   for role in ("policy", "critic")}
        if done:
            trained.update(done[-1].get("trained", {}))
        if (self.run_dir / "tb").is_dir():
            self._resume_tensorboard(done)
        if start == 0:
            self._logger().text("config", "```\n" + resolved + "\n```")
            self._logger().hparams(_flat(dataclasses.asdict(c)), ["eval/proof_rate", "train/proof_rate"])
        rows = list(done)
        if start > c.rounds:
            self.log(f"all {c.rounds} rounds of {self.run_dir} are done; nothing to resume (raise rounds with a new "
                     "run to go further)")
        for r in range(start, c.rounds + 1):
            t0 = time.perf_counter()
            rdir = self.run_dir / "rounds" / f"{r:03d}.partial"
            rdir.mkdir(parents=True)
            row: dict[str, Any] = {"round": r}
            if r == 0 and c.model.pretrain_steps and policy is not None:
                row["pretrain_loss"] = self._pretrain(policy)
                trained["policy"] = True
            if r > 0:
                rng = random.Random(c.seed * 1000 + r)
                ids = [t.id for t in rng.sample(train_pool, min(c.prove.train_theorems, len(train_pool)))]
                if c.workers > 1 or c.ray_address is not None:  # other processes load the models from disk
                    self._save_models(rdir / "start", policy, critic)
                    pspec = str(rdir / "start" / "policy") if policy is not None else policy_spec
                    cspec = str(rdir / "start" / "critic") if critic is not None else critic_spec
                else:
                    pspec, cspec = policy_spec, critic_spec
                use_p, use_c, pspec, cspec = self._in_use(trained, policy, critic, pspec, cspec)
                train_results = self._prove("train", ids, rdir / "train", pspec, cspec, use_p, use_c,
                                            f"round {r}: proving")
                row["train"] = summarise(train_results)
                row["losses"] = self._train(r, rdir, policy, critic)
                trained.update({k: True for k in ("policy", "critic")
                                if any(LEARNERS[n].trains == k for n in row["losses"])})
                self._save_models(rdir, policy, critic)
                shutil.rmtree(rdir / "start", ignore_errors=True)
            else:
                self._save_models(rdir, policy, critic)
            eval_pspec = str(rdir / "policy") if policy is not None else policy_spec
            eval_cspec = str(rdir / "critic") if critic is not None else critic_spec
            use_p, use_c, eval_pspec, eval_cspec = self._in_use(trained, policy, critic, eval_pspec, eval_cspec)
            row["models"] = {"policy": "model" if use_p is not None else "model-free",
                             "critic": "model" if use_c is not None else "model-free"}
            eval_results = self._prove("valid", eval_ids, rdir / "eval", eval_pspec, eval_cspec, use_p, use_c,
                                       f"round {r}: evaluating")
            row["eval"] = summarise(eval_results)
            row["trained"] = dict(trained)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            final = self.round_dir(r)
            os.replace(rdir, final)  # the round is complete on disk before it is recorded
            # later rounds load from the final folder
            policy_spec = str(final / "policy") if policy is not None else policy_spec
            critic_spec = str(final / "critic") if critic is not None else critic_spec
            self._record(row)
            rows.append(row)
            self._scalars(row)
            self._plot()
            self.log(_line(row))
        if self._tb is not None:
            self._tb.flush()
        return rows

    def _plot(self) -> None:
        """``curve.png`` in the run folder, from the TensorBoard scalars (skipped without matplotlib)."""
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return
        from aitp_gym.plot import plot_curve

        plot_curve(self.run_dir, title=f"{self.config.env}: {self.run_dir.name}")

    def _in_use(self, trained: dict[str, bool], policy: Any, critic: Any, pspec: str,
                cspec: str) -> tuple[Any, Any, str, str]:
        """The models to prove with: an untrained one is replaced by the model-free default when bootstrapping."""
        if self.config.model.bootstrap:
            if not trained["policy"]:
                policy, pspec = None, "uniform"
            if not trained["critic"]:
                critic, cspec = None, "default"
        return policy, critic, pspec, cspec

    def _pretrain(self, policy: Any) -> float:
        from aitp_gym.agents.buffers import ground_truth_pairs
        from aitp_gym.agents.learners import LEARNERS
        from aitp_gym.agents.models import POLICIES

        c = self.config
        common = dict(steps=c.model.pretrain_steps, batch_size=c.learn.batch_size, seed=c.seed,
                      **({} if c.learn.lr is None else {"lr": c.learn.lr}))
        pairs = ground_truth_pairs(c.env, "train")
        # the policy's own learner of (goal, tactic) pairs: ranker for a ranker, seq2seq for a seq2seq model
        kind = next(k for k in POLICIES.values() if isinstance(policy, k.model_class()))
        learner = next(LEARNERS[n] for n in kind.learners if LEARNERS[n].buffer == "seq2seq")
        res = learner.train(policy, pairs, learner.Settings(**common), self._logger(), 0, self.progress)
        return res.final_loss

    @staticmethod
    def _save_models(folder: Path, policy: Any, critic: Any) -> None:
        if policy is not None:
            policy.save_pretrained(folder / "policy")
        if critic is not None:
            critic.save_pretrained(folder / "critic")

    def _scalars(self, row: dict[str, Any]) -> None:
        tb, r = self._logger(), row["round"]
        for split in ("train", "eval"):
            if split in row:
                s = row[split]
                tb.scalar(f"{split}/proof_rate", s["proof_rate"], r)
        s = row["eval"]
        if s["mean_expansions_to_proof"] is not None:
            tb.scalar("search/expansions_per_proof", s["mean_expansions_to_proof"], r)
        for key in ("prover_s", "model_s", "bookkeeping_s"):
            tb.scalar(f"time/{key}", s[f"{key}_per_expansion"], r)
        tb.flush()


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as TensorBoard hparams: ``prove.max_expansions`` → 32; lists and dicts as text."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and prefix == "" and key in ("prove", "model", "learn"):
            out.update(_flat(value, f"{key}."))
        elif value is None or isinstance(value, (list, dict)):
            out[prefix + key] = str(value)
        else:
            out[prefix + key] = value
    return out


ROUND_SCALARS = ("train", "eval", "search", "time")
"""Top-level TensorBoard sections whose scalars are logged once per round (step = round)."""



def _line(row: dict[str, Any]) -> str:
    parts = [f"round {row['round']}"]
    if "train" in row:
        parts.append(f"train proved {row['train']['proved']}/{row['train']['attempted']}")
    parts.append(f"eval proved {row['eval']['proved']}/{row['eval']['attempted']} ({row['eval']['proof_rate']:.0%})")
    if row.get("losses"):
        parts.append("losses " + " ".join(f"{k} {v:.3f}" for k, v in row["losses"].items()))
    parts.append(f"{row['seconds']:.0f} s")
    return " | ".join(parts)
