"""The featurised ranker policy (``agents/ranker.py``), its learner (``agents/learners/ranker.py``), the seq2seq
policy's ``rank`` decoding, and the ranker in the loop and in ``aitp prove``. SR-v0's features are in
tests/envs/sr/test_sr_features.py."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("torch")

from doubles import ROOT  # noqa: E402
from doubles.sr import sr_goal  # noqa: E402

from aitp_gym.agents.buffers import TacticPair, ground_truth_pairs  # noqa: E402
from aitp_gym.agents.learners.ranker import RankerSettings, featurise, ranker_loss, train_ranker  # noqa: E402
from aitp_gym.agents.ranker import RankerPolicy  # noqa: E402
from aitp_gym.envs.sr.features import SRFeaturiser  # noqa: E402


def test_the_ranker_enumerates_the_backends_candidates_from_a_goals_text():
    backend, goal = sr_goal("sin(x) * x + 1", "init @0 A=x", "sin @0")
    assert RankerPolicy.tiny().candidates(goal.text) == backend.candidate_tactics(goal)


def test_an_untrained_ranker_proposes_a_seeded_random_subset():
    backend, goal = sr_goal("sin(x) + x", "init @0 A=x")
    _, other = sr_goal("cos(x) + x", "init @0 A=x", "neg @0")
    ranker = RankerPolicy.tiny()
    ranker.bind_backend(backend)
    legal = backend.candidate_tactics(goal)
    first = ranker.propose([goal, other], k=8)
    assert len(first[0]) == 8 and len({t for t, _ in first[0]}) == 8 and {t for t, _ in first[0]} <= set(legal)
    assert all(math.isclose(lp, -math.log(len(legal)), rel_tol=1e-5) for _, lp in first[0])  # uniform
    assert [t for t, _ in first[0]] != legal[:8], "ties are broken at random, not in enumeration order"
    assert ranker.propose([goal, other], k=8) == first, "the draw is seeded by the goal"
    assert ranker.propose([goal], k=len(legal) + 5)[0].__len__() == len(legal)


def test_training_on_generator_proofs_ranks_held_out_proof_steps_far_above_chance(tmp_path):
    ranker = RankerPolicy.tiny()
    valid = featurise(ranker, ground_truth_pairs("SR-v0", "valid"))
    chance = sum(1 / ex.ids.shape[0] for ex in valid) / len(valid)
    result = train_ranker(ranker, ground_truth_pairs("SR-v0", "train", limit=600),
                          RankerSettings(steps=120, batch_size=32), progress=False)
    assert result.final_loss < result.first_loss
    import torch

    with torch.no_grad():
        _, metrics = ranker_loss(ranker, valid)
    print(f"held-out top-1 {metrics['top1']:.1%} (chance {chance:.1%})")
    assert metrics["top1"] > 2.5 * chance
    # a checkpoint proposes exactly what the model did
    ranker.save_pretrained(tmp_path / "r")
    loaded = RankerPolicy.from_pretrained(tmp_path / "r")
    backend, goal = sr_goal("x * 2 + 3", "init @0 A=x", "mul @0 B=2")
    for r in (ranker, loaded):
        r.bind_backend(backend)
    assert loaded.propose([goal], 8) == ranker.propose([goal], 8)
    with pytest.raises(FileNotFoundError, match="not a ranker checkpoint"):
        RankerPolicy.from_pretrained(tmp_path)


def test_pairs_whose_tactic_is_not_enumerated_still_train():
    ranker = RankerPolicy.tiny()
    _, goal = sr_goal("x + 7", "init @0 A=x")
    examples = featurise(ranker, [TacticPair(goal.text, "add @0 B=7"), TacticPair("not a goal", "x")])
    assert examples[0].ids.shape[0] == len(SRFeaturiser().candidates(goal.text)) + 1
    # a goal whose candidates cannot be rebuilt is ranked against the buffer's other tactics
    assert examples[1].ids.shape[0] == 2 and examples[1].positive == 1
    assert featurise(ranker, [TacticPair("not a goal", "x")]) == []  # nothing to rank against: dropped
    with pytest.raises(ValueError, match="has a tactic to rank it against"):
        train_ranker(ranker, [TacticPair("not a goal", "x")], RankerSettings(steps=1), progress=False)


def test_the_text_featuriser_learns_from_a_buffers_own_tactics():
    """HOList-like goals: no enumerator from text, so each proof tactic is ranked against the others seen."""
    pairs = [TacticPair(f"|- {a} + {b} = {b} + {a}", "ARITH_TAC") for a in "mn" for b in "pq"]
    pairs += [TacticPair(f"|- !{v}. {v} IN {{}} <=> F", "REWRITE_TAC [NOT_IN_EMPTY]") for v in "xyz"]
    pairs += [TacticPair(f"|- {a} /\\ {b}", "CONJ_TAC") for a in "PQ" for b in "RS"]
    ranker = RankerPolicy.tiny(featuriser="text")
    train_ranker(ranker, pairs, RankerSettings(steps=40, batch_size=8), progress=False)
    import torch

    tactics = ["ARITH_TAC", "REWRITE_TAC [NOT_IN_EMPTY]", "CONJ_TAC"]
    with torch.no_grad():
        for goal, best in (("|- k + 1 = 1 + k", "ARITH_TAC"), ("|- A /\\ B", "CONJ_TAC")):
            scores = ranker.scores(goal, tactics)
            assert tactics[int(scores.argmax())] == best, (goal, scores)


def test_the_text_featuriser_needs_a_backend_to_enumerate():
    ranker = RankerPolicy.tiny(featuriser="text")
    backend, goal = sr_goal("x + 1", "init @0 A=x")
    with pytest.raises(ValueError, match="bind_backend"):
        ranker.propose([goal], 4)
    ranker.bind_backend(backend)
    assert {t for t, _ in ranker.propose([goal], 4)[0]} <= set(backend.candidate_tactics(goal))
    with pytest.raises(ValueError, match="unknown featuriser"):
        RankerPolicy.tiny(featuriser="nope")


def test_seq2seq_rank_decoding_proposes_only_enumerated_tactics():
    from aitp_gym.agents.seq2seq import GenerationSettings, Seq2SeqPolicy

    policy = Seq2SeqPolicy.tiny(settings=GenerationSettings(method="rank", goal_view="sr"))
    backend, goal = sr_goal("sin(x) + 2", "init @0 A=x")
    with pytest.raises(ValueError, match="bind_backend"):
        policy.propose([goal], 4)
    policy.bind_backend(backend)
    (proposals,) = policy.propose([goal], 6)
    legal = backend.candidate_tactics(goal)
    assert len(proposals) == 6 and {t for t, _ in proposals} <= set(legal)
    logps = [lp for _, lp in proposals]
    assert logps == sorted(logps, reverse=True) and sum(math.exp(lp) for lp in logps) <= 1 + 1e-6
    # the scores are the model's sequence log-probabilities, renormalised over the candidate set
    import torch

    raw = policy.sequence_logprobs([goal] * len(legal), legal)
    best = legal[int(torch.argmax(raw))]
    assert proposals[0][0] == best


def test_the_ranker_in_the_loop(tmp_path):
    from aitp_gym.loop import Loop, load_config

    tiny = ["prove.train_theorems=8", "prove.eval_theorems=3", "prove.max_expansions=6",
            "prove.train_max_expansions=12", "learn.steps=5", "workers=1", "prove.train_difficulty_max=1"]
    config = load_config(ROOT / "configs/sr_demo.yaml", [*tiny, "rounds=1"])
    rows = Loop(config, tmp_path / "run", progress=False, log=lambda m: None).run()
    assert rows[0]["models"]["policy"] == "model-free" and rows[1]["models"]["policy"] == "model"
    assert rows[1]["train"]["proved"] > 0 and set(rows[1]["losses"]) == {"seq2seq"}
    assert json.loads((tmp_path / "run/rounds/001/policy/aitp_model.json").read_text())["kind"] == "ranker"
    loaded = RankerPolicy.from_pretrained(tmp_path / "run/rounds/001/policy")
    assert float(loaded.weights.detach().abs().sum()) > 0, "the ranker was trained and saved"
    for bad, match in ((["learn.learners=[premise]"], "premise cannot train a ranker policy"),
                       (["model.policy=seq2seq", "learn.learners=[ranker]"], "ranker cannot train a seq2seq policy"),
                       (["model.policy=uniform"], "but model.policy is uniform")):
        with pytest.raises(ValueError, match=match):
            load_config(ROOT / "configs/sr_demo.yaml", bad)


def test_aitp_prove_with_a_trained_policy_checkpoint(tmp_path):
    import json
    import subprocess
    import sys

    ranker = RankerPolicy.tiny()
    train_ranker(ranker, ground_truth_pairs("SR-v0", "train", limit=300), RankerSettings(steps=30), progress=False)
    ranker.save_pretrained(tmp_path / "policy")
    cmd = [sys.executable, "-m", "aitp_gym.cli", "prove", "--env", "SR-v0", "--planner", "bestfs", "--limit", "3",
           "--budget", "20", "--tactics-per-expansion", "8", "--quiet"]
    out = subprocess.run([*cmd, "--policy", str(tmp_path / "policy"), "--out", str(tmp_path / "run")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["policy"] == "ranker" and summary["attempted"] == 3
    out = subprocess.run([*cmd, "--policy", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert out.returncode == 2 and "no such checkpoint folder" in out.stderr and "Traceback" not in out.stderr


def test_fast_scoring_equals_the_differentiable_one_and_follows_training():
    """Proposals score from a NumPy copy of the weights: the same scores as the autograd path, and a training step
    is seen at once (the copy is rebuilt when the weights change)."""
    import torch

    ranker = RankerPolicy.tiny()
    backend, goal = sr_goal("sin(x) * x + 1", "init @0 A=x")
    tactics = ranker.candidates(goal)
    ids = ranker.feature_ids(goal.text, tactics)
    train_ranker(ranker, ground_truth_pairs("SR-v0", "train", limit=60), RankerSettings(steps=5), progress=False)
    with torch.no_grad():
        fast = ranker.score_ids(ids)
    slow = ranker.score_ids(ids)  # grad enabled: embedding_bag
    assert slow.requires_grad and torch.allclose(fast, slow.detach(), atol=1e-5) and float(fast.abs().sum()) > 0
    train_ranker(ranker, ground_truth_pairs("SR-v0", "train", limit=60), RankerSettings(steps=5, lr=1.0),
                 progress=False)
    with torch.no_grad():
        assert not torch.allclose(ranker.score_ids(ids), fast), "the copy follows the weights"
