"""Expressions in one variable ``x``: a safe parser, a printer, a vectorised evaluator and the
rewrite rules of Evariste's symbolic-regression environment.

An expression is a nested tuple, immutable and hashable:

* ``("x",)`` — the variable; ``("c", 3)`` — a constant;
* ``(op, a)`` — a unary operator, ``op`` in ``UNARY``;
* ``(op, a, b)`` — a binary operator, ``op`` in ``BINARY`` (``"pow"`` only in user targets).

Positions count nodes in prefix order: the root is 0, then its first child's subtree, and so on.
No gymnasium here: this module is the "board" of the SR environment.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import numpy as np

Expr = tuple

UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "neg": np.negative, "exp": np.exp, "ln": np.log, "pow2": np.square, "inv": np.reciprocal,
    "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan, "sinh": np.sinh, "cosh": np.cosh,
    "tanh": np.tanh, "abs": np.abs,
}
BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
}
_TARGET_ONLY = {"pow": np.power}
_FUNCTION_NAMES = {name: name for name in UNARY if name not in ("neg", "pow2")} | {"log": "ln"}
_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div"}
_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow2": 4, "pow": 4}

X: Expr = ("x",)
ZERO: Expr = ("c", 0)

MAX_SOURCE_LENGTH = 2_000


class ExprError(ValueError):
    """A string that is not an expression of the allowed form."""


# ---------------------------------------------------------------------- parsing
def parse(source: str, *, allow_pow: bool = False, integers_only: bool = False, max_size: int = 256) -> Expr:
    """Parse Python-syntax arithmetic in ``x`` (``x**3 + sin(x)/2``) into an expression.

    ``**2`` becomes ``pow2``; other powers need ``allow_pow`` (user targets only). Nothing is ever
    evaluated: the string goes through ``ast.parse`` and a whitelist of node types.
    """
    if not isinstance(source, str):
        raise ExprError(f"an expression must be a string, not {type(source).__name__}")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExprError(f"expression is longer than {MAX_SOURCE_LENGTH} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise ExprError(f"cannot parse {source!r}: {getattr(e, 'msg', e)}") from None
    try:
        expr = _convert(tree.body, allow_pow, integers_only)
    except RecursionError:
        raise ExprError("expression is nested too deeply") from None
    if size(expr) > max_size:
        raise ExprError(f"expression has {size(expr)} nodes; at most {max_size} are allowed here")
    return expr


def _convert(node: ast.AST, allow_pow: bool, integers_only: bool) -> Expr:
    conv = lambda n: _convert(n, allow_pow, integers_only)  # noqa: E731
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = node.value
        if integers_only and type(value) is not int:
            raise ExprError(f"only integer constants are allowed here, not {value!r}")
        if not math.isfinite(float(value)) or abs(value) > 1e6:
            raise ExprError(f"constant {value!r} is out of range (|c| <= 1e6)")
        return ("c", value)
    if isinstance(node, ast.Name):
        if node.id == "x":
            return X
        if node.id in ("pi", "e") and not integers_only:
            return ("c", math.pi if node.id == "pi" else math.e)
        raise ExprError(f"unknown name {node.id!r}: the only variable is x")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = conv(node.operand)
        return ("neg", inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            base = conv(node.left)
            if isinstance(node.right, ast.Constant) and node.right.value == 2 and type(node.right.value) is int:
                return ("pow2", base)
            if not allow_pow:
                raise ExprError("only **2 is allowed here (the rules have pow2, not a general power)")
            return ("pow", base, conv(node.right))
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise ExprError(f"operator {type(node.op).__name__} is not allowed")
        return (op, conv(node.left), conv(node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTION_NAMES:
        if len(node.args) != 1 or node.keywords:
            raise ExprError(f"{node.func.id}() takes exactly one argument")
        return (_FUNCTION_NAMES[node.func.id], conv(node.args[0]))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        raise ExprError(f"unknown function {node.func.id!r}; known: {', '.join(sorted(_FUNCTION_NAMES))}")
    raise ExprError(f"{type(node).__name__} is not allowed in an expression")


# ---------------------------------------------------------------------- printing
def to_str(e: Expr, parent_prec: int = 0) -> str:
    """Readable infix text that ``parse`` turns back into the same expression."""
    op = e[0]
    if op == "x":
        return "x"
    if op == "c":
        v = e[1]
        return str(v) if type(v) is int else repr(float(v))
    prec = _PREC.get(op, 5)
    if op in BINARY:
        text = f"{to_str(e[1], prec)} {_SYMBOL[op]} {to_str(e[2], prec + 1)}"
    elif op == "neg":
        text = "-" + to_str(e[1], prec)
    elif op == "pow2":
        text = to_str(e[1], 5) + "**2"
    elif op == "pow":
        text = f"{to_str(e[1], 5)}**{to_str(e[2], 5)}"
    else:
        return f"{op}({to_str(e[1])})"
    return f"({text})" if prec < parent_prec else text


def to_prefix(e: Expr) -> str:
    """Canonical prefix notation, used as the goal key: ``add sin x 2``."""
    out: list[str] = []
    stack = [e]
    while stack:
        node = stack.pop()
        out.append(node[0] if node[0] != "c" else str(node[1]))
        if node[0] != "c":
            stack.extend(reversed(node[1:]))
    return " ".join(out)


# ---------------------------------------------------------------------- structure
def size(e: Expr) -> int:
    if e[0] in ("x", "c"):
        return 1
    return 1 + sum(size(child) for child in e[1:])


def n_operators(e: Expr) -> int:
    if e[0] in ("x", "c"):
        return 0
    return 1 + sum(n_operators(child) for child in e[1:])


def subexpressions(e: Expr) -> list[Expr]:
    """All subexpressions in prefix order, so ``subexpressions(e)[pos]`` is the node at ``pos``."""
    out: list[Expr] = []
    stack = [e]
    while stack:
        node = stack.pop()
        out.append(node)
        if node[0] != "c":
            stack.extend(reversed(node[1:]))
    return out


def replace_at(e: Expr, pos: int, fn: Callable[[Expr], Expr]) -> Expr:
    """``e`` with the subexpression at prefix position ``pos`` replaced by ``fn(subexpression)``."""
    if pos == 0:
        return fn(e)
    offset = 1
    if e[0] in ("x", "c"):
        raise IndexError(pos)
    children = list(e[1:])
    for i, child in enumerate(children):
        n = size(child)
        if pos < offset + n:
            children[i] = replace_at(child, pos - offset, fn)
            return (e[0], *children)
        offset += n
    raise IndexError(pos)


# ---------------------------------------------------------------------- evaluation
def evaluate(e: Expr, x: np.ndarray) -> np.ndarray:
    """Values of ``e`` at every point of ``x`` (vectorised; NaN and inf are allowed through)."""
    with np.errstate(all="ignore"):
        return _eval(e, x)


def _eval(e: Expr, x: np.ndarray) -> np.ndarray:
    op = e[0]
    if op == "x":
        return x
    if op == "c":
        return np.full_like(x, float(e[1]))
    if op in UNARY:
        return UNARY[op](_eval(e[1], x))
    fn = BINARY.get(op) or _TARGET_ONLY[op]
    return fn(_eval(e[1], x), _eval(e[2], x))
