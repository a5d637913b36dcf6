"""Train an equilibrium model. Resumable; uses CUDA with bf16 autocast when present, else CPU.

    python -m training.train --out runs/default --minutes 60
    python -m training.train --out runs/default --minutes 60   # run again: resumes

Writes ``OUT/ckpt.pt`` (full state: model, optimizer, counters; resumable), ``OUT/model.pt``
(weights + config only: what ``sbmleq predict --model`` loads) and ``OUT/log.jsonl`` (one line
per evaluation: examples seen, wall time, losses, validation metrics: the learning curve).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sbmleq.model.checkpoint import read_checkpoint, save_checkpoint
from sbmleq.model.torch_model import ModelConfig, build_model, exists_probability
from training.data import VALIDATION_SEED, batch_stream, default_recipe, digests, fixed_set, label
from sbmleq.compare import rel_l1_array


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def to_tensors(ex, device):
    b = ex.batch
    args = [torch.as_tensor(b.node_mask), torch.as_tensor(b.log_intake, dtype=torch.float32),
            torch.as_tensor(b.log_excretion, dtype=torch.float32),
            torch.as_tensor(b.log_weight, dtype=torch.float32), torch.as_tensor(b.adjacency)]
    targets = {"exists": torch.as_tensor(ex.exists, dtype=torch.float32),
               "drains": torch.as_tensor(ex.drains, dtype=torch.float32),
               "y": torch.as_tensor(np.nan_to_num(ex.y, nan=0.0), dtype=torch.float32),
               "y_mask": torch.as_tensor(np.isfinite(ex.y) & ex.exists[:, None])}
    return [a.to(device) for a in args], {k: v.to(device) for k, v in targets.items()}


def compute_loss(out, args, tgt):
    node_mask = args[0]
    nm = node_mask.float()
    drain = F.binary_cross_entropy_with_logits(out["drain_logit"], tgt["drains"], reduction="none")
    drain = (drain * nm).sum() / nm.sum()
    graph_logit = out["drain_logit"].masked_fill(~node_mask, 1e4).min(dim=1).values
    exists = F.binary_cross_entropy_with_logits(graph_logit, tgt["exists"])
    ym = tgt["y_mask"].float()
    denom = ym.sum().clamp(min=1.0)
    value = sum(((y - tgt["y"]).abs() * ym).sum() / denom for y in out["ys"][:-1]) * 0.2
    value = value + ((out["y"] - tgt["y"]).abs() * ym).sum() / denom
    return drain + exists + value, {"drain": drain.item(), "exists": exists.item(),
                                     "value": value.item()}


def optimizer_step(model, opt, loss, clip: float = 1.0) -> None:
    """Backward, clip the gradient norm, step (the same for every architecture)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()


@torch.no_grad()
def evaluate(model, examples, device, amp: bool) -> dict[str, float]:
    """Existence accuracy and share of equilibria within 1/2/5/10% relative L1."""
    from sbmleq.model.features import to_concentrations

    model.eval()
    correct = total = 0
    hits = {tol: 0 for tol in (0.01, 0.02, 0.05, 0.10)}
    positives = 0
    for ex in examples:
        args, tgt = to_tensors(ex, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = model(*args)
        p = exists_probability(out["drain_logit"], args[0]).cpu().numpy()
        correct += int(((p > 0.5) == ex.exists).sum())
        total += len(p)
        x_pred = to_concentrations(out["y"].float().cpu().numpy(), ex.batch)
        x_true = to_concentrations(np.nan_to_num(ex.y, nan=-99), ex.batch)
        for k in np.flatnonzero(ex.exists):
            n = ex.batch.n_nodes[k]
            err = rel_l1_array(x_pred[k, :n], x_true[k, :n])
            positives += 1
            for tol in hits:
                hits[tol] += bool(err <= tol)
    model.train()
    res = {"exists_acc": correct / max(total, 1), "n": total, "n_pos": positives}
    res.update({f"within_{int(tol * 100)}pct": hits[tol] / max(positives, 1) for tol in hits})
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/default")
    ap.add_argument("--arch", default="graph", choices=["graph", "seq"])
    ap.add_argument("--d-model", type=int, default=96)
    ap.add_argument("--n-heads", type=int, default=6)
    ap.add_argument("--n-layers", type=int, default=1)
    ap.add_argument("--n-iters", type=int, default=16, help="refinement iterations at inference")
    ap.add_argument("--train-iters", default="6-12",
                    help="range of iterations drawn per training batch (graph arch), e.g. 8-16")
    ap.add_argument("--d-ff", type=int, default=256)
    ap.add_argument("--no-physics", action="store_true")
    ap.add_argument("--family", default="gnm")
    ap.add_argument("--weights", default="loguniform", choices=["unit", "integer", "loguniform"])
    ap.add_argument("--n-max", type=int, default=100, help="cap the recipe's node counts")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget of this run")
    ap.add_argument("--max-examples", type=int, default=0, help="stop after this many (0: no cap)")
    ap.add_argument("--eval-every", type=int, default=20000, help="examples between evaluations")
    ap.add_argument("--val-size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    amp = device.type == "cuda"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "ckpt.pt"

    recipe = [(w, c) for w, c in default_recipe(args.family, args.weights) if c.n_min <= args.n_max]
    recipe = [(w, replace(c, n_max=min(c.n_max, args.n_max))) for w, c in recipe]
    cfg = ModelConfig(arch=args.arch, d_model=args.d_model, n_heads=args.n_heads,
                      n_layers=args.n_layers, n_iters=args.n_iters, d_ff=args.d_ff,
                      physics=not args.no_physics, train_n_max=max(c.n_max for _, c in recipe),
                      train_log_range=(-1.0, 1.0), extra={"recipe": [[w, c.to_dict()] for w, c in recipe]})
    state = {"examples": 0, "steps": 0, "seconds": 0.0, "seed": args.seed}
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    if ckpt_path.exists():
        payload = read_checkpoint(ckpt_path)
        cfg = ModelConfig.from_dict(payload["config"])
        model = build_model(cfg)
        model.load_state_dict(payload["model"])
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
        opt.load_state_dict(payload["optimizer"])
        state = dict(payload["train_state"])
        print(f"resumed from {ckpt_path}: {state['examples']} examples, {state['seconds']:.0f} s")
    model.to(device).train()

    # Fixed validation set (one batch per bucket), de-duplicated from training by digest.
    val_nets = [fixed_set(c, args.val_size // len(recipe), VALIDATION_SEED + k)
                for k, (_, c) in enumerate(recipe)]
    val = [label(nets[i:i + 128]) for nets in val_nets for i in range(0, len(nets), 128)]
    exclude = digests([n for nets in val_nets for n in nets])
    # The data stream is reseeded from (seed, steps) so a resumed run sees fresh, reproducible data.
    stream = batch_stream(recipe, args.batch_size, seed=args.seed * 1_000_003 + state["steps"],
                          exclude=exclude)
    lo_it, hi_it = (int(v) for v in args.train_iters.split("-"))
    iter_rng = np.random.default_rng(args.seed + state["steps"])
    log = (out / "log.jsonl").open("a")
    t0, seconds0 = time.time(), state["seconds"]
    next_eval = (state["examples"] // args.eval_every + 1) * args.eval_every
    peak_lr = args.lr
    while True:
        elapsed = time.time() - t0
        if elapsed > args.minutes * 60 or (args.max_examples and state["examples"] >= args.max_examples):
            break
        lr = peak_lr * min(1.0, (state["steps"] + 1) / 200)  # warmup, then constant
        for group in opt.param_groups:
            group["lr"] = lr
        ex = next(stream)
        targs, tgt = to_tensors(ex, device)
        iters = int(iter_rng.integers(lo_it, hi_it + 1))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            outp = model(*targs, n_iters=iters)
        loss, parts = compute_loss(outp, targs, tgt)
        if not math.isfinite(loss.item()):
            print("non-finite loss, batch skipped")
            opt.zero_grad(set_to_none=True)
            continue
        optimizer_step(model, opt, loss, 1.0)
        state["examples"] += len(ex.exists)
        state["steps"] += 1
        state["seconds"] = seconds0 + time.time() - t0
        if state["examples"] >= next_eval:
            next_eval += args.eval_every
            metrics = evaluate(model, val, device, amp)
            row = {**state, "loss": loss.item(), **parts, **metrics,
                   "examples_per_s": (state["examples"]) / max(state["seconds"], 1e-9)}
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                  flush=True)
            save_checkpoint(ckpt_path, model, cfg, {"optimizer": opt.state_dict(), "train_state": state})
            save_checkpoint(out / "model.pt", model, cfg, {"train_state": state})
    save_checkpoint(ckpt_path, model, cfg, {"optimizer": opt.state_dict(), "train_state": state})
    save_checkpoint(out / "model.pt", model, cfg, {"train_state": state})
    print(f"done: {state['examples']} examples in {state['seconds']:.0f} s -> {out / 'model.pt'}")


if __name__ == "__main__":
    main()
