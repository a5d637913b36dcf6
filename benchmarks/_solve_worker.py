"""Child side of benchmarks/corpus_solve.py: sbmleq's verified solve of one SBML file.

Runs in an :class:`~sbmleq.solvers.isolate.IsolatedWorker` child (a hard time limit, a crash
cannot stop the run). Returns a small JSON-ready dict."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator
from typing import Any

from sbmleq.core.solve import SolveSettings
from sbmleq.errors import SbmleqError
from sbmleq.general import solve_source
from sbmleq.io.request import open_source


def _num(x: Any, digits: int = 12) -> float | None:
    if x is None:
        return None
    x = float(x)
    return float(f"{x:.{digits}g}") if x == x and abs(x) != float("inf") else None


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """One BLAS thread for the solve, as ``sbmleq solve`` has (sbmleq.cli.main limits BLAS to
    one thread unless the user set a thread variable). Without it, on this 2-core machine
    shared with other jobs, OpenBLAS's threads fight: a 163 x 163 solve took 69 ms instead of
    0.23 ms and eigenvalues 930 ms instead of 17 ms (BIOMD457 timed out at 48 s; 3.6 s)."""
    if any(os.environ.get(v) for v in BLAS_THREAD_VARIABLES):
        yield
        return
    # scipy's own OpenBLAS (LSODA calls it) is loaded by scipy.integrate: load it first so
    # that the limit reaches it too
    import scipy.integrate  # noqa: F401
    from threadpoolctl import threadpool_limits  # third-party, only needed here

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def sbmleq_solve(path: str, timeout: float) -> dict[str, Any]:
    """What ``sbmleq solve PATH`` answers, timed from reading the file to the verified answer."""
    start = time.perf_counter()
    settings = dataclasses.replace(SolveSettings(), timeout=timeout)
    try:
        with _one_blas_thread():
            result = solve_source(open_source(path), settings=settings)
    except SbmleqError as exc:
        return {"status": "error", "error_code": type(exc).__name__,
                "message": exc.one_line()[:240], "seconds": _num(time.perf_counter() - start, 4)}
    out: dict[str, Any] = {
        "status": result.status.value, "stable": result.stable, "stage": result.stage,
        "max_re": _num(result.eigenvalues_max_real), "residual": _num(result.residual, 4),
        "newton_iterations": result.newton_iterations,
        "stages": [s["name"] for s in result.stages][:12],
        "message": " ".join(result.message.split())[:240],
        "seconds": _num(time.perf_counter() - start, 4),
        "seconds_import": _num(result.seconds_import, 4),
        "seconds_compile": _num(result.seconds_compile, 4),
    }
    if result.concentrations:
        out["concentrations"] = {k: _num(v) for k, v in result.concentrations.items()}
    return out


COPASI_FOUND = {1: "found", 2: "found_equilibrium", 3: "found_negative", 0: "not_found"}


def copasi_steady_state(path: str) -> dict[str, Any]:
    """COPASI's steady-state task through basico with its default method settings (damped
    Newton with forward and backward integration), load and solve timed separately;
    concentrations keyed by SBML id."""
    import basico  # the COPASI peer (pip install copasi-basico)

    start = time.perf_counter()
    try:
        dm = basico.load_model(path)
    except Exception as exc:  # noqa: BLE001 - recorded
        return {"status": "load_error", "message": str(exc)[:240]}
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    try:
        code = int(basico.run_steadystate(model=dm, update_model=True))
    except Exception as exc:  # noqa: BLE001 - recorded
        return {"status": "error", "message": str(exc)[:240], "load_s": _num(load_s, 4)}
    solve_s = time.perf_counter() - start
    out: dict[str, Any] = {"status": COPASI_FOUND.get(code, f"code_{code}"), "code": code,
                           "load_s": _num(load_s, 4), "solve_s": _num(solve_s, 4)}
    if code in (1, 2, 3):
        frame = basico.get_species(model=dm)
        out["concentrations"] = {str(sid): _num(c) for sid, c in
                                 zip(frame["sbml_id"], frame["concentration"])}
    basico.remove_datamodel(dm)
    return out
