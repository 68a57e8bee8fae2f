"""``aitp prepare``: one-off set-up of an environment before the clocks start: its prover (HOList-v0: the warm HOL
Light server and the theorem database) and, with ``--proof-logs``, its human proof logs as trace files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aitp_gym.cli.common import (
    EXIT_OK,
    UsageError,
    _benchmark_kwargs,
    _make_env,
    add_benchmark_option,
    add_command,
    status,
)


def add_parser(subparsers: Any) -> None:
    """Register ``aitp prepare`` and its options."""
    prepare = add_command(
        subparsers, "prepare", help="start an environment's prover ahead of time; build its human proof logs",
        description="Start an environment's prover ahead of time (HOList-v0: HOL Light's ~90 s cold load and its\n"
                    "theorem database) and, with --proof-logs, record the human proofs of its train split as\n"
                    "ordinary trace files that every buffer reads (HOList-v0: HOL Light's own core proofs,\n"
                    "replayed tactic by tactic, cached per HOL Light version; Lean-v0: the traced tactics of a\n"
                    "LeanDojo Benchmark 4). Valid and test theorems never enter the logs.")
    prepare.add_argument("--env", default="HOList-v0", help="registered environment id (default: HOList-v0)")
    prepare.add_argument("--proof-logs", action="store_true",
                         help="build the human proof logs of the train split (HOList-v0: once per HOL Light "
                              "version, about a minute; a cached log is reused unless --rebuild)")
    prepare.add_argument("--out", type=Path, default=None, metavar="PATH",
                         help="where to write the logs (HOList-v0: a .jsonl.gz file, default the cache; Lean-v0: "
                              "a folder, required)")
    prepare.add_argument("--rebuild", action="store_true", help="build the logs again even if they are cached")
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    add_benchmark_option(prepare)
    prepare.set_defaults(func=cmd_prepare)


def cmd_prepare(args: argparse.Namespace) -> int:
    from aitp_gym.registration import env_ids, env_traits, resolve

    if args.env not in env_ids():
        raise UsageError(f"unknown environment {args.env!r}; choose from {', '.join(env_ids())}")
    builder = env_traits(args.env).proof_logs
    if args.proof_logs and builder is None:
        have = [e for e in env_ids() if env_traits(e).proof_logs is not None]
        raise UsageError(f"{args.env} has no human proof logs; environments that have them: {', '.join(have)}")
    if not args.proof_logs:
        if args.out is not None or args.rebuild:
            raise UsageError("--out and --rebuild go with --proof-logs")
        from aitp_gym.backend import SupportsPrepare

        backend = _make_env(args.env, "train", **_benchmark_kwargs(args)).unwrapped.backend
        if isinstance(backend, SupportsPrepare):
            backend.prepare(status)
        status(f"{args.env} is ready")
        return EXIT_OK
    try:
        line = resolve(builder)(out=args.out, rebuild=args.rebuild, progress=not args.quiet, status=status,
                                benchmark=getattr(args, "benchmark", None))
    except ValueError as e:
        raise UsageError(str(e)) from None
    print(line)
    return EXIT_OK
