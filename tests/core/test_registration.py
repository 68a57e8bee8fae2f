"""Registration (``aitp_gym/registration.py``): the one list of environments, their ``EnvTraits`` (defaults for
an id registered elsewhere), ``register_env`` with traits, and the lazy ``"module:attribute"`` entries. Importing
``aitp_gym`` registers the shipped envs with string entry points, so it imports neither torch nor lean_dojo."""

import subprocess
import sys

import gymnasium as gym
import pytest
from gymnasium.envs.registration import registry

import aitp_gym
from aitp_gym import registration
from aitp_gym.envs.sr.env import SymbolicRegressionEnv
from aitp_gym.envs.sr.features import SRFeaturiser, compact_view
from aitp_gym.registration import EnvTraits, env_ids, env_traits, provided, register_env, resolve


def test_env_ids_are_the_shipped_envs_sorted():
    assert env_ids() == sorted(env_ids()) and {"SR-v0", "HOList-v0", "Lean-v0"} <= set(env_ids())
    assert aitp_gym.env_ids is env_ids


def test_traits_of_the_shipped_envs_and_defaults_for_others():
    sr = env_traits("SR-v0")
    assert (sr.goal_view, sr.featuriser, sr.trace_codec) == ("sr", "sr", "aitp_gym.envs.sr.backend")
    assert sr.ground_truth_pairs == "aitp_gym.envs.sr.backend:ground_truth_pairs"
    defaults = EnvTraits()
    assert (defaults.goal_view, defaults.featuriser, defaults.trace_codec, defaults.ground_truth_pairs) == \
        ("full", "text", None, None) and dict(defaults.goal_views) == {} == dict(defaults.featurisers)
    holist = env_traits("HOList-v0")  # no compact view; human proof logs instead of a generator; an outcome cache
    assert (holist.goal_view, holist.featuriser, holist.trace_codec) == ("full", "text", None)
    assert holist.ground_truth_pairs == "aitp_gym.envs.holist.proof_logs:human_pairs"
    assert holist.proof_logs == "aitp_gym.envs.holist.proof_logs:prepare_proof_logs" and holist.outcome_cache
    assert env_traits("Lean-v0").proof_logs == "aitp_gym.envs.lean.benchmark:prepare_proof_logs"
    assert env_traits("CartPole-v1") == defaults  # registered by someone else


@pytest.fixture
def scratch_id():
    """An env id registered by the test, removed from Gymnasium's registry and aitp-gym's afterwards."""
    env_id = "ScratchSR-v0"
    yield env_id
    registry.pop(env_id, None)
    registration._TRAITS.pop(env_id, None)


def test_register_env_with_traits(scratch_id):
    traits = EnvTraits(goal_view="sr", featuriser="text", trace_codec="aitp_gym.envs.sr.backend")
    register_env(scratch_id, "aitp_gym.envs.sr.env:SymbolicRegressionEnv", traits, max_episode_steps=3)
    assert scratch_id in env_ids() and env_traits(scratch_id) is traits
    env = gym.make(scratch_id)
    assert isinstance(env.unwrapped, SymbolicRegressionEnv) and env.spec.max_episode_steps == 3
    register_env(scratch_id, "no.such.module:Nothing")  # registered with Gymnasium once; new traits replace the old
    assert registry[scratch_id].entry_point == "aitp_gym.envs.sr.env:SymbolicRegressionEnv"
    assert env_traits(scratch_id) == EnvTraits()


def test_lazy_entries_resolve_to_what_they_name():
    assert resolve("aitp_gym.envs.sr.features:SRFeaturiser") is SRFeaturiser
    assert provided("featurisers")["sr"] == "aitp_gym.envs.sr.features:SRFeaturiser"
    assert resolve(provided("goal_views")["sr"]) is compact_view
    with pytest.raises(ModuleNotFoundError):
        resolve("no_such_module_anywhere:x")


def test_import_is_light():
    code = ("import sys, aitp_gym, gymnasium as gym; gym.make('SR-v0'); "
            "bad = [m for m in ('torch', 'lean_dojo', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
