"""Conjecturer against prover: a two-player, zero-sum PettingZoo game on SR-v0, after Evariste's adversarial setup.

## Description
Two agents take turns in one game (an AEC environment, ``env()``; a Parallel one, ``parallel_env()``):

1. ``conjecturer_0`` builds a statement by forward steps. It starts from the expression ``0`` and applies SR-v0's
   rules, in SR-v0's tactic language (``init @0 A=x``, ``sin @1``, ``add @0 B=2``, see ``envs/sr/backend.py``),
   until it plays ``submit`` or its step budget runs out (then its expression is submitted as it stands).
2. ``prover_0`` then proves the conjecture as an SR-v0 theorem: from ``0``, reach the conjecture's values at SR-v0's
   20 points (``linspace(-10, 10, 20)``), with SR-v0 tactics, within its own step budget. As in SR-v0 the
   prover sees the values ``y``, not the conjecture's expression.

## Rules
* Every action spends one step of the acting agent's budget: an accepted rule, a rejected one, ``submit``.
* A conjecturer's rule is rejected (an error step; the expression stays as it was) when SR-v0 rejects it, when the
  expression would exceed ``max_conjecture_size`` nodes, or when its values would not all be finite with
  ``|value| <= 1e12`` at the 20 points. So every expression the conjecturer builds is finite everywhere, and the
  conjecturer's own accepted rules, replayed by the prover, are a proof of its conjecture.
* A submitted conjecture is valid when it is finite (and ``|value| <= 1e12``) at every point, has at most
  ``max_conjecture_size`` nodes, and is not 0 at every point (``np.isclose``, SR-v0's tolerances): the expression
  ``0`` itself, ``x - x`` or ``x * 0`` would be "proved" before the prover moves.
* An invalid conjecture ends the game at once: the prover wins.
* The prover wins when a tactic fits the conjecture's values (SR-v0's "proved"); the conjecturer wins when the
  prover's ``max_proof_steps`` run out first.

## Action Space
A tactic string, ``UnicodeText(512)`` (the project's ``Text`` space over Unicode). The conjecturer may also play
``submit``. Any other action, of any type (``None``, a number, random text sampled from the space, a tactic the
rules reject), is an error step: it spends a step, leaves the state as it was, puts the reason in
``info["message"]`` and ``info["error"] = True``; the game goes on. There is no extra penalty: the spent step is
the price, and the rewards stay zero-sum.

So ``env.action_space(agent).sample()`` plays random text, an error step. The legal moves, those that are not
error steps, are in ``infos[agent]["legal_actions"]`` (a list of strings, empty for the agent not to move): SR-v0's
candidate tactics (every rule at every position, with the default substitutions ``x``, ``1``, ``2``, ``3``) that
the rules accept, and ``submit`` for the conjecturer. A tactic with another substitution (``add @0 B=x*x``) is
legal too but not listed. ``env.unwrapped.candidate_actions(agent)`` lists the candidates before that check.

With ``discrete_actions=True`` the game follows PettingZoo's convention for legal moves, as in its classic games:
each agent's action space is ``Discrete(k)`` over a fixed list of actions, ``env.unwrapped.action_names(agent)``
(at each position ``0 .. p - 1`` the 33 candidate forms: ``init`` with each substitution, 13 unary rules, 4
binary rules with each substitution; then ``submit`` for the conjecturer), where ``p`` is ``max_conjecture_size``
for the conjecturer and ``2 * max_proof_steps - 3`` (at most 64) for the prover, enough for every expression it
can reach; and the observation has an ``action_mask`` (``int8``, 1 for a legal move, all 0 for the agent not to
move). PettingZoo's loop then plays legal moves only:
``action = env.action_space(agent).sample(observation["action_mask"])``. An index out of range, or anything but an
integer, is an error step; a masked index is played as its action (an error step if the rules reject it).

## Observation Space
``Dict(text=UnicodeText(4096), phase=Discrete(3), steps_left=Discrete(n + 1))`` for both agents, where ``n`` is the
larger budget, and with ``discrete_actions=True`` also ``action_mask=Box(0, 1, (k,), int8)``. ``phase`` is 0 while
the conjecturer builds, 1 while the prover proves, 2 when the game is over; ``steps_left`` is the agent's own
remaining budget. ``text`` is the conjecture with its values (conjecturer), or the SR-v0 goal
``f(x) = ... / y: ... / ŷ: ...`` (prover), and the result when the game is over.

The text sits in a ``Dict`` rather than being the observation itself because PettingZoo's ``api_test`` compares
``observation.dtype`` with the space's, and a Python ``str`` has no ``dtype``; the check looks only at a Dict's
``"observation"`` key, which this one has not.

## Rewards
Zero-sum, at the end only: +1 to the winner and -1 to the loser; 0 on every other step.

## Starting State
The conjecture ``0``, the conjecturer to move. The game itself draws nothing at random: ``reset(seed=s)`` seeds
``np_random`` and each agent's action space (``s`` for the conjecturer, ``s + 1`` for the prover), so agents that
sample from the spaces replay exactly. ``reset`` takes no options (PettingZoo's ``api_test`` passes a dummy one,
which is ignored).

## Episode End
* Termination, for both agents at once: a proof, the prover's budget spent, or an invalid conjecture.
* Truncation: never; the budgets bound every game at ``max_conjecture_steps + max_proof_steps`` actions.

## Arguments
| argument | default | meaning |
|---|---|---|
| ``max_conjecture_steps`` | 8 | the conjecturer's actions; at the budget its expression is submitted |
| ``max_conjecture_size`` | 16 | most nodes in a conjecture |
| ``max_proof_steps`` | 16 | the prover's actions |
| ``discrete_actions`` | False | ``Discrete`` actions over ``action_names(agent)``, with an ``action_mask`` |

With the defaults (``max_proof_steps >= max_conjecture_steps``) every valid conjecture has a proof within the
prover's budget, its own construction: the game is about finding it, as in Evariste.

>>> from aitp_gym.envs.sr.game import env as make_env
>>> game = make_env()
>>> game.reset(seed=0)
>>> for action in ["init @0 A=x", "sin @0", "submit", "init @0 A=x", "sin @0"]:
...     game.step(action)
>>> game.rewards
{'conjecturer_0': -1.0, 'prover_0': 1.0}

## Parallel variant
Use ``parallel_env()``, not PettingZoo's ``aec_to_parallel(env())``: the conversion needs every agent to act once
per cycle, in order, and here the conjecturer acts several times in a row, then the prover. So the metadata says
``is_parallelizable: False`` and ``aec_to_parallel`` refuses (an ``AssertionError``); with the flag forced, its
first step would fail with "expects agents to step in a cycle". ``SRConjectureParallelEnv`` plays the same game
natively: each ``step(actions)`` uses the action of the agent to move (``phase`` 0: the conjecturer, 1: the
prover; ``info["to_move"]``) and ignores the other's. A missing action for the agent to move is an error step.
It takes ``discrete_actions=True`` too. (PettingZoo's ``turn_based_aec_to_parallel(raw_env())`` also passes
``parallel_api_test``, but raises ``KeyError`` when the agent to move has no action in the dict.)

## Version History
* v0 (``sr_conjecture_v0``): initial release. Since added, the default game unchanged: ``infos[agent]["legal_actions"]``
  and ``discrete_actions=True`` (a ``Discrete`` action space with an ``action_mask``).
* The module moved from ``aitp_gym.adversarial`` to ``aitp_gym.envs.sr.game`` (the game is SR-v0's); the old name
  still imports everything from here.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from aitp_gym.env import UnicodeText, truncate_text
from aitp_gym.envs.sr import expr as E
from aitp_gym.envs.sr.backend import (
    ATOL,
    BINARY_RULES,
    DEFAULT_POINTS,
    DEFAULT_SUBSTITUTIONS,
    MAX_EXPRESSION_SIZE,
    MAX_TACTIC_LENGTH,
    RTOL,
    UNARY_RULES,
    SRBackend,
    TacticError,
    apply_rule,
    candidate_tactics_for,
    make_theorem,
)
from aitp_gym.optional import require
from aitp_gym.tree import Goal, OutcomeKind

pettingzoo = require("pettingzoo", "the conjecturer-prover game (aitp_gym.envs.sr.game)")
_wrappers = require("pettingzoo.utils.wrappers", "the conjecturer-prover game (aitp_gym.envs.sr.game)")

CONJECTURER = "conjecturer_0"
PROVER = "prover_0"
AGENTS = (CONJECTURER, PROVER)
SUBMIT = "submit"
MAX_ABS_VALUE = 1e12
MAX_OBSERVATION_LENGTH = 4_096
_SUBSTITUTIONS = [E.parse(s) for s in DEFAULT_SUBSTITUTIONS]


class Phase(enum.IntEnum):
    CONJECTURE = 0
    PROOF = 1
    OVER = 2


@dataclass(frozen=True)
class GameSettings:
    """The budgets of one game."""

    max_conjecture_steps: int = 8
    """The conjecturer's actions (accepted, rejected or ``submit``); at the budget its expression is submitted."""
    max_conjecture_size: int = 16
    """Most nodes in a conjecture; a rule that would make it bigger is rejected."""
    max_proof_steps: int = 16
    """The prover's actions; without a proof by then the conjecturer wins."""

    def __post_init__(self) -> None:
        for name in ("max_conjecture_steps", "max_conjecture_size", "max_proof_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if self.max_conjecture_size > MAX_EXPRESSION_SIZE:
            raise ValueError(f"max_conjecture_size must be at most SR-v0's {MAX_EXPRESSION_SIZE} nodes, "
                             f"not {self.max_conjecture_size}")


# ---------------------------------------------------------------------- rules
def _value_problem(expr: E.Expr) -> str | None:
    values = E.evaluate(expr, DEFAULT_POINTS)
    bad = ~np.isfinite(values)
    if bad.any():
        return f"{E.to_str(expr)} is NaN or infinite at {int(bad.sum())} of {len(values)} points"
    if np.abs(values).max() > MAX_ABS_VALUE:
        return f"{E.to_str(expr)} exceeds {MAX_ABS_VALUE:g} in absolute value"
    return None


def extend_conjecture(expr: E.Expr, tactic: str, max_size: int) -> E.Expr:
    """The conjecture after ``tactic``, or ``TacticError`` with the reason the rules reject it."""
    new = apply_rule(expr, tactic)
    if E.size(new) > max_size:
        raise TacticError(f"{E.to_str(new)} would have {E.size(new)} nodes; a conjecture has at most {max_size}")
    problem = _value_problem(new)
    if problem is not None:
        raise TacticError(f"{problem}; every step of a conjecture must be finite at every point")
    return new


def conjecture_problem(expr: E.Expr, max_size: int) -> str | None:
    """Why ``expr`` is not a valid conjecture, or ``None`` if it is."""
    if E.size(expr) > max_size:
        return f"{E.to_str(expr)} has {E.size(expr)} nodes, more than {max_size}"
    problem = _value_problem(expr)
    if problem is not None:
        return problem
    if np.isclose(0.0, E.evaluate(expr, DEFAULT_POINTS), rtol=RTOL, atol=ATOL).all():
        return f"{E.to_str(expr)} is 0 at every point: the first goal would already be proved"
    return None


def rule_candidates(expr: E.Expr) -> list[str]:
    """Every rule at every position of ``expr``, with SR-v0's default substitutions (its ``candidate_tactics``)."""
    return candidate_tactics_for(expr)


def action_names(positions: int, submit: bool) -> list[str]:
    """The fixed action list of ``discrete_actions=True``: at each position ``0 .. positions - 1``, SR-v0's candidate
    forms (``init`` with each default substitution, every unary rule, every binary rule with each default
    substitution: 33 actions), then ``submit`` if ``submit``. Index ``i`` always names the same action."""
    out: list[str] = []
    for pos in range(positions):
        out.extend(f"init @{pos} A={s}" for s in DEFAULT_SUBSTITUTIONS)
        out.extend(f"{rule} @{pos}" for rule in UNARY_RULES)
        out.extend(f"{rule} @{pos} B={s}" for rule in BINARY_RULES for s in DEFAULT_SUBSTITUTIONS)
    return [*out, SUBMIT] if submit else out


def accepted_candidates(expr: E.Expr, x: np.ndarray, max_size: int,
                        acceptable: Callable[[np.ndarray], np.ndarray]) -> list[str]:
    """Those of ``rule_candidates(expr)`` (in its order) whose result has at most ``max_size`` nodes and values at
    ``x`` that ``acceptable`` passes (it maps a ``(k, len(x))`` array of k results' values to k booleans).

    The same as applying each candidate and evaluating the result, about 50 times faster: each node's values
    are computed once, and the candidates at one position are evaluated together, up the path to the root only."""
    nodes = E.subexpressions(expr)
    if any(n[0] not in ("x", "c") and n[0] not in E.UNARY and n[0] not in E.BINARY for n in nodes):
        return [t for t in rule_candidates(expr) if _accepted_one(expr, t, x, max_size, acceptable)]
    sizes = [E.size(n) for n in nodes]
    parent, kids = [-1] * len(nodes), [[] for _ in nodes]
    for pos, node in enumerate(nodes):
        child = pos + 1
        for _ in node[1:] if node[0] != "c" else ():
            parent[child] = pos
            kids[pos].append(child)
            child += sizes[child]
    with np.errstate(all="ignore"):
        values: list[np.ndarray] = [x] * len(nodes)
        for pos in reversed(range(len(nodes))):  # children after their parent in prefix order
            op = nodes[pos][0]
            if op == "c":
                values[pos] = np.full_like(x, float(nodes[pos][1]))
            elif op in E.UNARY:
                values[pos] = E.UNARY[op](values[kids[pos][0]])
            elif op in E.BINARY:
                values[pos] = E.BINARY[op](values[kids[pos][0]], values[kids[pos][1]])
        subs = [E.evaluate(sub, x) for sub in _SUBSTITUTIONS]
        out: list[str] = []
        for pos, node in enumerate(nodes):
            if node == E.ZERO:
                names = [f"init @{pos} A={s}" for s in DEFAULT_SUBSTITUTIONS]
                grown = [E.size(sub) - 1 for sub in _SUBSTITUTIONS]
                new = np.stack(subs)
            else:
                names = [f"{rule} @{pos}" for rule in UNARY_RULES]
                names += [f"{rule} @{pos} B={s}" for rule in BINARY_RULES for s in DEFAULT_SUBSTITUTIONS]
                grown = [1] * len(UNARY_RULES)
                grown += [1 + E.size(sub) for _ in BINARY_RULES for sub in _SUBSTITUTIONS]
                new = np.stack([E.UNARY[r](values[pos]) for r in UNARY_RULES] +
                               [E.BINARY[r](values[pos], v) for r in BINARY_RULES for v in subs])
            at = pos
            while parent[at] >= 0:  # the new values, up the path to the root
                up = parent[at]
                op = nodes[up][0]
                if op in E.UNARY:
                    new = E.UNARY[op](new)
                elif kids[up][0] == at:
                    new = E.BINARY[op](new, values[kids[up][1]])
                else:
                    new = E.BINARY[op](values[kids[up][0]], new)
                at = up
            ok = acceptable(new)
            out.extend(name for name, good, g in zip(names, ok, grown, strict=True)
                       if good and sizes[0] + g <= max_size)
    return out


def _accepted_one(expr: E.Expr, tactic: str, x: np.ndarray, max_size: int,
                  acceptable: Callable[[np.ndarray], np.ndarray]) -> bool:
    try:
        new = apply_rule(expr, tactic)
    except TacticError:
        return False
    return E.size(new) <= max_size and bool(acceptable(E.evaluate(new, x)[None])[0])


def _finite_and_bounded(values: np.ndarray) -> np.ndarray:
    """Per row: a conjecture's values, finite and at most ``MAX_ABS_VALUE`` in absolute value at every point."""
    return np.isfinite(values).all(axis=1) & (np.abs(values) <= MAX_ABS_VALUE).all(axis=1)


def _row(values: np.ndarray) -> str:
    return " ".join(f"{v:.4g}" for v in values.tolist())


class ConjectureGame:
    """The rules of one game, with no PettingZoo in them: whose move, ``play(action)``, result, views.

    ``conjecture`` is the expression so far; ``conjecture_script`` and ``proof_script`` are the accepted actions;
    ``goal`` is the prover's SR-v0 goal (during the proof). ``winner`` is an agent name once the game is over.
    """

    def __init__(self, settings: GameSettings | None = None) -> None:
        self.settings = settings or GameSettings()
        self._backend = SRBackend()
        self.reset()

    def reset(self) -> None:
        self.phase = Phase.CONJECTURE
        self.conjecture: E.Expr = E.ZERO
        self.conjecture_script: list[str] = []
        self.conjecture_steps = 0
        self.goal: Goal | None = None
        self.proof_script: list[str] = []
        self.proof_steps = 0
        self.winner: str | None = None
        self.reason = ""
        self.last: dict[str, tuple[str, bool]] = {}  # agent -> (message, error) of its last action
        self._legal: tuple[tuple[int, int, int], list[str]] | None = None  # legal_actions of one state

    # ------------------------------------------------------------------ state
    @property
    def to_move(self) -> str | None:
        return {Phase.CONJECTURE: CONJECTURER, Phase.PROOF: PROVER}.get(self.phase)

    def steps_left(self, agent: str) -> int:
        if agent == CONJECTURER:
            return self.settings.max_conjecture_steps - self.conjecture_steps
        return self.settings.max_proof_steps - self.proof_steps

    def rewards(self) -> dict[str, float]:
        if self.winner is None:
            return dict.fromkeys(AGENTS, 0.0)
        return {agent: 1.0 if agent == self.winner else -1.0 for agent in AGENTS}

    def candidate_actions(self, agent: str) -> list[str]:
        """The rules the agent can try now (default substitutions), and ``submit`` for the conjecturer."""
        if agent != self.to_move:
            return []
        if agent == CONJECTURER:
            return [*rule_candidates(self.conjecture), SUBMIT]
        return self._backend.candidate_tactics(self.goal)

    def legal_actions(self, agent: str) -> list[str]:
        """The agent's moves now that are not error steps (empty when it is not its turn): the candidate rules
        that the rules accept, and ``submit``, for the conjecturer; the candidate tactics that SR-v0 accepts for
        the prover (a move that proves among them)."""
        if agent != self.to_move:
            return []
        state = (int(self.phase), self.conjecture_steps, self.proof_steps)
        if self._legal is None or self._legal[0] != state:
            if agent == CONJECTURER:
                legal = [*accepted_candidates(self.conjecture, DEFAULT_POINTS, self.settings.max_conjecture_size,
                                              _finite_and_bounded), SUBMIT]
            else:
                goal = self.goal.data

                def acceptable(values: np.ndarray) -> np.ndarray:  # SR-v0: finite wherever the data is
                    return ~(~np.isfinite(values) & np.isfinite(goal.y)).any(axis=1)

                legal = accepted_candidates(goal.expr, goal.x, MAX_EXPRESSION_SIZE, acceptable)
            self._legal = (state, legal)
        return list(self._legal[1])

    # ------------------------------------------------------------------ moves
    def play(self, action: Any, refused: str | None = None) -> bool:
        """Play ``action`` for the agent to move; False when it was an error step (the reason in ``last``).
        With ``refused``, the action is an error step for that reason (the env's check of a discrete action)."""
        agent = self.to_move
        if agent is None:
            raise RuntimeError("the game is over: reset it")
        if refused is not None:
            tactic, problem = None, refused
        elif isinstance(action, str):
            tactic: str | None = str(action)  # np.str_ too
            problem = None
        else:
            tactic, problem = None, f"an action must be a tactic string, not {type(action).__name__}"
        if agent == CONJECTURER:
            self._conjecture_step(tactic, problem)
        else:
            self._proof_step(tactic, problem)
        return not self.last[agent][1]

    def _conjecture_step(self, tactic: str | None, problem: str | None) -> None:
        self.conjecture_steps += 1
        if tactic is not None and tactic.strip() == SUBMIT:
            self.last[CONJECTURER] = ("submitted", False)
            self._submit()
            return
        if tactic is not None:
            try:
                self.conjecture = extend_conjecture(self.conjecture, tactic, self.settings.max_conjecture_size)
                self.conjecture_script.append(tactic)
            except TacticError as e:
                problem = str(e)
        self.last[CONJECTURER] = (problem, True) if problem else (f"f(x) = {E.to_str(self.conjecture)}", False)
        if self.conjecture_steps >= self.settings.max_conjecture_steps:
            self._submit()

    def _submit(self) -> None:
        problem = conjecture_problem(self.conjecture, self.settings.max_conjecture_size)
        if problem is None:
            try:
                theorem = make_theorem(E.to_str(self.conjecture), theorem_id="sr-conjecture")
            except ValueError as e:  # the rules above are stricter than SR-v0's; kept as a safety net
                problem = str(e)
        if problem is not None:
            self._end(PROVER, f"invalid conjecture: {problem}")
            return
        self.goal = self._backend.start(theorem)
        self.phase = Phase.PROOF

    def _proof_step(self, tactic: str | None, problem: str | None) -> None:
        self.proof_steps += 1
        if tactic is not None:
            outcome = self._backend.apply(self.goal, tactic)
            if outcome.failed:
                problem = outcome.message
            else:
                self.proof_script.append(tactic)
                if outcome.kind is OutcomeKind.PROVED:
                    self.last[PROVER] = ("proved", False)
                    self._end(PROVER, f"proved in {self.proof_steps} step(s)")
                    return
                self.goal = outcome.subgoals[0]
        self.last[PROVER] = (problem, True) if problem else (self.goal.text.splitlines()[0], False)
        if self.proof_steps >= self.settings.max_proof_steps:
            self._end(CONJECTURER, f"not proved within {self.settings.max_proof_steps} steps")

    def _end(self, winner: str, reason: str) -> None:
        self.winner, self.reason, self.phase = winner, reason, Phase.OVER

    # ------------------------------------------------------------------ views
    def text(self, agent: str) -> str:
        """What ``agent`` reads: its own state, never the other's private one (the prover sees values only)."""
        s = self.settings
        if self.phase is Phase.OVER:
            return (f"game over: {self.winner} wins ({self.reason})\n"
                    f"conjecture: f(x) = {E.to_str(self.conjecture)}\n"
                    f"proof: {'; '.join(self.proof_script) or '(none)'}")
        if agent == CONJECTURER:
            lines = [f"conjecture: f(x) = {E.to_str(self.conjecture)} "
                     f"({E.size(self.conjecture)} of at most {s.max_conjecture_size} nodes)",
                     f"values: {_row(E.evaluate(self.conjecture, DEFAULT_POINTS))}"]
            if self.phase is Phase.CONJECTURE:
                lines.append(f"steps left: {self.steps_left(CONJECTURER)} of {s.max_conjecture_steps} "
                             f"(a rule such as 'sin @0' or 'add @0 B=x', or '{SUBMIT}')")
            else:
                lines.append(f"the prover has {self.steps_left(PROVER)} of {s.max_proof_steps} steps left")
            return "\n".join(lines)
        if self.phase is Phase.CONJECTURE:
            return (f"waiting: the conjecturer is building the statement "
                    f"(step {self.conjecture_steps + 1} of at most {s.max_conjecture_steps})")
        return f"{self.goal.text}\nsteps left: {self.steps_left(PROVER)} of {s.max_proof_steps}"

    def info(self, agent: str) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase.name.lower(), "to_move": self.to_move,
                               "steps_left": self.steps_left(agent), "legal_actions": self.legal_actions(agent)}
        if agent in self.last:
            out["message"], out["error"] = self.last[agent]
        if agent == CONJECTURER or self.phase is Phase.OVER:
            out["conjecture"] = E.to_str(self.conjecture)
            out["conjecture_script"] = list(self.conjecture_script)
        if self.phase is Phase.PROOF and agent == PROVER:
            out["goal_key"] = self.goal.key
        if self.phase is Phase.OVER:
            out.update(winner=self.winner, reason=self.reason, proof_script=list(self.proof_script))
        return out


# ---------------------------------------------------------------------- PettingZoo faces
class _GameFace:
    """What the AEC and Parallel environments share: settings, spaces, observations, rendering."""

    metadata = {"name": "sr_conjecture_v0", "render_modes": ["ansi", "human"], "is_parallelizable": False}

    def _setup(self, max_conjecture_steps: int, max_conjecture_size: int, max_proof_steps: int,
               render_mode: str | None, discrete_actions: bool) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, not {render_mode!r}")
        if not isinstance(discrete_actions, bool):
            raise ValueError(f"discrete_actions must be True or False, not {discrete_actions!r}")
        self.settings = GameSettings(max_conjecture_steps, max_conjecture_size, max_proof_steps)
        self.game = ConjectureGame(self.settings)
        self.render_mode = render_mode
        self.discrete_actions = discrete_actions
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        self.np_random, self.np_random_seed = seeding.np_random()
        most_steps = max(max_conjecture_steps, max_proof_steps)
        # discrete actions: the conjecturer's expression has at most max_conjecture_size nodes; the prover's grows
        # by at most 2 nodes an action from the single node 0, so before its last action it has 2 m - 3 or fewer
        self._names = {CONJECTURER: action_names(max_conjecture_size, submit=True),
                       PROVER: action_names(min(MAX_EXPRESSION_SIZE, max(1, 2 * max_proof_steps - 3)), submit=False)}
        self._index = {agent: {name: i for i, name in enumerate(names)} for agent, names in self._names.items()}
        self._observation_spaces = {}
        for agent in AGENTS:
            fields: dict[str, spaces.Space] = {"text": UnicodeText(MAX_OBSERVATION_LENGTH),
                                               "phase": spaces.Discrete(len(Phase)),
                                               "steps_left": spaces.Discrete(most_steps + 1)}
            if discrete_actions:
                fields["action_mask"] = spaces.Box(0, 1, (len(self._names[agent]),), np.int8)
            self._observation_spaces[agent] = spaces.Dict(fields)
        self._action_spaces: dict[str, spaces.Space] = {
            agent: spaces.Discrete(len(self._names[agent])) if discrete_actions else UnicodeText(MAX_TACTIC_LENGTH)
            for agent in AGENTS}

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._action_spaces[agent]

    def observe(self, agent: str) -> dict[str, Any]:
        out = {"text": truncate_text(self.game.text(agent), MAX_OBSERVATION_LENGTH), "phase": int(self.game.phase),
               "steps_left": self.game.steps_left(agent)}
        if self.discrete_actions:
            out["action_mask"] = self.action_mask(agent)
        return out

    def candidate_actions(self, agent: str) -> list[str]:
        """Actions worth trying for ``agent`` now (empty when it is not its turn), some of them error steps; a
        helper, not a mask. ``legal_actions`` keeps those that are not."""
        return self.game.candidate_actions(agent)

    def legal_actions(self, agent: str) -> list[str]:
        """The agent's moves now that are not error steps (empty when it is not its turn); also
        ``infos[agent]["legal_actions"]``."""
        return self.game.legal_actions(agent)

    def action_names(self, agent: str) -> list[str]:
        """What each index of the agent's ``Discrete`` action space plays, with ``discrete_actions=True``."""
        return list(self._names[agent])

    def action_mask(self, agent: str) -> np.ndarray:
        """1 at the indices of ``action_names(agent)`` that are legal now (all 0 when it is not the agent's turn)."""
        mask = np.zeros(len(self._names[agent]), np.int8)
        index = self._index[agent]
        mask[[index[a] for a in self.game.legal_actions(agent) if a in index]] = 1
        return mask

    def _play(self, action: Any) -> None:
        """The move of the agent to move: with discrete actions an index into its ``action_names``."""
        if not self.discrete_actions:
            self.game.play(action)
            return
        names = self._names[self.game.to_move]
        try:
            i = operator.index(action)
        except TypeError:
            i = None
        if isinstance(action, bool) or i is None or not 0 <= i < len(names):
            self.game.play(action, refused=f"with discrete_actions=True an action is an index from 0 to "
                                           f"{len(names) - 1} into action_names(agent), not {action!r:.60}")
        else:
            self.game.play(names[i])

    def _reset_game(self, seed: int | None) -> None:
        if seed is not None:
            self.np_random, self.np_random_seed = seeding.np_random(seed)
            for i, agent in enumerate(AGENTS):
                self._action_spaces[agent].seed(seed + i)
                self._observation_spaces[agent].seed(seed + i)
        self.game.reset()
        self.agents = list(AGENTS)

    def render(self) -> str | None:
        """Both agents' views; with ``render_mode="human"`` they are printed and None is returned."""
        text = "\n".join(f"-- {agent} --\n{self.game.text(agent)}" for agent in AGENTS)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        pass


class SRConjectureEnv(_GameFace, pettingzoo.AECEnv):
    """The game as an AEC environment (see the module docstring). ``env()`` wraps it in ``OrderEnforcingWrapper``."""

    def __init__(self, max_conjecture_steps: int = 8, max_conjecture_size: int = 16, max_proof_steps: int = 16,
                 render_mode: str | None = None, discrete_actions: bool = False) -> None:
        super().__init__()
        self._setup(max_conjecture_steps, max_conjecture_size, max_proof_steps, render_mode, discrete_actions)

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self._reset_game(seed)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {agent: self.game.info(agent) for agent in self.agents}
        self.agent_selection = CONJECTURER
        if self.render_mode == "human":
            self.render()

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)  # only None is accepted here, as everywhere in PettingZoo
            return
        self._cumulative_rewards[agent] = 0.0
        self._play(action)
        self.rewards = self.game.rewards()
        over = self.game.phase is Phase.OVER
        self.terminations = dict.fromkeys(self.agents, over)
        self.infos = {a: self.game.info(a) for a in self.agents}
        self.agent_selection = self.game.to_move or agent  # when over, each agent then steps None once
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()


class SRConjectureParallelEnv(_GameFace, pettingzoo.ParallelEnv):
    """The same game as a Parallel environment: each step takes the action of the agent to move."""

    def __init__(self, max_conjecture_steps: int = 8, max_conjecture_size: int = 16, max_proof_steps: int = 16,
                 render_mode: str | None = None, discrete_actions: bool = False) -> None:
        self._setup(max_conjecture_steps, max_conjecture_size, max_proof_steps, render_mode, discrete_actions)

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self._reset_game(seed)
        if self.render_mode == "human":
            self.render()
        return ({agent: self.observe(agent) for agent in self.agents},
                {agent: self.game.info(agent) for agent in self.agents})

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            return {}, {}, {}, {}, {}
        mover = self.game.to_move
        self._play(actions.get(mover))  # missing: None, an error step like any action that is not a move
        over = self.game.phase is Phase.OVER
        agents = self.agents
        result = ({a: self.observe(a) for a in agents}, self.game.rewards(), dict.fromkeys(agents, over),
                  dict.fromkeys(agents, False), {a: self.game.info(a) for a in agents})
        if over:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return result


def env(**kwargs: Any) -> Any:
    """The AEC game, wrapped as PettingZoo's own environments are (``OrderEnforcingWrapper``)."""
    return _wrappers.OrderEnforcingWrapper(SRConjectureEnv(**kwargs))


raw_env = SRConjectureEnv


def parallel_env(**kwargs: Any) -> SRConjectureParallelEnv:
    """The Parallel game."""
    return SRConjectureParallelEnv(**kwargs)
