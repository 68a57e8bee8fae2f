"""HOList-v0 benchmark, measured side by side in one run:

* time per tactic through the env (``env.step``) against a raw round-trip to the same toplevel
  (the same APPLY request written straight to the worker's socket), interleaved;
* cold start of HOL Light against a warm fork;
* tactics per second with 1 and with 2 worker instances (one thread each).

    python bench/holist.py [--n 300] [--seconds 10]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import gymnasium as gym

import aitp_gym  # noqa: F401
from aitp_gym.envs.holist.backend import HOListBackend
from aitp_gym.envs.holist.grammar import parse_tactic
from aitp_gym.envs.holist.prover import shared_zygote

TACTICS = ["GEN_TAC", "REWRITE_TAC []", "CONJ_TAC", "STRIP_TAC", "DISCH_TAC"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="tactic applications per side")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput run")
    args = parser.parse_args()

    t0 = time.perf_counter()
    zygote = shared_zygote()
    print(f"cold start (HOL Light core + aitp_server.ml): {zygote.cold_start_seconds:.1f} s")
    forks = []
    for _ in range(20):
        t = time.perf_counter()
        w = zygote.fork()
        w.request("PING", 10)
        forks.append(time.perf_counter() - t)
        w.kill()
    fork_s = statistics.median(forks)
    print(f"warm fork (fork + first answer), median of 20: {fork_s * 1000:.1f} ms "
          f"-> cold/warm ratio {zygote.cold_start_seconds / fork_s:,.0f}x")

    env = gym.make("HOList-v0", split="valid", max_episode_steps=None)
    backend = env.unwrapped.backend
    theorems = list(backend.theorems("valid"))[:50]
    worker = backend.worker
    env_times, raw_times = [], []
    for i in range(args.n):
        theorem = theorems[i % len(theorems)]
        tactic = TACTICS[i % len(TACTICS)]
        env.reset(options={"theorem": theorem})
        t = time.perf_counter()
        env.step(tactic)
        env_times.append(time.perf_counter() - t)
        line = f"APPLY\t2000\t{theorem.data['sexp']}\t{parse_tactic(tactic).to_sexp()}"
        t = time.perf_counter()
        worker.request(line, 10)
        raw_times.append(time.perf_counter() - t)
    med_env, med_raw = statistics.median(env_times), statistics.median(raw_times)
    print(f"per tactic, median of {args.n}: env.step {med_env * 1000:.2f} ms, raw round-trip {med_raw * 1000:.2f} ms "
          f"-> ratio {med_env / med_raw:.2f}x (target <= 1.2x)")
    env.close()

    def throughput(n_workers: int) -> float:
        counts = [0] * n_workers
        stop = time.perf_counter() + args.seconds

        def run(k: int) -> None:
            b = HOListBackend()
            goals = [b.start(t) for t in theorems]
            i = 0
            while time.perf_counter() < stop:
                b.apply(goals[i % len(goals)], TACTICS[i % len(TACTICS)])
                counts[k] += 1
                i += 1
            b.close()

        threads = [threading.Thread(target=run, args=(k,)) for k in range(n_workers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return sum(counts) / args.seconds

    one, two = throughput(1), throughput(2)
    print(f"throughput: 1 instance {one:.0f} tactics/s, 2 instances {two:.0f} tactics/s -> {two / one:.2f}x")
    print(f"total benchmark time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
