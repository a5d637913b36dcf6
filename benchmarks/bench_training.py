"""Training throughput (examples/s) per architecture, measured in one run on the same batches.

    nice -n 10 python benchmarks/bench_training.py                 # 3 warm-up + 20 steps per arm
    python benchmarks/bench_training.py --steps 5 --arms b,c1,c2    # quicker

Arms as in ``training/compare.py``: (a) the paper's encoder-decoder writing number tokens,
(b) ``seq`` encoder with per-node regression, (c1) ``graph`` without physics, (c2) ``graph`` with
the learned physics refinement (the default), graph arms at a fixed iteration count (``--iters``).
Every arm trains on the same pre-generated, exactly labelled batches (batch 64, 17-32 nodes, gnm,
real rates); data generation is outside the timing. Reports examples per wall second and per
process-CPU second (the fair number on a shared machine), with ratios to the fastest arm, and
the machine load (``os.getloadavg()``) before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.compare import ARM_NAMES, make_arm, test_config  # noqa: E402
from training.data import label, sample_balanced  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arms", default="a,b,c1,c2")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per arm")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps per arm first")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--n-min", type=int, default=17)
    ap.add_argument("--n-max", type=int, default=32)
    ap.add_argument("--iters", type=int, default=8, help="graph arms: refinement iterations")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    keys = [k.strip() for k in args.arms.split(",") if k.strip()]
    load0 = os.getloadavg()
    cfg = replace(test_config(), n_min=args.n_min, n_max=args.n_max)
    rng = np.random.default_rng(args.seed)
    t = time.process_time()
    batches = [label(sample_balanced(cfg, args.batch_size, rng))
               for _ in range(args.warmup + args.steps)]
    data_cpu = time.process_time() - t
    n_ex = args.batch_size * args.steps
    print(f"{len(batches)} batches of {args.batch_size} networks, {args.n_min}-{args.n_max} nodes "
          f"(mean {np.mean([b.batch.n_nodes.mean() for b in batches]):.1f}), generated and labelled "
          f"in {data_cpu:.1f} CPU-s ({1000 * data_cpu / (len(batches) * args.batch_size):.2f} "
          f"CPU-ms/example, not timed below); torch {torch.__version__}, {torch.get_num_threads()} "
          f"thread(s), {os.cpu_count()} CPUs; load average before: "
          + " ".join(f"{v:.2f}" for v in load0), flush=True)

    rows = {}
    for key in keys:
        arm = make_arm(key, iters=args.iters, seed=args.seed)
        for ex in batches[:args.warmup]:
            arm.train_step(ex)
        w, c = time.perf_counter(), time.process_time()
        losses = [arm.train_step(ex) for ex in batches[args.warmup:]]
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        rows[key] = {"params": arm.n_params(), "wall": wall, "cpu": cpu,
                     "ex_per_s": n_ex / wall, "ex_per_cpu_s": n_ex / cpu,
                     "loss": float(np.nanmean(losses[-5:]))}
        print(f"  {key}: {n_ex / wall:.1f} ex/s wall, {n_ex / cpu:.1f} ex/CPU-s "
              f"({args.steps} steps, {wall:.1f} s wall, {cpu:.1f} CPU-s)", flush=True)

    best = max(r["ex_per_cpu_s"] for r in rows.values())
    print()
    print("| arm | params | examples/s (wall) | examples/CPU-s | CPU-ms/example | vs fastest |")
    print("|---|---|---|---|---|---|")
    for key, r in rows.items():
        name = ARM_NAMES[key] + (f" ({args.iters} iters)" if key in ("c1", "c2") else "")
        print(f"| {name} | {r['params']:,} | {r['ex_per_s']:.1f} | {r['ex_per_cpu_s']:.1f} | "
              f"{1000 / r['ex_per_cpu_s']:.2f} | {r['ex_per_cpu_s'] / best:.3f}x |")
    print("\nload average after: " + " ".join(f"{v:.2f}" for v in os.getloadavg())
          + f" ({os.cpu_count()} CPUs; wall rates depend on it, CPU rates much less)")


if __name__ == "__main__":
    main()
