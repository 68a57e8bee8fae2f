"""``aitp compare`` (``aitp_gym.loop.compare``, ``aitp_gym.cli.compare``) without running a loop: the brute-force
reference's config, the Markdown table and the plot from hand-made rows, and the checks made before any work."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("yaml")

from doubles import ROOT  # noqa: E402

from aitp_gym.cli import main  # noqa: E402
from aitp_gym.loop import load_config  # noqa: E402
from aitp_gym.loop.compare import Entry, brute_force_config, compare, plot, table  # noqa: E402

DEMO = ROOT / "configs" / "sr_demo.yaml"


def _rows(*proved: int, attempted: int = 40) -> list[dict]:
    return [{"round": r, "eval": {"proved": p, "attempted": attempted, "proof_rate": p / attempted}}
            for r, p in enumerate(proved)]


def test_brute_force_is_the_model_free_policy_with_every_tactic_at_the_same_budget():
    config = load_config(DEMO)
    brute = brute_force_config(config)
    assert (brute.rounds, brute.prove.tactics_per_expansion) == (0, None)
    assert (brute.model.policy, brute.model.critic, brute.model.pretrain_steps) == ("uniform", "default", 0)
    assert brute.learn.learners == [] and brute.learn.settings == {}
    assert (brute.env, brute.seed, brute.prove.planner, brute.prove.max_expansions, brute.prove.eval_theorems) == \
        (config.env, config.seed, config.prove.planner, config.prove.max_expansions, config.prove.eval_theorems)
    assert config.rounds > 0 and config.prove.tactics_per_expansion is not None  # the config itself is unchanged
    from aitp_gym.loop.compare import _reference_key

    # configs that differ only in what they train on (or whether their own round 0 measures brute force) share one
    other = load_config(ROOT / "configs/matrix/sr_htps_seq2seq_critic.yaml")
    assert other.prove.brute_force_reference != config.prove.brute_force_reference
    assert _reference_key(other) == _reference_key(config)
    assert _reference_key(load_config(ROOT / "configs/matrix/sr_bestfs_seq2seq.yaml")) != _reference_key(config)


def test_the_table_has_a_row_per_config_with_both_references():
    config = load_config(DEMO)
    reference = {"proved": 10, "attempted": 40, "proof_rate": 0.25}
    entries = [Entry("demo", config, _rows(8, 10, 12), reference), Entry("short", config, _rows(0, 3), reference)]
    lines = table(entries).splitlines()
    assert lines[0] == ("| config | policy | learners | expansions | tactics / expansion | round 0 | round 1 | round 2 "
                        "| last ÷ round 0 | brute force | last ÷ brute force |")
    tactics = str(config.prove.tactics_per_expansion)
    learners = ", ".join(config.learn.learners)
    assert lines[2] == (f"| demo | {config.model.policy} | {learners} | {config.prove.max_expansions} | {tactics} "
                        "| 8/40 | 10/40 | 12/40 | 1.50× | 10/40 (all tactics) | 1.20× |")
    assert lines[3].endswith("| 0/40 | 3/40 |  | – | 10/40 (all tactics) | 0.30× |")  # no round 2; round 0 proved 0
    assert "brute force is the model-free policy trying every enumerated tactic" in lines[-1]
    assert [e.rates for e in entries] == [[0.2, 0.25, 0.3], [0.0, 0.075]]


def test_the_plot_draws_every_config(tmp_path):
    pytest.importorskip("matplotlib")
    config = load_config(DEMO)
    reference = {"proved": 10, "attempted": 40, "proof_rate": 0.25}
    out = plot([Entry("a", config, _rows(8, 10), reference), Entry("b", config, _rows(9, 9), reference)],
               tmp_path / "comparison.png")
    assert out.read_bytes().startswith(b"\x89PNG") and [p.name for p in tmp_path.iterdir()] == ["comparison.png"]


def test_bad_input_is_refused_before_any_run(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "x.yaml").write_text(DEMO.read_text())
    with pytest.raises(ValueError, match="two configs have the same name"):
        compare([tmp_path / "a" / "x.yaml", tmp_path / "b" / "x.yaml"], tmp_path / "out", log=lambda m: None)
    assert not (tmp_path / "out").exists()
    assert main(["compare", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert "no such config file" in capsys.readouterr().err
    assert main(["compare", str(DEMO), "--out", str(tmp_path / "out"), "--set", "rounds=abc"]) == 2
    assert "config: rounds must be an integer" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_real_comparison_runs_each_config_once_and_reads_it_back(tmp_path, capsys):
    """Two tiny configs of different budgets: two loops, two brute-force references (one per budget), the table
    and the plot; run again, nothing is proved again (the complete runs are read back)."""
    pytest.importorskip("torch")
    tiny = ["rounds=1", "workers=1", "prove.train_theorems=4", "prove.eval_theorems=5", "learn.steps=3",
            "prove.train_difficulty_max=1", "torch_threads=1"]
    (tmp_path / "long.yaml").write_text(DEMO.read_text().replace("max_expansions: 32", "max_expansions: 40"))
    args = ["compare", str(DEMO), str(tmp_path / "long.yaml"), "--out", str(tmp_path / "cmp"), "--quiet",
            *[a for s in tiny for a in ("--set", s)]]
    assert main(args) == 0
    out = capsys.readouterr().out
    cmp = tmp_path / "cmp"
    assert sorted(p.name for p in cmp.iterdir()) == ["brute-force", "brute-force-2", "comparison.md",
                                                    "comparison.png", "long", "sr_demo"]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in out.splitlines() if line.startswith("| sr_demo")
            or line.startswith("| long")}
    assert set(rows) == {"sr_demo", "long"} and "(all tactics)" in rows["sr_demo"], out
    assert "| 32 |" in rows["sr_demo"] and "| 40 |" in rows["long"]
    for name in ("sr_demo", "long"):
        assert len((cmp / name / "rounds.jsonl").read_text().splitlines()) == 2
        assert (cmp / name / "tb").is_dir()
    brute = json.loads((cmp / "brute-force" / "rounds.jsonl").read_text())
    assert brute["models"] == {"policy": "model-free", "critic": "model-free"} and brute["eval"]["attempted"] == 5
    assert f"{brute['eval']['proved']}/5 (all tactics)" in rows["sr_demo"]
    before = {p: p.stat().st_mtime_ns for p in cmp.rglob("*.json.gz")}
    assert main(args) == 0 and capsys.readouterr().out == out, "a second run reads the same table back"
    assert {p: p.stat().st_mtime_ns for p in cmp.rglob("*.json.gz")} == before, "nothing was proved again"
