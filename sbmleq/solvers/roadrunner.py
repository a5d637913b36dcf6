"""roadrunner ground truth: the steady state of any SBML model, verified and classified.

:func:`solve_sbml` runs a chain of stages (docs/roadrunner.md) and returns a
:class:`RoadRunnerResult`. Values are read by species id (roadrunner reorders species under
conserved-moiety analysis). With a ``timeout`` the solve runs in a child process
(:mod:`sbmleq.solvers.isolate`) that is killed when time is up; a roadrunner crash comes back as
``solver_failure``, never as an exception. For batches pass one :func:`make_worker` to every
call, so that roadrunner is imported once.

Input checks raise :class:`~sbmleq.errors.InputError` (exit code 2) before anything is solved:
an unreadable source, malformed XML, a document that is not SBML or refers to something it
does not define (:func:`require_sbml_xml`), and a ``timeout`` that is not a positive number of
seconds or None (:func:`check_timeout`).

libsbml, roadrunner and pandas are imported inside the functions that need them (the child
process imports roadrunner; ``import sbmleq.solvers.roadrunner`` stays light).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any
from xml.parsers import expat

import numpy as np

from sbmleq.core.network import Network
from sbmleq.errors import InputError
from sbmleq.io.sbml_export import network_to_sbml
from sbmleq.io.sources import check_references, load_sbml_text
from sbmleq.solvers.isolate import ChildCrashed, ChildTimeout, IsolatedWorker, IsolationError
from sbmleq.solvers.rr_result import RoadRunnerResult, RRStatus, SolverSettings
from sbmleq.solvers.rr_stages import short_error as _short
from sbmleq.solvers.rr_stages import solve_in_process

__all__ = ["RRStatus", "RoadRunnerResult", "SolverSettings", "call_isolated", "check_timeout",
           "make_worker", "require_sbml_xml", "solve_in_process", "solve_network_rr", "solve_sbml",
           "solve_sbml_text"]


def solve_sbml(source: Any, *, timeout: float | None = 30.0,
               settings: SolverSettings | None = None,
               worker: IsolatedWorker | None = None) -> RoadRunnerResult:
    """Steady state of ``source``: anything :func:`sbmleq.io.sources.load_sbml_text` reads (path,
    SBML or Antimony text, RoadRunner, libsbml document, BioModels id, Network).

    ``timeout`` (seconds) bounds an isolated solve; ``None`` solves in this process without a
    limit. ``worker`` (:func:`make_worker`) reuses one child across calls. Unreadable input
    (missing file, malformed XML, not SBML, undefined references) and a bad ``timeout`` raise
    :class:`~sbmleq.errors.InputError`; every solver problem comes back as a result.
    """
    check_timeout(timeout)
    text, name = load_sbml_text(source)
    require_sbml_xml(text, name)
    return solve_sbml_text(text, timeout=timeout, settings=settings, name=name, worker=worker)


def check_timeout(timeout: Any, option: str = "timeout") -> float | None:
    """``timeout`` if it is None or a number of seconds > 0 (``inf``: isolated, no limit);
    otherwise :class:`~sbmleq.errors.InputError` naming ``option``."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer,
                                                              np.floating)):
        raise InputError(f"must be a number of seconds or None, got {timeout!r}",
                         element=option)
    if math.isnan(timeout) or timeout <= 0:
        raise InputError(f"must be > 0 seconds (None: no limit, in this process), got "
                         f"{float(timeout):g}", element=option)
    return float(timeout)


def require_sbml_xml(text: str, name: str) -> None:
    """Raise :class:`~sbmleq.errors.InputError` unless ``text`` is well-formed XML with an
    ``<sbml>`` root whose references resolve (:func:`sbmleq.io.sources.check_references`:
    undefined species or parameters in reactions and kinetic laws, duplicate ids...); subtler
    problems are roadrunner's to report: ``solver_failure``."""
    parser, roots = expat.ParserCreate(), []
    parser.StartElementHandler = lambda tag, attrs: roots.append(tag) if not roots else None
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise InputError(f"malformed XML: {exc}", source=name) from None
    if not roots or roots[0].rsplit(":", 1)[-1] != "sbml":
        found = f"<{roots[0]}>" if roots else "nothing"
        raise InputError(f"not an SBML document (root element is {found})", source=name)
    check_references(text, name)


def solve_sbml_text(sbml: str, *, timeout: float | None = 30.0,
                    settings: SolverSettings | None = None, name: str = "",
                    worker: IsolatedWorker | None = None) -> RoadRunnerResult:
    """:func:`solve_sbml` for SBML text already in hand (no checks of the text; ``timeout`` is
    checked)."""
    check_timeout(timeout)
    settings = settings or SolverSettings()
    if timeout is None:
        return solve_in_process(sbml, settings, name)
    return call_isolated(solve_in_process, sbml, settings, name, timeout=timeout,
                         worker=worker, name=name, settings=settings)


def solve_network_rr(net: "Network", *, timeout: float | None = 30.0,
                     settings: SolverSettings | None = None,
                     worker: IsolatedWorker | None = None) -> RoadRunnerResult:
    """Export a LIFE network (:func:`sbmleq.io.sbml_export.network_to_sbml`) and solve it.
    ``concentrations`` are keyed by node id in ``net.nodes`` order (``result.values(net.nodes)``
    gives the array)."""
    import libsbml

    check_timeout(timeout)
    text = network_to_sbml(net)
    model = libsbml.readSBMLFromString(text).getModel()
    sid = {sp.getName(): sp.getId() for sp in model.getListOfSpecies()}  # node id -> SBML id
    result = solve_sbml_text(text, timeout=timeout, settings=settings, name=net.name,
                             worker=worker)
    result.concentrations = {node: result.concentrations.get(sid.get(node, node), math.nan)
                             for node in net.nodes}
    return result


def make_worker(*, quiet: bool = True, **kwargs: Any) -> IsolatedWorker:
    """A persistent child that imports roadrunner once, for batches of :func:`solve_sbml`.

    ``quiet`` sends the child's stderr to /dev/null (CVODE prints there, past roadrunner's
    logger). Other keywords go to :class:`~sbmleq.solvers.isolate.IsolatedWorker`."""
    return IsolatedWorker(initializer=init_child, init_args=(quiet,), **kwargs)


def init_child(quiet: bool = True) -> None:
    """Child initializer: import roadrunner; with ``quiet`` silence its logger and stderr."""
    import roadrunner

    if quiet:
        roadrunner.Logger.setLevel(roadrunner.Logger.LOG_CRITICAL)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)


def call_isolated(fn: Callable[..., RoadRunnerResult], *args: Any, timeout: float,
                  worker: IsolatedWorker | None = None, name: str = "",
                  settings: SolverSettings | None = None) -> RoadRunnerResult:
    """Run ``fn(*args)`` (which returns a result) in a child process: a timeout, a crash or a
    stray exception becomes a ``timeout`` / ``solver_failure`` result."""
    start = time.perf_counter()
    active = make_worker() if worker is None else worker
    try:
        return active.call(fn, *args, timeout=timeout)
    except ChildTimeout as exc:
        status, message = RRStatus.TIMEOUT, f"timed out after {exc.timeout:g} s"
    except ChildCrashed as exc:
        status = RRStatus.SOLVER_FAILURE
        message = (f"roadrunner crashed (signal {exc.signal})" if exc.signal is not None
                   else f"roadrunner process exited with code {exc.exitcode}")
    except IsolationError as exc:
        status, message = RRStatus.SOLVER_FAILURE, str(exc)
    except Exception as exc:  # noqa: BLE001 - a bug or unknown error in the child
        status, message = RRStatus.SOLVER_FAILURE, f"{type(exc).__name__}: {_short(exc)}"
    finally:
        if worker is None:
            active.close()
    record = {"sbmleq": (settings or SolverSettings()).to_dict()}
    return RoadRunnerResult(status, message=message, seconds=time.perf_counter() - start,
                            settings=record, model=name)
