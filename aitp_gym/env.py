"""``ProofEnv``: a thin Gymnasium MDP over a ``ProverBackend`` and a ``ProofTree``."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from aitp_gym.attempt import ProofAttempt
from aitp_gym.backend import SPLITS, ProverBackend, Theorem
from aitp_gym.errors import UnknownTheorem
from aitp_gym.tree import Edge, ProofNode, ProofTree

DEFAULT_MAX_GOAL_LENGTH = 65_536
DEFAULT_MAX_TACTIC_LENGTH = 4_096


@functools.cache
def _bmp_charset() -> str:
    """Every printable character of the Basic Multilingual Plane, plus newline and tab."""
    chars = ["\n", "\t"]
    for cp in range(0x20, 0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if unicodedata.category(ch) not in ("Cc", "Cs", "Cn"):
            chars.append(ch)
    return "".join(chars)


class UnicodeText(spaces.Text):
    """A ``Text`` space over all of Unicode.

    Goals are not alphanumeric (``⊢``, ``∀``, ``ℕ``, ``ŷ``, and in Lean ``𝓝`` outside the BMP).
    Sampling draws from the printable characters of the BMP; ``contains`` accepts any string of
    characters that are not control characters (newline and tab are allowed) or surrogates.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=_bmp_charset(), seed=seed)

    def contains(self, x: Any) -> bool:
        if not isinstance(x, str) or not self.min_length <= len(x) <= self.max_length:
            return False
        return all(ch in self.character_set or (ch not in "\r\x0b\x0c" and ord(ch) >= 0x10000)
                   for ch in x)

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"


class ProofEnv(gym.Env[str, str]):
    """Prove one theorem per episode by applying tactic strings to the focused goal.

    Subclasses per prover add the Gymnasium docstring sections (see ``envs/sr/env.py``).

    * ``reset(seed, options={"theorem": Theorem | id | index})`` starts a proof; without a theorem
      one is drawn from ``split`` with the env's seeded RNG.
    * ``step(tactic)`` applies the tactic to the focused goal. The focus then moves to the next
      open goal depth-first, as in tactic mode. A rejected tactic leaves the focus where it was and
      puts the prover's message in ``info["message"]``; the episode goes on.
    * Reward: 1 when the theorem is proved, otherwise ``-step_penalty``. ``terminated``: proved, or
      no progress is possible (the root FAILED). ``truncated`` comes from ``TimeLimit``.
    * ``env.unwrapped.tree`` and ``env.unwrapped.expand(node, tactic)`` give planners the same tree.
    """

    metadata = {"render_modes": ["ansi", "human"]}

    def __init__(self, backend: ProverBackend, split: str = "train", step_penalty: float = 0.0,
                 tactic_timeout: float | None = None, max_goal_length: int = DEFAULT_MAX_GOAL_LENGTH,
                 max_tactic_length: int = DEFAULT_MAX_TACTIC_LENGTH, render_mode: str | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, not {render_mode!r}")
        self.backend = backend
        self.split = split
        self.step_penalty = float(step_penalty)
        self.tactic_timeout = tactic_timeout
        self.render_mode = render_mode
        self.max_goal_length = max_goal_length
        self.observation_space = UnicodeText(max_goal_length)
        self.action_space = UnicodeText(max_tactic_length)
        self.attempt: ProofAttempt | None = None
        self._focus_stack: list[ProofNode] = []

    # ------------------------------------------------------------------ planner access
    @property
    def tree(self) -> ProofTree:
        if self.attempt is None:
            raise RuntimeError("call reset() before using the proof tree")
        return self.attempt.tree

    def expand(self, node: ProofNode, tactic: str, logprob: float = 0.0) -> Edge:
        if self.attempt is None:
            raise RuntimeError("call reset() before expanding goals")
        return self.attempt.apply_tactic(node, tactic, logprob)

    @property
    def focus(self) -> ProofNode | None:
        return self._focus_stack[-1] if self._focus_stack else None

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        theorem = self._choose_theorem(dict(options or {}))
        self.attempt = ProofAttempt(self.backend, theorem, self.tactic_timeout)
        self._focus_stack = [self.attempt.root]
        return self._observation(), self._info(None)

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        if self.attempt is None:
            raise RuntimeError("call reset() before step()")
        node = self.focus
        if node is None:  # stepping after the end of an episode: keep answering, change nothing
            return self._observation(), 0.0, True, False, self._info(None)
        was_proved = self.attempt.tree.proved
        edge = self.attempt.apply_tactic(node, action)
        if not edge.is_error:
            self._focus_stack.pop()
            self._focus_stack.extend(c for c in reversed(edge.children) if c.is_open)
        while self._focus_stack and not self._focus_stack[-1].is_open:
            self._focus_stack.pop()
        tree = self.attempt.tree
        terminated = tree.proved or tree.failed or not self._focus_stack
        reward = 1.0 if tree.proved and not was_proved else 0.0 - self.step_penalty
        if self.render_mode == "human":
            print(self.render())
        return self._observation(), reward, terminated, False, self._info(edge)

    def render(self) -> str | None:
        if self.attempt is None:
            return None
        lines = [f"theorem {self.attempt.theorem.id}: {len(self._focus_stack)} open goal(s)"]
        for i, node in enumerate(reversed(self._focus_stack)):
            lines.append(f"-- goal {i} --\n{node.goal.text}")
        return "\n".join(lines)

    def close(self) -> None:
        self.backend.close()

    # ------------------------------------------------------------------ helpers
    def _choose_theorem(self, options: dict[str, Any]) -> Theorem:
        choice = options.pop("theorem", None)
        if isinstance(choice, Theorem):
            return choice
        if choice is None and options:
            custom = getattr(self.backend, "custom_theorem", None)
            if custom is None:
                raise ValueError(f"unknown reset options {sorted(options)}; this env takes 'theorem'")
            return custom(options)
        theorems = self.backend.theorems(self.split)
        if choice is None:
            return theorems[int(self.np_random.integers(len(theorems)))]
        if isinstance(choice, (int, np.integer)):
            if not 0 <= choice < len(theorems):
                raise UnknownTheorem(f"theorem index {choice} is out of range for the {self.split} split "
                                     f"({len(theorems)} theorems)")
            return theorems[int(choice)]
        return find_theorem(self.backend, str(choice))

    def _observation(self) -> str:
        node = self.focus or self.attempt.root
        return node.goal.text[: self.max_goal_length]

    def _info(self, edge: Edge | None) -> dict[str, Any]:
        node = self.focus or self.attempt.root
        info: dict[str, Any] = {
            "theorem_id": self.attempt.theorem.id,
            "node_id": node.id,
            "goal_key": node.goal.key,
            "open_goals": len(self._focus_stack),
            "proved": self.attempt.tree.proved,
        }
        if edge is not None:
            info["outcome"] = edge.outcome.value
            info["message"] = edge.message
            info["error"] = edge.is_error
        info.update(self._goal_info(node))
        return info

    def _goal_info(self, node: ProofNode) -> dict[str, Any]:
        """Prover-specific extras for ``info`` (SR: the data; HOList: s-expression, premises)."""
        return {}


def find_theorem(backend: ProverBackend, theorem_id: str) -> Theorem:
    for split in SPLITS:
        for theorem in backend.theorems(split):
            if theorem.id == theorem_id:
                return theorem
    raise UnknownTheorem(f"no theorem {theorem_id!r} in {backend.env_id}; `aitp theorems --env "
                         f"{backend.env_id} --split valid` lists them")
