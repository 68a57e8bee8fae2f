"""SR-v0 costs, measured side by side in one run.

    python bench/sr.py [--steps 5000] [--envs 32]

1. Making envs: the first ``gym.make("SR-v0")`` + ``reset()`` in the process (builds the train split
   once), then the median of warm ones, the pickled size of an env after ``reset``, and the Python
   memory (tracemalloc) and time that ``--envs`` more envs take.
2. Step latency: the median and p90 of ``env.step`` and of ``backend.apply`` alone on the same
   goals, and their ratio (env overhead).

Timing numbers from shared machines are noisy; the ratio, measured side by side, is what to compare.
Targets: warm make + reset <= 50 ms, pickled env <= 1 MB.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import time
import tracemalloc

import gymnasium as gym

import aitp_gym  # noqa: F401
from aitp_gym.envs.sr.backend import SRBackend


def bench_make(n_envs: int) -> None:
    t0 = time.perf_counter()
    env = gym.make("SR-v0")
    env.reset(seed=0)
    cold = time.perf_counter() - t0
    warm = []
    for seed in range(20):
        t0 = time.perf_counter()
        env = gym.make("SR-v0")
        env.reset(seed=seed)
        warm.append(time.perf_counter() - t0)
    size = len(pickle.dumps(env))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    envs = [gym.make("SR-v0") for _ in range(n_envs)]
    elapsed = time.perf_counter() - t0
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del envs
    print(f"first make + reset     {cold * 1e3:9.1f} ms   (builds the train split once per process)")
    print(f"warm make + reset      {statistics.median(warm) * 1e3:9.1f} ms   median of {len(warm)} (target <= 50 ms)")
    print(f"pickled env            {size:9d} bytes (target <= 1,000,000)")
    print(f"{n_envs} x gym.make        {elapsed * 1e3:9.1f} ms   {used / 2**10:8.0f} KiB Python memory (tracemalloc)")


def bench_steps(steps: int) -> None:
    backend = SRBackend()
    theorems = backend.theorems("valid")
    env = gym.make("SR-v0", split="valid", max_episode_steps=None)
    env_times, raw_times = [], []
    for i in range(steps):
        theorem = theorems[i % len(theorems)]
        script = theorem.data["proof"]
        # through the env
        env.reset(options={"theorem": theorem})
        for tactic in script:
            t0 = time.perf_counter()
            env.step(tactic)
            env_times.append(time.perf_counter() - t0)
        # the backend alone, on the same goals
        goal = backend.start(theorem)
        for tactic in script:
            t0 = time.perf_counter()
            outcome = backend.apply(goal, tactic)
            raw_times.append(time.perf_counter() - t0)
            goal = outcome.subgoals[0] if outcome.subgoals else goal
        if len(env_times) >= steps:
            break

    def q(xs, p):
        return statistics.quantiles(xs, n=100)[p - 1] * 1e6

    med_env, med_raw = statistics.median(env_times) * 1e6, statistics.median(raw_times) * 1e6
    print(f"steps measured: {len(env_times)}")
    print(f"env.step      median {med_env:7.1f} us   p90 {q(env_times, 90):7.1f} us")
    print(f"backend.apply median {med_raw:7.1f} us   p90 {q(raw_times, 90):7.1f} us")
    print(f"env overhead ratio (median env / median backend): {med_env / med_raw:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--envs", type=int, default=32, help="how many envs to make for the memory figure")
    args = parser.parse_args()
    bench_make(args.envs)
    bench_steps(args.steps)


if __name__ == "__main__":
    main()
