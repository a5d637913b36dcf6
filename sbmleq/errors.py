"""Error types with the exit codes the command line maps them to.

Every error carries the file (or other source) and the element it concerns, so that the
command line can print one actionable line and exit non-zero instead of a traceback.
"""

from __future__ import annotations


class SbmleqError(Exception):
    """Base class: a user-facing problem with a one-line message."""

    exit_code: int = 1

    def __init__(self, message: str, *, source: str | None = None, element: str | None = None):
        self.message = message
        self.source = source
        self.element = element
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = [p for p in (self.source, self.element) if p]
        prefix = ": ".join(parts)
        text = " ".join(self.message.split())  # never more than one line
        return f"{prefix}: {text}" if prefix else text

    def with_source(self, source: str) -> "SbmleqError":
        """Return the same error with the source filled in (when it was unknown)."""
        if self.source is None:
            self.source = source
            self.args = (self.one_line(),)
        return self


class InputError(SbmleqError):
    """Unreadable or invalid input: missing file, malformed XML, not SBML, bad parameters."""

    exit_code = 2


class NetworkError(InputError):
    """A network whose definition is invalid (non-finite or negative parameters, self-loops...)."""


class OutOfClassError(SbmleqError):
    """A valid model that the LIFE network class (and so the learned model) does not cover."""

    exit_code = 3


class CheckpointError(SbmleqError):
    """A model checkpoint that is missing, corrupt, or of an incompatible version."""

    exit_code = 4


class SolverError(SbmleqError):
    """The exact or roadrunner solver could not be run at all."""

    exit_code = 5


class OutOfClassWarning(UserWarning):
    """``sbmleq.predict`` on a model outside the class: nothing was predicted (the reasons follow)."""
