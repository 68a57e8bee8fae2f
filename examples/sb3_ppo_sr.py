"""Train sb3-contrib's MaskablePPO on SR-v0's easy theorems and compare its proof rate with a random policy.

    python examples/sb3_ppo_sr.py                      # about a minute on one CPU core
    python examples/sb3_ppo_sr.py --timesteps 50000 --theorems 32
    tensorboard --logdir runs/sb3                      # rollout/ep_rew_mean, train/entropy_loss, ...

The env is SR-v0 behind ``DiscreteTacticWrapper``: ``Discrete(64)`` actions over the backend's enumerated
tactics (every rule at every position), the empty slots masked, and the goal text hashed into 256 features.
``TheoremSubset`` makes ``reset()`` draw from a small list of difficulty-1 train theorems (one operator, e.g.
``cosh(3)`` or ``3 + x``), since SB3 resets without options.

Both figures are proof rates on the training theorems: the fraction of episodes of ``--max-steps`` tactics that
prove the theorem, for the trained policy (greedy, one episode per theorem: it is deterministic) and for a
uniform choice among the filled slots (``--random-episodes`` episodes per theorem). The same rates on as many
unseen difficulty-1/2 theorems are printed for information: at this budget PPO learns its theorems, and
does not yet generalise to new ones.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

import aitp_gym  # noqa: F401  (registers SR-v0)
from aitp_gym.envs.sr import theorem_ids
from aitp_gym.optional import require
from aitp_gym.wrappers import DiscreteTacticWrapper, TheoremSubset


@dataclass
class Settings:
    """Command-line settings (each field is a ``--flag``)."""

    timesteps: int = 12_000
    """PPO environment steps."""
    theorems: int = 16
    """difficulty-1 train theorems to learn (a seeded sample)."""
    held_out: int = 24
    """unseen difficulty-1/2 train theorems to report rates on (not asserted)."""
    max_steps: int = 4
    """tactics per episode (TimeLimit); a difficulty-1 proof takes 2."""
    slots: int = 64
    """k, the size of the Discrete action space."""
    random_episodes: int = 10
    """episodes per theorem for the random policy's rate."""
    seed: int = 0
    """seed of the theorem sample, PPO and the random policy."""
    tensorboard_log: str | None = "runs/sb3"
    """TensorBoard directory ('' to switch it off)."""


def make_env(theorem_ids: Sequence[str], settings: Settings) -> DiscreteTacticWrapper:
    env = gym.make("SR-v0", max_episode_steps=settings.max_steps)
    return DiscreteTacticWrapper(TheoremSubset(env, theorem_ids), k=settings.slots)


def proof_rate(env: DiscreteTacticWrapper, theorem_ids: Sequence[str],
               choose: Callable[[np.ndarray, DiscreteTacticWrapper], int], episodes: int = 1, seed: int = 0) -> float:
    """The fraction of ``episodes`` episodes per theorem that end with the theorem proved."""
    proved = 0
    for i, theorem_id in enumerate(theorem_ids):
        for episode in range(episodes):
            obs, info = env.reset(seed=seed + 1000 * episode + i, options={"theorem": theorem_id})
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(choose(obs, env))
                done = terminated or truncated
            proved += bool(info["proved"])
    return proved / (len(theorem_ids) * episodes)


def pick_theorems(settings: Settings) -> tuple[list[str], list[str]]:
    """A seeded sample of difficulty-1 train theorems to learn, and unseen difficulty-1/2 ones to report on."""
    rng = np.random.default_rng(settings.seed)
    easy = theorem_ids("train", (1,))
    learn = [easy[i] for i in sorted(rng.choice(len(easy), settings.theorems, replace=False))]
    unseen = [t for t in theorem_ids("train", (1, 2)) if t not in set(learn)]
    held_out = [unseen[i] for i in sorted(rng.choice(len(unseen), settings.held_out, replace=False))]
    return learn, held_out


def run(settings: Settings) -> dict[str, float]:
    """Train, evaluate, print and return the rates (``ppo``, ``random``, ``ppo_held_out``, ``random_held_out``)."""
    torch = require("torch", "the SB3 example")
    maskable = require("sb3_contrib", "the SB3 example")
    torch.set_num_threads(1)
    learn, held_out = pick_theorems(settings)
    env = make_env(learn, settings)
    model = maskable.MaskablePPO("MlpPolicy", env, seed=settings.seed, n_steps=256, batch_size=64,
                                 learning_rate=1e-3, device="cpu", tensorboard_log=settings.tensorboard_log or None)
    t0 = time.perf_counter()
    model.learn(settings.timesteps, tb_log_name="maskable_ppo_sr")
    train_seconds = time.perf_counter() - t0

    def greedy(obs: np.ndarray, e: DiscreteTacticWrapper) -> int:
        return int(model.predict(obs, action_masks=e.action_masks(), deterministic=True)[0])

    rng = np.random.default_rng(settings.seed)

    def uniform(obs: np.ndarray, e: DiscreteTacticWrapper) -> int:
        return int(rng.choice(np.flatnonzero(e.action_masks())))

    evaluation = make_env(learn, settings)
    rates = {
        "ppo": proof_rate(evaluation, learn, greedy, seed=settings.seed),
        "random": proof_rate(evaluation, learn, uniform, settings.random_episodes, settings.seed),
    }
    if held_out:
        rates["ppo_held_out"] = proof_rate(evaluation, held_out, greedy, seed=settings.seed)
        rates["random_held_out"] = proof_rate(evaluation, held_out, uniform, settings.random_episodes, settings.seed)
    print(f"MaskablePPO, {settings.timesteps} steps in {train_seconds:.0f} s, on {len(learn)} difficulty-1 SR-v0 "
          f"theorems, {settings.max_steps} tactics per episode")
    print(f"proof rate on them:        PPO {rates['ppo']:.1%}   random {rates['random']:.1%}")
    if held_out:
        print(f"on {len(held_out)} unseen (d1-2): PPO {rates['ppo_held_out']:.1%}   "
              f"random {rates['random_held_out']:.1%}")
    if settings.tensorboard_log:
        print(f"TensorBoard: tensorboard --logdir {settings.tensorboard_log}")
    return rates


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Settings()
    docs = {"timesteps": "PPO environment steps", "theorems": "difficulty-1 train theorems to learn",
            "held_out": "unseen difficulty-1/2 theorems to report rates on", "max_steps": "tactics per episode",
            "slots": "k, the size of the Discrete action space", "random_episodes": "episodes per theorem for the "
            "random policy", "seed": "seed of the theorem sample, PPO and the random policy",
            "tensorboard_log": "TensorBoard directory ('' to switch it off)"}
    for name, help_ in docs.items():
        default = getattr(defaults, name)
        parser.add_argument("--" + name.replace("_", "-"), type=str if name == "tensorboard_log" else int,
                            default=default, help=f"{help_} (default: {default})")
    return Settings(**vars(parser.parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
