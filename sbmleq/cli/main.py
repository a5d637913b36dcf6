"""The ``sbmleq`` command line: the typer app and the console entry point :func:`main`.

One module per command, each a thin typer function over a plain ``run_*`` function that returns
the exit code (:mod:`sbmleq.cli.common` holds the error boundary; docs/cli.md the exit codes):

- ``predict`` (:mod:`sbmleq.cli.predict`), ``import`` (:mod:`sbmleq.cli.import_model`),
  ``solve`` (:mod:`sbmleq.cli.solve`), ``scan`` (:mod:`sbmleq.cli.scan`),
  ``evaluate`` (:mod:`sbmleq.cli.evaluate`),
- ``validate`` (:mod:`sbmleq.cli.validate`), ``biomodels fetch|list`` (:mod:`sbmleq.cli.biomodels`).

Heavy libraries (rich, pandas, libsbml, roadrunner, sympy, torch) are imported inside the
functions that use them, so ``sbmleq --help`` loads none of them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from sbmleq import __version__
from sbmleq.cli import biomodels, evaluate, import_model, predict, scan, solve, validate

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

app = typer.Typer(
    name="sbmleq",
    help="Predict the steady state of biochemical networks (SBML) with a small Transformer, "
         "and check it against roadrunner.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False
          ) -> None:
    if version:
        typer.echo(f"sbmleq {__version__}")
        raise typer.Exit(0)


app.command("predict")(predict.predict_command)
app.command("import")(import_model.import_command)
app.command("solve")(solve.solve_command)
app.command("scan")(scan.scan_command)
app.command("evaluate", context_settings=evaluate.EVALUATE_SETTINGS)(evaluate.evaluate_command)
app.command("validate")(validate.validate)
app.add_typer(biomodels.app, name="biomodels")


def limit_blas_threads() -> bool:
    """One BLAS thread, unless the user chose a number (``OPENBLAS_NUM_THREADS``,
    ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` set). True when it limited them.

    The model's matrices are small, and on a busy machine OpenBLAS's extra threads contend with
    everything else: one 32-species prediction measured 184 ms with one thread against 3.6 s
    with the default (2 cores, load ~10). numpy is already loaded here (the commands import the
    API), so its BLAS is limited through threadpoolctl; the variable is also set, for BLAS
    libraries loaded later (scipy's) and for child processes (the roadrunner worker)."""
    if any(os.environ.get(name) for name in BLAS_THREAD_VARIABLES):
        return False
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    from threadpoolctl import threadpool_limits  # third-party, only needed here

    threadpool_limits(limits=1, user_api="blas")
    return True


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point (``sbmleq`` and ``python -m sbmleq``); exits with the exit code."""
    limit_blas_threads()
    args = list(sys.argv[1:] if argv is None else argv)
    app(args=args, prog_name="sbmleq")
