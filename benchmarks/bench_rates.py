"""Rate laws: compiled right-hand sides and Jacobians per second against roadrunner.

    python benchmarks/bench_rates.py [--model BIOMD0000000143] [--sets 10000] [--rr-sets 2000]
                                     [--repeats 5] [--threads 1] [--seed 0]

One curated nonlinear model (default: Olsen2003, 20 species, 20 reactions with Hill and
bimolecular mass-action laws, 24 global parameters) is imported as a reaction network and its
laws compiled once (:func:`sbmleq.core.compile.compile_network`). ``--sets`` parameter sets
scale every global parameter by an independent factor ``10**U(-0.5, 0.5)``; each set has its
own state (the initial state scaled the same way). Arms, warmed up first, timed side by side in
each repeat (order rotated):

1. sbmleq NumPy: ``rhs(X, P)`` and ``jacobian(X, P)`` on the whole batch in one call;
2. sbmleq torch (CPU, float64): ``torch_rhs`` on the batch (``--torch``);
3. roadrunner, one state at a time as a script does it: the model loaded once, then per set
   one vector call ``model.setGlobalParameterValues(indices, values)`` and
   ``model.setFloatingSpeciesConcentrations(indices, values)``, then
   ``model.getFloatingSpeciesConcentrationRates()`` (the rates of change); for the Jacobian
   ``getFullJacobian()`` (roadrunner's own, computed at the current state), and forward
   differences of the rates (n + 1 vector calls: the faster way a script gets one; Jacobian
   ratios are against this arm). Roadrunner runs ``--rr-sets`` sets (a tenth of that for
   Jacobians); its rate per second is what it sustains.

Agreement: for ``--check`` sets, sbmleq's rhs against roadrunner's concentration rates and
Jacobians. Prints
evaluations per second (median [min-max] over repeats) and the ratio to roadrunner.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402  (thread limits before numpy)

_timing.limit_threads_env(_timing.pre_parse_threads())

import numpy as np  # noqa: E402

from sbmleq.core.compile import compile_network  # noqa: E402
from sbmleq.io.general_import import import_reaction_network_from  # noqa: E402

CURATED = Path(__file__).resolve().parents[2] / "shared" / "biomodels" / "curated"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="BIOMD0000000143")
    ap.add_argument("--sets", type=int, default=10_000)
    ap.add_argument("--rr-sets", type=int, default=2_000)
    ap.add_argument("--check", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--torch", action="store_true")
    args = ap.parse_args()
    import roadrunner  # the reference arm

    pools = _timing.apply_thread_limits(args.threads)
    path = CURATED / f"{args.model}.xml"
    t = time.perf_counter()
    net = import_reaction_network_from(path).require()
    t_import = time.perf_counter() - t
    t = time.perf_counter()
    cn = compile_network(net)
    t_compile = time.perf_counter() - t
    rr = roadrunner.RoadRunner(str(path))
    model = rr.model
    gids = list(model.getGlobalParameterIds())
    fids = list(model.getFloatingSpeciesIds())
    if list(cn.state_ids) != fids:
        raise SystemExit(f"state order differs: {cn.state_ids} vs {fids}")
    varied = [g for g in gids if g in cn.parameter_ids]
    rng = np.random.default_rng(args.seed)
    n = args.sets
    p = np.tile(cn.p0, (n, 1))
    pcols = [cn.parameter_ids.index(g) for g in varied]
    p[:, pcols] *= 10 ** rng.uniform(-0.5, 0.5, size=(n, len(pcols)))
    x = cn.x0 * 10 ** rng.uniform(-0.5, 0.5, size=(n, cn.n_state))
    x = np.where(x == 0, rng.uniform(0, 1, size=x.shape), x)
    gidx = np.array([gids.index(g) for g in varied], dtype=np.int32)
    fidx = np.arange(len(fids), dtype=np.int32)

    def rr_rates(k: int) -> np.ndarray:
        model.setGlobalParameterValues(gidx, p[k, pcols])
        model.setFloatingSpeciesConcentrations(fidx, x[k])
        return np.asarray(model.getFloatingSpeciesConcentrationRates())

    def rr_jac(k: int) -> np.ndarray:
        model.setGlobalParameterValues(gidx, p[k, pcols])
        model.setFloatingSpeciesConcentrations(fidx, x[k])
        return np.asarray(rr.getFullJacobian())

    def rr_fd_jac(k: int) -> np.ndarray:
        """What a script can do faster than getFullJacobian: forward differences of the
        rates, n + 1 vector calls."""
        model.setGlobalParameterValues(gidx, p[k, pcols])
        base = x[k]
        model.setFloatingSpeciesConcentrations(fidx, base)
        f0 = np.asarray(model.getFloatingSpeciesConcentrationRates())
        cols = []
        for i in range(len(base)):
            h = 1e-7 * max(abs(base[i]), 1e-7)
            step = base.copy()
            step[i] += h
            model.setFloatingSpeciesConcentrations(fidx, step)
            cols.append((np.asarray(model.getFloatingSpeciesConcentrationRates()) - f0) / h)
        return np.stack(cols, axis=1)

    # agreement (roadrunner's state-vector rates are amounts per time)
    f = cn.rhs(x[:args.check], p[:args.check])
    errs, jerrs = [], []
    for k in range(args.check):
        ref = rr_rates(k)
        errs.append(np.abs(f[k] - ref).max() / max(np.abs(ref).max(), 1e-300))
        jr = rr_jac(k)
        jm = cn.jacobian(x[k], p[k])
        jerrs.append(np.abs(jm - jr).max() / max(np.abs(jr).max(), 1e-300))
    arms = {
        "sbmleq rhs (NumPy, batch)": lambda: cn.rhs(x, p),
        "sbmleq Jacobian (NumPy, batch)": lambda: cn.jacobian(x, p),
        "roadrunner rates (one state at a time)": lambda: [rr_rates(k) for k in
                                                           range(args.rr_sets)],
        "roadrunner Jacobian (getFullJacobian)": lambda: [rr_jac(k) for k in
                                                          range(args.rr_sets // 10)],
        "roadrunner Jacobian (forward differences)": lambda: [rr_fd_jac(k) for k in
                                                              range(args.rr_sets // 10)],
    }
    counts = {k: n for k in arms}
    counts["roadrunner rates (one state at a time)"] = args.rr_sets
    counts["roadrunner Jacobian (getFullJacobian)"] = args.rr_sets // 10
    counts["roadrunner Jacobian (forward differences)"] = args.rr_sets // 10
    if args.torch:
        import torch  # optional arm

        xt, pt = torch.tensor(x), torch.tensor(p)
        arms["sbmleq rhs (torch CPU, batch)"] = lambda: cn.torch_rhs(xt, pt)
        counts["sbmleq rhs (torch CPU, batch)"] = n
    for fn in arms.values():  # warm-up
        fn()
    per_s: dict[str, list[float]] = {k: [] for k in arms}
    for r in range(args.repeats):
        for name in _timing.rotated(list(arms), r):
            t = time.perf_counter()
            arms[name]()
            per_s[name].append(counts[name] / (time.perf_counter() - t))
    rr_rhs = per_s["roadrunner rates (one state at a time)"]
    rr_j = per_s["roadrunner Jacobian (forward differences)"]
    rows = []
    for name, vals in per_s.items():
        base = rr_j if "Jacobian" in name else rr_rhs
        ratio = _timing.spread(_timing.ratios(vals, base))
        rows.append((name, _timing.spread(vals).fmt(".3g"), ratio.fmt(".3g")))
    print(f"model {args.model}: {cn.n_state} state variables, {cn.n_reactions} reactions, "
          f"{len(varied)} varied parameters; families {net.families()}")
    print(f"import {t_import:.3f} s, compile {t_compile:.3f} s; {n} sets (roadrunner "
          f"{args.rr_sets} rates, {args.rr_sets // 10} Jacobians); threads: {pools}")
    print(f"agreement with roadrunner over {args.check} sets: rhs max rel {max(errs):.2e}, "
          f"Jacobian max rel {max(jerrs):.2e}")
    print(_timing.table(("arm", "evaluations / s", "x roadrunner"), rows))
    print(_timing.SPREAD_NOTE)


if __name__ == "__main__":
    main()
