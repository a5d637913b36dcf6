"""Coverage of the general SBML importer over the curated BioModels corpus.

    python benchmarks/import_coverage.py [--corpus DIR] [--catalog CSV] [--out docs/import-coverage.md]
                                         [--jobs N] [--roadrunner] [--no-write]

Imports every file of the corpus (default ``../shared/biomodels/curated``) with
:func:`sbmleq.io.general_import.import_reaction_network` and prints

- the candidate count: the corpus minus the models the catalog (``catalog.csv``) flags with
  events, explicit time forcing or delays (1,041 - 310 = 731 for the April 2022 snapshot), and how
  many of them import;
- the reasons of the candidates that do not import, by code (and those of the other models);
- the rate-law families of the imported candidates (reactions and models);
- the time per model (libsbml parsing and import separately: median, 90th percentile, max, total);
- with ``--roadrunner``: for every imported candidate, whether the initial state and rhs(x0) equal
  roadrunner's (slow: roadrunner compiles each model, about 10 minutes for the corpus).

and writes ``docs/import-coverage.md`` with the numbers and every candidate that does not import,
with its codes and elements. One process by default; ``--jobs N`` imports in N worker processes
(multiprocessing; only the wall time changes).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sbmleq.core.compile import compile_network  # noqa: E402 - after the path
from sbmleq.core.families import FAMILIES  # noqa: E402
from sbmleq.errors import InputError  # noqa: E402
from sbmleq.io.general_import import (  # noqa: E402
    import_reaction_network,
    import_reaction_network_from,
)
from sbmleq.io.reasons import ReasonCode  # noqa: E402
from sbmleq.io.sources import read_document  # noqa: E402

CORPUS = ROOT.parent / "shared" / "biomodels" / "curated"


def import_one(path: str) -> dict[str, Any]:
    """One model: parse and import times, reasons, families (JSON-ready)."""
    model_id = Path(path).stem
    start = time.perf_counter()
    try:
        doc = read_document(path, model_id)
        parsed = time.perf_counter()
        result = import_reaction_network(doc, model_id)
    except InputError as exc:
        now = time.perf_counter()
        return {"model": model_id, "importable": False, "parse_s": now - start, "import_s": 0.0,
                "reasons": [{"code": "input_error", "element": exc.element,
                             "message": exc.message}], "families": {}, "n_reactions": 0}
    done = time.perf_counter()
    return {"model": model_id, "importable": result.importable, "parse_s": parsed - start,
            "import_s": done - parsed,
            "reasons": [{"code": r.code.value, "element": r.element, "message": r.message}
                        for r in result.reasons],
            "families": result.families,
            "n_reactions": len(result.network.reactions) if result.network else 0}


def check_roadrunner(path: str) -> str:
    """'ok', or what differs from roadrunner at the initial state (or why it could not run)."""
    import numpy as np  # only for the roadrunner check
    import roadrunner  # the reference

    net = import_reaction_network_from(Path(path)).require()
    try:
        rr = roadrunner.RoadRunner(path)
    except RuntimeError as exc:
        return "roadrunner cannot load it: " + " ".join(str(exc).split())[:120]
    m = rr.model
    conc = dict(zip(m.getFloatingSpeciesIds(), m.getFloatingSpeciesConcentrations()))
    amounts = dict(zip(m.getFloatingSpeciesIds(), m.getFloatingSpeciesAmounts()))
    roc = rr.getRatesOfChangeNamedArray()
    rates = dict(zip((n.rstrip("'") for n in roc.colnames), roc[0]))
    c = compile_network(net)
    x0 = net.initial_state()
    f, v = c.rhs(x0), c.rates(x0)
    k, n_r = len(net.state_species), len(net.reactions)
    scale = np.concatenate([np.abs(net.stoichiometry) @ np.abs(v[:n_r]) / net.volumes[:k],
                            np.abs(v[n_r:])])
    by_id = net.species_by_id()
    for i, sid in enumerate(net.state_ids):
        if sid in by_id:  # a species (changed by reactions or by a rate rule)
            s = by_id[sid]
            if sid in conc:
                want0 = amounts[sid] if s.amount else conc[sid]
            else:  # a boundary species with a rate rule
                want0 = rr[sid] if s.amount else rr[f"[{sid}]"]
            want = rates[sid] / (1.0 if s.amount else net.compartments[s.compartment])
        else:
            want0, want = rr[sid], rates[sid]
        if not np.isclose(x0[i], want0, rtol=1e-9, atol=1e-12, equal_nan=True):
            return f"x0 of {sid}: {float(x0[i])!r} vs {float(want0)!r}"
        same = abs(f[i] - want) <= 1e-9 * (scale[i] + abs(want)) + 1e-13
        if not (same or (np.isnan(f[i]) and np.isnan(want))):
            return f"rhs of {sid}: {float(f[i])!r} vs {float(want)!r}"
    return "ok"


def read_catalog(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {row["model_id"]: row for row in csv.DictReader(fh)}


def _flag(row: dict[str, str], name: str) -> bool:
    return row.get(name, "False") == "True"


def _stats(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (f"median {statistics.median(ordered) * 1e3:.1f} ms, p90 {p90 * 1e3:.1f} ms, "
            f"max {ordered[-1]:.2f} s, total {sum(ordered):.1f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--catalog", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "import-coverage.md")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--roadrunner", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    catalog = read_catalog(args.catalog or args.corpus.parent / "catalog.csv")
    files = sorted(str(p) for p in args.corpus.glob("*.xml"))
    start = time.perf_counter()
    if args.jobs > 1:
        import multiprocessing

        with multiprocessing.Pool(args.jobs) as pool:
            rows = pool.map(import_one, files, chunksize=8)
    else:
        rows = [import_one(p) for p in files]
    wall = time.perf_counter() - start
    by_id = {r["model"]: r for r in rows}
    excluded = {m for m, row in catalog.items()
                if _flag(row, "has_events") or _flag(row, "uses_time") or _flag(row, "has_delay")}
    candidates = [m for m in sorted(by_id) if m in catalog and m not in excluded]
    imported = [m for m in candidates if by_id[m]["importable"]]
    failed = [m for m in candidates if not by_id[m]["importable"]]
    lines = report(args, catalog, by_id, excluded, candidates, imported, failed, wall)
    if args.roadrunner:
        lines += roadrunner_section(args.corpus, imported)
    print("\n".join(lines))
    if not args.no_write:
        args.out.write_text("\n".join(lines) + "\n")
        print(f"\nwrote {args.out}")
    return 0


NOTES = """## What the importer does

```python
from sbmleq.io.general_import import import_reaction_network, import_reaction_network_from

result = import_reaction_network_from("model.xml")  # or import_reaction_network(doc, name)
result.network    # a sbmleq.core.reactions.ReactionNetwork, or None
result.reasons    # why not: Reason(code, message, element, reaction)
result.families   # {reaction id: family} (sbmleq.core.families)
result.to_dict()  # JSON-ready
```

- Math: function definitions expanded, assignment rules substituted recursively (parameters,
  species, and compartments when their rule is a constant), reaction ids used as symbols replaced
  by their laws, local parameters renamed `reaction_id.parameter_id`; every MathML operator
  (`sec`/`csc`/`cot`, inverse and hyperbolic functions, `root`, `log` with a base, `rem`,
  `quotient`, `implies`, n-ary relations) rewritten into `sbmleq.core.expr`. Parameters and
  compartment sizes stay symbols, so scans can set them.
- `rateOf(x)` (the L3v2 csymbol, and COPASI's function definition annotated as the derivative)
  becomes the expression of dx/dt. roadrunner 2.10 evaluates COPASI's function body instead
  (`NaN`), so on the 3 candidates that use it (BIOMD0000000696, 775, 952) the importer's
  right-hand side is finite where roadrunner's is NaN.
- Initial values as roadrunner 2.10: initial assignments in dependency order, assignment rules at
  t = 0, `initialAmount`/`initialConcentration` converted by `hasOnlySubstanceUnits` and the
  compartment size (itself possibly set by an initial assignment), unset compartment sizes 1,
  unset species 0; negative values above -1e-12 (rounding in `total - parts`) set to 0.
- Rate rules on parameters and species are state; on compartments they are
  `variable_compartment`. Boundary species with rate rules are state, with assignment rules they
  are substituted. Species conversion factors that are constant parameters scale the species'
  stoichiometry.
- Fast reactions: roadrunner 2.10 refuses to load them, so they are `fast_reaction` by default
  (`fast_as_ordinary=True` imports them as ordinary reactions: the same steady states).
- `invalid_value`: NaN or infinite values, compartment sizes <= 0. A species with a negative
  initial value (the curated models with one use a species for a membrane potential) imports
  as *signed* (`Species.signed`), which the solver lets be negative.""".splitlines()


def report(args: argparse.Namespace, catalog: dict[str, dict[str, str]],
           by_id: dict[str, dict[str, Any]], excluded: set[str], candidates: list[str],
           imported: list[str], failed: list[str], wall: float) -> list[str]:
    n_ev = sum(_flag(r, "has_events") for r in catalog.values())
    n_time = sum(_flag(r, "uses_time") for r in catalog.values())
    n_delay = sum(_flag(r, "has_delay") for r in catalog.values())
    out = ["# General importer coverage (curated BioModels)", "",
           "Generated by `python benchmarks/import_coverage.py"
           + (" --roadrunner" if args.roadrunner else "") + "` "
           f"({time.strftime('%Y-%m-%d')}; {len(by_id)} files, {args.jobs} process(es), "
           f"wall {wall:.1f} s). Importer: `sbmleq.io.general_import.import_reaction_network`.",
           "", "## Candidates", "",
           f"- corpus: {len(by_id)} models; the catalog flags {n_ev} with events, {n_time} with "
           f"explicit time forcing, {n_delay} with delays: {len(excluded)} in their union;",
           f"- candidates: {len(by_id)} - {len(excluded)} = **{len(candidates)}**;",
           f"- imported: **{len(imported)} of {len(candidates)}** "
           f"({100 * len(imported) / max(1, len(candidates)):.1f} %); not imported: "
           f"{len(failed)}.", "",
           "The catalog's species counts cannot tell a model without dynamic state (its "
           "boundary and constant counts overlap), so no candidate is removed for that: the "
           "importer's `no_floating_species` reason finds them (counted below as not imported).",
           "", *NOTES, "", "## Why candidates do not import (models per code)", "",
           "| code | models | label |", "| --- | ---: | --- |"]
    def label(code: str) -> str:
        try:
            return ReasonCode(code).label
        except ValueError:
            return "invalid SBML (InputError)"

    counts = Counter(code for m in failed for code in {r["code"] for r in by_id[m]["reasons"]})
    out += [f"| `{c}` | {n} | {label(c)} |" for c, n in counts.most_common()]
    others = [m for m in sorted(by_id) if m not in candidates]
    other_counts = Counter(code for m in others
                           for code in {r["code"] for r in by_id[m]["reasons"]})
    n_other_ok = sum(by_id[m]["importable"] for m in others)
    out += ["", f"The {len(others)} excluded models: {n_other_ok} import anyway (time appears "
            "only in assignment rules that no law or rate rule reads: output variables); the "
            "others give "
            + ", ".join(f"`{c}` {n}" for c, n in other_counts.most_common()) + ".", "",
            "## Rate-law families of the imported candidates", "",
            "| family | reactions | models with one |", "| --- | ---: | ---: |"]
    reactions: Counter[str] = Counter()
    models: Counter[str] = Counter()
    for m in imported:
        fams = by_id[m]["families"].values()
        reactions.update(fams)
        models.update(set(fams))
    out += [f"| `{f}` | {reactions[f]} | {models[f]} |" for f in FAMILIES if reactions[f]]
    out += [f"| total | {sum(reactions.values())} | {len(imported)} |", "",
            "## Time per model", "",
            f"- libsbml parsing: {_stats([by_id[m]['parse_s'] for m in by_id])};",
            f"- import (after parsing): {_stats([by_id[m]['import_s'] for m in by_id])};"]
    slow = sorted(by_id.values(), key=lambda r: -r["import_s"])[:5]
    out += ["- slowest imports: " + ", ".join(
        f"{r['model']} {r['import_s']:.2f} s ({r['n_reactions']} reactions)" for r in slow)
        + ".", "", "## Every candidate that does not import", "",
        "| model | code | element | message |", "| --- | --- | --- | --- |"]
    for m in failed:
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in by_id[m]["reasons"]:
            groups.setdefault(r["code"], []).append(r)
        for code, rs in groups.items():
            elements = ", ".join(str(r["element"] or "") for r in rs[:3])
            if len(rs) > 3:
                elements += f" (+{len(rs) - 3} more)"
            msg = " ".join(str(rs[0]["message"]).split()).replace("|", "\\|")[:160]
            out.append(f"| {m} | `{code}` | {elements} | {msg} |")
    return out


def roadrunner_section(corpus: Path, imported: list[str]) -> list[str]:
    results = {}
    for m in imported:
        try:
            results[m] = check_roadrunner(str(corpus / f"{m}.xml"))
        except Exception as exc:  # noqa: BLE001 - a report line, never a crash
            results[m] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
    same = [m for m, r in results.items() if r == "ok"]
    out = ["", "## Against roadrunner 2.10 (initial state and rhs at it)", "",
           f"{len(same)} of {len(imported)} imported candidates give roadrunner's initial state "
           "and right-hand side (relative 1e-9 of the largest term). The others:", ""]
    out += [f"- {m}: {r}" for m, r in results.items() if r != "ok"]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
