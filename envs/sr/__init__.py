"""SR-v0: symbolic regression as theorem proving, after Evariste's SR environment."""

from aitp_gym.envs.sr.backend import SRBackend, make_theorem, theorem_from_data, theorem_from_record
from aitp_gym.envs.sr.env import SymbolicRegressionEnv

__all__ = ["SRBackend", "SymbolicRegressionEnv", "make_theorem", "theorem_from_data", "theorem_from_record"]
