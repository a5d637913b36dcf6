"""Parameter scan: sbmleq's batched prediction against the ways a user scans with roadrunner.

    python benchmarks/bench_scan.py [--nodes 24] [--sets 2000] [--fresh 20] [--seed 3]

One random LIFE network (``gnm``, log-uniform rates within the shipped model's training range)
is written as SBML with :func:`sbmleq.io.sbml_export.network_to_sbml`. Every parameter set scales all
rate constants, intakes and excretions by independent factors ``10**U(-0.5, 0.5)``. Arms, all
measured side by side in this one run:

1. ``sbmleq.scan`` (:meth:`sbmleq.api.Session.scan`, model already loaded): the SBML file is
   imported, the parameter columns (edge keys ``"x0->x3"``, ``"intake:x1"``, ...) mapped, and all
   sets predicted in batches; also the bare :meth:`Predictor.scan` forward passes alone;
2. roadrunner scripted: load the model once, then per set ``r[pid] = value`` for every
   parameter and ``steadyState()`` (warm start from the previous solution), with conserved-moiety
   analysis on (roadrunner's fast configuration) for all sets, and with roadrunner's default
   settings for ``--fresh`` sets (extrapolated: a default solve is ~1000x slower);
3. roadrunner fresh: a new ``RoadRunner(sbml)`` + ``steadyState()`` per variant; only
   ``--fresh`` variants are run and the per-model time is extrapolated to all sets;
4. sbmleq's exact batched solver (:func:`sbmleq.core.exact.solve_dense_batch`) on the same sets.

It also times the one-off cost of keying a scan by SBML parameter ids (each is mapped by
re-importing the model twice). Accuracy of every arm is the median relative L1 error
``sum|x - x_exact| / sum|x_exact|`` against the exact solution.
"""

from __future__ import annotations

import os

# One BLAS thread (as the command line does) unless OPENBLAS_NUM_THREADS is set: on a busy
# machine OpenBLAS's extra threads slow numpy's batched matrix products down many times over.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sbmleq.api import Session  # noqa: E402
from sbmleq.core.exact import DenseBatch, equilibrium_exists, solve_dense_batch  # noqa: E402
from sbmleq.core.generators import GeneratorConfig, sample_network  # noqa: E402
from sbmleq.core.network import Network  # noqa: E402
from sbmleq.io.sbml_export import network_to_sbml  # noqa: E402


def pick_network(n: int, seed: int) -> Network:
    cfg = GeneratorConfig(family="gnm", n_min=n, n_max=n, intakes=(1, 3), excretions=(1, 3),
                          weights="loguniform", decades=2.0, redeem=1.0)
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        net = sample_network(cfg, rng).to_network(name=f"scan{n}")
        if equilibrium_exists(net):
            return net
    raise SystemExit("no network with an equilibrium found")


def rel_l1(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(x - ref).sum(axis=1) / np.abs(ref).sum(axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=24)
    ap.add_argument("--sets", type=int, default=2000)
    ap.add_argument("--fresh", type=int, default=20,
                    help="sets run by the slow roadrunner arms (extrapolated to --sets)")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()

    import roadrunner

    net = pick_network(args.nodes, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    k = args.sets
    weight = net.weight * 10.0 ** rng.uniform(-0.5, 0.5, (k, net.n_edges))
    intake = net.intake * 10.0 ** rng.uniform(-0.5, 0.5, (k, net.n_nodes))
    excretion = net.excretion * 10.0 ** rng.uniform(-0.5, 0.5, (k, net.n_nodes))
    nodes = net.nodes
    columns: dict[str, np.ndarray] = {}
    rr_ids: list[str] = []
    rr_values: list[np.ndarray] = []
    for e, (s, t) in enumerate(zip(net.src, net.dst)):
        columns[f"{nodes[s]}->{nodes[t]}"] = weight[:, e]
        rr_ids.append(f"k_{nodes[s]}_{nodes[t]}")
        rr_values.append(weight[:, e])
    for i in net.intake_nodes:
        columns[f"intake:{nodes[i]}"] = intake[:, i]
        rr_ids.append(f"phi_{nodes[i]}")
        rr_values.append(intake[:, i])
    for i in net.excreting_nodes:
        columns[f"excretion:{nodes[i]}"] = excretion[:, i]
        rr_ids.append(f"e_{nodes[i]}")
        rr_values.append(excretion[:, i])
    frame = pd.DataFrame(columns)
    rr_matrix = np.stack(rr_values, axis=1)
    sbml = network_to_sbml(net)
    times: dict[str, float] = {}
    x: dict[str, np.ndarray] = {}

    with tempfile.TemporaryDirectory() as tmp, Session() as session:
        path = Path(tmp) / "scan.xml"
        path.write_text(sbml)
        session.predictor()  # load the model outside the timings
        session.scan(path, frame.iloc[:8])  # warm up (first import pays for sympy etc.)

        # 1. sbmleq batched scan, end to end from the SBML file; and the forward passes alone
        t = time.perf_counter()
        result = session.scan(path, frame)
        times["sbmleq scan (SBML file -> predictions)"] = time.perf_counter() - t
        x["sbmleq scan (SBML file -> predictions)"] = result.predicted
        predictor = session.predictor()
        t = time.perf_counter()
        _, x_model = predictor.scan(net, weight=weight, intake=intake, excretion=excretion)
        times["sbmleq Predictor.scan (forward only)"] = time.perf_counter() - t
        x["sbmleq Predictor.scan (forward only)"] = x_model

        # one-off cost of keying by SBML parameter ids (two re-imports per parameter)
        few = rr_ids[:3]
        t = time.perf_counter()
        by_id = session.scan(path, pd.DataFrame({pid: rr_matrix[:, j] for j, pid in
                                                 enumerate(few)}))
        id_setup = time.perf_counter() - t
        assert len(by_id) == k

    # 4. exact batched solver
    t = time.perf_counter()
    raws = [(net.n_nodes, net.src, net.dst, weight[j], intake[j], excretion[j]) for j in range(k)]
    exists, x_exact = solve_dense_batch(DenseBatch.from_raw(raws))
    times["sbmleq exact solve_dense_batch"] = time.perf_counter() - t
    x["sbmleq exact solve_dense_batch"] = x_exact

    # 2. roadrunner scripted: load once, set parameters, re-solve (warm start from the last
    # solution). With conserved-moiety analysis on (the fast configuration; a LIFE network has
    # no conserved moiety, so the answer is the same) for all sets, and with roadrunner's
    # default settings for the first --fresh sets (extrapolated).
    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_CRITICAL)

    def scripted(moiety: bool, count: int) -> tuple[np.ndarray, float, float, int]:
        options = roadrunner.LoadSBMLOptions()
        options.conservedMoieties = moiety
        t_load = time.perf_counter()
        r = roadrunner.RoadRunner(sbml, options)
        load_s = time.perf_counter() - t_load
        order = [nodes.index(str(sp)) for sp in r.model.getFloatingSpeciesIds()]
        missing = [pid for pid in rr_ids if pid not in r.model.getGlobalParameterIds()]
        if missing:
            raise SystemExit(f"parameter ids not in the SBML: {missing[:5]}")
        out = np.full((count, net.n_nodes), np.nan)
        failures = 0
        t = time.perf_counter()
        for j in range(count):
            for pid, value in zip(rr_ids, rr_matrix[j]):
                r[pid] = value
            try:
                r.steadyState()
            except RuntimeError:
                failures += 1
                r.reset()
                continue
            out[j, order] = r.model.getFloatingSpeciesConcentrations()
        return out, time.perf_counter() - t, load_s, failures

    x_rr, solve_s, load_s, failures = scripted(True, k)
    times["roadrunner scripted (load once, re-solve)"] = solve_s + load_s
    x["roadrunner scripted (load once, re-solve)"] = x_rr
    m = min(args.fresh, k)
    x_default, default_s, _, default_failures = scripted(False, m)
    default_per = default_s / m

    # 3. roadrunner fresh model per variant (a subset, extrapolated)
    texts = [network_to_sbml(net.with_parameters(weight[j], intake[j], excretion[j]))
             for j in range(m)]
    x_fresh = np.full((m, net.n_nodes), np.nan)
    options = roadrunner.LoadSBMLOptions()
    options.conservedMoieties = True
    t = time.perf_counter()
    for j, text in enumerate(texts):
        rf = roadrunner.RoadRunner(text, options)
        try:
            rf.steadyState()
        except RuntimeError:
            continue
        idx = [nodes.index(str(sp)) for sp in rf.model.getFloatingSpeciesIds()]
        x_fresh[j, idx] = rf.model.getFloatingSpeciesConcentrations()
    fresh_per = (time.perf_counter() - t) / m

    # report
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"parameter scan: {net.n_nodes} species, {net.n_edges} edges, "
          f"{len(rr_ids)} parameters varied, {k} sets; {os.cpu_count()} CPUs, "
          f"load average {load:.1f}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; "
          f"model {predictor.path.name}")
    print(f"{'arm':48s} {'total s':>9s} {'ms/set':>8s} {'sets/s':>9s} {'med rel L1':>11s}")
    rows = []
    for name, seconds in times.items():
        err = rel_l1(x[name], x_exact)
        rows.append((name, seconds, seconds / k))
        print(f"{name:48s} {seconds:9.3f} {1e3 * seconds / k:8.3f} {k / seconds:9.0f} "
              f"{np.nanmedian(err):11.2e}")
    for name, per, xs in (("roadrunner scripted, default settings (extrap.)", default_per,
                           x_default),
                          ("roadrunner fresh load per variant (extrap.)", fresh_per, x_fresh)):
        err = rel_l1(xs, x_exact[:m])
        print(f"{name:48s} {per * k:9.3f} {1e3 * per:8.3f} {1 / per:9.0f} "
              f"{np.nanmedian(err):11.2e}   ({m} sets run, x{k / m:g})")
        rows.append((name, per * k, per))
    print(f"\nroadrunner scripted: model load {load_s:.3f} s, conserved-moiety analysis on; "
          f"{failures} failed solves of {k} ({default_failures} of {m} with default settings); "
          f"exact: {int(exists.sum())}/{k} sets have an equilibrium")
    print(f"keying a scan by {len(few)} SBML parameter ids ({', '.join(few)}) instead of edges: "
          f"{id_setup:.2f} s including the {k} predictions")
    base = times["sbmleq scan (SBML file -> predictions)"]
    print("\nratios (time of arm / time of sbmleq scan; > 1: sbmleq scan is faster):")
    for name, seconds, _ in rows:
        print(f"  {name:48s} {seconds / base:8.2f}")
    exact_s = times["sbmleq exact solve_dense_batch"]
    print(f"  (exact batched solve is {base / exact_s:.1f}x faster than the model's scan, and "
          f"exact; the model's value is on models outside what a linear solve covers)")
    print(f"  median model error {statistics.median(rel_l1(result.predicted, x_exact)):.3g} "
          "(relative L1, shipped model)")


if __name__ == "__main__":
    main()
