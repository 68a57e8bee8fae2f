"""The ranker's model time against the prover's, per expansion, measured side by side in one run.

    python bench/ranker.py [--limit 100] [--budget 32] [--steps 300]

A ranker is trained for ``--steps`` on SR-v0's generator proofs (seconds), then HTPS proves the first ``--limit``
valid theorems at ``--budget`` expansions with 8, 16 and 32 tactics per expansion, interleaved theorem by theorem
so that machine load falls on each alike. Per setting it prints the proof count and the seconds per expansion in
the policy (featurising and scoring every enumerated tactic of the goal), in the prover, and their ratio.

Target (issue 24): model time per expansion <= the prover's. The ranker scores every candidate whatever k is, so
its time per expansion stays put while the prover's grows with k.
"""

from __future__ import annotations

import argparse
import statistics

import gymnasium as gym

import aitp_gym  # noqa: F401
from aitp_gym.agents.buffers import ground_truth_pairs
from aitp_gym.agents.learners.ranker import RankerSettings, train_ranker
from aitp_gym.agents.ranker import RankerPolicy
from aitp_gym.search import HTPS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--budget", type=int, default=32)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()

    policy = RankerPolicy.tiny()
    train_ranker(policy, ground_truth_pairs("SR-v0", "train"), RankerSettings(steps=args.steps), progress=False)
    ks = (8, 16, 32)
    stats = {k: {"proved": 0, "model": 0.0, "prover": 0.0, "expansions": 0} for k in ks}
    env = gym.make("SR-v0", split="valid")
    theorems = list(env.unwrapped.backend.theorems("valid"))[: args.limit]
    for theorem in theorems:
        for k in ks:
            env.reset(options={"theorem": theorem.id})
            planner = HTPS(max_expansions=args.budget, tactics_per_expansion=k, exploration=1.0, count_threshold=3)
            result = planner.search(env, policy=policy)
            s = stats[k]
            s["proved"] += result.proved
            s["model"] += result.policy_time
            s["prover"] += result.prover_time
            s["expansions"] += result.expansions
    env.close()
    print(f"HTPS, {args.budget} expansions, {len(theorems)} SR-v0 valid theorems, ranker trained {args.steps} steps")
    print("tactics/expansion  proved  model ms/exp  prover ms/exp  model ÷ prover")
    ratios = []
    for k in ks:
        s = stats[k]
        per = max(1, s["expansions"])
        model, prover = 1e3 * s["model"] / per, 1e3 * s["prover"] / per
        ratios.append(model / prover)
        print(f"{k:>17}  {s['proved']:>6}  {model:>12.2f}  {prover:>13.2f}  {model / prover:>14.2f}")
    print(f"median model ÷ prover: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
