"""The learning loop (``aitp_gym/loop/``) and ``aitp loop`` (``aitp_gym.cli.loop``, run as a user runs it) on SR-v0
with tiny models: one round end to end, TensorBoard scalars, config errors, kill-and-resume with a real SIGKILL,
worker processes, signals, and the Ray path on a local Ray."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

from doubles import ROOT  # noqa: E402

from aitp_gym.loop import Loop, load_config  # noqa: E402

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
    assert rows[1]["train"]["attempted"] == 3 and rows[1]["eval"]["attempted"] == 3
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
    # aitp prove reproduces round 1's evaluation: its checkpoints, its held-out ids, its planner settings
    ids = [x for x in (run / "eval_theorems.txt").read_text().splitlines() if not x.startswith("#")]
    out = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "prove", "--quiet", "--planner", "htps",
                          "--policy", str(run / "rounds/001/policy"), "--critic", str(run / "rounds/001/critic"),
                          "--theorems", str(run / "eval_theorems.txt"), "--budget", "6",
                          "--tactics-per-expansion", "4", "--set", "exploration=1", "--set", "count_threshold=3",
                          "--out", str(tmp_path / "again")], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    again = json.loads((tmp_path / "again/summary.json").read_text())
    assert again["policy"] == "seq2seq" and again["critic"] == "value"
    evaluated = {t.header["theorem_id"]: (t.result["proved"], t.result["expansions"])
                 for t in iter_traces(run / "rounds/001/eval")}
    assert sorted(ids) == sorted(evaluated) and len(ids) == 3
    assert {r["theorem_id"]: (r["proved"], r["expansions"]) for r in again["results"]} == evaluated


def test_a_prover_actor_proves_theorem_after_theorem_and_writes_their_traces(tmp_path):
    """What the loop runs in its own process, in each worker process and in each Ray actor."""
    from aitp_gym import iter_traces
    from aitp_gym.loop import ProverActor

    base = dict(env_id="SR-v0", split="valid", out_dir=str(tmp_path), policy="uniform", critic="default",
                num_candidates=8, prove={"planner": "bestfs", "max_expansions": 20, "time_limit": 60.0,
                                         "tactics_per_expansion": None, "planner_settings": {}})
    actor = ProverActor(base)
    ids = list(actor.theorems)[:2]
    try:
        results = [actor.prove(t) for t in ids]
    finally:
        actor.close()
    assert [r["theorem_id"] for r in results] == ids and all(0 < r["expansions"] <= 20 for r in results)
    traces = {rec.header["theorem_id"]: rec for rec in iter_traces(tmp_path)}
    assert sorted(traces) == sorted(ids)
    assert [traces[t].result["proved"] for t in ids] == [r["proved"] for r in results]
    assert {traces[t].header["planner"] for t in ids} == {"bestfs"}


def test_config_errors_name_the_allowed_keys(tmp_path):
    with pytest.raises(ValueError, match="allowed in prove.: .*max_expansions"):
        load_config(None, ["prove.max_expansion=3"])
    with pytest.raises(ValueError, match="rounds must be an integer"):
        load_config(None, ["rounds=two"])
    with pytest.raises(ValueError, match="unknown learner"):
        load_config(None, ["learn.learners=[seq2seq,ppo]"])
    out = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "loop", str(ROOT / "configs/sr_demo.yaml"),
                          "--set", "prove.budget=3", "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "allowed in prove." in out.stderr


def test_the_holist_model_is_a_loop_policy(tmp_path):
    from aitp_gym.agents.holist_model import HOListPolicy
    from aitp_gym.loop import load_policy

    with pytest.raises(ValueError, match="premise cannot train a seq2seq policy; the policies and their learners are "
                                         "ranker: seq2seq, ranker, dpo, ilql; seq2seq: seq2seq, dpo, ilql; "
                                         "holist: premise"):
        load_config(None, ["learn.learners=[premise]"])  # the default policy is seq2seq
    with pytest.raises(ValueError, match="seq2seq cannot train a holist policy"):
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
    """configs/ and configs/matrix/ (aitp compare's experiment matrix): each loads and passes every check."""
    from aitp_gym.loop import check_before_work

    configs = sorted((ROOT / "configs").rglob("*.yaml"))
    assert len([c for c in configs if c.parent.name == "matrix"]) >= 2
    for path in configs:
        check_before_work(load_config(path))


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
    # TensorBoard: one event file again, no step twice (the killed round's losses are gone), rounds 0, 1, 2 once
    assert len(list((run / "tb").glob("events.*"))) == 1
    scalars = _scalars(run)
    loss_steps = [step for step, _ in scalars["losses/seq2seq/loss"]]
    assert loss_steps == sorted(set(loss_steps)) and loss_steps[-1] == 2 * 40, loss_steps
    assert [step for step, _ in scalars["eval/proof_rate"]] == [0, 1, 2]
    assert [value for _, value in scalars["eval/proof_rate"]] == pytest.approx([x["eval"]["proof_rate"]
                                                                                for x in lines])
    assert [step for step, _ in scalars["train/proof_rate"]] == [1, 2]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(next((run / "tb").glob("events.*"))))
    acc.Reload()
    assert "_hparams_/experiment" in acc.PluginTagToContent("hparams") and acc.Tags()["tensors"], \
        "the config text and hparams of round 0 are kept"


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
    for bad in ("rounds=abc", "prove.planner_settings.exploration=-3", "prove.max_expansions=-1"):
        out = subprocess.run([*loop, "--out", str(run), "--overwrite", "--set", bad], capture_output=True, text=True)
        assert out.returncode == 2 and (run / "rounds.jsonl").exists(), f"a bad config ({bad}) deletes nothing"
        assert "Traceback" not in out.stderr and not (run / "rounds").exists(), out.stderr
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
    # values, not only names, and budgets in range: all refused before the run folder is touched
    ("prove.planner_settings.exploration=-3", "prove.planner_settings: HTPS needs exploration >= 0"),
    ("prove.planner_settings.exploration=abc", "exploration must be a finite number, not 'abc'"),
    ("prove.max_expansions=-1", "prove.max_expansions must be 1 or more"),
    ("prove.train_max_expansions=0", "prove.train_max_expansions must be 1 or more"),
    ("prove.time_limit=0", "prove.time_limit must be more than 0"),
    ("prove.time_limit=-1", "prove.time_limit must be more than 0"),
    ("prove.tactics_per_expansion=0", "prove.tactics_per_expansion must be 1 or more"),
    ("prove.eval_theorems=0", "prove.eval_theorems must be 1 or more"),
    ("prove.eval_theorems=5000", "5000 is more than the 100 theorems of SR-v0's valid split"),
    ("prove.train_theorems=0", "prove.train_theorems must be 1 or more"),
    ("learn.batch_size=0", "learn.batch_size must be 1 or more"),
    ("prove.planner=bestfs", 'add --set "prove.planner_settings={}"'),  # sr_demo's settings are HTPS's: say the fix
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
    assert [r["eval"]["attempted"] for r in rows] == [3, 3] and rows[1]["train"]["attempted"] == 3
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


def test_rounds_record_which_models_were_trained(tmp_path):
    """rounds.jsonl never says a model-free critic was trained."""
    config = load_config(ROOT / "configs/sr_demo.yaml",
                         [*TINY, "rounds=1", "workers=1", "prove.train_difficulty_max=1"])
    rows = Loop(config, tmp_path / "run", progress=False, log=lambda m: None).run()
    for row in rows:
        assert row["models"]["critic"] == "model-free" and row["trained"]["critic"] is False, row
    assert rows[0]["trained"]["policy"] is False and rows[0]["models"]["policy"] == "model-free"
    assert rows[1]["trained"]["policy"] is True and rows[1]["models"]["policy"] == "model"


def _interrupt_loop(tmp_path, sig, when, settings=()):
    """Start ``aitp loop`` with 2 worker processes in its own process group, send ``sig`` to the whole group (as a
    terminal's Ctrl-C does) once ``when(run)`` holds; return (exit code, stderr, seconds to exit, worker pids)."""
    run = tmp_path / "run"
    # the child restores Python's SIGINT handler, in case this test runs with SIGINT ignored (a background job)
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from aitp_gym.cli import main; sys.exit(main(sys.argv[1:]))")
    cmd = [sys.executable, "-c", code, "loop", str(ROOT / "configs/sr_demo.yaml"), "--out", str(run),
           *[a for x in [*TINY, "rounds=1", "workers=2", *settings] for a in ("--set", x)]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        workers: list[int] = []
        while not when(run, workers):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            workers = [p for p in _children(proc.pid) if "resource_tracker" not in _cmdline(p)]
            time.sleep(0.02)
        sent = time.monotonic()
        os.killpg(proc.pid, sig)
        _, stderr = proc.communicate(timeout=120)
        return proc.returncode, stderr, time.monotonic() - sent, workers
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_while_workers_start_ends_the_loop_at_once_and_quietly(tmp_path, sig, code, word):
    """Ctrl-C (or SIGTERM) while the workers still import torch: no worker tracebacks, no wait, a resume hint."""
    rc, stderr, seconds, workers = _interrupt_loop(tmp_path, sig, lambda run, workers: len(workers) >= 2)
    assert rc == code and "Traceback" not in stderr, stderr
    assert f"{word}: 0 of 2 rounds finished and kept; continue with: aitp loop --resume" in stderr, stderr
    assert seconds < 15, f"took {seconds:.1f} s to stop"
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "worker processes outlived the loop"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
def test_sigterm_while_proving_keeps_the_finished_rounds(tmp_path):
    """SIGTERM in round 1's proving (hard theorems, so the workers are busy): exit 143 promptly, round 0 kept, and
    --resume finishes the run."""
    def proving(run, workers):
        return (run / "rounds" / "001.partial" / "train").is_dir()

    rc, stderr, seconds, _ = _interrupt_loop(tmp_path, signal.SIGTERM, proving,
                                             ["prove.train_theorems=20", "prove.max_expansions=40"])
    assert rc == 143 and "Traceback" not in stderr, stderr
    assert "1 of 2 rounds finished and kept" in stderr and seconds < 15, (seconds, stderr)
    run = tmp_path / "run"
    assert [json.loads(x)["round"] for x in (run / "rounds.jsonl").read_text().splitlines()] == [0]


@pytest.mark.expensive
def test_logs_to_a_pipe_are_one_line_per_phase(tmp_path):
    """Written to a pipe (``make demo > log``), the loop prints a line per phase, not tqdm frames; workers that
    load transformers checkpoints draw no "Loading weights" bars, with or without --quiet."""
    base = [sys.executable, "-m", "aitp_gym.cli", "loop", str(ROOT / "configs/sr_seq2seq.yaml"),
            *[a for x in [*TINY, "rounds=1", "workers=2", "model.bootstrap=false", "prove.train_difficulty_max=1"]
              for a in ("--set", x)]]
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    out = subprocess.run([*base, "--out", str(tmp_path / "a")], capture_output=True, text=True, timeout=900, env=env)
    assert out.returncode == 0, out.stderr
    assert "\r" not in out.stderr and "Loading weights" not in out.stderr, out.stderr
    assert re.search(r"aitp: round 1: proving: 3/3 theorems in [\d.]+ s \(proved \d/3\)\n", out.stderr), out.stderr
    assert re.search(r"aitp: train critic: 3/3 steps in [\d.]+ s\n", out.stderr), out.stderr
    assert len(out.stderr) < 2_000, out.stderr
    quiet = subprocess.run([*base, "--out", str(tmp_path / "b"), "--quiet", "--set", "rounds=0"],
                           capture_output=True, text=True, timeout=900, env=env)
    assert quiet.returncode == 0 and "theorems in" not in quiet.stderr and "Loading" not in quiet.stderr, quiet.stderr


def test_device_learner_settings_and_the_degeneration_watch(tmp_path, monkeypatch):
    """model.device: cpu runs and a GPU that is not there is refused before any work; learn.settings reach the
    learner (typed); a fresh policy trained by DPO alone is warned about; rejected proposals and proposal entropy
    are logged per round."""
    import torch

    from aitp_gym.agents.learners import LEARNERS
    from aitp_gym.loop import check_before_work
    from aitp_gym.loop.models import resolve_device

    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto") == "cpu"
        with pytest.raises(ValueError, match="cuda asked for, but torch sees no CUDA device"):
            check_before_work(load_config(ROOT / "configs/sr_demo.yaml", ["model.device=cuda"]))
    with pytest.raises(ValueError, match="must be auto, cpu, cuda or cuda:N, not 'gpu'"):
        resolve_device("gpu")
    for bad, message in (("learn.settings.seq2seq.lr=abc", "learn.settings.seq2seq.lr must be a finite number"),
                         ("learn.settings.dpo.beta=0.1", "dpo is not one of learn.learners"),
                         ("learn.settings.seq2seq.nope=1", "unknown config key(s) learn.settings.seq2seq.nope")):
        with pytest.raises(ValueError, match=re.escape(message)):
            check_before_work(load_config(ROOT / "configs/sr_demo.yaml", [bad]))

    seen = []
    ranker = LEARNERS["seq2seq"]
    monkeypatch.setitem(LEARNERS, "seq2seq", type(ranker)(
        "seq2seq", ranker.buffer, ranker.trains, ranker.settings,
        lambda model, data, settings, *rest: seen.append(settings) or ranker.train(model, data, settings, *rest)))
    config = load_config(ROOT / "configs/sr_demo.yaml",
                         [*TINY, "rounds=1", "workers=1", "model.device=cpu", "prove.train_difficulty_max=1",
                          "learn.settings.seq2seq.lr=0.5", "learn.settings.seq2seq.steps=2"])
    check_before_work(config)
    logged: list[str] = []
    rows = Loop(config, tmp_path / "run", progress=False, log=logged.append).run()
    assert [(s.lr, s.steps, s.batch_size) for s in seen] == [(0.5, 2, 4)], "its own settings over the shared ones"
    assert not any(m.startswith("warning") for m in logged)
    for row in rows:
        assert 0 <= row["eval"]["rejected_share"] <= 1 and row["eval"]["proposal_entropy"] > 0
    scalars = _scalars(tmp_path / "run")
    assert [s for s, _ in scalars["search/rejected_share"]] == [0, 1]
    assert [s for s, _ in scalars["search/proposal_entropy"]] == [0, 1]

    from aitp_gym.loop.config import config_warnings

    alone = load_config(ROOT / "configs/sr_seq2seq.yaml", ["learn.learners=[dpo,critic]"])
    assert "no imitation warm start" in " ".join(config_warnings(alone))
    assert config_warnings(load_config(ROOT / "configs/sr_seq2seq.yaml", ["learn.learners=[seq2seq,dpo]"])) == []


def test_the_ranker_trains_with_dpo_in_the_loop(tmp_path):
    """DPO after the ranker's own cross-entropy, on its preference pairs, in one round; its loss is logged."""
    config = load_config(ROOT / "configs/sr_demo.yaml",
                         [*TINY, "rounds=1", "workers=1", "prove.train_difficulty_max=2", "prove.train_theorems=8",
                          "learn.learners=[ranker,dpo]", "learn.settings.dpo.lr=0.05"])
    rows = Loop(config, tmp_path / "run", progress=False, log=lambda m: None).run()
    assert set(rows[1]["losses"]) == {"ranker", "dpo"}, rows[1]
    assert "losses/dpo/accuracy" in _scalars(tmp_path / "run")


def test_brute_force_reference_and_each_learners_rate_per_policy_kind(tmp_path, monkeypatch):
    """prove.brute_force_reference: round 0 also proves the held-out theorems with every enumerated tactic, logged
    as a flat line beside the curve. The seq2seq learner trains the ranker at the ranker's registry rate (0.05)
    unless learn.lr or learn.settings say otherwise."""
    from aitp_gym.agents.learners import LEARNERS
    from aitp_gym.trace import iter_traces

    seen = []
    learner = LEARNERS["seq2seq"]
    monkeypatch.setitem(LEARNERS, "seq2seq", type(learner)(
        "seq2seq", learner.buffer, learner.trains, learner.settings,
        lambda model, data, settings, *rest: seen.append(settings.lr) or learner.train(model, data, settings, *rest)))
    overrides = [*TINY, "rounds=1", "workers=1", "prove.train_difficulty_max=1", "learn.learners=[seq2seq]"]
    config = load_config(ROOT / "configs/sr_demo.yaml", overrides)
    assert config.prove.brute_force_reference, "the demo draws brute force beside its curve"
    rows = Loop(config, tmp_path / "run", progress=False, log=lambda m: None).run()
    assert seen == [0.05] and rows[1]["losses"]["seq2seq"] > 0
    bf = rows[0]["brute_force"]
    assert bf["attempted"] == 3 and "brute_force" not in rows[1]
    traces = list(iter_traces(tmp_path / "run/rounds/000/brute-force"))
    assert len(traces) == 3
    # every enumerated tactic was tried at the root (SR-v0 enumerates 4 init tactics at "0"), not 4 of them at most
    from collections import Counter

    per_goal = [Counter(e["parent"] for e in t.edges) for t in traces]
    assert all(c[0] == 4 for c in per_goal), "all 4 init tactics at the root"
    assert max(n for c in per_goal for n in c.values()) > 4, "tactics_per_expansion=4 did not limit brute force"
    scalars = _scalars(tmp_path / "run")
    assert scalars["eval/brute_force_proof_rate"] == [(0, pytest.approx(bf["proof_rate"])),
                                                        (1, pytest.approx(bf["proof_rate"]))]
    assert (tmp_path / "run/curve.png").stat().st_size > 0

    for extra, lr in ((["learn.lr=0.2"], 0.2), (["learn.lr=0.2", "learn.settings.seq2seq.lr=0.3"], 0.3)):
        settings = load_config(ROOT / "configs/sr_demo.yaml", [*overrides, *extra]).learn.settings_for(
            "seq2seq", 0, {"seq2seq": {"lr": 0.05}})
        assert settings["lr"] == lr
    from aitp_gym.agents.models import POLICIES

    ranker = POLICIES["ranker"].learner_defaults
    learn = load_config(ROOT / "configs/matrix/sr_bestfs_ilql.yaml").learn
    assert learn.settings_for("ilql", 0, ranker) == {**learn.settings_for("ilql", 0), "lr": 0.05, "bc_weight": 0.0}
    learn = load_config(ROOT / "configs/matrix/sr_bestfs_ilql.yaml", ["learn.settings.ilql.bc_weight=1.0"]).learn
    assert learn.settings_for("ilql", 0, ranker)["bc_weight"] == 1.0


def test_model_free_reference_and_a_fixed_train_pool(tmp_path):
    """prove.model_free_reference: round 0 also proves the held-out theorems with the model-free policy at the same
    tactics per expansion. prove.train_pool_size equal to train_theorems: every round attempts the same theorems."""
    from aitp_gym.trace import iter_traces

    overrides = [*TINY, "rounds=2", "workers=1", "prove.train_difficulty_max=1", "learn.learners=[seq2seq]",
                 "prove.model_free_reference=true", "prove.train_pool_size=3", "prove.train_theorems=3",
                 "model.pretrain_steps=20", "prove.eval_selection=first"]
    config = load_config(ROOT / "configs/sr_demo.yaml", overrides)
    rows = Loop(config, tmp_path / "run", progress=False, log=lambda m: None).run()
    from aitp_gym.envs.sr.backend import SRBackend

    first = sorted(t.id for t in SRBackend().theorems("valid")[:3])  # eval_selection: the split's first ones
    assert [x for x in (tmp_path / "run/eval_theorems.txt").read_text().split() if not x.startswith("#")][-3:] == first
    mf = rows[0]["model_free"]
    assert mf["attempted"] == 3 and "model_free" not in rows[1]
    traces = list(iter_traces(tmp_path / "run/rounds/000/model-free"))
    assert {t.header["policy"] for t in traces} == {"uniform"}
    assert {t.header["policy"] for t in iter_traces(tmp_path / "run/rounds/000/eval")} != {"uniform"}
    from collections import Counter

    assert max(n for t in traces for n in Counter(e["parent"] for e in t.edges).values()) <= 4  # 4 per expansion
    assert _scalars(tmp_path / "run")["eval/model_free_proof_rate"][0] == (0, pytest.approx(mf["proof_rate"]))

    def ids(r):
        return sorted(t.header["theorem_id"] for t in iter_traces(tmp_path / f"run/rounds/{r:03d}/train"))

    assert ids(1) == ids(2) and len(ids(1)) == 3
    with pytest.raises(ValueError, match="eval_selection"):
        load_config(ROOT / "configs/sr_demo.yaml", [*overrides, "prove.eval_selection=best"])
    with pytest.raises(ValueError, match="train_pool_size"):
        load_config(ROOT / "configs/sr_demo.yaml", [*overrides, "prove.train_pool_size=2"])
