"""Run work in a child process with a hard time limit.

roadrunner's C++ calls (LLVM compilation, CVODE, NLEQ) cannot be interrupted by Python signals,
and a bad model can crash the interpreter. This module runs such work in a separate process:

- :func:`run_isolated` starts a fresh child for one call and kills it when the time is up;
- :class:`IsolatedWorker` keeps one child alive across many calls (so heavy imports such as
  roadrunner are paid once) and restarts it transparently after a timeout or a crash.

The function and its arguments are pickled, so ``fn`` must be importable by qualified name (a
module-level function of an importable module, not a lambda, a closure or a function of the
caller's ``__main__``). Exceptions raised by ``fn`` are re-raised in the caller; a child that
runs past the limit raises :class:`ChildTimeout`; a child that dies (segfault, ``os.abort``,
out-of-memory kill) raises :class:`ChildCrashed`; a child that cannot start raises
:class:`ChildStartError`. No failure is ever an empty result.

Example::

    from sbmleq.solvers.isolate import IsolatedWorker, ChildTimeout

    with IsolatedWorker() as worker:
        for path in paths:
            try:
                result = worker.call(expensive, path, timeout=20)
            except ChildTimeout:
                ...  # the child was killed; the next call starts a fresh one

How the child starts (the worker entry point)
---------------------------------------------
The child is a fresh interpreter, ``python -c <bootstrap>`` started with :mod:`subprocess`,
whose only job is :func:`_child_loop`: it imports this module and nothing of the caller's.
Parent and child talk over a socket pair (a :class:`multiprocessing.connection.Connection`;
the child's end is passed with ``pass_fds``). The first message is the parent's ``sys.path``
(so the child imports what the parent can), the second the initializer.

multiprocessing's ``spawn`` and ``forkserver`` start methods instead re-run the caller's main
script in the child (as ``__mp_main__``) to make its functions unpicklable-by-reference: a
script without an ``if __name__ == "__main__":`` guard then runs twice (and starts children of
its own), and a script on stdin (``python -``) fails in the child with ``FileNotFoundError:
'<stdin>'``. ``fork`` is unsafe in a process with threads and C++ libraries loaded. Our
bootstrap never looks at ``__main__``, so it behaves the same from a script with or without a
guard, ``python -``, ``python -c``, the REPL and notebooks. The price: functions defined in
``__main__`` cannot be sent (they come back as a clear unpickling error); sbmleq only sends
its own module-level functions. POSIX only (``pass_fds``).

The child ignores SIGINT (Ctrl-C in a terminal reaches the whole process group: the parent
decides, and stops the child), gets ``/dev/null`` as stdin (it must never read the caller's
stdin, e.g. ``sbmleq predict -``), and exits when the parent's end of the pipe closes. Workers
still running when the interpreter exits are killed (like multiprocessing's daemon children).

The time limit counts from the moment the request is handed to a ready child. Starting a child
(``python`` + imports, about 0.2-1 s) is bounded separately by ``start_timeout``.
"""

from __future__ import annotations

import atexit
import math
import os
import pickle
import signal
import subprocess
import sys
import time
import traceback
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection, Pipe, wait
from pathlib import Path
from typing import Any

from sbmleq.errors import SolverError

__all__ = ["ChildCrashed", "ChildStartError", "ChildTimeout", "IsolatedWorker", "IsolationError",
           "RemoteError", "run_isolated"]

_READY = "ready"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds sbmleq/
# The child's whole program: import this module by name (from the package root, whatever the
# child's own sys.path) and serve requests on the inherited file descriptor.
_BOOTSTRAP = ("import sys; sys.path.insert(0, sys.argv[1]); "
              "from sbmleq.solvers.isolate import _child_loop; _child_loop(int(sys.argv[2]))")
_LIVE: "weakref.WeakSet[IsolatedWorker]" = weakref.WeakSet()


class IsolationError(SolverError):
    """The isolated child did not return a result."""


class ChildStartError(IsolationError):
    """The child process could not be started or did not become ready."""


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


# ---------------------------------------------------------------------- child side
def _child_loop(fd: int) -> None:
    """The child's program: set up, then run requests ``(fn, args, kwargs)`` until ``None``
    or the pipe closes. Never returns to the bootstrap with an exception."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.set_inheritable(fd, False)  # our own children (if any) must not hold the pipe open
    conn = Connection(fd)
    try:
        sys.path[:] = conn.recv()  # a list of str: unpickles without importing anything
        initializer, init_args = pickle.loads(conn.recv_bytes())
        if initializer is not None:
            initializer(*init_args)
    except (EOFError, OSError):
        return
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as a start failure
        _send(conn, ("start_error", type(exc).__name__, _oneline(exc), traceback.format_exc()))
        return
    _send(conn, _READY)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            request = pickle.loads(data)
        except BaseException as exc:  # noqa: BLE001 - e.g. a function of the caller's __main__
            _reply(conn, None, ("err", exc, traceback.format_exc()))
            continue
        if request is None:
            return
        fn, args, kwargs = request
        try:
            reply: tuple = ("ok", fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the caller
            reply = ("err", exc, traceback.format_exc())
        if not _reply(conn, fn, reply):
            return


def _reply(conn: Connection, fn: Any, reply: tuple) -> bool:
    """Send ``reply``; an unpicklable result or exception goes back as an error. False when
    the parent is gone."""
    try:
        conn.send(reply)
        return True
    except (OSError, EOFError):
        return False
    except Exception as exc:  # noqa: BLE001 - unpicklable result or exception
        if reply[0] == "ok":
            failure: tuple = ("err", TypeError(f"result of {fn!r} cannot be pickled: {exc}"), "")
        else:
            err = reply[1]
            failure = ("remote", type(err).__name__, _oneline(err), reply[2])
        return _send(conn, failure)


def _send(conn: Connection, message: Any) -> bool:
    try:
        conn.send(message)
        return True
    except Exception:  # noqa: BLE001 - the parent is gone
        return False


def _oneline(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]


# ---------------------------------------------------------------------- parent side
class IsolatedWorker:
    """One persistent child process that runs functions with a hard time limit.

    Parameters
    ----------
    initializer, init_args:
        a module-level function run once in every new child (e.g. to import roadrunner before
        the first timed call). If it raises, :meth:`start` raises :class:`ChildStartError`
        with its message.
    start_timeout:
        seconds allowed for a new child to start and run ``initializer``.

    The child is started lazily on the first :meth:`call` and restarted after a timeout or crash.
    Not thread-safe: use one worker per thread. Use it as a context manager or call
    :meth:`close`.
    """

    def __init__(self, *, initializer: Callable[..., Any] | None = None, init_args: tuple = (),
                 start_timeout: float = 120.0):
        self._initializer = initializer
        self._init_args = tuple(init_args)
        self._start_timeout = start_timeout
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self.starts = 0  # how many children have been started (restarts = starts - 1)

    # ------------------------------------------------------------------ lifecycle
    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child now (otherwise the first :meth:`call` does)."""
        if self.alive:
            return
        self._discard()
        setup = pickle.dumps((self._initializer, self._init_args))  # fails here, not in the child
        parent, child = Pipe(duplex=True)
        try:
            process = subprocess.Popen(
                [sys.executable, *_interpreter_flags(), "-c", _BOOTSTRAP, _PACKAGE_ROOT,
                 str(child.fileno())],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, close_fds=True)
        except OSError as exc:
            parent.close()
            raise ChildStartError(f"child process could not be started: {exc}") from None
        finally:
            child.close()
        self._process, self._conn = process, parent
        self.starts += 1
        _LIVE.add(self)
        try:
            parent.send(list(sys.path))
            parent.send_bytes(setup)
        except OSError:
            pass  # the child is already gone: reported below
        if not wait([parent], self._start_timeout):
            self._kill()
            raise ChildStartError(f"child process did not start within {self._start_timeout:g} s")
        try:
            message = parent.recv()
        except (EOFError, OSError):
            message = None
        if message == _READY:
            return
        exitcode = self._reap()
        self._kill()
        if isinstance(message, tuple) and message[:1] == ("start_error",):
            _, type_name, text, remote = message
            error = ChildStartError(f"child process failed to start: initializer "
                                    f"{getattr(self._initializer, '__qualname__', '?')} raised "
                                    f"{type_name}: {text}")
            error.remote_traceback = remote  # type: ignore[attr-defined]
            raise error
        raise ChildStartError(f"child process exited with code {exitcode} before it was ready "
                              "(its stderr has the details)")

    def close(self) -> None:
        """Stop the child (politely, then by force)."""
        if self._conn is not None and self.alive:
            try:
                self._conn.send(None)
            except (OSError, ValueError):
                pass
            try:
                self._process.wait(2.0)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                pass
        self._kill()

    def __enter__(self) -> "IsolatedWorker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: never leave a child behind
        try:
            self._kill()
        except Exception:  # noqa: BLE001
            pass

    def _reap(self, seconds: float = 5.0) -> int | None:
        """The child's exit code once it has exited (None if it is still running)."""
        try:
            return self._process.wait(seconds) if self._process is not None else None
        except subprocess.TimeoutExpired:
            return None

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            self._reap()
        self._discard()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    # ------------------------------------------------------------------ calls
    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None,
             **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in the child and return its result.

        Raises :class:`ChildTimeout` after ``timeout`` seconds (the child is killed; ``None`` or
        ``inf``: no limit), :class:`ChildCrashed` if the child dies, :class:`ChildStartError` if
        it cannot start, or whatever ``fn`` raised. (``timeout`` is this method's own keyword:
        it is never passed on to ``fn``.)
        """
        request = pickle.dumps((fn, args, kwargs))  # an unpicklable call fails here, as itself
        self.start()
        assert self._conn is not None and self._process is not None
        conn = self._conn
        try:
            conn.send_bytes(request)
        except (OSError, ValueError):  # the child died between calls
            exitcode = self._reap()
            self._kill()
            raise ChildCrashed(exitcode) from None
        limited = timeout is not None and math.isfinite(timeout)
        deadline = time.monotonic() + timeout if limited else None  # type: ignore[operator]
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if wait([conn], remaining):
                try:
                    reply = conn.recv()
                except (EOFError, OSError):  # the child's end closed: it died
                    exitcode = self._reap()
                    self._kill()
                    raise ChildCrashed(exitcode) from None
                return _unpack(reply)
            if deadline is not None and time.monotonic() >= deadline:
                self._kill()
                raise ChildTimeout(float(timeout))  # type: ignore[arg-type]


def _interpreter_flags() -> list[str]:
    """The parent's interpreter options (-X, -W, -O, -B...) for the child, as multiprocessing
    passes them."""
    try:
        return list(subprocess._args_from_interpreter_flags())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a private helper: without it, plain python
        return []


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


@atexit.register
def _kill_all() -> None:
    """Kill the children of workers still open at interpreter exit."""
    for worker in list(_LIVE):
        try:
            worker._kill()
        except Exception:  # noqa: BLE001
            pass


def run_isolated(fn: Callable[..., Any], *args: Any, timeout: float | None,
                 **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` once in a fresh child process and return its result.

    Same errors as :meth:`IsolatedWorker.call`. The child is always stopped before returning.
    """
    with IsolatedWorker() as worker:
        return worker.call(fn, *args, timeout=timeout, **kwargs)
