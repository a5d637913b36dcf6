"""Run work in a child process with a hard time limit.

roadrunner's C++ calls (LLVM compilation, CVODE, NLEQ) cannot be interrupted by Python signals,
and a bad model can crash the interpreter. This module runs such work in a separate process:

- :func:`run_isolated` starts a fresh child for one call and kills it when the time is up;
- :class:`IsolatedWorker` keeps one child alive across many calls (so heavy imports such as
  roadrunner are paid once) and restarts it transparently after a timeout or a crash.

The function and its arguments are pickled, so ``fn`` must be importable by qualified name (a
module-level function, not a lambda or closure). Exceptions raised by ``fn`` are re-raised in the
caller; a child that runs past the limit raises :class:`ChildTimeout`; a child that dies (segfault,
``os.abort``, out-of-memory kill) raises :class:`ChildCrashed`.

Example::

    from sbmleq.solvers.isolate import IsolatedWorker, ChildTimeout

    with IsolatedWorker() as worker:
        for path in paths:
            try:
                result = worker.call(expensive, path, timeout=20)
            except ChildTimeout:
                ...  # the child was killed; the next call starts a fresh one

The time limit counts from the moment the request is handed to a ready child. Starting a child
(``python`` + imports, about 0.2-1 s with the default ``spawn`` context) is bounded separately by
``start_timeout``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from sbmleq.errors import SolverError

__all__ = ["ChildCrashed", "ChildTimeout", "IsolatedWorker", "IsolationError", "RemoteError",
           "run_isolated"]

_READY = "ready"


class IsolationError(SolverError):
    """The isolated child did not return a result."""


class ChildTimeout(IsolationError):
    """The child ran past its time limit and was killed."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        super().__init__(f"timed out after {timeout:g} s (child process killed)")


class ChildCrashed(IsolationError):
    """The child process died without answering (signal, ``os._exit``, OOM kill)."""

    def __init__(self, exitcode: int | None):
        self.exitcode = exitcode
        self.signal = -exitcode if exitcode is not None and exitcode < 0 else None
        if self.signal is not None:
            try:
                label = f"signal {self.signal}, {signal.Signals(self.signal).name}"
            except ValueError:
                label = f"signal {self.signal}"
            what = f"crashed ({label})"
        else:
            what = f"exited with code {exitcode} without answering"
        super().__init__(f"child process {what}")


class RemoteError(IsolationError):
    """An exception raised in the child that could not be sent back as itself."""

    def __init__(self, type_name: str, text: str, remote_traceback: str):
        self.type_name = type_name
        self.remote_traceback = remote_traceback
        super().__init__(f"{type_name}: {text}")


def _child_main(conn: Connection, initializer: Callable[..., Any] | None,
                init_args: tuple) -> None:
    """Child loop: run requests ``(fn, args, kwargs)`` until ``None`` or the pipe closes."""
    if initializer is not None:
        initializer(*init_args)
    conn.send(_READY)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        fn, args, kwargs = request
        try:
            reply: tuple[str, Any] = ("ok", fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the caller
            reply = ("err", exc, traceback.format_exc())
        try:
            conn.send(reply)
        except Exception as exc:  # unpicklable result or exception
            if reply[0] == "ok":
                failure = ("err", TypeError(f"result of {fn!r} cannot be pickled: {exc}"), "")
            else:
                err = reply[1]
                failure = ("remote", type(err).__name__, str(err), reply[2])
            conn.send(failure)


class IsolatedWorker:
    """One persistent child process that runs functions with a hard time limit.

    Parameters
    ----------
    context:
        multiprocessing start method: ``"spawn"`` (default, safe with threads and C++ libraries),
        ``"forkserver"`` or ``"fork"``.
    initializer, init_args:
        a module-level function run once in every new child (e.g. to import roadrunner before
        the first timed call).
    start_timeout:
        seconds allowed for a new child to start and run ``initializer``.

    The child is started lazily on the first :meth:`call` and restarted after a timeout or crash.
    Not thread-safe: use one worker per thread. Use it as a context manager or call
    :meth:`close`.
    """

    def __init__(self, *, context: str = "spawn",
                 initializer: Callable[..., Any] | None = None, init_args: tuple = (),
                 start_timeout: float = 120.0):
        self._ctx = mp.get_context(context)
        self._initializer = initializer
        self._init_args = tuple(init_args)
        self._start_timeout = start_timeout
        self._process: Any = None
        self._conn: Connection | None = None
        self.starts = 0  # how many children have been started (restarts = starts - 1)

    # ------------------------------------------------------------------ lifecycle
    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child now (otherwise the first :meth:`call` does)."""
        if self.alive:
            return
        self._discard()
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_child_main, args=(child, self._initializer,
                                                               self._init_args), daemon=True)
        process.start()
        child.close()
        self._process, self._conn = process, parent
        self.starts += 1
        ready = wait([parent, process.sentinel], self._start_timeout)
        if parent in ready:
            try:
                message = parent.recv()
            except (EOFError, OSError):
                message = None
            if message == _READY:
                return
        exitcode = process.exitcode
        self._kill()
        if not ready:
            raise IsolationError(f"child process did not start within {self._start_timeout:g} s")
        raise ChildCrashed(exitcode)

    def close(self) -> None:
        """Stop the child (politely, then by force)."""
        if self._conn is not None and self.alive:
            try:
                self._conn.send(None)
            except (OSError, ValueError):
                pass
            self._process.join(2.0)
        self._kill()

    def __enter__(self) -> "IsolatedWorker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: never leave a child behind
        try:
            self._kill()
        except Exception:
            pass

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.is_alive():
            process.kill()
            process.join(5.0)
        self._discard()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None and not self._process.is_alive():
            self._process.close()
        self._process, self._conn = None, None

    # ------------------------------------------------------------------ calls
    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None,
             **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in the child and return its result.

        Raises :class:`ChildTimeout` after ``timeout`` seconds (the child is killed),
        :class:`ChildCrashed` if the child dies, or whatever ``fn`` raised. (``timeout`` is
        this method's own keyword: it is never passed on to ``fn``.)
        """
        self.start()
        assert self._conn is not None and self._process is not None
        conn, process = self._conn, self._process
        try:
            conn.send((fn, args, kwargs))
        except (OSError, ValueError):  # the child died between calls
            exitcode = process.exitcode
            self._kill()
            raise ChildCrashed(exitcode) from None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait([conn, process.sentinel], remaining)
            if conn in ready:
                try:
                    reply = conn.recv()
                except (EOFError, OSError):
                    ready = [process.sentinel]
                else:
                    return _unpack(reply)
            if process.sentinel in ready:
                process.join(5.0)
                exitcode = process.exitcode
                self._kill()
                raise ChildCrashed(exitcode)
            if deadline is not None and time.monotonic() >= deadline:
                self._kill()
                raise ChildTimeout(float(timeout))  # type: ignore[arg-type]


def _unpack(reply: tuple) -> Any:
    kind = reply[0]
    if kind == "ok":
        return reply[1]
    if kind == "err":
        exc = reply[1]
        if reply[2]:
            exc.__notes__ = [*getattr(exc, "__notes__", []), "child traceback:\n" + reply[2]]
        raise exc
    raise RemoteError(reply[1], reply[2], reply[3])


def run_isolated(fn: Callable[..., Any], *args: Any, timeout: float | None,
                 context: str = "spawn", **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` once in a fresh child process and return its result.

    Same errors as :meth:`IsolatedWorker.call`. The child is always stopped before returning.
    """
    with IsolatedWorker(context=context) as worker:
        return worker.call(fn, *args, timeout=timeout, **kwargs)


def crash_self(sig: int = signal.SIGSEGV) -> None:
    """Kill the current process with ``sig`` (used to test crash handling)."""
    os.kill(os.getpid(), sig)
