"""Smoke tests: run the command line as a user would, in-process through ``cli.main(argv)``, with tiny budgets.

(``python -m aitp_gym.cli`` in a fresh process is tested where it matters: the Ctrl-C and closed-pipe tests in
test_cli_hardening.py, and test_lean_cli.py's prover-less PATH.)"""

import json

import pytest

from aitp_gym import cli, iter_traces


def aitp(capsys, *args, check=True):
    """``aitp args`` in-process: (exit code, stdout, stderr); with ``check``, a non-zero exit fails the test."""
    try:
        code = cli.main(list(args))
    except SystemExit as e:  # argparse's usage errors, --help
        code = e.code
    out, err = capsys.readouterr()
    assert not check or code == 0, err
    return code, out, err


def test_theorems_lists_a_split(capsys):
    _, out, _ = aitp(capsys, "theorems", "--env", "SR-v0", "--split", "valid", "--limit", "3")
    assert out.count("sr-valid-") == 3


@pytest.mark.parametrize("planner", ["bestfs", "bfs", "fringe", "updown", "htps"])
def test_prove_with_every_planner(tmp_path, planner, capsys):
    """Each planner proves, prints proved n/N, and writes traces and summary.json."""
    _, out, _ = aitp(capsys, "prove", "--env", "SR-v0", "--planner", planner, "--split", "valid", "--limit", "3",
                     "--budget", "40", "--out", str(tmp_path), "--quiet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["planner"] == planner and summary["attempted"] == 3 and summary["proved"] >= 2
    assert summary["critic"] == "sr-data-distance" and f"{planner} on SR-v0" in out
    assert "proved" in out and "/3" in out
    traces = list(iter_traces(tmp_path / "traces"))
    assert len(traces) == 3 and {rec.header["planner"] for rec in traces} == {planner}
    assert len(list(iter_traces(tmp_path))) == 3  # the run folder the CLI prints reads back too (summary.json skipped)


def test_planner_settings_from_the_command_line(tmp_path, capsys):
    aitp(capsys, "prove", "--planner", "htps", "--set", "exploration=1", "--set", "descents_per_batch=4", "--critic",
         "constant", "--limit", "1", "--budget", "20", "--out", str(tmp_path), "--quiet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["settings"]["exploration"] == 1.0 and summary["settings"]["descents_per_batch"] == 4
    assert summary["critic"] == "constant"
    code, _, err = aitp(capsys, "prove", "--planner", "htps", "--set", "exploraton=1", check=False)
    assert code != 0 and "htps settings are" in err and "exploration" in err
    code, _, err = aitp(capsys, "prove", "--planner", "updown", "--set", "temperature=hot", check=False)
    assert code != 0 and "temperature must be a finite number" in err
