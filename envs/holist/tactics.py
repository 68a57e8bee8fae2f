"""Fixed tactic vocabularies for HOList-v0, e.g. the action slots of ``aitp_gym.wrappers.DiscreteTacticWrapper``.

Pure Python over the grammar's tactic table (``envs/holist/grammar.py``): importing this starts no HOL Light.
"""

from __future__ import annotations

from aitp_gym.envs.holist.grammar import TACTICS, THMS


def atomic_tactics() -> list[str]:
    """Every tactic of the grammar that needs no argument (``ARITH_TAC``, ``CONJ_TAC``, ``DISCH_TAC``,
    ``INDUCT_TAC`` ...), then every one that takes a theorem list, with the empty list (``REWRITE_TAC []``,
    ``SIMP_TAC []``, ``ASM_MESON_TAC []`` ...), in the grammar's order. ``aitp_gym.wrappers.holist_atomic_tactics``
    is this function.

    Be aware of what this leaves out: no premise selection (no theorem names), no terms (no ``EXISTS_TAC``), so
    an agent over this vocabulary proves only what decision procedures, the basic rewrites and case splits
    prove. For premises, give the wrapper a ``TacticPolicy`` (``PolicyTactics``) or the backend's own
    enumerator, which adds the premises most similar to the goal (``BackendTactics``)."""
    atomic = [name for name, params in TACTICS.items() if not params]
    with_list = [f"{name} []" for name, params in TACTICS.items() if params == (THMS,)]
    return atomic + with_list
