"""Smoke tests: run the command line as a user would, as a subprocess, with tiny budgets."""

import json
import subprocess
import sys

from aitp_gym import iter_traces


def aitp(*args, check=True):
    return subprocess.run([sys.executable, "-m", "aitp_gym.cli", *args], capture_output=True, text=True,
                          check=check, timeout=300)


def test_prove_writes_traces_and_summary(tmp_path):
    out = tmp_path / "run"
    p = aitp("prove", "--env", "SR-v0", "--planner", "bestfs", "--split", "valid", "--limit", "4", "--budget", "50",
             "--out", str(out), "--quiet")
    assert "proved" in p.stdout and "/4" in p.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["attempted"] == 4 and len(list(iter_traces(out / "traces"))) == 4


def test_theorems_lists_a_split():
    p = aitp("theorems", "--env", "SR-v0", "--split", "valid", "--limit", "3")
    assert p.stdout.count("sr-valid-") == 3


def test_help_explains_options():
    p = aitp("prove", "--help")
    for option in ("--env", "--planner", "--split", "--limit", "--budget", "--time-limit", "--out", "--seed"):
        assert option in p.stdout


def test_bad_input_gets_a_clear_message():
    p = aitp("prove", "--env", "Nope-v0", check=False)
    assert p.returncode != 0 and "unknown environment" in p.stderr
    p = aitp("prove", "--theorem", "no-such-id", check=False)
    assert p.returncode == 2 and "no theorem 'no-such-id'" in p.stderr
