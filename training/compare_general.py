"""Compare architectures for the general steady-state predictor on one data set and one CPU
budget (issue 9, part 1), and print one table.

    python -m training.compare_general --data data/general_d2,data/general_d4,data/general_d6 \
        --budget-minutes 30 --json cmp.json --markdown cmp.md
    python -m training.compare_general --generate 600 --seed 0 --decades 2,4,6 --budget-minutes 5

Arms (learned ones train for ``--budget-minutes`` of this process's CPU time each, 1 thread,
the same batches, optimiser and schedule; evaluated on the same structure-split validation set):

- ``a``  sequence model over the token format v2.1 (:mod:`sbmleq.model.general_seq`)
- ``b``  graph Transformer, direct regression (:mod:`sbmleq.model.general_model`)
- ``c``  the same with the physics-informed learned iteration (``--n-iters`` K steps)
- ``d``  that iteration untrained (gain 1), K steps from the initial state (zeros at the reference)
- ``e``  damped Newton (:func:`sbmleq.core.solve.newton.newton`) from the initial state,
  ``max_iter`` = K; ``e*`` the same unlimited (the solver's own limit)
- ``f``  the full verified chain (:func:`sbmleq.core.solve.chain.solve_system`): time reference

Per arm and per value spread (``--decades`` buckets; a shard's ``config.decades``): outcome
accuracy (learned arms and ``f``), on settling validation networks the share within 1 / 5 / 10 %
relative L1 ``sum|x^ - x| / sum|x|`` of the label state and its median, rate-law (rhs) and
Jacobian evaluations per network (counted on the solver's ReducedSystem; for the iteration one
batched rate call per step), wall and CPU ms per network (learned arms and ``d``: batches of
64, 16 for ``a``, divided out), networks per CPU-hour of inference, training CPU-minutes.
The rate laws are compiled once per structure before any timing (not included).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from sbmleq.core.compile import compile_network
from sbmleq.core.labels import OUTCOME_OF_STATUS, UNRESOLVED
from sbmleq.core.reaction_generators import GENERATORS, OUTCOMES
from sbmleq.core.solve.chain import solve_system
from sbmleq.core.solve.newton import newton
from sbmleq.core.solve.outcome import SolveSettings
from sbmleq.core.solve.system import ReducedSystem
from sbmleq.model.general_features import collate, compile_key
from sbmleq.model.general_model import GeneralModelConfig, GeneralSteadyStateModel, PhysicsRHS
from sbmleq.model.general_seq import (SeqExample, SeqModelConfig, SeqVocab,
                                      SequenceSteadyStateModel, collate_seq, seq_example)
from training.compare_general_table import markdown_table, summarise, text_table
from training.generate_general import read_header
from training.train_general import (Item, compute_loss, evaluate, load_records, make_batch,
                                    make_items, split_by_structure)

CPU = torch.device("cpu")
EVAL_BATCH = 64
SEQ_EVAL_BATCH = 16  # the sequence arm's attention is over ~10x more positions
Record = dict[str, Any]  # per validation network: decades, settles, correct, rel_l1, seconds...


class CountingSystem(ReducedSystem):
    """A ReducedSystem that counts its rate-law (rhs) and Jacobian evaluations."""

    def rhs(self, x: np.ndarray) -> np.ndarray:
        self.__dict__.setdefault("counts", {"rhs": 0, "jac": 0})["rhs"] += 1
        return super().rhs(x)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        self.__dict__.setdefault("counts", {"rhs": 0, "jac": 0})["jac"] += 1
        return super().jacobian(x)


# ------------------------------------------------------------------ data
def load_tagged(args: argparse.Namespace) -> tuple[list[Item], dict[int, float]]:
    """Items (unresolved dropped) and per item (by ``id``) the value spread it was made with."""
    groups: list[tuple[float, list]] = []
    if args.data:
        for d in args.data.split(","):
            shards = sorted(Path(d).glob("shard-*.jsonl.gz"))[:args.max_shards or None]
            if not shards:
                raise SystemExit(f"{d}: no shard-*.jsonl.gz")
            decades = float(read_header(shards[0])["config"].get("decades", "nan"))
            with tempfile.TemporaryDirectory() as tmp:  # load_records reads a whole directory
                for s in shards:
                    (Path(tmp) / s.name).symlink_to(s.resolve())
                groups.append((decades, load_records(argparse.Namespace(data=tmp), 0, 1)))
    else:
        spreads = [float(v) for v in args.decades.split(",")]
        for k, decades in enumerate(spreads):
            ns = argparse.Namespace(
                data=None, decades=str(decades), seed=args.seed + 7919 * k,
                generate=args.generate // len(spreads) + (k < args.generate % len(spreads)),
                families=args.families, n_min=args.n_min, n_max=args.n_max, group=args.group)
            groups.append((decades, load_records(ns, 0, 1)))
    items, tags = [], {}
    for decades, records in groups:
        for it in make_items(records):
            items.append(it)
            tags[id(it)] = decades
    return items, tags


def bucket_of(value: float, buckets: Sequence[float]) -> float:
    """The listed spread nearest ``value`` (a shard made at 3 decades goes to 2 or 4)."""
    return min(buckets, key=lambda b: abs(b - value)) if math.isfinite(value) else buckets[0]


# ------------------------------------------------------------------ training
def train_arm(model: torch.nn.Module, train: Sequence[Item],
              forward: Callable[[torch.nn.Module, list[Item]], tuple[dict, dict]],
              args: argparse.Namespace) -> dict[str, Any]:
    """AdamW for ``--budget-minutes`` of CPU time (at least one step): linear warmup over
    ``--warmup`` steps, cosine to 10 % by the fraction of the budget used."""
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    budget = args.budget_minutes * 60.0
    c0, w0 = time.process_time(), time.perf_counter()
    losses: list[float] = []
    model.train()
    step = 0
    while step == 0 or time.process_time() - c0 < budget:
        frac = min(1.0, (time.process_time() - c0) / max(budget, 1e-9))
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (
            0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        rng = np.random.default_rng([args.seed, step])
        idx = rng.choice(len(train), size=min(args.batch_size, len(train)), replace=False)
        out, tgt = forward(model, [train[i] for i in idx])
        loss, _ = compute_loss(out, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.item()))
        step += 1
    model.eval()
    return {"steps": step, "train_cpu_minutes": (time.process_time() - c0) / 60.0,
            "train_wall_minutes": (time.perf_counter() - w0) / 60.0,
            "loss_first": float(np.mean(losses[:10])), "loss_last": float(np.mean(losses[-10:]))}


def graph_forward(physics: bool, cache: dict) -> Callable:
    def forward(model: torch.nn.Module, chunk: list[Item]) -> tuple[dict, dict]:
        inputs, tgt, rhs = make_batch(chunk, CPU, physics, cache)
        return model(**inputs, rhs=rhs), tgt
    return forward


def seq_forward(seqs: dict[int, SeqExample]) -> Callable:
    def forward(model: torch.nn.Module, chunk: list[Item]) -> tuple[dict, dict]:
        _, tgt, _ = make_batch(chunk, CPU, False, {})  # the graph model's targets and masks
        return model(**collate_seq([seqs[id(it)] for it in chunk])), tgt
    return forward


# ------------------------------------------------------------------ evaluation
def rel_l1(it: Item, y: np.ndarray) -> float:
    """``sum|x^ - x| / sum|x|`` over the state, from normalised node outputs ``y``."""
    ok = it.ex.state_index >= 0
    x_hat = 10.0 ** (np.asarray(y[:it.ex.n_species], np.float64)[ok] + it.ex.reference)
    x = it.state[it.ex.state_index[ok]]
    return float(np.abs(x_hat - x).sum() / max(np.abs(x).sum(), 1e-300))


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def records_of(items: Sequence[Item], details: Sequence[dict], wall: float, cpu: float,
               **extra: Any) -> list[Record]:
    n = max(len(items), 1)
    return [{"correct": d.get("correct"), "rel_l1": d.get("rel_l1"), "wall": wall / n,
             "cpu": cpu / n, "settles": it.state is not None, **extra, **d.get("extra", {})}
            for it, d in zip(items, details)]


def eval_graph(model: GeneralSteadyStateModel, val: Sequence[Item], cache: dict,
               rate_evals: int) -> list[Record]:
    details: list[dict] = []
    _, wall, cpu = timed(lambda: evaluate(model, val, CPU, False, model.cfg.physics, cache,
                                          EVAL_BATCH, details=details))
    return records_of(val, details, wall, cpu, rhs=rate_evals, jac=0)


@torch.no_grad()
def eval_seq(model: SequenceSteadyStateModel, val: Sequence[Item],
             seqs: dict[int, SeqExample]) -> list[Record]:
    def run() -> list[dict]:
        out = []
        for i in range(0, len(val), SEQ_EVAL_BATCH):
            chunk = val[i:i + SEQ_EVAL_BATCH]
            res = model(**collate_seq([seqs[id(it)] for it in chunk]))
            pred, ys = res["logits"].argmax(-1).numpy(), res["y"].numpy()
            out += [{"correct": bool(pred[k] == it.outcome),
                     "rel_l1": None if it.state is None else rel_l1(it, ys[k])}
                    for k, it in enumerate(chunk)]
        return out
    details, wall, cpu = timed(run)
    return records_of(val, details, wall, cpu, rhs=0, jac=0)


def start_from_initial(items: Sequence[Item], n_nodes: int) -> torch.Tensor:
    """``log10(x0) - r`` at state nodes with ``x0 > 0``, 0 (the reference) elsewhere."""
    y = np.zeros((len(items), n_nodes), np.float32)
    for k, it in enumerate(items):
        ok = np.flatnonzero(it.ex.state_index >= 0)
        x0 = it.net.initial_state()[it.ex.state_index[ok]]
        with np.errstate(divide="ignore"):
            y[k, ok] = np.where(x0 > 0, np.log10(np.maximum(x0, 1e-300)) - it.ex.reference, 0.0)
    return torch.as_tensor(y)


@torch.no_grad()
def untrained_iteration(items: Sequence[Item], n_iters: int, cache: dict,
                        y_start: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """Arm (d): the physics step of GeneralSteadyStateModel.refine with its initial gain (1:
    the gain MLP's last layer starts at zero, so its input is irrelevant), ``n_iters`` steps
    from the initial state (or from ``y_start``, per item node outputs). Returns the last
    iterate per item (normalised log10 per node)."""
    cfg = GeneralModelConfig(d_model=8, n_heads=1, n_local_heads=0, n_layers=1, d_ff=8,
                             physics=True)
    model = GeneralSteadyStateModel(cfg).eval()
    out: list[np.ndarray] = []
    for i in range(0, len(items), EVAL_BATCH):
        chunk = list(items[i:i + EVAL_BATCH])
        batch = collate([it.ex for it in chunk])
        s = batch.species_x.shape[1]
        rhs = PhysicsRHS([it.net for it in chunk], batch, CPU, cache,
                         [it.key or compile_key(it.net) for it in chunk])
        if y_start is None:
            y0 = start_from_initial(chunk, s)
        else:
            y0 = torch.zeros(len(chunk), s)
            for k, y in enumerate(y_start[i:i + EVAL_BATCH]):
                y0[k, :len(y)] = torch.as_tensor(np.asarray(y, np.float32))
        hs = torch.zeros(len(chunk), s, cfg.d_model)
        y = model.refine(hs, y0, torch.as_tensor(batch.state_mask), rhs, n_iters)[-1]
        out += [y[k, :it.ex.n_species].numpy() for k, it in enumerate(chunk)]
    return out


def eval_untrained(val: Sequence[Item], n_iters: int, cache: dict) -> list[Record]:
    settling = [it for it in val if it.state is not None]
    ys, wall, cpu = timed(lambda: untrained_iteration(settling, n_iters, cache))
    details = [{"rel_l1": rel_l1(it, y)} for it, y in zip(settling, ys)]
    return records_of(settling, details, wall, cpu, rhs=n_iters, jac=0)


def system_of(it: Item, cache: dict) -> CountingSystem:
    compiled = cache.setdefault(it.digest, compile_network(it.net))
    system = CountingSystem.build(compiled, it.net.initial_state(), it.net.parameter_vector())
    system.__dict__["counts"] = {"rhs": 0, "jac": 0}
    return system


def eval_newton(val: Sequence[Item], max_iter: int | None, cache: dict,
                timeout: float) -> list[Record]:
    settings = SolveSettings(timeout=timeout)
    out = []
    for it in (it for it in val if it.state is not None):
        system = system_of(it, cache)
        res, wall, cpu = timed(lambda: newton(system, system.x0, settings,
                                              time.monotonic() + timeout, max_iter))
        rel = (float(np.abs(res.state - it.state).sum() / max(np.abs(it.state).sum(), 1e-300))
               if res.state is not None else math.inf)
        out += records_of([it], [{"rel_l1": rel}], wall, cpu, **system.counts)
    return out


def eval_chain(val: Sequence[Item], cache: dict, timeout: float) -> list[Record]:
    settings = SolveSettings(timeout=timeout)
    out = []
    for it in val:
        system = system_of(it, cache)
        res, wall, cpu = timed(lambda: solve_system(system, settings))
        outcome = OUTCOME_OF_STATUS.get(res.status.value, UNRESOLVED)
        rel = None
        if it.state is not None:
            rel = (float(np.abs(res.state - it.state).sum() / max(np.abs(it.state).sum(), 1e-300))
                   if outcome == "settles" and res.state is not None else math.inf)
        out += records_of([it], [{"correct": outcome == OUTCOMES[it.outcome], "rel_l1": rel}],
                          wall, cpu, **system.counts)
    return out


# ------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="comma list of shard directories (generate_general.py)")
    src.add_argument("--generate", type=int, help="draw and label this many networks")
    ap.add_argument("--max-shards", type=int, default=0, help="per --data directory (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--decades", default="2,4,6", help="value spreads: the table's buckets "
                    "(and, with --generate, the spreads drawn, N split evenly)")
    ap.add_argument("--families", default=",".join(GENERATORS))
    ap.add_argument("--n-min", type=int, default=2)
    ap.add_argument("--n-max", type=int, default=16)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--max-val", type=int, default=0, help="cap the validation networks (0: all)")
    ap.add_argument("--budget-minutes", type=float, default=5.0,
                    help="training CPU-minutes per learned arm")
    ap.add_argument("--arms", default="a,b,c,d,e,e*,f")
    ap.add_argument("--n-iters", type=int, default=8, help="K: iterations of c, d, e")
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-heads", type=int, default=8)
    ap.add_argument("--n-local-heads", type=int, default=4)
    ap.add_argument("--n-layers", type=int, default=4)
    ap.add_argument("--d-ff", type=int, default=256)
    ap.add_argument("--seq-max-len", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per solve (e, e*, f)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("--markdown", help="write the table here")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the comparison; prints the table and returns the result (what ``--json`` holds)."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):  # NumPy's BLAS too (Newton's solves)
        return compare(args)


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """The comparison itself (:func:`main` with the thread limits in place)."""
    buckets = [float(v) for v in args.decades.split(",")]
    arms = args.arms.split(",")
    unknown = sorted(set(arms) - {"a", "b", "c", "d", "e", "e*", "f"})
    if unknown:
        raise SystemExit(f"unknown arm(s) {', '.join(unknown)} (a, b, c, d, e, e*, f)")
    t0 = time.perf_counter()
    items, tags = load_tagged(args)
    train, val = split_by_structure(items, args.val_fraction, args.seed)
    if args.max_val and len(val) > args.max_val:
        keep = np.random.default_rng(args.seed).choice(len(val), args.max_val, replace=False)
        val = [val[i] for i in sorted(keep)]
    if not train or not val:
        raise SystemExit(f"need train and validation networks (got {len(train)} / {len(val)})")

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)
    log(f"{len(items)} labelled networks: {len(train)} train / {len(val)} val "
        f"({sum(it.state is not None for it in val)} val settle)")
    cache: dict = {}
    for it in val:  # compiled once per structure, before any timing
        cache.setdefault(it.digest, compile_network(it.net))
    graph = dict(d_model=args.d_model, n_heads=args.n_heads, n_local_heads=args.n_local_heads,
                 n_layers=args.n_layers, d_ff=args.d_ff, n_iters=args.n_iters)
    k = args.n_iters
    names = {"a": "sequence, tokens v2.1", "b": "graph, direct", "c": f"graph, physics x{k}",
             "d": f"iteration untrained x{k}", "e": f"Newton, max_iter {k}",
             "e*": "Newton, unlimited", "f": "verified chain"}
    out: dict[str, Any] = {"args": vars(args), "n_train": len(train), "n_val": len(val),
                           "arms": {}}
    for key in arms:
        torch.manual_seed(args.seed)  # each arm's initial weights independent of the others
        train_info = None
        if key == "a":
            vocab = SeqVocab()
            cfg = SeqModelConfig(d_model=args.d_model, n_heads=args.n_heads,
                                 n_layers=args.n_layers, d_ff=args.d_ff,
                                 max_len=args.seq_max_len, vocab_size=len(vocab))
            seqs = {id(it): seq_example(it.net, it.ex, vocab, cfg) for it in train + val}
            model = SequenceSteadyStateModel(cfg)
            train_info = train_arm(model, train, seq_forward(seqs), args)
            train_info["truncated"] = sum(s.truncated for s in seqs.values())
            recs = eval_seq(model, val, seqs)
        elif key in ("b", "c"):
            model = GeneralSteadyStateModel(GeneralModelConfig(physics=key == "c", **graph))
            train_info = train_arm(model, train, graph_forward(key == "c", cache), args)
            recs = eval_graph(model, val, cache, k if key == "c" else 0)
        elif key == "d":
            recs = eval_untrained(val, k, cache)
        elif key in ("e", "e*"):
            recs = eval_newton(val, k if key == "e" else None, cache, args.timeout)
        else:
            recs = eval_chain(val, cache, args.timeout)
        settling = [it for it in val if it.state is not None]
        its = val if len(recs) == len(val) else settling
        by = [bucket_of(tags[id(it)], buckets) for it in its]
        accuracy = key in ("a", "b", "c", "f")
        rows = {"all": summarise(recs, accuracy)}
        for b in buckets:
            rows[f"{b:g}"] = summarise([r for r, t in zip(recs, by) if t == b], accuracy)
        out["arms"][key] = {"name": names[key], "train": train_info, "buckets": rows}
        log(f"arm {key} done" + (f" ({train_info['steps']} steps)" if train_info else ""))
    table = text_table(out)
    print(table, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(out))
    return out


if __name__ == "__main__":
    main()
