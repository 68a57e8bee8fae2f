"""``aitp visualise`` (alias ``visualize``): one search trace as a self-contained interactive HTML page."""

from __future__ import annotations

import argparse
from typing import Any

from aitp_gym.cli.common import EXIT_OK, UsageError, add_command, nonnegative_int


def add_parser(subparsers: Any) -> None:
    """Register ``aitp visualise`` (and its alias ``aitp visualize``) and its options."""
    vis = add_command(subparsers, "visualise", aliases=("visualize",),
                      help="draw a search trace as one interactive HTML page (no network needed)",
                      description="Write the search tree of one trace as a single self-contained HTML page: goals\n"
                                  "coloured by status, tactics on the AND nodes, the proof highlighted, planner\n"
                                  "statistics in a side panel on click, and a slider that replays the expansions.\n"
                                  "TRACE is a trace file (.json, .jsonl, gzipped or not) or a folder of them, such\n"
                                  "as an aitp prove --out folder; when it holds several traces, pick one with\n"
                                  "--theorem or --index (the error lists them).")
    vis.add_argument("trace", metavar="TRACE", help="a trace file or a folder of trace files")
    vis.add_argument("-o", "--output", default=None, metavar="HTML",
                     help="where to write the page (default: beside TRACE, x.json.gz -> x.html; for a folder, "
                          "FOLDER/<theorem id>.html)")
    vis.add_argument("--theorem", default=None, metavar="ID", help="the trace of this theorem id")
    vis.add_argument("--index", type=nonnegative_int, default=None, metavar="N",
                     help="the N-th trace (0-based) of the file or folder")
    vis.set_defaults(func=cmd_visualise)


def cmd_visualise(args: argparse.Namespace) -> int:
    """Write one trace's search tree as a self-contained interactive HTML page."""
    from aitp_gym.errors import TraceFormatError
    from aitp_gym.visualise import TraceSelectionError, visualise

    try:
        out = visualise(args.trace, args.output, theorem=args.theorem, index=args.index)
    except (FileNotFoundError, TraceFormatError, TraceSelectionError) as e:  # bad input: say what, exit 2
        raise UsageError(str(e)) from None
    print(out)
    return EXIT_OK
