"""SR-v0 costs, measured side by side in one run.

    python bench/sr.py [--steps 5000] [--envs 32]

1. Making envs: the first ``gym.make("SR-v0")`` + ``reset()`` of a fresh process (a subprocess started for it,
   timed from after its imports; it reads the shipped splits and makes the one theorem it draws), beside the
   median of warm ones in this process and their ratio; then what generating the splits from scratch takes
   (what every process paid before they shipped), the pickled size of an env after ``reset``, and the Python
   memory (tracemalloc) and time that ``--envs`` more envs take.
2. Step latency: the median and p90 of ``env.step`` and of ``backend.apply`` alone on the same
   goals, and their ratio (env overhead).

Timing numbers from shared machines are noisy; the ratio, measured side by side, is what to compare.
Targets: first make + reset in a fresh process <= 0.5 s, warm make + reset <= 50 ms, pickled env <= 1 MB.
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import time
import tracemalloc

import gymnasium as gym

import aitp_gym  # noqa: F401
from aitp_gym.envs.sr import splits
from aitp_gym.envs.sr.backend import SRBackend

# Run in a fresh interpreter: ``import gymnasium, aitp_gym`` (as a user's script starts), then the first
# make + reset, timed alone (it imports SR-v0's modules, as it would there).
FIRST_MAKE = """
import json, time
t0 = time.perf_counter()
import gymnasium as gym
import aitp_gym
t1 = time.perf_counter()
env = gym.make("SR-v0")
env.reset(seed=0)
t2 = time.perf_counter()
from aitp_gym.envs.sr import splits
print(json.dumps({"imports": t1 - t0, "first": t2 - t1, "made": splits.split_theorems("train").made()}))
"""


def first_make_in_a_fresh_process() -> dict:
    out = subprocess.run([sys.executable, "-c", FIRST_MAKE], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def shipped_file_state() -> str:
    if splits.shipped_rows("train") is None:
        return "stale: not built by this generator, so every machine generates the splits once"
    doc = splits._read_shipped(splits.SHIPPED_FILE)
    if doc.get("sources") == splits.sources_key():
        return "current"
    return ("current, by the generator's key (the source files changed elsewhere; "
            "`python -m aitp_gym.envs.sr.splits` saves the key's few milliseconds)")


def generate_from_scratch() -> float:
    t0 = time.perf_counter()
    evaluation = [splits.generate(split) for split in ("valid", "test")]
    splits.generate("train", {t.data["target"] for theorems in evaluation for t in theorems})
    return time.perf_counter() - t0


def bench_make(n_envs: int) -> None:
    first = first_make_in_a_fresh_process()
    env = gym.make("SR-v0")
    env.reset(seed=0)  # this process's first: not timed here
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
    median = statistics.median(warm)
    generating = generate_from_scratch()
    print(f"shipped splits         {shipped_file_state()}")
    print(f"first make + reset     {first['first'] * 1e3:9.1f} ms   in a fresh process, after importing aitp_gym "
          f"({first['imports'] * 1e3:.0f} ms); made {first['made']} train theorem(s) (target <= 500 ms)")
    print(f"warm make + reset      {median * 1e3:9.1f} ms   median of {len(warm)} (target <= 50 ms)")
    print(f"first / warm           {first['first'] / median:9.0f} x")
    print(f"generating the splits  {generating * 1e3:9.1f} ms   from scratch: the first make + reset before "
          "the splits shipped")
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
