"""Conjecturer against prover on SR-v0 (``aitp_gym.envs.sr.game``): play N games between two scripted agents.

Agents (no learning here; each is a few lines, so swap in your own):

* conjecturers: ``random`` plays a uniformly random legal move (``info["legal_actions"]``: the rules, with SR-v0's
  default substitutions, that the rules accept, and ``submit``); ``careful`` plays random legal rules and, once its
  conjecture is valid, submits it with probability 0.3 at each step.
* provers: ``random`` plays a uniformly random legal tactic; ``greedy`` tries every legal tactic on its goal in its
  head (the rules are public and deterministic) and plays the one that proves, or else the one whose values come
  closest to the data (SR-v0's data-distance critic), never revisiting an expression.

Agents read only what their side may know: their ``info`` and, from ``env.unwrapped.game``, the conjecturer its
conjecture, the prover its SR-v0 goal (the data and its current expression, never the conjecture's expression).
Every move they make is legal, so the summary's count of error steps is 0. With ``--discrete`` the game is made
with ``discrete_actions=True`` and the moves are played as indices into ``env.unwrapped.action_names(agent)``, as
agents with a ``Discrete`` action space and an ``action_mask`` would.

    python examples/pettingzoo_sr_game.py --games 20 --conjecturer careful --prover greedy --seed 0
"""

from __future__ import annotations

import argparse
import collections
from collections.abc import Callable
from typing import Any

import numpy as np

from aitp_gym.envs.sr import expr as E
from aitp_gym.envs.sr.backend import DataDistanceCritic, SRBackend
from aitp_gym.envs.sr.game import CONJECTURER, PROVER, SUBMIT, conjecture_problem, env
from aitp_gym.tree import OutcomeKind

Agent = Callable[[Any, dict, np.random.Generator], str]  # (the unwrapped env, its info, its RNG) -> a move


def random_move(game_env: Any, info: dict, rng: np.random.Generator) -> str:
    legal = info["legal_actions"]
    return legal[rng.integers(len(legal))]


# ---------------------------------------------------------------------- conjecturers
def careful_conjecturer(game_env: Any, info: dict, rng: np.random.Generator) -> str:
    """Random legal rules; once the conjecture is valid, submits with probability 0.3 a step."""
    game = game_env.game
    size = game.settings.max_conjecture_size
    if conjecture_problem(game.conjecture, size) is None and (rng.random() < 0.3 or game.steps_left(CONJECTURER) == 1):
        return SUBMIT
    rules = [a for a in info["legal_actions"] if a != SUBMIT]
    return rules[rng.integers(len(rules))] if rules else SUBMIT


_BACKEND, _CRITIC = SRBackend(), DataDistanceCritic(size_penalty=0.05)


class GreedyProver:
    """One-ply lookahead: the tactic that proves, else the one closest to the data, never revisiting a goal."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, game_env: Any, info: dict, rng: np.random.Generator) -> str:
        game = game_env.game
        if game.proof_steps == 0:  # a new proof
            self.seen.clear()
        self.seen.add(game.goal.key)
        best, best_value = None, -1.0
        for tactic in info["legal_actions"]:
            outcome = _BACKEND.apply(game.goal, tactic)
            if outcome.kind is OutcomeKind.PROVED:
                return tactic
            if outcome.failed or outcome.subgoals[0].key in self.seen:
                continue
            value = _CRITIC.value(outcome.subgoals)[0]
            if value > best_value:
                best, best_value = tactic, value
        return best if best is not None else random_move(game_env, info, rng)


CONJECTURERS: dict[str, Callable[[], Agent]] = {"random": lambda: random_move, "careful": lambda: careful_conjecturer}
PROVERS: dict[str, Callable[[], Agent]] = {"random": lambda: random_move, "greedy": GreedyProver}


# ---------------------------------------------------------------------- the loop
def play(games: int, conjecturer: str, prover: str, seed: int, quiet: bool = False, discrete: bool = False,
         **settings: int) -> collections.Counter:
    game_env = env(discrete_actions=discrete, **settings)
    agents = {CONJECTURER: CONJECTURERS[conjecturer](), PROVER: PROVERS[prover]()}
    rngs = {CONJECTURER: np.random.default_rng([seed, 0]), PROVER: np.random.default_rng([seed, 1])}
    index = {agent: {name: i for i, name in enumerate(game_env.unwrapped.action_names(agent))} for agent in agents}
    tally: collections.Counter = collections.Counter()
    for i in range(games):
        game_env.reset(seed=seed + i)
        for agent in game_env.agent_iter():
            _observation, _reward, terminated, truncated, info = game_env.last()
            action = None if terminated or truncated else agents[agent](game_env.unwrapped, info, rngs[agent])
            if discrete and action is not None:
                action = index[agent][action]  # an index of Discrete(k); observation["action_mask"][action] is 1
            game_env.step(action)
            tally["error steps"] += action is not None and game_env.infos[agent].get("error", False)
        game = game_env.unwrapped.game
        invalid = game.reason.startswith("invalid")
        tally[game.winner] += 1
        tally["invalid"] += invalid
        if not quiet:
            print(f"game {i + 1}: f(x) = {E.to_str(game.conjecture):<28} -> {game.winner} wins ({game.reason})")
    return tally


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--games", type=int, default=10, help="number of games")
    parser.add_argument("--conjecturer", choices=sorted(CONJECTURERS), default="careful", help="conjecturer agent")
    parser.add_argument("--prover", choices=sorted(PROVERS), default="greedy", help="prover agent")
    parser.add_argument("--seed", type=int, default=0, help="seed of the agents' RNGs and of game i's reset (seed + i)")
    parser.add_argument("--max-conjecture-steps", type=int, default=8, help="the conjecturer's actions")
    parser.add_argument("--max-conjecture-size", type=int, default=16, help="most nodes in a conjecture")
    parser.add_argument("--max-proof-steps", type=int, default=16, help="the prover's actions")
    parser.add_argument("--discrete", action="store_true",
                        help="play with discrete_actions=True: moves as indices, with an action mask")
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    args = parser.parse_args(argv)
    if args.games < 1:
        parser.error("--games must be at least 1")
    settings = {"max_conjecture_steps": args.max_conjecture_steps, "max_conjecture_size": args.max_conjecture_size,
                "max_proof_steps": args.max_proof_steps}
    try:
        env(**settings)
    except ValueError as e:
        parser.error(str(e))
    tally = play(args.games, args.conjecturer, args.prover, args.seed, args.quiet, args.discrete, **settings)
    print(f"{args.conjecturer} conjecturer vs {args.prover} prover, {args.games} games: "
          f"prover wins {tally[PROVER]} ({tally[PROVER] / args.games:.0%}), "
          f"conjecturer wins {tally[CONJECTURER]} ({tally[CONJECTURER] / args.games:.0%}), "
          f"invalid conjectures {tally['invalid']}, error steps {tally['error steps']}")


if __name__ == "__main__":
    main()
