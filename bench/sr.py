"""SR-v0 step latency: through the Gymnasium env, against the backend alone, in one run.

    python bench/sr.py [--steps 5000]

Prints the median and p90 latency of each and their ratio (env overhead). Timing numbers from
shared machines are noisy; the ratio, measured side by side, is what to compare.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym

import aitp_gym  # noqa: F401
from aitp_gym.envs.sr.backend import SRBackend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    args = parser.parse_args()

    backend = SRBackend()
    theorems = backend.theorems("valid")
    env = gym.make("SR-v0", split="valid", max_episode_steps=None)
    env_times, raw_times = [], []
    for i in range(args.steps):
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
        if len(env_times) >= args.steps:
            break

    def q(xs, p):
        return statistics.quantiles(xs, n=100)[p - 1] * 1e6

    med_env, med_raw = statistics.median(env_times) * 1e6, statistics.median(raw_times) * 1e6
    print(f"steps measured: {len(env_times)}")
    print(f"env.step      median {med_env:7.1f} us   p90 {q(env_times, 90):7.1f} us")
    print(f"backend.apply median {med_raw:7.1f} us   p90 {q(raw_times, 90):7.1f} us")
    print(f"env overhead ratio (median env / median backend): {med_env / med_raw:.2f}x")


if __name__ == "__main__":
    main()
