"""``sbmleq validate``: the command as a plain function (the typer layer lives in sbmleq/cli/).

:func:`validate_command` takes the command's options as keyword arguments (the same names as
the command-line flags: ``--report`` -> ``report``, ``--report-only`` -> ``report_only``, ...),
runs the batch (:func:`sbmleq.validation.batch.run_batch`), writes the report
(:func:`sbmleq.report.html.write_report`) and returns the exit status; problems of the command
(bad arguments, a busy results store, a checkpoint that cannot predict) raise
:class:`~sbmleq.errors.SbmleqError`, whose ``exit_code`` the command line uses.

Files (:func:`report_paths`): ``--report X.html`` writes ``X.html``, ``X.csv`` and
``X.summary.md``; the results store is ``--out`` or ``X.jsonl`` (the JSON-lines export; the
SQLite database beside it is ``X.sqlite``, see :mod:`sbmleq.validation.store`). A report path
that would overwrite one of the results store's files is refused (:func:`check_report_paths`).

``--truth FILE.jsonl`` (benchmarks/corpus_truth.py's records; by default with ``--shipped`` the
shipped set's own, :func:`truth_records`) is read before anything runs and joined to the rows
when the report is written (:func:`sbmleq.validation.truth.attach_truth`): the results store
holds no truth, so the same rows can be reported against another truth file.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from pathlib import Path

from sbmleq.errors import InputError
from sbmleq.report.html import write_report
from sbmleq.report.summary import console_summary
from sbmleq.validation.batch import DEFAULT_TIMEOUT, run_batch
from sbmleq.validation.items import collect_items, default_jobs
from sbmleq.validation.store import read_results, store_paths
from sbmleq.validation.truth import attach_truth, read_truth, shipped_truth_path

__all__ = ["DEFAULT_REPORT", "DEFAULT_TIMEOUT", "check_report_paths", "report_paths",
           "rerun_command", "truth_records", "validate_command"]

DEFAULT_REPORT = Path("validation") / "report.html"


def report_paths(report: Path, out: Path | None) -> tuple[Path, Path, Path]:
    """(html, csv, results) for a report path: ``X.html`` -> ``X.csv``, ``X.jsonl``.
    ``results`` is the ``--out`` path as given (database or export, see
    :func:`~sbmleq.validation.store.store_paths`)."""
    report = Path(report)
    csv = report.with_suffix(".csv")
    results = Path(out) if out is not None else report.with_suffix(".jsonl")
    return report, csv, results


def _same(a: Path, b: Path) -> bool:
    return a.expanduser().resolve() == b.expanduser().resolve()


def check_report_paths(report: Path, out: Path | None) -> None:
    """Refuse (InputError, exit 2) a report whose HTML, CSV or Markdown file would be one of the
    results store's files (database, its WAL, shared-memory and lock files, the JSON-lines
    export), or one report file overwriting another: a report written there would destroy the
    results, and the next run would discard every row."""
    html, csv, results = report_paths(report, out)
    md = html.with_suffix(".summary.md")
    outputs = {"report": html, "CSV table": csv, "Markdown summary": md}
    for what, path in outputs.items():
        for kept in store_paths(results).files():
            if _same(path, kept):
                raise InputError(f"the {what} would overwrite the results file {kept}; choose a "
                                 f"--report ending in .html (or another --out)", source=str(path))
    if _same(html, csv) or _same(html, md):
        raise InputError("the report would be overwritten by its own CSV table or Markdown summary; "
                         "choose a --report ending in .html", source=str(html))


def rerun_command(sources: Sequence[str], *, report: Path, out: Path | None, jobs: int | None,
                  timeout: float, model: Path | None, shipped: bool,
                  truth: Path | None = None) -> str:
    """The ``sbmleq validate`` command line that (re)runs this batch (shown in the report)."""
    parts = ["sbmleq", "validate", *map(str, sources)]
    if shipped:
        parts.append("--shipped")
    if truth is not None:
        parts += ["--truth", str(truth)]
    parts += ["--report", str(report)]
    if out is not None:
        parts += ["--out", str(out)]
    if jobs:
        parts += ["--jobs", str(jobs)]
    parts += ["--timeout", f"{timeout:g}"]
    if model is not None:
        parts += ["--model", str(model)]
    return " ".join(shlex.quote(p) for p in parts)


def truth_records(truth: Path | None, shipped: bool) -> tuple[dict | None, Path | None]:
    """(records by model id, the file) of ``--truth``; with ``--shipped`` and no ``--truth``,
    the shipped set's own truth file when it is installed; (None, None) otherwise. A missing or
    corrupt ``--truth`` file raises InputError (exit 2) before anything runs."""
    if truth is None and shipped and shipped_truth_path().is_file():
        truth = shipped_truth_path()
    if truth is None:
        return None, None
    return read_truth(truth), Path(truth)


def validate_command(
    sources: list[str] | None = None,
    report: Path = DEFAULT_REPORT,
    out: Path | None = None,
    jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    model: Path | None = None,
    shipped: bool = False,
    fresh: bool = False,
    retry: bool = False,
    report_only: bool = False,
    progress: bool = True,
    truth: Path | None = None,
) -> int:
    """Run a validation batch and write the report; returns the exit status (0 when the batch
    ran, whatever the models' outcomes; 130 when interrupted). Raises SbmleqError for problems
    of the command (InputError: exit 2, CheckpointError: exit 4)."""
    from rich.console import Console  # rich is heavy to import: only when the command runs

    console = Console(stderr=True, soft_wrap=True)
    report = Path(report)
    out = Path(out) if out is not None else None
    check_report_paths(report, out)
    html, csv, results = report_paths(report, out)
    paths = store_paths(results)
    records, truth_file = truth_records(Path(truth) if truth is not None else None, shipped)
    if not report_only:
        items = collect_items(sources or [], shipped=shipped)
        if not items:
            raise InputError("no models to validate: give SBML files, directories or BioModels "
                             "ids (or --shipped)", source="sbmleq validate")
        if timeout <= 0:
            raise InputError("--timeout must be > 0", source="sbmleq validate")
        summary = run_batch(items, results, jobs=jobs or default_jobs(), timeout=timeout,
                            checkpoint=model, fresh=fresh, retry=retry, progress=progress)
        for line in summary.repairs:
            console.print(f"results file {paths.store}: {line}", highlight=False)
        console.print(f"{summary.done} model(s) validated, {summary.skipped} already in "
                      f"{paths.store} ({summary.seconds:.1f} s)"
                      + (" - interrupted" if summary.interrupted else ""), highlight=False)
        if summary.interrupted:
            console.print("interrupted: run the same command again to resume", highlight=False)
            return 130
    elif not paths.store.is_file() and not paths.jsonl.is_file():
        raise InputError("no results file to report on", source=str(results))
    rows = read_results(results)
    if report_only and sources:
        wanted = {it.key for it in collect_items(sources, shipped=shipped)}
        rows = [r for r in rows if r.get("key") in wanted]
    if report_only:  # the command that made the rows: their timeout, not this call's default
        used = {float(t) for t in (r.get("timeout") for r in rows)
                if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t)}
        if len(used) == 1:
            timeout = float(used.pop())
    rows = attach_truth(rows, records)
    meta = {"results": str(paths.store if paths.store.is_file() else paths.jsonl),
            "truth": str(truth_file) if truth_file is not None else "",
            "command": rerun_command(sources or [], report=html, out=out, jobs=jobs,
                                     timeout=timeout, model=model, shipped=shipped,
                                     truth=Path(truth) if truth is not None else None)}
    written = write_report(rows, html, csv_path=csv, meta=meta)
    console.print(console_summary(written), highlight=False)
    console.print(f"report: {html}  table: {csv}  results: {paths.store} (export {paths.jsonl})",
                  highlight=False)
    return 0
