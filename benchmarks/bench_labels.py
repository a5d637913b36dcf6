"""Labelled general reaction networks per second: our labeller against per-network BDF.

Networks: :func:`sbmleq.core.reaction_generators.sample_networks`, 8-32 floating species, all
families, constants over ``--decades`` decades, in structure groups of ``--group`` networks; a
mix of targets (untargeted, settles, oscillates, grows) in equal parts, so about a third of the
networks do not settle.

- ours: :func:`sbmleq.core.labels.label_networks` (group by structure, compile each structure
  once, one ``solve_batch`` per group), compile time included.
- baseline: every network integrated on its own with ``scipy.integrate.solve_ivp(method="BDF")``
  as an expert would set it up: the compiled analytic Jacobian (dense), ``rtol=1e-6``
  (``--bdf-rtol``),
  ``atol=1e-9`` times the state's scale, terminal events that stop the moment the state has
  settled (every balance below 1e-8 of its own throughput, the solver's relative residual) or
  blows up (``1e12`` times the scale); integrated in geometric segments (x4) from
  ``10 / |J(x0)|`` up to a horizon of 1e9; after each segment the steps are searched for
  sustained oscillations (6 cycles of equal amplitude and period within 2 %); a norm that grew
  by 1.2x over each of the last four segments to 100x its start at the horizon counts as growth
  (the rules of sbmleq's own chain). Compilation is
  done once per structure and *not* counted for the baseline (that only favours it).

Both arms label the same networks in the same repeat, in alternating order, target by target
(each target's networks timed as one block per arm, so the table also gives the rate per target); the rate is networks
per second of wall time (one thread each). Agreement: the fraction of networks with the same
outcome class, and for networks both say settle, the fraction whose states agree within 1e-3
(scaled max norm, relative to the state's size).

    python benchmarks/bench_labels.py [--n 96] [--repeats 3] [--group 8] [--decades 3]
        [--bdf-rtol 1e-6] [--json out.json]
"""

from __future__ import annotations

import _timing  # noqa: F401  (first: thread limits before numpy)

_timing.limit_threads_env(_timing.pre_parse_threads(1))

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402

from sbmleq.core.compile import CompiledNetwork, compile_network  # noqa: E402
from sbmleq.core.labels import label_networks, group_by_structure  # noqa: E402
from sbmleq.core.reaction_generators import RNConfig, sample_networks  # noqa: E402

TARGETS = (None, "settles", "oscillates", "grows")


# ---------------------------------------------------------------------- the BDF baseline
def _extrema_cycles(t: np.ndarray, v: np.ndarray, cycles: int, rtol: float) -> float | None:
    """Per-cycle amplitude ratio of the last ``cycles`` cycles of ``v`` when their amplitudes
    and periods agree within ``rtol`` (None: no such oscillation)."""
    inner = np.arange(1, len(v) - 1)
    top = inner[(v[inner] > v[inner - 1]) & (v[inner] >= v[inner + 1])]
    bot = inner[(v[inner] < v[inner - 1]) & (v[inner] <= v[inner + 1])]
    if len(top) < cycles + 1 or len(bot) < cycles:
        return None
    tt, vt = t[top][-(cycles + 1):], v[top][-(cycles + 1):]
    amps, periods = [], []
    for k in range(1, cycles + 1):
        inside = (t[bot] > tt[k - 1]) & (t[bot] < tt[k])
        if not inside.any():
            return None
        amps.append(vt[k] - v[bot][inside].min())
        periods.append(tt[k] - tt[k - 1])
    a, p = np.array(amps), np.array(periods)
    if np.any(a <= 1e-3 * np.max(np.abs(vt))) or np.any(p <= 0):
        return None
    if np.max(np.abs(np.diff(p)) / p[1:]) > rtol or np.max(np.abs(np.diff(a)) / a[1:]) > rtol:
        return None
    return float((a[-1] / a[0]) ** (1.0 / (cycles - 1)))


def bdf_label(cn: CompiledNetwork, x0: np.ndarray, p: np.ndarray, settle_tol: float = 1e-8,
              horizon: float = 1e9, max_wall: float = 30.0, rtol: float = 1e-6
              ) -> tuple[str, np.ndarray | None]:
    """(outcome, state) by BDF from ``x0`` (module docstring); outcome ``unresolved`` when
    none of settles / oscillates / grows is seen by the horizon or within ``max_wall`` s."""
    from scipy.integrate import solve_ivp  # the baseline's integrator

    started = time.perf_counter()
    absn = np.abs(np.asarray(cn.network.stoichiometry))
    vol = cn.network.volumes[:absn.shape[0]]
    scale = max(float(np.max(np.abs(x0), initial=0.0)), 1e-12)
    limit = 1e12 * scale

    def fun(t: float, x: np.ndarray) -> np.ndarray:
        return cn.rhs(x, p)

    def jac(t: float, x: np.ndarray) -> np.ndarray:
        return cn.jacobian(x, p, sparse=False)

    def settled(t: float, x: np.ndarray) -> float:
        v = cn.rates(x, p)
        s = (absn @ np.abs(v[:absn.shape[1]])) / vol
        f = cn.rhs(x, p)[:len(s)]
        rel = np.max(np.abs(f) / (s + 1e-6 * np.max(s, initial=0.0) + 1e-300), initial=0.0)
        return float(rel - settle_tol) if t > 0 else 1.0

    def blowup(t: float, x: np.ndarray) -> float:
        return float(np.max(np.abs(x)) - limit)

    settled.terminal, settled.direction = True, -1  # type: ignore[attr-defined]
    blowup.terminal, blowup.direction = True, 1  # type: ignore[attr-defined]
    j0 = np.max(np.sum(np.abs(jac(0.0, x0)), axis=-1), initial=0.0)
    t_end = 10.0 / j0 if np.isfinite(j0) and j0 > 0 else 1.0
    t, x = 0.0, np.array(x0, dtype=np.float64)
    ts, xs = [np.array([0.0])], [x[:, None]]
    norms = [float(np.max(np.abs(x), initial=0.0))]
    while t < horizon and time.perf_counter() - started < max_wall:
        sol = solve_ivp(fun, (t, min(t_end, horizon)), x, method="BDF", jac=jac, rtol=rtol,
                        atol=1e-9 * scale, events=(settled, blowup))
        x, t = sol.y[:, -1], float(sol.t[-1])
        if sol.status == 1 and len(sol.t_events[0]):
            return "settles", x
        if sol.status == 1 or sol.status < 0 or not np.all(np.isfinite(x)):
            big = not np.all(np.isfinite(x)) or np.max(np.abs(x)) > 1e6 * scale
            return ("grows" if big else "unresolved"), None
        ts.append(sol.t[1:])
        xs.append(sol.y[:, 1:])
        tt, yy = np.concatenate(ts[-3:]), np.concatenate(xs[-3:], axis=1)
        swing = (yy.max(axis=1) - yy.min(axis=1)) / (np.max(np.abs(yy), axis=1) + 1e-12)
        for c in np.argsort(-swing)[:3]:
            if swing[c] < 1e-3:
                break
            decay = _extrema_cycles(tt, yy[c], 6, 2e-2)
            if decay is not None and decay > 1.0 - 1e-3:
                return "oscillates", None
        norms.append(float(np.max(np.abs(x), initial=0.0)))
        t_end *= 4.0
    last = np.array(norms[-5:])
    if t >= horizon and len(last) == 5 and np.all(last[1:] >= 1.2 * last[:-1]) \
            and last[-1] > 100 * scale:
        return "grows", None  # still growing steadily at the horizon
    return "unresolved", None


def bdf_all(nets, compiled: dict[int, CompiledNetwork], rtol: float = 1e-6
            ) -> list[tuple[str, np.ndarray | None]]:
    return [bdf_label(compiled[i], net.initial_state(), net.parameter_vector(), rtol=rtol)
            for i, net in enumerate(nets)]


# ---------------------------------------------------------------------- the run
def networks(n: int, seed: int, decades: float, group: int) -> list[tuple[str, list]]:
    """(target name, networks) for each of :data:`TARGETS`, ``n`` networks in all."""
    rng = np.random.default_rng(seed)
    per = -(-n // len(TARGETS))
    return [(str(target or "untargeted"),
             sample_networks(RNConfig(n_min=8, n_max=32, decades=decades, group_size=group,
                                      target=target), rng, per)) for target in TARGETS]


def agreement(ours, theirs) -> tuple[float, float, int]:
    same = [a.outcome == b[0] for a, b in zip(ours, theirs)]
    both = [(np.array(a.state), b[1]) for a, b in zip(ours, theirs)
            if a.outcome == b[0] == "settles" and a.state is not None and b[1] is not None]
    close = [float(np.max(np.abs(u - v)) / max(np.max(np.abs(u)), 1e-300)) < 1e-3
             for u, v in both]
    return float(np.mean(same)), float(np.mean(close)) if close else float("nan"), len(both)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--decades", type=float, default=3.0)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bdf-rtol", type=float, default=1e-6)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    print(_timing.apply_thread_limits(args.threads))
    print(f"{args.n} networks per repeat, structure groups of {args.group}, {args.decades} "
          f"decades, BDF rtol {args.bdf_rtol:g}")
    ours_rate, bdf_rate, rows = [], [], []
    per_target: dict[str, dict[str, list[float]]] = {}
    for rep in range(args.repeats):
        parts = networks(args.n, args.seed + rep, args.decades, args.group)
        nets = [net for _, sub in parts for net in sub]
        groups = group_by_structure(nets)
        compiled = {i: cn for idx in groups.values()
                    for cn in [compile_network(nets[idx[0]])] for i in idx}
        arms = _timing.rotated(["ours", "bdf"], rep)
        res: dict[str, list] = {"ours": [], "bdf": []}
        secs = {"ours": 0.0, "bdf": 0.0}
        start = 0
        for name, sub in parts:  # each target timed on its own too, both arms side by side
            cn = {k: compiled[start + k] for k in range(len(sub))}
            for arm in arms:
                t0 = time.perf_counter()
                out = label_networks(sub) if arm == "ours" else bdf_all(sub, cn, args.bdf_rtol)
                dt = time.perf_counter() - t0
                res[arm] += out
                secs[arm] += dt
                per_target.setdefault(name, {"ours": [], "bdf": []})[arm].append(len(sub) / dt)
            start += len(sub)
        ours_rate.append(len(nets) / secs["ours"])
        bdf_rate.append(len(nets) / secs["bdf"])
        same, close, n_both = agreement(res["ours"], res["bdf"])
        counts = Counter(lab.outcome for lab in res["ours"])
        rows.append({"repeat": rep, "n": len(nets), "ours_s": secs["ours"], "bdf_s": secs["bdf"],
                     "outcomes_ours": dict(counts),
                     "outcomes_bdf": dict(Counter(o for o, _ in res["bdf"])),
                     "same_outcome": same, "states_agree": close, "both_settle": n_both})
        print(f"repeat {rep}: {len(nets)} networks, ours {secs['ours']:.2f} s, "
              f"BDF {secs['bdf']:.2f} s, ratio {secs['bdf'] / secs['ours']:.1f}x; outcomes "
              f"ours {dict(counts)} BDF {rows[-1]['outcomes_bdf']}; same outcome {same:.3f}, "
              f"states agree {close:.3f} (of {n_both})", flush=True)
    print(_timing.table(["target", "ours networks / s", "BDF networks / s", "ratio"],
                        [[name, _timing.spread(v["ours"]).fmt(), _timing.spread(v["bdf"]).fmt(),
                          _timing.spread(_timing.ratios(v["ours"], v["bdf"])).fmt(".3g")]
                         for name, v in per_target.items()]))
    r = _timing.spread(_timing.ratios(ours_rate, bdf_rate))
    print(_timing.table(["arm", "networks / s"],
                        [["ours (label_networks)", _timing.spread(ours_rate).fmt()],
                         ["BDF per network", _timing.spread(bdf_rate).fmt()],
                         ["ratio", r.fmt(".3g")]]))
    print(_timing.SPREAD_NOTE)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "ours_rate": ours_rate, "bdf_rate": bdf_rate,
                       "per_target": per_target}, fh, indent=1)


if __name__ == "__main__":
    main()
