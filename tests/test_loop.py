"""The learning loop on SR-v0 with tiny models: one round end to end, TensorBoard scalars, config errors,
kill-and-resume with a real SIGKILL, and the Ray path on a local Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

from aitp_gym.loop import Loop, load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ["prove.train_theorems=3", "prove.eval_theorems=3", "prove.max_expansions=6", "learn.steps=3",
        "learn.batch_size=4", "prove.tactics_per_expansion=4", "model.num_candidates=4", "torch_threads=1"]


def _scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[tuple[int, float]]] = {}
    for events in (run_dir / "tb").glob("events.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return out


def test_one_round_end_to_end(tmp_path):
    config = load_config(ROOT / "configs/sr_seq2seq.yaml", [*TINY, "rounds=1", "prove.train_difficulty_max=1"])
    rows = Loop(config, tmp_path / "run", progress=False, log=lambda m: None).run()
    assert [r["round"] for r in rows] == [0, 1]
    assert rows[0]["models"] == {"policy": "model-free", "critic": "model-free"}  # bootstrapping
    assert rows[1]["train"]["n"] == 3 and rows[1]["eval"]["n"] == 3
    run = tmp_path / "run"
    lines = [json.loads(x) for x in (run / "rounds.jsonl").read_text().splitlines()]
    assert lines == json.loads(json.dumps(rows))
    for r in (0, 1):
        assert (run / f"rounds/{r:03d}/policy/model.safetensors").exists()
        assert len(list((run / f"rounds/{r:03d}/eval").glob("*.json.gz"))) == 3
    assert len(list((run / "rounds/001/train").glob("*.json.gz"))) == 3
    assert json.loads((run / "rounds/001/buffers.json").read_text())["traces"] == 3
    scalars = _scalars(run)
    assert [s for s, _ in scalars["eval/proof_rate"]] == [0, 1] and [s for s, _ in scalars["train/proof_rate"]] == [1]
    assert {"time/prover_s", "time/model_s", "time/bookkeeping_s"} <= set(scalars)
    assert rows[1]["train"]["proved"] > 0 and set(rows[1]["losses"]) == {"seq2seq", "critic"}, rows[1]
    assert {"losses/seq2seq/loss", "losses/critic/loss"} <= set(scalars), sorted(scalars)
    assert load_config(run / "config.yaml") == config, "the resolved config is saved and reloads"
    from aitp_gym import iter_traces

    assert sum(1 for _ in iter_traces(run)) == 3 + 3 + 3, "a whole run folder streams its traces, checkpoints aside"
    # the HParams tab: the run's settings, with the proof rates as metrics, in the run's one event file
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = list((run / "tb").glob("events.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0]))
    acc.Reload()
    assert "_hparams_/experiment" in acc.PluginTagToContent("hparams")
    # the curve, drawn from those scalars, after every round; and again by `aitp plot`
    png = (run / "curve.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    out = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "plot", str(run), "-o", str(tmp_path / "c.png")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG"), out.stderr
    out = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "plot", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 2 and "no tb/ folder" in out.stderr


def test_config_errors_name_the_allowed_keys(tmp_path):
    with pytest.raises(ValueError, match="allowed in prove.: .*max_expansions"):
        load_config(None, ["prove.max_expansion=3"])
    with pytest.raises(ValueError, match="rounds must be an integer"):
        load_config(None, ["rounds=two"])
    with pytest.raises(ValueError, match="unknown learners"):
        load_config(None, ["learn.learners=[seq2seq,ppo]"])
    out = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "loop", str(ROOT / "configs/sr_demo.yaml"),
                          "--set", "prove.budget=3", "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "allowed in prove." in out.stderr


def test_the_holist_model_is_a_loop_policy(tmp_path):
    from aitp_gym.agents.holist_model import HOListPolicy
    from aitp_gym.loop import load_policy

    with pytest.raises(ValueError, match="premise learner trains the HOList model"):
        load_config(None, ["learn.learners=[premise]"])  # the default policy is seq2seq
    with pytest.raises(ValueError, match="trains with the premise learner"):
        load_config(None, ["model.policy=holist", "learn.learners=[seq2seq]"])
    config = load_config(ROOT / "configs/holist.yaml")
    assert config.model.policy == "holist" and "premise" in config.learn.learners
    fresh = load_policy("holist", num_candidates=4)
    assert isinstance(fresh, HOListPolicy) and fresh.settings.num_candidates == 4
    fresh.save_pretrained(tmp_path / "policy")
    again = load_policy(str(tmp_path / "policy"), num_candidates=4)  # a checkpoint folder is recognised
    assert isinstance(again, HOListPolicy)
    goal = "|- !n. n + 0 = n"
    assert again.propose([goal], 4) == fresh.propose([goal], 4)


def test_every_shipped_config_loads():
    configs = sorted((ROOT / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        load_config(path)


def test_killed_run_resumes_without_losing_or_repeating_rounds(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "aitp_gym.cli", "loop", str(ROOT / "configs/sr_demo.yaml"), "--out", str(run),
           "--quiet", *[a for s in [*TINY, "rounds=2", "learn.steps=40",
                                                    "prove.train_difficulty_max=1"] for a in ("--set", s)]]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    rounds = run / "rounds.jsonl"
    deadline = time.monotonic() + 600
    while not (rounds.exists() and rounds.read_text().count("\n") >= 1):  # round 0 recorded
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    while not (run / "rounds" / "001.partial").exists():  # round 1 under way (it then trains for 2 × 40 steps)
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert rounds.read_text().count("\n") == 1
    out = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "loop", "--resume", str(run), "--quiet"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in rounds.read_text().splitlines()]
    assert [x["round"] for x in lines] == [0, 1, 2]
    assert sorted(p.name for p in (run / "rounds").iterdir()) == ["000", "001", "002"]
    assert "held-out proof rate by round" in out.stdout


def test_a_used_run_folder_needs_resume_or_overwrite(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: SR-v0\n")
    (run / "rounds.jsonl").write_text('{"round": 0}\n')
    loop = [sys.executable, "-m", "aitp_gym.cli", "loop", str(ROOT / "configs/sr_demo.yaml")]
    out = subprocess.run([*loop, "--out", str(run)], capture_output=True, text=True)
    assert out.returncode == 2 and "--resume" in out.stderr
    # --overwrite deletes run folders only, and only once the config is known to be good
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    for extra in (["--set", "rounds=abc"], []):
        out = subprocess.run([*loop, "--out", str(precious), "--overwrite", *extra], capture_output=True, text=True)
        assert out.returncode == 2 and (precious / "thesis.tex").read_text() == "years of work", out.stderr
    assert "not a loop run folder" in out.stderr
    out = subprocess.run([*loop, "--out", str(run), "--overwrite", "--set", "rounds=abc"], capture_output=True,
                         text=True)
    assert out.returncode == 2 and (run / "rounds.jsonl").exists(), "a bad config deletes nothing"
    out = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "loop", "--resume", str(run), "--out", "x"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "--out is not used with --resume" in out.stderr


@pytest.mark.parametrize("setting, message", [
    ("prove.planner=nope", "unknown planner 'nope'"),
    ("env=Nope-v0", "unknown environment 'Nope-v0'"),
    ("prove.planner_settings={explore: 2}", "htps has no setting(s) explore"),
    ("prove.planner_settings={max_expansions: 2}", "budgets are prove.max_expansions"),
    ("model.policy=foo", "model.policy: 'foo' is neither"),
    ("model.critic=nope", "model.critic: 'nope' is neither"),
])
def test_loop_settings_are_checked_before_any_work(tmp_path, setting, message):
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "loop", str(ROOT / "configs/sr_demo.yaml"),
                          "--out", str(tmp_path / "run"), "--set", setting], capture_output=True, text=True)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "run").exists(), "nothing is written for a config that cannot run"
    assert time.monotonic() - started < 60


@pytest.mark.expensive
def test_the_ray_path_on_a_local_ray(tmp_path):
    pytest.importorskip("ray")
    config = load_config(ROOT / "configs/sr_demo.yaml",
                         [*TINY, "rounds=1", "ray_address=local", "workers=2", "learn.learners=[critic]",
                          "model.policy=uniform", "model.critic=value"])
    try:
        rows = Loop(config, tmp_path / "run", progress=False, log=lambda m: None).run()
    finally:
        import ray

        ray.shutdown()
    assert [r["eval"]["n"] for r in rows] == [3, 3] and rows[1]["train"]["n"] == 3
    assert len(list((tmp_path / "run/rounds/001/train").glob("*.json.gz"))) == 3


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
def test_worker_processes_end_with_a_killed_loop(tmp_path):
    cmd = [sys.executable, "-m", "aitp_gym.cli", "loop", str(ROOT / "configs/sr_demo.yaml"), "--out",
           str(tmp_path / "run"), "--quiet",
           *[a for s in [*TINY, "rounds=1", "workers=2", "prove.train_theorems=40", "prove.eval_theorems=40",
                         "prove.train_difficulty_max=3"] for a in ("--set", s)]]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        workers: list[int] = []
        while len(workers) < 2:  # the pool's spawned processes (and its resource tracker) are up
            assert proc.poll() is None and time.monotonic() < deadline
            workers = _children(proc.pid)
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # only the loop's own process: nobody is left to stop the pool
        proc.wait()
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in workers if _alive(p)], "worker processes outlived the loop"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
