"""Each planner (``search/bestfs.py``, ``bfs.py``, ``fringe.py``, ``updown.py``, ``htps.py``) on hand-built graphs
(the scripted prover test double) against values computed by hand, then every planner on SR-v0. The shared expand
loop (``search/base.py``) is in test_search_base.py; HOList-v0 runs of every planner are in
tests/envs/holist/test_holist_backend.py."""

import math

import pytest
from doubles.scripted import ScriptedCritic, ScriptedPolicy, ScriptedProver

from aitp_gym import ProofAttempt
from aitp_gym.envs.sr.backend import SRBackend, make_theorem
from aitp_gym.search import HTPS, PLANNERS, Fringe, UpDown, make_planner
from aitp_gym.tree import Status


def run(planner, graph, values=None, probs=None, **_):
    """Search the scripted graph; returns the policy (its ``expanded()`` is the expansion order)."""
    attempt = ScriptedProver(graph).attempt()
    policy = ScriptedPolicy(graph, probs)
    result = planner.search(attempt, policy=policy, critic=ScriptedCritic(values or {}))
    return policy, attempt, result


def names(attempt, fringes):
    return [{attempt.tree.nodes[i].goal.text for i in f} for f in fringes]


# ---------------------------------------------------------------------------------------- Fringe
FRINGE_GRAPH = {"g": {"split": ["a", "b"], "alt": ["c"], "bad": "error"},
                "a": {"close": []}, "b": {"hard": ["d"]}, "d": {"close": []}}
FRINGE_VALUES = {"a": 0.9, "b": 0.6, "c": 0.3, "d": 0.5}


@pytest.mark.parametrize("budget, fringes", [
    # g --split--> {a, b}: .9 × .6 = .54;  g --alt--> {c}: .3;  "bad" is an error and makes no fringe
    (1, [{"a", "b"}, {"c"}]),
    # best fringe {a, b}; its weakest goal b (.6 < .9); b --hard--> d gives {a, d}: .9 × .5 = .45
    (2, [{"a", "d"}, {"c"}]),
    # best {a, d}; weakest d (.5); d closes, so {a, d} - {d} = {a}: .9
    (3, [{"a"}, {"c"}]),
])
def test_fringe_bookkeeping_step_by_step(budget, fringes):
    planner = Fringe(max_expansions=budget)
    prover, attempt, result = run(planner, FRINGE_GRAPH, FRINGE_VALUES)
    assert names(attempt, planner.fringes) == fringes
    assert prover.expanded() == ["g", "b", "d"][:budget]
    assert [round(math.exp(planner._fringe_score[f]), 6) for f in sorted(planner._fringe_score,
            key=lambda f: -planner._fringe_score[f])] == [
        {1: [0.54, 0.3], 2: [0.45, 0.3], 3: [0.9, 0.3]}[budget][i] for i in range(2)]


def test_fringe_proves_the_root_when_a_fringe_empties():
    planner = Fringe(max_expansions=10)
    prover, attempt, result = run(planner, FRINGE_GRAPH, FRINGE_VALUES)
    # {a} is expanded, a closes, the fringe {} is empty: the root is proved through split
    assert prover.expanded() == ["g", "b", "d", "a"] and result.proved
    assert result.proof.tactics() == ["split", "close", "hard", "close"]


def test_fringe_drops_proved_goals_everywhere_and_kills_failed_fringes():
    graph = {"g": {"t1": ["a", "b"], "t2": ["a", "c"]}, "a": {"close": []}, "c": {"close": []}}
    values = {"a": 0.2, "b": 0.9, "c": 0.8}
    planner = Fringe(max_expansions=2)
    _, attempt, _ = run(planner, graph, values)
    # {a, b} (.18) beats {a, c} (.16); a is its weakest goal and closes, so a leaves *both* fringes
    assert names(attempt, planner.fringes) == [{"b"}, {"c"}]
    planner = Fringe(max_expansions=10)
    prover, attempt, result = run(planner, graph, values)
    # b has no tactic: it fails and {b} dies; {c} is next and closes
    assert prover.expanded() == ["g", "a", "b", "c"] and result.proved
    assert result.proof.tactics() == ["t2", "close", "close"]
    assert attempt.tree.get("b").status is Status.FAILED


def test_fringe_policy_scores_and_sampling_are_seeded():
    graph = {"g": {"x": ["a"], "y": ["b"]}, "b": {"close": []}}
    # no critic signal: scores are cumulative log-probabilities, so y (.8) goes before x (.2)
    prover, _, result = run(Fringe(score="policy"), graph, probs={("g", "x"): 0.2, ("g", "y"): 0.8})
    assert prover.expanded() == ["g", "b"] and result.proved

    def order(seed):
        graph = {"g": {f"t{i}": [f"s{i}"] for i in range(8)}}
        return run(Fringe(temperature=1.0, seed=seed, max_expansions=6), graph)[0].expanded()

    assert order(1) == order(1) and len({tuple(order(s)) for s in range(4)}) > 1
    with pytest.raises(ValueError, match="score"):
        Fringe(score="vibes")


# ---------------------------------------------------------------------------------------- UpDown
UPDOWN_GRAPH = {"g": {"t1": ["a", "b"], "t2": ["c"]}, "a": {"ta": ["d"]}}


def test_updown_up_values_and_contexts_by_hand():
    """
    g ─t1─> {a, b}          raw critic  g .8  a .8  b .6  c .9  d 1.0,  γ = 0.5
      └t2─> {c}             v = critic · γ^depth:  g .8   a .4  b .3  c .45   d .25
    a ─ta─> {d}             (b, c and d have no tactics)

    after g:  scores  a: v(a)·u(b) = .12   b: v(b)·u(a) = .12   c: .45       → expand c; it fails
    after c:  a (.12, first of a tie)                                          → expand a
    after a:  u(a) = max(v(a), u(d)) = max(.4, .25) = .4
              scores  d: v(d)·u(b) = .25 · .3 = .075   b: v(b)·u(a) = .3 · .4 = .12   → expand b, not d
    """
    planner = UpDown(depth_discount=0.5, max_expansions=3)
    values = {"g": 0.8, "a": 0.8, "b": 0.6, "c": 0.9, "d": 1.0}
    prover, attempt, result = run(planner, UPDOWN_GRAPH, values)
    assert prover.expanded() == ["g", "c", "a"]
    node = {n.goal.text: n for n in attempt.tree.nodes}
    assert node["c"].status is Status.FAILED and planner.up(node["c"]) == 0
    assert planner.up(node["a"]) == pytest.approx(0.4)
    assert planner.up(node["g"]) == pytest.approx(0.8)  # max(v(g), .4 · .3) = v(g)
    scores = {attempt.tree.nodes[i].goal.text: math.exp(s) for i, s in planner.leaf_scores(attempt.tree).items()}
    assert scores == pytest.approx({"d": 0.075, "b": 0.12})
    assert planner.select(attempt.tree) == [node["b"]]

    # b fails too, so t1 is dead, t2 is dead, and the root fails
    prover, attempt, result = run(UpDown(depth_discount=0.5), UPDOWN_GRAPH, values)
    assert prover.expanded() == ["g", "c", "a", "b"] and result.stop_reason == "failed"


def test_updown_up_value_takes_the_best_edge_and_propagates():
    """With critic(a) = .2: v(a) = .1 < u(d) = .2, so u(a) = .2, and u(g) = max(v(g) = .05, u(a)·u(b) = .06)."""
    planner = UpDown(depth_discount=0.5, max_expansions=3)
    values = {"g": 0.05, "a": 0.2, "b": 0.6, "c": 0.9, "d": 0.8}
    _, attempt, _ = run(planner, UPDOWN_GRAPH, values)
    node = {n.goal.text: n for n in attempt.tree.nodes}
    assert planner.up(node["a"]) == pytest.approx(0.2)
    assert planner.up(node["g"]) == pytest.approx(0.06)


class CheckedUpDown(UpDown):
    """UpDown whose incremental argmax is checked against the full pass over all leaves at every step."""

    checks = 0

    def select(self, tree):
        chosen = super().select(tree)
        scores = self.leaf_scores(tree)
        if chosen:
            assert scores[chosen[0].id] == pytest.approx(max(scores.values()), abs=1e-12)
            CheckedUpDown.checks += 1
        return chosen


def test_updown_incremental_argmax_matches_the_full_pass():
    backend = SRBackend()
    for target in ("sin(x) * x + 2", "exp(x / 3)", "cos(x) + x * x"):
        CheckedUpDown(max_expansions=40).search(ProofAttempt(backend, make_theorem(target)))
    assert CheckedUpDown.checks >= 60


# ---------------------------------------------------------------------------------------- HTPS
HTPS_GRAPH = {"g": {"t1": ["a", "b"], "t2": ["c"]}, "a": {"x": ["a2"]}, "b": {"y": ["b2"]}, "c": {"z": ["c2"]},
              "a2": {"u": ["a3"]}, "b2": {"v": ["b3"]}}  # every goal here stays open when expanded
HTPS_PRIORS = {("g", "t1"): 0.6, ("g", "t2"): 0.4}
HTPS_VALUES = {"a": 0.5, "b": 0.8, "c": 0.3, "a2": 0.9, "b2": 0.5}


def edge_stats(planner, attempt):
    return {e.tactic: (planner._stats[e.id].n, round(planner._stats[e.id].w, 9), planner._stats[e.id].virtual)
            for e in attempt.tree.edges if e.id in planner._stats}


def test_htps_puct_and_product_backup_by_hand():
    """
    c = 1.  π(t1) = .6, π(t2) = .4.  Leaf values a .5, b .8, c .3, a2 .9, b2 .5.

    1. expand g (the root is the first leaf)
    2. ΣN = 0: PUCT = Q = .5 for both; the tie goes to the higher prior, t1. Expand a and b together.
       Backup: t1 is worth .5 · .8 = .4        → N(t1) = 1, W(t1) = .4
    3. ΣN = 1: PUCT(t1) = .4 + .6 · 1/2 = .7;  PUCT(t2) = .5 + .4 · 1/1 = .9   → t2, expand c
       Backup: W(t2) = .3
    4. ΣN = 2: PUCT(t1) = .4 + .6 · √2/2 = .824;  PUCT(t2) = .3 + .4 · √2/2 = .583  → t1, then x and y,
       expand a2 and b2. Backup: x = .9, y = .5, t1 = .9 · .5 = .45 → N(t1) = 2, W(t1) = .85
    """
    planner = HTPS(exploration=1.0, max_expansions=6)
    prover, attempt, result = run(planner, HTPS_GRAPH, HTPS_VALUES, HTPS_PRIORS)
    assert prover.expanded() == ["g", "a", "b", "c", "a2", "b2"]
    assert edge_stats(planner, attempt) == {"t1": (2, 0.85, 0), "t2": (1, 0.3, 0), "x": (1, 0.9, 0),
                                            "y": (1, 0.5, 0), "z": (0, 0.0, 0), "u": (0, 0.0, 0),
                                            "v": (0, 0.0, 0)}
    t1 = attempt.tree.edges[0]
    assert planner.q_value(t1) == pytest.approx(0.425)


def test_htps_virtual_loss_spreads_a_batch():
    """Two descents per batch after the root. The first takes t1 (prior tie-break) and puts a virtual
    visit on it: Q(t1) = .5 / 1, PUCT(t1) = .5 + .6 · 1/2 = .8 < PUCT(t2) = .5 + .4 · 1/1 = .9, so the
    second takes t2. Without virtual loss the second descent repeats t1."""
    planner = HTPS(exploration=1.0, descents_per_batch=2, max_expansions=4)
    prover, attempt, _ = run(planner, HTPS_GRAPH, HTPS_VALUES, HTPS_PRIORS)
    assert prover.expanded() == ["g", "a", "b", "c"]  # one batch: {a, b} from the first descent, c from the second
    stats = edge_stats(planner, attempt)
    assert (stats["t1"], stats["t2"]) == ((1, 0.4, 0), (1, 0.3, 0))  # virtual loss removed on backup
    planner = HTPS(exploration=1.0, descents_per_batch=2, virtual_loss=0, max_expansions=3)
    prover, attempt, _ = run(planner, HTPS_GRAPH, HTPS_VALUES, HTPS_PRIORS)
    # both descents take t1: one batch of {a, b}, and t1 is backed up twice
    assert prover.expanded() == ["g", "a", "b"] and edge_stats(planner, attempt)["t1"] == (2, 0.8, 0)


def test_htps_depth_penalty_and_solved_nodes(tmp_path):
    planner = HTPS(exploration=1.0, depth_penalty=0.9, max_expansions=3)
    _, attempt, _ = run(planner, HTPS_GRAPH, HTPS_VALUES, HTPS_PRIORS)
    assert edge_stats(planner, attempt)["t1"] == (1, 0.36, 0)  # .9 · .5 · .8

    graph = {"g": {"t1": ["a", "b"], "t2": ["c"]}, "c": {"z": []}, "a": {"x": ["a2"]}}
    planner = HTPS(exploration=1.0)
    prover, attempt, result = run(planner, graph, HTPS_VALUES, HTPS_PRIORS)
    # step 3 expands c, which z closes: c backs up 1, so t2 gets W = 1 and the root is proved
    assert prover.expanded() == ["g", "a", "b", "c"] and result.proved and result.stop_reason == "proved"
    stats = edge_stats(planner, attempt)
    assert stats["t2"] == (1, 1.0, 0) and planner.q_value(attempt.tree.edges[1]) == 1.0
    nodes = {n["text"]: n for n in result.trace.nodes}
    assert nodes["g"]["stats"]["critic_target"] == 1.0 and nodes["g"]["stats"]["policy_target"] == {"t2": 1.0}
    assert nodes["b"]["stats"]["critic_target"] == 0.0  # b has no tactic: dead
    assert nodes["a"]["stats"]["visits"] == 0 and nodes["a"]["stats"]["value"] == pytest.approx(0.5)


def test_htps_keeps_one_tactic_per_child_set_and_the_solving_one():
    graph = {"g": {"t1": ["a"], "t1-again": ["a"], "bad": "error", "t2": ["b"]}, "a": {"x": ["a"], "y": []},
             "b": {"p": ["c"], "q": []}}
    planner = HTPS(max_expansions=2)
    _, attempt, _ = run(planner, graph)
    kept = {attempt.tree.nodes[nid].goal.text: [e.tactic for e in edges] for nid, edges in planner._kept.items()}
    assert kept["g"] == ["t1", "t2"]  # the duplicate and the error are dropped
    assert kept["a"] == ["y"]  # a solving tactic is kept alone
    assert sum(planner._stats[e.id].prior for e in planner._kept[0]) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------- all planners
@pytest.fixture(scope="module")
def easy_sr():
    backend = SRBackend()
    return backend, [t for t in backend.theorems("valid") if t.data["difficulty"] <= 2]


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_every_planner_proves_easy_sr_theorems_with_replay(easy_sr, name):
    backend, theorems = easy_sr
    proved = 0
    for theorem in theorems:
        result = make_planner(name, max_expansions=200).search(ProofAttempt(backend, theorem))
        if result.proved:
            proved += 1
            assert SRBackend().check(theorem, result.proof) == (True, "")
            assert result.trace.result["proof_script"] == result.proof.tactics()
        assert result.expansions <= 200
    assert proved >= 0.8 * len(theorems), f"{name}: {proved}/{len(theorems)}"


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_every_planner_handles_and_nodes_and_failure(name):
    graph = {"g": {"split": ["a", "b"], "bad": "error"}, "a": {"close": []}, "b": {"close": []}}
    prover, _, result = run(make_planner(name), graph)
    assert result.proved and sorted(result.proof.tactics()) == ["close", "close", "split"]
    prover, _, result = run(make_planner(name), {"g": {"split": ["a", "b"]}, "a": {"close": []}})
    assert not result.proved and result.stop_reason == "failed"


def test_planners_reject_bad_settings():
    for bad in ({"exploration": -1}, {"descents_per_batch": 0}, {"depth_penalty": 0}):
        with pytest.raises(ValueError):
            HTPS(**bad)
    with pytest.raises(ValueError):
        UpDown(depth_discount=1.5)
    with pytest.raises(TypeError):
        make_planner("bfs", exploration=1.0)  # a setting another planner has
