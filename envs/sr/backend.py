"""The symbolic-regression prover, after Evariste's SR environment.

A theorem is a hidden target known only by its values ``y`` at points ``x``. A goal is the current
expression with its values ``ŷ``; the first goal is ``0``. A tactic rewrites the expression at a
position; the goal is proved when ``ŷ`` matches ``y`` at every point.

Tactic syntax (positions count nodes in prefix order, see ``envs/sr/expr.py``)::

    init @0 A=x          0 -> A        (only on a constant 0)
    sin @2               A -> sin(A)   (and neg exp ln pow2 inv sqrt cos tan sinh cosh tanh abs)
    add @0 B=sin(x)      A -> A + B    (and sub mul div)

``A``/``B`` substitutions are small expressions in ``x`` with integer constants (at most
``MAX_SUBSTITUTION_SIZE`` nodes).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aitp_gym.backend import Theorem
from aitp_gym.envs.sr import expr as E
from aitp_gym.proof import ProofStep, replay_proof
from aitp_gym.trace import register_key_replayer, register_text_rebuilder
from aitp_gym.tree import Goal, Outcome, OutcomeKind

ENV_ID = "SR-v0"
N_POINTS = 20
DEFAULT_POINTS = np.linspace(-10.0, 10.0, N_POINTS)
DEFAULT_POINTS.flags.writeable = False
RTOL, ATOL = 1e-5, 1e-8
MAX_SUBSTITUTION_SIZE = 7
MAX_EXPRESSION_SIZE = 64
MAX_TACTIC_LENGTH = 512
UNARY_RULES = tuple(E.UNARY)
BINARY_RULES = tuple(E.BINARY)
RULES = ("init", *UNARY_RULES, *BINARY_RULES)
DEFAULT_SUBSTITUTIONS = ("x", "1", "2", "3")

# Split sizes and difficulties (number of operators in the target). Each split has its own seed,
# and valid/test targets are kept out of train. The generated splits ship in envs/sr/data/splits.json.gz:
# after changing these or the generator, rebuild it with `python -m aitp_gym.envs.sr.splits`.
SPLIT_SPECS: dict[str, dict[str, Any]] = {
    "train": {"seed": 1000, "per_difficulty": 200, "difficulties": range(1, 7)},
    "valid": {"seed": 2000, "per_difficulty": 20, "difficulties": range(1, 6)},
    "test": {"seed": 3000, "per_difficulty": 20, "difficulties": range(1, 6)},
}

# Goal texts show at most this many points of y and ŷ, then "… (N more points)"; info has them all.
MAX_SHOWN_POINTS = 2_000

# One line: spaces and tabs only between the parts (a newline is not whitespace here). Any integer
# parses as a position, so that a wrong one is reported as out of range (MAX_TACTIC_LENGTH bounds it).
_TACTIC_RE = re.compile(r"[ \t]*([a-z0-9]+)[ \t]*@[ \t]*(-?\d+)[ \t]*(?:([AB])[ \t]*=[ \t]*([^\s].*?))?[ \t]*")


def split_theorems(split: str) -> Sequence[Theorem]:
    """The fixed theorems of a split, shared by the whole process: read from the package's shipped splits and
    made one by one as they are first used, so the first ``reset()`` of a process makes one theorem. A split
    is generated only if the generator has changed since the file was built (see ``envs/sr/splits.py``)."""
    from aitp_gym.envs.sr.splits import split_theorems as shared  # splits.py imports this module

    return shared(split)


def theorem_ids(split: str = "train", difficulties: Sequence[int] = (1, 2)) -> list[str]:
    """The ids of the theorems of ``split`` with the given difficulties (number of operators), in split order:
    a curriculum for ``aitp_gym.wrappers.TheoremSubset`` or a held-out list (``aitp_gym.wrappers.sr_theorem_ids``
    is this function)."""
    wanted = set(difficulties)
    return [t.id for t in split_theorems(split) if t.data.get("difficulty") in wanted]


@dataclass(frozen=True)
class SRState:
    expr: E.Expr
    x: np.ndarray
    y: np.ndarray
    y_hat: np.ndarray


class SRBackend:
    """Pure Python and NumPy; stateless, so ``check`` can simply replay on a fresh instance.

    The splits live in a process-wide cache (``split_theorems``), not in the backend: making a backend
    costs nothing, every backend of a process shares one sequence of theorems per split, and a pickled
    backend (or env) carries no theorem list.
    """

    env_id = ENV_ID

    def __getstate__(self) -> dict[str, Any]:
        return {}  # nothing per instance; the receiving process reads the splits (once) itself

    def __setstate__(self, state: dict[str, Any]) -> None:
        pass

    # ------------------------------------------------------------------ theorems
    def theorems(self, split: str) -> Sequence[Theorem]:
        return split_theorems(split)

    def custom_theorem(self, options: Mapping[str, Any]) -> Theorem:
        """A user's theorem: ``{"target": "x**3 + x", "points": array}`` or ``{"x": xs, "y": ys}``."""
        if "target" in options:
            unknown = set(options) - {"target", "points"}
            if unknown:
                raise ValueError(f"unknown options {sorted(unknown)} with 'target' (allowed: target, points)")
            return make_theorem(options["target"], options.get("points"))
        if "x" in options and "y" in options:
            unknown = set(options) - {"x", "y"}
            if unknown:
                raise ValueError(f"unknown options {sorted(unknown)} with 'x' and 'y' (allowed: x, y)")
            return theorem_from_data(options["x"], options["y"])
        raise ValueError("SR-v0 reset options: {'theorem': id}, {'target': str, 'points': array} "
                         "or {'x': array, 'y': array}")

    # ------------------------------------------------------------------ proving
    def start(self, theorem: Theorem) -> Goal:
        x, y = theorem_arrays(theorem)
        return make_goal(E.ZERO, x, y)

    def apply(self, goal: Goal, tactic: str, timeout: float | None = None) -> Outcome:
        t0 = time.perf_counter()
        try:
            state = goal.data
            if not isinstance(state, SRState):
                return Outcome.error("not an SR-v0 goal")
            new_expr = apply_rule(state.expr, tactic)
            y_hat = E.evaluate(new_expr, state.x)
            bad = ~np.isfinite(y_hat) & np.isfinite(state.y)
            if bad.any():
                return Outcome.error(
                    f"{E.to_str(new_expr)} is NaN or infinite at {int(bad.sum())} of {len(bad)} points where "
                    "the target is finite", time.perf_counter() - t0)
            if np.isclose(y_hat, state.y, rtol=RTOL, atol=ATOL, equal_nan=True).all():
                return Outcome.proved(time.perf_counter() - t0)
            return Outcome.ok((make_goal(new_expr, state.x, state.y, y_hat),), time.perf_counter() - t0)
        except TacticError as e:
            return Outcome.error(str(e), time.perf_counter() - t0)

    def candidate_tactics(self, goal: Goal) -> list[str]:
        """Every rule at every position, with the default substitutions for A and B."""
        return candidate_tactics_for(goal.data.expr)

    def check(self, theorem: Theorem, proof: ProofStep) -> tuple[bool, str]:
        return replay_proof(SRBackend(), theorem, proof)

    def default_critic(self) -> DataDistanceCritic:
        return DataDistanceCritic()

    def close(self) -> None:
        pass


def candidate_tactics_for(expr: E.Expr) -> list[str]:
    """SR-v0's enumerated tactics for an expression: every rule at every position, with the default
    substitutions for A and B (``init`` only on a constant 0).

    The order is fixed, positions in prefix order: 4 ``init`` tactics on ``0``, else 29 per node (13 unary
    rules, then 4 binary rules with B in x, 1, 2, 3). So the ``i``-th tactic means the same rule at the same
    position whatever the target, and ``DiscreteTacticWrapper``'s default 64 slots hold every tactic of an
    expression of up to 2 nodes (a bigger one loses those at its last positions)."""
    out: list[str] = []
    for pos, sub in enumerate(E.subexpressions(expr)):
        if sub == E.ZERO:
            out.extend(f"init @{pos} A={s}" for s in DEFAULT_SUBSTITUTIONS)
            continue
        out.extend(f"{rule} @{pos}" for rule in UNARY_RULES)
        out.extend(f"{rule} @{pos} B={s}" for rule in BINARY_RULES for s in DEFAULT_SUBSTITUTIONS)
    return out


class DataDistanceCritic:
    """SR-v0's model-free critic: how close the goal's values ŷ are to the data y.

    value = exp(−mean |asinh ŷ − asinh y| − size_penalty · size(expression)) over the points.
    ``asinh`` is linear near 0 and logarithmic for large values, so one far-off point cannot drown
    the rest. The size term stands for the cost of search: a bigger expression has more positions,
    hence more tactics to try, and without it a critic-guided planner dives into ever longer
    expressions that fit the data a little better.
    """

    name = "sr-data-distance"

    def __init__(self, size_penalty: float = 1.0) -> None:
        self.size_penalty = size_penalty

    def value(self, goals: Sequence[Goal]) -> list[float]:
        out = []
        for goal in goals:
            state = goal.data
            if not isinstance(state, SRState):
                raise TypeError("DataDistanceCritic scores SR-v0 goals only")
            with np.errstate(invalid="ignore"):  # inf - inf where both overflow: dropped below, not a warning
                gap = np.abs(np.arcsinh(state.y_hat) - np.arcsinh(state.y))
            gap = gap[np.isfinite(gap)]
            out.append(float(np.exp(-gap.mean() - self.size_penalty * E.size(state.expr))) if gap.size else 0.0)
        return out


# ---------------------------------------------------------------------- tactics
class TacticError(ValueError):
    pass


def apply_rule(expr: E.Expr, tactic: str) -> E.Expr:
    """The expression after ``tactic``; raises ``TacticError`` with a readable reason."""
    if not isinstance(tactic, str):
        raise TacticError(f"a tactic must be a string, not {type(tactic).__name__}")
    if len(tactic) > MAX_TACTIC_LENGTH:
        raise TacticError(f"tactic is longer than {MAX_TACTIC_LENGTH} characters")
    m = _TACTIC_RE.fullmatch(tactic)
    if m is None:
        raise TacticError(f"cannot parse tactic {tactic[:80]!r}; expected 'RULE @POS' or 'RULE @POS B=EXPR', "
                          "e.g. 'sin @0' or 'add @0 B=x'")
    rule, pos, var, sub_src = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    if rule not in RULES:
        raise TacticError(f"unknown rule {rule!r}; rules: {', '.join(RULES)}")
    nodes = E.subexpressions(expr)
    if not 0 <= pos < len(nodes):
        raise TacticError(f"position {pos} is out of range: the expression has {len(nodes)} node(s), "
                          f"positions 0-{len(nodes) - 1}")
    wanted = "A" if rule == "init" else "B" if rule in BINARY_RULES else None
    if wanted is None and var is not None:
        raise TacticError(f"rule {rule!r} takes no substitution")
    if wanted is not None and var != wanted:
        raise TacticError(f"rule {rule!r} needs a substitution {wanted}=EXPR, e.g. '{rule} @{pos} {wanted}=x'")
    sub = None
    if sub_src is not None:
        try:
            sub = E.parse(sub_src, integers_only=True, max_size=MAX_SUBSTITUTION_SIZE)
        except E.ExprError as e:
            raise TacticError(f"invalid substitution {var}={sub_src[:40]!r}: {e}") from None
    if rule == "init":
        if nodes[pos] != E.ZERO:
            raise TacticError(f"rule 'init' (0 -> A) applies only to the constant 0; position {pos} is "
                              f"{E.to_str(nodes[pos])!r}")
        new = E.replace_at(expr, pos, lambda _: sub)
    elif rule in BINARY_RULES:
        new = E.replace_at(expr, pos, lambda a: (rule, a, sub))
    else:
        new = E.replace_at(expr, pos, lambda a: (rule, a))
    if E.size(new) > MAX_EXPRESSION_SIZE:
        raise TacticError(f"expression would have {E.size(new)} nodes; the limit is {MAX_EXPRESSION_SIZE}")
    return new


# ---------------------------------------------------------------------- goals and theorems
_FORMAT_4G = "{:.4g}".format


def _row(values: np.ndarray) -> str:
    """Values with 4 significant digits; past ``MAX_SHOWN_POINTS`` an explicit count of the rest."""
    shown = " ".join(map(_FORMAT_4G, values[:MAX_SHOWN_POINTS].tolist()))
    if len(values) > MAX_SHOWN_POINTS:
        shown += f" … ({len(values) - MAX_SHOWN_POINTS} more points)"
    return shown


def goal_text(expr: E.Expr, y_row: str, y_hat_row: str) -> str:
    """A goal's text from its expression and its rows ``_row(y)`` (the same for every goal of a theorem) and
    ``_row(ŷ)``. ``make_goal`` and the trace text rebuilder both use it."""
    return f"f(x) = {E.to_str(expr)}\ny: {y_row}\nŷ: {y_hat_row}"


def split_goal_text(text: str) -> tuple[str, list[float], list[float]] | None:
    """``goal_text`` read back: ``(expression text, y, ŷ)`` with the values as printed (4 significant digits, at most
    ``MAX_SHOWN_POINTS`` of them), or None if ``text`` is not an SR-v0 goal. Models read goals this way."""
    expression, y, y_hat = None, None, None
    for line in text.split("\n"):
        if line.startswith("f(x) = "):
            expression = line[len("f(x) = "):]
        elif line.startswith("y: "):
            y = _shown_values(line[3:])
        elif line.startswith("ŷ: "):
            y_hat = _shown_values(line[3:])
    if expression is None or y is None or y_hat is None or len(y) != len(y_hat):
        return None
    return expression, y, y_hat


def _shown_values(row: str) -> list[float]:
    out = []
    for v in row.split(" "):
        try:
            out.append(float(v))
        except ValueError:
            break  # "… (N more points)"
    return out


def make_goal(expr: E.Expr, x: np.ndarray, y: np.ndarray, y_hat: np.ndarray | None = None) -> Goal:
    if y_hat is None:
        y_hat = E.evaluate(expr, x)
    return Goal(goal_text(expr, _row(y), _row(y_hat)), E.to_prefix(expr), SRState(expr, x, y, y_hat))


_ARITY = {**dict.fromkeys(E.UNARY, 1), **dict.fromkeys(E.BINARY, 2), "pow": 2}


def expr_from_key(key: str) -> E.Expr:
    """The expression of a goal key (``E.to_prefix``'s canonical prefix form, e.g. ``add sin x 2``)."""
    stack: list[E.Expr] = []
    for token in reversed(key.split(" ")):
        arity = _ARITY.get(token)
        if arity is None:
            if token == "x":
                stack.append(E.X)
            else:
                try:
                    stack.append(("c", int(token)))
                except ValueError:
                    stack.append(("c", float(token)))
        elif arity == 1:
            stack.append((token, stack.pop()))
        else:
            first = stack.pop()
            stack.append((token, first, stack.pop()))
    if len(stack) != 1:
        raise ValueError(f"not an SR goal key: {key[:80]!r}")
    return stack[0]


def trace_text_rebuilder(header: Mapping[str, Any]) -> Callable[[Sequence[str]], list[str | None]] | None:
    """For ``aitp_gym.trace``: node keys → the goal texts SR-v0 showed, from the exact x and y in a trace
    header's ``theorem_data`` (``None`` without them), so that traces store each SR goal's key, not its text.

    A text is ``goal_text`` of the key's expression with ŷ evaluated at x; subexpressions shared by several keys
    are evaluated once (the same NumPy functions, in the same order, as ``expr.evaluate``) and equal ŷ rows are
    formatted once. A key that is not an SR expression gives ``None``."""
    data = header.get("theorem_data")
    if not isinstance(data, Mapping) or data.get("x") is None or data.get("y") is None:
        return None
    try:
        x, y = np.asarray(data["x"], dtype=np.float64), np.asarray(data["y"], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if x.ndim != 1 or x.shape != y.shape:
        return None
    y_row = _row(y)

    def rebuild(keys: Sequence[str]) -> list[str | None]:
        values: dict[E.Expr, np.ndarray] = {}
        rows: dict[bytes, str] = {}

        def value(e: E.Expr) -> np.ndarray:
            v = values.get(e)
            if v is None:
                op = e[0]
                if op in E.UNARY:
                    v = E.UNARY[op](value(e[1]))
                elif op in E.BINARY:
                    v = E.BINARY[op](value(e[1]), value(e[2]))
                else:  # x, a constant (or an operator only targets have)
                    v = E.evaluate(e, x)
                values[e] = v
            return v

        out: list[str | None] = []
        with np.errstate(all="ignore"):
            for key in keys:
                try:
                    expr = expr_from_key(key)
                except (ValueError, IndexError, AttributeError):
                    out.append(None)
                    continue
                y_hat = value(expr)
                row = rows.get(raw := y_hat.tobytes())
                if row is None:
                    row = rows[raw] = _row(y_hat)
                out.append(goal_text(expr, y_row, row))
        return out

    return rebuild


register_text_rebuilder(ENV_ID, trace_text_rebuilder)


@functools.lru_cache(maxsize=1024)
def _substitution_tokens(source: str) -> tuple[str, ...] | None:
    try:
        sub = E.parse(source, integers_only=True, max_size=MAX_SUBSTITUTION_SIZE)
    except E.ExprError:
        return None
    return tuple(E.to_prefix(sub).split(" "))


@functools.lru_cache(maxsize=1 << 16)
def replay_key(key: str, tactic: str) -> tuple[str, ...] | None:
    """The key of the goal ``tactic`` gives on the goal with key ``key`` (as a 1-tuple), or ``None`` if it gives
    none (an error, a key or tactic it cannot read). For ``aitp_gym.trace``: traces leave out the keys this
    gives back.

    It works on the key's prefix tokens, as ``apply_rule`` then ``E.to_prefix`` would on the goal's expression:
    position ``pos`` is token ``pos``; ``init`` replaces a ``0`` token by A's tokens, a unary rule inserts its
    name before the subexpression at ``pos``, a binary rule inserts its name before it and B's tokens after it.
    Whether the goal was proved is not its concern (a proving edge has no child to replay). Cached, as the
    same parent key and tactic recur across the traces of a theorem."""
    if len(tactic) > MAX_TACTIC_LENGTH:
        return None
    m = _TACTIC_RE.fullmatch(tactic)
    if m is None:
        return None
    rule, pos, var, sub_src = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    if rule not in RULES:
        return None
    tokens = key.split(" ")
    if not 0 <= pos < len(tokens):
        return None
    wanted = "A" if rule == "init" else "B" if rule in BINARY_RULES else None
    if var != wanted:
        return None
    sub: tuple[str, ...] = ()
    if sub_src is not None:
        parsed = _substitution_tokens(sub_src)
        if parsed is None:
            return None
        sub = parsed
    if rule == "init":
        if tokens[pos] != "0":
            return None
        new = [*tokens[:pos], *sub, *tokens[pos + 1:]]
    elif wanted is None:
        new = [*tokens[:pos], rule, *tokens[pos:]]
    else:
        end, need = pos, 1
        while need:  # the subexpression at pos ends where its operands are complete
            if end >= len(tokens):
                return None
            need += _ARITY.get(tokens[end], 0) - 1
            end += 1
        new = [*tokens[:pos], rule, *tokens[pos:end], *sub, *tokens[end:]]
    if len(new) > MAX_EXPRESSION_SIZE:
        return None
    return (" ".join(new),)


def trace_key_replayer(header: Mapping[str, Any]) -> Callable[[str, str], tuple[str, ...] | None]:
    """For ``aitp_gym.trace``: ``replay_key``, the same for every SR-v0 record."""
    return replay_key


register_key_replayer(ENV_ID, trace_key_replayer)


def theorem_arrays(theorem: Theorem) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(theorem.data["x"], dtype=np.float64)
    y = theorem.data.get("y")
    if y is None:
        y = E.evaluate(E.parse(theorem.data["target"], allow_pow=True), x)
    return x, np.asarray(y, dtype=np.float64)


def _check_data(x: np.ndarray, y: np.ndarray) -> None:
    if x.ndim != 1 or y.shape != x.shape or len(x) == 0:
        raise ValueError(f"x and y must be 1-D arrays of one length, got shapes {x.shape} and {y.shape}")
    if not np.isfinite(x).all():
        raise ValueError("the points x must be finite")
    n_bad = int((~np.isfinite(y)).sum())
    if n_bad * 2 > len(y):
        raise ValueError(f"the target is NaN or infinite at {n_bad} of {len(y)} points (more than half)")
    if np.isclose(0.0, y, rtol=RTOL, atol=ATOL).all():
        raise ValueError("the target is 0 at every point: the first goal is already solved")


def _frozen(values: Any) -> np.ndarray:
    """A read-only float64 copy (``None`` from JSON becomes NaN): theorems are shared by every env of a process."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64 and not values.flags.writeable:
        return values
    array = np.array(values, dtype=np.float64)
    array.flags.writeable = False
    return array


def _sr_theorem(x: np.ndarray, y: np.ndarray, target: str | None = None, theorem_id: str | None = None,
                split: str = "", proof: Sequence[str] | None = None, difficulty: int | None = None) -> Theorem:
    """The one constructor of SR theorems. ``data`` holds everything needed to rebuild the theorem
    exactly (``theorem_from_record``): id, split, target, x and y as float64, proof, difficulty."""
    if target is None:
        theorem_id = theorem_id or "sr-data-" + hashlib.sha1(x.tobytes() + y.tobytes()).hexdigest()[:10]
        statement = f"fit {len(x)} data points"
    else:
        theorem_id = theorem_id or "sr-user-" + hashlib.sha1(f"{target}|{x.tobytes().hex()}".encode()).hexdigest()[:10]
        statement = f"find f with f(x) = {target} at {len(x)} points"
    data: dict[str, Any] = {"id": theorem_id, "split": split}
    if target is not None:
        data["target"] = target
    data["x"], data["y"] = x, y
    if proof is not None:
        data["proof"] = list(proof)
    if difficulty is not None:
        data["difficulty"] = int(difficulty)
    return Theorem(theorem_id, statement, split, data)


def make_theorem(target: str, points: Any = None, theorem_id: str | None = None, split: str = "",
                 proof: list[str] | None = None, difficulty: int | None = None) -> Theorem:
    """A theorem from a target expression string, at ``points`` (default: 20 in [-10, 10])."""
    parsed = E.parse(target, allow_pow=True)
    x = DEFAULT_POINTS if points is None else _frozen(points)
    y = _frozen(E.evaluate(parsed, x))
    _check_data(x, y)
    return _sr_theorem(x, y, E.to_str(parsed), theorem_id, split, proof, difficulty)


def theorem_from_data(x: Any, y: Any) -> Theorem:
    """A theorem from raw data with no known expression. ``data["x"]`` and ``data["y"]`` keep the
    values exactly (the goal text shows 4 significant digits)."""
    xs, ys = _frozen(x), _frozen(y)
    _check_data(xs, ys)
    return _sr_theorem(xs, ys)


def theorem_from_record(record: Mapping[str, Any]) -> Theorem:
    """Rebuild an SR theorem, identical (id, statement, split, data), from ``theorem.data`` as a trace
    stores it: a trace header with ``"theorem_data"``, or the data itself, with the arrays as lists
    (``json.loads(json.dumps(...))`` of ``.tolist()``; Python writes floats exactly, NaN as ``NaN``)."""
    data = record["theorem_data"] if "theorem_data" in record else record
    if not isinstance(data, Mapping) or "x" not in data or "y" not in data:
        raise ValueError("an SR theorem record needs the data's 'x' and 'y' (a trace header's 'theorem_data')")
    x, y = _frozen(data["x"]), _frozen(data["y"])
    _check_data(x, y)
    theorem_id = data.get("id") or record.get("theorem_id")
    target = data.get("target")
    if target is not None:
        target = E.to_str(E.parse(target, allow_pow=True))
    return _sr_theorem(x, y, target, theorem_id, data.get("split") or "", data.get("proof"), data.get("difficulty"))


def proof_from_script(tactics: Sequence[str]) -> ProofStep:
    """SR proofs are linear: each tactic leaves one goal, so a script nests into a chain."""
    root = ProofStep(tactics[-1])
    for tactic in reversed(tactics[:-1]):
        root = ProofStep(tactic, children=[root])
    return root


# ---------------------------------------------------------------------- generator
def random_theorem(rng: np.random.Generator, difficulty: int, points: np.ndarray = DEFAULT_POINTS,
                   max_tries: int = 1000) -> tuple[str, list[str]]:
    """A random target with ``difficulty`` operators, and its ground-truth proof from ``0``.

    As in Evariste's backward walk, the proof is the sequence of rule applications that built the
    target. Samples are rejected when the target is NaN at more than half the points, when a step
    would be an error, or when the data is already fitted before the last step (so ``difficulty``
    is honest).
    """
    leaves = DEFAULT_SUBSTITUTIONS
    for _ in range(max_tries):
        expr: E.Expr = E.ZERO
        first = "x" if rng.random() < 0.8 else str(leaves[rng.integers(1, len(leaves))])
        script = [f"init @0 A={first}"]
        expr = apply_rule(expr, script[0])
        for _ in range(difficulty):
            pos = int(rng.integers(E.size(expr)))
            if rng.random() < 0.5:
                rule = UNARY_RULES[rng.integers(len(UNARY_RULES))]
                tactic = f"{rule} @{pos}"
            else:
                rule = BINARY_RULES[rng.integers(len(BINARY_RULES))]
                tactic = f"{rule} @{pos} B={leaves[rng.integers(len(leaves))]}"
            script.append(tactic)
            expr = apply_rule(expr, tactic)
        y = E.evaluate(expr, points)
        try:
            _check_data(points, y)
        except ValueError:
            continue
        if np.abs(y[np.isfinite(y)]).max(initial=0.0) > 1e12:
            continue
        theorem = Theorem("", "", "", {"x": points, "y": y})
        backend = SRBackend()
        goal = backend.start(theorem)
        ok = True
        for i, tactic in enumerate(script):
            outcome = backend.apply(goal, tactic)
            last = i == len(script) - 1
            if outcome.failed or (outcome.kind is OutcomeKind.PROVED) != last:
                ok = False
                break
            if not last:
                goal = outcome.subgoals[0]
        if ok:
            return E.to_str(expr), script
    raise RuntimeError(f"could not sample a valid difficulty-{difficulty} target in {max_tries} tries")


def generate_split(split: str, seed: int, difficulties: Sequence[int] | range, per_difficulty: int,
                   exclude: set[str] = frozenset()) -> list[Theorem]:
    """A fixed theorem set. Difficulties are interleaved (1, 2, 3, ..., 1, 2, 3, ...) so that any
    prefix of a split, as taken by ``aitp prove --limit``, is a fair sample of it."""
    rng = np.random.default_rng(seed)
    seen = set(exclude)
    by_difficulty: list[list[tuple[int, str, list[str]]]] = []
    for difficulty in difficulties:
        found: list[tuple[int, str, list[str]]] = []
        # Low difficulties have few distinct targets (about a hundred with one operator), so a
        # split takes what it finds in a bounded number of draws rather than looping forever.
        for _ in range(per_difficulty * 20):
            if len(found) == per_difficulty:
                break
            target, script = random_theorem(rng, difficulty)
            if target not in seen:
                seen.add(target)
                found.append((difficulty, target, script))
        by_difficulty.append(found)
    ordered = [item for group in itertools.zip_longest(*by_difficulty) for item in group if item is not None]
    return [make_theorem(target, theorem_id=f"sr-{split}-{i:04d}", split=split, proof=script, difficulty=difficulty)
            for i, (difficulty, target, script) in enumerate(ordered)]


def ground_truth_pairs(split: str = "train", limit: int | None = None) -> list[tuple[str, str]]:
    """``(goal text, tactic)`` along the generator's ground-truth proof of each theorem of ``split`` (the first
    ``limit``): SR-v0's ``EnvTraits.ground_truth_pairs``, for pre-training policies."""
    backend = SRBackend()
    out = []
    for theorem in list(backend.theorems(split))[:limit]:
        goal = backend.start(theorem)
        for tactic in theorem.data["proof"]:
            out.append((goal.text, tactic))
            outcome = backend.apply(goal, tactic)
            if outcome.kind is OutcomeKind.PROVED or not outcome.subgoals:
                break
            goal = outcome.subgoals[0]
    return out
