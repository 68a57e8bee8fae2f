"""The ``aitp`` command line: run planners on an environment's theorems, list theorems, draw traces.

Exit codes: 0 success, 1 runtime failure, 2 usage error, 130 interrupted, 143 terminated (see ``EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aitp_gym.backend import SupportsPrepare
from aitp_gym.config import coerce, field_types
from aitp_gym.errors import AitpError, DependencyNotInstalled, UnknownTheorem
from aitp_gym.progress import interactive, progress
from aitp_gym.registration import env_ids
from aitp_gym.trace import atomic_write_text, trace_file_name

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

EXIT_CODES = """exit codes:
  0    success (for aitp prove and aitp loop, whether or not every theorem was proved)
  1    runtime failure (the prover crashed or could not start, a file could not be written)
  2    usage error (a bad option, --set value, config, environment, theorem id, or --out folder), or an
       environment that cannot run here (its prover, toolchain or Python extra is not installed)
  130  interrupted (Ctrl-C): aitp prove writes summary.json for the theorems that finished, marked
       "interrupted": true; aitp loop continues later with --resume
  143  terminated (SIGTERM, as kill, schedulers and container stops send): handled exactly like Ctrl-C"""

# The planner settings that have their own options; --set refuses them so that each has one spelling.
_BUDGET_OPTIONS = {"max_expansions": "--budget", "time_limit": "--time-limit",
                   "tactics_per_expansion": "--tactics-per-expansion"}


class UsageError(AitpError):
    """Bad command-line input found after parsing: printed as one line, exit code 2."""


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


# -- helpers -----------------------------------------------------------------------------------------------
def _make_env(env_id: str, split: str, **kwargs: Any) -> Any:
    import gymnasium as gym

    import aitp_gym  # noqa: F401

    if env_id not in env_ids():
        raise UsageError(f"unknown environment {env_id!r}; choose from {', '.join(env_ids())}")
    return gym.make(env_id, split=split, **kwargs)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(text.split())


def status(message: str) -> None:
    """A progress message for the user, on stderr (stdout carries results)."""
    print(f"aitp: {message}", file=sys.stderr, flush=True)


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


# -- commands ----------------------------------------------------------------------------------------------
def _benchmark_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``--benchmark DIR`` (Lean-v0 only) as an env argument."""
    if args.benchmark is None:
        return {}
    if args.env != "Lean-v0":
        raise UsageError(f"--benchmark is for Lean-v0 (a LeanDojo Benchmark 4 folder), not {args.env}")
    return {"benchmark": args.benchmark}


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


def cmd_prove(args: argparse.Namespace) -> int:
    # Everything that can be refused is checked before any theorem is tried and before the prover starts:
    # the settings, the environment id, the theorem ids, the critic, and last (it may delete an old run) --out.
    planner = build_planner(args)
    env_kwargs = {} if args.tactic_timeout is None else {"tactic_timeout": args.tactic_timeout}
    env_kwargs.update(_benchmark_kwargs(args))
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
        status(f"{'terminated' if isinstance(e, Terminated) else 'interrupted'}: {len(results)} of {len(theorems)} "
               "theorems finished" + (f"; writing {out / 'summary.json'}" if out else ""))
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
    if out:
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    prefix = f"interrupted after {n} of {len(theorems)} theorems: " if interrupted is not None else ""
    print(f"{prefix}{args.planner} on {args.env} ({args.split}): proved {summary['proved']}/{n} "
          f"({100 * summary['proof_rate']:.1f}%) | mean time {summary['mean_time']:.3f} s | "
          f"mean expansions {summary['mean_expansions']:.1f} | total {total:.1f} s", flush=True)
    if out:
        print(f"traces: {out / 'traces'}  summary: {out / 'summary.json'}", flush=True)
    return interrupted_exit_code(interrupted) if interrupted is not None else EXIT_OK


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


def cmd_hol_light(args: argparse.Namespace) -> int:
    """The machine-wide HOL Light server that every HOList-v0 env shares."""
    from aitp_gym.envs.holist import server

    if args.action == "start":
        info = server.start_server(status=status, idle_timeout=args.idle_timeout)
    elif args.action == "stop":
        stopped = server.stop_server(force=args.force)  # without --force: server.ServerBusy while envs are connected
        print("stopped the HOL Light server" if stopped else "no HOL Light server was running")
        return 0
    else:
        info = server.server_status()
    print(json.dumps(info, indent=2))
    return 0


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
        status(f"{'terminated' if isinstance(e, Terminated) else 'interrupted'}: {finished} of {config.rounds + 1} "
               f"rounds finished and kept; continue with: aitp loop --resume {run_dir}")
        return interrupted_exit_code(e)
    curve = " → ".join(f"{row['eval']['proof_rate']:.0%}" for row in rows)
    print(f"held-out proof rate by round: {curve}   (run folder {run_dir}; curve {run_dir / 'curve.png'}; "
          f"tensorboard --logdir {run_dir.parent})")
    return 0


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
    return 0


def cmd_visualise(args: argparse.Namespace) -> int:
    """Write one trace's search tree as a self-contained interactive HTML page."""
    from aitp_gym.errors import TraceFormatError
    from aitp_gym.visualise import TraceSelectionError, visualise

    try:
        out = visualise(args.trace, args.output, theorem=args.theorem, index=args.index)
    except (FileNotFoundError, TraceFormatError, TraceSelectionError) as e:  # bad input: say what, exit 2
        raise UsageError(str(e)) from None
    print(out)
    return 0


# -- parser ------------------------------------------------------------------------------------------------
class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Shows each default once: "(default: X)" is added only when the help text does not already say it,
    and not for flags and options without a default (their help says what happens instead)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    from aitp_gym import __version__
    from aitp_gym.search import PLANNERS

    parser = argparse.ArgumentParser(
        prog="aitp", description="aitp-gym: theorem provers as Gymnasium environments, with proof-search planners.",
        epilog=EXIT_CODES, formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"aitp-gym {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prove = sub.add_parser("prove", help="run a planner on the theorems of a split and write traces",
                           description="Run a planner on the theorems of a split and print proved n/N;\n"
                                       "with --out, write one trace per theorem and summary.json.",
                           epilog=EXIT_CODES, formatter_class=_HelpFormatter)
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
    prove.add_argument("--benchmark", default=None, metavar="DIR",
                       help="Lean-v0: a LeanDojo Benchmark 4 folder (its root or random/ or novel_premises/)")
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

    theorems = sub.add_parser("theorems", help="list the theorems of a split (id, statement)",
                              description="List the theorems of a split, one per line: id, a tab, and the\n"
                                          "statement with its whitespace collapsed (--json keeps it exact).",
                              epilog=EXIT_CODES, formatter_class=_HelpFormatter)
    theorems.add_argument("--env", default="SR-v0", help="registered environment id")
    theorems.add_argument("--split", default="valid", choices=["train", "valid", "test"], help="theorem set")
    theorems.add_argument("--limit", type=positive_int, default=None, metavar="N",
                          help="list only the first N (default: all)")
    theorems.add_argument("--json", action="store_true", help="one JSON object per line, statement exact")
    theorems.add_argument("--benchmark", default=None, metavar="DIR",
                          help="Lean-v0: a LeanDojo Benchmark 4 folder (its root or random/ or novel_premises/)")
    theorems.set_defaults(func=cmd_theorems)

    loop = sub.add_parser("loop", help="learn: prove, train on the traces, reload, evaluate, round after round",
                          description="Run the learning loop of a YAML config (see configs/). Each round proves a\n"
                                      "slice of the train split, trains the learners on the traces, reloads the\n"
                                      "models and evaluates on held-out theorems; rounds.jsonl and TensorBoard\n"
                                      "scalars go to the run folder.",
                          epilog=EXIT_CODES, formatter_class=_HelpFormatter)
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

    plot = sub.add_parser("plot", help="draw a loop run's learning curve (PNG) from its TensorBoard scalars",
                          description="Draw eval/proof_rate and train/proof_rate per round of a run folder written\n"
                                      "by aitp loop, read from its TensorBoard event file.",
                          epilog=EXIT_CODES, formatter_class=_HelpFormatter)
    plot.add_argument("run_dir", help="a run folder, e.g. runs/sr_demo")
    plot.add_argument("-o", "--output", default=None, metavar="PNG", help="where to write (default: RUN_DIR/curve.png)")
    plot.set_defaults(func=cmd_plot)

    vis = sub.add_parser("visualise", aliases=["visualize"],
                         help="draw a search trace as one interactive HTML page (no network needed)",
                         description="Write the search tree of one trace as a single self-contained HTML page: goals\n"
                                     "coloured by status, tactics on the AND nodes, the proof highlighted, planner\n"
                                     "statistics in a side panel on click, and a slider that replays the expansions.\n"
                                     "TRACE is a trace file (.json, .jsonl, gzipped or not) or a folder of them, such\n"
                                     "as an aitp prove --out folder; when it holds several traces, pick one with\n"
                                     "--theorem or --index (the error lists them).",
                         epilog=EXIT_CODES, formatter_class=_HelpFormatter)
    vis.add_argument("trace", metavar="TRACE", help="a trace file or a folder of trace files")
    vis.add_argument("-o", "--output", default=None, metavar="HTML",
                     help="where to write the page (default: beside TRACE, x.json.gz -> x.html; for a folder, "
                          "FOLDER/<theorem id>.html)")
    vis.add_argument("--theorem", default=None, metavar="ID", help="the trace of this theorem id")
    vis.add_argument("--index", type=nonnegative_int, default=None, metavar="N",
                     help="the N-th trace (0-based) of the file or folder")
    vis.set_defaults(func=cmd_visualise)

    hol = sub.add_parser("hol-light", help="start, inspect or stop the machine's shared HOL Light server",
                         description="HOList-v0 envs share one warm HOL Light per machine and user. It starts on\n"
                                     "first use and stops after AITP_HOL_SERVER_IDLE seconds without clients.",
                         epilog=EXIT_CODES, formatter_class=_HelpFormatter)
    hol.add_argument("action", choices=["start", "status", "stop"])
    hol.add_argument("--idle-timeout", type=positive_float, default=None, metavar="SECONDS",
                     help="with start: stop after this long without clients (default: AITP_HOL_SERVER_IDLE or 900)")
    hol.add_argument("--force", action="store_true",
                     help="with stop: stop it even while HOList-v0 envs are connected (they wait for HOL Light to "
                          "load again, about 90 s, on their next step)")
    hol.set_defaults(func=cmd_hol_light)
    return parser


def _planner_settings_help() -> str:
    """Each planner's own settings, then the shared ones (budgets aside), read from the settings dataclasses."""
    from aitp_gym.search import PLANNERS
    from aitp_gym.search.base import SearchSettings

    shared = [f.name for f in dataclasses.fields(SearchSettings)]
    parts = [f"{name} {', '.join(f.name for f in dataclasses.fields(cls.Settings) if f.name not in shared)}"
             for name, cls in PLANNERS.items()]
    common = ", ".join(n for n in shared if n not in _BUDGET_OPTIONS)
    return "; ".join(p for p in parts if not p.endswith(" ")) + f"; {common} for all"


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler, a container stop, Ray), handled exactly like Ctrl-C."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def interrupted_exit_code(error: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 143 (128 + SIGTERM) for SIGTERM, as shells report them."""
    return EXIT_TERMINATED if isinstance(error, Terminated) else EXIT_INTERRUPTED


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
        print(f"aitp: {'terminated' if isinstance(e, Terminated) else 'interrupted'}", file=sys.stderr)
        return interrupted_exit_code(e)


if __name__ == "__main__":
    raise SystemExit(main())
