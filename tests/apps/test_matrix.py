"""The experiment matrix as shipped (``configs/matrix/*.yaml`` for the ranker, ``configs/matrix/t5/*.yaml`` for the
T5): one tiny round of each config, so every learner trains every policy kind it is listed for, and the models the
round then proves with are the ones it trained and saved.

"Proves with the trained weights" is checked from the outside: the round's evaluation traces record the policy's
proposals (tactic and log-probability) at every expanded goal; the saved checkpoint, loaded afresh, must propose
the same at those goals, and must differ from the untrained model. A learner whose update never reaches the saved
model (heads not saved, a copy trained instead of the policy) fails here."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import pytest

pytest.importorskip("torch")

from doubles import ROOT  # noqa: E402

from aitp_gym.loop import Loop, load_config  # noqa: E402
from aitp_gym.trace import iter_traces  # noqa: E402
from aitp_gym.tree import Goal  # noqa: E402

RANKER = sorted((ROOT / "configs/matrix").glob("*.yaml"))
T5 = sorted((ROOT / "configs/matrix/t5").glob("*.yaml"))
TINY = ["rounds=1", "workers=1", "torch_threads=1", "prove.train_theorems=10", "prove.eval_theorems=4",
        "prove.max_expansions=6", "prove.train_max_expansions=10", "prove.train_difficulty_max=1",
        "prove.brute_force_reference=false", "learn.steps=4", "learn.batch_size=8"]


def _recorded_proposals(eval_dir: Path, limit: int = 6) -> list[tuple[Goal, dict[str, float]]]:
    """(goal, {tactic: recorded log-probability}) at up to ``limit`` expanded goals of the evaluation (the goal with
    its key: the ranker breaks ties by a draw seeded with it)."""
    out = []
    for record in iter_traces(eval_dir):
        texts = {n["id"]: Goal(n["text"], n["key"]) for n in record.nodes}
        by_goal: dict[int, dict[str, float]] = defaultdict(dict)
        for edge in record.edges:
            by_goal[edge["parent"]][edge["tactic"]] = edge["logprob"]
        out += [(texts[g], tactics) for g, tactics in by_goal.items()]
    return out[:limit]


def _check_round(run: Path, config) -> None:
    from aitp_gym.agents.models import make_model

    rows = [line for line in (run / "rounds.jsonl").read_text().splitlines() if line]
    assert len(rows) == 2
    import json

    row = json.loads(rows[1])
    assert set(row["losses"]) == set(config.learn.learners), f"a learner was skipped: {row['losses']}"
    assert all(math.isfinite(v) for v in row["losses"].values())
    assert row["models"]["policy"] == "model", "round 1 proves with the trained policy"

    saved = make_model(str(run / "rounds/001/policy"), "policy", num_candidates=config.prove.tactics_per_expansion)
    fresh = make_model(config.model.policy, "policy", num_candidates=config.prove.tactics_per_expansion,
                       featuriser="sr", goal_view="sr")
    recorded = _recorded_proposals(run / "rounds/001/eval")
    assert recorded, "the evaluation expanded no goal"
    differs = False
    for text, tactics in recorded:
        proposed = dict(saved.propose([text], config.prove.tactics_per_expansion)[0])
        assert set(tactics) <= set(proposed), f"round 1 tried {set(tactics) - set(proposed)}, not the checkpoint's"
        for tactic, logprob in tactics.items():
            assert proposed[tactic] == pytest.approx(logprob, abs=1e-4), (text, tactic)
        differs |= dict(fresh.propose([text], config.prove.tactics_per_expansion)[0]) != proposed
    assert differs, "the saved policy proposes what an untrained one does: the training did not reach it"
    if config.model.critic != "default" and "critic" in config.learn.learners:
        critic = make_model(str(run / "rounds/001/critic"), "critic")
        fresh_critic = make_model(config.model.critic, "critic", featuriser="sr", goal_view="sr")
        goals = [text for text, _ in recorded]
        assert critic.value(goals) != pytest.approx(fresh_critic.value(goals), abs=1e-6), "the critic was trained"


@pytest.mark.parametrize("path", RANKER, ids=[p.stem for p in RANKER])
def test_each_ranker_matrix_config_trains_what_it_proves_with(path, tmp_path):
    config = load_config(path, TINY)
    Loop(config, tmp_path / "run", progress=False, log=lambda m: None).run()
    _check_round(tmp_path / "run", config)


@pytest.mark.expensive
@pytest.mark.parametrize("path", T5, ids=[p.stem for p in T5])
def test_each_t5_matrix_config_runs_a_tiny_round_on_the_cpu(path, tmp_path):
    """The GPU configs, smoke-tested on the CPU: one tiny round (no pre-training, so round 1 proves with the
    model-free policy and every learner gets examples)."""
    config = load_config(path, [*TINY, "model.pretrain_steps=0", "model.device=cpu", "prove.tactics_per_expansion=4",
                                "model.num_candidates=4", "prove.time_limit=60"])
    Loop(config, tmp_path / "run", progress=False, log=lambda m: None).run()
    _check_round(tmp_path / "run", config)
