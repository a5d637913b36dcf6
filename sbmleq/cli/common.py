"""What every command shares: the error boundary (one line on stderr, the exit code), the
MODEL arguments (``-`` reads stdin once), option types and the ``--timeout`` check.

Exit codes (docs/cli.md): 0 ok, 1 unexpected error (a bug), 2 invalid input (also a BioModels
download that cannot be done), 3 out of class, 4 bad checkpoint, 5 roadrunner failed or timed
out. An :class:`~sbmleq.errors.SbmleqError` carries its own code; any other exception is 1,
with a hint to rerun with ``--debug`` (which prints the traceback). With several models every
model is processed and the exit code is the worst (largest) one.
"""

from __future__ import annotations

import enum
import math
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TextIO, TypeVar

import typer

from sbmleq.errors import InputError, SbmleqError
from sbmleq.io.sources import antimony_to_sbml

T = TypeVar("T")
STDIN = "-"
DEBUG_HINT = "run again with --debug for the traceback"


class PredictFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"


class ImportFormat(str, enum.Enum):
    table = "table"
    json = "json"


class Device(str, enum.Enum):
    cpu = "cpu"
    cuda = "cuda"


ModelsArg = Annotated[list[str], typer.Argument(
    metavar="MODEL...", show_default=False,
    help="SBML file, BioModels id (BIOMD0000000xxx, shipped or cached) or - for SBML/Antimony "
         "on stdin.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback of unexpected errors.")]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", help="Seconds for each roadrunner solve (run in a child process that is "
                      "killed when time is up); 0 = no limit, in this process.")]


# ---------------------------------------------------------------------------- error boundary
class Reporter:
    """Writes one-line errors to stderr and keeps the worst exit code."""

    def __init__(self, err: TextIO, debug: bool = False):
        self.err, self.debug, self.code = err, debug, 0
        self.last = ""  # the last error line (for JSON error entries)

    def fail(self, exc: BaseException, source: str | None = None) -> int:
        if isinstance(exc, SbmleqError):
            if source is not None:
                exc.with_source(source)
            line, code = exc.one_line(), exc.exit_code
        else:
            text = " ".join(str(exc).split())[:300]
            where = f"{source}: " if source else ""
            line = (f"{where}unexpected {type(exc).__name__}"
                    f"{': ' + text if text else ''} ({DEBUG_HINT})")
            code = 1
        if self.debug:
            traceback.print_exception(exc, file=self.err)
        self.line(line)
        self.note(code)
        return code

    def line(self, text: str) -> None:
        """One ``error: ...`` line on stderr (the exit code is noted separately)."""
        self.err.write(f"error: {text}\n")
        self.err.flush()
        self.last = text

    def note(self, code: int) -> None:
        self.code = max(self.code, code)

    def entry(self, key: str, source: str, code: int) -> dict[str, Any]:
        """The JSON entry of a model that failed (its line already went to stderr)."""
        return {key: source, "error": {"exit_code": code, "message": self.last}}

    def attempt(self, fn: Callable[[], T], source: str | None = None) -> tuple[T | None, int]:
        """``fn()``; an error is reported (one line) and returned as its exit code."""
        try:
            return fn(), 0
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - the CLI boundary: never a traceback
            return None, self.fail(exc, source)

    def out_of_class(self, model: str, reasons: Sequence[tuple[str | None, str]]) -> None:
        """``error: <model>: outside the LIFE class: <first reason> (and N more)``; exit 3."""
        texts = [f"{reaction}: {reason}" if reaction else reason for reaction, reason in reasons]
        texts = texts or ["not a LIFE network"]
        more = f" (and {len(texts) - 1} more)" if len(texts) > 1 else ""
        self.line(f"{model}: outside the LIFE class: {texts[0]}{more}")
        self.note(3)


def streams(out: TextIO | None, err: TextIO | None) -> tuple[TextIO, TextIO]:
    return out or sys.stdout, err or sys.stderr


def display(arg: str) -> str:
    """How a MODEL argument is named in messages and results."""
    return "<stdin>" if arg == STDIN else arg


class Sources:
    """MODEL arguments as loader sources: ``-`` reads stdin (SBML or Antimony) once."""

    def __init__(self, stdin: TextIO | None):
        self.stdin = stdin
        self.used = False

    def resolve(self, arg: str) -> tuple[Any, str]:
        """``(source, display name)`` for one MODEL argument."""
        if arg != STDIN:
            return arg, arg
        if self.used:
            raise InputError("stdin can be read only once: give '-' a single time",
                             source="<stdin>")
        self.used = True
        text = (self.stdin or sys.stdin).read()
        if not text.strip():
            raise InputError("no input on stdin (expected SBML or Antimony)", source="<stdin>")
        if text.lstrip().startswith("<"):
            return text, "<stdin>"
        return antimony_to_sbml(text, "<stdin>")[0], "<stdin>"


def parse_timeout(seconds: float) -> float | None:
    """``--timeout``: seconds > 0 for an isolated solve, 0 for no limit (in this process)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(f"must be a finite number of seconds >= 0 (0: no limit), got "
                         f"{seconds:g}", element="--timeout")
    return None if seconds == 0 else seconds
