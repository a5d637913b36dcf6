"""Evaluate a model on fresh, seeded test sets and the paper's 51 KEGG networks; print tables.

    python -m training.evaluate                       # the shipped default model
    python -m training.evaluate --model runs/default/model.pt --n 1000 --markdown docs/eval.md

Metrics: existence accuracy; share of true equilibria whose prediction is within 1/2/5/10 %
relative L1 (sum |pred - true| / sum |true|, the paper's metric; a network predicted to have no
equilibrium counts as a miss); per node-count bucket, per graph family, per weight setting.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from sbmleq.core.exact import solve_batch
from sbmleq.core.generators import GeneratorConfig
from sbmleq.core.network import Network
from sbmleq.model.predictor import Predictor
from training.data import TEST_SEED, fixed_set
from sbmleq.compare import rel_l1_array

TOLERANCES = (0.01, 0.02, 0.05, 0.10)
KEGG_PATH = Path(__file__).resolve().parents[1] / "sbmleq" / "data" / "kegg51.json"


def score(predictor: Predictor, nets: list[Network]) -> dict[str, float]:
    exists, xs = solve_batch(nets)
    preds = predictor.predict_networks(nets)
    correct = sum(p.equilibrium_exists == bool(e) for p, e in zip(preds, exists))
    errors = []
    for p, e, x in zip(preds, exists, xs):
        if not e:
            continue
        if p.concentrations is None:
            errors.append(np.inf)
        else:
            errors.append(float(rel_l1_array(p.concentrations, x)))
    errors = np.array(errors)
    row = {"networks": len(nets), "with_eq": int(exists.sum()),
           "existence_acc": correct / max(len(nets), 1)}
    for tol in TOLERANCES:
        row[f"within_{tol:.0%}"] = float((errors <= tol).mean()) if len(errors) else float("nan")
    row["median_rel_l1"] = float(np.median(errors)) if len(errors) else float("nan")
    return row


def test_suites(n: int) -> dict[str, GeneratorConfig]:
    real = GeneratorConfig(family="gnm", weights="loguniform", decades=2.0, intakes=(1, 3),
                           excretions=(1, 3), n_min=2, n_max=32)
    paper = GeneratorConfig(family="gnm", n_min=32, n_max=64)  # the paper's S setting
    return {
        "ER real, 2-32 nodes (target)": real,
        "ER real, 2-16": replace(real, n_min=2, n_max=16),
        "ER real, 17-32": replace(real, n_min=17, n_max=32),
        "ER real, 33-64": replace(real, n_min=33, n_max=64),
        "ER real, 65-100": replace(real, n_min=65, n_max=100),
        "OOD ER real, 101-200 (2x)": replace(real, n_min=101, n_max=200),
        "OOD small world, 2-32": replace(real, family="small_world"),
        "OOD scale free, 2-32": replace(real, family="scale_free", redeem=1.0),
        "ER gnp real, 2-32": replace(real, family="gnp"),
        "paper S unit weights, 32-64": paper,
        "paper S integer weights, 32-64": replace(paper, weights="integer"),
    }


def kegg(predictor: Predictor, path: Path = KEGG_PATH) -> dict[str, float]:
    data = json.loads(path.read_text())["networks"]
    nets, labels, truths = [], [], []
    for k, item in enumerate(data):
        nodes = [str(i) for i in range(item["n_nodes"])]
        nets.append(Network.from_edges([(str(s), str(t)) for s, t in item["edges"]],
                                       item["intake"], item["excretion"], nodes=nodes,
                                       name=item.get("title", f"kegg{k}")))
        labels.append(bool(item["equilibrium_exists"]))
    _, xs = solve_batch(nets)
    preds = predictor.predict_networks(nets)
    right = sum(p.equilibrium_exists == lab for p, lab in zip(preds, labels))
    within = {tol: 0 for tol in TOLERANCES}
    for p, lab, x in zip(preds, labels, xs):
        if lab and p.concentrations is not None:
            err = rel_l1_array(p.concentrations, x)
            for tol in TOLERANCES:
                within[tol] += bool(err <= tol)
        truths.append(lab)
    out = {"labels_right": right, "networks": len(nets), "with_eq": sum(labels)}
    out.update({f"within_{tol:.0%}": within[tol] for tol in TOLERANCES})
    return out


def markdown_table(rows: dict[str, dict]) -> str:
    cols = list(next(iter(rows.values())).keys())
    lines = ["| set | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in rows.items():
        cells = [(f"{v:.3f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}") if isinstance(v, float)
                 else str(v) for v in row.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def learning_curve(log_path: Path) -> str:
    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    lines = ["| examples | wall s | existence acc | within 1% | within 5% | within 10% |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['examples']} | {r['seconds']:.0f} | {r['exists_acc']:.4f} | "
                     f"{r['within_1pct']:.3f} | {r['within_5pct']:.3f} | {r['within_10pct']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="checkpoint (.pt) or exported model (.npz)")
    ap.add_argument("--n", type=int, default=1000, help="networks per test set")
    ap.add_argument("--iters", type=int, default=None, help="refinement iterations (default: model's)")
    ap.add_argument("--suites", default="", help="comma-separated substrings of suite names to run")
    ap.add_argument("--log", default=None, help="training log.jsonl for the learning curve")
    ap.add_argument("--markdown", default=None, help="also write the tables to this file")
    args = ap.parse_args(argv)

    predictor = Predictor(args.model, n_iters=args.iters)
    t0 = time.time()
    rows = {}
    for k, (name, cfg) in enumerate(test_suites(args.n).items()):
        if args.suites and not any(s.strip() in name for s in args.suites.split(",")):
            continue
        rows[name] = score(predictor, fixed_set(cfg, args.n, TEST_SEED + k))
        print(f"{name}: {rows[name]}", flush=True)
    parts = [f"Model: `{predictor.path}`; {args.n} networks per set, test seeds from {TEST_SEED}.",
             "", markdown_table(rows) if rows else "", ""]
    kg = kegg(predictor)
    parts += ["KEGG 51 (unit weights, one merged intake and excretion):", "",
              markdown_table({"KEGG 51": kg}), ""]
    print(f"KEGG 51: {kg}")
    if args.log and Path(args.log).exists():
        parts += ["Learning curve (validation during training):", "", learning_curve(Path(args.log)), ""]
    text = "\n".join(parts)
    print(text)
    print(f"evaluation took {time.time() - t0:.0f} s")
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
