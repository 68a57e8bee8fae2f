"""``aitp theorems`` and ``aitp prove`` with Lean-v0: listing a LeanDojo Benchmark 4 folder needs no Lean;
proving without Lean fails with the install message; proving on the Dojo test double works like other envs."""

from __future__ import annotations

import json
import subprocess
import sys

import lean_dojo
from doubles.lean_double import DojoTestDouble, LeanGitRepoTestDouble, make_world, write_benchmark

from aitp_gym import cli, iter_traces


def aitp(capsys, *args):
    """``aitp args`` in-process: (exit code, stdout, stderr)."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_theorems_lists_a_benchmark_split_without_lean(tmp_path, capsys):
    bench = write_benchmark(tmp_path / "leandojo_benchmark_4")
    code, out, err = aitp(capsys, "theorems", "--env", "Lean-v0", "--benchmark", str(bench), "--split", "test")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["and_intro", "add_zero"]
    assert lines[0].split("\t")[1] == "p q : Prop hp : p hq : q ⊢ p ∧ q"  # the first traced state, one line
    assert "2 of 2 theorems in the test split of Lean-v0" in err
    _, out, _ = aitp(capsys, "theorems", "--env", "Lean-v0", "--benchmark", str(bench / "random"), "--split", "train",
                     "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["add_zero"]
    code, out, err = aitp(capsys, "theorems", "--env", "Lean-v0", "--benchmark", str(bench), "--split", "valid")
    assert code == 0 and out == "" and "0 of 0" in err  # val.json is empty


def test_benchmark_option_errors_are_usage_errors(tmp_path, capsys):
    code, _, err = aitp(capsys, "theorems", "--env", "Lean-v0", "--split", "test")
    assert code == 2 and "pass --benchmark DIR" in err
    code, _, err = aitp(capsys, "theorems", "--env", "Lean-v0", "--benchmark", str(tmp_path), "--split", "test")
    assert code == 2 and "not a LeanDojo Benchmark 4 folder" in err and "Traceback" not in err
    code, _, err = aitp(capsys, "theorems", "--env", "SR-v0", "--benchmark", str(tmp_path))
    assert code == 2 and "--benchmark is for Lean-v0" in err


def test_prove_without_lean_says_what_to_install(tmp_path):
    """A fresh process with a PATH of its own."""
    bench = write_benchmark(tmp_path / "b")
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}  # no lake on this PATH, whatever the machine has
    p = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "prove", "--env", "Lean-v0", "--benchmark", str(bench),
                        "--split", "test"], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 2, p.stderr  # the environment cannot run here: exit 2, as the README's exit codes say
    assert "Lean-v0 needs a Lean 4 toolchain" in p.stderr and "elan" in p.stderr and "Traceback" not in p.stderr


def test_prove_on_the_double_writes_traces_like_other_envs(tmp_path, monkeypatch, capsys):
    """The CLI path itself, with the env made on the Dojo test double (injected here, not a CLI option)."""
    world = make_world()
    make_env = cli.prove._make_env

    def make_env_on_double(env_id, split, **kwargs):
        return make_env(env_id, split, dojo_factory=DojoTestDouble.over(world), proof_checker="replay", **kwargs)

    monkeypatch.setattr(cli.prove, "_make_env", make_env_on_double)
    monkeypatch.setattr(lean_dojo, "LeanGitRepo", LeanGitRepoTestDouble)
    bench = write_benchmark(tmp_path / "b")
    out = tmp_path / "run"
    code = cli.main(["prove", "--env", "Lean-v0", "--benchmark", str(bench), "--split", "test", "--planner", "bfs",
                     "--budget", "20", "--tactic-timeout", "5", "--out", str(out), "--quiet"])
    assert code == 0
    assert "bfs on Lean-v0 (test): proved 2/2" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tactic_timeout"] == 5.0 and [r["proof_size"] for r in summary["results"]] == [3, 1]
    traces = list(iter_traces(out / "traces"))
    assert [t.header["theorem_id"] for t in traces] == ["and_intro", "add_zero"]
    assert traces[0].header["env_id"] == "Lean-v0" and traces[0].header["tactic_timeout"] == 5.0
    assert traces[1].result["proof_script"] == ["simp"]
    assert world.open_dojos == 0
