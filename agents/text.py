"""Goal text for byte-level models: what is kept when a goal is too long. No torch here.

Byte-level models (ByT5's tokenizer: one token per UTF-8 byte) see at most ``max_bytes`` bytes of a goal.
A long goal keeps its **head and its tail** and drops the middle, marked by ``" … "``:

* the head holds what every prover puts first and what matters most to the next tactic: SR-v0's
  ``f(x) = <expression>`` line, HOL Light's hypotheses, Lean's case name and first hypotheses;
* the tail holds what provers put last: Lean's and HOL Light's conclusion after ``⊢``.

By default the head gets three quarters of the budget (``head_fraction``). Cuts fall on UTF-8 character
boundaries, never inside a character.
"""

from __future__ import annotations

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
