"""SR-v0 features for the ranker policy (``aitp_gym.agents.ranker``): what a goal's text says about the next step.

A goal's text is ``f(x) = <expression>`` then the rows ``y:`` (the target's values) and ``ŷ:`` (the expression's),
4 significant digits each. The features are names (strings), hashed by the ranker:

* of the goal: the expression's size and operators, the *shape* of three rows: the target y, the residual
  y − ŷ and the ratio y / ŷ, and which unary functions f give y = f(ŷ). A shape is constant (with its value when
  it is a small integer), linear in the point index (with a slope bucket), even or odd (SR-v0's points are
  symmetric about 0), its sign, monotonicity and magnitude;
* of a tactic: its rule, rule and substitution, position, the operator it rewrites, and whether it rewrites the root.

The ranker learns weights for every (goal feature, tactic feature) pair, so "the residual is the constant 2" can
come to favour ``add @0 B=2``, and "the ratio is constant" a ``mul`` at the root. Nothing here names a tactic for a
goal: which pairs matter is learned from proofs.

The candidate set is the backend's (``candidate_tactics_for``), rebuilt from the expression in the text, so the
ranker can train on goal texts from traces.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from aitp_gym.envs.sr import expr as E
from aitp_gym.envs.sr.backend import _TACTIC_RE, candidate_tactics_for, split_goal_text

RTOL = 2e-3  # the rows have 4 significant digits


@functools.lru_cache(maxsize=4096)
def parse_goal_text(text: str) -> tuple[E.Expr, np.ndarray, np.ndarray] | None:
    """``(expression, y, ŷ)`` of an SR-v0 goal text, or None if the text is not one. Cached: the featuriser reads
    one goal's text for its features, its tactics' features and its candidates. The arrays are read-only."""
    parts = split_goal_text(text)
    if parts is None:
        return None
    try:
        expr = E.parse(parts[0], allow_pow=True)
    except E.ExprError:
        return None
    y, y_hat = np.array(parts[1], dtype=float), np.array(parts[2], dtype=float)
    y.flags.writeable = y_hat.flags.writeable = False
    return expr, y, y_hat


def _bucket(v: float) -> str:
    if not math.isfinite(v):
        return "nan"
    r = round(v)
    if abs(v - r) <= RTOL * max(1.0, abs(v)) and abs(r) <= 5:
        return str(r)
    return ("+" if v > 0 else "-") + str(int(math.log10(abs(v)) * 2)) if v else "0"


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """``np.allclose(a, b, rtol=RTOL, atol=1e-6)`` for finite arrays (every caller's), written out: the same test,
    |a − b| ≤ atol + rtol·|b|, without allclose's overhead, which dominated a proposal's time on 20 points."""
    return bool((np.abs(a - b) <= 1e-6 + RTOL * np.abs(b)).all())


def _shape(name: str, v: np.ndarray) -> list[str]:
    if len(v) == 0:
        return [f"{name}:empty"]
    out = []
    finite = np.isfinite(v)
    if not finite.all():
        out.append(f"{name}:nonfinite")
        v = np.where(finite, v, 0.0)
    mean = float(np.mean(v))
    if _close(v, np.full_like(v, mean)):
        return [*out, f"{name}:const", f"{name}:c={_bucket(mean)}"]
    if len(v) >= 3:
        i = np.arange(len(v), dtype=float)
        centred = i - i.mean()  # the least-squares line, in closed form (np.polyfit's lstsq costs 20× more)
        slope = float(centred @ (v - mean) / (centred @ centred))
        intercept = mean - slope * i.mean()
        if _close(slope * i + intercept, v):
            out += [f"{name}:linear", f"{name}:slope={_bucket(slope)}"]
    if _close(v, v[::-1]):
        out.append(f"{name}:even")
    if _close(v, -v[::-1]):
        out.append(f"{name}:odd")
    out.append(f"{name}:sign" + ("+" if (v >= 0).all() else "-" if (v <= 0).all() else "~"))
    top = float(np.abs(v).max())
    out.append(f"{name}:bounded1" if top <= 1 + RTOL else f"{name}:mag{min(6, int(math.log10(top)))}")
    d = np.diff(v)
    out.append(f"{name}:mono" + ("+" if (d >= 0).all() else "-" if (d <= 0).all() else "~"))
    return out


@functools.lru_cache(maxsize=65536)
def _tactic_features(tactic: str) -> tuple[tuple[str, ...], int, str]:
    """The features of a tactic that do not depend on the goal, its position (-1 if it does not parse) and rule:
    the same few hundred tactics come up at every goal, so they are parsed once."""
    m = _TACTIC_RE.fullmatch(tactic)
    if m is None:
        return (f"raw={tactic}",), -1, ""
    rule, pos, sub = m.group(1), int(m.group(2)), m.group(4)
    return (f"rule={rule}", f"rule={rule}/{sub}", f"pos={min(pos, 6)}", f"root={pos == 0}/{rule}"), pos, rule


@functools.lru_cache(maxsize=4096)
def _node_feature(node: str, rule: str) -> str:
    return f"node={node}/{rule}"


class SRFeaturiser:
    """Goal and tactic features of SR-v0 goal texts (see the module docstring)."""

    name = "sr"

    def goal(self, text: str) -> list[str]:
        parsed = parse_goal_text(text)
        if parsed is None:
            return ["bias", "not-sr"]
        expr, y, y_hat = parsed
        features = ["bias", f"size={min(E.size(expr), 12)}"]
        features += sorted({f"op={t}" for t in E.to_prefix(expr).split() if not t.lstrip("-").isdigit()})
        with np.errstate(all="ignore"):
            features += _shape("y", y)
            features += _shape("r", y - y_hat)
            features += _shape("q", y / y_hat)
            finite = np.isfinite(y)
            for name, fn in E.UNARY.items():  # the target is a function of the current values
                fy = fn(y_hat)
                if np.isfinite(fy[finite]).all() and _close(fy[finite], y[finite]):
                    features.append(f"y=f(ŷ):{name}")
        return features

    def tactics(self, text: str, tactics: list[str]) -> list[tuple[str, ...]]:
        parsed = parse_goal_text(text)
        nodes = E.subexpressions(parsed[0]) if parsed is not None else []
        out = []
        for tactic in tactics:
            fixed, pos, rule = _tactic_features(tactic)
            if pos < 0:
                out.append(fixed)
                continue
            out.append((*fixed, _node_feature(nodes[pos][0] if pos < len(nodes) else "?", rule)))
        return out

    def candidates(self, text: str) -> list[str] | None:
        parsed = parse_goal_text(text)
        return None if parsed is None else candidate_tactics_for(parsed[0])

    def tactic_context(self, text: str) -> str:
        """The expression line: a tactic's features read only the expression's nodes."""
        return text.split("\n", 1)[0]


# ---------------------------------------------------------------------- the compact goal view models read
VIEW_POINTS = 8


def _spread(values: list[float], n: int) -> list[float]:
    if len(values) <= n:
        return values
    step = (len(values) - 1) / (n - 1)
    return [values[round(i * step)] for i in range(n)]


def compact_view(text: str) -> str:
    """SR-v0's goal view ``sr``: the expression, then at 8 evenly spread points the target y, the residual y − ŷ
    and the ratio y / ŷ, 2 significant digits each: ``x | y: … | y-ŷ: … | y/ŷ: …`` (about 150 bytes instead of
    about 280). The residual and the ratio put the next step in plain sight (a constant residual 3 is
    ``add … B=3``)."""
    parts = split_goal_text(text)
    if parts is None:
        return text  # not an SR-v0 goal: leave it as it is
    expression, y, y_hat = parts
    y, y_hat = _spread(y, VIEW_POINTS), _spread(y_hat, VIEW_POINTS)

    def row(values: list[float]) -> str:
        return " ".join(f"{v:.2g}" for v in values)

    residual = [a - b for a, b in zip(y, y_hat, strict=True)]
    ratio = [a / b if b else float("nan") for a, b in zip(y, y_hat, strict=True)]
    return f"{expression} | y: {row(y)} | y-ŷ: {row(residual)} | y/ŷ: {row(ratio)}"
