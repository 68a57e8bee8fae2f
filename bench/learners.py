"""Learner step times side by side on the same batch: seq2seq, DPO, ILQL and critic, interleaved in one run.

    python bench/learners.py [--batch-size 32] [--repeats 10]

The batch comes from real SR-v0 traces written at the start (BestFS and HTPS, small budget). Prints the median
seconds per optimiser step and the ratio to the seq2seq step (the issue's target: ILQL ≤ 3× seq2seq).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from aitp_gym import ProofAttempt, iter_traces
from aitp_gym.agents import buffers as B
from aitp_gym.agents.critic import ValueCritic
from aitp_gym.agents.learners.critic import CriticSettings, train_critic
from aitp_gym.agents.learners.dpo import DPOSettings, train_dpo
from aitp_gym.agents.learners.ilql import ILQLHeads, ILQLSettings, train_ilql
from aitp_gym.agents.learners.seq2seq import Seq2SeqSettings, train_seq2seq
from aitp_gym.agents.seq2seq import Seq2SeqPolicy
from aitp_gym.envs.sr.backend import SRBackend
from aitp_gym.search import make_planner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="aitp-bench-learners-"))
    backend = SRBackend()
    for i, theorem in enumerate(list(backend.theorems("valid"))[:30]):
        for name in ("bestfs", "htps"):
            make_planner(name, max_expansions=30).search(ProofAttempt(backend, theorem),
                                                         trace_path=folder / f"{i:03d}-{name}.json.gz")
    buffers, stats = B.build_all(iter_traces(folder))
    print(f"buffers from {stats.traces} traces: {stats.counts}")

    n = args.batch_size
    batch = {k: v[:n] for k, v in buffers.items()}
    # seq2seq and ILQL see the same (goal, tactic) pairs: the ILQL transitions' own
    same_pairs = [B.TacticPair(t.goal, t.tactic) for t in batch["ilql"]]
    policy, critic = Seq2SeqPolicy.tiny(), ValueCritic.tiny()
    heads = ILQLHeads.for_policy(policy)
    one = dict(steps=1, batch_size=n)
    runs = {
        "seq2seq": lambda: train_seq2seq(policy, same_pairs, Seq2SeqSettings(**one), progress=False),
        "ilql": lambda: train_ilql(policy, batch["ilql"], heads, ILQLSettings(**one), progress=False),
        "dpo": lambda: train_dpo(policy, batch["dpo"], DPOSettings(**one), progress=False),
        "critic": lambda: train_critic(critic, batch["critic"], CriticSettings(**one), progress=False),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for run in runs.values():  # warm-up
        run()
    for _ in range(args.repeats):
        for name, run in runs.items():  # interleaved, so machine noise hits every learner alike
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["seq2seq"])
    print(f"\nseconds per optimiser step, batch {n}, median of {args.repeats} (interleaved):")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:8} {med:7.3f} s   {med / base:4.2f}× seq2seq")


if __name__ == "__main__":
    main()
