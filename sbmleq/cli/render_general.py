"""Tables and CSV of sbmleq's own solver results (``sbmleq solve``) and general imports
(``sbmleq import --general``). rich is imported inside the table renderers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sbmleq.cli.render import _cell, _kv, fmt
from sbmleq.general import GeneralSolveResult
from sbmleq.general_predict import GeneralPrediction
from sbmleq.io.general_import import GeneralImport

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["print_general_solve", "general_solve_csv", "print_general_import",
           "print_general_prediction"]


def print_general_solve(out: "Console", result: GeneralSolveResult) -> None:
    from rich.table import Table  # rich: only for tables
    from rich.text import Text

    out.print(Text(result.model or "model", style="bold underline"))
    stages = " -> ".join(f"{s['name']} ({s['outcome']})" for s in result.stages[:6])
    if len(result.stages) > 6:
        stages += f" ... (+{len(result.stages) - 6})"
    rows = [("engine", "sbmleq"), ("status", result.status.value), ("stage", result.stage),
            ("stable", fmt(result.stable)),
            ("max Re(eigenvalue)", fmt(result.eigenvalues_max_real, 4)),
            ("residual", fmt(result.residual, 3)),
            ("Newton iterations", str(result.newton_iterations)),
            ("stages", stages or "-"),
            ("seconds", f"{result.seconds:.3f} (import {result.seconds_import:.3f}, compile "
                        f"{result.seconds_compile:.3f})")]
    if result.families:
        rows.append(("rate laws", ", ".join(f"{k} {v}" for k, v in
                                            sorted(result.families.items()))))
    if result.message:
        rows.append(("message", result.message))
    out.print(_kv(rows))
    values = result.concentrations or result.reached_state
    if values:
        table = Table()
        table.add_column("species")
        table.add_column("concentration" if result.concentrations else "reached (no fixed "
                         "point)", justify="right")
        for sid, value in values.items():
            table.add_row(sid, fmt(value))
        out.print(table)
    _print_conserved(out, result.conserved_totals)
    out.print()


def general_solve_csv(results: Sequence[GeneralSolveResult]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("model", "species", "concentration", "status", "stage", "stable",
                     "eigenvalues_max_real", "residual"))
    for r in results:
        for sid, value in list(r.concentrations.items()) or [("", None)]:
            writer.writerow([_cell(x) for x in (r.model, sid, value, r.status.value, r.stage,
                                                r.stable, r.eigenvalues_max_real, r.residual)])
    return buf.getvalue()


def print_general_import(out: "Console", result: GeneralImport) -> None:
    from rich.table import Table  # rich: only for tables
    from rich.text import Text

    out.print(Text(result.source_name or "model", style="bold underline"))
    net = result.network
    if net is None:
        out.print("not importable as a reaction network:")
        for r in result.reasons:
            out.print(f"  [{r.code.value}] {r.element or 'model'}: {r.message}")
        out.print()
        return
    laws = net.conservation
    out.print(_kv([("species (state)", f"{len(net.species)} ({net.n_state})"),
                   ("reactions", str(len(net.reactions))),
                   ("parameters", str(len(net.parameter_ids))),
                   ("rate rules", str(len(net.rate_rules))),
                   ("conservation laws", str(laws.count))]))
    table = Table()
    for col in ("reaction", "family", "reactants", "products", "modifiers"):
        table.add_column(col)
    for r in net.reactions:
        table.add_row(r.id, r.family or "-",
                      " + ".join(f"{st:g} {s}" if st != 1 else s for s, st in r.reactants) or "-",
                      " + ".join(f"{st:g} {s}" if st != 1 else s for s, st in r.products) or "-",
                      ", ".join(r.modifiers) or "-")
    out.print(table)
    for w in result.warnings[:5]:
        out.print(f"warning: {w}")
    out.print()


def print_general_prediction(out: "Console", pred: GeneralPrediction,
                             roadrunner: dict[str, float] | None = None,
                             roadrunner_status: str | None = None) -> None:
    """``sbmleq predict`` on a general model: the learned outcome and state beside the verified
    ones (the verified steady state is the answer; the learned one is never shown alone), and
    with ``--check`` roadrunner's values and their relative difference to the verified ones."""
    from rich.table import Table  # rich: only for tables
    from rich.text import Text

    v = pred.verified
    out.print(Text(pred.model or "model", style="bold underline"))
    probs = ", ".join(f"{k} {p:.3g}" for k, p in pred.probabilities.items())
    how = ("the polished prediction" if pred.used_prediction
           else "the solver chain (the prediction was not used)")
    rows = [("verified", f"{v.status.value}" + (f" (stage {v.stage}: {how})"
                                                if v.status.value in ("stable", "unstable")
                                                else "")),
            ("learned outcome", f"{pred.outcome} ({probs})"),
            ("max Re(eigenvalue)", fmt(v.eigenvalues_max_real, 4)),
            ("residual", fmt(v.residual, 3)),
            ("Newton iterations", f"{pred.polish_iterations} polishing the prediction, "
                                  f"{v.newton_iterations} in the chain"),
            ("distribution", "outside: " + "; ".join(pred.ood_reasons)
             if pred.out_of_distribution else "inside the training distribution"),
            ("seconds", f"{pred.seconds:.3f} (import {pred.seconds_import:.3f}, predict "
                        f"{pred.seconds_predict:.3f}, verify {pred.seconds_verify:.3f})")]
    if v.message:
        rows.append(("message", v.message))
    if roadrunner_status is not None:
        rows.append(("roadrunner", roadrunner_status))
    out.print(_kv(rows))
    steady = pred.steady_state or {}
    table = Table()
    table.add_column("species")
    table.add_column("predicted (learned)", justify="right")
    table.add_column("steady state (verified)", justify="right")
    if roadrunner_status is not None:
        table.add_column("roadrunner", justify="right")
        table.add_column("rel. difference", justify="right")
    for sid, value in pred.predicted.items():
        cells = [sid, fmt(value), fmt(steady.get(sid)) if steady else "-"]
        if roadrunner_status is not None:
            rr = (roadrunner or {}).get(sid)
            ss = steady.get(sid)
            diff = None if rr is None or ss is None else abs(ss - rr) / max(abs(rr), 1e-300)
            cells += [fmt(rr), fmt(diff, 3)]
        table.add_row(*cells)
    out.print(table)
    _print_conserved(out, v.conserved_totals)
    out.print()


def _print_conserved(out: "Console", totals: Sequence[dict]) -> None:
    """The first ten conservation laws with their totals, one line each."""
    for law in totals[:10]:
        terms = " + ".join(f"{c}*{s}" if c != 1 else s
                           for s, c in zip(law["species"], law["coefficients"]))
        out.print(f"conserved: {terms} = {fmt(law['total'])} (amount)")
