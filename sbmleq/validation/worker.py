"""The child side of a batch, and one model's result row.

:func:`init_child` prepares an :class:`~sbmleq.solvers.isolate.IsolatedWorker` child;
:func:`analyse_model` (import, prediction, exact LIFE solution) and :func:`solve_file`
(roadrunner) run in it, each time-limited by :func:`validate_item`, which turns their answers
(or a timeout, or a crash) into the row the results store keeps (:func:`make_row`, with
:func:`sbmleq.validation.metrics.compare` for in-class models). Every readable model is also
imported and solved as a general reaction network (:mod:`sbmleq.validation.general_rows`, a
third time-limited call): the row's ``general`` record, compared with roadrunner.

Row versions: ``v`` 2 adds ``general`` and roadrunner's ``concentrations``; rows of version 1
(without them) are read as they are: the report counts them as "general analysis not run" and
``--retry`` runs them again.

Error codes: a row that is not a result of the model (``outcome`` input_error or
import_failure) carries ``error_code``: the exception's class name for a model the importer
refuses (``InputError``, ``NetworkError``; an exception's own ``code`` attribute when it has one),
``ChildTimeout`` / ``ChildCrashed`` when the import ran past ``--timeout`` or its child died, and
the exception's class name for a bug. The report counts these codes (``error`` is the message
for people).
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from sbmleq.api import Session
from sbmleq.compare import finite
from sbmleq.core.steady import SteadyStatus
from sbmleq.errors import CheckpointError, SbmleqError
from sbmleq.io.initial import compartment_sizes
from sbmleq.io.request import open_source
from sbmleq.solvers.isolate import ChildCrashed, ChildTimeout
from sbmleq.solvers.roadrunner import SolverSettings, call_isolated, solve_in_process
from sbmleq.solvers.roadrunner import init_child as rr_init
from sbmleq.validation.general_rows import compare_general, run_general
from sbmleq.validation.items import BatchItem
from sbmleq.validation.kinetics import kinetics_labels
from sbmleq.validation.metrics import compare
from sbmleq.validation.store import json_safe

__all__ = ["ROW_VERSION", "analyse_model", "error_code", "init_child", "make_row", "solve_file",
           "validate_item"]

ROW_VERSION = 2  # 2: the ``general`` record and roadrunner's concentrations (1 is still read)
_SESSIONS: dict[str, Session] = {}  # per child process: one loaded model per checkpoint
_RR_KEEP = ("status", "stage", "message", "seconds", "eigenvalues_max_real", "residual", "unique",
            "attempts", "settings", "concentrations")


# ============================================================================ child side
def init_child(quiet: bool = True) -> None:
    """Child initializer: roadrunner imported (and quiet), and the child dies with its parent.

    ``PR_SET_PDEATHSIG`` makes the kernel kill the child when the thread that started it exits,
    so a SIGKILLed batch leaves no roadrunner process running (Linux only; elsewhere a child
    notices the closed pipe after its current call)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:
            os._exit(1)  # the parent died before prctl took effect
    except Exception:  # noqa: BLE001 - best effort
        pass

    rr_init(quiet)
    if quiet:  # CVODE warnings also reach stdout; the child answers through its pipe only
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)


def _session(checkpoint: str | None) -> Session:
    """The child's API session for ``checkpoint`` (the model loaded once per child process)."""
    key = checkpoint or ""
    if key not in _SESSIONS:
        # validation compares the LIFE model with roadrunner; models outside the class are
        # recorded with their reasons, not predicted by the general model (validate --truth)
        _SESSIONS[key] = Session(model=checkpoint, timeout=None, general_model=False)
    return _SESSIONS[key]


def error_code(exc: BaseException) -> str:
    """The code a row records for an exception (see the module docstring)."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    value = getattr(code, "value", None)  # an enum code
    return value if isinstance(value, str) and value else type(exc).__name__


def analyse_model(path: str, name: str, checkpoint: str | None) -> dict[str, Any]:
    """Child side, step 1: what ``sbmleq predict`` answers for the SBML file (the API's own
    :meth:`~sbmleq.api.Session.predict`: import, learned prediction, exact steady state from the
    initial values), as a JSON-ready dict.

    Never raises for problems of the model: an unreadable file comes back as
    ``{"outcome": "input_error", "error": one line, "error_code": ...}`` (:func:`error_code`).
    Out of class: ``reasons`` (sentences), ``reason_codes`` (``Reason.to_dict()``: code, element,
    reaction, species, message) and ``kinetics`` (reaction id -> label, :mod:`.kinetics`)."""
    start = time.perf_counter()
    try:
        source = open_source(Path(path), name=name)
        model = source.model
        info: dict[str, Any] = {"name": model.getName() or model.getId(),
                                "n_species": model.getNumSpecies(),
                                "n_reactions": model.getNumReactions()}
        result = _session(checkpoint).predict(source, warn=False)
    except CheckpointError:
        raise
    except SbmleqError as exc:
        return {"outcome": "input_error", "error": exc.one_line(), "error_code": error_code(exc),
                "error_type": type(exc).__name__, "import_seconds": time.perf_counter() - start}
    imported = result.imported
    info["import_seconds"] = time.perf_counter() - start
    info["reasons"] = [str(r) for r in imported.reasons]
    info["reason_codes"] = [r.to_dict() for r in imported.reasons]
    info["warnings"] = len(imported.warnings)
    net, pred, steady = imported.network, result.prediction, result.steady
    if not result.in_class or net is None or steady is None:
        info["outcome"] = "out_of_class"
        try:
            info["kinetics"] = kinetics_labels(source.document, imported.reasons)
        except Exception:  # noqa: BLE001 - a hint only
            info["kinetics"] = {}
        return info
    info.update(outcome="in_class", n_nodes=net.n_nodes, n_edges=net.n_edges)
    info["prediction"] = None if pred is None else {
        "exists": bool(pred.equilibrium_exists), "p_exists": float(pred.p_exists),
        "out_of_distribution": bool(pred.out_of_distribution),
        "ood_reasons": list(pred.ood_reasons), "residual": finite(pred.residual),
        "seconds": float(pred.seconds)}
    # What sbmleq reports as the steady state: the exact state the dynamics reach from the
    # model's initial values (closed pools keep their totals), not the paper's unique-or-nothing.
    info["exact"] = {"status": steady.status.value, "exists": bool(steady.settles),
                     "unique": steady.status is SteadyStatus.UNIQUE,
                     "conserved_totals": result.conserved_totals()}
    sizes = compartment_sizes(model)
    predicted, exact = result.predicted(), result.steady_state()
    species = []
    for node, sid in zip(net.nodes, result.species):
        sbml = model.getSpecies(sid)
        amount = bool(sbml is not None and sbml.getHasOnlySubstanceUnits())
        volume = sizes.get(sbml.getCompartment(), 1.0) if sbml is not None else 1.0
        species.append({"id": sid, "node": node, "unit": imported.species_units.get(node, ""),
                        "amount": amount, "volume": volume, "predicted": predicted.get(sid),
                        "exact": exact.get(sid)})
    info["species"] = species
    return info


def solve_file(path: str, settings: Any, name: str) -> Any:
    """Child side, step 2: the roadrunner steady state of an SBML file."""

    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    return solve_in_process(text, settings, name)


# ============================================================================ one model
def validate_item(item: BatchItem, worker: Any, *, checkpoint: str | None, timeout: float,
                  settings: Any = None, checkpoint_info: dict[str, str] | None = None,
                  stop: threading.Event | None = None) -> dict[str, Any] | None:
    """One model's result row (``None`` if ``stop`` was set while it ran: not a result)."""

    settings = settings or SolverSettings()
    start = time.perf_counter()
    try:
        analysis = worker.call(analyse_model, str(item.path), item.id, checkpoint, timeout=timeout)
    except ChildTimeout as exc:
        analysis = {"outcome": "import_failure", "error_code": error_code(exc),
                    "error": f"{item.id}: import and prediction timed out after {timeout:g} s"}
    except ChildCrashed as exc:
        analysis = {"outcome": "import_failure", "error_code": error_code(exc),
                    "error": f"{item.id}: {exc}"}
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug: recorded, the batch goes on
        analysis = {"outcome": "import_failure", "error_code": error_code(exc),
                    "error": f"{item.id}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"}
    if stop is not None and stop.is_set():
        return None
    rr_dict: dict[str, Any] | None = None
    if analysis["outcome"] != "input_error":
        result = call_isolated(solve_file, str(item.path), settings, item.id, timeout=timeout,
                               worker=worker, name=item.id, settings=settings)
        if stop is not None and stop.is_set():
            return None
        rr_dict = result.to_dict()
    general = run_general(worker, str(item.path), item.id, timeout)
    if stop is not None and stop.is_set():
        return None
    return make_row(item, analysis, rr_dict, checkpoint_info=checkpoint_info, timeout=timeout,
                    seconds=time.perf_counter() - start, general=general)


def make_row(item: BatchItem, analysis: dict[str, Any], rr: dict[str, Any] | None, *,
             checkpoint_info: dict[str, str] | None = None, timeout: float | None = None,
             seconds: float | None = None,
             general: dict[str, Any] | None = None) -> dict[str, Any]:
    """The result row of one model from :func:`analyse_model`'s dict, roadrunner's
    ``RoadRunnerResult.to_dict()`` (None when roadrunner did not run) and the general record of
    :func:`~sbmleq.validation.general_rows.run_general` (None when it did not run), as JSON
    values."""
    row: dict[str, Any] = {"v": ROW_VERSION, "key": item.key, "id": item.id, "source": str(item.path),
                           "name": "", "outcome": None, "error": None}
    row.update({k: v for k, v in analysis.items() if k not in ("species",)})
    row["roadrunner"] = None if rr is None else {k: rr.get(k) for k in _RR_KEEP}
    if analysis["outcome"] == "in_class":
        row.update(compare(analysis, rr))
    row["general"] = None if general is None else {**general, **compare_general(general, rr)}
    row["checkpoint"] = (checkpoint_info or {}).get("name", "")
    row["checkpoint_sha256"] = (checkpoint_info or {}).get("sha256", "")
    row["timeout"] = timeout
    row["seconds"] = seconds
    row["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return json_safe(row)
