"""Architecture comparison at an equal CPU budget, on the same data and the same test set.

    nice -n 10 python -m training.compare --cpu-seconds 300 --out runs/compare
    python -m training.compare --cpu-seconds 300 --out runs/compare --jobs 2   # arms in parallel

Arms (all trained on ``default_recipe()`` capped at 32 nodes, batches of 64, the same seeded
stream: every arm sees the same batches in the same order, a faster arm just sees more of them):

- ``a``  the paper's design: encoder-decoder writing the label and every concentration as number
  tokens (:mod:`training.paper_seq2seq`);
- ``b``  ``seq`` arch: plain Transformer encoder over node and edge tokens, per-node regression of
  the scale-free target (normalised log10 concentration, :mod:`sbmleq.model.features`);
- ``c1`` ``graph`` arch, ``physics=False``: graph-aware attention, direct regression;
- ``c2`` ``graph`` arch, ``physics=True`` (the default design): learned over-relaxation/momentum
  on top of a Jacobi + mass-balance iteration;
- ``d``  no learning: ``c2``'s freshly initialised model (relaxation and momentum heads are zero,
  so it is exactly the plain Jacobi + mass-balance iteration); existence from the exact graph
  search (every node must reach an excretion), since an untrained drain head is a coin flip.

Budget: each arm trains until its *own* process CPU time (``time.process_time()``, torch on
``--threads`` threads, default 1) spent in training steps reaches ``--cpu-seconds``. A training
step counts arm-specific featurisation (tensor conversion; the paper's text encoding and target
tokens for ``a``), forward, backward and optimiser. Generating and exactly labelling the data is
shared by every arm and is not counted (its cost per example is reported separately); nor is
evaluation. CPU time is fair on a shared machine where wall time is not.

Metrics on one fixed test set (``--test-size`` networks, gnm, real rates over 2 decades, 2-32
nodes, existence balanced, seed ``TEST_SEED``: the target suite of ``training/evaluate.py``):
existence accuracy; share of the true equilibria predicted within 1/2/5/10 % relative L1
(sum |pred - true| / sum |true|; a network predicted to have no equilibrium, or malformed output,
is a miss); median relative L1. The graph arms use a fixed iteration count (``--iters``, 8) in
training and evaluation and are also evaluated at ``--iters-long`` (32).

Writes ``OUT/arm_<key>.json`` per arm, ``OUT/table.md`` (printed too). Nothing large.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from sbmleq.model.features import to_concentrations
from sbmleq.core.generators import GeneratorConfig
from sbmleq.model.torch_model import ModelConfig, build_model, exists_probability
from training.data import TEST_SEED, batch_stream, default_recipe, digests, fixed_set, label
from training.paper_seq2seq import PaperSeq2SeqArm, Seq2SeqConfig, exact_concentrations
from training.train import compute_loss, optimizer_step, to_tensors
from sbmleq.compare import rel_l1_array

TOLERANCES = (0.01, 0.02, 0.05, 0.10)
DATA_SEED = 12345
N_CAP = 32
ARM_KEYS = ("a", "b", "c1", "c2", "d")
ARM_NAMES = {
    "a": "(a) paper: enc-dec, number tokens",
    "b": "(b) seq encoder, per-node regression",
    "c1": "(c1) graph attention, direct regression",
    "c2": "(c2) graph + learned physics refinement (default)",
    "d": "(d) physics iteration alone, no learning",
}


def recipe(n_cap: int = N_CAP):
    """``default_recipe()`` with node counts capped (buckets above the cap dropped)."""
    out = [(w, c) for w, c in default_recipe() if c.n_min <= n_cap]
    return [(w, replace(c, n_max=min(c.n_max, n_cap))) for w, c in out]


def test_config(n_cap: int = N_CAP) -> GeneratorConfig:
    return GeneratorConfig(family="gnm", weights="loguniform", decades=2.0, intakes=(1, 3),
                           excretions=(1, 3), n_min=2, n_max=n_cap)


def test_set(count: int, n_cap: int = N_CAP, chunk: int = 50):
    """Labelled test batches (sorted by size, so little padding) and the networks' digests."""
    nets = fixed_set(test_config(n_cap), count, TEST_SEED)
    order = sorted(range(len(nets)), key=lambda k: (nets[k].n_nodes, nets[k].n_edges))
    nets_sorted = [nets[k] for k in order]
    return [label(nets_sorted[i:i + chunk]) for i in range(0, len(nets), chunk)], digests(nets)


# --------------------------------------------------------------------------- arms
class RegressionArm:
    """Arms (b), (c1), (c2), (d): an :mod:`sbmleq.model.torch_model` model trained with ``compute_loss``."""

    def __init__(self, cfg: ModelConfig, n_iters: int = 8, lr: float = 3e-4, warmup: int = 50,
                 clip: float = 1.0, seed: int = 0):
        torch.manual_seed(seed)
        self.cfg, self.n_iters = cfg, n_iters
        self.model = build_model(cfg).train()
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=0.01)
        self.lr, self.warmup, self.clip, self.steps = lr, warmup, clip, 0
        self.exact_existence = False  # (d): existence from the exact graph search

    def prepare(self, ex):
        return to_tensors(ex, torch.device("cpu"))

    def train_step(self, ex, prepared=None) -> float:
        args, tgt = prepared if prepared is not None else self.prepare(ex)
        for group in self.opt.param_groups:
            group["lr"] = self.lr * min(1.0, (self.steps + 1) / self.warmup)
        out = self.model(*args, n_iters=self.n_iters)
        loss, _ = compute_loss(out, args, tgt)
        if not math.isfinite(loss.item()):  # as training/train.py: skip the batch
            self.opt.zero_grad(set_to_none=True)
            return float("nan")
        optimizer_step(self.model, self.opt, loss, self.clip)
        self.steps += 1
        return float(loss.item())

    @torch.no_grad()
    def predict(self, ex, n_iters: int | None = None):
        self.model.eval()
        args, _ = self.prepare(ex)
        out = self.model(*args, n_iters=n_iters or self.n_iters)
        self.model.train()
        if self.exact_existence:
            labels = [bool(e) for e in ex.exists]
        else:
            labels = [bool(p > 0.5) for p in exists_probability(out["drain_logit"], args[0]).numpy()]
        x = to_concentrations(out["y"].float().numpy(), ex.batch)
        values = [x[k, :n] if labels[k] else None for k, n in enumerate(ex.batch.n_nodes)]
        return labels, values

    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def make_arm(key: str, iters: int = 8, seed: int = 0):
    common = dict(d_model=96, n_heads=6, d_ff=256, max_nodes=64, train_n_max=N_CAP)
    if key == "a":
        return PaperSeq2SeqArm(Seq2SeqConfig(), lr=1e-3, warmup=20, seed=seed)
    if key == "b":
        return RegressionArm(ModelConfig(arch="seq", n_layers=4, n_iters=1, **common), seed=seed)
    if key == "c1":
        return RegressionArm(ModelConfig(arch="graph", n_layers=1, n_iters=iters, physics=False,
                                         **common), n_iters=iters, seed=seed)
    if key in ("c2", "d"):
        arm = RegressionArm(ModelConfig(arch="graph", n_layers=1, n_iters=iters, physics=True,
                                        **common), n_iters=iters, seed=seed)
        arm.exact_existence = key == "d"
        return arm
    raise ValueError(f"unknown arm {key!r}; known: {ARM_KEYS}")


# --------------------------------------------------------------------------- train / evaluate
def score(arm, examples, n_iters: int | None = None) -> dict:
    correct = total = 0
    errors = []
    for ex in examples:
        labels, values = (arm.predict(ex, n_iters=n_iters) if isinstance(arm, RegressionArm)
                          else arm.predict(ex))
        x_true = exact_concentrations(ex)
        for k, n in enumerate(ex.batch.n_nodes):
            total += 1
            correct += labels[k] is not None and labels[k] == bool(ex.exists[k])
            if not ex.exists[k]:
                continue
            v = values[k]
            if v is None or not np.all(np.isfinite(v)):
                errors.append(math.inf)
            else:
                t = x_true[k, :n]
                errors.append(float(rel_l1_array(v, t)))
    errors = np.array(errors)
    row = {"networks": total, "with_eq": len(errors), "exists_acc": correct / max(total, 1)}
    for tol in TOLERANCES:
        row[f"within_{int(tol * 100)}pct"] = float((errors <= tol).mean()) if len(errors) else math.nan
    row["median_rel_l1"] = float(np.median(errors)) if len(errors) else math.nan
    return row


def run_arm(key: str, cpu_seconds: float, test, exclude, iters: int, iters_long: int,
            batch_size: int, curve: list[float], seed: int = 0, log=print) -> dict:
    """Train one arm for ``cpu_seconds`` of process CPU time, evaluate at the curve points."""
    arm = make_arm(key, iters, seed)
    stream = batch_stream(recipe(), batch_size, seed=DATA_SEED, exclude=exclude)
    res = {"key": key, "name": ARM_NAMES[key], "params": arm.n_params(), "budget_cpu_s": cpu_seconds,
           "threads": torch.get_num_threads(), "batch_size": batch_size, "curve": []}
    train_cpu = data_cpu = 0.0
    examples = steps = skipped = 0
    losses = []
    wall0 = time.time()
    points = sorted({min(f, 1.0) * cpu_seconds for f in curve} | {cpu_seconds}) if key != "d" else [0.0]

    def evaluate(at: float) -> None:
        t = time.process_time()
        row = {"at_cpu_s": round(train_cpu, 1), "examples": examples,
               **score(arm, test, iters if key != "b" else None)}
        if key in ("c2", "d"):
            row["long"] = score(arm, test, iters_long)
        row["eval_cpu_s"] = round(time.process_time() - t, 1)
        res["curve"].append(row)
        log(f"[{key}] cpu={train_cpu:.0f}s examples={examples} exists={row['exists_acc']:.3f} "
            f"<=10%={row['within_10pct']:.3f} <=1%={row['within_1pct']:.3f} "
            f"(eval {row['eval_cpu_s']} cpu-s, wall {time.time() - wall0:.0f}s)")

    for at in points:
        while train_cpu < at:
            t = time.process_time()
            ex = next(stream)
            data_cpu += time.process_time() - t
            t = time.process_time()
            loss = arm.train_step(ex)
            train_cpu += time.process_time() - t
            if math.isfinite(loss):
                examples += len(ex.exists)
                steps += 1
                losses.append(loss)
            else:
                skipped += 1
            if steps % 25 == 0 and losses:
                log(f"[{key}] step {steps} cpu={train_cpu:.0f}s loss={np.mean(losses[-25:]):.4f}")
        evaluate(at)
    res.update({"train_cpu_s": train_cpu, "examples": examples, "steps": steps,
                "skipped_batches": skipped, "examples_per_cpu_s": examples / max(train_cpu, 1e-9),
                "data_cpu_s_per_example": data_cpu / max(examples, 1), "wall_s": time.time() - wall0,
                "loss_first": float(np.mean(losses[:10])) if losses else math.nan,
                "loss_last": float(np.mean(losses[-10:])) if losses else math.nan,
                "final": res["curve"][-1]})
    return res


# --------------------------------------------------------------------------- table
def _pct(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def _rel(v: float) -> str:
    return "inf" if math.isinf(v) else f"{v:.3g}"


def markdown(results: dict[str, dict], iters: int, iters_long: int) -> str:
    head = ("| arm | eval iters | params | train CPU-s | examples | examples/CPU-s | existence % "
            "| ≤1% | ≤2% | ≤5% | ≤10% | median rel-L1 |")
    lines = [head, "|---" * 12 + "|"]
    for key in ARM_KEYS:
        if key not in results:
            continue
        r = results[key]
        finals = [(iters if key in ("c1", "c2", "d") else "-", r["final"])]
        if "long" in r["final"]:
            finals.append((iters_long, r["final"]["long"]))
        for it, f in finals:
            exists = "exact†" if key == "d" else _pct(f["exists_acc"])
            rate = "-" if key == "d" else f"{r['examples_per_cpu_s']:.1f}"
            lines.append(f"| {r['name']} | {it} | {r['params']:,} | {r['train_cpu_s']:.0f} | "
                         f"{r['examples']:,} | {rate} | {exists} | "
                         + " | ".join(_pct(f[f"within_{int(t * 100)}pct"]) for t in TOLERANCES)
                         + f" | {_rel(f['median_rel_l1'])} |")
    lines += ["", "Learning curve (same test set; existence % / ≤10% / ≤1%):", "",
              "| arm | " + " | ".join(["at CPU-s (examples): exists / ≤10% / ≤1%"]) + " |", "|---|---|"]
    for key in ARM_KEYS:
        if key not in results or key == "d":
            continue
        cells = [f"{c['at_cpu_s']:.0f} s ({c['examples']:,}): {_pct(c['exists_acc'])} / "
                 f"{_pct(c['within_10pct'])} / {_pct(c['within_1pct'])}" for c in results[key]["curve"]]
        lines.append(f"| {results[key]['name']} | " + "; ".join(cells) + " |")
    data = [r["data_cpu_s_per_example"] for r in results.values() if r.get("examples")]
    if data:
        lines += ["", f"Data generation + exact labelling (shared, not in the budget): "
                      f"{1000 * float(np.median(data)):.1f} CPU-ms per example."]
    lines += ["", "† (d) decides existence by the exact graph search, not by a model."]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu-seconds", type=float, default=300.0, help="training CPU budget per arm")
    ap.add_argument("--out", default="runs/compare")
    ap.add_argument("--arms", default=",".join(ARM_KEYS))
    ap.add_argument("--jobs", type=int, default=1, help="arms run in parallel as subprocesses")
    ap.add_argument("--test-size", type=int, default=300)
    ap.add_argument("--iters", type=int, default=8, help="graph arms: iterations, train and eval")
    ap.add_argument("--iters-long", type=int, default=32, help="c2 and d: also evaluated at this")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--curve", default="0.25,0.5", help="extra evaluations at these budget fractions")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per arm")
    ap.add_argument("--seed", type=int, default=0, help="model initialisation seed")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keys = [k.strip() for k in args.arms.split(",") if k.strip()]
    for k in keys:
        if k not in ARM_KEYS:
            ap.error(f"unknown arm {k!r}; known: {', '.join(ARM_KEYS)}")
    curve = [float(f) for f in args.curve.split(",") if f.strip()]

    if args.jobs > 1 and len(keys) > 1:  # one subprocess per arm, at most --jobs at a time
        base = [sys.executable, "-m", "training.compare"] + [
            a for a in (argv if argv is not None else sys.argv[1:])]
        pending, running = list(keys), []
        while pending or running:
            while pending and len(running) < args.jobs:
                k = pending.pop(0)
                running.append(subprocess.Popen(base + ["--arms", k, "--jobs", "1"]))
            time.sleep(2)
            running = [p for p in running if p.poll() is None]
    else:
        t = time.process_time()
        test, exclude = test_set(args.test_size)
        print(f"test set: {sum(len(e.exists) for e in test)} networks labelled in "
              f"{time.process_time() - t:.1f} CPU-s", flush=True)
        for k in keys:
            res = run_arm(k, args.cpu_seconds, test, exclude, args.iters, args.iters_long,
                          args.batch_size, curve, args.seed, log=lambda s: print(s, flush=True))
            res.update({"iters": args.iters, "iters_long": args.iters_long,
                        "test_size": args.test_size, "load_avg": os.getloadavg()})
            (out / f"arm_{k}.json").write_text(json.dumps(res, indent=1))

    results = {}
    for k in ARM_KEYS:
        path = out / f"arm_{k}.json"
        if path.exists():
            results[k] = json.loads(path.read_text())
    table = markdown(results, args.iters, args.iters_long)
    header = (f"Equal training CPU budget {args.cpu_seconds:.0f} CPU-s per arm "
              f"(`time.process_time()`, {args.threads} torch thread(s)); recipe = default_recipe() "
              f"capped at {N_CAP} nodes, batch {args.batch_size}; test = {args.test_size} networks "
              f"(gnm, real rates, 2-{N_CAP} nodes, balanced, TEST_SEED).\n\n")
    (out / "table.md").write_text(header + table + "\n")
    print(header + table)


if __name__ == "__main__":
    main()
