"""The ``aitp`` command line: run planners on an environment's theorems, list theorems."""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aitp_gym.errors import AitpError
from aitp_gym.trace import atomic_write_text


def _env_ids() -> list[str]:
    from gymnasium.envs.registration import registry

    import aitp_gym  # noqa: F401  (registers the environments)

    return sorted(k for k, spec in registry.items()
                  if spec.entry_point and str(spec.entry_point).startswith("aitp_gym.envs."))


def _make_env(env_id: str, split: str) -> Any:
    import gymnasium as gym

    import aitp_gym  # noqa: F401

    if env_id not in _env_ids():
        raise SystemExit(f"aitp: unknown environment {env_id!r}; choose from {', '.join(_env_ids())}")
    return gym.make(env_id, split=split)


def cmd_theorems(args: argparse.Namespace) -> int:
    env = _make_env(args.env, args.split)
    theorems = env.unwrapped.backend.theorems(args.split)
    shown = theorems[: args.limit] if args.limit else theorems
    if args.json:
        for t in shown:
            print(json.dumps({"id": t.id, "statement": t.statement}, ensure_ascii=False))
    else:
        for t in shown:
            print(f"{t.id}\t{t.statement}")
        print(f"# {len(shown)} of {len(theorems)} theorems in the {args.split} split of {args.env}", file=sys.stderr)
    return 0


def cmd_prove(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from aitp_gym.search import make_planner

    env = _make_env(args.env, args.split)
    backend = env.unwrapped.backend
    if args.theorem:
        from aitp_gym.env import find_theorem

        theorems = [find_theorem(backend, tid) for tid in args.theorem]
    else:
        theorems = list(backend.theorems(args.split))
        if args.limit:
            theorems = theorems[: args.limit]
    planner = make_planner(args.planner, max_expansions=args.budget, time_limit=args.time_limit,
                           tactics_per_expansion=args.tactics_per_expansion,
                           **planner_overrides(args.planner, args.set or []))
    critic = make_critic(args.critic, backend)
    out = Path(args.out) if args.out else None
    results = []
    started = time.perf_counter()
    bar = tqdm(theorems, desc=f"{args.planner} on {args.env}/{args.split}", unit="thm", disable=args.quiet)
    for i, theorem in enumerate(bar):
        env.reset(seed=args.seed, options={"theorem": theorem})
        trace_path = out / "traces" / f"{i:04d}-{theorem.id}.json.gz" if out else None
        result = planner.search(env, critic=critic, trace_path=trace_path,
                                header={"seed": args.seed, "split": args.split})
        results.append(result)
        bar.set_postfix(proved=f"{sum(r.proved for r in results)}/{len(results)}")
    env.close()
    total = time.perf_counter() - started

    proved = [r for r in results if r.proved]
    n = len(results)
    summary = {
        "env": args.env, "planner": args.planner, "critic": critic.name, "split": args.split, "budget": args.budget,
        "seed": args.seed, "settings": dataclasses.asdict(planner.settings),
        "proved": len(proved), "attempted": n, "proof_rate": len(proved) / n if n else 0.0,
        "mean_time": statistics.fmean(r.wall_time for r in results) if n else 0.0,
        "mean_expansions": statistics.fmean(r.expansions for r in results) if n else 0.0,
        "mean_expansions_to_proof": statistics.fmean(r.expansions for r in proved) if proved else None,
        "total_time": total,
        "results": [r.summary() for r in results],
    }
    if out:
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    print(f"{args.planner} on {args.env} ({args.split}): proved {len(proved)}/{n} "
          f"({100 * summary['proof_rate']:.1f}%) | mean time {summary['mean_time']:.3f} s | "
          f"mean expansions {summary['mean_expansions']:.1f} | total {total:.1f} s")
    if out:
        print(f"traces: {out / 'traces'}  summary: {out / 'summary.json'}")
    return 0


def planner_overrides(planner: str, assignments: Sequence[str]) -> dict[str, Any]:
    """``["exploration=1", "temperature=0.5"]`` → typed planner settings, with clear errors."""
    from aitp_gym.search import PLANNERS

    fields = {f.name: f for f in dataclasses.fields(PLANNERS[planner].Settings)}
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            known = ", ".join(sorted(set(fields) - {"max_expansions", "time_limit", "tactics_per_expansion"}))
            raise SystemExit(f"aitp: --set {item!r}: {planner} settings are {known} (write KEY=VALUE)")
        kind = str(fields[key].type)
        try:
            if kind.startswith("bool"):
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                out[key] = raw.lower() in ("true", "1", "yes")
            elif kind.startswith("int"):
                out[key] = int(raw)
            elif kind.startswith("float"):
                out[key] = float(raw)
            else:
                out[key] = raw
        except ValueError:
            raise SystemExit(f"aitp: --set {item!r}: {key} must be {kind.split()[0]}") from None
    return out


def make_critic(name: str, backend: Any) -> Any:
    from aitp_gym.policy import ConstantCritic, default_critic

    if name == "auto":
        return default_critic(backend)
    if name == "constant":
        return ConstantCritic()
    raise SystemExit(f"aitp: unknown critic {name!r}; choose auto or constant")


def build_parser() -> argparse.ArgumentParser:
    from aitp_gym.search import PLANNERS

    parser = argparse.ArgumentParser(
        prog="aitp", description="aitp-gym: theorem provers as Gymnasium environments, with proof-search planners.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prove = sub.add_parser("prove", help="run a planner on the theorems of a split and write traces",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    prove.add_argument("--env", default="SR-v0", help="registered environment id (SR-v0, HOList-v0, Lean-v0)")
    prove.add_argument("--planner", default="bestfs", choices=sorted(PLANNERS), help="search strategy")
    prove.add_argument("--split", default="valid", choices=["train", "valid", "test"], help="theorem set")
    prove.add_argument("--limit", type=int, default=0, help="prove only the first N theorems of the split (0: all)")
    prove.add_argument("--theorem", action="append", metavar="ID",
                       help="prove this theorem id instead of a split (repeatable)")
    prove.add_argument("--budget", type=int, default=200, help="expansions allowed per theorem")
    prove.add_argument("--time-limit", type=float, default=60.0, help="wall-clock seconds allowed per theorem")
    prove.add_argument("--tactics-per-expansion", type=int, default=None,
                       help="candidates tried per expanded goal (default: all the policy offers)")
    prove.add_argument("--critic", default="auto", choices=["auto", "constant"],
                       help="goal values for fringe/updown/htps: auto is the environment's model-free heuristic "
                            "(SR-v0: distance to the data; elsewhere a constant 0.5)")
    prove.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="a planner setting, repeatable: htps exploration, descents_per_batch, virtual_loss, "
                            "depth_penalty; updown depth_discount, temperature; fringe score, temperature; "
                            "early_stop, check_proof for all")
    prove.add_argument("--seed", type=int, default=0, help="seed passed to env.reset and recorded in traces")
    prove.add_argument("--out", default=None, help="folder for traces/ and summary.json (default: write nothing)")
    prove.add_argument("--quiet", action="store_true", help="no progress bar")
    prove.set_defaults(func=cmd_prove)

    theorems = sub.add_parser("theorems", help="list the theorems of a split (id, statement)",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    theorems.add_argument("--env", default="SR-v0", help="registered environment id")
    theorems.add_argument("--split", default="valid", choices=["train", "valid", "test"], help="theorem set")
    theorems.add_argument("--limit", type=int, default=0, help="list only the first N (0: all)")
    theorems.add_argument("--json", action="store_true", help="one JSON object per line")
    theorems.set_defaults(func=cmd_theorems)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AitpError as e:
        print(f"aitp: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
