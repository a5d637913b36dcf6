"""``sbmleq predict``: the steady-state prediction of each model, optionally checked against
roadrunner (``--check``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, TextIO

import typer

from sbmleq.api import Session
from sbmleq.cli.common import (
    DebugOpt,
    Device,
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
from sbmleq.cli.render import dumps, predictions_csv, print_prediction
from sbmleq.cli.render_general import print_general_prediction


def run_predict(models: Sequence[str], *, fmt: str = "table", check: bool = False,
                model: str | Path | None = None, device: str = "cpu", timeout: float = 30.0,
                general_model: str | Path | bool | None = None, quick: bool = False,
                debug: bool = False, out: TextIO | None = None, err: TextIO | None = None,
                stdin: TextIO | None = None) -> int:
    """``sbmleq predict``: returns the exit code."""
    out, err = streams(out, err)
    report = Reporter(err, debug)
    sources = Sources(stdin)
    limit, code = report.attempt(lambda: parse_timeout(timeout))
    if code:
        return code
    session = Session(model=model, device=device, timeout=limit, general_model=general_model,
                      confirm=not quick)
    try:
        _, code = report.attempt(session.predictor)  # a bad checkpoint or device stops here
        if code:
            return code
        _, code = report.attempt(session.general_predictor)  # the same for the general model
        if code:
            return code
        console = make_console(out) if fmt == "table" else None
        results, rows = [], []
        for arg in models:
            def one(arg: str = arg):
                source, name = sources.resolve(arg)
                # warn=False: the out-of-class line below is the one message on stderr
                return session.predict(source, check=check, name=name, warn=False)

            result, failed = report.attempt(one, source=display(arg))
            if result is None:
                rows.append(report.entry("model", display(arg), failed))
                continue
            results.append(result)
            rows.append(result)
            report.note(result.exit_code)
            if not result.in_class and result.learned is None:
                report.out_of_class(result.model, [(r["reaction"], r["reason"])
                                                   for r in result.out_of_class])
            if console is not None:
                if result.learned is not None:
                    rr = result.roadrunner
                    print_general_prediction(console, result.learned, result.roadrunner_values,
                                             None if rr is None else rr.status.value)
                else:
                    print_prediction(console, result)
        if fmt == "json":
            data = [r if isinstance(r, dict) else r.to_dict() for r in rows]
            out.write(dumps(data[0] if len(models) == 1 else data) + "\n")
        elif fmt == "csv":
            out.write(predictions_csv(results))
    finally:
        session.close()
    return report.code


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
    general_model: Annotated[Path | None, typer.Option(
        "--general-model", metavar="CKPT",
        help="The general model (.npz or .pt) for models outside the LIFE class: its "
             "prediction is then verified by sbmleq's solver; default: the shipped one.")
    ] = None,
    life_only: Annotated[bool, typer.Option(
        "--life-only", help="No general model: a model outside the LIFE class is not "
                            "predicted and exits 3 with its reasons.")] = False,
    quick: Annotated[bool, typer.Option(
        "--quick", help="General models: accept the polished prediction once it passes the "
                        "solver's checks, without simulating to confirm that the dynamics "
                        "reach it (faster; a multistable model may reach another state).")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Predict the steady state of each MODEL, then verify it: a LIFE network with the LIFE
    model and its exact solve, any other reaction network with the general model and sbmleq's
    verified solver (exit 3 for a model that is neither, or outside the LIFE class with
    --life-only; 5 when verification fails or times out)."""
    if life_only and general_model is not None:
        raise typer.BadParameter("--life-only and --general-model exclude each other")
    raise typer.Exit(run_predict(models, fmt=format.value, check=check, model=model,
                                 device=device.value, timeout=timeout,
                                 general_model=False if life_only else general_model,
                                 quick=quick, debug=debug))
