"""Rendering of results for the command line: rich tables, JSON and CSV.

Only the table renderers import rich (inside the functions: a heavy third-party import that
``--format json`` / ``csv`` and ``sbmleq --help`` never pay); JSON and CSV use the standard
library. Numbers in tables use 6 significant digits; JSON and CSV carry
full precision (``repr``), with non-finite values as ``null`` / empty cells.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from sbmleq.io.sbml_import import ImportResult
from sbmleq.model.predictor import LOW_CONFIDENCE_RESIDUAL
from sbmleq.results import ModelPrediction
from sbmleq.solvers.roadrunner import RoadRunnerResult

if TYPE_CHECKING:
    from rich.console import Console

FORMATS_PREDICT = ("table", "json", "csv")
LOW_CONFIDENCE_NOTE = "low confidence"


def fmt(x: Any, digits: int = 6) -> str:
    """A number for a table: ``-`` for missing, 6 significant digits otherwise."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, float)):
        x = float(x)
        return f"{x:.{digits}g}" if math.isfinite(x) else str(x)
    return str(x)


def _cell(x: Any) -> str:
    """A CSV cell: full precision, empty for missing or non-finite numbers."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return repr(x) if math.isfinite(x) else ""
    return str(x)


def dumps(data: Any) -> str:
    """JSON text (indented, strict: no NaN/Infinity tokens)."""
    return json.dumps(data, indent=2, allow_nan=False)


# ---------------------------------------------------------------------------- notes
def verdict(result: "ModelPrediction") -> str:
    """The exact verdict: what the dynamics do from the model's initial values."""
    if not result.in_class:
        return "not predicted: the model is outside the LIFE class (see the reasons below)"
    status = result.steady_state_status
    if status == "unique":
        return "settles to its unique equilibrium (exact)"
    if status == "conserved":
        pools = result.conserved_totals()
        return (f"settles (exact, from the initial values): {len(pools)} closed pool(s) keep "
                "their conserved totals")
    if status == "unbounded":
        return "no steady state: an intake feeds a closed pool, which grows without bound (exact)"
    return "-"


def learned_note(result: "ModelPrediction") -> str:
    """The learned model's verdict (the paper's label: a unique equilibrium)."""
    p = result.p_exists
    if p is None:
        return "-"
    if result.predicted_exists:
        return f"unique equilibrium (p = {p:.3g})"
    return f"no unique equilibrium (p = {p:.3g}): some species cannot reach an excretion"


def pools_note(result: "ModelPrediction") -> str:
    parts = []
    for pool in result.conserved_totals():
        names = ", ".join(pool["species"][:6]) + (" ..." if len(pool["species"]) > 6 else "")
        total = "grows" if pool["unbounded"] else f"total {fmt(pool['total'], 6)}"
        parts.append(f"{{{names}}}: {total} (initially {fmt(pool['initial'], 6)})")
    return "; ".join(parts)


def distribution_note(result: "ModelPrediction") -> str:
    pred = result.prediction
    if pred is None:
        return "-"
    if not pred.out_of_distribution:
        return "in distribution"
    return "OUT OF DISTRIBUTION: " + "; ".join(pred.ood_reasons)


def confidence_note(result: "ModelPrediction") -> str:
    pred = result.prediction
    if pred is None:
        return "-"
    residual = "" if pred.residual is None else f"relative residual {pred.residual:.2g}"
    if pred.confident:
        return "confident" + (f" ({residual})" if residual else "")

    why = []
    if pred.residual is not None and pred.residual >= LOW_CONFIDENCE_RESIDUAL:
        why.append(f"{residual} >= {LOW_CONFIDENCE_RESIDUAL:g}: the prediction does not balance "
                   "the fluxes well")
    if 0.1 <= pred.p_exists <= 0.9:
        why.append(f"undecided whether an equilibrium exists (p = {pred.p_exists:.2f})")
    if pred.out_of_distribution:
        why.append("out of distribution")
    return f"{LOW_CONFIDENCE_NOTE}: " + "; ".join(why or ["see the residual"])


def roadrunner_note(rr: "RoadRunnerResult | None") -> str:
    if rr is None:
        return "not run (use --check)"
    parts = [f"stage {rr.stage}"]
    if rr.eigenvalues_max_real is not None:
        parts.append(f"max Re(eigenvalue) {rr.eigenvalues_max_real:.3g}")
    parts.append(f"{rr.seconds:.2f} s")
    text = f"{rr.status.value} ({', '.join(parts)})"
    if not rr.converged and rr.message:
        text += f": {rr.message}"
    return text


# ---------------------------------------------------------------------------- tables
def console(file: TextIO | None = None) -> "Console":
    from rich.console import Console

    return Console(file=file, soft_wrap=False, highlight=False, emoji=False)


def _kv(rows: Sequence[tuple[str, str]]):
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def print_prediction(out: "Console", result: "ModelPrediction") -> None:
    from rich.table import Table
    from rich.text import Text

    out.print(Text(result.model, style="bold underline"))
    rows = [("verdict", verdict(result))]
    if result.conserved_totals():
        rows.append(("closed pools", pools_note(result)))
    if result.in_class:
        rows += [("learned", learned_note(result)),
                 ("distribution", distribution_note(result)),
                 ("confidence", confidence_note(result))]
    rows.append(("roadrunner", roadrunner_note(result.roadrunner)))
    if result.steady_state_rel_l1 is not None:
        rows.append(("steady state vs roadrunner", f"rel. L1 {fmt(result.steady_state_rel_l1, 3)}"))
    if result.rel_l1 is not None:
        rows.append(("learned vs roadrunner", f"rel. L1 {fmt(result.rel_l1, 3)}"))
    out.print(_kv(rows))
    if not result.in_class:
        reasons = Table(title="outside the class (per reaction)", title_justify="left")
        reasons.add_column("reaction")
        reasons.add_column("reason", overflow="fold")
        for item in result.out_of_class:
            reasons.add_row(item["reaction"] or "(model)", item["reason"] or "")
        out.print(reasons)
    data = result.to_dict()["species"]
    if data:
        checked = result.roadrunner is not None
        table = Table()
        table.add_column("species")
        if result.in_class:
            table.add_column("steady state", justify="right")
        table.add_column("predicted", justify="right")
        if checked:
            table.add_column("roadrunner", justify="right")
            table.add_column("rel. error", justify="right")
        table.add_column("unit")
        for sid, row in data.items():
            cells = [sid] + ([fmt(row["steady_state"])] if result.in_class else [])
            cells.append(fmt(row["predicted"]))
            if checked:
                cells += [fmt(row["roadrunner"]), fmt(row["rel_error"], 3)]
            table.add_row(*cells, row["unit"])
        out.print(table)
    out.print()


def print_import(out: "Console", imported: "ImportResult", tokens: list[str] | None) -> None:
    from rich.table import Table
    from rich.text import Text

    out.print(Text(imported.source_name or "model", style="bold underline"))
    net = imported.network
    rows = [("model id", imported.model_id or "-"),
            ("in class", "yes" if imported.in_class else "no: outside the LIFE class"),
            ("network", repr(net) if net is not None else "-")]
    out.print(_kv(rows))
    model_level = [r.message for r in imported.reasons if r.reaction is None]
    if model_level:
        out.print(_kv([("model-level", reason) for reason in model_level]))
    table = Table(title="reactions", title_justify="left")
    table.add_column("reaction")
    table.add_column("kinetic law", overflow="fold")
    table.add_column("mapped to / reason", overflow="fold")
    for r in imported.report:
        style = None if r.mapped else "red"
        text = r.as_ if r.mapped else f"OUT OF CLASS: {r.reason}"
        table.add_row(r.reaction_id, r.law or "-", Text(text, style=style))
    out.print(table)
    units = Table(title="species", title_justify="left")
    units.add_column("node")
    units.add_column("SBML species")
    units.add_column("unit (as declared)")
    for node, unit in imported.species_units.items():
        units.add_row(node, imported.node_species.get(node, node), unit)
    out.print(units)
    if imported.warnings:
        out.print(_kv([("warning", w) for w in imported.warnings]))
    if tokens is not None:
        out.print(Text(f"tokens ({len(tokens)}), as the model reads them:", style="bold"))
        for tok in tokens:
            out.print(Text("  " + tok))
    out.print()


def print_solve(out: "Console", result: "RoadRunnerResult") -> None:
    from rich.table import Table
    from rich.text import Text

    out.print(Text(result.model or "model", style="bold underline"))
    settings = result.settings or {}
    solver = settings.get("steady_state") if isinstance(settings.get("steady_state"), dict) else {}
    rows = [("status", result.status.value), ("stage", result.stage),
            ("max Re(eigenvalue)", fmt(result.eigenvalues_max_real, 4)),
            ("residual", fmt(result.residual, 3)),
            ("unique", fmt(result.unique)),
            ("seconds", f"{result.seconds:.3f}")]
    if result.message:
        rows.append(("message", result.message))
    if "conserved_moiety_analysis" in settings:
        rows.append(("moiety analysis", str(settings["conserved_moiety_analysis"])))
    if solver:
        options = ", ".join(f"{k}={v}" for k, v in sorted((solver.get("options") or {}).items()))
        rows.append(("solver", f"{solver.get('solver', '?')} ({options})"))
    out.print(_kv(rows))
    if result.concentrations or result.boundary:
        table = Table()
        table.add_column("species")
        table.add_column("concentration", justify="right")
        table.add_column("kind")
        for kind, values in (("floating", result.concentrations), ("boundary", result.boundary)):
            for sid, value in values.items():
                table.add_row(sid, fmt(value), kind)
        out.print(table)
    out.print()


# ---------------------------------------------------------------------------- CSV
PREDICT_CSV_COLUMNS = ("model", "species", "predicted", "unit", "roadrunner", "rel_error",
                       "in_class", "equilibrium_exists", "p_exists", "out_of_distribution",
                       "confident", "roadrunner_status", "steady_state", "steady_state_status",
                       "predicted_exists")


def predictions_csv(results: Sequence["ModelPrediction"]) -> str:
    """One row per (model, species); an out-of-class model without species gets one row with
    an empty species cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PREDICT_CSV_COLUMNS)
    for result in results:
        data = result.to_dict()
        common = [data["in_class"], data["equilibrium_exists"], data["p_exists"],
                  data["out_of_distribution"], data["confident"],
                  (data["roadrunner"] or {}).get("status")]
        species = data["species"] or {"": {"predicted": None, "unit": "", "roadrunner": None,
                                           "rel_error": None, "steady_state": None}}
        for sid, row in species.items():
            writer.writerow([_cell(x) for x in [data["model"], sid, row["predicted"], row["unit"],
                                                row["roadrunner"], row["rel_error"], *common,
                                                row["steady_state"], data["steady_state_status"],
                                                data["predicted_exists"]]])
    return buf.getvalue()


def solve_csv(results: Sequence["RoadRunnerResult"]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("model", "species", "concentration", "kind", "status", "stage",
                     "eigenvalues_max_real"))
    for r in results:
        rows = [(sid, value, "floating") for sid, value in r.concentrations.items()]
        rows += [(sid, value, "boundary") for sid, value in r.boundary.items()]
        for sid, value, kind in rows or [("", None, "")]:
            writer.writerow([_cell(x) for x in (r.model, sid, value, kind, r.status.value,
                                                r.stage, r.eigenvalues_max_real)])
    return buf.getvalue()
