"""Status propagation in the AND-OR proof tree, with no prover at all.

Trees are drawn in each docstring: ``A --t--> (B, C)`` is one edge (AND) from A to B and C.
"""

import pytest

from aitp_gym.tree import Goal, Outcome, ProofTree, Status


def G(name: str) -> Goal:
    return Goal(name)


def ok(*names: str) -> Outcome:
    return Outcome.ok([G(n) for n in names])


def test_and_edge_needs_every_child():
    """
    R --t--> (A, B)
    A --a--> closed
    B --b--> closed
    """
    tree = ProofTree(G("R"))
    edge = tree.add_edge(tree.root, "t", ok("A", "B"))
    a, b = edge.children
    tree.add_edge(a, "a", Outcome.proved())
    assert a.status is Status.PROVED and tree.root.status is Status.OPEN
    tree.add_edge(b, "b", Outcome.proved())
    assert tree.root.status is Status.PROVED and tree.root.proof_edge is edge


def test_or_node_needs_one_edge_and_errors_do_not_count():
    tree = ProofTree(G("R"))
    bad = tree.add_edge(tree.root, "bad", Outcome.error("no"))
    assert bad.is_error and bad.is_dead and tree.root.is_open
    tree.add_edge(tree.root, "good", Outcome.proved())
    assert tree.proved


def test_dag_sharing_one_node_per_goal_and_proof_propagates_to_both_parents():
    """
    R --t1--> (A)        R --t2--> (B)
    A --s--> (S)         B --u--> (S)      S is one shared node
    S --close--> closed  => A, B, R all PROVED
    """
    tree = ProofTree(G("R"))
    a = tree.add_edge(tree.root, "t1", ok("A")).children[0]
    b = tree.add_edge(tree.root, "t2", ok("B")).children[0]
    s1 = tree.add_edge(a, "s", ok("S")).children[0]
    s2 = tree.add_edge(b, "u", ok("S")).children[0]
    assert s1 is s2 and len(tree.nodes) == 4 and len(s1.parent_edges) == 2
    tree.add_edge(s1, "close", Outcome.proved())
    assert a.status is b.status is tree.root.status is Status.PROVED


def test_goal_key_normalises_whitespace():
    assert Goal("a  +\n b").key == Goal("a + b").key


def test_failure_needs_exhaustion_and_propagates_through_and_edges():
    """
    R --t--> (A, B)      A exhausted with only errors => FAILED => edge dead => R FAILED once exhausted
    """
    tree = ProofTree(G("R"))
    a, b = tree.add_edge(tree.root, "t", ok("A", "B")).children
    tree.add_edge(a, "x", Outcome.error("nope"))
    assert a.is_open  # not exhausted: more tactics may come
    tree.mark_exhausted(a)
    assert a.status is Status.FAILED
    assert tree.root.is_open  # root not exhausted yet
    tree.mark_exhausted(tree.root)
    assert tree.failed and b.is_open  # B is irrelevant now, but not failed


def test_cycle_is_flagged_and_cannot_prove_by_circular_reasoning():
    """
    R --t--> (A)
    A --u--> (R)   a cycle: A's only way forward leads back to R
    Both exhausted: neither can ever be proved, so both FAIL together.
    """
    tree = ProofTree(G("R"))
    a = tree.add_edge(tree.root, "t", ok("A")).children[0]
    back = tree.add_edge(a, "u", ok("R"))
    assert back.cycle and back.children[0] is tree.root
    assert tree.root.is_open and a.is_open
    tree.mark_exhausted(tree.root)
    assert tree.root.is_open  # A may still get other tactics
    tree.mark_exhausted(a)
    assert tree.root.status is Status.FAILED and a.status is Status.FAILED


def test_cycle_edge_does_not_block_a_real_proof():
    """
    R --t--> (A);  A --u--> (R) (cycle);  A --v--> closed  => A and R PROVED, via v and t
    """
    tree = ProofTree(G("R"))
    a = tree.add_edge(tree.root, "t", ok("A")).children[0]
    tree.add_edge(a, "u", ok("R"))
    tree.add_edge(a, "v", Outcome.proved())
    assert tree.proved and a.proof_edge.tactic == "v"


def test_self_loop_is_a_cycle():
    tree = ProofTree(G("R"))
    loop = tree.add_edge(tree.root, "noop", ok("R"))
    assert loop.cycle
    tree.mark_exhausted(tree.root)
    assert tree.failed


def test_closing_outcome_with_subgoals_is_rejected():
    tree = ProofTree(G("R"))
    with pytest.raises(ValueError):
        tree.add_edge(tree.root, "t", Outcome(Outcome.proved().kind, (G("A"),)))
