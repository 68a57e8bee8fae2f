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
``sr`` is SR-v0's compact view: the current expression and the target values at 10 of the points with 3 significant
digits, about 90 bytes instead of about 280 (ŷ is left out: it follows from the expression). Byte-level models cost
time in proportion to input length, so on a CPU this view makes SR-v0 training and search about 3× faster.
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


SR_VIEW_POINTS = 10


def _sr_view(text: str) -> str:
    """SR-v0's compact view: ``sin(x) + 2 | y: v1 v2 ...`` (10 evenly spread points, 3 significant digits)."""
    expression, values = None, None
    for line in text.split("\n"):
        if line.startswith("f(x) = "):
            expression = line[len("f(x) = "):]
        elif line.startswith("y: "):
            values = line[3:].split(" ")
    if expression is None or values is None:
        return text  # not an SR-v0 goal: leave it as it is
    numbers = []
    for v in values:
        try:
            numbers.append(float(v))
        except ValueError:
            break  # "… (N more points)"
    if len(numbers) > SR_VIEW_POINTS:
        step = (len(numbers) - 1) / (SR_VIEW_POINTS - 1)
        numbers = [numbers[round(i * step)] for i in range(SR_VIEW_POINTS)]
    return f"{expression} | y: " + " ".join(f"{v:.3g}" for v in numbers)


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
