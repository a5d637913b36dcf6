"""Inference throughput on a batch of different in-memory networks, measured side by side.

    python benchmarks/bench_inference.py [--networks 256] [--repeats 3] [--threads 1] [--pt shipped]

Arms, all on the same ``--networks`` networks, each warmed up first (on ``--warmup`` networks)
and timed in every one of ``--repeats`` repeats (arm order rotated between repeats):

- sbmleq's shipped model, NumPy path; and the PyTorch path with ``--pt PATH`` (a ``.pt``
  checkpoint) or ``--pt shipped`` (the shipped weights written to a temporary ``.pt``);
- sbmleq's exact batched solver (:func:`sbmleq.core.exact.solve_batch`); its first call imports
  ``scipy.sparse.csgraph``, which the warm-up pays for;
- roadrunner loading and solving each network as SBML text (what a user does per model), in its
  fast configuration: conserved-moiety analysis set through ``LoadSBMLOptions`` at load
  (setting ``rr.conservedMoietyAnalysis`` after the load recompiles the model, ~2x slower).

Every arm runs with the same thread count (``--threads``; the env vars are set before NumPy is
imported, then threadpoolctl and ``torch.set_num_threads`` pin the loaded pools). Prints
networks per second per arm and each arm's speed over roadrunner as the median and min-max of
the per-repeat ratios. The SBML text for roadrunner is written outside the timings.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402

THREADS = _timing.pre_parse_threads(default=1)
_timing.limit_threads_env(THREADS)  # before numpy is imported

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from sbmleq.core.exact import solve_batch  # noqa: E402
from sbmleq.core.generators import GeneratorConfig, generate  # noqa: E402
from sbmleq.io.sbml_export import network_to_sbml  # noqa: E402
from sbmleq.model.predictor import Predictor  # noqa: E402
from sbmleq.compare import rel_l1_array  # noqa: E402

RR = "roadrunner load + steadyState per model"


def shipped_as_pt(predictor: Predictor, folder: Path) -> Path:
    """The shipped .npz weights as a .pt checkpoint (same weights, run by the PyTorch path)."""
    import torch

    from sbmleq.model.checkpoint import save_checkpoint
    from sbmleq.model.torch_model import ModelConfig, build_model

    cfg = ModelConfig.from_dict(predictor.config)
    model = build_model(cfg)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32))
                           for k, v in predictor._np.w.items()})
    path = folder / "shipped.pt"
    save_checkpoint(path, model, cfg)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", type=int, default=256, help="networks every arm solves")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats of every arm")
    ap.add_argument("--warmup", type=int, default=8, help="networks in each arm's warm-up call")
    ap.add_argument("--threads", type=int, default=THREADS,
                    help="threads for every arm (BLAS, OpenMP, torch)")
    ap.add_argument("--n-min", type=int, default=16)
    ap.add_argument("--n-max", type=int, default=32)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pt", default=None,
                    help="also time the PyTorch path: a .pt checkpoint, or 'shipped'")
    args = ap.parse_args()

    cfg = GeneratorConfig(weights="loguniform", n_min=args.n_min, n_max=args.n_max,
                          intakes=(1, 3), excretions=(1, 3), redeem=1.0)
    nets = generate(cfg, args.networks, seed=args.seed)
    warm = nets[: max(1, args.warmup)]
    sbml = [network_to_sbml(n) for n in nets]
    warm_sbml = sbml[: len(warm)]

    import roadrunner

    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_CRITICAL)

    tmp = tempfile.TemporaryDirectory()
    predictor = Predictor()
    arms: dict[str, callable] = {"sbmleq model (NumPy, CPU)": predictor.predict_networks}
    if args.pt:
        pt = shipped_as_pt(predictor, Path(tmp.name)) if args.pt == "shipped" else args.pt
        torch_predictor = Predictor(pt, n_iters=predictor.config["n_iters"])
        arms["sbmleq model (PyTorch, CPU)"] = torch_predictor.predict_networks
    arms["sbmleq exact batched solver"] = solve_batch

    def rr_solve(texts: list[str]) -> tuple[list[np.ndarray | None], int]:
        out: list[np.ndarray | None] = []
        failures = 0
        for text in texts:
            options = roadrunner.LoadSBMLOptions()
            options.conservedMoieties = True  # at load: no recompile
            r = roadrunner.RoadRunner(text, options)
            try:
                r.steadyState()
            except RuntimeError:
                failures += 1
                out.append(None)
                continue
            out.append((list(r.model.getFloatingSpeciesIds()),
                        np.array(r.model.getFloatingSpeciesConcentrations())))
        return out, failures

    thread_line = _timing.apply_thread_limits(args.threads)  # after torch (if any) is loaded

    # Inputs per arm: networks for sbmleq, SBML text for roadrunner.
    def call(name: str, full: bool):
        if name == RR:
            return rr_solve(sbml if full else warm_sbml)
        return arms[name](nets if full else warm)

    names = list(arms) + [RR]
    for name in names:  # warm-up: imports, JIT/LLVM initialisation, first allocations
        call(name, full=False)

    seconds: dict[str, list[float]] = {name: [] for name in names}
    outputs: dict[str, object] = {}
    for rep in range(args.repeats):
        for name in _timing.rotated(names, rep):
            t0 = time.perf_counter()
            result = call(name, full=True)
            seconds[name].append(time.perf_counter() - t0)
            outputs[name] = result

    # accuracy against the exact solution
    exists, xs = outputs["sbmleq exact batched solver"]
    errors: dict[str, str] = {"sbmleq exact batched solver": "0 (reference)"}
    for name in arms:
        if name == "sbmleq exact batched solver":
            continue
        preds = outputs[name]
        errs = [rel_l1_array(p.concentrations, x) for p, e, x in zip(preds, exists, xs)
                if e and p.concentrations is not None]
        right = np.mean([p.equilibrium_exists == e for p, e in zip(preds, exists)])
        errors[name] = f"{np.median(errs):.2e} (exists right {right:.3f})" if errs else "n/a"
    rr_out, rr_failures = outputs[RR]
    rr_errs = []
    for net, e, x, got in zip(nets, exists, xs, rr_out):
        if e and got is not None:
            ids, conc = got
            order = [net.nodes.index(s) for s in ids]
            rr_errs.append(rel_l1_array(conc, x[order]))
    errors[RR] = (f"{np.median(rr_errs):.2e} ({rr_failures} failed)" if rr_errs
                  else f"n/a ({rr_failures} failed)")

    n = len(nets)
    print(f"inference: {n} networks ({args.n_min}-{args.n_max} nodes, {int(np.sum(exists))} with "
          f"an equilibrium), {args.repeats} repeats after a {len(warm)}-network warm-up per arm; "
          f"{os.cpu_count()} CPUs, load average {_timing.load_average():.1f}")
    print(thread_line)
    print(f"roadrunner {roadrunner.__version__}: conservedMoieties=True via LoadSBMLOptions; "
          f"model n_iters={predictor.config.get('n_iters')}")
    rows = []
    speedups = {}
    for name in names:
        rate = _timing.spread([n / s for s in seconds[name]])
        ratio = _timing.spread(_timing.ratios(seconds[RR], seconds[name]))
        speedups[name] = ratio
        rows.append((name, rate.fmt(".1f"), "1 (baseline)" if name == RR else ratio.fmt(".2f"),
                     errors[name]))
    print()
    print(_timing.table(("arm", "networks/s", "x roadrunner (per-repeat)", "median rel L1"), rows))
    print(f"({_timing.SPREAD_NOTE})")
    print("summary (speed over roadrunner, median [min-max] of per-repeat ratios): "
          + "; ".join(f"{name} {speedups[name].fmt('.1f')}x" for name in names if name != RR))
    tmp.cleanup()


if __name__ == "__main__":
    main()
