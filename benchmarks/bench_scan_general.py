"""General (nonlinear) parameter scan: sbmleq's verified scan, per confirmation mode, against
roadrunner's scripted loop.

    python benchmarks/bench_scan_general.py [--model BIOMD0000000389] [--params r,D,phi]
        [--sets 10000] [--repeats 3] [--check 200] [--batch 512] [--threads 1] [--seed 0]
        [--decades 0.5] [--timeout 30] [--modes none,sample,all]

One curated model is imported as a reaction network (default BIOMD0000000389, Arnold2011
Calvin cycle, 22 species, monostable in the box; the issue's BIOMD0000000143 oscillates
everywhere near its values, so it gives no steady-state throughput: docs/scan.md).
``--sets`` parameter sets: a Latin hypercube (:func:`sbmleq.general_scan.design_points`, log
axes) over ``--params`` (default: the first four positive global parameters), each within
``--decades`` (0.5) of its value.
All arms are warmed up on a few sets, run with one thread (``--threads``), and timed side by
side in each of ``--repeats`` repeats (order rotated):

1. sbmleq: :func:`sbmleq.general_scan.scan_network` on the sets (laws compiled once; the
   compile is included, the SBML import is not), once per ``--modes`` entry:
   ``confirm="none"`` (continuation from solved neighbours: every answer a verified stable
   fixed point, residual, sign, conservation and eigenvalues checked, not confirmed to be the
   one the dynamics reach), ``"sample"`` (the default: a sample and the regions where the
   continuation could be on another branch confirmed by simulation) and ``"all"`` (every set
   from the initial state, confirmed by a batched simulation: ``--batch`` sets per call);
2. roadrunner as an expert scripts it: the model loaded once (``LoadSBMLOptions`` with
   conserved-moiety analysis), then per set one vector call
   ``r.model.setGlobalParameterValues(indices, values)`` and ``r.steadyState()``, warm-started
   from the previous solution; when Newton fails, the staged fallback of sbmleq's roadrunner
   chain (:mod:`sbmleq.solvers.rr_stages`): reset to the initial state, presimulation, then a
   simulation to ``t = 1e4`` and a Newton polish; the load is included.

Right or wrong: for ``--check`` random sets a simulation truth is computed (roadrunner: reset,
``simulate`` to t = 1e6 with CVODE, then a ``steadyState()`` polish, kept only when the polish
moved the state by < 1e-3 relative L1; otherwise the set has no steady state that the
dynamics settle in). A set is right for an arm when both have a state and they agree within
1e-4 relative L1 over the floating species, or when neither has one (sbmleq: status
``stable``; roadrunner: ``steadyState()`` returned after the fallbacks). Prints sets/s per
arm, the time ratio median [min-max] of per-repeat ratios, the share right per arm and, per
sbmleq mode, how many rows a simulation confirmed.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402

THREADS = _timing.pre_parse_threads(default=1)
_timing.limit_threads_env(THREADS)  # before numpy is imported

import argparse  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sbmleq.compare import rel_l1_array  # noqa: E402
from sbmleq.core.compile import compile_network  # noqa: E402
from sbmleq.core.solve import SolveSettings  # noqa: E402
from sbmleq.general_scan import ScanAxis, design_points, scan_network  # noqa: E402
from sbmleq.io.general_import import import_reaction_network_from  # noqa: E402

CURATED = Path(__file__).resolve().parents[2] / "shared" / "biomodels" / "curated"
MODES = ("none", "sample", "all")
RR = "roadrunner scripted loop"
AGREE = 1e-4  # relative L1 for "right"


def arm_name(mode: str) -> str:
    return f"sbmleq confirm={mode}"


class Scripted:
    """roadrunner's loop as an expert writes it (module docstring, arm 2)."""

    def __init__(self, path: Path, params: list[str]) -> None:
        import roadrunner

        t = time.perf_counter()
        options = roadrunner.LoadSBMLOptions()
        options.conservedMoieties = True  # at load: switching it on later recompiles
        self.r = roadrunner.RoadRunner(str(path), options)
        self.load_s = time.perf_counter() - t
        gids = list(self.r.model.getGlobalParameterIds())
        missing = [p for p in params if p not in gids]
        if missing:
            raise SystemExit(f"roadrunner cannot set {missing} (global parameters: {gids})")
        self.index = np.array([gids.index(p) for p in params], dtype=np.int32)
        self.ids = [str(s) for s in self.r.model.getFloatingSpeciesIds()]
        self.stages: Counter[str] = Counter()
        self.solver = self.r.getSteadyStateSolver()
        self.solver.setValue("allow_presimulation", False)

    def _newton(self) -> bool:
        try:
            self.r.steadyState()
        except RuntimeError:
            return False
        return True

    def solve(self, values: np.ndarray) -> np.ndarray:
        r = self.r
        r.model.setGlobalParameterValues(self.index, values)
        stage = "warm newton"
        ok = self._newton()
        if not ok:  # from the initial state, with presimulation (parameters stay set)
            r.reset()
            self.solver.setValue("allow_presimulation", True)
            self.solver.setValue("presimulation_time", 1000.0)
            ok, stage = self._newton(), "presimulation"
            self.solver.setValue("allow_presimulation", False)
        if not ok:
            r.reset()
            try:
                r.simulate(0, 1e4, 2)
                ok, stage = self._newton(), "simulation+newton"
            except RuntimeError:
                ok = False
        if not ok:
            r.reset()  # the next set starts from the initial state
            self.stages["failed"] += 1
            return np.full(len(self.ids), np.nan)
        self.stages[stage] += 1
        return np.asarray(r.model.getFloatingSpeciesConcentrations(), dtype=np.float64)

    def run(self, points: np.ndarray) -> np.ndarray:
        return np.stack([self.solve(row) for row in points]) if len(points) else \
            np.zeros((0, len(self.ids)))


def truth(path: Path, params: list[str], points: np.ndarray, ids: list[str]) -> np.ndarray:
    """Simulation truth per set (module docstring), species in the order ``ids``; NaN rows:
    no settled steady state."""
    import roadrunner

    options = roadrunner.LoadSBMLOptions()
    options.conservedMoieties = True  # else steadyState() may regenerate the model (and lose
    r = roadrunner.RoadRunner(str(path), options)  # the parameters set on it)
    r.integrator.setValue("maximum_num_steps", 200_000)
    r.integrator.setValue("relative_tolerance", 1e-10)
    r.integrator.setValue("absolute_tolerance", 1e-14)
    gids = list(r.model.getGlobalParameterIds())
    index = np.array([gids.index(p) for p in params], dtype=np.int32)
    order = [[str(x) for x in r.model.getFloatingSpeciesIds()].index(i) for i in ids]
    out = np.full((len(points), len(ids)), np.nan)
    for k, row in enumerate(points):
        r.resetAll()
        r.model.setGlobalParameterValues(index, row)
        try:
            r.simulate(0, 1e6, 2)
            end = np.asarray(r.model.getFloatingSpeciesConcentrations(), dtype=np.float64)
            r.steadyState()
        except RuntimeError:
            continue
        polished = np.asarray(r.model.getFloatingSpeciesConcentrations(), dtype=np.float64)
        if rel_l1_array(polished[None], end[None], axis=1)[0] < 1e-3:
            out[k] = polished[order]
    return out


def right(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per set: both have a state and agree within AGREE, or neither has one."""
    has, has_ref = np.isfinite(x).all(axis=1), np.isfinite(ref).all(axis=1)
    err = np.where(has & has_ref, rel_l1_array(np.nan_to_num(x), np.nan_to_num(ref), axis=1),
                   np.inf)
    return np.where(has_ref, has & (err <= AGREE), ~has)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="BIOMD0000000389")
    ap.add_argument("--params", default=None, help="comma-separated global parameter ids")
    ap.add_argument("--sets", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check", type=int, default=200)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--decades", type=float, default=0.5)
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="sbmleq: seconds per batch's vectorised part and per fallback solve")
    ap.add_argument("--threads", type=int, default=THREADS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default=",".join(MODES),
                    help="sbmleq confirm modes to time (none, sample, all)")
    args = ap.parse_args()
    import roadrunner

    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_CRITICAL)
    thread_line = _timing.apply_thread_limits(args.threads)
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise SystemExit(f"unknown mode(s) {unknown} (known: {', '.join(MODES)})")
    path = CURATED / f"{args.model}.xml"
    t = time.perf_counter()
    net = import_reaction_network_from(path).require()
    import_s = time.perf_counter() - t
    probe = roadrunner.RoadRunner(str(path))  # kept alive: r.model dangles without its owner
    gids = [str(g) for g in probe.model.getGlobalParameterIds()]
    del probe
    params = args.params.split(",") if args.params else \
        [g for g in gids if g in net.parameters and net.parameters[g] > 0][:4]
    base = net.parameter_vector()[[list(net.parameter_ids).index(p) for p in params]]
    f = 10.0 ** args.decades
    axes = [ScanAxis(p, lo=v / f, hi=v * f, log=True) for p, v in zip(params, base)]
    points = design_points(axes, "lhs", args.sets, args.seed)
    frame = pd.DataFrame(points, columns=params)
    settings = SolveSettings(timeout=args.timeout)

    def run_sbmleq(rows: pd.DataFrame, mode: str) -> pd.DataFrame:
        return scan_network(net, rows, settings=settings, batch_size=args.batch,
                            compiled=compile_network(net), confirm=mode, seed=args.seed)

    # warm-up: imports (scipy's k-d tree, ...), first compile, LLVM, BLAS; a warm-up of
    # --warmup sets is all confirmed, so the continuation is warmed on 300 more
    for mode in modes:
        run_sbmleq(frame.iloc[: args.warmup], mode)
    if "none" in modes or "sample" in modes:
        run_sbmleq(frame.iloc[: min(300, args.sets)], "none")
    Scripted(path, params).run(points[: args.warmup])

    names = [arm_name(m) for m in modes] + [RR]
    seconds: dict[str, list[float]] = {name: [] for name in names}
    result: dict[str, object] = {}
    for rep in range(args.repeats):
        for name in _timing.rotated(names, rep):
            t = time.perf_counter()
            if name == RR:
                arm = Scripted(path, params)
                result[name] = arm.run(points)
                result["rr_arm"] = arm
            else:
                result[name] = run_sbmleq(frame, modes[names.index(name)])
            seconds[name].append(time.perf_counter() - t)
            print(f"  repeat {rep + 1} {name}: {seconds[name][-1]:.2f} s", flush=True)

    arm = result["rr_arm"]

    def stable_values(df: pd.DataFrame) -> np.ndarray:
        x = df[arm.ids].to_numpy(dtype=np.float64, copy=True)
        x[(df["status"] != "stable").to_numpy()] = np.nan
        return x
    rng = np.random.default_rng(args.seed + 1)
    check = np.sort(rng.choice(args.sets, size=min(args.check, args.sets), replace=False))
    t = time.perf_counter()
    ref = truth(path, params, points[check], arm.ids)
    truth_s = time.perf_counter() - t

    print(f"\ngeneral parameter scan: {args.model} ({len(net.species)} species, {net.n_state} "
          f"state, {len(net.reactions)} reactions), LHS of {args.sets} sets over "
          f"{', '.join(params)} (+-{args.decades:g} decade); {args.repeats} repeats after a "
          f"warm-up; {os.cpu_count()} CPUs, load average {_timing.load_average():.1f}")
    print(thread_line)
    print(f"roadrunner {roadrunner.__version__} (load {arm.load_s:.2f} s); sbmleq import "
          f"{import_s:.2f} s (not timed); batch {args.batch}, timeout {args.timeout:g} s")
    rows = []
    for name in names:
        x = result[name] if name == RR else stable_values(result[name])
        ok = right(x[check], ref)
        confirmed = "-" if name == RR else \
            f"{int(result[name]['confirmed'].sum())}/{args.sets}"
        rows.append((name, _timing.spread(seconds[name]).fmt(".3g"),
                     _timing.spread([args.sets / s for s in seconds[name]]).fmt(".4g"),
                     _timing.spread(_timing.ratios(seconds[RR], seconds[name])).fmt(".3g"),
                     confirmed, f"{ok.mean():.1%} ({int(ok.sum())}/{len(check)})"))
    print()
    print(_timing.table(("arm", "total s", "sets/s", "rr time / arm time", "confirmed",
                         "right vs simulation truth"), rows))
    print(f"({_timing.SPREAD_NOTE}; rr time / arm time > 1: the arm is faster than "
          f"roadrunner)")
    for mode in modes:
        df = result[arm_name(mode)]
        print(f"sbmleq confirm={mode}: statuses {dict(Counter(df['status']))}, "
              f"counts {df.attrs.get('counts', {})}")
    print(f"roadrunner stages (last repeat): {dict(arm.stages)}")
    n_truth = int(np.isfinite(ref).all(axis=1).sum())
    print(f"truth: {n_truth}/{len(check)} checked sets settle to a steady state "
          f"({truth_s:.1f} s)")


if __name__ == "__main__":
    main()
