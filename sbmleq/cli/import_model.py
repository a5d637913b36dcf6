"""``sbmleq import``: what the importer made of each reaction, and the tokens the model reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TextIO

import typer

from sbmleq.cli.common import (
    DebugOpt,
    ImportFormat,
    ModelsArg,
    Reporter,
    Sources,
    display,
    streams,
)
from sbmleq.cli.render import console as make_console
from sbmleq.cli.render import dumps, print_import
from sbmleq.cli.render_general import print_general_import
from sbmleq.io.request import open_source
from sbmleq.model.tokens import encode


def run_import(models: Sequence[str], *, fmt: str = "table", debug: bool = False,
               out: TextIO | None = None, err: TextIO | None = None,
               stdin: TextIO | None = None) -> int:
    """``sbmleq import``: the LIFE importer's report and the token sequence, then the general
    import (reaction network: rate-law family per reaction, conservation laws, or the reason
    codes it cannot be one; JSON key ``general``); returns the exit code (3 when a model is
    outside the LIFE class the learned model reads: its reports are still printed, and one line
    on stderr names the first reason)."""
    out, err = streams(out, err)
    report = Reporter(err, debug)
    sources = Sources(stdin)
    rows: list[dict[str, Any]] = []
    console = None
    for arg in models:
        def one(arg: str = arg):
            source, name = sources.resolve(arg)
            src = open_source(source, name=name)
            imported = src.imported()
            tokens = encode(imported.network).render() if imported.network is not None else None
            return imported, tokens, src.general()

        got, failed = report.attempt(one, source=display(arg))
        if got is None:
            rows.append(report.entry("source", display(arg), failed))
            continue
        imported, tokens, general = got
        if not imported.in_class:
            report.out_of_class(imported.source_name or display(arg),
                                [(r.reaction, r.message) for r in imported.reasons])
        if fmt == "json":
            rows.append({**imported.to_dict(), "tokens": tokens, "general": general.to_dict()})
        else:
            console = console or make_console(out)
            print_import(console, imported, tokens)
            print_general_import(console, general)
    if fmt == "json":
        out.write(dumps(rows[0] if len(models) == 1 else rows) + "\n")
    return report.code


def import_command(
    models: ModelsArg,
    format: Annotated[ImportFormat, typer.Option("--format", "-f")] = ImportFormat.table,
    debug: DebugOpt = False,
) -> None:
    """Show what the importer made of each reaction and the token sequence the model reads."""
    raise typer.Exit(run_import(models, fmt=format.value, debug=debug))
