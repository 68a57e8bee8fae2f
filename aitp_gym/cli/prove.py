"""``aitp prove``: run a planner on the theorems of a split, print proved n/N, and with ``--out`` write one trace
per theorem and ``summary.json``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aitp_gym.backend import SupportsPrepare
from aitp_gym.cli.common import (
    EXIT_OK,
    UsageError,
    _benchmark_kwargs,
    _make_env,
    add_benchmark_option,
    add_command,
    interrupted_exit_code,
    interruption,
    nonnegative_int,
    positive_float,
    positive_int,
    status,
)
from aitp_gym.config import coerce, field_types
from aitp_gym.progress import interactive, progress
from aitp_gym.trace import atomic_write_text, trace_file_name

# The planner settings that have their own options; --set refuses them so that each has one spelling.
_BUDGET_OPTIONS = {"max_expansions": "--budget", "time_limit": "--time-limit",
                   "tactics_per_expansion": "--tactics-per-expansion"}


def add_parser(subparsers: Any) -> None:
    """Register ``aitp prove`` and its options."""
    from aitp_gym.search import PLANNERS

    prove = add_command(subparsers, "prove", help="run a planner on the theorems of a split and write traces",
                        description="Run a planner on the theorems of a split and print proved n/N;\n"
                                    "with --out, write one trace per theorem and summary.json.")
    prove.add_argument("--env", default="SR-v0", help="registered environment id (SR-v0, HOList-v0, Lean-v0)")
    prove.add_argument("--planner", default="bestfs", choices=sorted(PLANNERS), help="search strategy")
    prove.add_argument("--split", default="valid", choices=["train", "valid", "test"], help="theorem set")
    prove.add_argument("--limit", type=positive_int, default=None, metavar="N",
                       help="prove only the first N theorems of the split (default: all)")
    prove.add_argument("--theorem", action="append", metavar="ID",
                       help="prove this theorem id instead of a split (repeatable)")
    prove.add_argument("--theorems", default=None, metavar="FILE",
                       help="prove the theorem ids listed in FILE, one per line, instead of a split; aitp loop "
                            "writes its held-out ones to RUN_DIR/eval_theorems.txt")
    prove.add_argument("--budget", type=positive_int, default=200, metavar="N",
                       help="expansions allowed per theorem")
    prove.add_argument("--time-limit", type=positive_float, default=60.0, metavar="SECONDS",
                       help="wall-clock seconds allowed per theorem")
    prove.add_argument("--tactics-per-expansion", type=positive_int, default=None, metavar="K",
                       help="candidates tried per expanded goal (default: all the policy offers)")
    prove.add_argument("--tactic-timeout", type=positive_float, default=None, metavar="SECONDS",
                       help="seconds one tactic may run in the prover (default: the environment's own, "
                            "2 s for HOList-v0)")
    prove.add_argument("--policy", default="uniform", metavar="CHECKPOINT",
                       help="uniform (model-free: the env's enumerated tactics; the default) or a trained policy's "
                            "checkpoint folder, e.g. runs/sr_demo/rounds/003/policy from aitp loop")
    prove.add_argument("--critic", default="auto", metavar="CRITIC",
                       help="goal values for fringe/updown/htps: auto (the default) is the environment's model-free "
                            "heuristic (SR-v0: distance to the data; elsewhere a constant 0.5), constant is 0.5, or "
                            "a trained critic's checkpoint folder, e.g. runs/sr_seq2seq/rounds/001/critic")
    prove.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="a planner setting, repeatable: " + _planner_settings_help())
    prove.add_argument("--outcome-cache", default=None, metavar="PATH",
                       help="keep tactic outcomes in this SQLite file and answer a tactic tried again on the same "
                            "goal from it (HOList-v0; the file may be shared with other runs and processes, e.g. "
                            "an aitp loop run's outcomes.sqlite)")
    add_benchmark_option(prove)
    prove.add_argument("--seed", type=nonnegative_int, default=0,
                       help="seed passed to env.reset and recorded in traces")
    prove.add_argument("--out", default=None, metavar="FOLDER",
                       help="folder for traces/ and summary.json, checked before any work is done; it must be "
                            "new or empty unless --overwrite is given (default: write nothing)")
    prove.add_argument("--overwrite", action="store_true",
                       help="reuse a non-empty --out folder: delete its summary.json and traces/*.json.gz first "
                            "(only files aitp prove writes; anything else is left in place)")
    prove.add_argument("--quiet", action="store_true",
                       help="no progress bar (status lines and errors still go to stderr)")
    prove.set_defaults(func=cmd_prove)


def _planner_settings_help() -> str:
    """Each planner's own settings, then the shared ones (budgets aside), read from the settings dataclasses."""
    from aitp_gym.search import PLANNERS
    from aitp_gym.search.base import SearchSettings

    shared = [f.name for f in dataclasses.fields(SearchSettings)]
    parts = [f"{name} {', '.join(f.name for f in dataclasses.fields(cls.Settings) if f.name not in shared)}"
             for name, cls in PLANNERS.items()]
    common = ", ".join(n for n in shared if n not in _BUDGET_OPTIONS)
    return "; ".join(p for p in parts if not p.endswith(" ")) + f"; {common} for all"


def cmd_prove(args: argparse.Namespace) -> int:
    # Everything that can be refused is checked before any theorem is tried and before the prover starts:
    # the settings, the environment id, the theorem ids, the critic, and last (it may delete an old run) --out.
    planner = build_planner(args)
    env_kwargs = {} if args.tactic_timeout is None else {"tactic_timeout": args.tactic_timeout}
    env_kwargs.update(_benchmark_kwargs(args))
    env_kwargs.update(_outcome_cache_kwargs(args))
    try:
        env = _make_env(args.env, args.split, **env_kwargs)
    except ValueError as e:
        if args.benchmark is None:
            raise
        raise UsageError(f"--benchmark: {e}") from None  # not a benchmark folder
    try:
        return _prove(args, env, planner)
    finally:
        try:
            env.close()
        except Exception as e:  # noqa: BLE001  (a prover killed by the same Ctrl-C must not hide the result)
            status(f"closing the environment failed: {e}")


def _outcome_cache_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``--outcome-cache PATH`` as an env argument, for the envs that take one (``EnvTraits.outcome_cache``)."""
    from aitp_gym.registration import env_ids, env_traits

    if args.outcome_cache is None:
        return {}
    if args.env in env_ids() and not env_traits(args.env).outcome_cache:
        able = [e for e in env_ids() if env_traits(e).outcome_cache]
        raise UsageError(f"--outcome-cache is for {', '.join(able)}; {args.env} keeps no outcome cache")
    if Path(args.outcome_cache).is_dir():
        raise UsageError(f"--outcome-cache {args.outcome_cache}: a folder; give a file name, e.g. "
                         f"{Path(args.outcome_cache) / 'outcomes.sqlite'}")
    return {"outcome_cache": args.outcome_cache}


def build_planner(args: argparse.Namespace) -> Any:
    from aitp_gym.search import make_planner

    overrides = planner_overrides(args.planner, args.set or [])
    try:
        return make_planner(args.planner, max_expansions=args.budget, time_limit=args.time_limit,
                            tactics_per_expansion=args.tactics_per_expansion, **overrides)
    except (ValueError, TypeError) as e:
        raise UsageError(f"--set: {e}") from None


def _prove(args: argparse.Namespace, env: Any, planner: Any) -> int:
    backend = env.unwrapped.backend
    if args.theorem or args.theorems:
        from aitp_gym.env import find_theorem

        ids = [*(args.theorem or []), *(read_theorem_ids(args.theorems) if args.theorems else [])]
        theorems = [find_theorem(backend, tid) for tid in ids]
    else:
        theorems = list(backend.theorems(args.split))
        if args.limit:
            theorems = theorems[: args.limit]
    if args.quiet or not interactive():
        from aitp_gym.loop import quiet_transformers

        quiet_transformers()  # transformers' "Loading weights" bars
    try:
        critic = make_critic(args.critic, backend)
    except (ValueError, TypeError) as e:
        raise UsageError(f"--critic {args.critic}: {e}") from None
    policy = make_policy(args.policy)
    cache = getattr(backend, "outcome_cache", None)
    if cache is not None:
        try:
            len(cache)  # opens (or creates) the file now, not at the first tactic
        except (OSError, ValueError) as e:
            raise UsageError(f"--outcome-cache {args.outcome_cache}: {e}") from None
    out = Path(args.out) if args.out else None
    if out is not None:
        prepare_output(out, args.overwrite)

    # A prover's one-off start (HOL Light's cold load) happens here, not inside theorem 0's time budget.
    prepare_time = 0.0
    if isinstance(backend, SupportsPrepare):
        t0 = time.perf_counter()
        backend.prepare(status)
        prepare_time = time.perf_counter() - t0

    results = []
    interrupted: KeyboardInterrupt | None = None
    started = time.perf_counter()
    bar = progress(total=len(theorems), desc=f"{args.planner} on {args.env}/{args.split}", unit="thm",
                   enabled=not args.quiet, leave=True, dynamic_ncols=True)
    try:
        for i, theorem in enumerate(theorems):
            env.reset(seed=args.seed, options={"theorem": theorem})
            trace_path = out / "traces" / trace_file_name(theorem.id, i) if out else None
            result = planner.search(env, policy=policy, critic=critic, trace_path=trace_path,
                                    header={"seed": args.seed, "split": args.split})
            results.append(result)
            bar.set_postfix(proved=f"{sum(r.proved for r in results)}/{len(results)}", refresh=False)
            bar.update(1)
    except KeyboardInterrupt as e:
        interrupted = e
        bar.close()
        status(f"{interruption(e)}: {len(results)} of {len(theorems)} theorems finished"
               + (f"; writing {out / 'summary.json'}" if out else ""))
    finally:
        bar.close()
    total = time.perf_counter() - started

    from aitp_gym.search import summarise

    n = len(results)
    summary = {
        "env": args.env, "planner": args.planner, "policy": policy.name if policy is not None else "uniform",
        "critic": critic.name, "split": args.split, "budget": args.budget,
        "seed": args.seed, "settings": dataclasses.asdict(planner.settings),
        "tactic_timeout": args.tactic_timeout,
        "interrupted": interrupted is not None, "planned": len(theorems),
        **summarise([r.summary() for r in results]),
        "total_time": total, "prepare_time": prepare_time,
        "results": [r.summary() for r in results],
    }
    if cache is not None:
        summary["outcome_cache"] = {**cache.stats(), "entries": len(cache)}
    if out:
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    prefix = f"interrupted after {n} of {len(theorems)} theorems: " if interrupted is not None else ""
    print(f"{prefix}{args.planner} on {args.env} ({args.split}): proved {summary['proved']}/{n} "
          f"({100 * summary['proof_rate']:.1f}%) | mean time {summary['mean_time']:.3f} s | "
          f"mean expansions {summary['mean_expansions']:.1f} | total {total:.1f} s" + _cache_note(cache), flush=True)
    if out:
        print(f"traces: {out / 'traces'}  summary: {out / 'summary.json'}", flush=True)
    return interrupted_exit_code(interrupted) if interrupted is not None else EXIT_OK


def _cache_note(cache: Any) -> str:
    """`` | outcome cache: 40/52 hits (77%), 12.3 s saved`` for the result line, or nothing without a cache."""
    if cache is None:
        return ""
    lookups = cache.hits + cache.misses
    rate = f" ({cache.hits / lookups:.0%})" if lookups else ""
    return f" | outcome cache: {cache.hits}/{lookups} hits{rate}, {cache.saved_seconds:.1f} s saved"


def planner_overrides(planner: str, assignments: Sequence[str]) -> dict[str, Any]:
    """``["exploration=1", "temperature=0.5"]`` → typed planner settings, with clear errors."""
    from aitp_gym.search import PLANNERS

    types = field_types(PLANNERS[planner].Settings)
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if key in _BUDGET_OPTIONS:
            raise UsageError(f"--set {item!r}: set {key} with {_BUDGET_OPTIONS[key]}")
        if not sep or key not in types:
            known = ", ".join(sorted(set(types) - set(_BUDGET_OPTIONS)))
            raise UsageError(f"--set {item!r}: {planner} settings are {known} (write KEY=VALUE)")
        try:
            out[key] = coerce(raw, types[key], key)
        except ValueError as e:
            raise UsageError(f"--set {item!r}: {e}") from None
    return out


def make_policy(spec: str) -> Any:
    """None for ``uniform`` (the planner's model-free default), else the policy saved in a checkpoint folder (a
    ranker, seq2seq or HOList model, as ``aitp loop`` writes them in ``rounds/<r>/policy``), with the decoding
    settings it was saved with."""
    return _load_model(spec, "policy", "--policy", "runs/sr_demo/rounds/003/policy")


def make_critic(name: str, backend: Any) -> Any:
    """The env's model-free critic (``auto``), a constant 0.5 (``constant``) or a trained critic's checkpoint folder
    (``aitp loop`` writes them in ``rounds/<r>/critic``)."""
    from aitp_gym.policy import ConstantCritic, default_critic

    if name == "auto":
        return default_critic(backend)
    if name == "constant":
        return ConstantCritic()
    return _load_model(name, "critic", "--critic", "runs/sr_seq2seq/rounds/001/critic")


def _load_model(spec: str, role: str, option: str, example: str) -> Any:
    from aitp_gym.agents.models import MODEL_FREE, checkpoint_problem, make_model

    if spec == MODEL_FREE[role]:
        return None
    problem = checkpoint_problem(spec, role)
    if problem is not None:
        keywords = "'uniform'" if role == "policy" else "auto, constant"
        raise UsageError(f"{option} {spec}: not {keywords} and not a {role} checkpoint folder (e.g. {example}): "
                         f"{problem}")
    try:
        return make_model(spec, role, num_candidates=None)
    except (OSError, ValueError) as e:
        raise UsageError(f"{option} {spec}: cannot load a {role} from it: {e}") from None


def read_theorem_ids(path: str) -> list[str]:
    """``--theorems FILE``: one theorem id per line; blank lines and ``#`` comments are skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise UsageError(f"--theorems {path}: cannot read it ({e.strerror})") from None
    ids = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not ids:
        raise UsageError(f"--theorems {path}: holds no theorem ids (one per line)")
    return ids


def prepare_output(out: Path, overwrite: bool) -> None:
    """Check ``--out`` before any work is done: create it, refuse a file or a folder holding an earlier run
    (unless ``overwrite``), and check that it is writable. With ``overwrite``, delete only what ``aitp prove``
    writes: ``summary.json`` and ``traces/*.json.gz`` (and temporary files of interrupted writes there)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UsageError(f"--out {out}: folder is not empty (an earlier run?); pass --overwrite to replace "
                             "its traces and summary.json, or choose another folder")
        traces = out / "traces"
        ours = [out / "summary.json"]
        if traces.is_dir():
            ours += [p for p in traces.iterdir() if p.is_file() and (
                p.name.endswith(".json.gz") and not p.name.startswith(".")
                or p.name.startswith(".") and p.name.endswith(".tmp"))]
        try:
            for p in ours:
                p.unlink(missing_ok=True)
        except OSError as e:
            raise UsageError(f"--out {out}: cannot clear the earlier run ({e.strerror}: {e.filename})") from None
    try:
        (out / "traces").mkdir(parents=True, exist_ok=True)
        for folder in (out, out / "traces"):
            probe = folder / ".aitp-write-test"
            probe.write_bytes(b"")
            probe.unlink()
    except OSError as e:
        raise UsageError(f"--out {out}: not writable ({e.strerror}: {e.filename})") from None
