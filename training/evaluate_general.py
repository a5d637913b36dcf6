"""Evaluate the general steady-state model: fresh random networks and curated BioModels.

    python -m training.evaluate_general --model runs/general/model.pt [--n 8] [--seed 7]
        [--families mass_action,hill,...] [--sizes 2-16,17-32,33-64] [--decades 2,4,6]
        [--curated] [--truth benchmarks/results/corpus_truth.jsonl]
        [--corpus ../shared/biomodels/curated] [--limit N] [--kegg kegg51.json] [--json out.json]

Random part: for every generator family x size bucket x value spread, ``--n`` fresh networks
(seeded, never the training seeds) labelled by :func:`sbmleq.core.labels.label_networks` (the
truth). Each is predicted (learned outcome and state) and verified
(:func:`sbmleq.core.solve.solve_from_guess`: Newton polish from the prediction, the solver's
checks, the chain's integration confirming the reached state), and, as the reference, solved by
the chain alone from the initial state (:func:`~sbmleq.core.solve.solve_steady_state`), timed
in the same loop. Per family, size bucket and spread: outcome accuracy, the learned state within
1 / 5 / 10 % relative L1 of the truth, verified agreement (settles: a stable state within 1e-4;
oscillates / grows: that status) and the median time to a verified answer in two modes against
the chain without the prediction: *quick* (the polished prediction accepted once it passes the
solver's checks, no simulation; the chain when it does not) and *warm* (the chain with the
polished prediction as a candidate: its integration confirms the reached state), with the share
of each that is right (a quick answer can be a verified stable state the dynamics do not reach).
Families missing from the checkpoint's training recipe are the out-of-distribution set (marked
``ood``). Calibration of the outcome probability: NLL, Brier score, ECE and the reliability
table (:func:`reliability_table`, 15 bins on the top probability; the metrics are
training/calibrate_general.py's) on all networks and on those in distribution (a trained family
and not flagged by the model's own out-of-distribution check: size, value spread, families),
at the file's outcome temperature T and, from the same probabilities, at T = 1 (uncalibrated:
``softmax(T * log p)`` undoes the temperature exactly).

Curated part (``--curated``): the models of the simulation truth (benchmarks/corpus_truth.py)
that import: settled ones (learned within 5 %, verified within 1e-4), oscillating and growing
ones (verified outcome), and the settled ones where roadrunner's plain ``steadyState()`` fails or
lands elsewhere (how many the verified prediction gets right, against roadrunner's staged chain
as the truth file records it).

KEGG part (``--kegg PATH``): the LIFE model and exact LIFE solve on the paper's 51 KEGG networks
(:mod:`training.evaluate_kegg`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from sbmleq.core.compile import compile_network
from sbmleq.core.labels import label_networks
from sbmleq.core.reaction_generators import GENERATORS, OUTCOMES, RNConfig, sample_networks
from sbmleq.core.solve import SolveSettings, SolveStatus, solve_from_guess, solve_steady_state
from sbmleq.errors import SbmleqError
from sbmleq.general_predict import predict_network
from sbmleq.io.request import open_source
from sbmleq.model.general_config import outcome_temperature
from sbmleq.model.general_load import load_general_predictor
from sbmleq.validation.general_rows import AGREE_REL_L1, rel_l1_over
from sbmleq.validation.truth import read_truth, truth_kind
from training.calibrate_general import (ECE_BINS, calibration_metrics, format_metrics,
                                        format_reliability, reliability_table, softmax)
from training.evaluate_kegg import format_report, kegg_report

__all__ = ["reliability_table", "calibration_summary", "calibration_report", "random_records",
           "summarise", "main"]

ROOT = Path(__file__).resolve().parents[1]
TOLERANCES = (0.01, 0.05, 0.10)
STATUS_OF = {"settles": SolveStatus.STABLE, "oscillates": SolveStatus.OSCILLATION,
             "grows": SolveStatus.UNBOUNDED}
TRUTH_STATUS = {"settled": "stable", "oscillating": "oscillation", "growing": "unbounded"}


def rel_l1(a: np.ndarray, b: np.ndarray) -> float:
    den = float(np.sum(np.abs(b)))
    num = float(np.sum(np.abs(np.asarray(a) - np.asarray(b))))
    return num / den if den > 0 else (0.0 if num == 0 else float("inf"))


# ------------------------------------------------------------------ random networks
def random_records(predictor: Any, families: Sequence[str],
                   sizes: Sequence[tuple[int, int]], spreads: Sequence[float], n: int,
                   seed: int, settings: SolveSettings, trained: set[str],
                   log: Callable[[str], None]) -> list[dict[str, Any]]:
    """One record per labelled network (unresolved labels are left out)."""
    out: list[dict[str, Any]] = []
    for fi, family in enumerate(families):
        for si, (lo, hi) in enumerate(sizes):
            for di, decades in enumerate(spreads):
                rng = np.random.default_rng([seed, 1000 + fi, si, di])
                try:
                    cfg = RNConfig(n_min=lo, n_max=hi, decades=decades, families=(family,),
                                   group_size=min(4, n))
                    nets = sample_networks(cfg, rng, n)
                except ValueError:  # the family does not fit in this size bucket
                    continue
                labels = label_networks(nets)
                for net, lab in zip(nets, labels):
                    if lab.outcome not in STATUS_OF:
                        continue
                    out.append(_random_one(predictor, net, lab, settings) | {
                        "family": family, "size": f"{lo}-{hi}", "decades": decades,
                        "ood": family not in trained if trained else False})
                log(f"{family} {lo}-{hi} {decades:g} decades: {len(nets)} networks")
    return out


def _random_one(predictor: Any, net: Any, lab: Any,
                settings: SolveSettings) -> dict[str, Any]:
    compiled = compile_network(net)
    truth = np.asarray(lab.state) if lab.state is not None else None

    def right(res: Any) -> bool:
        ok = res.status is STATUS_OF[lab.outcome]
        if lab.outcome == "settles":
            ok = ok and truth is not None and res.state is not None and \
                rel_l1(res.state, truth) <= AGREE_REL_L1
        return bool(ok)

    t0 = time.perf_counter()
    probs, x, ood = predictor.predict(net)
    t_pred = time.perf_counter() - t0
    # quick: the polished prediction, verified (no simulation); the chain when that fails
    quick = solve_from_guess(compiled, x, settings=replace(settings, stages=("newton",)))
    quick_res = quick.result if quick.result.status is SolveStatus.STABLE else \
        solve_steady_state(compiled, settings=settings)
    t_quick = time.perf_counter() - t0
    t1 = time.perf_counter()
    warm = solve_from_guess(compiled, x, settings=settings)  # confirmed by the trajectory
    t_warm = t_pred + time.perf_counter() - t1
    t1 = time.perf_counter()
    cold = solve_steady_state(compiled, settings=settings)
    t_cold = time.perf_counter() - t1
    return {"outcome": lab.outcome, "predicted": max(probs, key=probs.__getitem__),
            "p_outcome": float(probs.get(lab.outcome, 0.0)),
            "probs": [float(probs.get(o, 0.0)) for o in OUTCOMES],
            "err": rel_l1(x, truth) if lab.outcome == "settles" and truth is not None else None,
            "verified": right(warm.result), "quick_verified": right(quick_res),
            "chain_right": right(cold), "used_prediction": warm.used_guess,
            "t_predict": t_pred, "t_quick": t_quick, "t_warm": t_warm, "t_chain": t_cold,
            "flagged_ood": bool(ood.flag)}


def summarise(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(records)
    settle = [r for r in rows if r["outcome"] == "settles" and r["err"] is not None]
    errs = np.array([r["err"] for r in settle]) if settle else np.zeros(0)
    out: dict[str, Any] = {
        "networks": len(rows), "settling": len(settle),
        "outcome_acc": float(np.mean([r["predicted"] == r["outcome"] for r in rows]))
        if rows else float("nan"),
        "verified": float(np.mean([r["verified"] for r in rows])) if rows else float("nan")}
    for tol in TOLERANCES:
        out[f"within_{tol:.0%}"] = float(np.mean(errs <= tol)) if len(errs) else float("nan")
    for name, key in (("quick", "t_quick"), ("warm", "t_warm"), ("chain", "t_chain")):
        values = [r[key] for r in rows]
        out[f"t_{name}_median"] = statistics.median(values) if values else float("nan")
    for name in ("quick", "warm"):
        ratios = [r[f"t_{name}"] / r["t_chain"] for r in rows if r["t_chain"] > 0]
        out[f"{name}_over_chain"] = statistics.median(ratios) if ratios else float("nan")
    out["quick_verified"] = float(np.mean([r["quick_verified"] for r in rows])) if rows \
        else float("nan")
    out["chain_right"] = float(np.mean([r["chain_right"] for r in rows])) if rows \
        else float("nan")
    return out


def calibration_summary(records: Iterable[dict[str, Any]], bins: int = ECE_BINS,
                        temperature: float = 1.0, at: float | None = None) -> dict[str, Any]:
    """NLL, Brier, ECE, accuracy and the reliability table of the predicted outcome
    probabilities (each record's ``probs`` over :data:`OUTCOMES`, made at ``temperature``)
    against the labels; with ``at``, of the probabilities the same logits give at that
    temperature instead (``softmax(temperature / at * log p)``)."""
    rows = list(records)
    probs = np.array([r["probs"] for r in rows], dtype=np.float64).reshape(len(rows), -1)
    if at is not None and at != temperature and len(rows):
        probs = softmax(np.log(np.maximum(probs, 1e-300)), at / temperature)
    labels = np.array([OUTCOMES.index(r["outcome"]) for r in rows], dtype=np.int64)
    return {"temperature": temperature if at is None else at,
            **calibration_metrics(probs, labels, bins),
            "reliability": reliability_table(probs, labels, bins)}


def calibration_report(recs: list[dict[str, Any]], temperature: float) -> dict[str, Any]:
    """:func:`calibration_summary` of all and of the in-distribution records, at the model's
    temperature and (when it is not 1) at T = 1."""
    sets = {"all": recs, "in_distribution": [r for r in recs
                                             if not r["ood"] and not r["flagged_ood"]]}
    out: dict[str, Any] = {}
    for name, rows in sets.items():
        out[name] = calibration_summary(rows, temperature=temperature)
        if temperature != 1.0:
            out[f"{name}_T1"] = calibration_summary(rows, temperature=temperature, at=1.0)
    return out


def grouped(records: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[str(r[key])].append(r)
    return {k: summarise(v) for k, v in groups.items()}


# ------------------------------------------------------------------ curated models
def curated_records(predictor: Any, truth_path: Path, corpus: Path,
                    settings: SolveSettings, limit: int | None,
                    log: Callable[[str], None]) -> list[dict[str, Any]]:
    truth = read_truth(truth_path)
    out: list[dict[str, Any]] = []
    ids = [m for m, rec in sorted(truth.items()) if truth_kind(rec) in TRUTH_STATUS]
    for k, model in enumerate(ids[:limit] if limit else ids):
        rec = truth[model]
        kind = truth_kind(rec)
        t = rec.get("truth") or {}
        if kind == "settled" and not t.get("concentrations"):
            continue
        row: dict[str, Any] = {"model": model, "kind": kind,
                               "plain": ((rec.get("compare") or {}).get("plain") or {})
                               .get("class"),
                               "staged": ((rec.get("compare") or {}).get("staged") or {})
                               .get("class")}
        try:
            src = open_source(corpus / f"{model}.xml")
            net = src.general().require()
            pred = predict_network(net, predictor, settings=settings, model=model)
        except SbmleqError as exc:
            out.append(row | {"error": type(exc).__name__, "message": str(exc)[:200]})
            continue
        status = pred.verified.status.value
        right = status == TRUTH_STATUS[kind]
        learned = None
        if kind == "settled":
            floor = float(t.get("l1_floor") or 0.0)
            rel, _ = rel_l1_over(pred.verified.concentrations, t["concentrations"], floor=floor)
            right = right and rel is not None and rel <= AGREE_REL_L1
            learned, _ = rel_l1_over(pred.predicted, t["concentrations"], floor=floor)
        out.append(row | {"status": status, "right": bool(right), "learned_rel_l1": learned,
                          "predicted_outcome": pred.outcome, "ood": pred.out_of_distribution,
                          "fallback": pred.fallback, "seconds": pred.seconds})
        if (k + 1) % 25 == 0:
            log(f"curated: {k + 1} of {len(ids)}")
    return out


def curated_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    done = [r for r in rows if "status" in r]
    settled = [r for r in done if r["kind"] == "settled"]
    learned = [r["learned_rel_l1"] for r in settled if r["learned_rel_l1"] is not None]
    plain_wrong = [r for r in settled if r["plain"] not in ("agrees", None)]
    out: dict[str, Any] = {"models": len(rows), "not_importable": len(rows) - len(done),
                           "settled": len(settled),
                           "verified_right": sum(r["right"] for r in settled),
                           "learned_within_5%": sum(e <= 0.05 for e in learned),
                           "plain_wrong": len(plain_wrong),
                           "plain_wrong_sbmleq_right": sum(r["right"] for r in plain_wrong),
                           "plain_wrong_staged_right": sum(r["staged"] == "agrees"
                                                          for r in plain_wrong)}
    for kind in ("oscillating", "growing"):
        some = [r for r in done if r["kind"] == kind]
        out[kind] = len(some)
        out[f"{kind}_right"] = sum(r["right"] for r in some)
        out[f"{kind}_predicted_right"] = sum(
            r["predicted_outcome"] == {"oscillating": "oscillates", "growing": "grows"}[kind]
            for r in some)
    return out


# ------------------------------------------------------------------ printing
def table(title: str, rows: dict[str, dict[str, Any]]) -> str:
    cols = ["networks", "outcome_acc", "within_1%", "within_5%", "within_10%", "verified",
            "quick_verified", "chain_right", "t_quick_median", "t_warm_median",
            "t_chain_median", "quick_over_chain", "warm_over_chain"]
    lines = [title, "  ".join([f"{'':<18}"] + [f"{c:>9.9}" for c in cols])]
    for name, row in rows.items():
        cells = [f"{row[c]:>9d}" if isinstance(row[c], int) else f"{row[c]:>9.3g}"
                 for c in cols]
        lines.append("  ".join([f"{name:<18.18}"] + cells))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "sbmleq" / "checkpoints" / "general.npz"),
                    help="a general-model file (.npz or .pt); default: the shipped one")
    ap.add_argument("--n", type=int, default=8, help="networks per family, size and spread")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--families", default=",".join(GENERATORS))
    ap.add_argument("--sizes", default="2-16,17-32,33-64")
    ap.add_argument("--decades", default="2,4,6")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per solve")
    ap.add_argument("--no-random", action="store_true")
    ap.add_argument("--curated", action="store_true")
    ap.add_argument("--truth", default=str(ROOT / "benchmarks" / "results" /
                                           "corpus_truth.jsonl"))
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "biomodels" / "curated"))
    ap.add_argument("--limit", type=int, default=None, help="curated models at most")
    ap.add_argument("--kegg", default=None, help="also the KEGG 51 LIFE check on this file "
                    "(kegg51.json)")
    ap.add_argument("--json", default=None)
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    predictor = load_general_predictor(args.model)
    settings = SolveSettings(timeout=args.timeout)
    meta = predictor.meta or {}
    trained = set(meta.get("generator_families") or ())

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result: dict[str, Any] = {"model": args.model}
    if not args.no_random:
        sizes = [tuple(int(v) for v in s.split("-")) for s in args.sizes.split(",")]
        spreads = [float(d) for d in args.decades.split(",")]
        recs = random_records(predictor, args.families.split(","), sizes, spreads, args.n,
                              args.seed, settings, trained, log)
        result["random"] = {"all": summarise(recs),
                            "in_distribution": summarise(r for r in recs if not r["ood"]),
                            "ood": summarise(r for r in recs if r["ood"]),
                            **{k: grouped(recs, k) for k in ("family", "size", "decades")}}
        print(table("random networks", {"all": result["random"]["all"],
                                        "in distribution": result["random"]["in_distribution"],
                                        "held-out families": result["random"]["ood"]}))
        for key in ("size", "decades", "family"):
            print(table(f"by {key}", result["random"][key]))
        cal = calibration_report(recs, outcome_temperature(predictor.cfg))
        result["random"]["calibration"] = cal
        print("outcome probability calibration (T = 1: the same logits uncalibrated)")
        print(format_metrics({k.replace("in_distribution", "in-dist"): v
                              for k, v in cal.items()}))
        for key in [k for k in cal if k.startswith("in_distribution")]:
            print(format_reliability(cal[key]["reliability"], f"reliability in distribution, "
                                     f"T = {cal[key]['temperature']:.3f} ({ECE_BINS} bins on "
                                     f"the top probability)"))
    if args.curated:
        rows = curated_records(predictor, Path(args.truth), Path(args.corpus), settings,
                               args.limit, log)
        result["curated"] = curated_summary(rows)
        result["curated_rows"] = rows
        print("curated BioModels (simulation truth)")
        for k, v in result["curated"].items():
            print(f"  {k:<28} {v}")
    if args.kegg:
        result["kegg"] = kegg_report(Path(args.kegg))
        print(format_report(result["kegg"]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
