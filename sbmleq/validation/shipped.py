"""Rebuilding the shipped BioModels set (``sbmleq/data/biomodels``) from validation results.

Moved here from :mod:`sbmleq.io.biomodels` (which keeps the manifest format, reading it and
fetching): choosing the models needs the report's summary and the results store, and the io
layer must not import those. ``sbmleq biomodels build RESULTS SOURCE`` calls
:func:`build_shipped`.

Besides the LIFE models and the out-of-class examples, the set holds a few small nonlinear
models (:data:`GENERAL_MODELS`, chosen by hand from the simulation truth of
benchmarks/corpus_truth.py, docs/ground-truth.md) that import as general reaction networks,
for the three-way comparison of ``sbmleq validate --shipped``: sbmleq's own solver, roadrunner and
the truth. Their truth records are shipped beside them (``truth.jsonl``, only the shipped
models' records; :func:`write_shipped_truth`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sbmleq.io.biomodels import REPO_MANIFEST, write_manifest
from sbmleq.io.sources import BIOMODELS_ID, shipped_biomodels_dir
from sbmleq.report.categories import model_categories, reason_entries
from sbmleq.report.summary import summarize
from sbmleq.validation.store import read_results
from sbmleq.validation.truth import SHIPPED_TRUTH, read_truth, write_truth_subset

__all__ = ["CORPUS_TRUTH", "GENERAL_MODELS", "build_shipped", "manifest_row", "select_shipped",
           "write_shipped_truth"]

CORPUS_TRUTH = Path("benchmarks") / "results" / "corpus_truth.jsonl"  # from the repository root
# Small nonlinear models (< 25 kB each) that import as general networks, and what each shows
# against the simulation truth (plain: roadrunner's steadyState() with its default options;
# staged: sbmleq's roadrunner chain, what `sbmleq validate` runs).
GENERAL_MODELS = {
    "BIOMD0000000092": "settled; plain steadyState() lands on a state with negative values",
    "BIOMD0000000098": "oscillating (Goldbeter calcium oscillations, Hill laws)",
    "BIOMD0000000159": "settled; plain fails (singular Jacobian)",
    "BIOMD0000000231": "growing (Michaelis-Menten laws); plain fails",
    "BIOMD0000000233": "settled; plain and staged roadrunner land elsewhere (rel-L1 0.015)",
    "BIOMD0000000360": "settled; plain and staged roadrunner land elsewhere (rel-L1 1.95)",
    "BIOMD0000000418": "settled; plain fails (damping factor too small)",
    "BIOMD0000000455": "settled (Michaelis-Menten); plain fails (singular Jacobian)",
    "BIOMD0000000518": "settled; roadrunner and sbmleq both stop at an unstable point",
    "BIOMD0000000552": "settled; plain lands elsewhere",
    "BIOMD0000000614": "growing; roadrunner and sbmleq both report a stable steady state",
}


def _status(row: dict[str, Any]) -> str:
    return (row.get("roadrunner") or {}).get("status") or ""


def select_shipped(rows: Sequence[dict[str, Any]], *, n_out_of_class: int = 6,
                   sizes: dict[str, int] | None = None) -> tuple[list[dict], list[dict]]:
    """(in-class rows with a stable roadrunner steady state, a few out-of-class examples).

    The examples show the most common kinds of blocking reasons, one per reason code (one
    ``modifier``, one ``not_first_order``, ...): for each, the smallest model whose only
    category it is (else whose main one it is), preferring models roadrunner solves
    (converged stable)."""

    sizes = sizes or {}
    inside = [r for r in rows if r.get("outcome") == "in_class" and _status(r) == "converged_stable"]
    outside = [r for r in rows if r.get("outcome") == "out_of_class" and reason_entries(r)]
    chosen: list[dict] = []
    used: set[str] = set()
    codes: set[str] = set()
    for entry in summarize(rows)["reasons"]:
        if len(chosen) >= n_out_of_class:
            break
        cat, code = entry["category"], entry["code"]
        if code in codes:  # one example per kind of reason
            continue
        pool = [r for r in outside if r["id"] not in used and model_categories(r)[:1] == [cat]]
        if not pool:
            continue
        pool.sort(key=lambda r: (len(model_categories(r)) > 1, _status(r) != "converged_stable",
                                 sizes.get(r["id"], 1 << 40), r["id"]))
        chosen.append(pool[0])
        used.add(pool[0]["id"])
        codes.add(code)
    return inside, chosen


def manifest_row(row: dict[str, Any], data: bytes) -> dict[str, Any]:
    """The manifest line of one shipped model (``data``: the file's bytes)."""
    reason = ""
    if row.get("outcome") != "in_class":
        entries = reason_entries(row)
        first = entries[0].text if entries else (row.get("error") or "")
        reason = "; ".join(model_categories(row)) + (f" (e.g. {first})" if first else "")
    return {"id": row["id"], "name": row.get("name", ""), "species": row.get("n_species", ""),
            "reactions": row.get("n_reactions", ""),
            "in_class": str(row.get("outcome") == "in_class").lower(),
            "reason_if_not": reason, "roadrunner_status": _status(row),
            "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write_shipped_truth(ids: Sequence[str], dest: Path,
                        truth: str | os.PathLike | None = None) -> int:
    """Write ``dest/truth.jsonl``: the truth records of the shipped ``ids`` from ``truth``
    (default: :data:`CORPUS_TRUTH` when it exists, else the records already shipped); returns
    how many were written (0 and nothing written when there is no truth file)."""
    source = Path(truth) if truth is not None else CORPUS_TRUTH
    if truth is None and not source.is_file():
        source = dest / SHIPPED_TRUTH
    if not source.is_file():
        return 0
    records = read_truth(source)
    write_truth_subset(records, ids, dest / SHIPPED_TRUTH)
    return len(set(ids) & set(records))


def build_shipped(results: str | os.PathLike, source_dir: str | os.PathLike, *,
                  dest_dir: str | os.PathLike | None = None,
                  repo_manifest: str | os.PathLike | None = REPO_MANIFEST,
                  n_out_of_class: int = 6, general: Sequence[str] = tuple(GENERAL_MODELS),
                  truth: str | os.PathLike | None = None) -> dict[str, Any]:
    """Rebuild the shipped set from a validation results store over ``source_dir`` (files named
    ``<ID>.xml``; ``results``: the database or its ``.jsonl`` export): copy the selected files
    (byte for byte) into ``dest_dir`` (the package's ``data/biomodels``), remove the ones no
    longer selected, write the manifest there and to ``repo_manifest``, and the truth records
    of the shipped models (:func:`write_shipped_truth`). The ``general`` models (those the
    results hold) are shipped besides the selection, after the out-of-class examples (which
    are chosen among the other models). Returns counts and the total size."""

    source_dir = Path(source_dir)
    dest = Path(dest_dir) if dest_dir is not None else shipped_biomodels_dir()
    rows = [r for r in read_results(results) if BIOMODELS_ID.match(str(r.get("id", "")))]
    sizes = {r["id"]: (source_dir / f"{r['id']}.xml").stat().st_size for r in rows
             if (source_dir / f"{r['id']}.xml").is_file()}
    rows = [r for r in rows if r["id"] in sizes]
    wanted = set(general)
    extra = [r for r in rows if r["id"] in wanted]
    inside, examples = select_shipped([r for r in rows if r["id"] not in wanted],
                                      n_out_of_class=n_out_of_class, sizes=sizes)
    dest.mkdir(parents=True, exist_ok=True)
    chosen = inside + examples + sorted(extra, key=lambda r: r["id"])
    keep = {r["id"] for r in chosen}
    for old in dest.glob("*.xml"):
        if old.stem not in keep:
            old.unlink()
    manifest = []
    for row in chosen:
        data = (source_dir / f"{row['id']}.xml").read_bytes()
        (dest / f"{row['id']}.xml").write_bytes(data)
        manifest.append(manifest_row(row, data))
    write_manifest(manifest, dest / "manifest.csv")
    if repo_manifest is not None:
        write_manifest(manifest, repo_manifest)
    total = sum(int(m["bytes"]) for m in manifest)
    n_truth = write_shipped_truth(sorted(keep), dest, truth)
    return {"in_class": len(inside), "out_of_class": len(examples), "general": len(extra),
            "files": len(manifest), "bytes": total, "truth_records": n_truth, "dest": str(dest)}
