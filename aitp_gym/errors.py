"""Exceptions. Expected failures (a bad tactic, a tactic that times out) are ``Outcome`` values;
these are for broken infrastructure and bad configuration."""


class AitpError(Exception):
    """Base class of aitp-gym's exceptions."""


class DependencyNotInstalled(AitpError, ImportError):
    """An optional prover or library is missing; the message says how to install it (which extra, which
    Debian package). It is an ``ImportError``, so ``except ImportError`` code keeps working."""


class ProverError(AitpError):
    """The prover process could not start, crashed, or stopped answering."""


class ProverUnavailable(ProverError):
    """The prover went away and could not be brought back: no tactic's outcome can be known, so none is recorded
    (a search stops with this error instead of marking valid tactics as failed)."""


class ProverTimeout(ProverError):
    """The prover did not answer within the watchdog's deadline."""


class UnknownTheorem(AitpError, KeyError):
    """A theorem id or index that the backend does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class TraceFormatError(AitpError, ValueError):
    """A trace file that is not a valid aitp-gym trace, or has an unsupported schema version."""
