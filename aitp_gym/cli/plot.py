"""``aitp plot``: draw a loop run's learning curve (PNG) from its TensorBoard scalars."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aitp_gym.cli.common import EXIT_OK, UsageError, add_command


def add_parser(subparsers: Any) -> None:
    """Register ``aitp plot`` and its options."""
    plot = add_command(subparsers, "plot", help="draw a loop run's learning curve (PNG) from its TensorBoard scalars",
                       description="Draw eval/proof_rate and train/proof_rate per round of a run folder written\n"
                                   "by aitp loop, read from its TensorBoard event file.")
    plot.add_argument("run_dir", help="a run folder, e.g. runs/sr_demo")
    plot.add_argument("-o", "--output", default=None, metavar="PNG", help="where to write (default: RUN_DIR/curve.png)")
    plot.set_defaults(func=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw a loop run's proof rates per round from its TensorBoard scalars."""
    from aitp_gym.plot import plot_curve

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run folder")
    try:
        out = plot_curve(run_dir, args.output)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    print(out)
    return EXIT_OK
