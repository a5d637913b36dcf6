"""The ``sbmleq`` command line: thin typer commands over plain ``run_*`` functions.

Every command catches errors at this boundary: an :class:`~sbmleq.errors.SbmleqError` becomes
one line on stderr and its exit code (2 input, 3 out of class, 4 checkpoint, 5 solver); any
other exception becomes one line, exit code 1 and a hint to rerun with ``--debug`` (which
prints the traceback). With several models every model is processed and reported, and the exit
code is the worst (largest) one. See docs/cli.md.

The validation developer's commands are plugged in from ``sbmleq.validation.batch`` and
``sbmleq.io.biomodels`` (each may expose ``register(app)``, or ``validate_command`` /
``fetch_command``); they are imported only when such a command (or the top-level help) is
asked for, so ``sbmleq predict`` stays fast to start.
"""

from __future__ import annotations

import enum
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TextIO, TypeVar

import typer

from sbmleq.errors import InputError, SbmleqError
from sbmleq import __version__
from sbmleq.api import Session
from sbmleq.cli.render import console as make_console
from sbmleq.cli.render import console as make_console, print_import
from sbmleq.cli.render import console as make_console, print_solve
from sbmleq.cli.render import dumps
from sbmleq.cli.render import predictions_csv
from sbmleq.cli.render import print_prediction
from sbmleq.cli.render import solve_csv
from sbmleq.io.loader import load
from sbmleq.io.sources import antimony_to_sbml
from sbmleq.model.tokens import encode

T = TypeVar("T")
CORE_COMMANDS = ("predict", "import", "solve", "evaluate")
STDIN = "-"
DEBUG_HINT = "run again with --debug for the traceback"


class PredictFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"


class ImportFormat(str, enum.Enum):
    table = "table"
    json = "json"


class Device(str, enum.Enum):
    cpu = "cpu"
    cuda = "cuda"


app = typer.Typer(
    name="sbmleq",
    help="Predict the steady state of biochemical networks (SBML) with a small Transformer, "
         "and check it against roadrunner.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


# ---------------------------------------------------------------------------- error boundary
class Reporter:
    """Writes one-line errors to stderr and keeps the worst exit code."""

    def __init__(self, err: TextIO, debug: bool = False):
        self.err, self.debug, self.code = err, debug, 0
        self.last = ""  # the last error line (for JSON error entries)

    def fail(self, exc: BaseException, source: str | None = None) -> int:
        if isinstance(exc, SbmleqError):
            if source:
                exc.with_source(source)
            line, code = exc.one_line(), exc.exit_code
        else:
            text = " ".join(str(exc).split())[:300]
            where = f"{source}: " if source else ""
            line = (f"{where}unexpected {type(exc).__name__}"
                    f"{': ' + text if text else ''} ({DEBUG_HINT})")
            code = 1
        if self.debug:
            traceback.print_exception(exc, file=self.err)
        self.err.write(f"error: {line}\n")
        self.err.flush()
        self.last = line
        self.note(code)
        return code

    def note(self, code: int) -> None:
        self.code = max(self.code, code)

    def entry(self, key: str, source: str, code: int) -> dict[str, Any]:
        """The JSON entry of a model that failed (its line already went to stderr)."""
        return {key: source, "error": {"exit_code": code, "message": self.last}}

    def attempt(self, fn: Callable[[], T], source: str | None = None) -> tuple[T | None, int]:
        """``fn()``; an error is reported (one line) and returned as its exit code."""
        try:
            return fn(), 0
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - the CLI boundary: never a traceback
            return None, self.fail(exc, source)


def _streams(out: TextIO | None, err: TextIO | None) -> tuple[TextIO, TextIO]:
    return out or sys.stdout, err or sys.stderr


class _Sources:
    """MODEL arguments as loader sources: ``-`` reads stdin (SBML or Antimony) once."""

    def __init__(self, stdin: TextIO | None):
        self.stdin = stdin
        self.used = False

    def resolve(self, arg: str) -> tuple[Any, str]:
        if arg != STDIN:
            return arg, arg
        if self.used:
            raise InputError("stdin can be read only once: give '-' a single time",
                             source="<stdin>")
        self.used = True
        text = (self.stdin or sys.stdin).read()
        if not text.strip():
            raise InputError("no input on stdin (expected SBML or Antimony)", source="<stdin>")
        if text.lstrip().startswith("<"):
            return text, "<stdin>"

        return antimony_to_sbml(text, "<stdin>")[0], "<stdin>"


def _timeout(seconds: float) -> float | None:
    if seconds < 0:
        raise InputError(f"--timeout must be >= 0 (0: no limit), got {seconds:g}",
                         element="--timeout")
    return None if seconds == 0 else seconds


# ---------------------------------------------------------------------------- plain functions
def run_predict(models: Sequence[str], *, fmt: str = "table", check: bool = False,
                model: str | Path | None = None, device: str = "cpu", timeout: float = 30.0,
                debug: bool = False, out: TextIO | None = None, err: TextIO | None = None,
                stdin: TextIO | None = None) -> int:
    """``sbmleq predict``: returns the exit code."""

    out, err = _streams(out, err)
    report = Reporter(err, debug)
    sources = _Sources(stdin)
    limit, code = report.attempt(lambda: _timeout(timeout))
    if code:
        return code
    session = Session(model=model, device=device, timeout=limit)
    try:
        _, code = report.attempt(session.predictor)  # a bad checkpoint or device stops here
        if code:
            return code
        console = None
        if fmt == "table":

            console = make_console(out)
        results, rows = [], []
        for arg in models:
            def one(arg: str = arg):
                source, name = sources.resolve(arg)
                return session.predict(source, check=check, name=name)

            result, failed = report.attempt(one, source=_display(arg))
            if result is None:
                rows.append(report.entry("model", _display(arg), failed))
                continue
            results.append(result)
            rows.append(result)
            report.note(result.exit_code)
            if not result.in_class:
                reasons = [f"{r['reaction']}: {r['reason']}" if r["reaction"] else r["reason"]
                           for r in result.out_of_class] or ["not a LIFE network"]
                more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
                err.write(f"error: {result.model}: outside the LIFE class: {reasons[0]}{more}\n")
            if console is not None:

                print_prediction(console, result)
        if fmt == "json":

            data = [r if isinstance(r, dict) else r.to_dict() for r in rows]
            out.write(dumps(data[0] if len(models) == 1 else data) + "\n")
        elif fmt == "csv":

            out.write(predictions_csv(results))
    finally:
        session.close()
    return report.code


def run_import(models: Sequence[str], *, fmt: str = "table", debug: bool = False,
               out: TextIO | None = None, err: TextIO | None = None,
               stdin: TextIO | None = None) -> int:
    """``sbmleq import``: the importer's report and the token sequence; returns the exit code."""

    out, err = _streams(out, err)
    report = Reporter(err, debug)
    sources = _Sources(stdin)
    rows = []
    console = None
    for arg in models:
        def one(arg: str = arg):
            source, name = sources.resolve(arg)
            imported = load(source, name=name)
            tokens = None
            if imported.network is not None:

                tokens = encode(imported.network).render()
            return imported, tokens

        got, failed = report.attempt(one, source=_display(arg))
        if got is None:
            rows.append(report.entry("source", _display(arg), failed))
            continue
        imported, tokens = got
        if not imported.in_class:
            report.note(3)
        if fmt == "json":
            rows.append({**imported.to_dict(), "tokens": tokens})
        else:

            console = console or make_console(out)
            print_import(console, imported, tokens)
    if fmt == "json":

        out.write(dumps(rows[0] if len(models) == 1 else rows) + "\n")
    return report.code


def run_solve(models: Sequence[str], *, fmt: str = "table", timeout: float = 30.0,
              debug: bool = False, out: TextIO | None = None, err: TextIO | None = None,
              stdin: TextIO | None = None) -> int:
    """``sbmleq solve``: roadrunner's steady state alone; returns the exit code (5 when
    roadrunner fails or times out; a model without steady state is an answer, exit 0)."""

    out, err = _streams(out, err)
    report = Reporter(err, debug)
    sources = _Sources(stdin)
    limit, code = report.attempt(lambda: _timeout(timeout))
    if code:
        return code
    results, rows = [], []
    console = None
    with Session(timeout=limit) as session:
        for arg in models:
            def one(arg: str = arg):
                source, name = sources.resolve(arg)
                return session.solve(source, name=name)

            result, failed = report.attempt(one, source=_display(arg))
            if result is None:
                rows.append(report.entry("model", _display(arg), failed))
                continue
            results.append(result)
            rows.append(result.to_dict())
            if result.status.value in ("solver_failure", "timeout"):
                err.write(f"error: {result.model}: roadrunner {result.status.value}: "
                          f"{' '.join(result.message.split())[:300]}\n")
                report.note(5)
            if fmt == "table":

                console = console or make_console(out)
                print_solve(console, result)
    if fmt == "json":

        out.write(dumps(rows[0] if len(models) == 1 else rows) + "\n")
    elif fmt == "csv":

        out.write(solve_csv(results))
    return report.code


def run_evaluate(args: Sequence[str], *, debug: bool = False, err: TextIO | None = None) -> int:
    """``sbmleq evaluate``: ``training.evaluate.main(args)`` from the source checkout."""
    _, err = _streams(None, err)
    report = Reporter(err, debug)

    def target() -> Callable[[list[str]], Any]:
        try:
            return importlib.import_module("training.evaluate").main
        except ModuleNotFoundError as exc:
            if exc.name not in ("training", "training.evaluate"):
                raise
        checkout = Path(__file__).resolve().parents[2]  # an editable install: the repository
        if (checkout / "training" / "evaluate.py").is_file():
            sys.path.insert(0, str(checkout))
            return importlib.import_module("training.evaluate").main
        raise InputError("`sbmleq evaluate` needs the source checkout (the `training` package "
                         "is not importable): run it from a clone of the repository, where "
                         "`python -m training.evaluate` works", source="evaluate")

    main_fn, code = report.attempt(target)
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


def _display(arg: str) -> str:
    return "<stdin>" if arg == STDIN else arg


# ---------------------------------------------------------------------------- typer commands
ModelsArg = Annotated[list[str], typer.Argument(
    metavar="MODEL...", show_default=False,
    help="SBML file, BioModels id (BIOMD0000000xxx, shipped or cached) or - for SBML/Antimony "
         "on stdin.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback of unexpected errors.")]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", min=0, help="Seconds for each roadrunner solve (run in a child process that is "
                             "killed when time is up); 0 = no limit, in this process.")]


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False
          ) -> None:
    if version:

        typer.echo(f"sbmleq {__version__}")
        raise typer.Exit(0)


@app.command("predict")
def predict_command(
    models: ModelsArg,
    format: Annotated[PredictFormat, typer.Option(
        "--format", "-f", help="table (rich), json (one object; a list for several models) "
                               "or csv (one row per model and species).")] = PredictFormat.table,
    check: Annotated[bool, typer.Option(
        "--check", help="Also solve with roadrunner and show the relative error per "
                        "species.")] = False,
    model: Annotated[Path | None, typer.Option(
        "--model", metavar="CKPT", help="Model checkpoint (.npz NumPy export or .pt); default: "
                                        "the shipped model.")] = None,
    device: Annotated[Device, typer.Option(
        "--device", help="cpu, or cuda (PyTorch with CUDA and a .pt checkpoint).")] = Device.cpu,
    timeout: TimeoutOpt = 30.0,
    debug: DebugOpt = False,
) -> None:
    """Predict the steady state of each MODEL (exit 3 if a model is outside the LIFE class)."""
    raise typer.Exit(run_predict(models, fmt=format.value, check=check, model=model,
                                 device=device.value, timeout=timeout, debug=debug))


@app.command("import")
def import_command(
    models: ModelsArg,
    format: Annotated[ImportFormat, typer.Option("--format", "-f")] = ImportFormat.table,
    debug: DebugOpt = False,
) -> None:
    """Show what the importer made of each reaction and the token sequence the model reads."""
    raise typer.Exit(run_import(models, fmt=format.value, debug=debug))


@app.command("solve")
def solve_command(
    models: ModelsArg,
    format: Annotated[PredictFormat, typer.Option("--format", "-f")] = PredictFormat.table,
    timeout: TimeoutOpt = 30.0,
    debug: DebugOpt = False,
) -> None:
    """roadrunner's steady state alone: status, stage, stability and the settings used."""
    raise typer.Exit(run_solve(models, fmt=format.value, timeout=timeout, debug=debug))


@app.command("evaluate", context_settings={"allow_extra_args": True,
                                           "ignore_unknown_options": True,
                                           "help_option_names": []})
def evaluate_command(ctx: typer.Context) -> None:
    """Evaluate a model on seeded test sets (runs training.evaluate; needs the source checkout).
    Arguments are passed on: sbmleq evaluate --help shows them."""
    raise typer.Exit(run_evaluate(ctx.args))


# ---------------------------------------------------------------------------- plugins
def _plugin(name: str) -> tuple[Any, str | None]:
    """(module, None), (None, None) when absent, or (None, error) when its import fails."""
    try:
        return importlib.import_module(name), None
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None, None
        return None, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the core CLI
        return None, f"{type(exc).__name__}: {exc}"


def _unavailable(command: str, module: str, problem: str | None) -> Callable[..., None]:
    def unavailable(ctx: typer.Context) -> None:
        why = f"importing {module} failed ({problem})" if problem else f"{module} is not installed"
        typer.echo(f"error: `sbmleq {command}` is not available: {why}", err=True)
        raise typer.Exit(1)

    unavailable.__doc__ = f"(not available: {module} is missing or broken)"
    return unavailable


def register_plugins(target: typer.Typer) -> typer.Typer:
    """Add ``validate`` and ``biomodels fetch`` from their modules (idempotent)."""
    if getattr(target, "_sbmleq_plugins", False):
        return target
    target._sbmleq_plugins = True  # type: ignore[attr-defined]
    passthrough = {"allow_extra_args": True, "ignore_unknown_options": True}
    validate, problem = _plugin("sbmleq.validation.batch")
    if validate is not None and hasattr(validate, "register"):
        validate.register(target)
    elif validate is not None and hasattr(validate, "validate_command"):
        target.command("validate")(validate.validate_command)
    else:
        target.command("validate", context_settings=passthrough)(
            _unavailable("validate", "sbmleq.validation.batch", problem))
    biomodels, problem = _plugin("sbmleq.io.biomodels")
    if biomodels is not None and hasattr(biomodels, "register"):
        biomodels.register(target)
        return target
    sub = typer.Typer(help="BioModels files: fetch them into the local cache.",
                      no_args_is_help=True)
    if biomodels is not None and hasattr(biomodels, "fetch_command"):
        sub.command("fetch")(biomodels.fetch_command)
    else:
        sub.command("fetch", context_settings=passthrough)(
            _unavailable("biomodels fetch", "sbmleq.io.biomodels", problem))
    target.add_typer(sub, name="biomodels")
    return target


def get_app(args: Sequence[str] | None = None) -> typer.Typer:
    """The app, with the plugin commands added unless ``args`` name a core command."""
    command = next((a for a in (args or []) if not a.startswith("-")), None)
    if command not in CORE_COMMANDS:
        register_plugins(app)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point (``sbmleq`` and ``python -m sbmleq``)."""
    # One BLAS thread unless the user says otherwise. The model's matrices are small, and on a
    # busy machine OpenBLAS's extra threads contend with everything else: one 32-species
    # prediction measured 184 ms with one thread against 3.6 s with the default (2 cores,
    # load ~10). Must happen before numpy is imported: ``import sbmleq`` does not import it.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = list(sys.argv[1:] if argv is None else argv)
    get_app(args)(args=args, prog_name="sbmleq")
