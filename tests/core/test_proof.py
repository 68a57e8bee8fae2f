"""Proofs (``aitp_gym/proof.py``): the smallest proof extracted from the AND-OR tree, and replay on a prover."""

from aitp_gym.envs.sr.backend import SRBackend, make_theorem, proof_from_script
from aitp_gym.proof import extract_proof, replay_proof
from aitp_gym.tree import Goal, Outcome, ProofTree


def test_extract_picks_the_smallest_proof():
    """
    R --long--> (A);  A --a--> closed          (2 tactics)
    R --short--> closed                        (1 tactic)
    """
    tree = ProofTree(Goal("R"))
    a = tree.add_edge(tree.root, "long", Outcome.ok([Goal("A")])).children[0]
    tree.add_edge(a, "a", Outcome.proved())
    assert extract_proof(tree).tactics() == ["long", "a"]
    tree.add_edge(tree.root, "short", Outcome.proved())
    assert extract_proof(tree).tactics() == ["short"]


def test_extract_returns_none_when_unproved():
    assert extract_proof(ProofTree(Goal("R"))) is None


def test_replay_accepts_a_real_proof_and_rejects_tampered_ones():
    backend = SRBackend()
    theorem = make_theorem("sin(x) + x")
    good = proof_from_script(["init @0 A=x", "sin @0", "add @0 B=x"])
    assert replay_proof(backend, theorem, good) == (True, "")
    assert backend.check(theorem, good)[0]
    for script in (["init @0 A=x", "cos @0", "add @0 B=x"],  # wrong tactic: a goal is left open
                   ["init @0 A=x", "sin @0", "add @0 B=1"],  # wrong constant
                   ["init @0 A=x", "sin @0"],  # proof stops early
                   ["init @0 A=x", "sin @7", "add @0 B=x"]):  # bad position: an error on replay
        ok, why = backend.check(theorem, proof_from_script(script))
        assert not ok and why
