"""Functions that tests send to isolated children (sbmleq.solvers.isolate): module-level, so the
child imports them by name (the child gets the parent's sys.path, which holds tests/)."""

from __future__ import annotations

import os
import signal


def crash_self(sig: int = signal.SIGSEGV) -> None:
    """Kill the current process with ``sig`` (the crash path)."""
    os.kill(os.getpid(), sig)


def exit_now(code: int = 3) -> None:
    """Leave without answering (``os._exit``)."""
    os._exit(code)


def fail_to_start() -> None:
    """An initializer that raises."""
    raise RuntimeError("no roadrunner here")


def read_stdin() -> str:
    """What the child's stdin holds (it must never be the caller's)."""
    import sys

    return sys.stdin.read()


def main_module_file() -> str | None:
    """The child's ``__main__.__file__`` (the caller's script must not be the child's main)."""
    import __main__

    return getattr(__main__, "__file__", None)


class Unpicklable:
    def __reduce__(self):
        raise TypeError("Unpicklable cannot be pickled")


def make_unpicklable() -> Unpicklable:
    return Unpicklable()


class BadError(Exception):
    def __reduce__(self):
        raise TypeError("BadError cannot be pickled")


def raise_unpicklable() -> None:
    raise BadError("bad")
