"""Proving a round's theorems: a ``ProverActor`` holds the round's models and one env and proves theorem after
theorem; the loop runs one in its own process, one per spawned worker process, or one per Ray actor."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from aitp_gym.loop.models import load_critic, load_policy, quiet_transformers, torch_threads
from aitp_gym.registration import env_traits
from aitp_gym.trace import trace_file_name


class ProverActor:
    """One round's prover: loads the models once (from the checkpoint paths in ``base``, unless given), keeps one
    env, and proves theorem after theorem, writing one trace each. The main process, every local worker process
    (``_init_worker``) and every Ray actor (``ray.remote(ProverActor)``) hold one. Over Ray, the checkpoint paths
    must be readable on every node (a shared run folder)."""

    def __init__(self, base: dict[str, Any], policy: Any = None, critic: Any = None) -> None:
        """``base``: the round's job (env id, split, trace folder, planner settings, the models' specs and
        options, ``env_kwargs`` for ``gym.make``, e.g. the run's ``outcome_cache`` path), plain data that pickles to
        a worker or an actor; ``policy`` and ``critic``: models already loaded in this process (else they are loaded
        from the specs)."""
        import gymnasium as gym

        import aitp_gym  # noqa: F401  (registers the environments)

        self.base = base
        torch_threads(base.get("torch_threads", 0))
        quiet_transformers()  # a worker process draws no bars of its own
        view, featuriser = base.get("goal_view", "full"), env_traits(base["env_id"]).featuriser
        if policy is None:
            policy = load_policy(base["policy"], base["num_candidates"], view, featuriser, base.get("device", "cpu"))
        self.policy = policy
        if critic is None:
            critic = load_critic(base["critic"], view, base.get("device", "cpu"), featuriser)
        self.critic = critic
        self.env = gym.make(base["env_id"], split=base["split"], **base.get("env_kwargs", {}))
        self.backend = self.env.unwrapped.backend
        self.theorems = {t.id: t for t in self.backend.theorems(base["split"])}

    def prove(self, theorem_id: str) -> dict[str, Any]:
        """Attempt one theorem; write its trace into ``base["out_dir"]``; return the result's summary, with the
        outcome cache's hits, misses and saved seconds during this theorem under ``outcome_cache`` when the env
        keeps one."""
        from aitp_gym.attempt import ProofAttempt
        from aitp_gym.search import make_planner

        p = self.base["prove"]
        planner = make_planner(p["planner"], max_expansions=p["max_expansions"], time_limit=p["time_limit"],
                               tactics_per_expansion=p["tactics_per_expansion"], **p["planner_settings"])
        trace_path = Path(self.base["out_dir"]) / trace_file_name(theorem_id)
        cache = getattr(self.backend, "outcome_cache", None)
        if cache is not None:
            cache.stats_delta()  # from here: this theorem's figures only
        result = planner.search(ProofAttempt(self.backend, self.theorems[theorem_id]), policy=self.policy,
                                critic=self.critic, trace_path=trace_path)
        summary = result.summary()
        if cache is not None:
            summary["outcome_cache"] = cache.stats_delta()
        return summary

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


def prove_in_pool(base: dict[str, Any], theorem_ids: list[str], workers: int, done: Callable[[Any], None]) -> None:
    """Local worker processes, one task per theorem (the bar moves, and a free worker takes the next one); each
    loads the round's models once, in its initializer. The workers ignore SIGINT (a terminal's Ctrl-C reaches the
    whole process group): the loop's process alone handles it, and then ends them at once instead of waiting for
    the theorems they are proving."""
    import multiprocessing

    with _sigint_ignored():  # spawned children inherit the ignored SIGINT from their first instruction
        pool = ProcessPoolExecutor(min(workers, len(theorem_ids)) or 1, mp_context=multiprocessing.get_context("spawn"),
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


def prove_on_ray(ray: Any, base: dict[str, Any], theorem_ids: list[str], workers: int,
                 done: Callable[[Any], None]) -> None:
    """One Ray actor per worker loads the round's checkpoints once; theorems go to whichever is free. On Ctrl-C or
    SIGTERM the actors are killed at once."""
    from ray.util import ActorPool

    actor = ray.remote(num_cpus=1)(ProverActor)
    actors = [actor.remote(base) for _ in range(min(workers, len(theorem_ids)))]
    try:
        for res in ActorPool(actors).map_unordered(lambda a, t: a.prove.remote(t), theorem_ids):
            done(res)
    finally:
        for a in actors:
            ray.kill(a)


def start_ray(address: str, workers: int) -> Any:
    """``ray``, initialised: a local Ray for ``local`` (or ""), else the cluster at ``address`` (``auto`` joins
    the one this machine belongs to)."""
    from aitp_gym.optional import require

    ray = require("ray", "aitp loop --ray")
    if not ray.is_initialized():
        address = None if address in ("", "local") else address
        ray.init(address=address, num_cpus=None if address else max(1, workers), include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": {"TQDM_DISABLE": "1"}})
    return ray
