"""Lean-v0's Gymnasium env (``envs/lean/env.py``) and LeanDojo Benchmark 4 reader (``envs/lean/benchmark.py``) on
the test double of ``lean_dojo.Dojo`` (``tests/doubles/lean_double.py``), and what happens without Lean."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import gymnasium as gym
import lean_dojo
import pytest
from doubles.lean_double import (
    AND_INTRO,
    NAT,
    REPO,
    SUCC,
    THEOREMS,
    ZERO,
    DojoTestDouble,
    LeanGitRepoTestDouble,
    LeanWorld,
    lean_theorem,
    make_world,
    write_benchmark,
)
from gymnasium.utils.env_checker import check_env

import aitp_gym
from aitp_gym.envs.lean import LeanBackend, load_split
from aitp_gym.errors import DependencyNotInstalled
from aitp_gym.search import PLANNERS, make_planner


@pytest.fixture
def world() -> LeanWorld:
    return make_world()


def env_over(world: LeanWorld, **kwargs):
    """A Lean-v0 env on the double, made through the registry as a user would make it."""
    return gym.make("Lean-v0", theorems=THEOREMS, dojo_factory=DojoTestDouble.over(world), proof_checker="replay",
                    **kwargs)


# -- the benchmark ---------------------------------------------------------------------------------------------
def test_benchmark_ids_are_unique_and_name_the_file(tmp_path):
    def record(name, file_path):
        return {"url": REPO.url, "commit": REPO.commit, "file_path": file_path, "full_name": name}

    (tmp_path / "test.json").write_text(json.dumps([
        record("foo", "A.lean"), record("foo", "A.lean"), record("foo", "A.lean"), record("foo", "B.lean"),
        record("bar", "A.lean")]), encoding="utf-8")
    ids = [t.id for t in load_split(tmp_path, "test")]
    assert ids == ["A.lean:foo", "A.lean:foo#2", "A.lean:foo#3", "B.lean:foo", "bar"]


# -- premises ----------------------------------------------------------------------------------------------
def test_premises_from_the_benchmark_corpus_are_in_info(world, tmp_path, monkeypatch):
    monkeypatch.setattr(lean_dojo, "LeanGitRepo", LeanGitRepoTestDouble)  # its constructor asks GitHub
    bench = write_benchmark(tmp_path / "leandojo_benchmark_4")
    env = gym.make("Lean-v0", benchmark=bench, split="test", dojo_factory=DojoTestDouble.over(world),
                   proof_checker="replay")
    obs, info = env.reset(options={"theorem": "and_intro"})
    assert obs == AND_INTRO
    assert info["premises"] == ("Basic.helper", "And.intro", "before_it")  # imports, then earlier in the file
    _, _, _, _, info = env.step("constructor")
    assert "before_it" in info["premises"] and "after_it" not in info["premises"]
    env.close()


def test_benchmark_theorems_open_a_dojo_on_theorem_leangitrepo_path_name(world, tmp_path, monkeypatch):
    built = []

    def repo(url, commit):
        built.append((url, commit))
        return LeanGitRepoTestDouble(url, commit)

    monkeypatch.setattr(lean_dojo, "LeanGitRepo", repo)
    backend = LeanBackend(benchmark=write_benchmark(tmp_path / "b"), dojo_factory=DojoTestDouble.over(world))
    for theorem in backend.theorems("test"):
        backend.start(theorem)
        entry = backend.lean_theorem(theorem)
        assert isinstance(entry, lean_dojo.Theorem) and entry.full_name == theorem.id
        assert entry.repo == LeanGitRepoTestDouble(REPO.url, REPO.commit) and entry.file_path.suffix == ".lean"
    assert built == [(REPO.url, REPO.commit)]  # one repository object for both theorems
    backend.close()
    assert world.open_dojos == 0


# -- the Gymnasium env -------------------------------------------------------------------------------------
def test_check_env_passes_against_the_double(world):
    env = env_over(world, split="test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3, options={"theorem": "add_zero"})
    assert obs == NAT and obs in env.observation_space and info["premises"] == ()
    obs, reward, terminated, truncated, info = env.step("induction n")
    assert obs == ZERO and obs in env.observation_space and info["open_goals"] == 2
    obs, *_ = env.step("rfl")
    assert obs == SUCC and "ℕ" in obs
    _, reward, terminated, _, info = env.step("omega")
    assert (reward, terminated, info["proved"]) == (1.0, True, True)
    env.close()


def test_reset_with_a_lean_theorem_option(world):
    env = env_over(world)
    obs, info = env.reset(options={"lean_theorem": lean_theorem("add_zero")})
    assert obs == NAT and info["theorem_id"] == "add_zero"
    obs, _ = env.reset(options={"url": REPO.url, "commit": REPO.commit, "file_path": "Lean4Example.lean",
                                "full_name": "and_intro"})
    assert obs == AND_INTRO


@pytest.mark.parametrize("planner", sorted(PLANNERS))
def test_every_planner_proves_with_the_model_free_policy(world, planner):
    env = env_over(world, split="valid")
    env.reset(options={"theorem": "and_intro"})
    result = make_planner(planner, max_expansions=20, time_limit=30).search(env)
    assert result.proved, (result.stop_reason, result.replay_message)
    assert result.proof.tactic == "constructor" and sorted(c.tactic for c in result.proof.children) == \
        ["assumption", "assumption"]
    assert result.trace.header["theorem_data"]["full_name"] == "and_intro"
    assert result.trace.header["prover_version"] == "lean-dojo 4.20.0"
    env.close()
    assert world.open_dojos == 0


def test_env_takes_max_restarts_and_documents_its_arguments(world):
    env = env_over(world, max_restarts=2, crash_retries=0, check_timeout=30)
    backend = env.unwrapped.backend
    assert (backend.max_restarts, backend.check_timeout) == (2, 30.0)
    env.reset(options={"theorem": "and_intro"})
    for _ in range(2):
        *_, info = env.step("congr 1")  # Lean crashes: the next tactic needs a new Dojo
        assert "crashed" in info["message"]
    *_, info = env.step("congr 1")
    assert "giving up (max_restarts)" in info["message"] and world.starts() == 2
    env.close()
    doc = aitp_gym.envs.lean.LeanEnv.__doc__
    for argument in ("max_restarts", "proof_checker", "check_timeout", "crash_retries", "dojo_factory"):
        assert f"| ``{argument}`` |" in doc, argument


def test_env_without_theorems_says_what_to_pass(world):
    env = gym.make("Lean-v0", dojo_factory=DojoTestDouble.over(world))
    with pytest.raises(ValueError, match="benchmark=DIR or theorems="):
        env.reset()


# -- without Lean ------------------------------------------------------------------------------------------
def test_make_without_lean_fails_with_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no lake here, even on a machine with Lean
    with pytest.raises(DependencyNotInstalled) as caught:
        gym.make("Lean-v0")
    message = str(caught.value)
    assert "Lean-v0 needs a Lean 4 toolchain" in message and "lake" in message and "elan" in message
    assert "docs/lean.md" in message and "Lean 4.18 or older" in message
    frames = [f.filename for f in __import__("traceback").extract_tb(caught.value.__traceback__)]
    assert not any("lean_dojo" in f for f in frames) and caught.value.__cause__ is None
    assert isinstance(caught.value, aitp_gym.AitpError)


def test_importing_aitp_gym_and_the_lean_env_does_not_import_lean_dojo():
    code = textwrap.dedent("""\
        import sys, aitp_gym, aitp_gym.envs.lean.env
        from aitp_gym.envs.lean import LeanBackend
        assert "lean_dojo" not in sys.modules
        LeanBackend().theorems("test")
        assert "lean_dojo" not in sys.modules
        """)
    subprocess.run([sys.executable, "-c", code], check=True)
