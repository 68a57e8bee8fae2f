"""The Gymnasium face of the symbolic-regression prover."""

from __future__ import annotations

from typing import Any

from aitp_gym.env import ProofEnv
from aitp_gym.envs.sr.backend import SRBackend
from aitp_gym.tree import ProofNode


class SymbolicRegressionEnv(ProofEnv):
    """
    ## Description
    Symbolic regression as theorem proving, after Evariste's SR environment (Lample et al. 2022).
    A theorem is a hidden target expression in one variable ``x``, known only by its values ``y``
    at sample points (by default 20 points in ``linspace(-10, 10, 20)``). Starting from the
    expression ``0``, rewrite rules build an expression until its values ``ŷ`` match ``y`` at every
    point (``np.isclose``, rtol 1e-5, atol 1e-8, NaN matching only NaN).

    ## Action Space
    A tactic string (``UnicodeText``): a rule at a position (nodes counted in prefix order), with a
    substitution for the variable that appears only on the rule's right-hand side:

    * ``init @0 A=x`` — ``0 -> A``, only on a constant 0;
    * ``sin @1`` — ``A -> f(A)`` for neg, exp, ln, pow2, inv, sqrt, sin, cos, tan, sinh, cosh, tanh, abs;
    * ``add @0 B=sin(x)`` — ``A -> A + B``, and sub, mul, div.

    ``B`` is a small expression (at most 7 nodes) in ``x`` with integer constants. Anything else
    is an error outcome with a message in ``info["message"]``; the episode goes on.

    ## Observation Space
    The goal text (``UnicodeText``)::

        f(x) = sin(x)
        y: ...      (target values)
        ŷ: ...      (current values)

    ``info`` carries the arrays ``x``, ``y`` and ``y_hat`` and the expression in prefix form. With
    more than 2,000 points the y and ŷ lines show the first 2,000 and then ``… (N more points)``;
    ``info`` always has every point.

    ## Rewards
    1 when the expression fits the data; otherwise ``-step_penalty`` (default 0).

    ## Starting State
    The expression ``0``, for a theorem drawn from ``split`` with the env's seeded RNG, or the one
    given by ``reset(options=...)``: ``{"theorem": id | index | Theorem}``,
    ``{"target": "x**3 + x", "points": array}`` or ``{"x": array, "y": array}``. ``"theorem"``
    cannot be combined with the others. ``theorem.data`` keeps x and y exactly, so
    ``theorem_from_record`` rebuilds the theorem from a trace header's ``theorem_data``.

    ## Episode End
    * Termination: the data is fitted (proved).
    * Truncation: ``max_episode_steps`` (64 by default, through ``TimeLimit``).

    A rule that makes ``ŷ`` NaN or infinite where ``y`` is finite is rejected as an error.

    ## Arguments
    | argument | default | meaning |
    |---|---|---|
    | ``split`` | ``"train"`` | theorem set that ``reset`` draws from (train, valid, test) |
    | ``step_penalty`` | ``0.0`` | subtracted from the reward at every step that does not prove |
    | ``tactic_timeout`` | ``None`` | accepted for a uniform CLI; SR steps take well under a millisecond |
    | ``max_episode_steps`` | ``64`` | ``TimeLimit`` truncation |

    >>> import gymnasium as gym, aitp_gym
    >>> env = gym.make("SR-v0")
    >>> obs, info = env.reset(seed=0, options={"target": "sin(x) + x"})
    >>> obs.splitlines()[0]
    'f(x) = 0'
    >>> obs, reward, terminated, truncated, info = env.step("init @0 A=x")
    >>> obs, reward, terminated, truncated, info = env.step("sin @0")
    >>> obs, reward, terminated, truncated, info = env.step("add @0 B=x")
    >>> reward, terminated
    (1.0, True)

    ## Version History
    * v0: initial release.
    """

    def __init__(self, split: str = "train", step_penalty: float = 0.0, tactic_timeout: float | None = None,
                 render_mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(SRBackend(), split=split, step_penalty=step_penalty, tactic_timeout=tactic_timeout,
                         render_mode=render_mode, **kwargs)

    def _goal_info(self, node: ProofNode) -> dict[str, Any]:
        state = node.goal.data
        # copies: users keep what they are given, and the arrays are shared by every goal of the tree
        return {"x": state.x.copy(), "y": state.y.copy(), "y_hat": state.y_hat.copy(), "expression": node.goal.key}
