"""Inference throughput on a batch of different in-memory networks, measured side by side.

    python benchmarks/bench_inference.py --networks 256 --rr 12

Arms (same networks): sbmleq's shipped model (NumPy path, and the PyTorch path from a .pt
checkpoint when given), roadrunner loading and solving each network as SBML (what a user does per
model; measured on the first ``--rr`` networks and reported per network), and sbmleq's exact
batched solver. Prints networks per second and the ratios.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from sbmleq.core.exact import solve_batch  # noqa: E402
from sbmleq.core.generators import GeneratorConfig, generate  # noqa: E402
from sbmleq.model.predictor import Predictor  # noqa: E402
from sbmleq.io.sbml_export import network_to_sbml  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--networks", type=int, default=256)
    ap.add_argument("--rr", type=int, default=12, help="networks solved by roadrunner")
    ap.add_argument("--n-min", type=int, default=16)
    ap.add_argument("--n-max", type=int, default=32)
    ap.add_argument("--pt", default=None, help="also time the PyTorch path with this .pt checkpoint")
    args = ap.parse_args()

    cfg = GeneratorConfig(weights="loguniform", n_min=args.n_min, n_max=args.n_max,
                          intakes=(1, 3), excretions=(1, 3), redeem=1.0)
    nets = generate(cfg, args.networks, seed=7)
    print(f"{len(nets)} networks, {args.n_min}-{args.n_max} nodes; load average {os.getloadavg()[0]:.1f}")

    rates = {}
    predictor = Predictor()
    predictor.predict_networks(nets[:8])  # warm-up
    t0 = time.perf_counter()
    preds = predictor.predict_networks(nets)
    rates["sbmleq model (NumPy, CPU)"] = len(nets) / (time.perf_counter() - t0)
    if args.pt:
        tp = Predictor(args.pt, n_iters=predictor.config["n_iters"])
        tp.predict_networks(nets[:8])
        t0 = time.perf_counter()
        tp.predict_networks(nets)
        rates["sbmleq model (PyTorch, CPU)"] = len(nets) / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    exists, xs = solve_batch(nets)
    rates["sbmleq exact batched solver"] = len(nets) / (time.perf_counter() - t0)

    import roadrunner

    sbml = [network_to_sbml(n) for n in nets[: args.rr]]
    t0 = time.perf_counter()
    for text in sbml:
        rr = roadrunner.RoadRunner(text)
        rr.conservedMoietyAnalysis = True
        rr.steadyState()
    rates["roadrunner load + steadyState per model"] = args.rr / (time.perf_counter() - t0)

    errs = [np.abs(p.concentrations - x).sum() / x.sum() for p, e, x in zip(preds, exists, xs)
            if e and p.concentrations is not None]
    base = rates["roadrunner load + steadyState per model"]
    for name, rate in rates.items():
        print(f"{name:42s} {rate:12.1f} networks/s   {rate / base:10.1f}x roadrunner")
    print(f"model: existence right {np.mean([p.equilibrium_exists == e for p, e in zip(preds, exists)]):.3f}, "
          f"median rel-L1 {np.median(errs):.2e}")


if __name__ == "__main__":
    main()
