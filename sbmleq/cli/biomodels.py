"""``sbmleq biomodels``: ``fetch`` (download by id into the cache), ``list`` (shipped and cached
models) and the maintainers' hidden ``build`` (regenerate the shipped set)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TextIO

import typer

from sbmleq.cli.common import DebugOpt, Reporter, streams
from sbmleq.io.biomodels import fetch, read_manifest
from sbmleq.io.sources import biomodels_cache_dir, shipped_biomodels_dir
from sbmleq.validation.shipped import build_shipped

app = typer.Typer(help="BioModels: the shipped set and downloads by id.", no_args_is_help=True)


def run_fetch(ids: list[str], *, force: bool = False, debug: bool = False,
              out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Fetch each id (one path per line on stdout); a failure is one line on stderr and exit
    code 2 (offline, unknown id, HTTP error, not SBML, no ``biomodels`` package), the other ids
    are still fetched."""
    out, err = streams(out, err)
    report = Reporter(err, debug)
    for model_id in ids:
        paths, _ = report.attempt(lambda model_id=model_id: fetch([model_id], force=force))
        for path in paths or []:
            out.write(f"{path}\n")
    return report.code


def run_list(out: TextIO | None = None) -> int:
    out, _ = streams(out, None)
    rows = read_manifest()
    for r in rows:
        mark = "in class" if r["in_class"] == "true" else "out of class"
        out.write(f"{r['id']}  {mark:12}  {r['roadrunner_status']:18}  {r['name']}\n")
    cache = biomodels_cache_dir()
    cached = sorted(p.stem for p in cache.glob("*.xml")) if cache.is_dir() else []
    out.write(f"{len(rows)} shipped in {shipped_biomodels_dir()}; {len(cached)} cached in "
              f"{cache}\n")
    return 0


def run_build(results: Path, source: Path, *, out_of_class: int = 6, debug: bool = False,
              out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = streams(out, err)
    info, code = Reporter(err, debug).attempt(
        lambda: build_shipped(results, source, n_out_of_class=out_of_class))
    if info is None:
        return code
    out.write(f"{info['files']} files ({info['in_class']} in class, {info['out_of_class']} "
              f"out of class), {info['bytes'] / 1e6:.2f} MB in {info['dest']}\n")
    return 0


@app.command("fetch")
def fetch_command(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="BioModels ids")],
    force: Annotated[bool, typer.Option("--force", help="download again even if cached")] = False,
    debug: DebugOpt = False,
) -> None:
    """Download models by id into the cache (needs a network and sbmleq[fetch]; exit 2 when a
    model cannot be fetched)."""
    raise typer.Exit(run_fetch(ids, force=force, debug=debug))


@app.command("list")
def list_command() -> None:
    """The shipped models (manifest) and the cached ones."""
    raise typer.Exit(run_list())


@app.command("build", hidden=True)
def build_command(
    results: Annotated[Path, typer.Argument(help="validation results (.jsonl) over source")],
    source: Annotated[Path, typer.Argument(help="folder of <ID>.xml files (curated BioModels)")],
    out_of_class: Annotated[int, typer.Option(help="out-of-class examples to ship")] = 6,
    debug: DebugOpt = False,
) -> None:
    """Maintainers: rebuild sbmleq/data/biomodels and biomodels/manifest.csv."""
    raise typer.Exit(run_build(results, source, out_of_class=out_of_class, debug=debug))
