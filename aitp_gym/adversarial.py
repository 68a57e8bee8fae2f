"""Moved: the conjecturer-against-prover PettingZoo game is SR-v0's, so it lives in ``aitp_gym.envs.sr.game``.

This name keeps working (``from aitp_gym.adversarial import env, parallel_env``); new code should import
``aitp_gym.envs.sr.game``. Like the game itself, importing this needs the ``pettingzoo`` extra.
"""

from aitp_gym.envs.sr.game import (
    AGENTS,
    CONJECTURER,
    MAX_ABS_VALUE,
    MAX_OBSERVATION_LENGTH,
    PROVER,
    SUBMIT,
    ConjectureGame,
    GameSettings,
    Phase,
    SRConjectureEnv,
    SRConjectureParallelEnv,
    accepted_candidates,
    action_names,
    conjecture_problem,
    env,
    extend_conjecture,
    parallel_env,
    raw_env,
    rule_candidates,
)

__all__ = ["AGENTS", "CONJECTURER", "MAX_ABS_VALUE", "MAX_OBSERVATION_LENGTH", "PROVER", "SUBMIT", "ConjectureGame",
           "GameSettings", "Phase", "SRConjectureEnv", "SRConjectureParallelEnv", "accepted_candidates",
           "action_names", "conjecture_problem", "env", "extend_conjecture", "parallel_env", "raw_env",
           "rule_candidates"]
