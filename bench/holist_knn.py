"""HOList-v0: the TacticToe-style k-NN policy against the TF-IDF baseline, side by side in one run (issue 25).

The fixed evaluation: BestFS at ``--budget`` expansions (32), ``--k`` tactics per expansion (8), HOL Light's default
2 s tactic timeout, on the first ``--limit`` (100) valid theorems in load order (``--offset`` skips some: tune on
theorems 100-199, report on 0-99). Three policies on the same theorems:

* ``baseline``: the model-free TF-IDF baseline (``UniformPolicy``: a seeded k-subset of its ~12 candidates);
* ``baseline-all``: the same baseline with all its candidates (brute force at the same planner and budget);
* ``knn``: ``TacticKNNPolicy`` with the human proof logs of the train split as its memory (no loop round).

The theorems are shared out to ``--workers`` processes (2), and each process runs the three policies one after the
other on each of its theorems, so that the load on the machine is the same for all three. The script prints proved
counts, ratios, mean expansions and wall time, and writes ``results.jsonl`` (one line per search, as it ends) and
``summary.json`` to ``--out``.

    python bench/holist_knn.py [--limit 100] [--offset 0] [--budget 32] [--k 8] [--out runs/bench_holist_knn]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

POLICIES = ("baseline", "baseline-all", "knn")


def run(policies: list[str], ids: list[str], budget: int, k: int, time_limit: float, settings: dict, variant: dict,
        split: str, held_out: list[str], queue) -> None:
    import aitp_gym  # noqa: F401
    from aitp_gym.attempt import ProofAttempt
    from aitp_gym.envs.holist.backend import HOListBackend
    from aitp_gym.search import make_planner

    backend = HOListBackend()
    backend.prepare()
    theorems = {t.id: t for t in backend.theorems(split)}
    models = {}
    if any(p.startswith("knn") for p in policies):
        from aitp_gym.agents.holist_knn import KNNSettings, TacticKNNPolicy
        from aitp_gym.envs.holist.proof_logs import human_steps, load_proof_logs

        hidden = set(held_out)  # tuning on train theorems: their own human proofs leave the memory
        pairs = human_steps(r for r in load_proof_logs() if r.header["theorem_id"] not in hidden)
        for name, values in (("knn", settings), ("knn-variant", {**settings, **variant})):
            if name in policies:
                models[name] = TacticKNNPolicy(KNNSettings(**values), backend)
                models[name].remember(pairs)
    for tid in ids:
        for which in policies:
            per = None if which == "baseline-all" else k
            planner = make_planner("bestfs", max_expansions=budget, time_limit=time_limit, tactics_per_expansion=per)
            res = planner.search(ProofAttempt(backend, theorems[tid]), policy=models.get(which))
            s = res.summary()
            queue.put((which, tid, {key: s[key] for key in ("proved", "expansions", "wall_time", "prover_time",
                                                            "policy_time")}))
    queue.put((None, None, None))
    backend.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--budget", type=int, default=32)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--only", nargs="*", choices=(*POLICIES, "knn-variant"), default=list(POLICIES))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--train-dev", action="store_true",
                    help="tune on train theorems instead: --limit of them (a seeded sample of those with human "
                         "proofs), whose own proofs are taken out of the k-NN memory")
    ap.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE",
                    help="a KNNSettings field for a second k-NN policy, knn-variant, run beside the others")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a KNNSettings field")
    ap.add_argument("--out", default="runs/bench_holist_knn")
    args = ap.parse_args(argv)
    def parse(items: list[str]) -> dict:
        out = {}
        for item in items:
            key, value = item.split("=", 1)
            out[key] = float(value) if "." in value else int(value)
        return out

    settings, variant = parse(args.set), parse(args.variant)
    if variant and "knn-variant" not in args.only:
        args.only.append("knn-variant")

    from aitp_gym.envs.holist.backend import HOListBackend
    from aitp_gym.envs.holist.proof_logs import load_proof_logs

    backend = HOListBackend()
    backend.prepare(lambda m: print(m, file=sys.stderr))
    load_proof_logs(backend=backend, progress=True)  # built once, before the clocks start
    ids = [t.id for t in backend.theorems("valid")][args.offset:args.offset + args.limit]
    split, held_out = "valid", []
    if args.train_dev:
        import random

        logged = sorted({r.header["theorem_id"] for r in load_proof_logs()})
        ids = held_out = sorted(random.Random(args.offset).sample(logged, args.limit))
        split = "train"
    backend.close()

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    t0 = time.time()
    procs = [ctx.Process(target=run, args=(args.only, ids[w::args.workers], args.budget, args.k, args.time_limit,
                                           settings, variant, split, held_out, queue)) for w in range(args.workers)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "results.jsonl").open("w")
    for p in procs:
        p.start()
    results: dict[str, dict[str, dict]] = {w: {} for w in args.only}
    running = len(procs)
    while running:
        which, tid, res = queue.get()
        if which is None:
            running -= 1
            continue
        results[which][tid] = res
        log.write(json.dumps({"policy": which, "theorem": tid, **res}) + "\n")
        log.flush()
        done = {w: f"{sum(r['proved'] for r in rs.values())}/{len(rs)}" for w, rs in results.items()}
        print(f"[{time.time() - t0:5.0f} s] " + "  ".join(f"{w} {d}" for w, d in done.items()), file=sys.stderr)
    for p in procs:
        p.join()
    wall = time.time() - t0
    where = (f"{len(ids)} train theorems (seed {args.offset}) without their own proofs in the memory" if args.train_dev
             else f"valid theorems {args.offset}..{args.offset + len(ids) - 1} in load order")
    lines = [f"HOList-v0, {where}, BestFS, "
             f"{args.budget} expansions, {args.k} tactics per expansion (baseline-all: every candidate), "
             f"{wall:.0f} s in all ({args.workers} processes)"]
    summary = {}
    for w, rs in results.items():
        n = len(rs)
        proved = sum(r["proved"] for r in rs.values())
        exp = sum(r["expansions"] for r in rs.values())
        summary[w] = {"proved": proved, "attempted": n, "mean_expansions": exp / max(1, n),
                      "mean_time": sum(r["wall_time"] for r in rs.values()) / max(1, n),
                      "prover_s_per_expansion": sum(r["prover_time"] for r in rs.values()) / max(1, exp),
                      "model_s_per_expansion": sum(r["policy_time"] for r in rs.values()) / max(1, exp)}
        lines.append(f"  {w:13s} {proved:3d}/{n}  mean expansions {exp / max(1, n):5.1f}  "
                     f"mean time {summary[w]['mean_time']:5.1f} s  prover {summary[w]['prover_s_per_expansion']:.3f} "
                     f"s/exp  model {1000 * summary[w]['model_s_per_expansion']:.1f} ms/exp")
    for model in ("knn", "knn-variant"):
        for ref in ("baseline", "baseline-all"):
            if model in summary and ref in summary and summary[ref]["proved"]:
                lines.append(f"  {model} / {ref}: {summary[model]['proved'] / summary[ref]['proved']:.2f}x")
    print("\n".join(lines))
    (out / "summary.json").write_text(json.dumps({"args": vars(args), "theorems": ids, "summary": summary,
                                                  "results": results, "report": lines}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
