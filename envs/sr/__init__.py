"""SR-v0: symbolic regression as theorem proving, after Evariste's SR environment.

``aitp_gym.envs.sr.game`` is the conjecturer-against-prover PettingZoo game on SR-v0 (needs the ``pettingzoo``
extra, so it is not imported here).
"""

from aitp_gym.envs.sr.backend import (
    SRBackend,
    make_theorem,
    theorem_from_data,
    theorem_from_record,
    theorem_ids,
)
from aitp_gym.envs.sr.env import SymbolicRegressionEnv

__all__ = ["SRBackend", "SymbolicRegressionEnv", "make_theorem", "theorem_from_data", "theorem_from_record",
           "theorem_ids"]
