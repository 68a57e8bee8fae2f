"""The learning stack's registries: a learner and a policy registered from outside the package (here, this test)
run through ``aitp loop``; ILQL's heads survive the loop's rounds and shape the policy's proposals."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass

import pytest

pytest.importorskip("torch")

from doubles import ROOT  # noqa: E402

from aitp_gym import cli  # noqa: E402
from aitp_gym.agents import learners, models  # noqa: E402
from aitp_gym.agents.training import TrainResult, TrainSettings  # noqa: E402

TINY = ["prove.train_theorems=4", "prove.eval_theorems=3", "prove.max_expansions=6", "learn.steps=3",
        "learn.batch_size=4", "prove.tactics_per_expansion=4", "model.num_candidates=4", "torch_threads=1",
        "workers=1", "prove.train_difficulty_max=1"]


class CountingPolicy:
    """A toy policy: SR-v0's enumerated tactics, ranked by how often their rule proved a goal in training."""

    name = "counting"

    def __init__(self, counts: dict[str, int] | None = None, num_candidates: int = 8) -> None:
        self.counts = Counter(counts or {})
        self.num_candidates = num_candidates
        self._enumerate = None

    @classmethod
    def fresh(cls, num_candidates: int = 8, **_):
        return cls(num_candidates=num_candidates)

    @classmethod
    def from_pretrained(cls, path, num_candidates: int = 8):
        saved = models.read_model_file(path)
        assert saved["kind"] == "counting"
        return cls(saved["settings"]["counts"], num_candidates)

    def save_pretrained(self, path) -> None:
        models.write_model_file(path, "counting", {"counts": dict(self.counts)})

    def bind_backend(self, backend) -> None:
        self._enumerate = backend.candidate_tactics

    def propose(self, goals, k=None):
        k = k or self.num_candidates
        out = []
        for goal in goals:
            tactics = sorted(self._enumerate(goal), key=lambda t: -self.counts[t.split()[0]])[:k]
            total = sum(self.counts[t.split()[0]] + 1 for t in tactics) or 1
            out.append([(t, math.log((self.counts[t.split()[0]] + 1) / total)) for t in tactics])
        return out


@dataclass
class CountingSettings(TrainSettings):
    pass


def train_counting(policy, pairs, settings, logger=None, step_offset=0, progress=True):
    policy.counts.update(p.tactic.split()[0] for p in pairs)
    if logger is not None:
        logger.scalar("losses/counting/rules", len(policy.counts), step_offset + 1)
    return TrainResult(1, [float(len(pairs))], 0.0)


def test_a_learner_and_a_policy_registered_from_outside_run_through_the_loop(tmp_path, monkeypatch):
    monkeypatch.setitem(models.POLICIES, "counting", models.ModelKind("counting", "policy", CountingPolicy,
                                                                      ("counting",)))
    monkeypatch.setitem(learners.LEARNERS, "counting",
                        learners.Learner("counting", "seq2seq", "policy", CountingSettings, train_counting))
    run = tmp_path / "run"
    args = ["loop", str(ROOT / "configs/sr_demo.yaml"), "--out", str(run), "--quiet",
            *[a for s in [*TINY, "rounds=1", "model.policy=counting", "learn.learners=[counting]"]
              for a in ("--set", s)]]
    assert cli.main(args) == 0
    rows = [json.loads(line) for line in (run / "rounds.jsonl").read_text().splitlines()]
    assert rows[1]["train"]["proved"] > 0 and "counting" in rows[1]["losses"], rows[1]
    assert rows[1]["models"]["policy"] == "model" and rows[1]["trained"]["policy"] is True
    saved = models.read_model_file(run / "rounds/001/policy")
    assert saved["kind"] == "counting" and sum(saved["settings"]["counts"].values()) > 0
    # a wrong pair is refused when the config is read, naming the pairs that work
    assert cli.main(["loop", str(ROOT / "configs/sr_demo.yaml"), "--out", str(tmp_path / "bad"),
                     "--set", "model.policy=counting", "--set", "learn.learners=[ranker]"]) == 2
    assert not (tmp_path / "bad").exists()


def test_ilql_heads_survive_the_rounds_and_shape_the_proposals(tmp_path):
    """Two loop rounds with the ilql learner: the round-2 heads are the round-1 heads trained on (not fresh ones),
    both are saved with the policy, and they change what the policy proposes."""
    import torch

    from aitp_gym.agents.buffers import ground_truth_pairs
    from aitp_gym.agents.seq2seq import ILQLHeads, Seq2SeqPolicy

    run = tmp_path / "run"
    args = ["loop", str(ROOT / "configs/sr_seq2seq.yaml"), "--out", str(run), "--quiet",
            *[a for s in [*TINY, "rounds=2", "learn.learners=[seq2seq,ilql]", "model.pretrain_steps=60"]
              for a in ("--set", s)]]
    assert cli.main(args) == 0
    rows = [json.loads(line) for line in (run / "rounds.jsonl").read_text().splitlines()]
    assert all("ilql" in row["losses"] for row in rows[1:]), rows
    first, second = (Seq2SeqPolicy.from_pretrained(run / f"rounds/{r:03d}/policy") for r in (1, 2))
    assert first.ilql_heads is not None and second.ilql_heads is not None

    def flat(heads):
        return torch.cat([p.detach().flatten() for p in heads.parameters()])

    trained_on = (flat(second.ilql_heads) - flat(first.ilql_heads)).norm()
    fresh = (flat(ILQLHeads.for_policy(first)) - flat(first.ilql_heads)).norm()
    assert 0 < trained_on < 0.25 * fresh, (float(trained_on), float(fresh))
    goals = [p.goal for p in ground_truth_pairs("SR-v0", "valid", limit=4)]
    with second.perturbed(beta=0.0):
        plain = second.propose(goals, 4)
    assert second.propose(goals, 4) != plain, "the heads change the proposals"
