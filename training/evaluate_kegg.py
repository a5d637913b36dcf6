"""The paper's 51 KEGG networks (LIFE class): the shipped learned LIFE model and sbmleq's exact
LIFE steady state against the dataset's labels.

    python -m training.evaluate_kegg [--kegg ../shared/datasets/kegg51.json]
        [--model sbmleq/checkpoints/default.npz] [--json out.json]

Learned: :func:`training.evaluate.kegg` (the existing KEGG scoring: existence labels right of
51, and of the 32 with an equilibrium the values within 1 / 2 / 5 / 10 % relative L1 of the
exact solve). Exact: :func:`sbmleq.core.exact.solve_equilibrium` per network, its existence
verdict against the label, and its concentrations against the dataset's (which keep 5
significant digits, so the raw relative difference is up to 5e-5): a network counts as
matching when every value, rounded to 5 significant digits, is within 1e-6 relative of the
label; the largest raw relative difference is reported too.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sbmleq.core.exact import solve_equilibrium
from sbmleq.core.network import Network
from sbmleq.model.predictor import Predictor
from training.evaluate import KEGG_PATH, kegg

EXACT_REL = 1e-6
LABEL_DIGITS = 5  # significant digits the dataset keeps


def kegg_networks(path: Path) -> tuple[list[Network], list[dict[str, Any]]]:
    """(networks, records) of the KEGG file, built as :func:`training.evaluate.kegg` builds
    them (string node ids ``"0" ..``; node order = the label's value order)."""
    recs = json.loads(Path(path).read_text())["networks"]
    nets = [Network.from_edges([(str(s), str(t)) for s, t in r["edges"]], r["intake"],
                               r["excretion"], nodes=[str(i) for i in range(r["n_nodes"])],
                               name=r.get("title", f"kegg{k}")) for k, r in enumerate(recs)]
    return nets, recs


def exact_check(path: Path = KEGG_PATH, rel: float = EXACT_REL) -> dict[str, Any]:
    """sbmleq's exact LIFE solve against the labels: existence right of all, value matches
    (rounded to the labels' digits, within ``rel``) of those with an equilibrium."""
    nets, recs = kegg_networks(path)
    right, matched, worst_raw, worst_rounded = 0, 0, 0.0, 0.0
    misses: list[str] = []
    for net, rec in zip(nets, recs):
        eq = solve_equilibrium(net)
        right += bool(eq.exists) == bool(rec["equilibrium_exists"])
        if not rec["equilibrium_exists"]:
            continue
        ours = np.asarray(eq.concentrations, dtype=np.float64)
        theirs = np.asarray(rec["concentrations"], dtype=np.float64)
        if ours.shape != theirs.shape or not np.isfinite(ours).all():
            misses.append(rec["title"])
            continue
        den = np.maximum(np.abs(theirs), 1e-300)
        rounded = np.array([float(f"{v:.{LABEL_DIGITS}g}") for v in ours])
        raw_err = float(np.max(np.abs(ours - theirs) / den))
        rounded_err = float(np.max(np.abs(rounded - theirs) / den))
        worst_raw, worst_rounded = max(worst_raw, raw_err), max(worst_rounded, rounded_err)
        if rounded_err <= rel:
            matched += 1
        else:
            misses.append(rec["title"])
    return {"networks": len(nets), "with_eq": sum(bool(r["equilibrium_exists"]) for r in recs),
            "labels_right": right, "values_matched": matched,
            "max_rel_raw": worst_raw, "max_rel_rounded": worst_rounded, "misses": misses}


def kegg_report(path: Path = KEGG_PATH, model: str | None = None) -> dict[str, Any]:
    """``{"learned": training.evaluate.kegg(...), "exact": exact_check(...)}``."""
    return {"path": str(path), "learned": kegg(Predictor(model), Path(path)),
            "exact": exact_check(Path(path))}


def format_report(rep: dict[str, Any]) -> str:
    lrn, ex = rep["learned"], rep["exact"]
    n, m = ex["networks"], ex["with_eq"]
    return "\n".join([
        f"KEGG {n} ({rep['path']}): {m} with an equilibrium",
        f"  {'':<22} {'labels right':>13} {'values':>16}",
        f"  {'learned LIFE model':<22} {lrn['labels_right']:>10d}/{n:<2d} "
        f"{lrn['within_1%']:>5d}/{m} within 1%",
        f"  {'exact LIFE solve':<22} {ex['labels_right']:>10d}/{n:<2d} "
        f"{ex['values_matched']:>5d}/{m} within {EXACT_REL:g}",
        f"  learned within 2 / 5 / 10 %: {lrn['within_2%']} / {lrn['within_5%']} / "
        f"{lrn['within_10%']} of {m}",
        f"  exact vs labels: max relative difference {ex['max_rel_raw']:.2e} raw (labels keep "
        f"{LABEL_DIGITS} digits), {ex['max_rel_rounded']:.1e} rounded to them"])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kegg", default=str(KEGG_PATH), help="kegg51.json")
    ap.add_argument("--model", default=None, help="LIFE model (default: the shipped one)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rep = kegg_report(Path(args.kegg), args.model)
    print(format_report(rep))
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1))
    return rep


if __name__ == "__main__":
    main()
