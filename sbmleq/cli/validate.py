"""``sbmleq validate``: batch validation against roadrunner with an HTML report
(docs/validation.md). The work is :func:`sbmleq.validation.command.validate_command`; this
module holds its command-line options only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sbmleq.cli.common import Reporter, streams
from sbmleq.errors import SbmleqError
from sbmleq.validation.command import DEFAULT_REPORT, DEFAULT_TIMEOUT, validate_command
from sbmleq.validation.items import default_jobs


def run_validate(**options) -> int:
    """:func:`validate_command` with its problems as one line on stderr and their exit code
    (unexpected errors keep their traceback, as before)."""
    _, err = streams(None, None)
    try:
        return int(validate_command(**options) or 0)
    except SbmleqError as exc:
        return Reporter(err).fail(exc)


def validate(
    sources: Annotated[list[str] | None, typer.Argument(
        metavar="PATH|ID...", help="SBML files, directories of SBML files (recursive) or "
                                   "BioModels ids")] = None,
    report: Annotated[Path, typer.Option(
        "--report", "-r", help="HTML report to write (the CSV table goes beside it, "
                               "X.html -> X.csv)")] = DEFAULT_REPORT,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="results file (JSON lines, appended as models finish; re-running "
                            "resumes) [default: the report's path with .jsonl]")] = None,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help=f"models solved in parallel [default: {default_jobs()}]")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", "-t", help="seconds allowed per model for import+prediction, again for "
                                "the roadrunner solve and again for the general import + "
                                "sbmleq's solve")] = DEFAULT_TIMEOUT,
    model: Annotated[Path | None, typer.Option(
        "--model", "-m", help="checkpoint (.npz or .pt) [default: the shipped model]")] = None,
    shipped: Annotated[bool, typer.Option(
        "--shipped", help="validate the BioModels files shipped with sbmleq")] = False,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="discard the results file's rows and start over")] = False,
    retry: Annotated[bool, typer.Option(
        "--retry", help="run again the models recorded as import failures, roadrunner "
                        "timeouts or solver failures")] = False,
    report_only: Annotated[bool, typer.Option(
        "--report-only", help="write the report from the results file only")] = False,
    progress: Annotated[bool, typer.Option(
        "--progress/--no-progress", help="show a progress bar")] = True,
    truth: Annotated[Path | None, typer.Option(
        "--truth", help="simulation truth (JSON lines of benchmarks/corpus_truth.py): who is "
                        "right, sbmleq or roadrunner [default with --shipped: the shipped "
                        "set's own]")] = None,
) -> None:
    """Validate predictions against roadrunner over many models and write a report."""
    raise typer.Exit(run_validate(sources=sources, report=report, out=out, jobs=jobs,
                                  timeout=timeout, model=model, shipped=shipped, fresh=fresh,
                                  retry=retry, report_only=report_only, progress=progress,
                                  truth=truth))
