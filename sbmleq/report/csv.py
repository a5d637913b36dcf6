"""The per-model table of a validation report as CSV (one row per model, sorted by id)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sbmleq.report.categories import error_code, model_categories, reason_entries
from sbmleq.report.fmt import as_dict, flag, num
from sbmleq.report.general_summary import general_seconds

__all__ = ["CSV_COLUMNS", "csv_row", "write_csv"]

CSV_COLUMNS = ["id", "name", "outcome", "n_species", "n_reactions", "n_nodes", "roadrunner_status",
               "roadrunner_stage", "roadrunner_unique", "predicted_exists", "p_exists",
               "out_of_distribution", "exact_status", "existence_agree", "exact_agree", "rel_l1",
               "max_rel_err", "rr_exact_rel_l1", "compared_species", "reason_categories",
               "first_reason", "error", "seconds", "checkpoint", "source", "reason_codes",
               "error_code",  # the last two were added with reason codes
               # the general networks (row version 2) and the simulation truth (--truth):
               "general_outcome", "general_reason_codes", "families", "sbmleq_status",
               "sbmleq_stage", "sbmleq_seconds", "sbmleq_rr_rel_l1", "sbmleq_rr_agree",
               "truth_kind", "truth_sbmleq", "truth_roadrunner", "truth_plain"]


def _blank(x: Any) -> Any:
    return "" if x is None else x


def csv_row(r: dict[str, Any]) -> dict[str, Any]:
    """One model's CSV row (every value a plain string, number or bool; never raises)."""
    rr, pred = as_dict(r.get("roadrunner")), as_dict(r.get("prediction"))
    entries = reason_entries(r)
    failed = r.get("outcome") in ("input_error", "import_failure")
    general, truth = as_dict(r.get("general")), as_dict(r.get("truth"))
    solve = as_dict(general.get("solve"))
    codes = [as_dict(d).get("code") for d in general.get("reason_codes") or []
             if isinstance(d, dict)] if isinstance(general.get("reason_codes"), list) else []
    families = sorted({str(f) for f in as_dict(general.get("families")).values()})
    return {
        "id": _blank(r.get("id")), "name": _blank(r.get("name")), "outcome": _blank(r.get("outcome")),
        "n_species": num(r.get("n_species"), "d"), "n_reactions": num(r.get("n_reactions"), "d"),
        "n_nodes": num(r.get("n_nodes"), "d"), "roadrunner_status": _blank(rr.get("status")),
        "roadrunner_stage": _blank(rr.get("stage")), "roadrunner_unique": _blank(flag(rr.get("unique"))),
        "predicted_exists": _blank(flag(pred.get("exists"))),
        "p_exists": num(pred.get("p_exists"), ".4g"),
        "out_of_distribution": _blank(flag(pred.get("out_of_distribution"))),
        "exact_status": _blank(as_dict(r.get("exact")).get("status")),
        "existence_agree": _blank(flag(r.get("existence_agree"))),
        "exact_agree": _blank(flag(r.get("exact_agree"))),
        "rel_l1": num(r.get("rel_l1"), ".6g"), "max_rel_err": num(r.get("max_rel_err"), ".6g"),
        "rr_exact_rel_l1": num(r.get("rr_exact_rel_l1"), ".3g"),
        "compared_species": num(r.get("compared_species"), "d"),
        "reason_categories": "; ".join(model_categories(r)),
        "reason_codes": "; ".join(dict.fromkeys(e.code for e in entries)),
        "first_reason": entries[0].text if entries else "", "error": _blank(r.get("error")),
        "error_code": error_code(r) if failed else "",
        "seconds": num(r.get("seconds"), ".3f"), "checkpoint": _blank(r.get("checkpoint")),
        "source": _blank(r.get("source")),
        "general_outcome": _blank(general.get("outcome")),
        "general_reason_codes": "; ".join(dict.fromkeys(str(c) for c in codes if c)),
        "families": "; ".join(families), "sbmleq_status": _blank(solve.get("status")),
        "sbmleq_stage": _blank(solve.get("stage")),
        "sbmleq_seconds": num(general_seconds(r), ".3f"),
        "sbmleq_rr_rel_l1": num(general.get("rr_rel_l1"), ".3g"),
        "sbmleq_rr_agree": _blank(flag(general.get("rr_agree"))),
        "truth_kind": _blank(truth.get("kind")), "truth_sbmleq": _blank(truth.get("sbmleq")),
        "truth_roadrunner": _blank(truth.get("roadrunner")),
        "truth_plain": _blank(truth.get("plain")),
    }


def write_csv(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for r in sorted(rows, key=lambda r: str(r.get("id", ""))):
            writer.writerow(csv_row(r))
    return path
