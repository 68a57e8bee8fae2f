"""Smoke tests: run the command line as a user would, as a subprocess, with tiny budgets."""

import json
import subprocess
import sys

import pytest

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
    assert len(list(iter_traces(out))) == 4  # the run folder the CLI prints reads back too (summary.json skipped)


def test_theorems_lists_a_split():
    p = aitp("theorems", "--env", "SR-v0", "--split", "valid", "--limit", "3")
    assert p.stdout.count("sr-valid-") == 3


def test_help_explains_options():
    p = aitp("prove", "--help")
    for option in ("--env", "--planner", "--split", "--limit", "--budget", "--time-limit", "--out", "--seed"):
        assert option in p.stdout


def test_bad_input_gets_a_clear_message():
    p = aitp("prove", "--env", "Nope-v0", check=False)
    assert p.returncode == 2 and "unknown environment" in p.stderr and "Traceback" not in p.stderr
    p = aitp("prove", "--theorem", "no-such-id", check=False)
    assert p.returncode == 2 and "no theorem 'no-such-id'" in p.stderr


@pytest.mark.parametrize("planner", ["bestfs", "bfs", "fringe", "updown", "htps"])
def test_prove_with_every_planner(tmp_path, planner):
    p = aitp("prove", "--planner", planner, "--limit", "3", "--budget", "40", "--out", str(tmp_path), "--quiet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["planner"] == planner and summary["attempted"] == 3 and summary["proved"] >= 2
    assert summary["critic"] == "sr-data-distance" and f"{planner} on SR-v0" in p.stdout
    assert {rec.header["planner"] for rec in iter_traces(tmp_path / "traces")} == {planner}


def test_planner_settings_from_the_command_line(tmp_path):
    aitp("prove", "--planner", "htps", "--set", "exploration=1", "--set", "descents_per_batch=4", "--critic",
         "constant", "--limit", "1", "--budget", "20", "--out", str(tmp_path), "--quiet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["settings"]["exploration"] == 1.0 and summary["settings"]["descents_per_batch"] == 4
    assert summary["critic"] == "constant"
    p = aitp("prove", "--planner", "htps", "--set", "exploraton=1", check=False)
    assert p.returncode != 0 and "htps settings are" in p.stderr and "exploration" in p.stderr
    p = aitp("prove", "--planner", "updown", "--set", "temperature=hot", check=False)
    assert p.returncode != 0 and "temperature must be a finite number" in p.stderr
