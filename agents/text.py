"""Goal text for byte-level models: what is kept when a goal is too long. No torch here.

Byte-level models (ByT5's tokenizer: one token per UTF-8 byte) see at most ``max_bytes`` bytes of a goal.
A long goal keeps its **head and its tail** and drops the middle, marked by ``" … "``:

* the head holds what every prover puts first and what matters most to the next tactic: SR-v0's
  ``f(x) = <expression>`` line, HOL Light's hypotheses, Lean's case name and first hypotheses;
* the tail holds what provers put last: Lean's and HOL Light's conclusion after ``⊢``.

By default the head gets three quarters of the budget (``head_fraction``). Cuts fall on UTF-8 character
boundaries, never inside a character.

Before truncation a model may apply a **goal view**: a shorter text of the same goal for the model's input, chosen
per environment (``goal_view`` in the policy's and the critic's settings). ``full`` is the goal text unchanged;
environments provide others in their ``EnvTraits.goal_views`` (``aitp_gym.registration``), such as SR-v0's compact
``sr`` view (``aitp_gym.envs.sr.features.compact_view``). Byte-level models cost time in proportion to input length,
and a view can also show a tiny model what the next step is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from aitp_gym.registration import env_traits, provided, resolve

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


def goal_views() -> list[str]:
    """``full`` and every view a registered environment provides (its ``EnvTraits.goal_views``)."""
    return ["full", *provided("goal_views")]


@functools.cache
def _view_function(view: str) -> Callable[[str], str]:
    if view == "full":
        return lambda text: text
    target = provided("goal_views").get(view)
    if target is None:
        raise ValueError(f"unknown goal view {view!r}; views: {', '.join(goal_views())}")
    return resolve(target)


def goal_view(text: str, view: str = "full") -> str:
    """The text a model reads for a goal under ``view`` (see the module docstring)."""
    return _view_function(view)(text)


def default_goal_view(env_id: str) -> str:
    """The view fresh models read on an environment: its ``EnvTraits.goal_view`` (``full`` if it declares none)."""
    return env_traits(env_id).goal_view


def model_input(text: str, view: str, max_bytes: int) -> str:
    """``goal_view`` then ``truncate_goal``: exactly what a model encodes."""
    return truncate_goal(goal_view(text, view), max_bytes)
