"""All five planners side by side, at equal expansion budgets, in one run.

    python bench/planners.py                              # SR-v0 valid (100) and 20 HOList-v0 valid theorems
    python bench/planners.py --holist-limit 0 --markdown docs/benchmarks-planners.md

For each theorem, every planner runs in turn (theorem-major order), so load on a shared machine
falls on all planners alike. Per environment and planner it prints:

* the proof rate (every proof replayed on a fresh prover);
* mean expansions to a proof, over the theorems each planner proved and over those all planners proved;
* the time split: prover (tactic application and replay), model (policy and critic), tree (status
  propagation in the shared proof tree) and planner bookkeeping (everything else).

Model-free policy and critic: uniform over the backend's candidate tactics, and the environment's
default critic (SR-v0: distance to the data; HOList-v0: 0.5).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections import defaultdict

from tqdm import tqdm

import aitp_gym  # noqa: F401
from aitp_gym import ProofAttempt
from aitp_gym.search import PLANNERS, SearchResult, make_planner

ORDER = ["bestfs", "bfs", "fringe", "updown", "htps"]


def run_env(env_id: str, start: int, limit: int, budget: int, time_limit: float,
            planners: list[str]) -> dict[str, list]:
    if env_id == "SR-v0":
        from aitp_gym.envs.sr.backend import SRBackend

        backend = SRBackend()
    else:
        from aitp_gym.envs.holist.backend import HOListBackend

        backend = HOListBackend()
        backend.worker  # noqa: B018 -- warm the prover (about a minute) so no planner pays its start-up
    theorems = list(backend.theorems("valid"))[start:start + limit]
    results: dict[str, list[SearchResult]] = defaultdict(list)
    for theorem in tqdm(theorems, desc=env_id, unit="thm"):
        for name in planners:
            planner = make_planner(name, max_expansions=budget, time_limit=time_limit)
            results[name].append(planner.search(ProofAttempt(backend, theorem)))
    backend.close()
    return results


def table(env_id: str, start: int, results: dict[str, list[SearchResult]], budget: int) -> list[str]:
    names = list(results)
    n = len(results[names[0]])
    common = [i for i in range(n) if all(results[p][i].proved for p in names)]
    first = f" from #{start}" if start else ""
    lines = [f"### {env_id} valid: {n} theorems{first}, {budget} expansions each "
             f"({len(common)} proved by all {len(names)} planners)", "",
             "| planner | proved | rate | mean expansions to proof | on the common set | prover | model | tree "
             "| planner bookkeeping | wall s/thm |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in names:
        rs = results[p]
        proved = [r for r in rs if r.proved]
        wall = sum(r.wall_time for r in rs)

        def share(attr: str, rs: list = rs, wall: float = wall) -> str:
            return f"{100 * sum(getattr(r, attr) for r in rs) / wall:.1f}%"

        mean_exp = f"{statistics.fmean(r.expansions for r in proved):.1f}" if proved else "–"
        mean_common = f"{statistics.fmean(rs[i].expansions for i in common):.1f}" if common else "–"
        lines.append(f"| {p} | {len(proved)}/{n} | {100 * len(proved) / n:.0f}% | {mean_exp} | {mean_common} "
                     f"| {share('prover_time')} | {share('policy_time')} | {share('tree_time')} "
                     f"| {share('bookkeeping_time')} | {wall / n:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sr-limit", type=int, default=100, help="SR-v0 valid theorems (0: skip SR-v0)")
    parser.add_argument("--sr-budget", type=int, default=200, help="expansions per SR-v0 theorem")
    parser.add_argument("--holist-limit", type=int, default=20, help="HOList-v0 valid theorems (0: skip)")
    parser.add_argument("--holist-start", type=int, default=0, help="index of the first HOList-v0 valid theorem")
    parser.add_argument("--holist-budget", type=int, default=16, help="expansions per HOList-v0 theorem")
    parser.add_argument("--time-limit", type=float, default=60.0, help="wall seconds per theorem and planner")
    parser.add_argument("--planners", default=",".join(ORDER), help="comma-separated subset")
    parser.add_argument("--markdown", default=None, help="also write the tables to this file")
    args = parser.parse_args()

    planners = [p.strip() for p in args.planners.split(",")]
    unknown = set(planners) - set(PLANNERS)
    if unknown:
        parser.error(f"unknown planners {sorted(unknown)}; choose from {', '.join(PLANNERS)}")
    started = time.time()
    out = [f"Command: `python {' '.join(sys.argv)}`", "",
           f"Machine: {platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}", ""]
    jobs = [("SR-v0", 0, args.sr_limit, args.sr_budget)]
    if args.holist_limit:
        from aitp_gym.envs.holist.prover import hol_light_available

        if hol_light_available():
            jobs.append(("HOList-v0", args.holist_start, args.holist_limit, args.holist_budget))
        else:
            print("HOL Light is not installed; skipping HOList-v0", file=sys.stderr)
    for env_id, start, limit, budget in jobs:
        if limit:
            results = run_env(env_id, start, limit, budget, args.time_limit, planners)
            lines = table(env_id, start, results, budget)
            print("\n".join(lines) + "\n", flush=True)
            out += [*lines, ""]
    out.append(f"Total wall time: {time.time() - started:.0f} s")
    print(out[-1])
    if args.markdown:
        from aitp_gym.trace import atomic_write_text

        atomic_write_text(args.markdown, "\n".join(out) + "\n")


if __name__ == "__main__":
    main()
