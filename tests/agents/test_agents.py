"""Models, buffers and learners on real SR-v0 traces that the tests write with planners. Tiny models only."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from aitp_gym import ProofAttempt, iter_traces  # noqa: E402
from aitp_gym.agents import buffers as B  # noqa: E402
from aitp_gym.agents.critic import ValueCritic  # noqa: E402
from aitp_gym.agents.learners.critic import CriticSettings, train_critic  # noqa: E402
from aitp_gym.agents.learners.dpo import DPOSettings, train_dpo  # noqa: E402
from aitp_gym.agents.learners.ilql import HEADS_FILE, ILQLSettings, train_ilql  # noqa: E402
from aitp_gym.agents.learners.seq2seq import Seq2SeqSettings, train_seq2seq  # noqa: E402
from aitp_gym.agents.seq2seq import GenerationSettings, Seq2SeqPolicy, torch  # noqa: E402
from aitp_gym.agents.text import goal_view, model_input, truncate_goal  # noqa: E402
from aitp_gym.agents.training import MemoryLogger  # noqa: E402
from aitp_gym.envs.sr.backend import SRBackend  # noqa: E402
from aitp_gym.search import PLANNERS, BestFS, make_planner  # noqa: E402

SMALL = dict(steps=25, batch_size=8, lr=3e-3, log_every=5)


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """Traces of BestFS and HTPS on easy SR-v0 validation theorems (some proved, some not)."""
    out = tmp_path_factory.mktemp("traces")
    backend = SRBackend()
    theorems = [t for t in backend.theorems("valid") if t.data["difficulty"] <= 2][:8]
    for i, theorem in enumerate(theorems):
        for name in ("bestfs", "htps"):
            make_planner(name, max_expansions=25).search(ProofAttempt(backend, theorem),
                                                         trace_path=out / f"{i:02d}-{name}.json.gz")
    return list(iter_traces(out))


def _falls(result) -> bool:
    head, tail = result.losses[:5], result.losses[-5:]
    return sum(tail) / len(tail) < 0.8 * sum(head) / len(head)


# ---------------------------------------------------------------------------------------------- buffers
def test_buffers_from_real_traces(traces):
    assert any(r.result["proved"] for r in traces) and not all(r.result["proved"] for r in traces)
    buffers, stats = B.build_all(traces)
    assert stats.traces == len(traces) and all(stats.counts[k] > 0 for k in ("seq2seq", "dpo", "ilql", "critic"))
    proved_goals = {n["text"] for r in traces for n in r.nodes if n["status"] == "proved"}
    assert {p.goal for p in buffers["seq2seq"]} == proved_goals
    for pair in buffers["dpo"]:
        assert pair.chosen != pair.rejected and math.isfinite(pair.chosen_logprob)
    rewards = {round(t.reward, 3) for t in buffers["ilql"]}
    assert {-0.1, 0.1} <= rewards and any(r >= 10 for r in rewards), rewards
    assert all(0.0 <= t.target <= 1.0 for t in buffers["critic"])
    # the same buffers come from the one-at-a-time builders
    assert buffers["seq2seq"] == B.tactic_pairs(traces) and buffers["dpo"] == B.preference_pairs(traces)


def test_minimal_proof_pairs_on_a_hand_made_trace():
    """root --a--> x --c--> []  and  root --b--> [] : the root's minimal proof is b (1 tactic, not 2)."""
    from aitp_gym.trace import TraceRecord

    node = lambda i, text, status: {"id": i, "key": text, "text": text, "status": status}  # noqa: E731
    edge = lambda i, parent, tactic, children, outcome="ok", lp=-1.0: {  # noqa: E731
        "id": i, "parent": parent, "tactic": tactic, "logprob": lp, "outcome": outcome, "children": children}
    record = TraceRecord({}, [node(0, "root", "proved"), node(1, "x", "proved")],
                         [edge(0, 0, "a", [1]), edge(1, 1, "c", [], "proved"), edge(2, 0, "b", [], "proved"),
                          edge(3, 0, "bad", [], "error", -0.5)], {"proved": True})
    assert B.tactic_pairs([record]) == [B.TacticPair("root", "b"), B.TacticPair("x", "c")]
    assert B.preference_pairs([record]) == [B.PreferencePair("root", "b", "bad", -1.0, -0.5)]
    rewards = {t.tactic: t.reward for t in B.transitions([record])}
    assert rewards == {"a": 0.1, "c": 1.0, "b": 11.0, "bad": -0.1}


def test_ground_truth_pairs_replay():
    pairs = B.ground_truth_pairs("SR-v0", "valid", limit=10)
    assert len(pairs) >= 10 and pairs[0].goal.startswith("f(x) = 0")
    backend = SRBackend()
    theorem = backend.theorems("valid")[0]
    assert [p.tactic for p in pairs[: len(theorem.data["proof"])]] == list(theorem.data["proof"])


# ---------------------------------------------------------------------------------------------- models
def test_truncation_keeps_head_and_tail():
    text = "H" * 300 + "⊢ conclusion"
    cut = truncate_goal(text, 100)
    assert len(cut.encode()) <= 100 and cut.startswith("HHH") and cut.endswith("conclusion") and " … " in cut
    assert truncate_goal("short", 100) == "short"
    assert len(truncate_goal("é" * 200, 51).encode()) <= 51  # never splits a character


def test_sr_goal_view_is_compact_and_keeps_what_the_tactic_depends_on():
    backend = SRBackend()
    theorem = backend.theorems("valid")[3]
    goal = backend.apply(backend.start(theorem), "init @0 A=x").subgoals[0]
    view = goal_view(goal.text, "sr")
    expression, y_row, residual_row, ratio_row = view.split(" | ")
    assert expression == "x"
    y = [float(v) for v in y_row.removeprefix("y: ").split(" ")]
    residual = [float(v) for v in residual_row.removeprefix("y-ŷ: ").split(" ")]
    ratio = [float(v) for v in ratio_row.removeprefix("y/ŷ: ").split(" ")]
    assert len(y) == len(residual) == len(ratio) == 8
    target = theorem.data["y"]  # points 0 and 19 of 20 are the first and last shown, at 2 significant digits
    assert y[0] == pytest.approx(target[0], rel=0.05) and y[-1] == pytest.approx(target[-1], rel=0.05)
    x0, x1 = theorem.data["x"][0], theorem.data["x"][-1]  # ŷ = x here
    assert residual[0] == pytest.approx(target[0] - x0, rel=0.05, abs=0.01)
    assert ratio[-1] == pytest.approx(target[-1] / x1, rel=0.05, abs=0.01)
    assert len(view.encode()) < 0.7 * len(goal.text.encode())
    assert goal_view(goal.text, "full") == goal.text
    assert goal_view("⊢ a = b", "sr") == "⊢ a = b"  # not an SR-v0 goal: unchanged
    assert len(model_input(goal.text, "sr", 20).encode()) <= 20
    with pytest.raises(ValueError, match="views: full, sr"):
        goal_view("x", "compact")
    with pytest.raises(ValueError, match="views"):
        GenerationSettings(goal_view="compact")


def test_goal_view_is_saved_with_the_models(tmp_path):
    policy = Seq2SeqPolicy.tiny(settings=GenerationSettings(goal_view="sr"))
    critic = ValueCritic.tiny(goal_view="sr")
    policy.save_pretrained(tmp_path / "policy")
    critic.save_pretrained(tmp_path / "critic")
    assert Seq2SeqPolicy.from_pretrained(tmp_path / "policy").settings.goal_view == "sr"
    assert ValueCritic.from_pretrained(tmp_path / "critic").goal_view == "sr"
    goal = B.ground_truth_pairs("SR-v0", "valid", limit=2)[1].goal
    ids = policy.encode_goals([goal]).input_ids
    assert ids.shape[1] == len(goal_view(goal, "sr").encode()) + 1  # bytes + EOS: the model reads the view


def test_policy_proposes_ranked_distinct_candidates_with_exact_logprobs():
    policy = Seq2SeqPolicy.tiny()
    pairs = B.ground_truth_pairs("SR-v0", "train", limit=40)
    train_seq2seq(policy, pairs, Seq2SeqSettings(**{**SMALL, "steps": 40}), progress=False)
    goals = [p.goal for p in pairs[:3]]
    proposals = policy.propose(goals, 4)
    assert len(proposals) == 3 and all(proposals)
    for goal, cands in zip(goals, proposals, strict=True):
        tactics = [t for t, _ in cands]
        scores = [s for _, s in cands]
        assert len(set(tactics)) == len(tactics) and scores == sorted(scores, reverse=True)
        exact = policy.sequence_logprobs([goal] * len(tactics), tactics).tolist()
        assert exact == pytest.approx(scores, abs=1e-3)
    sampled = Seq2SeqPolicy(policy.model, policy.tokenizer, GenerationSettings(method="sample")).propose(goals, 4)
    assert all(sampled)


def test_policy_and_critic_checkpoints_round_trip(tmp_path):
    policy, critic = Seq2SeqPolicy.tiny(seed=1), ValueCritic.tiny(seed=1)
    train_seq2seq(policy, B.ground_truth_pairs("SR-v0", "train", limit=20), Seq2SeqSettings(**SMALL), progress=False)
    goals = [p.goal for p in B.ground_truth_pairs("SR-v0", "valid", limit=4)]
    policy.save_pretrained(tmp_path / "policy")
    critic.save_pretrained(tmp_path / "critic")
    assert Seq2SeqPolicy.from_pretrained(tmp_path / "policy").propose(goals, 4) == policy.propose(goals, 4)
    assert ValueCritic.from_pretrained(tmp_path / "critic").value(goals) == critic.value(goals)
    for folder, kind in (("policy", "seq2seq"), ("critic", "value")):  # one file says what a checkpoint holds
        saved = json.loads((tmp_path / folder / "aitp_model.json").read_text())
        assert saved["kind"] == kind and saved["settings"]["max_goal_bytes"] == 512
    # a checkpoint written before aitp_model.json (its own settings file) still loads
    (tmp_path / "policy" / "aitp_model.json").rename(tmp_path / "policy" / "aitp_policy.json")
    (tmp_path / "policy" / "aitp_policy.json").write_text(json.dumps(saved["settings"] | {"num_candidates": 3}))
    old = Seq2SeqPolicy.from_pretrained(tmp_path / "policy")
    assert old.settings.num_candidates == 3 and old.propose(goals, 4) == policy.propose(goals, 4)


def test_bad_generation_settings_are_clear():
    with pytest.raises(ValueError, match="beam"):
        GenerationSettings(method="greedy")
    with pytest.raises(FileNotFoundError, match="not a critic checkpoint"):
        ValueCritic.from_pretrained("/nonexistent")


# ---------------------------------------------------------------------------------------------- learners
def test_seq2seq_loss_falls(traces):
    logger = MemoryLogger()
    result = train_seq2seq(Seq2SeqPolicy.tiny(), B.tactic_pairs(traces), Seq2SeqSettings(**SMALL), logger,
                           progress=False)
    assert _falls(result), result.losses
    assert [s for s, _ in logger.values["losses/seq2seq/loss"]] == [5, 10, 15, 20, 25]


def test_dpo_loss_falls(traces):
    pairs = B.preference_pairs(traces)
    for reference in ("frozen", "recorded"):
        logger = MemoryLogger()
        result = train_dpo(Seq2SeqPolicy.tiny(), pairs, DPOSettings(**SMALL, reference=reference), logger,
                           progress=False)
        assert _falls(result), (reference, result.losses)
        assert logger.values["losses/dpo/accuracy"][-1][1] > 0.5


def test_dpo_trains_the_ranker_through_the_trainable_policy_interface(traces):
    """DPO is not tied to the generator: on the ranker (log-softmax over the goal's candidates) the loss falls, the
    chosen tactics gain against the rejected ones, and the frozen reference does not move."""
    from aitp_gym.agents.models import TrainablePolicy
    from aitp_gym.agents.ranker import RankerPolicy

    pairs = B.preference_pairs(traces)
    ranker = RankerPolicy.tiny()
    assert isinstance(ranker, TrainablePolicy) and isinstance(Seq2SeqPolicy.tiny(), TrainablePolicy)
    goals, chosen, rejected = [p.goal for p in pairs], [p.chosen for p in pairs], [p.rejected for p in pairs]
    with torch.no_grad():
        before = (ranker.sequence_logprobs(goals, chosen) - ranker.sequence_logprobs(goals, rejected)).mean()
    reference = ranker.frozen_copy()
    result = train_dpo(ranker, pairs, DPOSettings(**{**SMALL, "lr": 0.05}), progress=False)
    assert _falls(result), result.losses
    with torch.no_grad():
        after = (ranker.sequence_logprobs(goals, chosen) - ranker.sequence_logprobs(goals, rejected)).mean()
    assert after > before + 0.5, (float(before), float(after))
    assert float(reference.weights.abs().sum()) == 0 and not reference.weights.requires_grad


def test_critic_loss_falls(traces):
    result = train_critic(ValueCritic.tiny(), B.value_targets(traces), CriticSettings(**SMALL), progress=False)
    assert _falls(result), result.losses


def test_ilql_loss_falls_and_its_heads_shape_the_policy(traces):
    policy = Seq2SeqPolicy.tiny()
    logger = MemoryLogger()
    assert policy.ilql_heads is None
    result = train_ilql(policy, B.transitions(traces), ILQLSettings(**SMALL, beta=50.0), logger, progress=False)
    assert _falls(result), result.losses
    assert {"losses/ilql/q", "losses/ilql/v", "losses/ilql/cql", "losses/ilql/bc"} <= set(logger.values)
    assert policy.ilql_heads is not None and policy.settings.ilql_beta == 50.0, "the heads belong to the policy"
    assert not any(p.requires_grad for p in policy.ilql_heads.target_q1.parameters())
    goals = [traces[0].nodes[0]["text"]]
    perturbed = policy.propose(goals, 4)  # the policy proposes with its heads
    with policy.perturbed(beta=0.0):
        plain = policy.propose(goals, 4)
    assert perturbed != plain
    assert policy.propose(goals, 4) == perturbed, "the lm head is restored after the block"
    heads = policy.ilql_heads
    train_ilql(policy, B.transitions(traces)[:8], ILQLSettings(**{**SMALL, "steps": 1}), progress=False)
    assert policy.ilql_heads is heads, "a second round trains the same heads on"


def test_ilql_heads_are_saved_and_loaded_with_the_policy(tmp_path, traces):
    policy = Seq2SeqPolicy.tiny()
    train_ilql(policy, B.transitions(traces)[:16], ILQLSettings(**{**SMALL, "steps": 2}, beta=20.0), progress=False)
    policy.save_pretrained(tmp_path)
    assert (tmp_path / HEADS_FILE).is_file()
    again = Seq2SeqPolicy.from_pretrained(tmp_path)
    assert again.ilql_heads is not None and again.settings.ilql_beta == 20.0
    goals = [traces[0].nodes[0]["text"]]
    assert again.propose(goals, 3) == policy.propose(goals, 3)
    plain = Seq2SeqPolicy.tiny()
    plain.save_pretrained(tmp_path / "plain")
    assert Seq2SeqPolicy.from_pretrained(tmp_path / "plain").ilql_heads is None


@pytest.fixture(scope="module")
def learned_policy():
    """A tiny seq2seq policy trained on 60 generator proof steps (once for every planner: training is the slow part)."""
    policy = Seq2SeqPolicy.tiny()
    train_seq2seq(policy, B.ground_truth_pairs("SR-v0", "train", limit=60), Seq2SeqSettings(**SMALL), progress=False)
    return policy


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_planners_run_with_learned_models(name, learned_policy):
    policy = learned_policy
    backend = SRBackend()
    theorem = backend.theorems("valid")[0]
    result = make_planner(name, max_expansions=4, tactics_per_expansion=4).search(
        ProofAttempt(backend, theorem), policy=policy, critic=ValueCritic.tiny())
    assert result.expansions > 0 and result.trace.header["policy"] == "seq2seq"
    assert result.trace.header["critic"] == "value"
    assert result.policy_time > 0


def test_learned_policy_batches_the_goals_a_planner_expands():
    calls = []

    class Counting(Seq2SeqPolicy):
        def _generate(self, texts, k):
            calls.append(len(texts))
            return super()._generate(texts, k)

    base = Seq2SeqPolicy.tiny()
    policy = Counting(base.model, base.tokenizer)
    backend = SRBackend()
    theorem = backend.theorems("valid")[10]
    BestFS(max_expansions=2).search(ProofAttempt(backend, theorem), policy=policy)
    policy.propose([g for g in ["f(x) = 0", "f(x) = x", "f(x) = 1"]], 2)
    assert calls[-1] == 3, "one generate call for a batch of goals"
