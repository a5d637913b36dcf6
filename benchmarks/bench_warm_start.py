"""Warm start: time to a verified answer with the learned prediction, against the chain without it.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
    .venv/bin/python benchmarks/bench_warm_start.py [--model sbmleq/checkpoints/general.npz]
        [--n 4] [--families mass_action,hill,...] [--sizes 2-16,17-32,33-64] [--decades 2,4,6]
        [--seed 11] [--no-random] [--curated] [--curated-limit 40] [--truth FILE] [--corpus DIR]
        [--repeats 3] [--timeout 30] [--max-item-seconds 60] [--arms A,A0,B,C,D,E]
        [--threads 1] [--json OUT] [--from-json SAVED]

The script sets the thread variables to ``--threads`` (1) itself before NumPy loads (another
process may use the other core). Items: ``--n`` fresh random networks per family x size bucket
x value spread (:func:`~sbmleq.core.reaction_generators.sample_networks`, seeds not used in
training) labelled by :func:`sbmleq.core.labels.label_networks` (the truth; unresolved labels
left out); with ``--curated``, the first ``--curated-limit`` settled / oscillating / growing
models of the simulation truth of ``benchmarks/corpus_truth.py``
(``benchmarks/results/corpus_truth.jsonl``, read as ``training/evaluate_general.py --curated``
reads it) that import. Every arm starts from the network (compile included) and answers from
its initial state:

- A  quick, learned (``predict_network(confirm=False)`` less the result formatting): compile
  (shared with the model's physics steps), prediction, :func:`~sbmleq.core.solve.solve_from_guess`
  with ``quick``: Newton polish in the initial class, verification (residual, class, sign,
  eigenvalues), accepted when stable; else the chain (its Newton from x0 accepted unconfirmed
  when stable, else the rest of it) on the same system;
- A0 the same as the previous revision ran it (copied below: two compiles, a stable polished
  point verified twice, a failed one rebuilding the system and running Newton from x0 again);
- B  Newton from x0, verified, accepted when stable, else the rest of the chain;
- C  pseudo-transient continuation from x0 (:func:`~sbmleq.core.solve.newton.ptc`), likewise,
  else the whole chain;
- D  the staged chain (:func:`~sbmleq.core.solve.solve_steady_state`, default settings): the
  reference of every ratio;
- E  confirmed, learned (``predict_network()``): the polished prediction a candidate of the
  chain, whose integration from x0 confirms it.

Per item: one warm-up run of every arm (it records the outcome and counts the system's rate
and Jacobian evaluations), then ``--repeats`` timed runs of every arm in rotated order; the
predictor's compiled-structure cache is emptied before each run (every network new to it);
items whose warm-up took over ``--max-item-seconds`` get one timed repeat. Per arm: share
right (settles: stable within rel. L1 1e-4 of the truth, evaluate_general's rule; oscillates /
grows: that status), share whose first attempt (polish, Newton, PTC) verified a stable point
and share of those that is the state the dynamics reach, share answered without simulating,
median iterations and evaluations, median seconds [IQR over items], and the ratio to D: the
median over items of each item's median per-repeat ratio, [min-max] of the per-repeat medians,
and its IQR over items. ``--from-json`` prints the tables of a saved run again.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402
import _warm_report  # noqa: E402

THREADS = _timing.pre_parse_threads(default=1)
_timing.limit_threads_env(THREADS)  # before numpy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from sbmleq.core.compile import compile_network  # noqa: E402
from sbmleq.core.labels import label_networks  # noqa: E402
from sbmleq.core.reaction_generators import GENERATORS, RNConfig, sample_networks  # noqa: E402
from sbmleq.core.solve import SolveSettings, SolveStatus, solve_from_guess  # noqa: E402
from sbmleq.core.solve import solve_steady_state  # noqa: E402
from sbmleq.core.solve.chain import solve_system  # noqa: E402
from sbmleq.core.solve.newton import newton, ptc  # noqa: E402
from sbmleq.core.solve.system import ReducedSystem, verify  # noqa: E402
from sbmleq.errors import SbmleqError  # noqa: E402
from sbmleq.general import concentrations_of  # noqa: E402
from sbmleq.io.request import open_source  # noqa: E402
from sbmleq.model.general_load import load_general_predictor  # noqa: E402
from sbmleq.validation.general_rows import AGREE_REL_L1, rel_l1_over  # noqa: E402
from sbmleq.validation.truth import read_truth, truth_kind  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "sbmleq" / "checkpoints" / "general.npz"  # the shipped general model
ARMS = {"A": "quick, learned", "A0": "quick, learned (before)", "B": "Newton x0, quick",
        "C": "PTC x0, quick", "D": "chain (reference)", "E": "confirmed, learned"}
STATUS = {"settles": SolveStatus.STABLE, "oscillates": SolveStatus.OSCILLATION,
          "grows": SolveStatus.UNBOUNDED}
KIND_OUTCOME = {"settled": "settles", "oscillating": "oscillates", "growing": "grows"}


@dataclass
class Item:
    """One network and its truth: ``outcome`` and, when it settles, a judge of states."""

    name: str
    net: Any
    outcome: str
    group: dict[str, str]
    truth_state: np.ndarray | None = None  # random networks: the label's state
    truth_conc: dict[str, float] | None = None  # curated: the truth's concentrations
    floor: float = 0.0

    def is_truth(self, state: np.ndarray | None) -> bool:
        """``state`` is the state the dynamics reach (rel. L1 <= 1e-4)."""
        if state is None or self.outcome != "settles":
            return False
        if self.truth_conc is not None:
            conc = concentrations_of(self.net, state, self.net.parameter_vector())
            rel, _ = rel_l1_over(conc, self.truth_conc, floor=self.floor)
            return rel is not None and rel <= AGREE_REL_L1
        b = self.truth_state
        den = float(np.sum(np.abs(b)))
        num = float(np.sum(np.abs(np.asarray(state) - b)))
        return (num / den if den > 0 else (0.0 if num == 0 else np.inf)) <= AGREE_REL_L1


@dataclass
class Run:
    """What one arm answered: the result, and its first attempt (polish, Newton or PTC)."""

    status: SolveStatus
    state: np.ndarray | None
    quick: bool = False  # answered without simulating
    first_stable: np.ndarray | None = None  # the first attempt's verified stable point
    iterations: int | None = None
    split: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------ the arms
class Arms:
    def __init__(self, predictor: Any, settings: SolveSettings) -> None:
        self.predictor, self.settings = predictor, settings

    def cold(self) -> None:
        """Every network is new to the predictor: empty its compiled-structure cache."""
        cache = getattr(self.predictor, "_cache", None)
        if isinstance(cache, dict):
            cache.clear()

    def A(self, net: Any) -> Run:
        self.cold()
        t0 = time.perf_counter()
        compiled = compile_network(net)
        _, x, _ = self.predictor.predict(net, compiled=compiled)
        t1 = time.perf_counter()
        warm = solve_from_guess(compiled, x, settings=self.settings, quick=True)
        r = warm.result
        ok = warm.polished is not None and warm.polished.ok and warm.polished.stable
        split = {"predict": t1 - t0, "polish": warm.polish_seconds - warm.verify_seconds,
                 "verify": warm.verify_seconds}  # the rest: the system's build, the chain
        return Run(r.status, r.state, "not confirmed" in r.message,
                   warm.polished.state if ok else None, warm.polish_iterations, split)

    def A0(self, net: Any) -> Run:
        """The previous revision's quick path (sbmleq.general_predict.predict_network with
        ``confirm=False`` and sbmleq.core.solve.warm.solve_from_guess as they were)."""
        self.cold()
        probs, x, ood = self.predictor.predict(net)
        compiled = compile_network(net)
        s = self.settings
        started = time.monotonic()
        system = ReducedSystem.build(compiled)
        g = np.where(np.isfinite(x), x, system.x0)
        g[system.nonneg] = np.maximum(g[system.nonneg], 0.0)
        out = newton(system, g, s, started + s.timeout)
        check = verify(system, out.state, s) if out.state is not None and out.converged \
            else None
        candidates = [check.state] if check is not None and check.ok else []
        r = solve_system(system, replace(s, stages=("newton",)), started, candidates,
                         candidate_stage="prediction")
        if r.status is not SolveStatus.STABLE:
            r = solve_steady_state(compiled, settings=s)
        ok = check is not None and check.ok and check.stable
        return Run(r.status, r.state, "not confirmed" in r.message,
                   check.state if ok else None, out.iterations)

    def _from_x0(self, method: Callable[..., Any], dedupe: bool) -> Callable[[Any], Run]:
        def arm(net: Any) -> Run:
            s = self.settings
            started = time.monotonic()
            system = ReducedSystem.build(compile_network(net))
            out = method(system, system.x0, s, started + s.timeout)
            check = verify(system, out.state, s) if out.state is not None and out.converged \
                else None
            if check is not None and check.ok and check.stable:
                return Run(SolveStatus.STABLE, check.state, True, check.state, out.iterations)
            if dedupe:  # Newton from x0 is the chain's first stage: hand its point on
                found = [check.state] if check is not None and check.ok else []
                r = solve_system(system, replace(s, stages=s.stages[1:]), started, found,
                                 candidate_stage="newton")
            else:
                r = solve_system(system, s, started)
            return Run(r.status, r.state, "not confirmed" in r.message, None, out.iterations)
        return arm

    def B(self, net: Any) -> Run:
        return self._from_x0(newton, self.settings.stages[:1] == ("newton",))(net)

    def C(self, net: Any) -> Run:
        return self._from_x0(ptc, False)(net)

    def D(self, net: Any) -> Run:
        r = solve_steady_state(compile_network(net), settings=self.settings)
        return Run(r.status, r.state, False, None, r.newton_iterations)

    def E(self, net: Any) -> Run:
        self.cold()
        compiled = compile_network(net)
        _, x, _ = self.predictor.predict(net, compiled=compiled)
        warm = solve_from_guess(compiled, x, settings=self.settings)
        r = warm.result
        ok = warm.polished is not None and warm.polished.ok and warm.polished.stable
        return Run(r.status, r.state, False, warm.polished.state if ok else None,
                   warm.polish_iterations)


@contextmanager
def counting() -> Iterator[dict[str, int]]:
    """Count the system's rate (``rhs``) and Jacobian evaluations while inside (warm-up only:
    the class methods are wrapped for the duration and restored after)."""
    counts = {"rhs": 0, "jac": 0}
    rhs, jac = ReducedSystem.rhs, ReducedSystem.jacobian

    def counted_rhs(system: ReducedSystem, x: np.ndarray) -> np.ndarray:
        counts["rhs"] += 1
        return rhs(system, x)

    def counted_jac(system: ReducedSystem, x: np.ndarray) -> np.ndarray:
        counts["jac"] += 1
        return jac(system, x)

    ReducedSystem.rhs, ReducedSystem.jacobian = counted_rhs, counted_jac  # type: ignore
    try:
        yield counts
    finally:
        ReducedSystem.rhs, ReducedSystem.jacobian = rhs, jac  # type: ignore


def measure(item: Item, arms: Arms, names: list[str], repeats: int,
            max_item_s: float) -> dict[str, Any]:
    row: dict[str, Any] = {"name": item.name, "outcome": item.outcome, **item.group,
                           "n_state": item.net.n_state, "arms": {}}
    t_warm = time.perf_counter()
    for name in names:
        with counting() as counts:
            t0 = time.perf_counter()
            run = getattr(arms, name)(item.net)
            dt = time.perf_counter() - t0
        first = run.first_stable
        row["arms"][name] = {
            "status": run.status.value, "quick": run.quick, "iterations": run.iterations,
            "right": bool(run.status is STATUS[item.outcome] and (
                item.outcome != "settles" or item.is_truth(run.state))),
            "first_stable": first is not None,
            "first_reached": first is not None and item.is_truth(first),
            "rhs": counts["rhs"], "jac": counts["jac"], "warmup_s": dt, "times": [],
            "splits": []}
    reps = repeats if time.perf_counter() - t_warm <= max_item_s else 1
    for r in range(reps):
        for name in _timing.rotated(names, r):
            t0 = time.perf_counter()
            run = getattr(arms, name)(item.net)
            row["arms"][name]["times"].append(time.perf_counter() - t0)
            if run.split:
                row["arms"][name]["splits"].append(run.split)
    return row


# ------------------------------------------------------------------ the items
def random_items(families: list[str], sizes: list[tuple[int, int]], spreads: list[float],
                 n: int, seed: int) -> Iterator[Item]:
    for fi, family in enumerate(families):
        for si, (lo, hi) in enumerate(sizes):
            for di, decades in enumerate(spreads):
                rng = np.random.default_rng([seed, 3000 + fi, si, di])
                try:
                    nets = sample_networks(RNConfig(n_min=lo, n_max=hi, decades=decades,
                                                    families=(family,),
                                                    group_size=min(4, n)), rng, n)
                except ValueError:  # the family does not fit in this size bucket
                    continue
                for net, lab in zip(nets, label_networks(nets)):
                    if lab.outcome in STATUS:
                        yield Item(net.name, net, lab.outcome,
                                   {"family": family, "size": f"{lo}-{hi}",
                                    "decades": f"{decades:g}"},
                                   truth_state=None if lab.state is None
                                   else np.asarray(lab.state))


def curated_items(truth_path: Path, corpus: Path, limit: int | None) -> Iterator[Item]:
    truth = read_truth(truth_path)
    ids = [m for m, rec in sorted(truth.items()) if truth_kind(rec) in KIND_OUTCOME]
    for model in ids[:limit] if limit else ids:
        rec = truth[model]
        kind = truth_kind(rec)
        t = rec.get("truth") or {}
        if kind == "settled" and not t.get("concentrations"):
            continue
        try:
            net = open_source(corpus / f"{model}.xml").general().require()
        except SbmleqError:
            continue
        yield Item(model, net, KIND_OUTCOME[kind], {"family": f"curated {kind}"},
                   truth_conc=t.get("concentrations") if kind == "settled" else None,
                   floor=float(t.get("l1_floor") or 0.0))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(MODEL))
    ap.add_argument("--n", type=int, default=4, help="networks per family, size and spread")
    ap.add_argument("--families", default=",".join(GENERATORS))
    ap.add_argument("--sizes", default="2-16,17-32,33-64")
    ap.add_argument("--decades", default="2,4,6")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--no-random", action="store_true")
    ap.add_argument("--curated", action="store_true")
    ap.add_argument("--curated-limit", type=int, default=40)
    ap.add_argument("--truth", default=str(ROOT / "benchmarks" / "results" /
                                           "corpus_truth.jsonl"))
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "biomodels" / "curated"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per solve")
    ap.add_argument("--max-item-seconds", type=float, default=60.0)
    ap.add_argument("--arms", default="A,A0,B,C,D,E")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    ap.add_argument("--from-json", default=None, help="print the tables of a saved run")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        for label, keys in (("random", ("family", "size", "decades")), ("curated", ("family",))):
            if label in saved:
                _warm_report.report(label, saved[label]["rows"], saved["arms"], keys, ARMS)
        return saved
    import scipy.integrate  # noqa: F401  # loaded by the first simulation anyway: load it first

    print(_timing.apply_thread_limits(args.threads), f"load {_timing.load_average():.2f}",
          flush=True)
    names = [a for a in args.arms.split(",") if a]
    if "D" not in names or set(names) - set(ARMS):
        raise SystemExit(f"--arms: a subset of {','.join(ARMS)} that includes D")
    arms = Arms(load_general_predictor(args.model), SolveSettings(timeout=args.timeout))
    result: dict[str, Any] = {"model": args.model, "argv": sys.argv[1:], "arms": names}
    sets = []
    if not args.no_random:
        sizes = [tuple(int(v) for v in s.split("-")) for s in args.sizes.split(",")]
        spreads = [float(d) for d in args.decades.split(",")]
        sets.append(("random", random_items(args.families.split(","), sizes, spreads, args.n,
                                            args.seed), ("family", "size", "decades")))
    if args.curated:
        sets.append(("curated", curated_items(Path(args.truth), Path(args.corpus),
                                              args.curated_limit), ("family",)))
    for label, items, keys in sets:
        rows = []
        t0 = time.perf_counter()
        for item in items:
            rows.append(measure(item, arms, names, args.repeats, args.max_item_seconds))
            if len(rows) % 20 == 0:
                print(f"{label}: {len(rows)} items, {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr, flush=True)
        result[label] = {"summary": _warm_report.report(label, rows, names, keys, ARMS),
                         "rows": rows}
    print(f"\n{_timing.SPREAD_NOTE}; load at the end {_timing.load_average():.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=lambda o: vars(o)
                                              if isinstance(o, _timing.Spread) else str(o)))
    return result


if __name__ == "__main__":
    main()
