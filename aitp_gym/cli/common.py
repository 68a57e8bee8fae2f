"""What the ``aitp`` commands share: exit codes, ``UsageError``, ``Terminated``, argument types, status lines,
the help formatter, and making an environment from ``--env``/``--split``/``--benchmark``."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

from aitp_gym.errors import AitpError
from aitp_gym.registration import env_ids

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

EXIT_CODES = """exit codes:
  0    success (for aitp prove and aitp loop, whether or not every theorem was proved)
  1    runtime failure (the prover crashed or could not start, a file could not be written)
  2    usage error (a bad option, --set value, config, environment, theorem id, or --out folder), or an
       environment that cannot run here (its prover, toolchain or Python extra is not installed)
  130  interrupted (Ctrl-C): aitp prove writes summary.json for the theorems that finished, marked
       "interrupted": true; aitp loop continues later with --resume
  143  terminated (SIGTERM, as kill, schedulers and container stops send): handled exactly like Ctrl-C"""


class UsageError(AitpError):
    """Bad command-line input found after parsing: printed as one line, exit code 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler, a container stop, Ray), handled exactly like Ctrl-C."""


def interrupted_exit_code(error: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 143 (128 + SIGTERM) for SIGTERM, as shells report them."""
    return EXIT_TERMINATED if isinstance(error, Terminated) else EXIT_INTERRUPTED


def interruption(error: KeyboardInterrupt) -> str:
    """How a status line names the interrupt: ``terminated`` (SIGTERM) or ``interrupted`` (Ctrl-C)."""
    return "terminated" if isinstance(error, Terminated) else "interrupted"


# -- argument types: argparse turns their ArgumentTypeError into a usage error (exit 2) ------------------
def _number_type(cast: Callable[[str], Any], allowed: Callable[[Any], bool], rule: str,
                 kind: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not allowed(value):
            raise argparse.ArgumentTypeError(f"{text!r}: must be {rule}")
        return value

    parse.__name__ = rule  # argparse names the type in some messages
    return parse


positive_int = _number_type(int, lambda v: v >= 1, "a positive integer (1 or more)", "an integer")
nonnegative_int = _number_type(int, lambda v: v >= 0, "0 or more", "an integer")
positive_float = _number_type(float, lambda v: math.isfinite(v) and v > 0, "a positive, finite number of seconds",
                              "a number")


# -- parser --------------------------------------------------------------------------------------------------
class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Shows each default once: "(default: X)" is added only when the help text does not already say it,
    and not for flags and options without a default (their help says what happens instead)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            return text
        return super()._get_help_string(action)


def add_command(subparsers: Any, name: str, *, help: str, description: str,
                aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """A command's subparser, with the exit codes as its epilog and the shared help formatter."""
    return subparsers.add_parser(name, aliases=list(aliases), help=help, description=description,
                                 epilog=EXIT_CODES, formatter_class=_HelpFormatter)


def add_benchmark_option(parser: argparse.ArgumentParser) -> None:
    """``--benchmark DIR``, for Lean-v0 (``aitp prove`` and ``aitp theorems``)."""
    parser.add_argument("--benchmark", default=None, metavar="DIR",
                        help="Lean-v0: a LeanDojo Benchmark 4 folder (its root or random/ or novel_premises/)")


# -- helpers -----------------------------------------------------------------------------------------------
def _make_env(env_id: str, split: str, **kwargs: Any) -> Any:
    import gymnasium as gym

    import aitp_gym  # noqa: F401

    if env_id not in env_ids():
        raise UsageError(f"unknown environment {env_id!r}; choose from {', '.join(env_ids())}")
    return gym.make(env_id, split=split, **kwargs)


def _benchmark_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``--benchmark DIR`` (Lean-v0 only) as an env argument."""
    if args.benchmark is None:
        return {}
    if args.env != "Lean-v0":
        raise UsageError(f"--benchmark is for Lean-v0 (a LeanDojo Benchmark 4 folder), not {args.env}")
    return {"benchmark": args.benchmark}


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(text.split())


def status(message: str) -> None:
    """A progress message for the user, on stderr (stdout carries results)."""
    print(f"aitp: {message}", file=sys.stderr, flush=True)
