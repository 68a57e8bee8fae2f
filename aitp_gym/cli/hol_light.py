"""``aitp hol-light start|status|stop``: the machine's shared HOL Light server that HOList-v0 envs use."""

from __future__ import annotations

import argparse
import json
from typing import Any

from aitp_gym.cli.common import EXIT_OK, add_command, positive_float, status


def add_parser(subparsers: Any) -> None:
    """Register ``aitp hol-light`` and its options."""
    hol = add_command(subparsers, "hol-light", help="start, inspect or stop the machine's shared HOL Light server",
                      description="HOList-v0 envs share one warm HOL Light per machine and user. It starts on\n"
                                  "first use and stops after AITP_HOL_SERVER_IDLE seconds without clients.")
    hol.add_argument("action", choices=["start", "status", "stop"])
    hol.add_argument("--idle-timeout", type=positive_float, default=None, metavar="SECONDS",
                     help="with start: stop after this long without clients (default: AITP_HOL_SERVER_IDLE or 900)")
    hol.add_argument("--force", action="store_true",
                     help="with stop: stop it even while HOList-v0 envs are connected (they wait for HOL Light to "
                          "load again, about 90 s, on their next step)")
    hol.set_defaults(func=cmd_hol_light)


def cmd_hol_light(args: argparse.Namespace) -> int:
    """The machine-wide HOL Light server that every HOList-v0 env shares."""
    from aitp_gym.envs.holist import server

    if args.action == "start":
        info = server.start_server(status=status, idle_timeout=args.idle_timeout)
    elif args.action == "stop":
        stopped = server.stop_server(force=args.force)  # without --force: server.ServerBusy while envs are connected
        print("stopped the HOL Light server" if stopped else "no HOL Light server was running")
        return EXIT_OK
    else:
        info = server.server_status()
    print(json.dumps(info, indent=2))
    return EXIT_OK
