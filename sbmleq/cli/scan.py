"""``sbmleq scan``: verified steady states of one model over a parameter design (sbmleq's own
solver, :func:`sbmleq.general_scan.scan_network`), as CSV or Parquet, with an optional plot."""

from __future__ import annotations

import enum
import importlib.util
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from sbmleq.api import Session
from sbmleq.cli.common import DebugOpt, Reporter, Sources, display, parse_timeout, streams
from sbmleq.errors import InputError
from sbmleq.general_scan import RESULT_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

OUT_SUFFIXES = (".csv", ".parquet")


class Design(str, enum.Enum):
    grid = "grid"
    lhs = "lhs"


class Confirm(str, enum.Enum):
    sample = "sample"
    all = "all"
    none = "none"


def _check_outputs(out_path: str | None, plot: str | None, n_axes: int) -> None:
    """Refuse an output that cannot be written before anything is solved."""
    if out_path is not None:
        suffix = Path(out_path).suffix.lower()
        if suffix not in OUT_SUFFIXES:
            raise InputError(f"{out_path}: the output must end in .csv or .parquet",
                             element="--out")
        if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
            raise InputError(f"{out_path}: writing Parquet needs pyarrow, which is not "
                             f"installed (pip install pyarrow), or use a .csv output",
                             element="--out")
    if plot is not None:
        if importlib.util.find_spec("matplotlib") is None:
            raise InputError("--plot needs matplotlib (pip install 'sbmleq[report]')",
                             element="--plot")
        if n_axes not in (1, 2):
            raise InputError(f"a plot shows 1 or 2 varied parameters, got {n_axes}",
                             element="--plot")


def plot_scan(frame: "pd.DataFrame", ids: list[str], path: str,
              species: str | None = None) -> None:
    """1 varied parameter: every species' steady state against it (log axis for a log
    range); 2: a heat map (a grid) or coloured points (an LHS) of one species."""
    import matplotlib  # the report extra; only when a plot is asked for

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_kind = frame.attrs.get("axes", {})
    skip = set(ids) | set(RESULT_COLUMNS)
    names = [c for c in frame.columns if c not in skip]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if len(ids) == 1:
        order = frame.sort_values(ids[0])
        for name in names:
            ax.plot(order[ids[0]], order[name], marker="." if len(frame) < 60 else None,
                    label=name)
        ax.set_xlabel(ids[0])
        ax.set_ylabel("steady-state concentration")
        if axes_kind.get(ids[0]) == "log":
            ax.set_xscale("log")
        if len(names) <= 12:
            ax.legend(fontsize="small")
    else:
        target = species or (names[0] if names else None)
        if target not in names:
            raise InputError(f"unknown species {target!r} for the heat map (species: "
                             f"{', '.join(names[:12])})", element="--species")
        a, b = ids
        if frame.attrs.get("design") == "grid":
            table = frame.pivot_table(index=b, columns=a, values=target, aggfunc="first",
                                      dropna=False)
            mesh = ax.pcolormesh(table.columns.to_numpy(), table.index.to_numpy(),
                                 table.to_numpy(), shading="nearest")
        else:
            mesh = ax.scatter(frame[a], frame[b], c=frame[target], s=12)
        fig.colorbar(mesh, ax=ax, label=f"{target} (steady state)")
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        ax.set_xscale("log" if axes_kind.get(a) == "log" else "linear")
        ax.set_yscale("log" if axes_kind.get(b) == "log" else "linear")
    ax.set_title(f"{frame.attrs.get('model', '')}: {len(frame)} sets (NaN: not verified)",
                 fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


class _Bar:
    """A rich progress bar on stderr (only on a terminal: captured output stays clean)."""

    def __init__(self, err: TextIO) -> None:
        self.err, self.bar, self.task = err, None, None

    def __call__(self, done: int, total: int) -> None:
        if not (hasattr(self.err, "isatty") and self.err.isatty()):
            return
        if self.bar is None:
            from rich.console import Console  # only for a terminal
            from rich.progress import Progress

            self.bar = Progress(console=Console(file=self.err), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("solving", total=total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _summary(frame: "pd.DataFrame") -> str:
    counts = Counter(frame["status"])
    parts = ", ".join(f"{k} {v}" for k, v in counts.most_common())
    extra, mode = frame.attrs.get("counts", {}), frame.attrs.get("confirm", "?")
    how = f"confirm {mode}"
    if mode == "sample" and extra.get("sample", 0) < len(frame):
        how += f": {extra.get('sample', 0)} sampled"
        if extra.get("confirmed_after"):
            how += f", {extra['confirmed_after']} where the checks saw another branch"
    return (f"{frame.attrs.get('model', '')}: {len(frame)} sets ({parts}) in "
            f"{frame.attrs.get('seconds', math.nan):.2f} s; confirmed by simulation: "
            f"{int(frame['confirmed'].sum())} ({how})")


def run_scan(model: str, sets: list[str], *, design: str = "grid", n: int = 1000,
             seed: int = 0, out_path: str | None = None, plot: str | None = None,
             species: str | None = None, batch: int = 512, timeout: float = 30.0,
             confirm: str = "sample", confirm_n: int | None = None, debug: bool = False,
             out: TextIO | None = None, err: TextIO | None = None,
             stdin: TextIO | None = None) -> int:
    """``sbmleq scan``: returns the exit code (2 for a bad --set, design, output or model
    file; 3 when the model is not a reaction network sbmleq solves). Sets that do not settle
    (oscillation, growth, timeout) are rows with their status, not errors."""
    out, err = streams(out, err)
    report = Reporter(err, debug)
    bar = _Bar(err)

    def work() -> "pd.DataFrame":
        if not sets:
            raise InputError("give at least one --set ID=LO:HI:log|lin:COUNT or ID=V1,V2,...",
                             element="--set")
        _check_outputs(out_path, plot, len(sets))
        limit = parse_timeout(timeout)
        source, name = Sources(stdin).resolve(model)
        with Session(timeout=limit) as session:
            return session.scan(source, list(sets), name=name, engine="sbmleq", design=design,
                                n=n, seed=seed, timeout=limit, batch_size=batch,
                                progress=bar, confirm=confirm, confirm_n=confirm_n)

    try:
        frame, code = report.attempt(work, source=display(model))
    finally:
        bar.close()
    if frame is None:
        return code
    ids = [c for c in frame.columns[: list(frame.columns).index("status")]]

    def write() -> None:
        if out_path is None:
            out.write(frame.to_csv(index=False))
        elif out_path.lower().endswith(".parquet"):
            frame.to_parquet(out_path, index=False)
        else:
            frame.to_csv(out_path, index=False)
        if plot is not None:
            plot_scan(frame, ids, plot, species)

    _, code = report.attempt(write, source=display(model))
    err.write(_summary(frame) + "\n")
    return code


def scan_command(
    model: Annotated[str, typer.Argument(
        metavar="MODEL", show_default=False,
        help="SBML file, BioModels id or - for SBML/Antimony on stdin.")],
    set_: Annotated[list[str], typer.Option(
        "--set", help="A varied parameter: ID=LO:HI:log|lin:COUNT (a range) or ID=V1,V2,... "
                      "(values); repeat for more.")] = [],  # noqa: B006 - typer reads it
    design: Annotated[Design, typer.Option(
        "--design", help="grid: every combination; lhs: --n Latin-hypercube samples.")
    ] = Design.grid,
    n: Annotated[int, typer.Option("--n", help="Samples of an lhs design.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of an lhs design.")] = 0,
    out_path: Annotated[str | None, typer.Option(
        "--out", help="Write the table to a .csv or .parquet file (default: CSV on stdout).")
    ] = None,
    plot: Annotated[str | None, typer.Option(
        "--plot", help="Plot (PNG, ...): species against 1 parameter, or a heat map over 2.")
    ] = None,
    species: Annotated[str | None, typer.Option(
        "--species", help="The species of the heat map (default: the first).")] = None,
    batch: Annotated[int, typer.Option("--batch", help="Parameter sets per batched solve.")
                     ] = 512,
    timeout: Annotated[float, typer.Option(
        "--timeout", help="Seconds for each batch's vectorised solve and for each set's "
                          "fallback solve; 0 = no limit.")] = 30.0,
    confirm: Annotated[Confirm, typer.Option(
        "--confirm", help="Which answers a simulation from the initial state confirms: "
                          "sample (a sample and the regions where it disagrees), all, none "
                          "(verified fixed points by continuation). Column 'confirmed'.")
    ] = Confirm.sample,
    confirm_n: Annotated[int | None, typer.Option(
        "--confirm-n", help="Sample size of --confirm sample (default: max(64, 0.5% of the "
                            "sets)).")] = None,
    debug: DebugOpt = False,
) -> None:
    """Verified steady states over a parameter grid or Latin hypercube: one row per set with
    the parameters, status, stability, residual, largest eigenvalue real part, whether a
    simulation confirmed it, and every species' concentration (empty unless verified)."""
    raise typer.Exit(run_scan(model, set_, design=design.value, n=n, seed=seed,
                              out_path=out_path, plot=plot, species=species, batch=batch,
                              timeout=timeout, confirm=confirm.value, confirm_n=confirm_n,
                              debug=debug))
