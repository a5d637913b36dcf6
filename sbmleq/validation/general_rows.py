"""One model as a general reaction network: the import, sbmleq's verified solve, the comparison.

Child side, :func:`analyse_general`: the general import (:meth:`ModelSource.general
<sbmleq.io.request.ModelSource.general>`: importable or not, the reasons with their codes and
elements, the rate-law family of every reaction) and, when it imports, sbmleq's own verified
steady state (:func:`sbmleq.general.solve_source`, with a :class:`~sbmleq.core.solve.SolveSettings`
time limit below the item's: :func:`solve_timeout`). Parent side, :func:`run_general` makes the
time-limited call (a hang or a crash becomes a ``failure`` record, never an exception) and
:func:`compare_general` compares the answer with roadrunner's.

The record (the row's ``general`` key, docs/validation.md):

- ``outcome``: ``importable``, ``not_importable`` (reasons), ``input_error`` (the file is not a
  valid model: ``error_code`` the exception's class name) or ``failure`` (``ChildTimeout``,
  ``ChildCrashed`` or a bug's class name in ``error_code``);
- ``reason_codes`` (``Reason.to_dict()``: code, element, reaction, species, message),
  ``families`` (reaction id -> family, :mod:`sbmleq.core.families`), ``n_state``,
  ``import_seconds``;
- ``solve`` (None unless importable): ``status`` (a :class:`~sbmleq.core.solve.SolveStatus`
  value), ``stable``, ``concentrations`` (species, as roadrunner reports them), ``values``
  (rate-rule variables that are not species, in their declared unit), ``residual``, ``stage``,
  ``seconds`` (compile + solve), ``eigenvalues_max_real``, ``message``;
- ``rr_rel_l1`` = sum|sbmleq - rr| / sum|rr| over the species both report, ``rr_compared`` (how
  many) and ``rr_agree`` (rel-L1 <= :data:`AGREE_REL_L1`), where both returned a state.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sbmleq.compare import finite
from sbmleq.core.solve import SolveSettings
from sbmleq.errors import SbmleqError
from sbmleq.general import solve_source
from sbmleq.io.request import open_source
from sbmleq.solvers.isolate import ChildCrashed, ChildTimeout

__all__ = ["AGREE_REL_L1", "CONVERGED", "RR_CONVERGED", "analyse_general", "compare_general",
           "rel_l1_over", "run_general", "solve_timeout"]

AGREE_REL_L1 = 1e-4  # two states are the same steady state when rel-L1 <= this
CONVERGED = ("stable", "unstable")  # sbmleq statuses that come with a verified state
RR_CONVERGED = ("converged_stable", "converged_unstable")  # roadrunner's
_MESSAGE = 240  # characters of a solver message kept in the row


def solve_timeout(timeout: float) -> float:
    """sbmleq's own solve budget for an item limit of ``timeout`` seconds: 80% of it, so the
    solver answers ``timeout`` itself before the child is killed (import and compile run in the
    remaining 20%)."""
    return max(0.05, 0.8 * float(timeout))


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    value = getattr(code, "value", code)
    return value if isinstance(value, str) and value else type(exc).__name__


def _one_line(exc: BaseException) -> str:
    text = exc.one_line() if isinstance(exc, SbmleqError) else f"{type(exc).__name__}: {exc}"
    return " ".join(str(text).split())[:400]


def analyse_general(path: str, name: str, budget: float) -> dict[str, Any]:
    """Child side: the general import of an SBML file and, when it imports, sbmleq's verified
    solve with a ``budget``-second time limit (see the module docstring). Never raises for
    problems of the model."""
    start = time.perf_counter()
    try:
        src = open_source(Path(path), name=name)
        imported = src.general()
    except SbmleqError as exc:
        return {"outcome": "input_error", "error_code": _error_code(exc), "error": _one_line(exc),
                "reason_codes": [], "families": {}, "solve": None,
                "import_seconds": time.perf_counter() - start}
    out: dict[str, Any] = {
        "outcome": "importable" if imported.importable else "not_importable",
        "reason_codes": [r.to_dict() for r in imported.reasons],
        "families": dict(imported.families), "warnings": len(imported.warnings),
        "n_state": imported.network.n_state if imported.network is not None else None,
        "import_seconds": time.perf_counter() - start, "solve": None,
    }
    if not imported.importable:
        return out
    try:
        result = solve_source(src, settings=SolveSettings(timeout=budget))
    except SbmleqError as exc:  # e.g. a reference the roadrunner check refuses
        out.update(outcome="input_error", error_code=_error_code(exc), error=_one_line(exc))
        return out
    species = set(result.concentrations)
    out["solve"] = {
        "status": result.status.value, "stable": result.stable,
        "concentrations": {k: finite(v) for k, v in result.concentrations.items()},
        "values": {k: finite(v) for k, v in result.state.items() if k not in species},
        "residual": finite(result.residual), "stage": result.stage,
        "seconds": result.seconds - result.seconds_import,
        "eigenvalues_max_real": finite(result.eigenvalues_max_real),
        "message": " ".join(result.message.split())[:_MESSAGE],
    }
    return out


def run_general(worker: Any, path: str, name: str, timeout: float) -> dict[str, Any]:
    """Parent side: :func:`analyse_general` in ``worker``'s child, killed after ``timeout``
    seconds (``failure`` record with ``error_code`` ChildTimeout / ChildCrashed)."""
    try:
        return worker.call(analyse_general, path, name, solve_timeout(timeout), timeout=timeout)
    except ChildTimeout as exc:
        error = f"{name}: the general import and solve were killed after {timeout:g} s"
        code = _error_code(exc)
    except ChildCrashed as exc:
        error, code = f"{name}: {exc}", _error_code(exc)
    except Exception as exc:  # noqa: BLE001 - a bug: recorded, the batch goes on
        error, code = f"{name}: {_one_line(exc)}", type(exc).__name__
    return {"outcome": "failure", "error_code": code, "error": error[:400], "reason_codes": [],
            "families": {}, "solve": None}


def rel_l1_over(a: dict[str, Any], b: dict[str, Any], *,
                floor: float = 0.0) -> tuple[float | None, int]:
    """(sum|a - b| / max(sum|b|, floor), number of keys) over the keys both give a finite
    number for; (None, 0) when there are none, or 0/0 with a positive numerator."""
    keys = [k for k, v in b.items() if finite(v) is not None and finite(a.get(k)) is not None]
    if not keys:
        return None, 0
    num = sum(abs(float(a[k]) - float(b[k])) for k in keys)
    den = max(sum(abs(float(b[k])) for k in keys), floor)
    if den > 0:
        return num / den, len(keys)
    return (0.0, len(keys)) if num == 0 else (None, len(keys))


def compare_general(general: dict[str, Any] | None, rr: dict[str, Any] | None) -> dict[str, Any]:
    """sbmleq's state against roadrunner's (both concentrations), where both returned one."""
    out: dict[str, Any] = {"rr_rel_l1": None, "rr_compared": 0, "rr_agree": None}
    solve = (general or {}).get("solve") or {}
    if solve.get("status") not in CONVERGED or (rr or {}).get("status") not in RR_CONVERGED:
        return out
    rel, n = rel_l1_over(solve.get("concentrations") or {}, (rr or {}).get("concentrations") or {})
    out.update(rr_rel_l1=rel, rr_compared=n,
               rr_agree=None if rel is None else bool(rel <= AGREE_REL_L1))
    return out
