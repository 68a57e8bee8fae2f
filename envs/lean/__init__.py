"""Lean-v0: Lean 4 through lean_dojo, as a Gymnasium environment. Importing this package imports neither
lean_dojo nor Lean; they are needed only when a proof starts."""

from aitp_gym.envs.lean.backend import LeanBackend, LeanGoalRef, proof_script, split_goals
from aitp_gym.envs.lean.benchmark import PremiseCorpus, load_split, theorem_from_record
from aitp_gym.envs.lean.env import LeanEnv

__all__ = ["LeanBackend", "LeanEnv", "LeanGoalRef", "PremiseCorpus", "load_split", "proof_script", "split_goals",
           "theorem_from_record"]
