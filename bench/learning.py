"""Does learning help? A seq2seq policy pre-trained only on SR-v0's generator proofs, against the uniform policy,
both under BestFS at the same budget on the same validation theorems, in one run.

    python bench/learning.py                       # 100 valid theorems, 200 expansions, 1500 training steps
    python bench/learning.py --limit 20 --steps 300 --budget 100   # a quick look

Prints the proof rates side by side, the training time, and model vs prover time per expansion.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from tqdm import tqdm

from aitp_gym import ProofAttempt
from aitp_gym.agents.buffers import sr_ground_truth_pairs
from aitp_gym.agents.learners.seq2seq import Seq2SeqSettings, train_seq2seq
from aitp_gym.agents.seq2seq import GenerationSettings, Seq2SeqPolicy
from aitp_gym.envs.sr.backend import SRBackend
from aitp_gym.search import BestFS


def evaluate(label: str, backend: SRBackend, theorems: list, budget: int, policy=None, k: int | None = None) -> dict:
    results = []
    for theorem in tqdm(theorems, desc=label, file=sys.stderr):
        planner = BestFS(max_expansions=budget, time_limit=600, tactics_per_expansion=k)
        results.append(planner.search(ProofAttempt(backend, theorem), policy=policy))
    expansions = sum(r.expansions for r in results)
    return {"label": label, "proved": sum(r.proved for r in results), "n": len(results),
            "model_ms_per_expansion": 1000 * sum(r.policy_time for r in results) / max(1, expansions),
            "prover_ms_per_expansion": 1000 * sum(r.prover_time for r in results) / max(1, expansions),
            "mean_expansions_when_proved": statistics.mean([r.expansions for r in results if r.proved] or [0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=100, help="validation theorems (default 100)")
    parser.add_argument("--budget", type=int, default=200, help="BestFS expansions per theorem (default 200)")
    parser.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--k", type=int, default=8, help="tactics per expansion for the learned policy")
    parser.add_argument("--save", type=Path, default=None, help="save the trained policy here")
    args = parser.parse_args()

    backend = SRBackend()
    theorems = list(backend.theorems("valid"))[: args.limit]
    t0 = time.perf_counter()
    pairs = sr_ground_truth_pairs("train")
    policy = Seq2SeqPolicy.tiny(settings=GenerationSettings(num_candidates=args.k, goal_view="sr"))
    trained = train_seq2seq(policy, pairs, Seq2SeqSettings(steps=args.steps, batch_size=args.batch_size, lr=2e-3))
    train_s = time.perf_counter() - t0
    if args.save:
        policy.save_pretrained(args.save)
    print(f"pre-training: {len(pairs)} (goal, tactic) pairs from generator proofs, {args.steps} steps in "
          f"{train_s:.0f} s, loss {trained.first_loss:.2f} -> {trained.final_loss:.3f}")

    # the uniform policy with every candidate (about 30 tactics per expansion on SR-v0), and at the model's k
    rows = [evaluate("uniform, all", backend, theorems, args.budget),
            evaluate(f"uniform, k={args.k}", backend, theorems, args.budget, k=args.k),
            evaluate(f"seq2seq, k={args.k}", backend, theorems, args.budget, policy, k=args.k)]
    print(f"\nBestFS on SR-v0 valid ({len(theorems)} theorems), {args.budget} expansions:")
    print(f"{'policy':16} {'proved':>10} {'model ms/exp':>13} {'prover ms/exp':>14} {'exp. when proved':>17}")
    for r in rows:
        print(f"{r['label']:16} {r['proved']:>4}/{r['n']:<5} {r['model_ms_per_expansion']:>13.1f} "
              f"{r['prover_ms_per_expansion']:>14.2f} {r['mean_expansions_when_proved']:>17.1f}")
    for base in rows[:2]:
        print(f"ratio proved seq2seq / {base['label']}: {rows[2]['proved'] / max(1, base['proved']):.2f}")


if __name__ == "__main__":
    main()
