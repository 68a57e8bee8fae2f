"""ILQL on the featurised ranker (``agents/learners/ilql_ranker.py``): the heads on ``RankerPolicy``
(``RankerILQLHeads``), their checkpoints, the advantage-perturbed proposals, what the learner learns on constructed
transitions, and the heads through two rounds of the loop."""

from __future__ import annotations

import json
import random

import pytest

pytest.importorskip("torch")

from doubles import ROOT  # noqa: E402
from doubles.sr import sr_goal  # noqa: E402

from aitp_gym import iter_traces  # noqa: E402
from aitp_gym.agents.buffers import Transition, ground_truth_pairs  # noqa: E402
from aitp_gym.agents.learners.ilql import ILQLSettings, train_ilql  # noqa: E402
from aitp_gym.agents.learners.ilql_ranker import Featurised, ilql_ranker_loss, train_ilql_ranker  # noqa: E402
from aitp_gym.agents.ranker import HEADS_FILE, RankerILQLHeads, RankerPolicy, torch  # noqa: E402
from aitp_gym.agents.training import MemoryLogger  # noqa: E402


def _good_and_bad(limit: int = 40, seed: int = 0) -> list[tuple[str, str, str]]:
    """(goal, the generator's tactic, another legal tactic) at the goals of ``limit`` SR-v0 generator proofs."""
    ranker, rng = RankerPolicy.tiny(), random.Random(seed)
    out = []
    for pair in ground_truth_pairs("SR-v0", "train", limit=limit):
        bad = rng.choice([t for t in ranker.candidates(pair.goal) if t != pair.tactic])
        out.append((pair.goal, pair.tactic, bad))
    return out


def _tried_both(cases, good_reward: float = 1.0) -> list[Transition]:
    """The search tried both tactics at every goal: the good one closed it, the bad one was an error."""
    return ([Transition(goal, good, good_reward, (), True, -3.0) for goal, good, _ in cases]
            + [Transition(goal, bad, -0.1, (), True, -3.0) for goal, _, bad in cases])


def _q(policy: RankerPolicy, goal: str, tactics: list[str]) -> list[float]:
    heads = policy.ilql_heads
    with torch.no_grad():
        return heads.value(policy.feature_ids(goal, tactics), heads.q1, heads.q2).min(1).values.tolist()


def _rank(proposals: list[tuple[str, float]], tactic: str) -> int:
    return [t for t, _ in proposals].index(tactic)


def test_ilql_prefers_the_tactic_that_paid_where_both_were_tried():
    """At each goal the search tried the generator's tactic (closed the goal) and another (an error) equally often,
    so behaviour cloning alone cannot tell them apart; the Q heads can, and the perturbed proposals follow them."""
    cases = _good_and_bad()
    policy, logger = RankerPolicy.tiny(), MemoryLogger()
    assert policy.ilql_heads is None and policy.settings.ilql_beta == 0.0
    settings = ILQLSettings(steps=60, batch_size=16, lr=0.05, log_every=20, beta=4.0)
    result = train_ilql(policy, _tried_both(cases), settings, logger, progress=False)
    assert policy.ilql_heads is not None and policy.settings.ilql_beta == 4.0, "train_ilql hands the ranker over"
    assert {f"losses/ilql/{k}" for k in ("q", "v", "cql", "bc", "mean_v")} <= set(logger.values)
    q_loss = [v for _, v in logger.values["losses/ilql/q"]]
    assert q_loss[-1] < 0.5 * q_loss[0] and result.final_loss < result.first_loss, q_loss
    heads = policy.ilql_heads
    assert not heads.target_q1.requires_grad and not torch.equal(heads.target_q1, RankerILQLHeads.for_policy(
        policy).target_q1), "Polyak updates move the targets"

    wins = sum(q_good > q_bad for goal, good, bad in cases for q_good, q_bad in [_q(policy, goal, [good, bad])])
    assert wins >= 0.9 * len(cases), (wins, len(cases))
    goal, good, bad = cases[0]
    advantage = heads.advantages(policy, goal, [good, bad])
    v = float(heads.value(policy.goal_ids(goal)[None], heads.v).detach())
    assert advantage.tolist() == pytest.approx([q - v for q in _q(policy, goal, [good, bad])], abs=1e-5)
    first = {"perturbed": 0, "plain": 0}
    gain = 0.0
    for goal, good, _ in cases:
        perturbed = policy.propose([goal], 500)[0]
        with policy.perturbed(beta=0.0):
            plain = policy.propose([goal], 500)[0]
        first["perturbed"] += _rank(perturbed, good) == 0
        first["plain"] += _rank(plain, good) == 0
        gain += dict(perturbed)[good] - dict(plain)[good]
    print(first, gain / len(cases))
    assert first["perturbed"] >= first["plain"] + 0.1 * len(cases), first
    assert gain / len(cases) > 0.3, "the good tactic's log-probability rises with the advantage"


def test_values_flow_back_from_the_next_goals():
    """goal --a--> B and goal --b--> C, no reward yet; B's tactic then closes it (+1), C's fails (−1). Only
    V(B) > V(C), learnt from B's and C's own transitions, can make Q(goal, a) > Q(goal, b)."""
    cases = _good_and_bad(limit=12, seed=1)
    transitions = []
    for (goal, a, b), (then_b, close, _), (then_c, _, fail) in zip(cases[0::3], cases[1::3], cases[2::3],
                                                                  strict=True):
        transitions += [Transition(goal, a, 0.0, (then_b,), False, -3.0),
                        Transition(goal, b, 0.0, (then_c,), False, -3.0),
                        Transition(then_b, close, 1.0, (), True, -3.0), Transition(then_c, fail, -1.0, (), True, -3.0)]
    policy = RankerPolicy.tiny()
    train_ilql_ranker(policy, transitions, ILQLSettings(steps=150, batch_size=8, lr=0.05, polyak=0.05, tau=0.7),
                      progress=False)
    margins = [q_a - q_b for goal, a, b in cases[0::3] for q_a, q_b in [_q(policy, goal, [a, b])]]
    # V is linear in the goal's own features, which some goals share: most chains, not all, are told apart
    assert sum(m > 0 for m in margins) >= 0.8 * len(margins) and sum(margins) / len(margins) > 0.5, margins


def test_the_loss_scores_every_candidate_once_per_goal():
    """A batch of several tactics at one goal: one candidate set, with the tactics the enumeration lacks added."""
    _, goal = sr_goal("x + 7", "init @0 A=x")
    policy = RankerPolicy.tiny()
    policy.ilql_heads = RankerILQLHeads.for_policy(policy)
    legal = policy.candidates(goal.text)
    batch = [Transition(goal.text, tactic, reward, (), True, -1.0)
             for tactic, reward in ((legal[0], 1.0), (legal[1], -0.1), ("not a tactic", -0.1))]
    featurised = Featurised(policy, batch)
    loss, metrics = ilql_ranker_loss(policy, policy.ilql_heads, featurised, batch, ILQLSettings())
    (entry,) = featurised.goals.values()
    assert entry.tactics == [*legal, "not a tactic"] and entry.ids.shape[0] == len(legal) + 1
    assert torch.isfinite(loss) and loss.requires_grad
    # an untrained ranker is uniform over the candidates: BC is log(candidates)
    assert metrics["bc"] == pytest.approx(float(torch.log(torch.tensor(len(legal) + 1.0))), rel=1e-4)

    # a featuriser that cannot enumerate: the tactics tried at the goal, then others from the buffer
    text = RankerPolicy.tiny(featuriser="text")
    tried = [Transition("|- m + n = n + m", t, -0.1, (), True, -1.0) for t in ("ARITH_TAC", "CONJ_TAC")]
    buffer = [*tried, Transition("|- P /\\ Q", "REWRITE_TAC []", -0.1, (), True, -1.0)]
    entry = Featurised(text, buffer).goal(tried[0].goal, "ARITH_TAC")
    assert entry.tactics == ["ARITH_TAC", "CONJ_TAC", "REWRITE_TAC []"]


def test_heads_are_saved_loaded_and_copied_and_old_checkpoints_still_load(tmp_path):
    policy = RankerPolicy.tiny()
    train_ilql(policy, _tried_both(_good_and_bad(limit=10)), ILQLSettings(steps=5, lr=0.05, beta=2.5), progress=False)
    policy.save_pretrained(tmp_path / "with")
    assert (tmp_path / "with" / HEADS_FILE).is_file()
    again = RankerPolicy.from_pretrained(tmp_path / "with")
    assert again.settings.ilql_beta == 2.5 and again.ilql_heads is not None
    saved, loaded = policy.ilql_heads.state_dict(), again.ilql_heads.state_dict()
    assert saved.keys() == loaded.keys() == {"q1", "q2", "v", "target_q1", "target_q2"}
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)
    backend, goal = sr_goal("x * 2 + 3", "init @0 A=x", "mul @0 B=2")
    for p in (policy, again):
        p.bind_backend(backend)
    assert again.propose([goal], 8) == policy.propose([goal], 8)
    with again.perturbed(beta=0.0):
        assert again.propose([goal], 8) != policy.propose([goal], 8), "the heads change the log-probabilities"
    # the fast NumPy scoring of proposals is the differentiable one, and sees the heads change
    tactics = policy.candidates(goal)
    heads = policy.ilql_heads
    with torch.no_grad():
        q = heads.value(policy.feature_ids(goal.text, tactics), heads.q1, heads.q2).min(1).values
        exact = policy.scores(goal.text, tactics) + 2.5 * q
        assert torch.allclose(policy.proposal_scores(goal.text, tactics).float(), exact, atol=1e-4)
        heads.q1.sub_(1.0), heads.q2.sub_(1.0)  # min(Q1, Q2) falls by SCALE × the number of features
        moved = policy.proposal_scores(goal.text, tactics).float() - exact
        width = (policy.feature_ids(goal.text, tactics) >= 0).sum(1)
        assert torch.allclose(moved, -2.5 * RankerILQLHeads.SCALE * width, atol=1e-3)
        heads.q1.add_(1.0), heads.q2.add_(1.0)
    frozen = policy.frozen_copy()
    assert frozen.propose([goal], 8) == policy.propose([goal], 8)
    assert not any(p.requires_grad for p in [frozen.weights, *frozen.ilql_heads.parameters()])

    # a checkpoint written before the heads existed: no heads file, no ilql_beta in its settings
    RankerPolicy.tiny().save_pretrained(tmp_path / "old")
    model_file = tmp_path / "old" / "aitp_model.json"
    saved_json = json.loads(model_file.read_text())
    del saved_json["settings"]["ilql_beta"]
    model_file.write_text(json.dumps(saved_json))
    old = RankerPolicy.from_pretrained(tmp_path / "old")
    assert old.ilql_heads is None and old.settings.ilql_beta == 0.0
    assert not (tmp_path / "old" / HEADS_FILE).exists()


def test_ilql_on_the_ranker_through_two_loop_rounds(tmp_path):
    """Round 1 trains the ranker and makes its heads, round 2 trains the same heads on; every round's searches
    propose with the policy as trained (its heads included)."""
    from aitp_gym.loop import Loop, load_config

    tiny = ["prove.train_theorems=8", "prove.eval_theorems=3", "prove.max_expansions=6",
            "prove.train_max_expansions=12", "learn.steps=5", "workers=1", "prove.train_difficulty_max=1",
            "prove.tactics_per_expansion=8", "prove.brute_force_reference=false"]
    config = load_config(ROOT / "configs/sr_demo.yaml", [*tiny, "learn.learners=[seq2seq,ilql]", "rounds=2"])
    rows = Loop(config, tmp_path / "run", progress=False, log=lambda m: None).run()
    assert [set(row["losses"]) for row in rows[1:]] == [{"seq2seq", "ilql"}] * 2, rows
    rounds = tmp_path / "run/rounds"
    first, second = (RankerPolicy.from_pretrained(rounds / f"{r:03d}/policy") for r in (1, 2))
    assert first.settings.ilql_beta == second.settings.ilql_beta == ILQLSettings().beta
    assert float(first.ilql_heads.v.detach().abs().sum()) > 0, "round 1 trained the heads"

    # round 2 trained round 1's heads on: the weights its batches never touched are still round 1's, not a fresh
    # start's, and the others moved
    start = RankerILQLHeads.for_policy(first).q1
    learnt = first.ilql_heads.q1 != start
    kept = learnt & (second.ilql_heads.q1 == first.ilql_heads.q1)
    assert int(learnt.sum()) > 0 and int(kept.sum()) > 0 and not torch.equal(second.ilql_heads.q1, first.ilql_heads.q1)

    # round 2's training searches proposed with round 1's policy as trained: the log-probabilities in their
    # traces are the perturbed ones, which differ from the heads-free ranker's
    checked = 0
    for record in iter_traces(rounds / "002/train"):
        root = record.node_texts()[0]
        recorded = {e["tactic"]: e["logprob"] for e in record.edges if e["parent"] == 0}
        proposed = dict(first.propose([root])[0])
        with first.perturbed(beta=0.0):
            plain = dict(first.propose([root])[0])
        assert all(recorded[t] == pytest.approx(proposed[t], abs=1e-4) for t in recorded), (recorded, proposed)
        checked += any(recorded[t] != pytest.approx(plain.get(t, 0.0), abs=1e-3) for t in recorded)
    assert checked > 0
