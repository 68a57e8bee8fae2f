"""SR-v0's features for the ranker (``envs/sr/features.py``): goal features from the residual, the ratio and
functions of the values, tactic features, and the candidate tactics rebuilt from a goal's text."""

from doubles.sr import sr_goal

from aitp_gym.envs.sr.features import SRFeaturiser, parse_goal_text


def test_sr_features_read_the_residual_the_ratio_and_functions_of_the_values():
    f = SRFeaturiser()
    _, goal = sr_goal("x + 2", "init @0 A=x")
    assert {"r:const", "r:c=2"} <= set(f.goal(goal.text))
    _, goal = sr_goal("sin(x)", "init @0 A=x")
    features = f.goal(goal.text)
    assert "y=f(ŷ):sin" in features and "r:const" not in features
    _, goal = sr_goal("3 * x", "init @0 A=x")
    assert {"q:const", "q:c=3"} <= set(f.goal(goal.text))
    assert f.goal("not an SR goal") == ["bias", "not-sr"]
    assert parse_goal_text("f(x) = import os\ny: 1\nŷ: 1") is None  # only expressions parse
    rows = f.tactics(goal.text, ["sin @0", "add @0 B=x", "garbage"])
    assert list(rows[0][:2]) == ["rule=sin", "rule=sin/None"] and "rule=add/x" in rows[1]
    assert list(rows[2]) == ["raw=garbage"]


def test_candidates_from_text_are_the_backends():
    """The featuriser rebuilds a goal's candidate tactics from its text alone, exactly as the backend lists them."""
    backend, goal = sr_goal("sin(x) * x + 1", "init @0 A=x", "sin @0")
    assert SRFeaturiser().candidates(goal.text) == backend.candidate_tactics(goal)
