"""Does learning help? The ranker and the seq2seq policy, each pre-trained only on SR-v0's generator proofs, against
the uniform policy, all under BestFS at the same budget on the same validation theorems, in one run.

    python bench/learning.py                       # 100 valid theorems, 200 expansions, 1500 seq2seq steps
    python bench/learning.py --no-seq2seq          # the ranker against the uniform policy only (about a minute)
    python bench/learning.py --limit 20 --steps 300 --budget 100   # a quick look

Prints the proof rates side by side, the training time, and model vs prover time per expansion.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from aitp_gym import ProofAttempt
from aitp_gym.agents.buffers import ground_truth_pairs
from aitp_gym.agents.learners.ranker import RankerSettings, train_ranker
from aitp_gym.agents.learners.seq2seq import Seq2SeqSettings, train_seq2seq
from aitp_gym.agents.ranker import RankerPolicy
from aitp_gym.agents.seq2seq import GenerationSettings, Seq2SeqPolicy
from aitp_gym.envs.sr.backend import SRBackend
from aitp_gym.search import BestFS, summarise


def evaluate(label: str, backend: SRBackend, theorems: list, budget: int, policy=None, k: int | None = None) -> dict:
    results = []
    for theorem in tqdm(theorems, desc=label, file=sys.stderr):
        planner = BestFS(max_expansions=budget, time_limit=600, tactics_per_expansion=k)
        results.append(planner.search(ProofAttempt(backend, theorem), policy=policy))
    return {"label": label, **summarise([r.summary() for r in results])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=100, help="validation theorems (default 100)")
    parser.add_argument("--budget", type=int, default=200, help="BestFS expansions per theorem (default 200)")
    parser.add_argument("--steps", type=int, default=1500, help="seq2seq training steps (default 1500)")
    parser.add_argument("--ranker-steps", type=int, default=300, help="ranker training steps (default 300)")
    parser.add_argument("--no-seq2seq", action="store_true", help="skip the seq2seq policy (its training is slow)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--k", type=int, default=8, help="tactics per expansion for the learned policy")
    parser.add_argument("--save", type=Path, default=None, help="save the trained policy here")
    args = parser.parse_args()

    backend = SRBackend()
    theorems = list(backend.theorems("valid"))[: args.limit]
    pairs = ground_truth_pairs("SR-v0", "train")
    t0 = time.perf_counter()
    ranker = RankerPolicy.tiny(num_candidates=args.k)
    trained = train_ranker(ranker, pairs, RankerSettings(steps=args.ranker_steps, batch_size=args.batch_size))
    print(f"ranker pre-training: {len(pairs)} (goal, tactic) pairs from generator proofs, {args.ranker_steps} "
          f"steps in {time.perf_counter() - t0:.0f} s, loss {trained.first_loss:.2f} -> {trained.final_loss:.3f}")
    policy = None
    if not args.no_seq2seq:
        t0 = time.perf_counter()
        policy = Seq2SeqPolicy.tiny(settings=GenerationSettings(num_candidates=args.k, goal_view="sr"))
        trained = train_seq2seq(policy, pairs, Seq2SeqSettings(steps=args.steps, batch_size=args.batch_size,
                                                               lr=2e-3))
        if args.save:
            policy.save_pretrained(args.save)
        print(f"seq2seq pre-training: {args.steps} steps in {time.perf_counter() - t0:.0f} s, loss "
              f"{trained.first_loss:.2f} -> {trained.final_loss:.3f}")

    # the uniform policy with every candidate (about 30 tactics per expansion on SR-v0), and at the models' k
    rows = [evaluate("uniform, all", backend, theorems, args.budget),
            evaluate(f"uniform, k={args.k}", backend, theorems, args.budget, k=args.k),
            evaluate(f"ranker, k={args.k}", backend, theorems, args.budget, ranker, k=args.k)]
    if policy is not None:
        rows.append(evaluate(f"seq2seq, k={args.k}", backend, theorems, args.budget, policy, k=args.k))
    print(f"\nBestFS on SR-v0 valid ({len(theorems)} theorems), {args.budget} expansions:")
    print(f"{'policy':16} {'proved':>10} {'model ms/exp':>13} {'prover ms/exp':>14} {'exp. when proved':>17}")
    for r in rows:
        print(f"{r['label']:16} {r['proved']:>4}/{r['attempted']:<5} {1000 * r['model_s_per_expansion']:>13.1f} "
              f"{1000 * r['prover_s_per_expansion']:>14.2f} {r['mean_expansions_to_proof'] or 0:>17.1f}")
    for learned in rows[2:]:
        for base in rows[:2]:
            print(f"ratio proved {learned['label']} / {base['label']}: "
                  f"{learned['proved'] / max(1, base['proved']):.2f}")


if __name__ == "__main__":
    main()
