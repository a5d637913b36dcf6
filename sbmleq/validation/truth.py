"""Simulation truth (``sbmleq validate --truth FILE.jsonl``): who is right, sbmleq or roadrunner.

The truth file is what ``benchmarks/corpus_truth.py`` writes (docs/ground-truth.md): one JSON
record per line, ``model`` = the BioModels id, ``truth_class`` (``settled_stable``,
``settled_not_stable``, ``oscillating``, ``growing``, ``undecided``, ``failed``,
``no_floating``), ``truth`` {``class``, ``concentrations`` (settled), ``l1_floor``,
``n_floating``, ...} and ``compare`` {``plain``, ``staged``} (roadrunner's plain
``steadyState()`` and its staged chain against the truth, for settled models). The shipped set
carries the records of its own models (``sbmleq/data/biomodels/truth.jsonl``, used by default
with ``--shipped``).

:func:`read_truth` reads a file (one line of :class:`~sbmleq.errors.InputError`, exit 2, for a
missing or corrupt one); :func:`judge` decides, for one result row and its record, whether
sbmleq's answer (the row's ``general`` record) and roadrunner's (the row's ``roadrunner``) are
right; :func:`attach_truth` adds that verdict to each row as ``truth`` (a copy: the results
store is not changed, so ``--truth`` works with ``--report-only`` and a resumed batch).

Right means: settled truth: a state (sbmleq ``stable``/``unstable``, roadrunner
``converged_stable``/``converged_unstable``) within rel-L1 <= 1e-4 of the truth's (the rule of
corpus_truth.py, the denominator floored at the truth's ``l1_floor``), over the truth's
variables that the answer reports (sbmleq reports its state, species and rate-rule variables:
a species set by an assignment rule is a function of it; roadrunner lists it, sbmleq does not); oscillating truth: sbmleq ``oscillation``, roadrunner not claiming a stable
steady state (``converged_unstable`` or ``no_steady_state``: it reports none the dynamics reach);
growing truth: sbmleq ``unbounded``, roadrunner as for oscillating. Undecided, failed and
no-floating truths decide nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sbmleq.errors import InputError
from sbmleq.io.sources import shipped_biomodels_dir
from sbmleq.validation.general_rows import AGREE_REL_L1, CONVERGED, RR_CONVERGED, rel_l1_over

__all__ = ["DECIDING", "attach_truth", "judge", "read_truth", "shipped_truth_path",
           "truth_kind", "write_truth_subset"]

DECIDING = ("settled", "oscillating", "growing")  # truth kinds that decide who is right
SHIPPED_TRUTH = "truth.jsonl"
_RR_NO_STABLE = ("converged_unstable", "no_steady_state")


def shipped_truth_path() -> Path:
    """The shipped set's own truth records."""
    return shipped_biomodels_dir() / SHIPPED_TRUTH


def read_truth(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The records of a truth file by model id. A last line without its newline that does not
    parse is skipped (a run may be appending to the file); any other line that is not a JSON
    object with a string ``model``, a file that does not exist or holds no record raise
    :class:`InputError` (one line naming the file and the line)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("truth file not found (write it with benchmarks/corpus_truth.py)",
                         source=str(path))
    try:
        data = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the truth file ({type(exc).__name__})",
                         source=str(path)) from None
    lines = data.split("\n")
    records: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):  # the last line, cut short: being written
                continue
            raise InputError(f"line {number} is not JSON: not a truth file of "
                             "benchmarks/corpus_truth.py", source=str(path)) from None
        if not isinstance(record, dict) or not isinstance(record.get("model"), str):
            raise InputError(f"line {number} is not a truth record (a JSON object with "
                             "\"model\")", source=str(path))
        records[record["model"]] = record
    if not records:
        raise InputError("the truth file holds no record", source=str(path))
    return records


def write_truth_subset(records: dict[str, dict[str, Any]], ids: Iterable[str],
                       path: str | os.PathLike) -> Path:
    """Write the records of ``ids`` (those that have one), in id order, one per line."""
    path = Path(path)
    with open(path, "w", encoding="utf-8") as fh:
        for mid in sorted(set(ids) & set(records)):
            fh.write(json.dumps(records[mid], separators=(",", ":")) + "\n")
    return path


def truth_kind(record: dict[str, Any]) -> str:
    """settled / oscillating / growing / undecided / failed / no_floating."""
    kind = str(record.get("truth_class") or (record.get("truth") or {}).get("class") or "failed")
    return "settled" if kind.startswith("settled") else kind


def _state(answer: dict[str, Any], truth: dict[str, Any]) -> str:
    """``right`` / ``wrong`` for an answer's state against a settled truth."""
    reference = truth.get("concentrations") or {}
    floor = float(truth.get("l1_floor") or 0.0)
    rel, _ = rel_l1_over(answer, reference, floor=floor)
    return "right" if rel is not None and rel <= AGREE_REL_L1 else "wrong"


def _sbmleq(row: dict[str, Any], kind: str, truth: dict[str, Any]) -> str:
    general = row.get("general")
    if not isinstance(general, dict):
        return "not_run"
    if general.get("outcome") != "importable":
        return "not_importable" if general.get("outcome") == "not_importable" else "failed"
    solve = general.get("solve") or {}
    status = solve.get("status")
    if status in ("timeout", "failed", None):
        return "failed"
    if kind == "settled":
        if status not in CONVERGED:
            return "wrong"
        answer = {**(solve.get("values") or {}), **(solve.get("concentrations") or {})}
        return _state(answer, truth)
    return "right" if status == {"oscillating": "oscillation", "growing": "unbounded"}[kind] \
        else "wrong"


def _roadrunner(row: dict[str, Any], kind: str, truth: dict[str, Any]) -> str:
    rr = row.get("roadrunner")
    if not isinstance(rr, dict) or not rr.get("status"):
        return "not_run"
    status = rr["status"]
    if status in ("timeout", "solver_failure"):
        return "failed"
    if kind == "settled":
        if status not in RR_CONVERGED or "concentrations" not in rr:
            return "wrong" if status not in RR_CONVERGED else "not_run"
        return _state(rr.get("concentrations") or {}, truth)
    return "right" if status in _RR_NO_STABLE else "wrong"


def judge(row: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The verdict of one row against its truth record: ``kind`` (:func:`truth_kind`),
    ``sbmleq`` and ``roadrunner`` (``right``, ``wrong``, ``failed`` — timeout or solver failure
    —, ``not_importable`` for sbmleq, ``not_run`` when the row has no such answer — a row of an
    earlier version —, or None when the truth decides nothing) and ``plain``: roadrunner's
    plain ``steadyState()`` against the truth as the truth file records it (settled only:
    ``agrees``, ``different``, ``different_negative``, ``failed``)."""
    kind = truth_kind(record)
    truth = record.get("truth") if isinstance(record.get("truth"), dict) else {}
    out: dict[str, Any] = {"kind": kind, "class": record.get("truth_class"), "sbmleq": None,
                           "roadrunner": None, "plain": None}
    if kind not in DECIDING or (kind == "settled" and not truth.get("concentrations")):
        return out
    out["sbmleq"] = _sbmleq(row, kind, truth)
    out["roadrunner"] = _roadrunner(row, kind, truth)
    if kind == "settled":
        plain = ((record.get("compare") or {}).get("plain") or {}).get("class")
        out["plain"] = plain if isinstance(plain, str) else None
    return out


def attach_truth(rows: Iterable[dict[str, Any]],
                 records: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The rows, each with a ``truth`` verdict (:func:`judge`) where ``records`` has its id
    (copies of those rows; the others as they are)."""
    out = []
    for row in rows:
        record = (records or {}).get(str(row.get("id", "")))
        out.append({**row, "truth": judge(row, record)} if isinstance(record, dict) else row)
    return out
