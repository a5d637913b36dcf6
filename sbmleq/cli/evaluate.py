"""``sbmleq evaluate``: ``training.evaluate.main(args)`` (the LIFE model) or, with ``general`` as
the first argument, ``training.evaluate_general.main(args)`` (the general model), from the
source checkout."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import typer

from sbmleq.cli.common import Reporter, streams
from sbmleq.errors import InputError

CHECKOUT = Path(__file__).resolve().parents[2]  # an editable install: the repository


def _target(module: str = "evaluate") -> Callable[[list[str]], Any]:
    """``training.<module>.main``. ``training`` is not part of the installed package: it is
    imported by name, from the path or from the checkout this package lives in."""
    name = f"training.{module}"
    try:
        return importlib.import_module(name).main
    except ModuleNotFoundError as exc:
        if exc.name not in ("training", name):
            raise
    if (CHECKOUT / "training" / f"{module}.py").is_file():
        sys.path.insert(0, str(CHECKOUT))
        return importlib.import_module(name).main
    raise InputError("`sbmleq evaluate` needs the source checkout (the `training` package "
                     "is not importable): run it from a clone of the repository, where "
                     "`python -m training.evaluate` works", source="evaluate")


def run_evaluate(args: Sequence[str], *, debug: bool = False, err: TextIO | None = None) -> int:
    """``sbmleq evaluate``: returns the exit code."""
    _, err = streams(None, err)
    report = Reporter(err, debug)
    args = list(args)
    module = "evaluate"
    if args and args[0] == "general":
        module, args = "evaluate_general", args[1:]
    main_fn, code = report.attempt(lambda: _target(module))
    if main_fn is None:
        return code
    try:
        main_fn(list(args))
    except SystemExit as exc:  # argparse --help / usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001
        return report.fail(exc, "evaluate")
    return 0


def evaluate_command(ctx: typer.Context) -> None:
    """Evaluate a model on seeded test sets (runs training.evaluate; `sbmleq evaluate general
    ...` runs training.evaluate_general; needs the source checkout). Arguments are passed on:
    sbmleq evaluate [general] --help shows them."""
    raise typer.Exit(run_evaluate(ctx.args))


# the arguments belong to training.evaluate (argparse), --help included
EVALUATE_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True,
                     "help_option_names": []}
