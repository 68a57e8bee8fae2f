"""The Gymnasium face of Lean 4 through lean_dojo."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aitp_gym.backend import Theorem
from aitp_gym.env import ProofEnv
from aitp_gym.envs.lean.backend import (
    DEFAULT_CHECK_TIMEOUT,
    DEFAULT_CRASH_RETRIES,
    DEFAULT_INIT_TIMEOUT,
    DEFAULT_MAX_RESTARTS,
    DEFAULT_RESTART_EVERY,
    DEFAULT_TACTIC_TIMEOUT,
    INSTALL_LEAN,
    LeanBackend,
    import_lean_dojo,
)
from aitp_gym.errors import DependencyNotInstalled
from aitp_gym.tree import ProofNode


def check_lean_installed(need_lake: bool = True) -> None:
    """Raise one ``DependencyNotInstalled`` that names everything missing: the ``lean`` extra (lean_dojo)
    and, unless a custom Dojo factory is used, a Lean 4 toolchain (``lake`` on PATH)."""
    missing = []
    if importlib.util.find_spec("lean_dojo") is None:
        missing.append('the Python package lean-dojo (pip install "aitp-gym[lean]")')
    if need_lake and shutil.which("lake") is None:
        missing.append(f"a Lean 4 toolchain (`lake` is not on PATH). {INSTALL_LEAN}")
    if missing:
        raise DependencyNotInstalled("Lean-v0 needs " + " and ".join(missing))
    import_lean_dojo()


class LeanEnv(ProofEnv):
    """
    ## Description
    Lean 4 through LeanDojo (``lean_dojo``, written against lean-dojo 4.20.0). A theorem is a named theorem
    of a Lean repository that LeanDojo has traced: ``lean_dojo.Theorem(LeanGitRepo(url, commit), file_path,
    full_name)``, or a record of a LeanDojo Benchmark 4 folder. ``reset`` starts a Dojo on it (a Lean process
    with the file up to the theorem loaded; ``import Mathlib`` alone can take minutes) and the proof
    runs in that process. It needs a Lean 4 toolchain (``lake`` on PATH, installed with elan) and a traced
    repository; without them ``gym.make`` fails with one message saying what to install. See
    ``docs/lean.md``.

    ## Action Space
    A tactic string (``UnicodeText``) in Lean 4 syntax, as in a ``by`` block: ``intro n``, ``simp [Nat.add_comm]``,
    ``induction n with | zero => rfl | succ n ih => simp [ih]``. It is applied to the focused goal alone (under
    ``focus``; a goal other than the first is brought to the front with ``rotate_left`` first). ``sorry``,
    ``admit`` and ``sorryAx`` are refused. A rejected tactic is an error outcome with Lean's message in
    ``info["message"]``; the episode goes on.

    ## Observation Space
    The focused goal as Lean prints it (``UnicodeText``, any Unicode: ``ℕ``, ``∀``, ``𝓝``): an optional
    ``case`` line, the hypotheses one per line, then ``⊢ target``. A Dojo state with several goals is split
    into one goal each. ``info["premises"]`` holds the names of the premises the theorem may use (everything
    in the files its file imports, and what comes before it in its own file), taken from the benchmark's
    ``corpus.jsonl`` (or ``corpus=``); it is empty without a corpus.

    ## Rewards
    1 when the theorem is proved; otherwise ``-step_penalty`` (default 0).

    ## Starting State
    The theorem's statement as one goal: drawn from ``split`` with the env's RNG, or
    ``reset(options={"theorem": id | index | Theorem})``, ``{"lean_theorem": lean_dojo.Theorem}``, or
    ``{"url": ..., "commit": ..., "file_path": ..., "full_name": ...}``. A Dojo that cannot start
    (``DojoInitError``, a repository that cannot be traced) raises ``ProverError`` naming the theorem.

    ## Episode End
    * Termination: the theorem is proved.
    * Truncation: ``max_episode_steps`` (100 by default, through ``TimeLimit``).

    A tactic that runs longer than ``tactic_timeout`` gives a ``timeout`` outcome; the Dojo is then restarted
    and replayed to the states still needed, so the next tactic does not inherit the timeout. A crashed
    Lean (``DojoCrashError``) is restarted and the tactic retried up to ``crash_retries`` times; the crash
    is reported in ``info["message"]``. The Dojo is restarted every ``restart_every`` tactics to bound
    Lean's memory. Timeouts make runs non-deterministic, so the env is registered ``nondeterministic=True``.
    A found proof is checked with ``lean_dojo.check_proof`` before a planner reports it; when that cannot run,
    does not finish within ``check_timeout`` or returns False, the whole proof script is run instead from the
    start state in a fresh Dojo, where it must finish the proof (Lean's kernel check).

    ## Arguments
    | argument | default | meaning |
    |---|---|---|
    | ``benchmark`` | ``None`` | a LeanDojo Benchmark 4 folder (the root or one variant's folder) |
    | ``variant`` | ``"random"`` | ``random`` or ``novel_premises``, when ``benchmark`` is the root |
    | ``theorems`` | ``None`` | ``lean_dojo.Theorem`` objects instead of a benchmark (every split is this list) |
    | ``corpus`` | ``None`` | a ``corpus.jsonl`` for premises (default: the benchmark's) |
    | ``split`` | ``"train"`` | theorem set that ``reset`` draws from (train, valid = LeanDojo's val, test) |
    | ``tactic_timeout`` | ``10.0`` | seconds a tactic may run (``None``: the default) |
    | ``init_timeout`` | ``600`` | seconds a Dojo may take to start |
    | ``restart_every`` | ``400`` | tactics between Dojo restarts (``None``: never) |
    | ``crash_retries`` | ``1`` | fresh Dojos a tactic is retried in after Lean crashed |
    | ``max_restarts`` | ``50`` | Dojo starts per theorem; past it, tactics raise ``ProverError`` |
    | ``dojo_factory`` | ``None`` | called like ``lean_dojo.Dojo(entry, timeout=...)`` (default ``Dojo``) |
    | ``proof_checker`` | ``None`` | like ``lean_dojo.check_proof(theorem, proof)`` (the default); ``"replay"`` |
    | ``check_timeout`` | ``900.0`` | seconds ``proof_checker`` may run (a child process, killed after) |
    | ``step_penalty`` | ``0.0`` | subtracted from the reward at every step that does not prove |

    >>> import gymnasium as gym, aitp_gym
    >>> env = gym.make("Lean-v0", benchmark="leandojo_benchmark_4", split="test")  # doctest: +SKIP
    >>> obs, info = env.reset(options={"theorem": 0})                            # doctest: +SKIP
    >>> obs, reward, terminated, truncated, info = env.step("intro n")           # doctest: +SKIP

    ## Version History
    * v0: initial release (lean-dojo 4.20.0).
    """

    def __init__(self, split: str = "train", step_penalty: float = 0.0,
                 tactic_timeout: float | None = DEFAULT_TACTIC_TIMEOUT, render_mode: str | None = None, *,
                 benchmark: str | Path | None = None, variant: str = "random",
                 theorems: Sequence[Any] | None = None, corpus: str | Path | None = None,
                 init_timeout: int = DEFAULT_INIT_TIMEOUT, restart_every: int | None = DEFAULT_RESTART_EVERY,
                 crash_retries: int = DEFAULT_CRASH_RETRIES, dojo_factory: Callable[..., Any] | None = None,
                 proof_checker: Callable[[Any, str], bool] | str | None = None,
                 max_restarts: int = DEFAULT_MAX_RESTARTS, check_timeout: float = DEFAULT_CHECK_TIMEOUT,
                 **kwargs: Any) -> None:
        check_lean_installed(need_lake=dojo_factory is None)
        backend = LeanBackend(theorems, benchmark, variant, corpus, tactic_timeout=tactic_timeout,
                              init_timeout=init_timeout, restart_every=restart_every, crash_retries=crash_retries,
                              max_restarts=max_restarts, dojo_factory=dojo_factory, proof_checker=proof_checker,
                              check_timeout=check_timeout)
        super().__init__(backend, split=split, step_penalty=step_penalty, tactic_timeout=backend.tactic_timeout,
                         render_mode=render_mode, **kwargs)

    def _choose_theorem(self, options: dict[str, Any]) -> Theorem:
        if not options and not self.backend.theorems(self.split):
            raise ValueError("Lean-v0 has no theorems: pass benchmark=DIR or theorems=[lean_dojo.Theorem(...)] to "
                             "gym.make, or reset(options={'lean_theorem': lean_dojo.Theorem(...)})")
        return super()._choose_theorem(options)

    def _goal_info(self, node: ProofNode) -> dict[str, Any]:
        return {"premises": self.backend.accessible_premises(self.attempt.theorem)}
