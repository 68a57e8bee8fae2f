"""The featurised critic (``agents/feature_critic.py``): checkpoints, the ``critic`` learner on real SR-v0 search
targets, and ``aitp loop`` with ``model.critic: features``."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

pytest.importorskip("torch")

from doubles import ROOT  # noqa: E402
from doubles.sr import sr_goal  # noqa: E402

from aitp_gym import ProofAttempt, iter_traces  # noqa: E402
from aitp_gym.agents import buffers as B  # noqa: E402
from aitp_gym.agents.feature_critic import WEIGHTS_FILE, FeatureCritic, FeatureCriticSettings  # noqa: E402
from aitp_gym.agents.learners.critic import CriticSettings, critic_loss, train_critic  # noqa: E402
from aitp_gym.agents.models import make_model  # noqa: E402
from aitp_gym.agents.ranker import RankerPolicy  # noqa: E402
from aitp_gym.agents.training import torch  # noqa: E402
from aitp_gym.envs.sr.backend import SRBackend  # noqa: E402
from aitp_gym.search import make_planner  # noqa: E402

LR = 0.03
"""The linear critic's learning rate on SR-v0 features (1e-3, the transformer's, barely moves it)."""


@pytest.fixture(scope="module")
def search_targets(tmp_path_factory):
    """Critic targets from short HTPS searches on SR-v0 train theorems: the first 30 theorems' to learn from, the
    next 14's held out."""
    out = tmp_path_factory.mktemp("htps")
    backend = SRBackend()
    theorems = list(backend.theorems("train"))[:44]
    for i, theorem in enumerate(theorems):
        make_planner("htps", max_expansions=24, exploration=1.0, count_threshold=3).search(
            ProofAttempt(backend, theorem), trace_path=out / f"{i:02d}.json.gz")
    records = sorted(iter_traces(out), key=lambda r: r.header["theorem_id"])
    return B.value_targets(records[:30]), B.value_targets(records[30:])


def _goals():
    return [sr_goal("sin(x) * x + 1", "init @0 A=x")[1], sr_goal("x * 2 + 3", "init @0 A=x", "mul @0 B=2")[1],
            "f(x) = x\ny: 1 2\nŷ: 1 2", "anything at all"]


def test_a_fresh_critic_says_one_half_and_reads_the_envs_features():
    critic = make_model("features", "critic", featuriser="sr", goal_view="sr", device="cpu", num_candidates=8)
    assert isinstance(critic, FeatureCritic) and critic.settings.featuriser == "sr"
    assert critic.value(_goals()) == [0.5] * 4 and critic.value([]) == []
    assert "r:const" in critic.featuriser.goal(_goals()[2]), "the sr featuriser's goal features"
    assert make_model("features", "critic").settings.featuriser == "text"


@pytest.mark.parametrize("hidden", [0, 8])
def test_checkpoints_round_trip(tmp_path, hidden):
    critic = FeatureCritic(FeatureCriticSettings(featuriser="sr", dim_log2=10, hidden=hidden, seed=3))
    with torch.no_grad():
        for p in critic.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    values = critic.value(_goals())
    assert len(set(values)) == 4, "the weights say something about each goal"
    critic.save_pretrained(tmp_path / "critic")
    assert json.loads((tmp_path / "critic/aitp_model.json").read_text())["kind"] == "features"
    for loaded in (FeatureCritic.from_pretrained(tmp_path / "critic"), make_model(str(tmp_path / "critic"), "critic")):
        assert isinstance(loaded, FeatureCritic) and loaded.settings == critic.settings
        assert loaded.value(_goals()) == values
    # the batch size is a loading option; it changes nothing but how many goals go through at once
    small = FeatureCritic.from_pretrained(tmp_path / "critic", batch_size=1)
    assert small.settings.batch_size == 1 and small.value(_goals()) == pytest.approx(values, abs=1e-6)


def test_a_folder_that_is_not_a_features_critic_is_refused_clearly(tmp_path):
    RankerPolicy.tiny().save_pretrained(tmp_path / "ranker")
    (tmp_path / "empty").mkdir()
    for folder in ("empty", "ranker"):
        with pytest.raises(FileNotFoundError, match="is not a features critic checkpoint"):
            FeatureCritic.from_pretrained(tmp_path / folder)
    FeatureCritic().save_pretrained(tmp_path / "critic")
    (tmp_path / "critic" / WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="is not a features critic checkpoint"):
        FeatureCritic.from_pretrained(tmp_path / "critic")
    with pytest.raises(ValueError, match="dim_log2"):
        FeatureCriticSettings(dim_log2=40)


def _auc(scores: list[float], labels: list[bool]) -> float:
    """The chance that a positive scores above a negative (ties count half)."""
    pos = [s for s, label in zip(scores, labels, strict=True) if label]
    neg = [s for s, label in zip(scores, labels, strict=True) if not label]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("hidden", [0, 16])
def test_training_on_search_targets_separates_provable_goals_on_held_out_theorems(search_targets, hidden):
    train, held_out = search_targets
    labels = [t.target >= 0.5 for t in held_out]
    assert len(train) > 100 and 5 <= sum(labels) <= len(labels) - 5, (len(train), sum(labels), len(labels))
    critic = FeatureCritic(FeatureCriticSettings(featuriser="sr", hidden=hidden))
    result = train_critic(critic, train, CriticSettings(steps=150, batch_size=32, lr=LR), progress=False)
    assert result.final_loss < 0.8 * result.first_loss
    values = critic.value([t.goal for t in held_out])
    auc = _auc(values, labels)
    with torch.no_grad():
        loss, _ = critic_loss(critic, held_out)
    base = sum(t.target for t in train) / len(train)  # the best constant guess
    constant = -sum(t.target * math.log(base) + (1 - t.target) * math.log(1 - base) for t in held_out) / len(held_out)
    print(f"hidden {hidden}: held-out AUC {auc:.3f}, BCE {float(loss):.3f} (constant {constant:.3f})")
    assert auc > 0.75
    assert float(loss) < constant
    assert critic.value([t.goal for t in held_out]) == values, "the cached features give the same values"


def test_the_critic_learner_trains_what_the_loop_proves_with(tmp_path):
    """One tiny round of ``aitp loop`` with ``model.critic: features``: round 1 evaluates with the critic the round
    trained and saved, and HTPS's recorded leaf values are that critic's."""
    run = tmp_path / "run"
    settings = ["rounds=1", "workers=1", "torch_threads=1", "prove.train_theorems=4", "prove.eval_theorems=3",
                "prove.max_expansions=8", "prove.train_max_expansions=12", "prove.train_difficulty_max=1",
                "prove.tactics_per_expansion=4", "model.policy=uniform", "model.critic=features",
                "learn.learners=[critic]", "learn.steps=20", "learn.batch_size=8"]  # lr: the registry default (0.03)
    out = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "loop", str(ROOT / "configs/sr_demo.yaml"),
                          "--out", str(run), *[a for s in settings for a in ("--set", s)]],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(x) for x in (run / "rounds.jsonl").read_text().splitlines()]
    assert rows[0]["models"]["critic"] == "model-free" and rows[1]["models"]["critic"] == "model", rows
    assert "critic" in rows[1]["losses"] and rows[1]["trained"]["critic"] is True, rows[1]
    fresh, trained = (FeatureCritic.from_pretrained(run / f"rounds/{r:03d}/critic") for r in (0, 1))
    assert trained.settings.featuriser == "sr", "the env's featuriser"
    assert not any(p.any() for p in fresh.parameters()), "round 0 saved the untrained critic"
    assert any(p.any() for p in trained.parameters()), "round 1 saved the trained one"
    values = []
    for record in iter_traces(run / "rounds/001/eval"):
        assert record.header["critic"] == "features"
        texts = record.node_texts()
        for n in record.nodes:
            if (n.get("stats") or {}).get("value") is not None:
                values.append((n["stats"]["value"], texts[n["id"]]))
    assert values
    assert [v for v, _ in values] == pytest.approx(trained.value([t for _, t in values]), rel=1e-3, abs=1e-6)
    assert any(abs(v - 0.5) > 0.01 for v, _ in values), "the values are the trained critic's, not a fresh one's"
