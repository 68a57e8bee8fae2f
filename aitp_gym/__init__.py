"""aitp-gym: interactive theorem provers as Gymnasium environments.

``import aitp_gym`` registers the environments with string entry points, so it stays light: it
does not import lean_dojo, torch or start OCaml.
"""

from gymnasium.envs.registration import register, registry

from aitp_gym.attempt import ProofAttempt
from aitp_gym.backend import ProverBackend, Theorem
from aitp_gym.errors import AitpError, DependencyNotInstalled, ProverError, UnknownTheorem
from aitp_gym.proof import ProofStep, extract_proof, replay_proof
from aitp_gym.trace import TraceRecord, iter_traces, write_trace
from aitp_gym.tree import Edge, Goal, Outcome, OutcomeKind, ProofNode, ProofTree, Status

__version__ = "0.1.0"

if "SR-v0" not in registry:
    register(id="SR-v0", entry_point="aitp_gym.envs.sr.env:SymbolicRegressionEnv", max_episode_steps=64)
if "HOList-v0" not in registry:
    register(id="HOList-v0", entry_point="aitp_gym.envs.holist.env:HOListEnv", max_episode_steps=100,
             nondeterministic=True)
if "Lean-v0" not in registry:
    register(id="Lean-v0", entry_point="aitp_gym.envs.lean.env:LeanEnv", max_episode_steps=100,
             nondeterministic=True)

__all__ = [
    "AitpError", "DependencyNotInstalled", "Edge", "Goal", "Outcome", "OutcomeKind", "ProofAttempt",
    "ProofNode", "ProofStep", "ProofTree", "ProverBackend", "ProverError", "Status", "Theorem", "TraceRecord",
    "UnknownTheorem", "extract_proof", "iter_traces", "replay_proof", "write_trace",
]
