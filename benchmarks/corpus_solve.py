"""sbmleq's verified solver against roadrunner over the curated candidates, scored by the truth.

    python benchmarks/corpus_solve.py [--workers 2] [--limit N] [--models ID ...]
                                      [--timeout 60] [--out FILE] [--truth FILE]
    python benchmarks/corpus_solve.py --summary [--out FILE] [--truth FILE]
    python benchmarks/corpus_solve.py --rerun OLD.jsonl --arms sbmleq --out NEW.jsonl

The candidates of benchmarks/corpus_truth.py (pure ODE, no events, delays, time or algebraic
rules). Per model, three arms run side by side in the same isolated child (one
:class:`~sbmleq.solvers.isolate.IsolatedWorker` per thread, a hard limit per arm), their order
rotated from model to model:

1. sbmleq: ``sbmleq solve`` as a user runs it (:func:`sbmleq.general.solve_source`: read, import
   as a reaction network, compile, the verified chain), timed from the file to the answer;
2. plain: ``RoadRunner(path).steadyState()`` with default options (load + solve);
3. staged: sbmleq's roadrunner chain (``sbmleq solve --engine roadrunner``).

Each is scored against the simulation truth of benchmarks/results/corpus_truth.jsonl: for
models that settle, *right* means a verified state within relative L1 1e-4 of the truth (for
sbmleq: status ``stable`` or ``unstable``; a fixed point that is not the truth is *different*);
for models that oscillate or grow, *right* means sbmleq says ``oscillation`` / ``unbounded``
(roadrunner has no such answer: it is right when it returns no steady state or one with a
positive eigenvalue). The summary
prints the agreement table, the models where plain ``steadyState()`` fails or lands elsewhere
and how many each tool gets right, and per-model time ratios (median [quartiles]). Resumable:
one JSON line per model, models already in the file are skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import _solve_worker as sw  # benchmarks/ is on sys.path when this script runs
import _truth_worker as tw
import corpus_truth as ct

ROOT = ct.ROOT
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "corpus_solve.jsonl"
SETTLED = ("settled_stable", "settled_not_stable", "settled_stability_unknown")
ARMS = ("sbmleq", "plain", "staged")


def process(path: Path, timeout: float, turn: int, only: tuple[str, ...] = ARMS,
            previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """One model's record: the arms in ``only`` run now (order rotated); the others are copied
    from ``previous`` (the same model's record of an earlier run: ``--rerun``)."""
    arms = {
        "sbmleq": lambda: ct._isolated(sw.sbmleq_solve, str(path), 0.8 * timeout,
                                       timeout=timeout),
        "plain": lambda: ct._isolated(tw.plain_steady_state, str(path), timeout=timeout),
        "staged": lambda: ct._staged(path, timeout),
    }
    names = [n for n in arms if n in only]
    names = names[turn % len(names):] + names[:turn % len(names)]
    record: dict[str, Any] = {"model": path.stem, "order": names}
    for name in names:
        record[name] = arms[name]()
    for name in arms:
        if name not in only:
            record[name] = (previous or {}).get(name, {"status": "not_run"})
    if tuple(only) != ARMS:
        record["rerun"] = list(names)
    return record


def arm_seconds(name: str, arm: dict[str, Any]) -> float | None:
    if name == "plain":
        if arm.get("load_s") is None:
            return arm.get("wall_s")
        return (arm.get("load_s") or 0.0) + (arm.get("solve_s") or 0.0)
    return arm.get("seconds") or arm.get("wall_s")


def score(name: str, arm: dict[str, Any], truth_rec: dict[str, Any]) -> str:
    """right / different / failed (settled truth), right / wrong (oscillating, growing)."""
    kind = ct.truth_class(truth_rec["truth"])
    if name == "sbmleq":
        status = arm.get("status")
        if kind in SETTLED:
            if status not in ("stable", "unstable") or not arm.get("concentrations"):
                return "failed"
            shaped = {**arm, "status": "ok"}
            got = ct.compare(shaped, truth_rec["truth"])["class"]
            return "right" if got == "agrees" else got
        want = {"oscillating": "oscillation", "growing": "unbounded"}.get(kind)
        return "right" if status == want else "wrong"
    if kind in SETTLED:
        got = ct.compare(arm, truth_rec["truth"])["class"]
        return "right" if got == "agrees" else got
    # roadrunner has no oscillation/growth answer: right when it returns no steady state, or
    # one it reports as unstable (positive eigenvalue)
    if not ct.returned_state(arm) or arm.get("status") == "converged_unstable":
        return "right"
    max_re = arm.get("max_re")
    return "right" if max_re is not None and max_re > 0 else "wrong"


def run(paths: list[Path], out: Path, workers: int, timeout: float,
        only: tuple[str, ...] = ARMS, previous: dict[str, dict[str, Any]] | None = None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    print(f"running {len(paths)} models with {workers} workers -> {out}", flush=True)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool, out.open("a") as handle:
            futures = {pool.submit(process, p, timeout, k, only, (previous or {}).get(p.stem)): p
                       for k, p in enumerate(paths)}
            for k, future in enumerate(as_completed(futures), 1):
                path = futures[future]
                try:
                    record = future.result()
                except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                    record = {"model": path.stem, "error": f"{type(exc).__name__}: {exc}"}
                handle.write(json.dumps(record, separators=(",", ":")) + "\n")
                handle.flush()
                got = record.get("sbmleq", {})
                print(f"[{k}/{len(paths)}] {path.stem} sbmleq={got.get('status')} "
                      f"{got.get('seconds')} s (elapsed {time.perf_counter() - start:.0f} s)",
                      flush=True)
    finally:
        with ct._WORKERS_LOCK:
            for worker in ct._WORKERS:
                worker.close()


def _q(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) < 4:
        return f"{statistics.median(values):.3g}"
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return f"{q2:.3g} [{q1:.3g}-{q3:.3g}]"


def summary(out: Path, truth: Path) -> str:
    truths = {r["model"]: r for r in ct.read_records(truth)}
    recs = [r for r in ct.read_records(out) if r["model"] in truths and "sbmleq" in r]
    lines = [f"{len(recs)} models with a truth record ({out.name} x {truth.name})"]
    by_class: dict[str, Counter] = {}
    settled_rows, hard = [], Counter()
    times: dict[str, list[float]] = {"sbmleq": [], "plain": [], "staged": []}
    ratio_plain, ratio_staged = [], []
    wrong: list[str] = []
    for r in recs:
        t = truths[r["model"]]
        kind = ct.truth_class(t["truth"])
        if kind == "no_floating" or kind not in (*SETTLED, "oscillating", "growing"):
            continue
        scores = {a: score(a, r[a], t) for a in ("sbmleq", "plain", "staged")}
        for a, s in scores.items():
            by_class.setdefault(f"{kind}:{a}", Counter())[s] += 1
        if kind in SETTLED:
            settled_rows.append(r["model"])
            if scores["plain"] != "right":
                hard["plain wrong or failed"] += 1
                hard["... sbmleq right"] += scores["sbmleq"] == "right"
                hard["... staged right"] += scores["staged"] == "right"
            if scores["sbmleq"] != "right":
                wrong.append(f"{r['model']} ({kind}): sbmleq {scores['sbmleq']} "
                             f"[{r['sbmleq'].get('status')}] plain {scores['plain']} staged "
                             f"{scores['staged']}")
            secs = {a: arm_seconds(a, r[a]) for a in times}
            for a, s in secs.items():
                if s:
                    times[a].append(s)
            if secs["sbmleq"] and secs["plain"]:
                ratio_plain.append(secs["sbmleq"] / secs["plain"])
            if secs["sbmleq"] and secs["staged"]:
                ratio_staged.append(secs["sbmleq"] / secs["staged"])
    lines.append("")
    lines.append("truth class           arm     " + "  ".join(
        f"{c:>18}" for c in ("right", "different", "different_negative", "failed", "wrong")))
    for key in sorted(by_class):
        kind, arm = key.split(":")
        c = by_class[key]
        lines.append(f"{kind:<21} {arm:<7} " + "  ".join(
            f"{c.get(x, 0):>18}" for x in ("right", "different", "different_negative",
                                              "failed", "wrong")))
    lines.append("")
    lines.append(f"settled models: {len(settled_rows)}; plain steadyState() wrong or failed on "
                 f"{hard['plain wrong or failed']}: sbmleq right on {hard['... sbmleq right']}, "
                 f"staged chain right on {hard['... staged right']}")
    lines.append("seconds per settled model (file to answer): " + "; ".join(
        f"{a} {_q(v)}" for a, v in times.items()))
    lines.append(f"per-model ratio sbmleq / plain (load + steadyState): {_q(ratio_plain)}; "
                 f"sbmleq / staged chain: {_q(ratio_staged)}  (median [quartiles])")
    lines.append("")
    lines.append(f"settled models sbmleq does not get right ({len(wrong)}):")
    lines += [f"  {w}" for w in wrong]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--models", nargs="*")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--truth", type=Path, default=ct.DEFAULT_OUT)
    ap.add_argument("--summary", action="store_true")
    ap.add_argument("--rerun", type=Path, default=None, metavar="FILE",
                    help="run only --arms now and copy the other arms of each model from FILE "
                         "(an earlier run): e.g. sbmleq's arm again after a solver change")
    ap.add_argument("--arms", default=",".join(ARMS), help="with --rerun: the arms to run")
    args = ap.parse_args(argv)
    if args.summary:
        print(summary(args.out, args.truth))
        return 0
    paths = ct.candidates(ct.SHARED / "catalog.csv", ct.SHARED / "curated")
    if args.models:
        paths = [p for p in paths if p.stem in set(args.models)]
    done = {r["model"] for r in ct.read_records(args.out)}
    paths = [p for p in paths if p.stem not in done]
    if args.limit:
        paths = paths[:args.limit]
    only, previous = ARMS, None
    if args.rerun is not None:
        only = tuple(a for a in ARMS if a in args.arms.split(","))
        previous = {r["model"]: r for r in ct.read_records(args.rerun)}
    run(paths, args.out, args.workers, args.timeout, only, previous)
    print(summary(args.out, args.truth))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
