"""``ProofEnv``: a thin Gymnasium MDP over a ``ProverBackend`` and a ``ProofTree``."""

from __future__ import annotations

import functools
import multiprocessing
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import shared_memory as _shm
from gymnasium.vector.utils import space_utils as _space_utils

from aitp_gym.attempt import ProofAttempt
from aitp_gym.backend import SPLITS, ProverBackend, SupportsCustomTheorem, Theorem
from aitp_gym.errors import UnknownTheorem
from aitp_gym.tree import Edge, ProofNode, ProofTree

DEFAULT_MAX_GOAL_LENGTH = 65_536
DEFAULT_MAX_TACTIC_LENGTH = 4_096


@functools.cache
def _bmp_charset() -> str:
    """Every printable character of the Basic Multilingual Plane, plus newline and tab.

    Built once per process, on first use (about 30 ms), and shared by every ``UnicodeText``.
    """
    chars = ["\n", "\t"]
    for cp in range(0x20, 0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if unicodedata.category(ch) not in ("Cc", "Cs", "Cn"):
            chars.append(ch)
    return "".join(chars)


@functools.cache
def _bmp_codepoints() -> np.ndarray:
    """The code points of ``_bmp_charset()``, for sampling."""
    return np.frombuffer(_bmp_charset().encode("utf-32-le"), dtype="<u4")


@functools.cache
def _forbidden_re() -> re.Pattern[str]:
    """A character class of everything ``UnicodeText`` refuses: BMP code points outside the charset
    (control characters but newline and tab, surrogates, unassigned). Characters beyond the BMP are
    all allowed. One regex search per ``contains`` instead of a Python loop over the string."""
    allowed = _bmp_codepoints()
    ranges: list[str] = []
    prev = -1
    for cp in (*sorted(allowed.tolist()), 0x10000):
        if cp > prev + 1:  # the gap prev+1 .. cp-1 is forbidden
            lo, hi = prev + 1, cp - 1
            ranges.append(f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}")
        prev = cp
    return re.compile("[" + "".join(ranges) + "]")


@functools.cache
def _shared_charset() -> tuple[frozenset[str], tuple[str, ...], dict[str, np.int32]]:
    """``Text``'s charset views (set, list, index), built only if gymnasium's generic ``Text`` code asks."""
    chars = _bmp_charset()
    return frozenset(chars), tuple(chars), {c: np.int32(i) for i, c in enumerate(chars)}


class UnicodeText(spaces.Text):
    """A ``Text`` space over all of Unicode.

    Goals are not alphanumeric (``⊢``, ``∀``, ``ℕ``, ``ŷ``, and in Lean ``𝓝`` outside the BMP).
    Sampling draws from the printable characters of the BMP; ``contains`` accepts any string of
    characters that are not control characters (newline and tab are allowed), surrogates or
    unassigned BMP code points.

    The charset (62k characters) is not stored in the space: it is built once per process on first
    use and shared, so a space costs a few hundred bytes and pickles without it. With an
    ``AsyncVectorEnv``, observations travel through shared memory as UTF-32 code points plus a length
    (4 bytes a character: 256 KiB per env at the default 65,536 characters); see
    ``_create_unicode_text_shared_memory``.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        if not np.issubdtype(type(min_length), np.integer) or not np.issubdtype(type(max_length), np.integer):
            raise TypeError(f"min_length and max_length must be integers, not {min_length!r} and {max_length!r}")
        if not 0 <= min_length <= max_length:
            raise ValueError(f"need 0 <= min_length <= max_length, got {min_length} and {max_length}")
        self.min_length = int(min_length)
        self.max_length = int(max_length)
        # Text.__init__ would materialise the charset four times in this instance: skip it
        spaces.Space.__init__(self, dtype=str, seed=seed)

    # Text's charset views, shared by every instance of the process (for gymnasium's generic code:
    # masked sampling, flatten, batch helpers).
    @property
    def character_set(self) -> frozenset[str]:
        return _shared_charset()[0]

    @property
    def character_list(self) -> tuple[str, ...]:
        return _shared_charset()[1]

    def character_index(self, char: str) -> np.int32:
        return _shared_charset()[2][char]

    @property
    def characters(self) -> str:
        return _bmp_charset()

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        length = int(self.np_random.integers(self.min_length, self.max_length + 1))
        codepoints = _bmp_codepoints()
        return codepoints[self.np_random.integers(len(codepoints), size=length)].tobytes().decode("utf-32-le")

    def contains(self, x: Any) -> bool:
        if not isinstance(x, str) or not self.min_length <= len(x) <= self.max_length:
            return False
        return _forbidden_re().search(x) is None

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, UnicodeText) and self.min_length == other.min_length
                and self.max_length == other.max_length)

    __hash__ = None  # type: ignore[assignment]  # mutable (seeded RNG), like every Space

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"


# ---------------------------------------------------------------------- vector envs
# Gymnasium's shared memory for ``Text`` decodes the buffer once, when the AsyncVectorEnv is built,
# into a tuple of immutable strings, so every observation read back is that first (empty) buffer.
# For ``UnicodeText`` the buffer holds, per env, a length and then the UTF-32 code points, and the
# reader returns a live view that decodes on access (``deepcopy``, which AsyncVectorEnv applies
# with its default ``copy=True``, gives a tuple of strings).

class SharedUnicodeTexts(Sequence[str]):
    """A live view of the observations of ``n`` envs in shared memory (like a NumPy view for ``Box``)."""

    def __init__(self, space: UnicodeText, buffer: Any, n: int) -> None:
        self._rows = np.frombuffer(buffer.get_obj(), dtype=np.int32).reshape(n, space.max_length + 1)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        row = self._rows[i]
        return row[1:1 + int(row[0])].tobytes().decode("utf-32-le", "surrogatepass")

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"SharedUnicodeTexts({tuple(self)!r})"


@_shm.create_shared_memory.register(UnicodeText)
def _create_unicode_text_shared_memory(space: UnicodeText, n: int = 1, ctx: Any = multiprocessing) -> Any:
    return ctx.Array(np.dtype(np.int32).char, n * (space.max_length + 1))


@_shm.read_from_shared_memory.register(UnicodeText)
def _read_unicode_text_from_shared_memory(space: UnicodeText, shared_memory: Any, n: int = 1) -> SharedUnicodeTexts:
    return SharedUnicodeTexts(space, shared_memory, n)


@_shm.write_to_shared_memory.register(UnicodeText)
def _write_unicode_text_to_shared_memory(space: UnicodeText, index: int, value: str, shared_memory: Any) -> None:
    codes = np.frombuffer(value.encode("utf-32-le", "surrogatepass"), dtype=np.int32)
    if len(codes) > space.max_length:
        raise ValueError(f"text of {len(codes)} characters does not fit {space!r}")
    row = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)[index * (space.max_length + 1):]
    row[0] = len(codes)
    row[1:1 + len(codes)] = codes


@_space_utils.create_empty_array.register(UnicodeText)
def _create_empty_unicode_texts(space: UnicodeText, n: int = 1, fn: Any = None) -> tuple[str, ...]:
    return ("",) * n  # Text's version indexes the charset, which UnicodeText builds only on demand


class ProofEnv(gym.Env[str, str]):
    """Prove one theorem per episode by applying tactic strings to the focused goal.

    Subclasses per prover add the Gymnasium docstring sections (see ``envs/sr/env.py``).

    * ``reset(seed, options={"theorem": Theorem | id | index})`` starts a proof; without options
      a theorem is drawn from ``split`` with the env's seeded RNG. ``"theorem"`` must come alone;
      other options go to the backend's ``custom_theorem`` (SR: a target or data; HOList: a
      statement). Wrong types and conflicting options raise ``ValueError``, unknown ids and
      out-of-range indices ``UnknownTheorem``.
    * ``step(tactic)`` applies the tactic to the focused goal. The focus then moves to the next
      open goal depth-first, as in tactic mode. A rejected tactic leaves the focus where it was and
      puts the prover's message in ``info["message"]``; the episode goes on. ``info["no_progress"]``
      is True when the tactic succeeded but led back to its own goal or an earlier one (the tree's
      ``edge.cycle``), e.g. a no-op tactic: an "ok" step with nothing gained.
    * An observation longer than ``max_goal_length`` is cut visibly: it ends with
      ``TRUNCATION_MARKER`` and the number of characters left out.
    * Reward: 1 when the theorem is proved, otherwise ``-step_penalty``. ``terminated``: proved, or
      no progress is possible (the root FAILED). ``truncated`` comes from ``TimeLimit``.
    * ``env.unwrapped.tree`` and ``env.unwrapped.expand(node, tactic)`` give planners the same tree.
    """

    # render_fps is nominal: "human" prints the goals after every reset and step, with no frame pacing
    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

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
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info(None)

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        if self.attempt is None:
            raise RuntimeError("call reset() before step()")
        node = self.focus
        if node is None:  # stepping after the end of an episode: keep answering, change nothing
            return self._observation(), 0.0, True, False, {**self._info(None), "no_progress": True}
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
            self.render()
        return self._observation(), reward, terminated, False, self._info(edge)

    def render(self) -> str | None:
        """The open goals as text; with ``render_mode="human"`` they are printed and None is returned."""
        if self.attempt is None:
            text = "no proof in progress: call reset()"
        else:
            lines = [f"theorem {self.attempt.theorem.id}: {len(self._focus_stack)} open goal(s)"]
            for i, node in enumerate(reversed(self._focus_stack)):
                lines.append(f"-- goal {i} --\n{node.goal.text}")
            text = "\n".join(lines)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        self.backend.close()

    # ------------------------------------------------------------------ helpers
    def _choose_theorem(self, options: dict[str, Any]) -> Theorem:
        """The theorem ``reset(options=...)`` asks for; wrong or conflicting options raise ``ValueError``."""
        if "theorem" not in options:
            if not options:
                theorems = self.backend.theorems(self.split)
                return theorems[int(self.np_random.integers(len(theorems)))]
            if not isinstance(self.backend, SupportsCustomTheorem):
                raise ValueError(f"unknown reset options {sorted(options)}; this env takes only "
                                 "{'theorem': Theorem | id (str) | index (int)}")
            return self.backend.custom_theorem(options)
        others = sorted(str(k) for k in options if k != "theorem")
        if others:
            raise ValueError(f"reset option 'theorem' cannot be combined with {others}: pass either "
                             "{'theorem': Theorem | id (str) | index (int)} alone, or the env's own options "
                             "without 'theorem'")
        choice = options["theorem"]
        if choice is None:  # {"theorem": None}: no choice, draw one as without options
            return self._choose_theorem({})
        if isinstance(choice, Theorem):
            return choice
        if isinstance(choice, str):
            return find_theorem(self.backend, choice)
        if isinstance(choice, (int, np.integer)) and not isinstance(choice, (bool, np.bool_)):
            theorems = self.backend.theorems(self.split)
            if not 0 <= choice < len(theorems):
                raise UnknownTheorem(f"theorem index {choice} is out of range for the {self.split} split "
                                     f"({len(theorems)} theorems: 0-{len(theorems) - 1})")
            return theorems[int(choice)]
        raise ValueError(f"reset option 'theorem' must be a Theorem, a theorem id (str) or an index (int) into "
                         f"the {self.split} split, not {type(choice).__name__} {str(choice)[:40]!r}")

    def _observation(self) -> str:
        node = self.focus or self.attempt.root
        return truncate_text(node.goal.text, self.max_goal_length)

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
            # the tree's own notion: an edge whose children reach back to its parent (the same goal
            # again, or an earlier one) can never help prove it
            info["no_progress"] = edge.cycle
        info.update(self._goal_info(node))
        return info

    def _goal_info(self, node: ProofNode) -> dict[str, Any]:
        """Prover-specific extras for ``info`` (SR: the data; HOList: s-expression, premises)."""
        return {}


TRUNCATION_MARKER = "\n… [observation truncated: "


def truncate_text(text: str, max_length: int) -> str:
    """``text`` if it fits, else its beginning and a marker saying how many characters were left out."""
    if len(text) <= max_length:
        return text
    longest_marker = f"{TRUNCATION_MARKER}{len(text)} more characters]"  # the count never has more digits
    keep = max(0, max_length - len(longest_marker))
    return (text[:keep] + f"{TRUNCATION_MARKER}{len(text) - keep} more characters]")[:max_length]


def find_theorem(backend: ProverBackend, theorem_id: str) -> Theorem:
    for split in SPLITS:
        for theorem in backend.theorems(split):
            if theorem.id == theorem_id:
                return theorem
    raise UnknownTheorem(f"no theorem {theorem_id!r} in {backend.env_id}; `aitp theorems --env "
                         f"{backend.env_id} --split valid` lists them")
