"""The learning loop: prove → traces → buffers → train → checkpoints → reload → evaluate, round after round.

``aitp loop CONFIG.yaml [--set key=value ...] [--resume RUN_DIR] [--ray [ADDRESS]]``

Round 0 evaluates the starting models (the model-free policy, a given checkpoint, or a policy pre-trained on SR-v0's
generator proofs). Every later round proves a slice of the train split with the current models, builds buffers
from this round's traces and a window of earlier rounds, trains the configured learners, saves checkpoints, reloads
them and evaluates on a fixed slice of the valid split at the same budget.

A run folder holds everything: ``config.yaml`` (as resolved), ``rounds/<r>/`` (traces, checkpoints, buffer
statistics), ``rounds.jsonl`` (one line per finished round), ``eval_theorems.txt`` (the held-out theorem ids, for
``aitp prove --theorems``) and ``tb/`` (TensorBoard, one event file). A round is built in
``rounds/<r>.partial/`` and renamed when it is complete, then recorded in ``rounds.jsonl``; ``--resume`` deletes
partial rounds and continues after the last recorded one, so a kill at any moment loses at most the unfinished
round and never counts one twice.

The package: ``config`` (the config dataclasses and ``check_before_work``), ``models`` (loading models and
``Models``, the current policy and critic and which ones a round proves with), ``workers`` (``ProverActor``, local
worker processes, Ray actors) and ``run`` (``Loop``).
"""

from aitp_gym.loop.config import (
    LearnConfig,
    LoopConfig,
    ModelConfig,
    ProveConfig,
    check_before_work,
    config_to_yaml,
    load_config,
)
from aitp_gym.loop.models import Models, load_critic, load_policy, quiet_transformers, resolve_goal_view
from aitp_gym.loop.run import ROUND_SCALARS, Loop
from aitp_gym.loop.workers import ProverActor

__all__ = ["ROUND_SCALARS", "LearnConfig", "Loop", "LoopConfig", "ModelConfig", "Models", "ProveConfig",
           "ProverActor", "check_before_work", "config_to_yaml", "load_config", "load_critic", "load_policy",
           "quiet_transformers", "resolve_goal_view"]
