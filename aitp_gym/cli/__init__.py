"""The ``aitp`` command line: run planners on an environment's theorems, list theorems, draw traces.

One module per command (``prove``, ``theorems``, ``loop``, ``compare``, ``plot``, ``visualise``, ``prepare``,
``hol_light``), each with ``add_parser(subparsers)``, which registers the command, its options and
``set_defaults(func=cmd_...)``; ``common`` holds what they share. ``main`` parses, runs the command and turns
errors into exit codes.

Exit codes: 0 success, 1 runtime failure, 2 usage error, 130 interrupted, 143 terminated (see ``EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from aitp_gym.cli import compare, hol_light, loop, plot, prepare, prove, theorems, visualise
from aitp_gym.cli.common import (
    EXIT_CODES,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Terminated,
    UsageError,
    _HelpFormatter,
    interrupted_exit_code,
    interruption,
    nonnegative_int,
    one_line,
    positive_float,
    positive_int,
    status,
)
from aitp_gym.cli.prove import (
    build_planner,
    make_critic,
    make_policy,
    planner_overrides,
    prepare_output,
    read_theorem_ids,
)
from aitp_gym.errors import AitpError, DependencyNotInstalled, UnknownTheorem

__all__ = [
    "COMMANDS", "EXIT_CODES", "EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_TERMINATED", "EXIT_USAGE",
    "Terminated", "UsageError", "build_parser", "build_planner", "interrupted_exit_code", "main", "make_critic",
    "make_policy", "nonnegative_int", "one_line", "planner_overrides", "positive_float", "positive_int",
    "prepare_output", "read_theorem_ids", "status",
]

# The command modules, in the order ``aitp --help`` lists them.
COMMANDS = (prove, theorems, loop, compare, plot, visualise, prepare, hol_light)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; each command module adds its own subparser."""
    from aitp_gym import __version__

    parser = argparse.ArgumentParser(
        prog="aitp", description="aitp-gym: theorem provers as Gymnasium environments, with proof-search planners.",
        epilog=EXIT_CODES, formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"aitp-gym {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import signal
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except (UsageError, UnknownTheorem, DependencyNotInstalled) as e:
        print(f"aitp: {e}", file=sys.stderr)
        return EXIT_USAGE
    except AitpError as e:
        print(f"aitp: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # `aitp theorems | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that flushing stdout at exit does not fail again
        return EXIT_OK
    except OSError as e:
        print(f"aitp: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt as e:
        print(f"aitp: {interruption(e)}", file=sys.stderr)
        return interrupted_exit_code(e)
