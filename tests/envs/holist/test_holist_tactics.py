"""HOList-v0's fixed tactic vocabularies (``envs/holist/tactics.py``): ``atomic_tactics()``, the slots of
``DiscreteTacticWrapper`` on HOList-v0, built from the grammar alone (no HOL Light)."""

import ast
import subprocess
import sys

from aitp_gym.envs.holist.grammar import TACTICS, THMS, parse_tactic
from aitp_gym.envs.holist.tactics import atomic_tactics


def test_atomic_tactics_are_the_argument_free_ones_then_the_theorem_lists_empty():
    vocabulary = atomic_tactics()
    assert len(set(vocabulary)) == len(vocabulary)
    bare = [t for t in vocabulary if not t.endswith(" []")]
    listed = [t.removesuffix(" []") for t in vocabulary if t.endswith(" []")]
    assert vocabulary == bare + [f"{t} []" for t in listed]  # argument-free first, in the grammar's order
    assert bare == [name for name, params in TACTICS.items() if not params]
    assert listed == [name for name, params in TACTICS.items() if params == (THMS,)]
    assert {"ARITH_TAC", "CONJ_TAC", "DISCH_TAC", "INDUCT_TAC"} <= set(bare)
    assert {"REWRITE_TAC []", "SIMP_TAC []", "ASM_MESON_TAC []"} <= set(vocabulary)
    assert not any(t.startswith(("EXISTS_TAC", "MP_TAC")) for t in vocabulary)  # terms and theorems: left out


def test_holist_vocabulary_parses_against_the_grammar():
    for tactic in atomic_tactics():
        call = parse_tactic(tactic)
        assert str(call) == tactic or parse_tactic(str(call)) == call
        assert call.theorem_names() == []


def test_importing_the_vocabulary_starts_no_prover():
    code = ("import sys; from aitp_gym.envs.holist.tactics import atomic_tactics; atomic_tactics(); "
            "print(sorted(m for m in sys.modules if m.startswith('aitp_gym.envs.holist.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert ast.literal_eval(out) == ["aitp_gym.envs.holist.grammar", "aitp_gym.envs.holist.tactics"]
