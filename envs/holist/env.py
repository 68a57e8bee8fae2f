"""The Gymnasium face of HOL Light in the HOList setting."""

from __future__ import annotations

import os
from typing import Any

from aitp_gym.env import ProofEnv
from aitp_gym.envs.holist.backend import DEFAULT_TACTIC_TIMEOUT, HOListBackend
from aitp_gym.tree import ProofNode


class HOListEnv(ProofEnv):
    """
    ## Description
    HOL Light (Debian's ``hol-light``, core library) in the HOList setting (Bansal et al. 2019).
    A theorem is a named theorem of the HOL Light database, to be proved from the theorems that
    come before it in load order. The prover runs for real, as one warm HOL Light per machine (and
    user): the first env that needs it starts a server (a cold load of about 90 s) that outlives the
    Python process that started it; every env, in any process, then works in its own worker forked
    from that warm image in milliseconds. ``env.unwrapped.backend.prepare(status)`` attaches ahead of
    time and calls ``status`` only when a cold load is about to happen (or this process waits for
    another's) and when HOL Light is ready. Without ``status`` (the first ``reset`` or ``step``) those
    messages go to the ``aitp_gym.envs.holist`` logger at INFO, or, if the program has configured
    no logging, to stderr as ``aitp-gym: starting HOL Light (about 90 s, once per machine)…``;
    ``logging.getLogger("aitp_gym.envs.holist").setLevel(logging.WARNING)`` silences them.

    The server listens on a Unix socket in a private (0700) directory: ``$AITP_HOL_SERVER_DIR``, else
    ``$XDG_RUNTIME_DIR/aitp-gym``, else ``<tmp>/aitp-gym-<uid>``. It exits by itself after
    ``$AITP_HOL_SERVER_IDLE`` seconds (default 900) with no client connected, and
    ``python -m aitp_gym.envs.holist.server stop`` stops it at once (``start`` and ``status`` too),
    but refuses while clients are connected unless ``--force``. A server of another HOL Light or
    aitp-gym version, or a dead one, is replaced automatically. If the server goes away under a
    live env (a forced stop, a crash), the env says so and runs its request again on a new server
    (a cold load if no other process has started one): a valid tactic is never recorded as failed
    for it.
    The env pickles (for async vector envs and Ray) without its connection; a copy re-attaches to
    the warm server on first use.

    ## Action Space
    A tactic string (``UnicodeText``) in HOL Light syntax: one atomic tactic from the HOList tactic set
    or the common core tactics added to it (``INDUCT_TAC``, ``SET_TAC []``, ``ASM_CASES_TAC `t```...), e.g.
    ``ARITH_TAC``, ``CONJ_TAC``, ``MP_TAC ADD_SYM``, ``REWRITE_TAC [ADD_SYM; MULT_SYM]``,
    ``EXISTS_TAC `n + 1```. Theorem arguments may be theorem expressions built with a whitelist of HOL
    Light functions: ``REWRITE_TAC [GSYM NOT_LT]``, ``MP_TAC (SPEC `n:num` LT_REFL)``,
    ``REWRITE_TAC [distinctness "list"]``, ``SIMP_TAC [ARITH_RULE `...`]``. It is parsed against the grammar
    in ``aitp_gym.envs.holist.grammar`` and never passed to the OCaml toplevel as text; anything else is
    an error outcome, without touching the prover. Every theorem named in an argument must come before
    the theorem being proved, in the exact order in which HOL Light bound them (recorded inside HOL
    Light when it loads).

    ## Observation Space
    The focused goal as text (``UnicodeText``): hypotheses one per line, then ``⊢ conclusion``.
    ``info["sexp"]`` holds the exact s-expression (with types) and ``info["premises"]`` the names of
    the theorems allowed as arguments.

    ## Rewards
    1 when the theorem is proved; otherwise ``-step_penalty`` (default 0).

    ## Starting State
    The theorem's statement as a goal with no hypotheses: drawn from ``split`` with the env's RNG,
    or ``reset(options={"theorem": name})``, or ``reset(options={"statement": "!n. n + 0 = n"})``
    (a non-empty string of HOL Light syntax, else ``ValueError``).

    ## Episode End
    * Termination: the theorem is proved.
    * Truncation: ``max_episode_steps`` (100 by default, through ``TimeLimit``).

    A tactic that runs longer than ``tactic_timeout`` is interrupted inside HOL Light and gives a
    ``timeout`` outcome. The timer also covers turning the resulting goals into text and
    s-expressions, so a step takes at most about ``tactic_timeout`` plus the round trip; a result
    goal whose s-expression exceeds 1,000,000 characters is an error outcome ("result goal too
    large"). A worker that stops answering within ``tactic_timeout`` + 5 s is killed and replaced,
    and the step gives a timeout outcome; a crashed worker (its server still running) gives an error
    outcome and is replaced.
    Timeouts make runs non-deterministic, so the env is registered ``nondeterministic=True``.

    ``tactic_timeout`` must be a positive number of seconds or ``None``; anything else raises
    ``ValueError`` when the env is made.

    ## Arguments
    | argument | default | meaning |
    |---|---|---|
    | ``split`` | ``"train"`` | theorem set that ``reset`` draws from (train, valid, test) |
    | ``tactic_timeout`` | ``2.0`` | seconds a tactic may run inside HOL Light (``None``: the default) |
    | ``step_penalty`` | ``0.0`` | subtracted from the reward at every step that does not prove |
    | ``outcome_cache`` | ``None`` | an SQLite file of tactic outcomes, shared across processes (see below) |

    ``outcome_cache`` (a path): HOL Light's replies are kept in that file (``aitp_gym.outcome_cache``) and a
    tactic applied again to the same goal, hypotheses included, under the same HOL Light and server version and
    the same timeout is answered from it in about a millisecond, with the outcome the prover gave (its ``elapsed``
    is the lookup's). Rejected actions, watchdog timeouts and lost workers are never stored; HOL Light's own
    timeouts are. Every env and process given the same path shares it (``aitp loop`` with
    ``prove.outcome_cache: true`` uses ``<run>/outcomes.sqlite``); keep it on a local disk.
    ``env.unwrapped.backend.outcome_cache`` counts this process's hits and misses.

    >>> import gymnasium as gym, aitp_gym
    >>> env = gym.make("HOList-v0")                                # doctest: +SKIP
    >>> obs, info = env.reset(options={"statement": "1 + 1 = 2"})  # doctest: +SKIP
    >>> env.step("ARITH_TAC")[1:3]                                # doctest: +SKIP
    (1.0, True)

    ## Version History
    * v0: initial release; since then: one prover server per machine, picklable envs, result goals
      bounded by the tactic timeout; the exact load order (premises allowed for a theorem changed),
      theorem expressions and more atomic tactics in the grammar; an optional outcome cache.
    """

    def __init__(self, split: str = "train", step_penalty: float = 0.0,
                 tactic_timeout: float | None = DEFAULT_TACTIC_TIMEOUT,
                 render_mode: str | None = None, outcome_cache: str | os.PathLike[str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(HOListBackend(tactic_timeout=tactic_timeout, outcome_cache=outcome_cache), split=split,
                         step_penalty=step_penalty, render_mode=render_mode, **kwargs)

    def _goal_info(self, node: ProofNode) -> dict[str, Any]:
        state = node.goal.data
        return {"sexp": state.sexp, "premises": self.backend.allowed_premises(state.theorem_index)}
