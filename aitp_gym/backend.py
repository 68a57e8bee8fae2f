"""The prover backend protocol that every environment implements."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aitp_gym.tree import Goal, Outcome

if TYPE_CHECKING:
    from aitp_gym.proof import ProofStep

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Theorem:
    """A statement to prove. ``data`` is backend-specific (a target expression, a HOL term, ...)."""

    id: str
    statement: str
    split: str = ""
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


@runtime_checkable
class ProverBackend(Protocol):
    """A prover seen from the caller's side as stateless: ``apply`` takes any goal of the tree,
    so planners can expand goals in any order. Backends start their prover lazily, on first use,
    so listing theorems never pays a prover start."""

    env_id: str

    def theorems(self, split: str) -> Sequence[Theorem]:
        """The fixed theorem set of a split (``train``, ``valid`` or ``test``)."""
        ...

    def start(self, theorem: Theorem) -> Goal:
        """The root goal of ``theorem``."""
        ...

    def apply(self, goal: Goal, tactic: str, timeout: float | None = None) -> Outcome:
        """Apply one tactic to one goal. Never raises for a bad tactic: that is an error outcome."""
        ...

    def check(self, theorem: Theorem, proof: ProofStep) -> tuple[bool, str]:
        """Replay ``proof`` on a fresh prover instance; (ok, message)."""
        ...

    def close(self) -> None:
        ...


# Capabilities a backend may have beyond the protocol; callers test them with isinstance, never by probing names.
@runtime_checkable
class SupportsCandidates(Protocol):
    """Lists the tactics worth trying on a goal, which gives model-free planners and rankers a candidate set."""

    def candidate_tactics(self, goal: Goal) -> list[str]:
        ...


@runtime_checkable
class SupportsPrepare(Protocol):
    """Has a one-off start (HOL Light's cold load) that callers run before timing anything; ``status`` receives
    progress lines."""

    def prepare(self, status: Callable[[str], None] | None = None) -> None:
        ...


@runtime_checkable
class SupportsCustomTheorem(Protocol):
    """Builds a theorem from ``reset`` options other than ``theorem`` (a user's statement or data)."""

    def custom_theorem(self, options: Mapping[str, Any]) -> Theorem:
        ...


@runtime_checkable
class SupportsDefaultCritic(Protocol):
    """Has a model-free critic of its own (SR-v0: closeness to the data), used when no critic is given."""

    def default_critic(self) -> Any:
        ...


@runtime_checkable
class DescribesProver(Protocol):
    """Says what it runs, for trace headers: the prover's version and the default tactic timeout (seconds)."""

    prover_version: str
    tactic_timeout: float | None


def describe(backend: object) -> dict[str, Any]:
    """The ``DescribesProver`` attributes of a backend, each None where the backend lacks it (a backend may know
    its tactic timeout but not a prover version)."""
    return {name: getattr(backend, name, None) for name in DescribesProver.__annotations__}



def validate_seconds(value: object, default: float | None, name: str) -> float:
    """A timeout setting: ``None`` means ``default`` (when there is one); otherwise a positive, finite number of
    seconds. Raises ``ValueError`` naming the setting."""
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        fallback = f" (or None for the default {default})" if default is not None else ""
        raise ValueError(f"{name} must be a positive number of seconds{fallback}, not {value!r}")
    return float(value)
