"""``aitp loop``: the learning loop of a YAML config (prove → train → reload → evaluate, round after round);
the loop itself is ``aitp_gym.loop``."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from aitp_gym.cli.common import EXIT_OK, UsageError, add_command, interrupted_exit_code, interruption, status


def add_parser(subparsers: Any) -> None:
    """Register ``aitp loop`` and its options."""
    loop = add_command(subparsers, "loop",
                       help="learn: prove, train on the traces, reload, evaluate, round after round",
                       description="Run the learning loop of a YAML config (see configs/). Each round proves a\n"
                                   "slice of the train split, trains the learners on the traces, reloads the\n"
                                   "models and evaluates on held-out theorems; rounds.jsonl and TensorBoard\n"
                                   "scalars go to the run folder.")
    loop.add_argument("config", nargs="?", default=None, help="a loop config, e.g. configs/sr_demo.yaml")
    loop.add_argument("--set", action="append", metavar="KEY=VALUE",
                      help="override a config value, repeatable: rounds=2, prove.max_expansions=64, "
                           "learn.learners=[seq2seq,critic]")
    loop.add_argument("--out", default=None, metavar="FOLDER", help="run folder (default: runs/<config name>)")
    loop.add_argument("--resume", default=None, metavar="RUN_DIR",
                      help="continue a killed run after its last finished round")
    loop.add_argument("--overwrite", action="store_true", help="delete an existing run in the run folder first")
    loop.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                      help="prove with Ray actors: a local Ray without ADDRESS, else the cluster at ADDRESS")
    loop.add_argument("--quiet", action="store_true", help="no progress bars")
    loop.set_defaults(func=cmd_loop)


def cmd_loop(args: argparse.Namespace) -> int:
    """Prove → train → reload rounds; see aitp_gym.loop."""
    from aitp_gym.loop import Loop, check_before_work, config_to_yaml, load_config

    if args.resume is not None:
        if args.out is not None:
            raise UsageError("--out is not used with --resume: a run continues in its own folder")
        run_dir = Path(args.resume)
        saved = run_dir / "config.yaml"
        if not saved.is_file():
            raise UsageError(f"--resume {run_dir}: not a run folder (no config.yaml)")
        config_path = args.config or saved
    else:
        if args.config is None:
            raise UsageError("give a config file (e.g. configs/sr_demo.yaml), or --resume RUN_DIR")
        run_dir = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
        config_path = args.config
    overrides = list(args.set or [])
    if args.ray is not None:
        overrides.append(f"ray_address={args.ray}")
    try:  # everything is checked before the run folder is touched
        config = load_config(config_path, overrides)
        check_before_work(config)
    except (ValueError, TypeError, FileNotFoundError) as e:
        raise UsageError(f"config: {e}") from None
    if args.resume is not None:
        if saved.read_text() != config_to_yaml(config):
            raise UsageError(f"--resume {run_dir}: the run was started with another configuration ({saved}); "
                             "resume it without a config or --set, or start a new run with --out")
    elif run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        if not (run_dir / "config.yaml").is_file():
            # --overwrite deletes only run folders: never a folder the loop did not make
            raise UsageError(f"--out {run_dir}: not empty, and not a loop run folder (no config.yaml); choose "
                             "another folder")
        if not args.overwrite:
            raise UsageError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or pass "
                             "--overwrite to start again")
        shutil.rmtree(run_dir)
    loop = Loop(config, run_dir, progress=not args.quiet, log=status)
    try:
        rows = loop.run()
    except KeyboardInterrupt as e:
        finished = len(loop.finished_rounds())
        status(f"{interruption(e)}: {finished} of {config.rounds + 1} rounds finished and kept; continue with: "
               f"aitp loop --resume {run_dir}")
        return interrupted_exit_code(e)
    curve = " → ".join(f"{row['eval']['proof_rate']:.0%}" for row in rows)
    if rows and "model_free" in rows[0]:
        curve += f" (model-free at the same budget: {rows[0]['model_free']['proof_rate']:.0%})"
    if rows and "brute_force" in rows[0]:
        curve += f" (brute force, every tactic at the same budget: {rows[0]['brute_force']['proof_rate']:.0%})"
    print(f"held-out proof rate by round: {curve}   (run folder {run_dir}; curve {run_dir / 'curve.png'}; "
          f"tensorboard --logdir {run_dir.parent})")
    return EXIT_OK
