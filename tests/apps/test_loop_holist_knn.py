"""``configs/holist_knn.yaml`` at a tiny size on real HOL Light: the k-NN policy pre-trained on the human proof logs
(built on first use and cached, about a minute, once per machine), proving before any round; the knn learner adding
the round's proofs to its memory; the model-free reference at the same tactics per expansion; the outcome cache."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from doubles import ROOT  # noqa: E402

from aitp_gym.envs.holist.prover import hol_light_available  # noqa: E402
from aitp_gym.loop import Loop, check_before_work, load_config  # noqa: E402

TINY = ["rounds=1", "workers=1", "prove.max_expansions=8", "prove.train_theorems=8", "prove.train_pool_size=8",
        "prove.eval_theorems=4", "prove.brute_force_reference=false"]


@pytest.mark.skipif(not hol_light_available(), reason="HOL Light is not installed")
@pytest.mark.expensive
def test_the_knn_config_pretrains_on_the_human_logs_and_remembers_the_rounds_proofs(tmp_path):
    from aitp_gym.agents.holist_knn import TacticKNNPolicy
    from aitp_gym.agents.models import make_model
    from aitp_gym.envs.holist.proof_logs import human_pairs
    from aitp_gym.trace import iter_traces

    config = load_config(ROOT / "configs/holist_knn.yaml", TINY)
    check_before_work(config)
    run = tmp_path / "run"
    rows = Loop(config, run, progress=False, log=lambda m: None).run()
    # round 0 proves with the pre-trained memory (every human step), not the model-free policy
    assert rows[0]["models"]["policy"] == "model" and rows[0]["pretrain_loss"] > 0.9
    assert {t.header["policy"] for t in iter_traces(run / "rounds/000/eval")} == {"knn"}
    assert {t.header["policy"] for t in iter_traces(run / "rounds/000/model-free")} == {"uniform"}
    assert rows[0]["model_free"]["attempted"] == rows[0]["eval"]["attempted"] == 4
    round0 = make_model(str(run / "rounds/000/policy"), "policy")
    assert isinstance(round0, TacticKNNPolicy) and len(round0) > 0.95 * len(set(human_pairs()))
    # round 1: its proofs join the memory (each proved goal's first tactic)
    from aitp_gym.agents.buffers import tactic_pairs
    from aitp_gym.envs.holist.grammar import parse_tactic

    round1 = make_model(str(run / "rounds/001/policy"), "policy")
    found = {(p.goal, str(parse_tactic(p.tactic))) for p in tactic_pairs(iter_traces(run / "rounds/001/train"))}
    assert found, "the round proved something to learn from"
    assert found <= set(zip(round1.goals, round1.tactics, strict=True)) and "knn" in rows[1]["losses"]
    assert len(round1) >= len(round0)  # train theorems' human steps may be among them already
    assert rows[1]["eval"]["outcome_cache"]["hits"] > 0  # round 0's evaluation asked most of it already
