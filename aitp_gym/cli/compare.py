"""``aitp compare``: several loop configs side by side, with the round-0 and brute-force references measured in
the same run, in one Markdown table and one plot; the comparison itself is ``aitp_gym.loop.compare``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aitp_gym.cli.common import EXIT_OK, UsageError, add_command, interrupted_exit_code, interruption, status


def add_parser(subparsers: Any) -> None:
    """Register ``aitp compare`` and its options."""
    compare = add_command(subparsers, "compare",
                          help="run several loop configs and compare them in one table and plot",
                          description="Run each loop config in OUT/<config name>/ (a run already complete there is\n"
                                      "read, not run again), measure the brute-force reference (the model-free\n"
                                      "policy trying every enumerated tactic at the same budget, on the same\n"
                                      "held-out theorems) and write OUT/comparison.md and OUT/comparison.png.\n"
                                      "tensorboard --logdir OUT shows every run side by side.")
    compare.add_argument("configs", nargs="+", metavar="CONFIG", help="loop configs, e.g. configs/sr_demo.yaml")
    compare.add_argument("--out", required=True, metavar="FOLDER", help="where the runs, table and plot go")
    compare.add_argument("--set", action="append", metavar="KEY=VALUE",
                         help="override a value in every config, repeatable: rounds=1, prove.eval_theorems=40")
    compare.add_argument("--quiet", action="store_true", help="no progress bars")
    compare.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    from aitp_gym.loop.compare import compare

    missing = [c for c in args.configs if not Path(c).is_file()]
    if missing:
        raise UsageError(f"no such config file: {', '.join(missing)}")
    try:
        entries = compare(args.configs, args.out, args.set or [], progress=not args.quiet, log=status)
    except (ValueError, TypeError) as e:
        raise UsageError(f"config: {e}") from None
    except KeyboardInterrupt as e:
        status(f"{interruption(e)}: the finished rounds are kept; run the same command again to continue")
        return interrupted_exit_code(e)
    print((Path(args.out) / "comparison.md").read_text(), end="")
    print(f"(table {Path(args.out) / 'comparison.md'}; plot {Path(args.out) / 'comparison.png'}; "
          f"tensorboard --logdir {args.out}; {len(entries)} configs)")
    return EXIT_OK
