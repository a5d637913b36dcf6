"""The isolated worker's entry point (sbmleq.solvers.isolate): the child is a fresh interpreter
that never runs the caller's ``__main__``, so ``sbmleq.solve`` works from a script without an
``if __name__ == "__main__":`` guard, from ``python -`` and from ``python -c``; a child that
fails comes back as an error or a status, never as an empty result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from isolate_helpers import (crash_self, exit_now, fail_to_start, main_module_file,
                             make_unpicklable, raise_unpicklable, read_stdin)
from sbmleq.solvers.isolate import (ChildCrashed, ChildStartError, ChildTimeout, IsolatedWorker,
                                    RemoteError, run_isolated)
from sbmleq.solvers.roadrunner import RRStatus, call_isolated, make_worker

REPO = Path(__file__).resolve().parents[1]

# A user's script: no __main__ guard, solves in a child (timeout) and predicts with --check.
SCRIPT = textwrap.dedent("""
    import sbmleq

    with open({log!r}, "a") as fh:
        fh.write("ran\\n")
    result = sbmleq.solve("J0: -> S1; 1\\nJ1: S1 -> ; 2*S1", timeout=60, engine="roadrunner")
    checked = sbmleq.predict("J0: -> S1; 1\\nJ1: S1 -> ; 2*S1", check=True, timeout=60)
    print(result.status.value, result.concentrations["S1"],
          checked.roadrunner.status.value, checked.to_frame().loc["S1", "roadrunner"])
""")


def run_python(args: list[str], tmp_path: Path, stdin: str | None = None):
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": path}, timeout=300)


def check_ran_once(done: subprocess.CompletedProcess, log: Path) -> None:
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["converged_stable", "0.5", "converged_stable", "0.5"]
    assert log.read_text() == "ran\n"  # the script ran once: the child did not re-run it


def test_script_without_main_guard_runs_once(tmp_path):
    log = tmp_path / "ran.log"
    script = tmp_path / "user_script.py"
    script.write_text(SCRIPT.format(log=str(log)))
    check_ran_once(run_python([str(script)], tmp_path), log)


def test_script_on_stdin(tmp_path):
    log = tmp_path / "ran.log"
    check_ran_once(run_python(["-"], tmp_path, stdin=SCRIPT.format(log=str(log))), log)


def test_python_c(tmp_path):
    log = tmp_path / "ran.log"
    check_ran_once(run_python(["-c", SCRIPT.format(log=str(log))], tmp_path), log)


def test_child_has_its_own_main_and_no_stdin(tmp_path):
    with IsolatedWorker() as worker:
        assert worker.call(main_module_file, timeout=60) is None  # python -c bootstrap
        assert worker.call(read_stdin, timeout=60) == ""  # /dev/null, never the caller's stdin


def test_function_of_main_is_a_clear_error():
    with IsolatedWorker() as worker:
        import __main__

        def local():  # pickled by reference as __main__.<name>: the child cannot find it
            return 1

        local.__module__, local.__qualname__ = "__main__", "not_there"
        __main__.not_there = local
        try:
            with pytest.raises(AttributeError, match="not_there"):
                worker.call(local, timeout=60)
        finally:
            del __main__.not_there
        assert worker.call(pow, 2, 5, timeout=60) == 32  # the same child goes on


def test_run_isolated_returns_and_raises():
    assert run_isolated(pow, 2, 10, timeout=60) == 1024
    with pytest.raises(ValueError, match="invalid literal"):
        run_isolated(int, "x", timeout=60)
    start = time.monotonic()
    with pytest.raises(ChildTimeout) as info:
        run_isolated(time.sleep, 60, timeout=0.5)
    assert info.value.timeout == 0.5
    assert time.monotonic() - start < 10


def test_infinite_timeout_is_no_limit():
    assert run_isolated(pow, 3, 4, timeout=float("inf")) == 81


def test_worker_restarts_after_crash():
    with IsolatedWorker() as w:
        assert w.call(pow, 3, 2, timeout=60) == 9
        first = w.pid
        with pytest.raises(ChildCrashed) as info:
            w.call(crash_self, timeout=60)
        assert info.value.signal == signal.SIGSEGV
        assert not w.alive
        assert w.call(pow, 3, 3, timeout=60) == 27
        assert w.pid != first and w.starts == 2
    assert not w.alive


def test_exit_without_answer_is_child_crashed():
    with IsolatedWorker() as w, pytest.raises(ChildCrashed) as info:
        w.call(exit_now, 3, timeout=60)
    assert info.value.exitcode == 3 and info.value.signal is None
    assert str(info.value) == "child process exited with code 3 without answering"


def test_failing_initializer_is_a_start_error_and_a_solver_failure():
    worker = IsolatedWorker(initializer=fail_to_start)
    with pytest.raises(ChildStartError, match="fail_to_start raised RuntimeError: no roadrunner "
                                              "here"):
        worker.start()
    assert not worker.alive
    result = call_isolated(pow, 2, 2, timeout=60, worker=worker, name="m")
    assert result.status is RRStatus.SOLVER_FAILURE and result.model == "m"
    assert "fail_to_start raised RuntimeError" in result.message
    assert result.concentrations == {}


def test_unpicklable_result_comes_back_as_error():
    with IsolatedWorker() as w:
        with pytest.raises(TypeError, match="cannot be pickled"):
            w.call(make_unpicklable, timeout=60)
        assert w.call(pow, 2, 3, timeout=60) == 8


def test_unpicklable_exception_is_remote_error():
    with IsolatedWorker() as w, pytest.raises(RemoteError) as info:
        w.call(raise_unpicklable, timeout=60)
    assert info.value.type_name == "BadError" and str(info.value) == "BadError: bad"


def test_crash_of_roadrunner_worker_is_solver_failure():
    with make_worker() as worker:
        result = call_isolated(crash_self, signal.SIGABRT, timeout=60, worker=worker)
    assert result.status is RRStatus.SOLVER_FAILURE
    assert result.message == f"roadrunner crashed (signal {int(signal.SIGABRT)})"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_children_are_killed_at_exit(tmp_path):
    code = textwrap.dedent("""
        from sbmleq.solvers.isolate import IsolatedWorker
        w = IsolatedWorker()
        w.start()
        print(w.pid, flush=True)
    """)  # never closed: the interpreter's exit must not leave the child behind
    done = run_python(["-c", code], tmp_path)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.05)
    assert not _running(pid)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
