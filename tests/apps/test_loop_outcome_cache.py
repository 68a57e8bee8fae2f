"""``prove.outcome_cache`` in the learning loop (``aitp_gym/loop/``) and ``aitp prove --outcome-cache``: a tiny
HOList-v0 loop on real HOL Light whose two rounds evaluate the same theorems, the second from the run's
``outcomes.sqlite`` (written by two worker processes), with the figures in ``rounds.jsonl``, TensorBoard and the
round's line; ``aitp prove`` reading the same file; and an env without an outcome cache refused before any work."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from doubles import ROOT  # noqa: E402

from aitp_gym import cli, iter_traces  # noqa: E402
from aitp_gym.envs.holist.prover import hol_light_available  # noqa: E402
from aitp_gym.loop import Loop, check_before_work, load_config  # noqa: E402
from aitp_gym.outcome_cache import OutcomeCache  # noqa: E402

# model-free (nothing is learned, so round 1 searches exactly as round 0 did), two workers, tiny budgets
TINY_HOLIST = ["env=HOList-v0", "rounds=1", "workers=2", "torch_threads=1", "prove.planner=bestfs",
               "prove.max_expansions=3", "prove.tactics_per_expansion=4", "prove.train_theorems=1",
               "prove.eval_theorems=2", "prove.outcome_cache=true", "model.policy=uniform", "model.critic=default",
               "learn.learners=[]"]


def _edges(run, r):
    """Each evaluation trace of round ``r``: theorem id → its edges as the search saw them (times aside)."""
    return {rec.header["theorem_id"]: [(e["parent"], e["tactic"], e["outcome"], e["message"], e["children"])
                                       for e in rec.edges] for rec in iter_traces(run / f"rounds/{r:03d}/eval")}


@pytest.mark.skipif(not hol_light_available(), reason="HOL Light is not installed")
@pytest.mark.expensive
def test_round_two_evaluates_from_the_cache(tmp_path, capsys):
    from aitp_gym.plot import read_scalars

    run = tmp_path / "run"
    lines = []
    config = load_config(None, TINY_HOLIST)
    check_before_work(config)
    rows = Loop(config, run, progress=False, log=lines.append).run()
    first, second = rows[0]["eval"]["outcome_cache"], rows[1]["eval"]["outcome_cache"]
    assert set(first) == {"hits", "misses", "hit_rate", "saved_s", "entries"}
    assert first["hits"] == 0 and first["misses"] > 0 and 0 < first["entries"] <= first["misses"]
    # round 1 evaluates the same theorems with the same model-free policy: what round 0 asked is in the file
    assert second["hits"] > 0 and second["hit_rate"] >= 0.9 and second["saved_s"] > 0, second
    assert _edges(run, 1) == _edges(run, 0), "a cached outcome is the prover's: the searches are the same"
    assert rows[1]["eval"]["prover_s_per_expansion"] < rows[0]["eval"]["prover_s_per_expansion"]
    train = rows[1]["train"]["outcome_cache"]
    assert train["hits"] + train["misses"] > 0 and first["entries"] <= train["entries"] <= second["entries"]
    assert second["entries"] == len(OutcomeCache(run / "outcomes.sqlite"))
    assert "brute_force" not in rows[0] and "outcome_cache" not in rows[0]
    recorded = [json.loads(x) for x in (run / "rounds.jsonl").read_text().splitlines()]
    assert recorded[1]["eval"]["outcome_cache"] == second
    scalars = read_scalars(run)
    assert [s for s, _ in scalars["eval/cache_hit_rate"]] == [0, 1] and scalars["eval/cache_hit_rate"][1][1] >= 0.9
    assert [s for s, _ in scalars["train/cache_hit_rate"]] == [1] and "eval/cache_saved_s" in scalars
    summaries = [x for x in lines if x.startswith("round ")]  # after HOL Light's start-up messages, if any
    assert "outcome cache hits eval 0%" in summaries[0] and "outcome cache hits train" in summaries[1], lines
    # aitp prove reads (and adds to) the same file: the held-out theorems again, at the loop's settings
    code = cli.main(["prove", "--env", "HOList-v0", "--theorems", str(run / "eval_theorems.txt"), "--planner",
                     "bestfs", "--budget", "3", "--tactics-per-expansion", "4", "--outcome-cache",
                     str(run / "outcomes.sqlite"), "--quiet", "--out", str(tmp_path / "prove")])
    out = capsys.readouterr().out
    assert code == 0 and "| outcome cache: " in out, out
    summary = json.loads((tmp_path / "prove" / "summary.json").read_text())
    cached = summary["outcome_cache"]
    assert cached["hits"] > 0 and cached["hits"] >= 0.9 * (cached["hits"] + cached["misses"]), cached


def test_an_env_without_an_outcome_cache_is_refused(tmp_path, capsys):
    config = load_config(None, ["prove.outcome_cache=true"])  # SR-v0
    with pytest.raises(ValueError, match=r"prove.outcome_cache: SR-v0 keeps no outcome cache \(only HOList-v0"):
        check_before_work(config)
    check_before_work(load_config(None, ["prove.outcome_cache=false"]))
    code = cli.main(["loop", "--set", "prove.outcome_cache=true", "--out", str(tmp_path / "run"),
                     str(ROOT / "configs/sr_demo.yaml")])
    assert code == 2 and "prove.outcome_cache: SR-v0 keeps no outcome cache" in capsys.readouterr().err
    assert not (tmp_path / "run").exists(), "refused before the run folder is touched"
    code = cli.main(["prove", "--env", "SR-v0", "--outcome-cache", str(tmp_path / "o.sqlite")])
    err = capsys.readouterr().err
    assert code == 2 and "--outcome-cache is for HOList-v0; SR-v0 keeps no outcome cache" in err, err
    assert not (tmp_path / "o.sqlite").exists()
    # on HOList-v0, a file that is not a cache is refused before the prover starts (the theorems come from the
    # shipped database)
    (tmp_path / "notes.txt").write_text("not a database " * 100)
    code = cli.main(["prove", "--env", "HOList-v0", "--limit", "1", "--outcome-cache", str(tmp_path / "notes.txt")])
    err = capsys.readouterr().err
    assert code == 2 and "not an outcome cache" in err, err
