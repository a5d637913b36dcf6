"""``sbmleq solve``: the verified steady state from the model's initial state (sbmleq's own
solver, or ``--engine roadrunner`` for roadrunner's staged chain)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Annotated, TextIO

import typer

from sbmleq.api import Session
from sbmleq.cli.common import (
    DebugOpt,
    ModelsArg,
    PredictFormat,
    Reporter,
    Sources,
    TimeoutOpt,
    display,
    parse_timeout,
    streams,
)
from sbmleq.cli.render import console as make_console
from sbmleq.cli.render import dumps, print_solve, solve_csv
from sbmleq.cli.render_general import general_solve_csv, print_general_solve
from sbmleq.general import FAILED_STATUSES, GeneralSolveResult

FAILED = ("solver_failure", "timeout", *(s.value for s in FAILED_STATUSES))  # statuses: exit 5


class Engine(str, enum.Enum):
    sbmleq = "sbmleq"
    roadrunner = "roadrunner"


def run_solve(models: Sequence[str], *, fmt: str = "table", timeout: float = 30.0,
              engine: str = "sbmleq", debug: bool = False, out: TextIO | None = None,
              err: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """``sbmleq solve``: returns the exit code (2 for unreadable input or a document that
    refers to undefined species, parameters or ids; 3 when the sbmleq engine cannot import the
    model as a reaction network (events, delays, algebraic rules, explicit time: the reason
    code is printed); 5 when the solver fails or times out; a model without steady state
    (oscillation, growth) is an answer, exit 0)."""
    out, err = streams(out, err)
    report = Reporter(err, debug)
    sources = Sources(stdin)
    limit, code = report.attempt(lambda: parse_timeout(timeout))
    if code:
        return code
    results, rows = [], []
    console = None
    with Session(timeout=limit) as session:
        for arg in models:
            def one(arg: str = arg):
                source, name = sources.resolve(arg)
                return session.solve(source, name=name, engine=engine)

            result, failed = report.attempt(one, source=display(arg))
            if result is None:
                rows.append(report.entry("model", display(arg), failed))
                continue
            results.append(result)
            rows.append(result.to_dict())
            if result.status.value in FAILED:
                report.line(f"{result.model}: {engine} {result.status.value}: "
                            f"{' '.join(result.message.split())[:300]}")
                report.note(5)
            if fmt == "table":
                console = console or make_console(out)
                if isinstance(result, GeneralSolveResult):
                    print_general_solve(console, result)
                else:
                    print_solve(console, result)
    if fmt == "json":
        out.write(dumps(rows[0] if len(models) == 1 else rows) + "\n")
    elif fmt == "csv":
        out.write(general_solve_csv(results) if engine == "sbmleq" else solve_csv(results))
    return report.code


def solve_command(
    models: ModelsArg,
    format: Annotated[PredictFormat, typer.Option("--format", "-f")] = PredictFormat.table,
    timeout: TimeoutOpt = 30.0,
    engine: Annotated[Engine, typer.Option(
        "--engine", help="sbmleq: the verified solver on the imported reaction network; "
                         "roadrunner: roadrunner's staged chain.")] = Engine.sbmleq,
    debug: DebugOpt = False,
) -> None:
    """The steady state the model reaches from its initial state: status (stable, unstable,
    oscillation, unbounded, ...), stability, residual, conserved totals and the stages run."""
    raise typer.Exit(run_solve(models, fmt=format.value, timeout=timeout, engine=engine.value,
                               debug=debug))
