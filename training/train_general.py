"""Train the general steady-state predictor (sbmleq/model/general_model.py), nanoGPT style.

    python -m training.train_general --out runs/general --data data/general      # shards
    python -m training.train_general --out runs/general --generate 4000 --seed 0 # on the fly
    torchrun --nproc_per_node 2 -m training.train_general ...                    # DDP
    python -m training.train_general --out runs/general ... --resume             # continue

Data: shards written by training/generate_general.py, or ``--generate N`` networks drawn with
``--seed`` and labelled by sbmleq.core.labels.label_networks (under DDP each rank labels a share
of the structures and the labels are gathered). Unresolved labels are dropped. Train/val split
by structure digest (no structure in both). Loss: cross-entropy on the outcome + masked MSE on
normalised log10 concentrations for settling networks (the mean over iterates with --physics).
AdamW, linear warmup then cosine decay over --max-steps; bf16 autocast on CUDA. Every
--ckpt-every steps ``OUT/ckpt.pt`` (model, optimizer, RNG, step) and ``OUT/model.pt``; batches
are drawn from ``default_rng([seed, step, rank])``, so ``--resume`` continues exactly.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sbmleq.core.labels import Label, label_networks
from sbmleq.core.reaction_generators import (GENERATORS, OUTCOMES, RNConfig, network_from_dict,
                                             sample_networks)
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.model.general_features import (GraphExample, collate, collate_targets,
                                           compile_key, network_features, structure_digest,
                                           targets)
from sbmleq.model.general_model import (GeneralModelConfig, GeneralSteadyStateModel, PhysicsRHS,
                                        batch_tensors)
from sbmleq.model.general_predictor import (build_from_payload, read_general_checkpoint,
                                            save_general_checkpoint)
from training.generate_general import read_shard


@dataclass
class Item:
    net: ReactionNetwork
    ex: GraphExample
    y: np.ndarray
    mask: np.ndarray
    outcome: int
    state: np.ndarray | None
    digest: str  # structure digest: the train / val split
    key: str = ""  # compile_key: which compiled rate laws the physics steps may share


# ------------------------------------------------------------------ distributed
def dist_setup() -> tuple[int, int, int]:
    """(rank, world size, local rank); initialises torch.distributed when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    import torch.distributed as dist  # only under torchrun

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def all_reduce_mean(value: float, world: int, device: torch.device) -> float:
    """The mean of ``value`` over the processes (itself without DDP)."""
    if world == 1:
        return value
    import torch.distributed as dist  # only under torchrun

    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / world


# ------------------------------------------------------------------ data
def load_records(args: argparse.Namespace, rank: int,
                 world: int) -> list[tuple[ReactionNetwork, Label]]:
    """(network, label) pairs: every shard of ``--data``, or ``--generate`` networks drawn
    and labelled here (each rank labels every ``world``-th structure; labels gathered)."""
    if args.data:
        out = []
        dirs = [Path(d) for d in str(args.data).split(",") if d]
        for path in [p for d in dirs for p in sorted(d.glob("shard-*.jsonl.gz"))]:
            _, recs = read_shard(path)
            out += [(network_from_dict(r["network"]), Label.from_dict(r["label"])) for r in recs]
        return out
    spreads = [float(d) for d in str(args.decades).split(",")]
    nets = []
    for k, decades in enumerate(spreads):  # N split evenly over the listed spreads
        cfg = RNConfig(families=tuple(args.families.split(",")), n_min=args.n_min,
                       n_max=args.n_max, decades=decades, group_size=args.group)
        rng = np.random.default_rng(args.seed if len(spreads) == 1 else [args.seed, k])
        count = args.generate // len(spreads) + (k < args.generate % len(spreads))
        nets += sample_networks(cfg, rng, count)
    groups: dict[str, list[int]] = {}
    for i, net in enumerate(nets):
        groups.setdefault(structure_digest(net), []).append(i)
    mine = [i for k, idx in enumerate(groups.values()) if k % world == rank for i in idx]
    labels = dict(zip(mine, label_networks([nets[i] for i in mine])))
    if world > 1:
        import torch.distributed as dist  # only under torchrun

        parts: list[Any] = [None] * world
        dist.all_gather_object(parts, {i: lab.to_dict() for i, lab in labels.items()})
        labels = {int(i): Label.from_dict(d) for part in parts for i, d in part.items()}
    return [(nets[i], labels[i]) for i in range(len(nets))]


def make_items(records: Sequence[tuple[ReactionNetwork, Label]]) -> list[Item]:
    """Features and targets of each labelled network (unresolved ones dropped)."""
    out = []
    for net, lab in records:
        if lab.outcome not in OUTCOMES:
            continue  # unresolved: no label to learn
        ex = network_features(net)
        state = None if lab.outcome != "settles" or lab.state is None else np.array(lab.state)
        y, mask = targets(ex, state)
        out.append(Item(net, ex, y, mask, OUTCOMES.index(lab.outcome), state,
                        structure_digest(net), compile_key(net)))
    return out


def split_by_structure(items: list[Item], fraction: float,
                       seed: int) -> tuple[list[Item], list[Item]]:
    """(train, val): a structure goes to val when a hash of (seed, digest) says so."""
    def is_val(d: str) -> bool:
        h = int(hashlib.sha1(f"{seed}:{d}".encode()).hexdigest()[:8], 16)
        return h % 10_000 < fraction * 10_000
    val = [it for it in items if is_val(it.digest)]
    if not val and fraction > 0 and len({it.digest for it in items}) > 1:
        last = items[-1].digest  # at least one structure held out
        val = [it for it in items if it.digest == last]
    held = {it.digest for it in val}
    return [it for it in items if it.digest not in held], val


def make_batch(items: Sequence[Item], device: torch.device, physics: bool,
               cache: dict) -> tuple[dict, dict, PhysicsRHS | None]:
    """(model inputs, targets, physics rates or None) for one batch of items."""
    batch = collate([it.ex for it in items])
    y, m = collate_targets([(it.y, it.mask) for it in items], batch.species_x.shape[1])
    settles = np.array([it.outcome == 0 for it in items])
    tgt = {"outcome": torch.as_tensor([it.outcome for it in items], device=device),
           "y": torch.as_tensor(y, device=device),
           "mask": torch.as_tensor(m & settles[:, None], device=device)}
    rhs = (PhysicsRHS([it.net for it in items], batch, device, cache,
                      [it.key or compile_key(it.net) for it in items]) if physics else None)
    return batch_tensors(batch, device), tgt, rhs


def compute_loss(out: dict, tgt: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy on the outcome + masked MSE of y on settling networks (mean over the
    iterates: the direct prediction and, with physics, every step)."""
    ce = F.cross_entropy(out["logits"].float(), tgt["outcome"])
    m = tgt["mask"].float()
    n = m.sum().clamp_min(1.0)
    mse = torch.stack([(((y.float() - tgt["y"]) ** 2) * m).sum() / n for y in out["ys"]]).mean()
    return ce + mse, {"ce": float(ce.item()), "mse": float(mse.item())}


@torch.no_grad()
def evaluate(model: torch.nn.Module, items: Sequence[Item], device: torch.device, amp: bool,
             physics: bool, cache: dict, batch_size: int = 64,
             details: list | None = None) -> dict[str, float]:
    """Outcome accuracy; on settling networks the relative L1 error sum|x^-x| / sum|x| over
    the state (network units) and the share within 1 %, 5 %, 10 %. ``details``: when given,
    one ``{"correct", "rel_l1"}`` per item is appended (training/compare_general.py)."""
    model.eval()
    correct, rel, spread = 0, [], []
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        inputs, tgt, rhs = make_batch(chunk, device, physics, cache)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = model(**inputs, rhs=rhs)
        hit = (out["logits"].argmax(-1) == tgt["outcome"]).cpu().numpy()
        correct += int(hit.sum())
        ys = out["y"].float().cpu().numpy()
        for k, it in enumerate(chunk):
            if details is not None:
                details.append({"correct": bool(hit[k]), "rel_l1": None})
            if it.state is None:
                continue
            ok = it.ex.state_index >= 0
            x_hat = 10.0 ** (ys[k, :it.ex.n_species][ok].astype(np.float64) + it.ex.reference)
            x = it.state[it.ex.state_index[ok]]
            rel.append(float(np.abs(x_hat - x).sum() / max(np.abs(x).sum(), 1e-300)))
            spread.append(it.ex.decades)
            if details is not None:
                details[-1]["rel_l1"] = rel[-1]
    model.train()
    r = np.array(rel)
    res = {"val_n": len(items), "val_accuracy": correct / max(len(items), 1),
           "val_settling": len(rel),
           "val_rel_l1_median": float(np.median(r)) if len(r) else float("nan")}
    for tol in (0.01, 0.05, 0.10):
        res[f"within_{int(tol * 100)}pct"] = float((r <= tol).mean()) if len(r) else float("nan")
    sp = np.array(spread)
    for name, lo, hi in SPREAD_BUCKETS:  # does accuracy hold as values span more decades?
        sel = (sp > lo) & (sp <= hi)
        res[f"n_{name}"] = int(sel.sum())
        res[f"within_5pct_{name}"] = float((r[sel] <= 0.05).mean()) if sel.any() else float("nan")
    return res


SPREAD_BUCKETS = (("spread<=3", -1.0, 3.5), ("spread3-5", 3.5, 5.5), ("spread>5", 5.5, 1e9))


def train_stats(items: Sequence[Item]) -> dict[str, Any]:
    """What the out-of-distribution flag compares against (stored in the config)."""
    return {"train_max_species": max((it.ex.n_species for it in items), default=1),
            "train_max_reactions": max((it.ex.n_reactions for it in items), default=1),
            "train_decades": float(max((it.ex.decades for it in items), default=0.0)),
            "train_families": tuple(sorted({f for it in items for f in it.ex.families}))}


def widen_stats(cfg: GeneralModelConfig, stats: dict[str, Any]) -> GeneralModelConfig:
    """``cfg`` with its training bounds widened to cover ``stats`` as well."""
    return dataclasses.replace(
        cfg, train_max_species=max(cfg.train_max_species, stats["train_max_species"]),
        train_max_reactions=max(cfg.train_max_reactions, stats["train_max_reactions"]),
        train_decades=max(cfg.train_decades, stats["train_decades"]),
        train_families=tuple(sorted({*cfg.train_families, *stats["train_families"]})))


def lr_at(step: int, args: argparse.Namespace) -> float:
    """Linear warmup, then cosine decay to 10 % of ``--lr`` at ``--max-steps``."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    frac = min(1.0, (step - args.warmup) / max(1, args.max_steps - args.warmup))
    return args.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac)))


def print_table(metrics: dict[str, float]) -> None:
    """The validation table (see :func:`evaluate`)."""
    print(f"{'val':>6} {'n':>5} {'acc':>6} {'settle':>6} {'<=1%':>6} {'<=5%':>6} {'<=10%':>6} "
          f"{'medL1':>8}")
    print(f"{'':>6} {metrics['val_n']:>5} {metrics['val_accuracy']:>6.3f} "
          f"{metrics['val_settling']:>6} {metrics['within_1pct']:>6.3f} "
          f"{metrics['within_5pct']:>6.3f} {metrics['within_10pct']:>6.3f} "
          f"{metrics['val_rel_l1_median']:>8.4f}", flush=True)
    print("       <=5% by value spread (decades): " + "  ".join(
        f"{name[6:]}: {metrics[f'within_5pct_{name}']:.3f} (n={metrics[f'n_{name}']})"
        for name, _, _ in SPREAD_BUCKETS), flush=True)


# ------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/general")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="directories of shard-*.jsonl.gz (generate_general.py), "
                     "comma-separated")
    src.add_argument("--generate", type=int, help="draw and label this many networks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--families", default=",".join(GENERATORS))
    ap.add_argument("--hold-out", default="", help="generator families left out of training "
                    "(comma-separated; their networks are dropped from --data or --generate), "
                    "for the out-of-distribution evaluation")
    ap.add_argument("--n-min", type=int, default=2)
    ap.add_argument("--n-max", type=int, default=16)
    ap.add_argument("--decades", default="3", help="value spread of generated constants; a "
                    "comma list (2,4,6) splits --generate evenly over them")
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-heads", type=int, default=8)
    ap.add_argument("--n-local-heads", type=int, default=4)
    ap.add_argument("--n-layers", type=int, default=4)
    ap.add_argument("--d-ff", type=int, default=256)
    ap.add_argument("--physics", action="store_true", help="arm (c): learned iteration")
    ap.add_argument("--n-iters", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32, help="per process")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--max-steps", type=int, default=5000, help="schedule length (total)")
    ap.add_argument("--stop-after", type=int, default=0, help="stop after this many steps in "
                    "this invocation (0: run to --max-steps); the schedule is unchanged")
    ap.add_argument("--max-minutes", type=float, default=60.0)
    ap.add_argument("--ckpt-every", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--resume", action="store_true", help="continue from OUT/ckpt.pt")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train; returns ``{"losses": [(step, loss)], "metrics": {...}, "step": n}``."""
    args = parse_args(argv)
    t_start = time.time()
    rank, world, local = dist_setup()
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available() and args.device in ("auto", "cuda")
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    amp = device.type == "cuda"
    out_dir, ckpt = Path(args.out), Path(args.out) / "ckpt.pt"

    held = {f for f in args.hold_out.split(",") if f}
    unknown = held - set(GENERATORS)
    if unknown:
        raise SystemExit(f"--hold-out: unknown generator families {sorted(unknown)}")
    items = [it for it in make_items(load_records(args, rank, world))
             if (it.net.name or "").split(":")[0] not in held]
    train, val = split_by_structure(items, args.val_fraction, args.seed)
    if not train:
        raise SystemExit("no labelled training networks")
    torch.manual_seed(args.seed)
    cfg = GeneralModelConfig(d_model=args.d_model, n_heads=args.n_heads,
                             n_local_heads=args.n_local_heads, n_layers=args.n_layers,
                             d_ff=args.d_ff, physics=args.physics, n_iters=args.n_iters,
                             **train_stats(train))
    model = GeneralSteadyStateModel(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    state = {"step": 0, "seconds": 0.0, "examples": 0}
    history: list[dict[str, Any]] = []  # earlier runs of a resumed training (the recipe)
    if args.resume and ckpt.exists():
        payload = read_general_checkpoint(ckpt)
        model = build_from_payload(payload, str(ckpt))
        cfg = model.cfg
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        opt.load_state_dict(payload["optimizer"])
        state = dict(payload["train_state"])
        torch.set_rng_state(payload["rng"]["torch"])
        before = payload.get("meta", {})
        history = list(before.get("history", [])) + [
            {k: before.get(k) for k in ("command", "data", "wall_seconds")} | {"to_step":
                                                                             state["step"]}]
        widened = widen_stats(cfg, train_stats(train))
        if widened != cfg:  # resumed on more data: the OOD bounds cover what it has now seen
            cfg = model.cfg = widened
        if rank == 0:
            print(f"resumed from {ckpt} at step {state['step']}", flush=True)
    model.to(device).train()
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP  # only under torchrun

        net = DDP(model, device_ids=[local] if cuda else None)
    if rank == 0:
        print(f"{len(train)} train / {len(val)} val networks ({len({i.digest for i in train})} / "
              f"{len({i.digest for i in val})} structures), {world} process(es) on {device}, "
              f"{sum(p.numel() for p in model.parameters())} parameters", flush=True)
    meta = {"command": " ".join([sys.executable, "-m", "training.train_general", *sys.argv[1:]])
            if argv is None else "train_general " + " ".join(argv),
            "seed": args.seed, "data": args.data or f"generate {args.generate} "
            f"(families {args.families}, n {args.n_min}-{args.n_max}, decades {args.decades})",
            # generator families seen in training (network names start with the family)
            "generator_families": sorted({i.net.name.split(":")[0] for i in train
                                          if i.net.name and i.net.name.split(":")[0] in
                                          GENERATORS}),
            "hardware": {"device": torch.cuda.get_device_name(device) if cuda else
                         platform.processor() or platform.machine(), "world_size": world,
                         "torch": str(torch.__version__), "python": platform.python_version()},
            "history": history}
    cache: dict = {}
    losses: list[tuple[int, float]] = []
    metrics: dict[str, float] = {}
    seconds0, t0, done_here = state["seconds"], time.time(), 0

    def save() -> None:
        if rank != 0:
            return
        state["seconds"] = seconds0 + time.time() - t0
        m = {**meta, "wall_seconds": state["seconds"], "metrics": metrics}
        save_general_checkpoint(ckpt, model, cfg, {"optimizer": opt.state_dict(),
                                                   "train_state": dict(state), "meta": m,
                                                   "rng": {"torch": torch.get_rng_state()}})
        save_general_checkpoint(out_dir / "model.pt", model, cfg,
                                {"train_state": dict(state), "meta": m})

    while state["step"] < args.max_steps:
        over = (time.time() - t0) > args.max_minutes * 60
        if world > 1:
            over = all_reduce_mean(float(over), world, device) > 0
        if over or (args.stop_after and done_here >= args.stop_after):
            break
        step = state["step"]
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args)
        rng = np.random.default_rng([args.seed, step, rank])
        idx = rng.choice(len(train), size=min(args.batch_size, len(train)), replace=False)
        inputs, tgt, rhs = make_batch([train[i] for i in idx], device, cfg.physics, cache)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = net(**inputs, rhs=rhs)
        loss, parts = compute_loss(out, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state["examples"] += len(idx) * world
        done_here += 1
        value = all_reduce_mean(float(loss.item()), world, device)
        losses.append((state["step"], value))
        if rank == 0 and (state["step"] % args.log_every == 0 or state["step"] == 1):
            print(f"step {state['step']} loss {value:.4f} ce {parts['ce']:.4f} "
                  f"mse {parts['mse']:.4f} lr {lr_at(step, args):.2e} "
                  f"{time.time() - t0:.0f}s", flush=True)
        if rank == 0 and val and state["step"] % args.eval_every == 0:
            metrics = evaluate(model, val, device, amp, cfg.physics, cache)
            print_table(metrics)
        if state["step"] % args.ckpt_every == 0:
            save()
    if rank == 0 and val:
        metrics = evaluate(model, val, device, amp, cfg.physics, cache)
        print_table(metrics)
    save()
    if rank == 0:
        print(f"done: step {state['step']} in {time.time() - t_start:.0f} s -> "
              f"{out_dir / 'model.pt'}", flush=True)
    if world > 1:
        import torch.distributed as dist  # only under torchrun

        dist.barrier()
        dist.destroy_process_group()
    return {"losses": losses, "metrics": metrics, "step": state["step"]}


if __name__ == "__main__":
    main()
