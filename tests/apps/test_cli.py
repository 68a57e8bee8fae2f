"""The command line (``aitp_gym/cli/``): every planner through ``aitp prove``, input checks, exit codes, output folder
rules, Ctrl-C handling, help text, and each command module's parser.

Most tests call ``aitp_gym.cli.main`` in-process (fast, and lets a test stub the planner or the backend), with tiny
budgets on SR-v0; the Ctrl-C and closed-pipe tests run ``aitp`` as a subprocess, as a user would (so does
tests/envs/lean/test_lean_cli.py, for a prover-less PATH). The HOList-v0 listing reads the shipped theorem database
and starts no prover.
"""

import argparse
import json
import re
import signal
import subprocess
import sys
import time

import pytest

from aitp_gym import cli, iter_traces
from aitp_gym.cli import common
from aitp_gym.cli import hol_light as hol_light_command
from aitp_gym.cli import loop as loop_command
from aitp_gym.cli import plot as plot_command
from aitp_gym.cli import prove as prove_command
from aitp_gym.cli import theorems as theorems_command
from aitp_gym.cli import visualise as visualise_command
from aitp_gym.envs.sr.backend import SRBackend
from aitp_gym.search.base import Planner


def run(argv, capsys):
    """``aitp argv`` in-process: (exit code, stdout, stderr)."""
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse's usage errors, --help, --version
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------- as a user runs it
def test_theorems_lists_a_split(capsys):
    code, out, _ = run(["theorems", "--env", "SR-v0", "--split", "valid", "--limit", "3"], capsys)
    assert code == 0 and out.count("sr-valid-") == 3


@pytest.mark.parametrize("planner", ["bestfs", "bfs", "fringe", "updown", "htps"])
def test_prove_with_every_planner(tmp_path, planner, capsys):
    """Each planner proves, prints proved n/N, and writes traces and summary.json."""
    code, out, err = run(["prove", "--env", "SR-v0", "--planner", planner, "--split", "valid", "--limit", "3",
                          "--budget", "40", "--out", str(tmp_path), "--quiet"], capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["planner"] == planner and summary["attempted"] == 3 and summary["proved"] >= 2
    assert summary["critic"] == "sr-data-distance" and f"{planner} on SR-v0" in out
    assert "proved" in out and "/3" in out
    traces = list(iter_traces(tmp_path / "traces"))
    assert len(traces) == 3 and {rec.header["planner"] for rec in traces} == {planner}
    assert len(list(iter_traces(tmp_path))) == 3  # the run folder the CLI prints reads back too (summary.json skipped)


def test_planner_settings_from_the_command_line(tmp_path, capsys):
    code, _, err = run(["prove", "--planner", "htps", "--set", "exploration=1", "--set", "descents_per_batch=4",
                        "--critic", "constant", "--limit", "1", "--budget", "20", "--out", str(tmp_path), "--quiet"],
                       capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["settings"]["exploration"] == 1.0 and summary["settings"]["descents_per_batch"] == 4
    assert summary["critic"] == "constant"
    code, _, err = run(["prove", "--planner", "htps", "--set", "exploraton=1"], capsys)
    assert code != 0 and "htps settings are" in err and "exploration" in err
    code, _, err = run(["prove", "--planner", "updown", "--set", "temperature=hot"], capsys)
    assert code != 0 and "temperature must be a finite number" in err


# ---------------------------------------------------------------------------------------------- input checks
@pytest.fixture
def no_search(monkeypatch):
    """Fail the test if any theorem is attempted: for checks that must happen before any work."""
    def search(self, *args, **kwargs):
        raise AssertionError("a theorem was attempted before the bad input was refused")

    monkeypatch.setattr(Planner, "search", search)


@pytest.mark.parametrize("option", [
    ["--limit", "-1"], ["--limit", "0"], ["--limit", "two"],
    ["--budget", "0"], ["--budget", "-5"],
    ["--time-limit", "0"], ["--time-limit", "-1"], ["--time-limit", "nan"], ["--time-limit", "inf"],
    ["--tactics-per-expansion", "0"], ["--tactic-timeout", "0"], ["--tactic-timeout", "-2"], ["--seed", "-1"],
])
def test_bad_numbers_are_usage_errors(option, capsys, no_search):
    code, out, err = run(["prove", "--quiet", *option], capsys)
    assert code == 2 and option[0] in err and "Traceback" not in err and out == ""


def test_theorems_limit_must_be_positive(capsys):
    code, _, err = run(["theorems", "--limit", "-1"], capsys)
    assert code == 2 and "--limit" in err


@pytest.mark.parametrize("planner, setting, message", [
    ("updown", "temperature=-5", "temperature must be >= 0"),
    ("fringe", "temperature=-5", "temperature must be >= 0"),
    ("fringe", "score=bogus", "score must be 'critic' or 'policy'"),
    ("htps", "descents_per_batch=0", "descents_per_batch >= 1"),
    ("htps", "exploration=nan", "exploration must be a finite number"),
    ("htps", "descents_per_batch=2.5", "descents_per_batch must be an integer"),
    ("bestfs", "max_expansions=3", "with --budget"),
    ("bestfs", "early_stop=perhaps", "early_stop must be true or false"),
])
def test_bad_settings_are_one_line_usage_errors(planner, setting, message, capsys, no_search):
    code, out, err = run(["prove", "--planner", planner, "--set", setting, "--quiet"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("aitp: ") and message in err, err


def test_critic_errors_are_usage_errors(monkeypatch, capsys, no_search):
    def broken(backend):
        raise TypeError("this backend has no critic")

    monkeypatch.setattr("aitp_gym.policy.default_critic", broken)
    code, _, err = run(["prove", "--planner", "htps", "--quiet"], capsys)
    assert code == 2 and err == "aitp: --critic auto: this backend has no critic\n"


def test_critic_and_theorem_files_are_checked_before_any_work(tmp_path, capsys, no_search):
    code, _, err = run(["prove", "--planner", "htps", "--critic", str(tmp_path / "nope")], capsys)
    assert code == 2 and "--critic" in err and "no such checkpoint folder" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(["prove", "--planner", "htps", "--critic", str(tmp_path / "empty")], capsys)
    assert code == 2 and "not a checkpoint folder" in err
    ids = tmp_path / "ids.txt"
    code, _, err = run(["prove", "--theorems", str(ids)], capsys)
    assert code == 2 and f"--theorems {ids}: cannot read it" in err
    ids.write_text("# nothing\n\n")
    code, _, err = run(["prove", "--theorems", str(ids)], capsys)
    assert code == 2 and "holds no theorem ids" in err
    ids.write_text("# held out\nno-such-theorem\n")
    code, _, err = run(["prove", "--theorems", str(ids)], capsys)
    assert code == 2 and "no-such-theorem" in err


def test_theorems_file_proves_those_ids(tmp_path, capsys):
    first = [t.id for t in SRBackend().theorems("valid")[5:7]]
    (tmp_path / "ids.txt").write_text("# two of them\n" + "\n".join(first) + "\n")
    code, _, _ = run(["prove", "--theorems", str(tmp_path / "ids.txt"), "--budget", "3", "--quiet", "--out",
                      str(tmp_path / "run")], capsys)
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert code == 0 and [r["theorem_id"] for r in summary["results"]] == first


def test_unknown_environment_and_theorem_are_usage_errors(capsys, no_search):
    code, _, err = run(["prove", "--env", "Nope-v0"], capsys)
    assert code == 2 and "unknown environment" in err and "Traceback" not in err
    assert run(["theorems", "--env", "Nope-v0"], capsys)[0] == 2
    code, _, err = run(["prove", "--theorem", "no-such-id"], capsys)
    assert code == 2 and "no theorem 'no-such-id'" in err


def test_bad_out_is_refused_before_any_work(tmp_path, monkeypatch, capsys, no_search):
    prepared = []
    monkeypatch.setattr(SRBackend, "prepare", lambda self, status: prepared.append(1), raising=False)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    code, _, err = run(["prove", "--out", str(a_file), "--quiet"], capsys)
    assert code == 2 and "is not a folder" in err
    code, _, err = run(["prove", "--out", str(a_file / "run"), "--quiet"], capsys)
    assert code == 2 and "not writable" in err and "Traceback" not in err
    assert prepared == [] and a_file.read_text() == "not a folder"


def test_a_used_out_folder_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "run"

    def prove(*extra):
        return run(["prove", "--limit", "3", "--budget", "20", "--quiet", "--out", str(out), *extra], capsys)

    assert prove()[0] == 0
    before = sorted(p.name for p in (out / "traces").iterdir())
    assert len(before) == 3

    code, _, err = prove("--planner", "bfs", "--limit", "1")
    assert code == 2 and "not empty" in err and "--overwrite" in err
    assert sorted(p.name for p in (out / "traces").iterdir()) == before
    assert json.loads((out / "summary.json").read_text())["planner"] == "bestfs"

    (out / "notes.txt").write_text("mine")
    code, _, err = prove("--planner", "bfs", "--limit", "1", "--overwrite")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["planner"] == "bfs" and summary["attempted"] == 1 and summary["interrupted"] is False
    assert [r.header["planner"] for r in iter_traces(out)] == ["bfs"]  # the old traces are gone, not mixed in
    assert (out / "notes.txt").read_text() == "mine"  # files aitp did not write are left alone


def test_an_empty_out_folder_is_fine(tmp_path, capsys):
    code, out, _ = run(["prove", "--limit", "1", "--budget", "5", "--quiet", "--out", str(tmp_path)], capsys)
    assert code == 0 and len(list(iter_traces(tmp_path))) == 1


# ---------------------------------------------------------------------------------------------- interrupts, output
@pytest.mark.parametrize("sig, rc, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_writes_a_partial_summary(tmp_path, sig, rc, word):
    """SIGINT (or SIGTERM, as kill and schedulers send) after the first trace: exit 130 (143), summary.json marked
    interrupted, the partial result printed."""
    out = tmp_path / "run"
    # BFS with budget 300 on all 100 valid theorems runs for minutes; the first (easy) traces come in a second.
    # The child restores Python's SIGINT handler in case this test runs with SIGINT ignored (a background job).
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from aitp_gym.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, "prove", "--planner", "bfs", "--budget", "300",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list((out / "traces").glob("*.json.gz")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no trace was written"
            time.sleep(0.05)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == rc, stderr
    assert "Traceback" not in stderr and f"{word}: " in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["attempted"] >= 1 and summary["planned"] == 100
    assert len(summary["results"]) == summary["attempted"]
    assert re.search(rf"interrupted after {summary['attempted']} of 100 theorems: .*proved \d+/"
                     rf"{summary['attempted']} ", stdout), stdout


def test_prepare_runs_once_before_the_first_theorem(monkeypatch, tmp_path, capsys):
    events = []

    def prepare(self, status):
        events.append("prepare")
        status("starting the fake prover (about 0 s, once per machine)")

    original = Planner.search

    def search(self, *args, **kwargs):
        events.append("search")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SRBackend, "prepare", prepare, raising=False)
    monkeypatch.setattr(Planner, "search", search)
    code, out, err = run(["prove", "--limit", "2", "--budget", "5", "--quiet", "--out", str(tmp_path)], capsys)
    assert code == 0 and events == ["prepare", "search", "search"]
    assert "aitp: starting the fake prover (about 0 s, once per machine)\n" in err and "proved" in out
    assert "prepare_time" in json.loads((tmp_path / "summary.json").read_text())


def test_tactic_timeout_reaches_the_environment_only_when_given(monkeypatch, capsys):
    import gymnasium

    made = []
    real_make = gymnasium.make

    def make(env_id, **kwargs):
        env = real_make(env_id, **kwargs)
        made.append((kwargs, env.unwrapped.tactic_timeout))
        return env

    monkeypatch.setattr(gymnasium, "make", make)
    assert run(["prove", "--limit", "1", "--budget", "5", "--quiet", "--tactic-timeout", "0.5"], capsys)[0] == 0
    assert run(["prove", "--limit", "1", "--budget", "5", "--quiet"], capsys)[0] == 0
    assert made == [({"split": "valid", "tactic_timeout": 0.5}, 0.5), ({"split": "valid"}, None)]


def test_progress_bar_and_summary_line(capsys, monkeypatch):
    monkeypatch.setattr(cli.prove, "interactive", lambda: True)  # as on a terminal
    monkeypatch.setattr("aitp_gym.progress.interactive", lambda file=None: True)
    code, out, err = run(["prove", "--limit", "3", "--budget", "5"], capsys)
    assert code == 0 and "3/3 [" in err and "proved=" in err  # tqdm, on stderr
    monkeypatch.undo()
    # not on a terminal (capsys, like a file or a pipe): one line for the whole phase, not a frame per update
    code, out, err = run(["prove", "--limit", "3", "--budget", "5"], capsys)
    assert code == 0 and "\r" not in err and "[" not in err, err
    assert re.fullmatch(r"aitp: bestfs on SR-v0/valid: 3/3 thm in [\d.]+ s \(proved \d/3\)\n", err), err
    assert re.fullmatch(r"bestfs on SR-v0 \(valid\): proved \d/3 .*total [\d.]+ s\n", out)
    code, out, err = run(["prove", "--limit", "3", "--budget", "5", "--quiet"], capsys)
    assert code == 0 and err == "" and "proved" in out


def test_version(capsys):
    from aitp_gym import __version__

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"aitp-gym {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["prove", "--help"], ["theorems", "--help"]])
def test_help_shows_each_default_once_and_the_exit_codes(argv, capsys):
    code, text, _ = run(argv, capsys)
    assert code == 0
    body, _, epilog = text.partition("exit codes:")
    assert all(f"{c} " in epilog for c in ("0", "1", "2", "130"))
    entries = re.split(r"\n(?=  -)", body)  # one entry per option
    assert len(entries) > 1
    for entry in entries:
        assert entry.count("default") <= 1, entry
    if argv[0] == "prove":
        assert "(default: 200)" in text and "(default: 0)" in text  # --budget, --seed
        for option in ("--env", "--planner", "--split", "--limit", "--budget", "--time-limit", "--out", "--seed"):
            assert option in text


def test_theorems_sr_one_line_each(capsys):
    code, out, err = run(["theorems", "--split", "valid"], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 100 and all(line.count("\t") == 1 for line in lines)
    assert "# 100 of 100 theorems" in err


def test_theorems_holist_one_line_each(capsys):
    """HOL Light statements span lines; the listing keeps one line per theorem (from the shipped database)."""
    def aitp(*args):
        code, out, err = run(["theorems", "--env", "HOList-v0", "--split", "valid", *args], capsys)
        assert code == 0, err
        return out, err

    exact = [json.loads(line) for line in aitp("--json")[0].splitlines()]
    assert any("\n" in t["statement"] for t in exact)  # the case this test is about
    out, err = aitp()
    lines = out.splitlines()
    assert len(lines) == len(exact) and f"# {len(exact)} of {len(exact)} theorems" in err
    for line, t in zip(lines, exact, strict=True):
        tid, statement = line.split("\t")
        assert tid == t["id"] and statement == " ".join(t["statement"].split())


def test_a_closed_pipe_ends_quietly():
    """`aitp theorems | head`: the reader leaves early; aitp exits 0 without a message."""
    proc = subprocess.Popen([sys.executable, "-m", "aitp_gym.cli", "theorems", "--env", "SR-v0", "--split", "train"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(100)
    proc.stdout.close()  # more than a pipe's buffer (64 KiB) is still to come
    assert proc.wait(timeout=120) == 0
    assert proc.stderr.read() == b""


# ---------------------------------------------------------------------------------------------- the command modules
def test_each_command_module_registers_its_commands():
    """``build_parser`` asks each module of ``COMMANDS`` to add its subparser, which dispatches to the module's own
    ``cmd_...`` function; ``aitp --help`` lists the commands in that order."""
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    owners = [sub.choices[action.dest].get_default("func").__module__ for action in sub._choices_actions]
    assert owners == [module.__name__ for module in cli.COMMANDS]  # one command each, in help order
    for argv, func in ((["prove"], prove_command.cmd_prove), (["theorems"], theorems_command.cmd_theorems),
                       (["loop", "c.yaml"], loop_command.cmd_loop), (["plot", "runs/x"], plot_command.cmd_plot),
                       (["visualise", "t.json"], visualise_command.cmd_visualise),
                       (["visualize", "t.json"], visualise_command.cmd_visualise),
                       (["hol-light", "status"], hol_light_command.cmd_hol_light)):
        assert parser.parse_args(argv).func is func, argv


def test_the_shared_argument_types_exit_codes_and_interrupts():
    assert common.positive_int("3") == 3 and common.nonnegative_int("0") == 0
    assert common.positive_float("0.5") == 0.5
    for parse, text, message in ((common.positive_int, "0", "'0': must be a positive integer"),
                                 (common.positive_int, "two", "'two' is not an integer"),
                                 (common.nonnegative_int, "-1", "'-1': must be 0 or more"),
                                 (common.positive_float, "inf", "'inf': must be a positive, finite number"),
                                 (common.positive_float, "x", "'x' is not a number")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse(text)
    assert (common.interrupted_exit_code(KeyboardInterrupt()), common.interruption(KeyboardInterrupt())) == \
        (130, "interrupted")
    assert (common.interrupted_exit_code(common.Terminated()), common.interruption(common.Terminated())) == \
        (143, "terminated")
    assert isinstance(common.Terminated(), KeyboardInterrupt)  # so every Ctrl-C path handles SIGTERM too
    assert common.one_line(" a\n  b\tc ") == "a b c"
    assert all(f"  {code} " in common.EXIT_CODES for code in (0, 1, 2, 130, 143))
