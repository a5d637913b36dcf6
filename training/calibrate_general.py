"""Calibrate the general model's outcome probabilities (settles / oscillates / grows) by
temperature scaling, and the calibration metrics the evaluations share.

    python -m training.calibrate_general MODEL.npz --data DIR[,DIR...] --out OUT.npz
        [--seed 0] [--val-fraction 0.1] [--bins 15] [--json report.json]

The labelled networks of the shard directories (training/generate_general.py) are split by
structure exactly as training splits them (:func:`training.train_general.split_by_structure`,
same ``--seed`` / ``--val-fraction`` defaults), and only the validation part is used: no
network whose structure training saw. One temperature T > 0 is fitted to minimise the negative
log-likelihood of ``softmax(logits / T)`` (a bounded 1-D search over log T): T > 1 softens an
over-confident model, T < 1 sharpens an under-confident one, and the predicted outcome (the
argmax) never changes. ``OUT`` is ``MODEL`` with ``config.extra["outcome_temperature"] = T``
(and the fit recorded in ``meta["calibration"]``), written as ``.npz`` or ``.pt`` by its
suffix; both predictors divide the logits by it (:func:`sbmleq.model.general_config.
outcome_probabilities`), and files without it keep T = 1. Printed before and after: NLL, Brier
score, ECE (``--bins`` equal-width bins on the top probability), accuracy, and the reliability
table (per bin: range, count, mean confidence, accuracy).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sbmleq.core.reaction_generators import OUTCOMES
from sbmleq.errors import InputError, SbmleqError
from sbmleq.model.checkpoint import save_torch_atomic
from sbmleq.model.general_config import (GENERAL_FORMAT, TEMPERATURE_KEY, GeneralModelConfig,
                                         outcome_temperature)
from sbmleq.model.general_features import collate
from sbmleq.model.general_load import NumpyGeneralPredictor, load_general_predictor
from sbmleq.model.general_model import batch_tensors
from sbmleq.model.general_npz import npz_payload, save_general_npz
from sbmleq.model.general_predictor import read_general_checkpoint
from training.train_general import Item, load_records, make_items, split_by_structure

ECE_BINS = 15
T_BOUNDS = (0.05, 20.0)


# ------------------------------------------------------------------ metrics
def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def nll_of_logits(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean ``-log softmax(logits / T)[label]`` (log-sum-exp: exact for confident logits)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    m = z.max(-1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(-1))
    return float(np.mean(lse - z[np.arange(len(z)), labels]))


def reliability_table(probs: Any, labels: Any, bins: int = 10) -> list[dict[str, Any]]:
    """One row per equal-width bin of the top probability (``lo < conf <= hi``; the first bin
    also takes 0): ``{"lo", "hi", "n", "confidence" (mean top probability), "accuracy" (share
    whose top outcome is the label)}``, NaN for an empty bin. ``probs``: (N, K), ``labels``:
    (N,) class indices."""
    p = np.asarray(probs, dtype=np.float64).reshape(len(labels), -1)
    y = np.asarray(labels, dtype=np.int64)
    conf, hit = p.max(-1), p.argmax(-1) == y
    which = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        rows.append({"lo": b / bins, "hi": (b + 1) / bins, "n": n,
                     "confidence": float(conf[sel].mean()) if n else float("nan"),
                     "accuracy": float(hit[sel].mean()) if n else float("nan")})
    return rows


def expected_calibration_error(probs: Any, labels: Any, bins: int = ECE_BINS) -> float:
    """``sum_b n_b / N * |accuracy_b - confidence_b|`` over :func:`reliability_table`."""
    rows = reliability_table(probs, labels, bins)
    total = sum(r["n"] for r in rows)
    if not total:
        return float("nan")
    return float(sum(r["n"] * abs(r["accuracy"] - r["confidence"]) for r in rows if r["n"])
                 / total)


def calibration_metrics(probs: Any, labels: Any, bins: int = ECE_BINS) -> dict[str, Any]:
    """``n``, ``nll`` (mean -log p[label], p floored at 1e-12), ``brier`` (mean over networks
    of sum_k (p_k - [k = label])**2, 0..2), ``ece`` and ``accuracy`` of (N, K) probabilities."""
    p = np.asarray(probs, dtype=np.float64).reshape(len(labels), -1)
    y = np.asarray(labels, dtype=np.int64)
    if not len(y):
        return {"n": 0, "nll": float("nan"), "brier": float("nan"), "ece": float("nan"),
                "accuracy": float("nan")}
    onehot = np.eye(p.shape[1])[y]
    return {"n": int(len(y)),
            "nll": float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)))),
            "brier": float(np.mean(((p - onehot) ** 2).sum(-1))),
            "ece": expected_calibration_error(p, y, bins),
            "accuracy": float(np.mean(p.argmax(-1) == y))}


def format_reliability(rows: Sequence[dict[str, Any]], title: str = "") -> str:
    """The reliability table as text (empty bins left out)."""
    lines = [title] if title else []
    lines.append(f"  {'bin':<13} {'n':>6} {'confidence':>11} {'accuracy':>9} {'gap':>7}")
    for r in rows:
        if r["n"]:
            lines.append(f"  ({r['lo']:.3f}, {r['hi']:.3f}] {r['n']:>6d} {r['confidence']:>11.3f}"
                         f" {r['accuracy']:>9.3f} {r['accuracy'] - r['confidence']:>+7.3f}")
    return "\n".join(lines)


def format_metrics(rows: dict[str, dict[str, Any]]) -> str:
    lines = [f"  {'':<10} {'T':>7} {'n':>6} {'NLL':>7} {'Brier':>7} {'ECE':>7} {'accuracy':>9}"]
    for name, m in rows.items():
        lines.append(f"  {name:<10} {m.get('temperature', 1.0):>7.3f} {m['n']:>6d} "
                     f"{m['nll']:>7.4f} {m['brier']:>7.4f} {m['ece']:>7.4f} {m['accuracy']:>9.4f}")
    return "\n".join(lines)


def fit_temperature(logits: np.ndarray, labels: np.ndarray,
                    bounds: tuple[float, float] = T_BOUNDS) -> float:
    """The T in ``bounds`` minimising :func:`nll_of_logits` (bounded Brent search on log T)."""
    from scipy.optimize import minimize_scalar  # heavy; only when fitting

    if not len(labels):
        raise InputError("no labelled validation networks to calibrate on")
    res = minimize_scalar(lambda s: nll_of_logits(logits, labels, math.exp(s)),
                          bounds=(math.log(bounds[0]), math.log(bounds[1])), method="bounded",
                          options={"xatol": 1e-5})
    return float(math.exp(res.x))


# ------------------------------------------------------------------ data and logits
def validation_items(data: str, seed: int = 0, fraction: float = 0.1) -> list[Item]:
    """The labelled networks of the shard directories ``data`` (comma-separated) that
    training's split by structure puts in validation (unresolved labels dropped)."""
    items = make_items(load_records(argparse.Namespace(data=data), 0, 1))
    return split_by_structure(items, fraction, seed)[1]


def outcome_logits(predictor: Any, items: Sequence[Item], batch_size: int = 32) -> np.ndarray:
    """Raw outcome logits (N, n_outcomes) of a loaded general predictor (NumPy or torch) on
    ``items``, in batches; the physics arm is skipped (the logits do not depend on it)."""
    out = []
    for i in range(0, len(items), batch_size):
        batch = collate([it.ex for it in items[i:i + batch_size]])
        if isinstance(predictor, NumpyGeneralPredictor):
            out.append(predictor.model.forward(batch)["logits"])
            continue
        import torch  # the .pt predictor (loaded with it)

        with torch.no_grad():
            res = predictor.model(**batch_tensors(batch, predictor.device))
        out.append(res["logits"].float().cpu().numpy())
    n_out = len(predictor.cfg.outcomes)
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, n_out))


def label_indices(items: Sequence[Item], cfg: GeneralModelConfig) -> np.ndarray:
    """Each item's outcome as an index into the model's ``cfg.outcomes``."""
    return np.asarray([cfg.outcomes.index(OUTCOMES[it.outcome]) for it in items],
                      dtype=np.int64)


# ------------------------------------------------------------------ writing
def read_payload(path: Path) -> dict[str, Any]:
    """The model file as a ``.pt``-style payload (``.npz`` through npz_payload)."""
    if path.suffix.lower() == ".npz":
        return npz_payload(path)
    payload = dict(read_general_checkpoint(path))
    for key in ("optimizer", "rng"):  # a calibrated file is an inference model, not a resume
        payload.pop(key, None)
    return payload


def write_calibrated(src: Path, out: Path, temperature: float,
                     record: dict[str, Any]) -> None:
    """``src`` with ``config.extra[outcome_temperature]`` and ``meta["calibration"]`` set,
    written to ``out`` as ``.npz`` or (any other suffix) a ``.pt`` payload."""
    payload = read_payload(src)
    config = copy.deepcopy(payload["config"])
    config["extra"] = {**(config.get("extra") or {}), TEMPERATURE_KEY: float(temperature)}
    GeneralModelConfig.from_dict(config).validate()
    payload["config"] = config
    payload["meta"] = {**(payload.get("meta") or {}), "calibration": record}
    if out.suffix.lower() == ".npz":
        save_general_npz(out, payload)
        return
    import torch  # writing a .pt file

    payload["format"] = GENERAL_FORMAT
    payload["model"] = {k: torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor)
                        else v for k, v in payload["model"].items()}
    save_torch_atomic(out, payload)


# ------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="a general model (.npz or .pt)")
    ap.add_argument("--data", required=True, help="shard directories, comma-separated")
    ap.add_argument("--out", required=True, help="the calibrated model (.npz or .pt)")
    ap.add_argument("--seed", type=int, default=0, help="training's split seed")
    ap.add_argument("--val-fraction", type=float, default=0.1, help="training's val share")
    ap.add_argument("--bins", type=int, default=ECE_BINS, help="bins of ECE and the table")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--json", default=None, help="also write the report here")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    src, out = Path(args.model), Path(args.out)
    predictor = load_general_predictor(src)
    items = validation_items(args.data, args.seed, args.val_fraction)
    if not items:
        raise InputError("no labelled networks in the validation split", source=args.data)
    logits = outcome_logits(predictor, items, args.batch_size)
    labels = label_indices(items, predictor.cfg)
    t_before = outcome_temperature(predictor.cfg)
    t_after = fit_temperature(logits, labels)
    report: dict[str, Any] = {"model": str(src), "out": str(out), "data": args.data,
                              "seed": args.seed, "val_fraction": args.val_fraction,
                              "bins": args.bins, "temperature": t_after}
    for name, t in (("before", t_before), ("after", t_after)):
        probs = softmax(logits, t)
        report[name] = {"temperature": t, **calibration_metrics(probs, labels, args.bins),
                        "reliability": reliability_table(probs, labels, args.bins)}
    counts = {o: int((labels == k).sum()) for k, o in enumerate(predictor.cfg.outcomes)}
    report["counts"] = counts
    print(f"{len(items)} validation networks of {args.data} (split by structure: seed "
          f"{args.seed}, fraction {args.val_fraction}); {counts}")
    print(format_metrics({k: report[k] for k in ("before", "after")}))
    for name in ("before", "after"):
        print(format_reliability(report[name]["reliability"],
                                 f"reliability {name} (T = {report[name]['temperature']:.3f}, "
                                 f"{args.bins} bins on the top probability)"))
    record = {k: report[k] for k in ("data", "seed", "val_fraction", "bins", "temperature")}
    record |= {k: {m: report[k][m] for m in ("n", "nll", "brier", "ece", "accuracy")}
               for k in ("before", "after")}
    write_calibrated(src, out, t_after, record)
    print(f"wrote {out} (outcome_temperature = {t_after:.4f})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    try:
        main()
    except SbmleqError as exc:  # one line naming the file, the error's exit code
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
