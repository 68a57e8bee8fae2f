"""aitp-gym: interactive theorem provers as Gymnasium environments.

``import aitp_gym`` registers the environments with string entry points, so it stays light: it
does not import lean_dojo, torch or start OCaml.
"""

from aitp_gym.attempt import ProofAttempt
from aitp_gym.backend import ProverBackend, Theorem
from aitp_gym.errors import AitpError, DependencyNotInstalled, ProverError, UnknownTheorem
from aitp_gym.proof import ProofStep, extract_proof, replay_proof
from aitp_gym.registration import EnvTraits, env_ids, env_traits, register_env
from aitp_gym.trace import TraceRecord, iter_traces, write_trace
from aitp_gym.tree import Edge, Goal, Outcome, OutcomeKind, ProofNode, ProofTree, Status

__version__ = "0.1.0"

register_env("SR-v0", "aitp_gym.envs.sr.env:SymbolicRegressionEnv", EnvTraits(
    goal_view="sr", featuriser="sr",
    goal_views={"sr": "aitp_gym.envs.sr.features:compact_view"},
    featurisers={"sr": "aitp_gym.envs.sr.features:SRFeaturiser"},
    trace_codec="aitp_gym.envs.sr.backend",
    ground_truth_pairs="aitp_gym.envs.sr.backend:ground_truth_pairs"), max_episode_steps=64)
register_env("HOList-v0", "aitp_gym.envs.holist.env:HOListEnv", EnvTraits(
    outcome_cache=True,
    proof_logs="aitp_gym.envs.holist.proof_logs:prepare_proof_logs",
    ground_truth_pairs="aitp_gym.envs.holist.proof_logs:human_pairs"), max_episode_steps=100, nondeterministic=True)
register_env("Lean-v0", "aitp_gym.envs.lean.env:LeanEnv", EnvTraits(
    proof_logs="aitp_gym.envs.lean.benchmark:prepare_proof_logs"), max_episode_steps=100, nondeterministic=True)

__all__ = [
    "AitpError", "DependencyNotInstalled", "Edge", "EnvTraits", "Goal", "Outcome", "OutcomeKind", "ProofAttempt",
    "ProofNode", "ProofStep", "ProofTree", "ProverBackend", "ProverError", "Status", "Theorem", "TraceRecord",
    "UnknownTheorem", "env_ids", "env_traits", "extract_proof", "iter_traces", "register_env", "replay_proof",
    "write_trace",
]
