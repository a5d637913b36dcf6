"""``sbmleq solve``: roadrunner's steady state alone (status, stage, stability, settings)."""

from __future__ import annotations

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

FAILED = ("solver_failure", "timeout")  # statuses that exit 5


def run_solve(models: Sequence[str], *, fmt: str = "table", timeout: float = 30.0,
              debug: bool = False, out: TextIO | None = None, err: TextIO | None = None,
              stdin: TextIO | None = None) -> int:
    """``sbmleq solve``: returns the exit code (2 for unreadable input or a document that
    refers to undefined species, parameters or ids; 5 when roadrunner fails or times out; a
    model without steady state is an answer, exit 0)."""
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
                return session.solve(source, name=name)

            result, failed = report.attempt(one, source=display(arg))
            if result is None:
                rows.append(report.entry("model", display(arg), failed))
                continue
            results.append(result)
            rows.append(result.to_dict())
            if result.status.value in FAILED:
                report.line(f"{result.model}: roadrunner {result.status.value}: "
                            f"{' '.join(result.message.split())[:300]}")
                report.note(5)
            if fmt == "table":
                console = console or make_console(out)
                print_solve(console, result)
    if fmt == "json":
        out.write(dumps(rows[0] if len(models) == 1 else rows) + "\n")
    elif fmt == "csv":
        out.write(solve_csv(results))
    return report.code


def solve_command(
    models: ModelsArg,
    format: Annotated[PredictFormat, typer.Option("--format", "-f")] = PredictFormat.table,
    timeout: TimeoutOpt = 30.0,
    debug: DebugOpt = False,
) -> None:
    """roadrunner's steady state alone: status, stage, stability and the settings used."""
    raise typer.Exit(run_solve(models, fmt=format.value, timeout=timeout, debug=debug))
