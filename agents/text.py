"""Goal text for byte-level models: what is kept when a goal is too long. No torch here.

Byte-level models (ByT5's tokenizer: one token per UTF-8 byte) see at most ``max_bytes`` bytes of a goal.
A long goal keeps its **head and its tail** and drops the middle, marked by ``" … "``:

* the head holds what every prover puts first and what matters most to the next tactic: SR-v0's
  ``f(x) = <expression>`` line, HOL Light's hypotheses, Lean's case name and first hypotheses;
* the tail holds what provers put last: Lean's and HOL Light's conclusion after ``⊢``.

By default the head gets three quarters of the budget (``head_fraction``). Cuts fall on UTF-8 character
boundaries, never inside a character.

Before truncation a model may apply a **goal view**: a shorter text of the same goal for the model's input, chosen
per environment (``goal_view`` in the policy's and the critic's settings). ``full`` is the goal text unchanged.
``sr`` is SR-v0's compact view: the current expression, then at 8 of the points the target y, the residual y − ŷ and
the ratio y / ŷ with 2 significant digits, about 150 bytes instead of about 280. Byte-level models cost time in
proportion to input length, and the residual and ratio show a tiny model what the next step is.
"""

from __future__ import annotations

from collections.abc import Callable

ELLIPSIS = " … "


def truncate_goal(text: str, max_bytes: int, head_fraction: float = 0.75) -> str:
    """``text`` if it fits in ``max_bytes`` UTF-8 bytes, else its head and tail joined by ``" … "``."""
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, not {max_bytes}")
    if not 0.0 <= head_fraction <= 1.0:
        raise ValueError(f"head_fraction must be in [0, 1], not {head_fraction}")
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    budget = max_bytes - len(ELLIPSIS.encode("utf-8"))
    if budget <= 0:
        return data[:max_bytes].decode("utf-8", errors="ignore")
    head = int(budget * head_fraction)
    tail = budget - head
    head_text = data[:head].decode("utf-8", errors="ignore")
    tail_text = data[len(data) - tail:].decode("utf-8", errors="ignore") if tail else ""
    return head_text + ELLIPSIS + tail_text


SR_VIEW_POINTS = 8


def _spread(values: list[float], n: int) -> list[float]:
    if len(values) <= n:
        return values
    step = (len(values) - 1) / (n - 1)
    return [values[round(i * step)] for i in range(n)]


def _sr_view(text: str) -> str:
    """SR-v0's compact view: the expression, then at 8 evenly spread points the target y, the residual y − ŷ and
    the ratio y / ŷ, 2 significant digits each: ``x | y: … | y-ŷ: … | y/ŷ: …``. The residual and the ratio put
    the next step in plain sight (a constant residual 3 is ``add … B=3``)."""
    from aitp_gym.envs.sr.backend import split_goal_text

    parts = split_goal_text(text)
    if parts is None:
        return text  # not an SR-v0 goal: leave it as it is
    expression, y, y_hat = parts
    y, y_hat = _spread(y, SR_VIEW_POINTS), _spread(y_hat, SR_VIEW_POINTS)

    def row(values: list[float]) -> str:
        return " ".join(f"{v:.2g}" for v in values)

    residual = [a - b for a, b in zip(y, y_hat, strict=True)]
    ratio = [a / b if b else float("nan") for a, b in zip(y, y_hat, strict=True)]
    return f"{expression} | y: {row(y)} | y-ŷ: {row(residual)} | y/ŷ: {row(ratio)}"


GOAL_VIEWS: dict[str, Callable[[str], str]] = {"full": lambda text: text, "sr": _sr_view}


def goal_view(text: str, view: str = "full") -> str:
    """The text a model reads for a goal under ``view`` (see the module docstring)."""
    try:
        return GOAL_VIEWS[view](text)
    except KeyError:
        raise ValueError(f"unknown goal view {view!r}; views: {', '.join(GOAL_VIEWS)}") from None


def default_goal_view(env_id: str) -> str:
    """The view the loop uses for an environment: ``sr`` for SR-v0, ``full`` elsewhere."""
    return "sr" if env_id == "SR-v0" else "full"


def model_input(text: str, view: str, max_bytes: int) -> str:
    """``goal_view`` then ``truncate_goal``: exactly what a model encodes."""
    return truncate_goal(goal_view(text, view), max_bytes)
