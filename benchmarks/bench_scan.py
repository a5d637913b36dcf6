"""Parameter scan: sbmleq's batched prediction against the ways a user scans with roadrunner.

    python benchmarks/bench_scan.py [--nodes 24] [--sets 2000] [--fresh 20] [--repeats 3]
                                    [--threads 1] [--seed 3]

One random LIFE network (``gnm``, log-uniform rates within the shipped model's training range)
is written as SBML with :func:`sbmleq.io.sbml_export.network_to_sbml`. Every parameter set scales all
rate constants, intakes and excretions by independent factors ``10**U(-0.5, 0.5)``. Arms, all
warmed up on a few sets first, then timed side by side in each of ``--repeats`` repeats (arm
order rotated between repeats):

1. ``sbmleq.scan`` (:meth:`sbmleq.api.Session.scan`, model already loaded): the SBML file is
   imported, the parameter columns (edge keys ``"x0->x3"``, ``"intake:x1"``, ...) mapped, and all
   sets predicted in batches; also the bare :meth:`Predictor.scan` forward passes alone;
2. roadrunner scripted: load the model once, then per set one vector call
   ``r.model.setGlobalParameterValues(indices, values)`` (int32 indices; ~60x faster than
   ``r[pid] = value`` per parameter, and faster than ``r.setValues(ids, values)``, which loops
   over the ids) and ``steadyState()`` (warm start from the previous solution), with
   conserved-moiety analysis set through ``LoadSBMLOptions`` (roadrunner's fast configuration)
   for all sets, and with roadrunner's default settings for ``--fresh`` sets (extrapolated: a
   default solve is ~1000x slower); the model load is included;
3. roadrunner fresh: a new ``RoadRunner(sbml, options)`` + ``steadyState()`` per variant (same
   load options); only ``--fresh`` variants are run and the per-model time is extrapolated;
4. sbmleq's exact batched solver (:func:`sbmleq.core.exact.solve_dense_batch`) on the same sets.

Every arm runs with the same thread count (``--threads``: env vars set before NumPy is imported,
then threadpoolctl). It also times, once, the one-off cost of keying a scan by SBML parameter
ids (each is mapped by re-importing the model twice). Accuracy of every arm is the median
relative L1 error ``sum|x - x_exact| / sum|x_exact|`` against the exact solution. Ratios are
per-repeat ratios (arm time / sbmleq scan time, both from the same repeat): median [min-max].
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402

# One thread per arm by default (as the command line does for BLAS): on a busy machine
# OpenBLAS's extra threads slow numpy's batched matrix products down many times over.
THREADS = _timing.pre_parse_threads(default=1)
_timing.limit_threads_env(THREADS)  # before numpy is imported

import argparse  # noqa: E402
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
from sbmleq.compare import rel_l1_array  # noqa: E402

SCAN = "sbmleq scan (SBML file -> predictions)"
FORWARD = "sbmleq Predictor.scan (forward only)"
EXACT = "sbmleq exact solve_dense_batch"
SCRIPTED = "roadrunner scripted (load once, re-solve)"
DEFAULT = "roadrunner scripted, default settings (extrap.)"
FRESH = "roadrunner fresh load per variant (extrap.)"


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
    return rel_l1_array(x, ref, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=24)
    ap.add_argument("--sets", type=int, default=2000)
    ap.add_argument("--fresh", type=int, default=20,
                    help="sets run by the slow roadrunner arms (extrapolated to --sets)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats of every arm")
    ap.add_argument("--warmup", type=int, default=8, help="sets in each arm's warm-up call")
    ap.add_argument("--threads", type=int, default=THREADS,
                    help="threads for every arm (BLAS, OpenMP)")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()

    import roadrunner

    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_CRITICAL)
    thread_line = _timing.apply_thread_limits(args.threads)

    net = pick_network(args.nodes, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    k = args.sets
    m = max(1, min(args.fresh, k))
    w_n = max(1, min(args.warmup, k))
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
    rr_matrix = np.ascontiguousarray(np.stack(rr_values, axis=1))
    sbml = network_to_sbml(net)
    # SBML text per variant for the fresh-load arm, written outside the timings
    texts = [network_to_sbml(net.with_parameters(weight[j], intake[j], excretion[j]))
             for j in range(m)]

    def scripted(moiety: bool, count: int, check: bool = False) -> tuple[np.ndarray, float, int]:
        """Load once, then per set: one vector parameter call and steadyState()."""
        options = roadrunner.LoadSBMLOptions()
        options.conservedMoieties = moiety  # at load: setting it afterwards recompiles
        t_load = time.perf_counter()
        r = roadrunner.RoadRunner(sbml, options)
        load_s = time.perf_counter() - t_load

        def parameter_index(model) -> tuple[int, np.ndarray]:
            gids = list(model.getGlobalParameterIds())
            missing = [pid for pid in rr_ids if pid not in gids]
            if missing:
                raise SystemExit(f"parameter ids not in the SBML: {missing[:5]}")
            return len(gids), np.array([gids.index(pid) for pid in rr_ids], dtype=np.int32)

        n_globals, index = parameter_index(r.model)
        order = [nodes.index(str(sp)) for sp in r.model.getFloatingSpeciesIds()]
        out = np.full((count, net.n_nodes), np.nan)
        failures = 0
        for j in range(count):
            # r.model afresh each set: with default settings steadyState() may switch on
            # conserved-moiety analysis itself and regenerate the model, which leaves an
            # earlier r.model (or its bound method) dangling (a segfault in 2.10).
            model = r.model
            if model.getNumGlobalParameters() != n_globals:
                n_globals, index = parameter_index(model)
            model.setGlobalParameterValues(index, rr_matrix[j])
            if check:  # warm-up only: the vector setter really set every parameter
                got = np.asarray(model.getGlobalParameterValues())[index]
                if not np.array_equal(got, rr_matrix[j]):
                    raise SystemExit("setGlobalParameterValues did not set the parameters")
            try:
                r.steadyState()
            except RuntimeError:
                failures += 1
                r.reset()
                continue
            out[j, order] = r.model.getFloatingSpeciesConcentrations()
        return out, load_s, failures

    def fresh(count: int) -> np.ndarray:
        out = np.full((count, net.n_nodes), np.nan)
        for j, text in enumerate(texts[:count]):
            options = roadrunner.LoadSBMLOptions()
            options.conservedMoieties = True
            rf = roadrunner.RoadRunner(text, options)
            try:
                rf.steadyState()
            except RuntimeError:
                continue
            idx = [nodes.index(str(sp)) for sp in rf.model.getFloatingSpeciesIds()]
            out[j, idx] = rf.model.getFloatingSpeciesConcentrations()
        return out

    def exact(count: int) -> tuple[np.ndarray, np.ndarray]:
        raws = [(net.n_nodes, net.src, net.dst, weight[j], intake[j], excretion[j])
                for j in range(count)]
        return solve_dense_batch(DenseBatch.from_raw(raws))

    seconds: dict[str, list[float]] = {name: [] for name in
                                       (SCAN, FORWARD, EXACT, SCRIPTED, DEFAULT, FRESH)}
    x: dict[str, np.ndarray] = {}
    info: dict[str, object] = {}

    with tempfile.TemporaryDirectory() as tmp, Session() as session:
        path = Path(tmp) / "scan.xml"
        path.write_text(sbml)
        predictor = session.predictor()  # load the model outside the timings

        def run_scan(count: int) -> np.ndarray:
            return session.scan(path, frame.iloc[:count]).predicted

        def run_forward(count: int) -> np.ndarray:
            return predictor.scan(net, weight=weight[:count], intake=intake[:count],
                                  excretion=excretion[:count])[1]

        # warm-up: first SBML import (sympy etc.), scipy imports, LLVM initialisation, ...
        run_scan(w_n)
        run_forward(w_n)
        exact(w_n)
        scripted(True, w_n, check=True)
        scripted(False, 1)
        fresh(1)

        def timed(name: str) -> None:
            t = time.perf_counter()
            if name == SCAN:
                x[name] = run_scan(k)
            elif name == FORWARD:
                x[name] = run_forward(k)
            elif name == EXACT:
                info["exists"], x[name] = exact(k)
            elif name == SCRIPTED:
                x[name], info["load_s"], info["failures"] = scripted(True, k)
            elif name == DEFAULT:
                # default settings on m sets, extrapolated to k (model load counted once)
                x[name], load_s, info["default_failures"] = scripted(False, m)
                per = (time.perf_counter() - t - load_s) / m
                seconds[name].append(load_s + per * k)
                return
            elif name == FRESH:
                x[name] = fresh(m)
                seconds[name].append((time.perf_counter() - t) / m * k)
                return
            seconds[name].append(time.perf_counter() - t)

        for rep in range(args.repeats):
            for name in _timing.rotated(list(seconds), rep):
                timed(name)

        # one-off cost of keying by SBML parameter ids (two re-imports per parameter)
        few = rr_ids[:3]
        t = time.perf_counter()
        by_id = session.scan(path, pd.DataFrame({pid: rr_matrix[:, j] for j, pid in
                                                 enumerate(few)}))
        id_setup = time.perf_counter() - t
        assert len(by_id) == k

    # report
    x_exact = x[EXACT]
    exists = info["exists"]
    print(f"parameter scan: {net.n_nodes} species, {net.n_edges} edges, "
          f"{len(rr_ids)} parameters varied, {k} sets ({m} for the extrapolated arms), "
          f"{args.repeats} repeats after a {w_n}-set warm-up per arm; {os.cpu_count()} CPUs, "
          f"load average {_timing.load_average():.1f}; model {predictor.path.name}")
    print(thread_line)
    print(f"roadrunner {roadrunner.__version__}: conservedMoieties via LoadSBMLOptions, parameters "
          f"by r.model.setGlobalParameterValues(int32 indices, values)")
    base = seconds[SCAN]
    rows = []
    ratio_of: dict[str, _timing.Spread] = {}
    for name, values in seconds.items():
        ref = x_exact if len(x[name]) == k else x_exact[: len(x[name])]
        err = np.nanmedian(rel_l1(x[name], ref))
        ratio_of[name] = _timing.spread(_timing.ratios(values, base))
        label = name + (f" ({m} sets run, x{k / m:.4g})" if name in (DEFAULT, FRESH) else "")
        rows.append((label, _timing.spread(values).fmt(".3g"),
                     _timing.spread([1e3 * v / k for v in values]).fmt(".3g"),
                     "1 (baseline)" if name == SCAN else ratio_of[name].fmt(".3g"),
                     f"{err:.2e}"))
    print()
    print(_timing.table(("arm", "total s", "ms/set", "x sbmleq scan time", "med rel L1"), rows))
    print(f"({_timing.SPREAD_NOTE}; x sbmleq scan time > 1: sbmleq scan is faster)")
    print(f"\nroadrunner scripted: model load {info['load_s']:.3f} s (last repeat), "
          f"{info['failures']} failed solves of {k} ({info['default_failures']} of {m} with "
          f"default settings); exact: {int(exists.sum())}/{k} sets have an equilibrium")
    print(f"keying a scan by {len(few)} SBML parameter ids ({', '.join(few)}) instead of edges: "
          f"{id_setup:.2f} s including the {k} predictions (once)")
    exact_speed = _timing.spread(_timing.ratios(base, seconds[EXACT]))
    print(f"median model error {np.nanmedian(rel_l1(x[SCAN], x_exact)):.3g} (relative L1, "
          f"shipped model); the exact batched solve is {exact_speed.fmt('.1f')}x faster than "
          f"the model's scan, and exact: the model's value is on models outside what a linear "
          f"solve covers")
    print("summary (arm time / sbmleq scan time, median [min-max] of per-repeat ratios): "
          f"roadrunner scripted {ratio_of[SCRIPTED].fmt('.3g')} (sbmleq scan "
          f"{_timing.spread(_timing.ratios(base, seconds[SCRIPTED])).fmt('.3g')}x slower); "
          f"roadrunner default settings "
          f"{ratio_of[DEFAULT].fmt('.3g')}; roadrunner fresh loads {ratio_of[FRESH].fmt('.3g')}; "
          f"Predictor.scan alone {ratio_of[FORWARD].fmt('.3g')}; "
          f"exact {ratio_of[EXACT].fmt('.3g')}")


if __name__ == "__main__":
    main()
