"""Environments: each is registered once, with what the rest of aitp-gym needs to know about it.

``register_env`` registers a Gymnasium id (string entry point, so registering imports nothing) together with its
:class:`EnvTraits`: the goal view and ranker featuriser that fresh models use on it, the goal views and featurisers
it provides, the module that compresses its traces, and where its generator proofs come from. Every entry is a
``"module:attribute"`` string, imported on first use. The learners, models, trace reader and loop ask here instead
of naming an environment, so adding one is its ``envs/<name>/`` folder plus one ``register_env`` call (in
``aitp_gym/__init__.py`` for the shipped ones).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnvTraits:
    goal_view: str = "full"
    """The view of a goal that fresh models read on this env (``full``: the goal's text; or one of ``goal_views``)."""
    featuriser: str = "text"
    """The featuriser of a fresh ranker on this env (``text``: word tokens; or one of ``featurisers``)."""
    goal_views: Mapping[str, str] = field(default_factory=dict)
    """Goal views this env provides: name → ``"module:function"`` (goal text → what a model reads)."""
    featurisers: Mapping[str, str] = field(default_factory=dict)
    """Ranker featurisers this env provides: name → ``"module:Class"``."""
    trace_codec: str | None = None
    """A module that, imported, registers this env's trace text rebuilder and key replayer (``aitp_gym.trace``)."""
    ground_truth_pairs: str | None = None
    """``"module:function"``: ``function(split, limit=None)`` → ``(goal text, tactic)`` pairs along generator
    proofs, for ``model.pretrain_steps``; None when the env has no generator."""
    proof_logs: str | None = None
    """``"module:function"``: ``function(out=None, rebuild=False, progress=True, status=None, benchmark=None)`` builds
    the env's human proof logs of the train split as trace files and returns one line saying what they hold
    (``aitp prepare --proof-logs``); None when the env has none."""
    outcome_cache: bool = False
    """Whether the env takes an ``outcome_cache`` argument (a path: an SQLite file of tactic outcomes shared by
    processes, ``aitp_gym.outcome_cache``), which ``aitp loop``'s ``prove.outcome_cache`` and ``aitp prove
    --outcome-cache`` pass to it."""


_TRAITS: dict[str, EnvTraits] = {}


def register_env(env_id: str, entry_point: str, traits: EnvTraits | None = None, **gym_kwargs: Any) -> None:
    """Register ``env_id`` with Gymnasium (once) and its traits with aitp-gym."""
    from gymnasium.envs.registration import register, registry

    if env_id not in registry:
        register(id=env_id, entry_point=entry_point, **gym_kwargs)
    _TRAITS[env_id] = traits or EnvTraits()


def env_ids() -> list[str]:
    """The environments aitp-gym registered, sorted: the one list the CLI, the loop and the docs checks use."""
    return sorted(_TRAITS)


def env_traits(env_id: str) -> EnvTraits:
    """The traits of ``env_id``; an id registered elsewhere (a user's own Gymnasium env) gets the defaults."""
    return _TRAITS.get(env_id, EnvTraits())


def resolve(target: Any) -> Any:
    """``"module:attribute"`` → the attribute (importing the module); anything else (a class or a function
    registered directly) is returned as it is."""
    if not isinstance(target, str):
        return target
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def provided(kind: str) -> dict[str, str]:
    """Every ``goal_views`` or ``featurisers`` entry of every registered env: name → ``"module:attribute"``."""
    out: dict[str, str] = {}
    for traits in _TRAITS.values():
        out.update(getattr(traits, kind))
    return out
