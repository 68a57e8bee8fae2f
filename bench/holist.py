"""HOList-v0 benchmark, measured side by side in one run:

* time per tactic through the env (``env.step``) against a raw round-trip to the same toplevel
  (the same APPLY request written straight to the worker's socket), interleaved;
* cold start of the HOL Light server against a warm fork (connect + first answer);
* a second Python process's first step on the warm server (target <= 1 s), and its imports;
* the pickle size of a HOList-v0 env, and a step bounded by tactic_timeout on a huge result goal;
* tactics per second with 1 and with 2 worker instances (one thread each).

* fidelity (``--fidelity``): HOL Light's own single-tactic core proofs replayed through the env as
  ``reset(theorem)`` + ``step(tactic)``, and its THEN chains of atomic tactics step by step
  (``aitp_gym.envs.holist.fidelity``); ``--fidelity-only`` skips everything else;
* the model-free baseline (``--baseline N``): BestFS on the first N valid theorems at the same
  budget, without and with the GSYM variants of its top premise, interleaved theorem by theorem.

By default the benchmark uses a server of its own in a temporary directory (so the cold start is
real) and stops it at the end; ``--reuse`` uses the machine's server instead (no cold start figure
if it is already warm).

    python bench/holist.py [--n 300] [--seconds 10] [--reuse] [--fidelity | --fidelity-only] [--baseline N]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import gymnasium as gym

import aitp_gym  # noqa: F401
from aitp_gym.envs.holist import server
from aitp_gym.envs.holist.backend import HOListBackend
from aitp_gym.envs.holist.grammar import parse_tactic

TACTICS = ["GEN_TAC", "REWRITE_TAC []", "CONJ_TAC", "STRIP_TAC", "DISCH_TAC"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="tactic applications per side")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput run")
    parser.add_argument("--reuse", action="store_true", help="use the machine's server instead of a private one")
    parser.add_argument("--fidelity", action="store_true", help="also replay HOL Light's own core proofs")
    parser.add_argument("--fidelity-only", action="store_true", help="only the fidelity replay (and --baseline)")
    parser.add_argument("--baseline", type=int, default=0, metavar="N",
                        help="BestFS baseline on the first N valid theorems, without and with GSYM variants")
    parser.add_argument("--budget", type=int, default=16, help="expansions per theorem for --baseline")
    args = parser.parse_args()
    own_dir = None
    if not args.reuse:
        own_dir = tempfile.mkdtemp(prefix="aitp-hol-bench-")
        os.environ["AITP_HOL_SERVER_DIR"] = own_dir
    try:
        run(args)
    finally:
        if own_dir is not None:
            server.stop_server(force=True)
            shutil.rmtree(own_dir, ignore_errors=True)


SECOND_PROCESS = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter()
    import gymnasium as gym, aitp_gym
    t1 = time.perf_counter()
    env = gym.make("HOList-v0")
    env.reset(options={"statement": "1 + 1 = 2"})
    reward = env.step("ARITH_TAC")[1]
    t2 = time.perf_counter()
    print(json.dumps({"imports": t1 - t0, "first_step": t2 - t1, "reward": reward}))
""")


def fidelity() -> None:
    from aitp_gym.envs.holist import fidelity as fid

    env = gym.make("HOList-v0", max_episode_steps=None, tactic_timeout=30.0)
    t = time.perf_counter()
    report = fid.run(env, env.unwrapped.backend.database)
    env.close()
    print(report.summary())
    print(f"fidelity replay took {time.perf_counter() - t:.0f} s")


def baseline(n: int, budget: int) -> None:
    from aitp_gym import ProofAttempt
    from aitp_gym.search import make_planner

    backends = {False: HOListBackend(gsym_variants=False), True: HOListBackend(gsym_variants=True)}
    theorems = list(backends[False].theorems("valid"))[:n]
    proved = {False: 0, True: 0}
    seconds = {False: 0.0, True: 0.0}
    for theorem in theorems:
        for gsym, b in backends.items():  # interleaved, theorem by theorem
            t = time.perf_counter()
            result = make_planner("bestfs", max_expansions=budget, time_limit=60).search(ProofAttempt(b, theorem))
            seconds[gsym] += time.perf_counter() - t
            proved[gsym] += bool(result.proved)
    for b in backends.values():
        b.close()
    for gsym in (False, True):
        print(f"baseline BestFS, {budget} expansions, first {n} valid theorems, "
              f"GSYM variants {'on' if gsym else 'off'}: "
              f"{proved[gsym]}/{n} proved ({100 * proved[gsym] / max(1, n):.1f} %) in {seconds[gsym]:.0f} s")


def run(args: argparse.Namespace) -> None:
    if args.fidelity_only:
        server.start_server(status=lambda m: print(m, flush=True))
        fidelity()
        if args.baseline:
            baseline(args.baseline, args.budget)
        return
    t0 = time.perf_counter()
    status = server.start_server(status=lambda m: print(m, flush=True))
    cold = server.last_cold_start_seconds
    print(f"server {status['socket']} (pid {status['pid']})")
    print("cold start (HOL Light core + aitp_server.ml): " + (f"{cold:.1f} s" if cold else "not measured (was warm)"))
    forks = []
    for _ in range(20):
        t = time.perf_counter()
        w = server.connect()
        w.request("PING", 10)
        forks.append(time.perf_counter() - t)
        w.kill()
    fork_s = statistics.median(forks)
    ratio = f" -> cold/warm ratio {cold / fork_s:,.0f}x" if cold else ""
    print(f"warm fork (connect + fork + first answer), median of 20: {fork_s * 1000:.1f} ms{ratio}")

    runs = []
    for _ in range(3):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", SECOND_PROCESS], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
        runs.append({**json.loads(out.stdout.strip().splitlines()[-1]), "wall": wall})
    first = statistics.median(r["first_step"] for r in runs)
    print(f"second process, median of 3: first step (gym.make + reset + step) {first * 1000:.0f} ms (target <= 1 s), "
          f"imports {statistics.median(r['imports'] for r in runs):.2f} s, "
          f"whole process {statistics.median(r['wall'] for r in runs):.2f} s, rewards {[r['reward'] for r in runs]}")

    env = gym.make("HOList-v0")
    env.reset(options={"statement": "!n. n + 0 = n"})
    env.step("GEN_TAC")
    data = pickle.dumps(env)
    t = time.perf_counter()
    copy = pickle.loads(data)
    copy.step("ARITH_TAC")
    took = time.perf_counter() - t
    print(f"pickled env after a step: {len(data):,} bytes; unpickle + re-attach + step {took * 1000:.0f} ms")
    env.close()
    copy.close()

    b = HOListBackend()
    huge = b.start(b.custom_theorem({"statement": "2 EXP 30000 = x"}))
    t = time.perf_counter()
    out = b.apply(huge, "CONV_TAC NUM_REDUCE_CONV", timeout=0.5)
    print(f"CONV_TAC NUM_REDUCE_CONV on 2 EXP 30000 = x, tactic_timeout 0.5: {out.kind.value} "
          f"({out.message[:60]}) in {time.perf_counter() - t:.2f} s")
    b.close()

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
    if args.fidelity:
        fidelity()
    if args.baseline:
        baseline(args.baseline, args.budget)
    print(f"total benchmark time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
