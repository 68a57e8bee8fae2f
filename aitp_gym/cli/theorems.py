"""``aitp theorems``: list the theorems of a split, one per line (id, a tab, the statement)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from aitp_gym.cli.common import (
    EXIT_OK,
    UsageError,
    _benchmark_kwargs,
    _make_env,
    add_benchmark_option,
    add_command,
    one_line,
    positive_int,
)


def add_parser(subparsers: Any) -> None:
    """Register ``aitp theorems`` and its options."""
    theorems = add_command(subparsers, "theorems", help="list the theorems of a split (id, statement)",
                           description="List the theorems of a split, one per line: id, a tab, and the\n"
                                       "statement with its whitespace collapsed (--json keeps it exact).")
    theorems.add_argument("--env", default="SR-v0", help="registered environment id")
    theorems.add_argument("--split", default="valid", choices=["train", "valid", "test"], help="theorem set")
    theorems.add_argument("--limit", type=positive_int, default=None, metavar="N",
                          help="list only the first N (default: all)")
    theorems.add_argument("--json", action="store_true", help="one JSON object per line, statement exact")
    add_benchmark_option(theorems)
    theorems.set_defaults(func=cmd_theorems)


def _theorem_lister(args: argparse.Namespace) -> Any:
    """What lists the theorems: the env's backend; for Lean-v0 a backend alone, since listing a benchmark
    needs neither Lean nor lean_dojo."""
    if args.env != "Lean-v0":
        return _make_env(args.env, args.split, **_benchmark_kwargs(args)).unwrapped.backend
    from aitp_gym.envs.lean.backend import LeanBackend

    if args.benchmark is None:
        raise UsageError("Lean-v0 lists the theorems of a LeanDojo Benchmark 4 folder: pass --benchmark DIR")
    try:
        return LeanBackend(benchmark=args.benchmark)
    except ValueError as e:
        raise UsageError(f"--benchmark: {e}") from None


def cmd_theorems(args: argparse.Namespace) -> int:
    theorems = _theorem_lister(args).theorems(args.split)
    shown = theorems[: args.limit] if args.limit else theorems
    if args.json:
        for t in shown:
            print(json.dumps({"id": t.id, "statement": t.statement}, ensure_ascii=False))
    else:
        for t in shown:  # one line per theorem: multi-line statements (HOL Light's) are collapsed
            print(f"{t.id}\t{one_line(t.statement)}")
        print(f"# {len(shown)} of {len(theorems)} theorems in the {args.split} split of {args.env}", file=sys.stderr)
    return EXIT_OK
