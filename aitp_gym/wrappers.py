"""Gymnasium wrappers that make aitp-gym proof envs usable by off-the-shelf RL libraries (Stable-Baselines3).

A proof env (``ProofEnv``: SR-v0, HOList-v0, Lean-v0) takes tactic strings and returns goal text. Most RL
libraries want a ``Discrete`` action space and a ``Box`` observation. ``DiscreteTacticWrapper`` bridges the two:

* **Actions.** At every goal the wrapper fills ``k`` slots with candidate tactics from a pluggable
  ``TacticSource`` and exposes ``Discrete(k)``: action ``i`` applies the tactic in slot ``i``. Sources:
  ``BackendTactics`` (the backend's ``candidate_tactics`` enumerator), ``FixedTactics`` (a fixed vocabulary,
  e.g. HOList-v0's ``aitp_gym.envs.holist.tactics.atomic_tactics()``) and ``PolicyTactics`` (the top ``k`` of
  a ``TacticPolicy``).
* **Action mask.** Slots beyond the candidates are empty. ``action_masks()`` (what sb3-contrib's
  ``MaskablePPO`` calls, through ``get_wrapper_attr`` or a VecEnv's ``env_method``) and ``info["action_mask"]``
  (int8, for ``action_space.sample(mask=...)``) mark the filled slots. The mask says only which slots hold a
  tactic, not whether the prover will accept it: that takes running the tactic. Choosing an empty slot never
  crashes: the prover is not called, the goal stays, the reward is ``-invalid_action_penalty`` and
  ``info["invalid_action"]`` is True with the reason in ``info["message"]``; the episode goes on.
* **Observations.** A float32 vector: ``HashingFeaturiser`` (signed hashing of character n-grams of the goal
  text, L2-normalised) by default, or any ``encoder(goal) -> array`` with a ``dim``.

``TheoremSubset`` restricts the theorems that ``reset()`` draws, e.g. to a curriculum of easy ones, since RL
libraries reset without options. ``PotentialShaping`` adds a critic's potential-based shaping to the sparse
proof reward (optional; the example and tests do not use it).

Nothing here knows a particular env. Env-specific helpers live with their env and are importable from here too,
under their old names, for compatibility (imported only when first used): ``sr_theorem_ids`` is
``aitp_gym.envs.sr.theorem_ids`` and ``holist_atomic_tactics`` is ``aitp_gym.envs.holist.tactics.atomic_tactics``.

>>> import gymnasium as gym, aitp_gym
>>> from aitp_gym.wrappers import DiscreteTacticWrapper
>>> env = DiscreteTacticWrapper(gym.make("SR-v0"), k=64)
>>> obs, info = env.reset(seed=0, options={"target": "sin(x)"})
>>> obs.shape, int(env.action_masks().sum())
((256,), 4)
>>> env.tactics
['init @0 A=x', 'init @0 A=1', 'init @0 A=2', 'init @0 A=3']
>>> obs, reward, terminated, truncated, info = env.step(0)
>>> obs, reward, terminated, truncated, info = env.step(env.tactics.index("sin @0"))
>>> reward, terminated
(1.0, True)
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, SupportsFloat, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from aitp_gym.backend import SupportsCandidates, Theorem
from aitp_gym.policy import TacticPolicy
from aitp_gym.tree import Goal

# Env-specific helpers that used to be defined here, re-exported lazily: name -> (module, attribute). Importing
# this module imports no env; the first use of one of these names imports its env's module.
_MOVED = {
    "sr_theorem_ids": ("aitp_gym.envs.sr", "theorem_ids"),
    "holist_atomic_tactics": ("aitp_gym.envs.holist.tactics", "atomic_tactics"),
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module, attribute = _MOVED[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value  # once found, an ordinary module attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_MOVED})


# ---------------------------------------------------------------------- tactic sources
@runtime_checkable
class TacticSource(Protocol):
    """Goal → at most ``k`` tactic strings, one per action slot, in a stable order (slot ``i`` is the ``i``-th)."""

    def __call__(self, goal: Goal, k: int) -> Sequence[str]:
        ...


class BackendTactics:
    """The backend's own enumerator (``backend.candidate_tactics(goal)``), truncated to its first ``k``.

    Slot ``i`` is the ``i``-th tactic in the backend's enumeration order, so what a slot means is the backend's
    to say (SR-v0's order: ``aitp_gym.envs.sr.backend.candidate_tactics_for``).
    """

    def __init__(self, backend: object) -> None:
        if not isinstance(backend, SupportsCandidates):
            raise TypeError(f"{type(backend).__name__} cannot enumerate tactics: give DiscreteTacticWrapper a "
                            "fixed vocabulary (a list of tactic strings) or a TacticPolicy as `tactics`")
        self._enumerate = backend.candidate_tactics

    def __call__(self, goal: Goal, k: int) -> list[str]:
        return list(self._enumerate(goal))[:k]


class FixedTactics:
    """The same tactics at every goal: slot ``i`` is always ``vocabulary[i]``.

    Every slot is always offered (the mask is all ones): which of them apply is only known by running them, and
    a tactic that does not apply is an ordinary error step. HOList-v0's: ``aitp_gym.envs.holist.tactics``.
    """

    def __init__(self, vocabulary: Sequence[str]) -> None:
        if isinstance(vocabulary, str) or not vocabulary or not all(isinstance(t, str) for t in vocabulary):
            raise ValueError("a tactic vocabulary must be a non-empty list of tactic strings")
        self.vocabulary = tuple(vocabulary)

    def __call__(self, goal: Goal, k: int) -> list[str]:
        return list(self.vocabulary[:k])


class PolicyTactics:
    """The top ``k`` proposals of a ``TacticPolicy``, best first: slot ``i`` is the policy's ``i``-th choice.

    Slots then mean ranks, not tactics, so the agent learns which rank to trust at which goal (a re-ranker)."""

    def __init__(self, policy: TacticPolicy) -> None:
        self.policy = policy

    def __call__(self, goal: Goal, k: int) -> list[str]:
        proposals = self.policy.propose([goal], k)[0]
        out: list[str] = []
        for tactic, _ in proposals:  # a policy may propose a tactic twice (sampling): one slot each
            if tactic not in out:
                out.append(tactic)
        return out[:k]


# ---------------------------------------------------------------------- observations
class HashingFeaturiser:
    """Goal text → a fixed-size float32 vector: character n-grams hashed with a sign into ``dim`` buckets
    (the hashing trick), counts damped with ``log1p``, then L2-normalised, so every value is in [-1, 1].

    The hash is a polynomial over Unicode code points, the same in every process and on every machine (Python's
    ``hash`` of a string is salted per process). Works on any prover's text (``⊢``, ``∀``, ``ŷ``)."""

    def __init__(self, dim: int = 256, ngrams: Sequence[int] = (1, 2, 3, 4)) -> None:
        if not isinstance(dim, int) or dim < 2:
            raise ValueError(f"dim must be an integer of at least 2, not {dim!r}")
        if not ngrams or any(not isinstance(n, int) or n < 1 for n in ngrams):
            raise ValueError(f"ngrams must be positive integers, not {ngrams!r}")
        self.dim = dim
        self.ngrams = tuple(ngrams)
        self.observation_space = spaces.Box(-1.0, 1.0, (dim,), np.float32)

    def __call__(self, goal: Goal | str) -> np.ndarray:
        text = goal if isinstance(goal, str) else goal.text
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
        counts = np.zeros(self.dim, dtype=np.float64)
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as a hash should
            for n in self.ngrams:
                if len(codes) < n:
                    continue
                h = np.full(len(codes) - n + 1, np.uint64(n) * np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
                for j in range(n):
                    h = (h ^ codes[j:len(codes) - n + 1 + j]) * np.uint64(0x100000001B3)
                h ^= h >> np.uint64(29)
                h *= np.uint64(0xBF58476D1CE4E5B9)
                h ^= h >> np.uint64(32)
                bucket = (h % np.uint64(self.dim)).astype(np.int64)
                sign = np.where((h >> np.uint64(63)) == 0, 1.0, -1.0)
                np.add.at(counts, bucket, sign)
        features = np.sign(counts) * np.log1p(np.abs(counts))
        norm = float(np.linalg.norm(features))
        if norm > 0:
            features /= norm
        return features.astype(np.float32)


# ---------------------------------------------------------------------- the wrapper
DEFAULT_SLOTS = 64  # k when the slots do not come from a fixed vocabulary

class DiscreteTacticWrapper(gym.Wrapper[np.ndarray, np.int64, str, str], gym.utils.RecordConstructorArgs):
    """A proof env with ``Discrete(k)`` actions over candidate tactics and ``Box`` observations (for SB3).

    ## Action Space
    ``Discrete(k)``: action ``i`` applies ``self.tactics[i]``, the tactic in slot ``i`` at the current goal.
    ``k`` defaults to the vocabulary's size for a fixed vocabulary, else to ``DEFAULT_SLOTS`` (64).
    ``tactics`` sets where the slots come from: ``None`` (the backend's ``candidate_tactics``), a list of
    tactic strings (a fixed vocabulary), a ``TacticPolicy`` (its top ``k``), or any ``TacticSource``
    (``source(goal, k) -> list[str]``). Slots beyond the candidates are empty, and ``action_masks()`` /
    ``info["action_mask"]`` (int8) say which are filled.

    ## Observation Space
    ``Box(dim,)`` float32: ``encoder(goal)``. The default is ``HashingFeaturiser(256)`` of the goal text. A
    custom encoder takes the focused ``Goal`` (``text``, ``key`` and the prover's ``data``, e.g. SR-v0's arrays)
    and needs a ``dim`` (or an ``observation_space``).

    ## Rewards
    The wrapped env's (1 when proved, else ``-step_penalty``); ``-invalid_action_penalty`` for an empty slot.

    ## Episode End
    ``terminated`` and ``truncated`` come from the wrapped env unchanged. An empty slot calls no prover, so the
    wrapped env's ``TimeLimit`` does not see it; the wrapper counts every step itself and truncates at
    ``max_episode_steps`` (default: the wrapped env's spec, e.g. 64 for SR-v0), so an agent that keeps choosing
    empty slots still reaches the end of its episode.

    ## Info
    The wrapped env's info plus ``action_mask`` (int8, k), ``tactics`` (the slots' tactics), ``tactic`` (the one
    applied, or None) and ``invalid_action`` (True for an empty or out-of-range slot, with ``message``).
    """

    def __init__(self, env: gym.Env, k: int | None = None,
                 tactics: TacticSource | TacticPolicy | Sequence[str] | None = None,
                 encoder: Callable[[Goal], np.ndarray] | None = None, invalid_action_penalty: float = 0.1,
                 max_episode_steps: int | None = None) -> None:
        # recorded in env.spec, so that gym.make(env.spec) (and gymnasium's check_env) rebuilds the wrapper too
        gym.utils.RecordConstructorArgs.__init__(self, k=k, tactics=tactics, encoder=encoder,
                                                 invalid_action_penalty=invalid_action_penalty,
                                                 max_episode_steps=max_episode_steps)
        super().__init__(env)
        if not hasattr(env.unwrapped, "attempt"):
            raise TypeError(f"DiscreteTacticWrapper wraps aitp-gym proof envs (ProofEnv), not "
                            f"{type(env.unwrapped).__name__}")
        if isinstance(tactics, Sequence) and not isinstance(tactics, str):
            self.source: TacticSource = FixedTactics(tactics)
            k = len(self.source.vocabulary) if k is None else k
        elif tactics is None:
            self.source = BackendTactics(env.unwrapped.backend)
        elif isinstance(tactics, TacticPolicy):
            self.source = PolicyTactics(tactics)
        elif callable(tactics):
            self.source = tactics
        else:
            raise TypeError(f"tactics must be None, a list of tactic strings, a TacticPolicy or a callable "
                            f"(goal, k) -> tactics, not {type(tactics).__name__}")
        k = DEFAULT_SLOTS if k is None else k
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, not {k!r}")
        self.k = int(k)
        self.encoder = encoder if encoder is not None else HashingFeaturiser()
        space = getattr(self.encoder, "observation_space", None)
        if space is None:
            dim = getattr(self.encoder, "dim", None)
            if not isinstance(dim, (int, np.integer)) or dim < 1:
                raise ValueError("a custom encoder needs a positive integer `dim` (or an `observation_space`)")
            space = spaces.Box(-np.inf, np.inf, (int(dim),), np.float32)
        self.observation_space = space
        self.action_space = spaces.Discrete(self.k)
        if invalid_action_penalty < 0 or not math.isfinite(invalid_action_penalty):
            raise ValueError(f"invalid_action_penalty must be a finite number >= 0, not {invalid_action_penalty!r}")
        self.invalid_action_penalty = float(invalid_action_penalty)
        spec = getattr(env, "spec", None)
        self.max_episode_steps = max_episode_steps if max_episode_steps is not None else (
            spec.max_episode_steps if spec is not None else None)
        self.tactics: list[str] = []
        self._mask = np.zeros(self.k, dtype=np.int8)
        self._obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        self._info: dict[str, Any] = {}
        self._elapsed = 0
        self._ended = False

    # ------------------------------------------------------------------ sb3-contrib's MaskablePPO
    def action_masks(self) -> np.ndarray:
        """Which slots hold a tactic (bool, length ``k``). All False once the episode has ended."""
        return self._mask.astype(bool)

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self.action_space.seed(seed)
        _, info = self.env.reset(seed=seed, options=options)
        self._elapsed = 0
        self._ended = False
        self._refresh()
        self._info = {**info, **self._slot_info(None)}
        return self._obs.copy(), _fresh(self._info)

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        self._elapsed += 1
        slot = _slot(action)
        if slot is None or not 0 <= slot < self.k or not self._mask[slot]:
            return self._invalid(action, slot)
        tactic = self.tactics[slot]
        _, reward, terminated, truncated, info = self.env.step(tactic)
        self._ended = bool(terminated or truncated)
        if not self._ended and self.max_episode_steps is not None and self._elapsed >= self.max_episode_steps:
            truncated = self._ended = True
        self._refresh()
        self._info = {**info, **self._slot_info(tactic), "invalid_action": False}
        return self._obs.copy(), reward, bool(terminated), bool(truncated), _fresh(self._info)

    # ------------------------------------------------------------------ helpers
    def _invalid(self, action: Any, slot: int | None) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """An empty or impossible slot: no prover call, same goal, a penalty, and a message saying why."""
        if slot is None:
            why = f"action {action!r} is not a slot number: give an integer in 0..{self.k - 1}"
        elif not 0 <= slot < self.k:
            why = f"slot {slot} is out of range: there are {self.k} slots, 0..{self.k - 1}"
        elif self._ended:
            why = f"slot {slot}: the episode has ended, call reset()"
        else:
            why = (f"slot {slot} is empty: this goal has {int(self._mask.sum())} candidate tactic(s); "
                   "choose a slot where action_masks() is True")
        truncated = (not self._ended and self.max_episode_steps is not None
                     and self._elapsed >= self.max_episode_steps)
        self._ended = self._ended or truncated
        # a copy: users keep what they are given, and the next invalid step starts from the same info
        info = {**_fresh(self._info), "invalid_action": True, "message": why, "error": True, "tactic": None}
        for key in ("outcome", "no_progress"):
            info.pop(key, None)
        return self._obs.copy(), -self.invalid_action_penalty, False, truncated, info

    def _refresh(self) -> None:
        """The slots, mask and features of the focused goal (the root once the proof is over)."""
        inner = self.env.unwrapped
        node = inner.focus
        goal = (node or inner.attempt.root).goal
        self.tactics = [] if node is None or self._ended else list(self.source(goal, self.k))[:self.k]
        self._mask = np.zeros(self.k, dtype=np.int8)
        self._mask[:len(self.tactics)] = 1
        self._obs = np.asarray(self.encoder(goal), dtype=np.float32).reshape(self.observation_space.shape)

    def _slot_info(self, tactic: str | None) -> dict[str, Any]:
        return {"action_mask": self._mask.copy(), "tactics": list(self.tactics), "tactic": tactic}


def _fresh(info: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``info`` that shares no mutable array, list or dict with it: users keep what they are given
    (gymnasium's check_env checks it), and the next invalid step starts again from the same info. Cheaper than
    ``deepcopy``, which walks every tactic string of the slots."""
    return {k: v.copy() if isinstance(v, np.ndarray) else list(v) if isinstance(v, list)
            else _fresh(v) if isinstance(v, dict) else v for k, v in info.items()}


def _slot(action: Any) -> int | None:
    """An action as a slot number, or None if it is not an integer (a 0-d or one-element array counts)."""
    if isinstance(action, (bool, np.bool_)):
        return None
    if isinstance(action, np.ndarray) and action.size == 1 and np.issubdtype(action.dtype, np.integer):
        return int(action.reshape(()))
    if isinstance(action, (int, np.integer)):
        return int(action)
    return None


class TheoremSubset(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """``reset()`` without a theorem draws from ``theorems`` (ids or ``Theorem``s) instead of the whole split.

    RL libraries reset without options, so this is how to train on a curriculum (e.g. SR-v0's difficulty 1-2
    train theorems) or evaluate on a held-out list. The draw uses the wrapper's own generator, seeded by
    ``reset(seed=...)``; ``reset(options=...)`` with any options passes them through unchanged."""

    def __init__(self, env: gym.Env, theorems: Sequence[str | Theorem]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, theorems=theorems)
        super().__init__(env)
        if isinstance(theorems, str) or not theorems:
            raise ValueError("theorems must be a non-empty list of theorem ids or Theorems")
        self.theorems = list(theorems)
        self._rng, _ = seeding.np_random(None)

    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self._rng, _ = seeding.np_random(seed)
        if not options:
            options = {"theorem": self.theorems[int(self._rng.integers(len(self.theorems)))]}
        return self.env.reset(seed=seed, options=options)


class PotentialShaping(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds ``gamma * V(next goal) - V(goal)`` to every reward, with ``V`` a ``Critic`` (Ng et al. 1999).

    A proof's reward comes once, at the end, so an agent that has not proved anything yet learns nothing; a
    critic that scores goals (SR-v0's own: how close ŷ is to the data) gives a signal at every step. Shaping by
    a potential does not change which policies are optimal: over an episode the added terms sum to
    ``-V(first goal)`` plus discounted differences, and the value of a finished episode (proved or failed) is 0.
    The default critic is the backend's own (``aitp_gym.policy.default_critic``); ``ConstantCritic`` adds only
    ``(gamma - 1) * value`` per step. ``info["proof_reward"]`` keeps the unshaped reward and ``info["shaping"]``
    the term added. Set ``gamma`` to the learner's discount."""

    def __init__(self, env: gym.Env, critic: Any = None, gamma: float = 0.99) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, critic=critic, gamma=gamma)
        super().__init__(env)
        from aitp_gym.policy import default_critic

        self.critic = critic if critic is not None else default_critic(env.unwrapped.backend)
        self.gamma = float(gamma)
        self._potential = 0.0

    def _value(self) -> float:
        node = self.env.unwrapped.focus
        return 0.0 if node is None else float(self.critic.value([node.goal])[0])

    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None) -> tuple[Any, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._potential = self._value()
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        after = 0.0 if terminated else self._value()
        shaping = self.gamma * after - self._potential
        self._potential = after
        return obs, float(reward) + shaping, terminated, truncated, {**info, "proof_reward": reward,
                                                                     "shaping": shaping}

