"""Simulation ground truth over the curated BioModels corpus, and roadrunner's two baselines.

    python benchmarks/corpus_truth.py [--workers 2] [--limit N] [--models ID ...]
                                      [--timeout 60] [--truth-timeout 120] [--out FILE]
    python benchmarks/corpus_truth.py --summary [--out FILE]

Candidates: the curated models (``../shared/biomodels/curated``) whose catalog row says pure ODE
with no events, no delays, no explicit time and no algebraic rules; models in which roadrunner
finds no floating species are recorded as ``no_floating`` and left out of the tables. For each
model, in an isolated child process with a hard time limit (sbmleq's
:class:`~sbmleq.solvers.isolate.IsolatedWorker`, one per thread, restarted after a timeout or a
crash), three things are recorded, in this order:

1. plain: ``RoadRunner(path).steadyState()`` with default options (what users run), load and
   solve timed separately (``benchmarks/_truth_worker.py``);
2. staged: sbmleq's roadrunner chain, :func:`sbmleq.solvers.roadrunner.solve_sbml` (what
   ``sbmleq solve --engine roadrunner`` runs), status, stage and seconds;
3. truth: a long CVODE simulation from the model's own initial state (t = 0 ... 1e6 in
   geometric chunks, tight tolerances), classified settled / oscillating / growing / undecided,
   settled states polished by Newton from the simulated end state (``_truth_worker``).

For settled models, plain and staged are then classified against the truth: ``agrees``
(relative L1 ``sum|a - b| / sum|b| <= 1e-4``), ``different`` / ``different_negative`` (another
point, without / with a negative concentration), ``failed`` (no state returned: error, timeout,
crash, no steady state). docs/ground-truth.md has the definitions and the results.

The output is one JSON line per model, appended as each model finishes: the run is resumable
(models already in the file are skipped; a line cut short by a kill is ignored) and every
outcome is recorded, crashes and timeouts included. ``--summary`` prints the tables from the
file (recomputing the comparisons from the stored concentrations).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import _truth_worker as tw  # benchmarks/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sbmleq.errors import InputError  # noqa: E402 - after the path set-up
from sbmleq.solvers.isolate import ChildCrashed, ChildTimeout, IsolationError  # noqa: E402
from sbmleq.solvers.roadrunner import make_worker, solve_sbml  # noqa: E402

SHARED = ROOT.parent / "shared" / "biomodels"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "corpus_truth.jsonl"
AGREE_REL_L1 = 1e-4
NEGATIVE_TOL = 1e-8  # x_i < -(NEGATIVE_TOL * max|x| + 1e-12): negative (as rr_stages)
TRUTH_CLASSES = ("settled_stable", "settled_not_stable", "settled_stability_unknown",
                 "oscillating", "growing", "undecided", "failed")
COMPARE_CLASSES = ("agrees", "different", "different_negative", "failed")


# ---------------------------------------------------------------------- candidates
def candidates(catalog: Path, corpus: Path) -> list[Path]:
    """Curated models whose catalog row is pure ODE without events, delays, time or
    algebraic rules (file present), in id order."""
    flags = {"pure_ode": "True", "has_events": "False", "has_delay": "False",
             "uses_time": "False", "has_algebraic_rules": "False"}
    with catalog.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if all(r[k] == v for k, v in flags.items())]
    paths = [corpus / f"{r['model_id']}.xml" for r in rows]
    return sorted(p for p in paths if p.exists())


def done_ids(out: Path) -> set[str]:
    return {r["model"] for r in read_records(out)}


def read_records(out: Path) -> list[dict[str, Any]]:
    """The file's complete records (a last line cut short by a kill is skipped)."""
    if not out.exists():
        return []
    records = []
    for line in out.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


# ---------------------------------------------------------------------- one model
_LOCAL = threading.local()
_WORKERS: list[Any] = []
_WORKERS_LOCK = threading.Lock()


def _worker() -> Any:
    """This thread's persistent roadrunner child (imports roadrunner once, quiet stderr)."""
    worker = getattr(_LOCAL, "worker", None)
    if worker is None:
        worker = _LOCAL.worker = make_worker()
        with _WORKERS_LOCK:
            _WORKERS.append(worker)
    return worker


def _isolated(fn: Any, *args: Any, timeout: float) -> dict[str, Any]:
    """``fn(*args)`` in this thread's child; a timeout, crash or error becomes a record."""
    start = time.perf_counter()
    try:
        return _worker().call(fn, *args, timeout=timeout)
    except ChildTimeout:
        failure = {"status": "timeout", "message": f"killed after {timeout:g} s"}
    except ChildCrashed as exc:
        failure = {"status": "crash", "message": str(exc)}
    except IsolationError as exc:
        failure = {"status": "isolation_error", "message": tw._short(exc)}
    except Exception as exc:  # noqa: BLE001 - recorded, never stops the run
        failure = {"status": "error", "message": f"{type(exc).__name__}: {tw._short(exc)}"}
    failure["wall_s"] = tw._num(time.perf_counter() - start, 4)
    return failure


def _staged(path: Path, timeout: float) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        result = solve_sbml(str(path), timeout=timeout, worker=_worker())
    except InputError as exc:
        return {"status": "input_error", "message": tw._short(exc),
                "seconds": tw._num(time.perf_counter() - start, 4)}
    except Exception as exc:  # noqa: BLE001
        return {"status": "error", "message": f"{type(exc).__name__}: {tw._short(exc)}",
                "seconds": tw._num(time.perf_counter() - start, 4)}
    out = {"status": result.status.value, "stage": result.stage, "seconds":
           tw._num(result.seconds, 4), "message": " ".join(result.message.split())[:240],
           "max_re": tw._num(result.eigenvalues_max_real) if result.eigenvalues_max_real
           is not None else None, "residual": tw._num(result.residual, 4)
           if result.residual is not None else None}
    if result.converged:
        out["concentrations"] = {k: tw._num(v) for k, v in result.concentrations.items()}
    return out


def process(path: Path, timeout: float, truth_timeout: float) -> dict[str, Any]:
    """One model: plain, staged, truth (each in the child, each with its own limit)."""
    start = time.perf_counter()
    record: dict[str, Any] = {"model": path.stem}
    record["plain"] = _isolated(tw.plain_steady_state, str(path), timeout=timeout)
    record["staged"] = _staged(path, timeout)
    truth = _isolated(tw.simulation_truth, str(path), 0.5 * truth_timeout,
                      timeout=truth_timeout)
    if "class" not in truth:  # the child timed out or crashed
        truth = {"class": "failed", "reason": f"{truth['status']}: {truth['message']}"}
    record["truth"] = truth
    record["truth_class"] = truth_class(truth)
    if record["truth_class"].startswith("settled"):
        record["compare"] = {arm: compare(record[arm], truth) for arm in ("plain", "staged")}
    record["wall_s"] = tw._num(time.perf_counter() - start, 4)
    return record


# ---------------------------------------------------------------------- classification
def truth_class(truth: dict[str, Any]) -> str:
    kind = truth.get("class", "failed")
    if kind == "settled":
        stable = truth.get("stable")
        if stable is None:  # roadrunner could not compute the eigenvalues
            return "settled_stability_unknown"
        return "settled_stable" if stable else "settled_not_stable"
    return kind


def returned_state(arm: dict[str, Any]) -> bool:
    """Did the baseline return a state (plain: steadyState() did not raise; staged: a
    converged status)?"""
    return arm.get("status") in ("ok", "converged_stable", "converged_unstable") and \
        bool(arm.get("concentrations"))


def compare(arm: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    """The baseline's state against the truth: agrees / different / different_negative /
    failed, with the relative L1 distance (its denominator floored at the truth's
    ``l1_floor``, 1e-12 x the largest sum|x| of the simulation, for states that decay to 0)."""
    if not returned_state(arm):
        return {"class": "failed"}
    b = truth["concentrations"]
    a = arm["concentrations"]
    values = [a.get(k) for k in b]
    if any(v is None or not math.isfinite(v) for v in values):
        return {"class": "different", "rel_l1": None}
    den = max(sum(abs(v) for v in b.values() if v is not None), truth.get("l1_floor") or 0.0)
    num = sum(abs(x - (b[k] or 0.0)) for x, k in zip(values, b))
    rel = num / den if den > 0 else (0.0 if num == 0 else math.inf)
    if rel <= AGREE_REL_L1:
        return {"class": "agrees", "rel_l1": tw._num(rel, 4)}
    top = max((abs(v) for v in a.values() if v is not None), default=0.0)
    negative = any(v is not None and v < -(NEGATIVE_TOL * top + 1e-12) for v in a.values())
    return {"class": "different_negative" if negative else "different",
            "rel_l1": tw._num(rel, 4)}


# ---------------------------------------------------------------------- run
def run(paths: list[Path], out: Path, workers: int, timeout: float,
        truth_timeout: float) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and out.stat().st_size and not out.read_bytes().endswith(b"\n"):
        with out.open("a") as handle:  # a line cut short by a kill: start a fresh line
            handle.write("\n")
    start = time.perf_counter()
    print(f"running {len(paths)} models with {workers} workers -> {out}", flush=True)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool, out.open("a") as handle:
            futures = {pool.submit(process, p, timeout, truth_timeout): p for p in paths}
            for k, future in enumerate(as_completed(futures), 1):
                path = futures[future]
                try:
                    record = future.result()
                except Exception as exc:  # noqa: BLE001 - a bug here: record it, go on
                    record = {"model": path.stem, "truth_class": "failed",
                              "error": f"{type(exc).__name__}: {tw._short(exc)}"}
                handle.write(json.dumps(record, separators=(",", ":")) + "\n")
                handle.flush()
                cmp = record.get("compare", {})
                print(f"[{k}/{len(paths)}] {path.stem} truth={record['truth_class']} "
                      f"plain={cmp.get('plain', {}).get('class', '-')} "
                      f"staged={cmp.get('staged', {}).get('class', '-')} "
                      f"{record.get('wall_s', 0):.1f} s "
                      f"(elapsed {time.perf_counter() - start:.0f} s)", flush=True)
    finally:
        with _WORKERS_LOCK:
            for worker in _WORKERS:
                worker.close()
    print(f"done: {len(paths)} models in {time.perf_counter() - start:.0f} s", flush=True)


# ---------------------------------------------------------------------- summary
def _table(title: str, header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = [f"\n{title}\n", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _point_kind(arm: dict[str, Any]) -> str:
    """Is a returned point a steady state (flux residual <= 1e-6), and is it stable?"""
    flux, max_re, top = arm.get("flux_residual"), arm.get("max_re"), arm.get("max_abs") or 0.0
    steady = "steady" if flux is not None and flux <= 1e-6 else "not a steady state"
    if max_re is None:
        return f"{steady}, stability unknown"
    return f"{steady}, {'stable' if max_re <= tw.EIGEN_TOL * max(1.0, top) else 'unstable'}"


def _cause(truth: dict[str, Any]) -> str:
    """A short cause for a failed or undecided truth."""
    kind, reason = truth.get("class", "failed"), truth.get("reason", "?")
    for key, label in (("time budget", "time budget reached"), ("integration stopped",
                       "CVODE failed at every tolerance"), ("timeout", "child timed out"),
                       ("crash", "child crashed"), ("load", "roadrunner cannot load"),
                       ("not settled", "not settled by t = 1e6")):
        if key in reason:
            return f"{kind}: {label}"
    return f"{kind}: {reason.split(':')[0][:40]}"


def _median(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):.3g}" if values else "-"


def summary(out: Path) -> str:
    records = read_records(out)
    for r in records:  # recomputed, like the comparisons: thresholds live in one place
        if "truth" in r:
            r["truth_class"] = truth_class(r["truth"])
    parts = [f"{len(records)} records in {out}"]
    classes = Counter(r["truth_class"] for r in records)
    excluded = classes.pop("no_floating", 0)
    counted = sum(classes.values())
    parts.append(f"candidates with floating species: {counted} ({excluded} without floating "
                 "species left out)")
    parts.append(_table("Truth classes (simulation from the initial state to t = 1e6)",
                        ("class", "models"),
                        [(c, classes.get(c, 0)) for c in TRUTH_CLASSES] + [("total", counted)]))
    causes = Counter(_cause(r["truth"]) for r in records
                     if r["truth_class"] in ("failed", "undecided"))
    if causes:
        parts.append(_table("Truth failed / undecided, by cause", ("class: cause", "models"),
                            sorted(causes.items(), key=lambda kv: -kv[1])))
    settled = [r for r in records if r["truth_class"].startswith("settled")]
    sources = Counter(r["truth"].get("source") for r in settled)
    parts.append(f"\nsettled truth from Newton polish: {sources.get('newton', 0)}, from the "
                 f"simulated end state: {sources.get('simulation', 0)}")
    by_time = Counter(f"{r['truth'].get('t_settled', math.nan):g}" for r in settled)
    parts.append(_table("Settled models by the checkpoint from which the state stays within "
                        "1e-6 (rel. L1) of its end", ("t_settled", "models"),
                        sorted(by_time.items(), key=lambda kv: float(kv[0]))))
    eig = Counter(r["truth"].get("eig_method", "-").split(":")[0] for r in settled)
    parts.append(f"\neigenvalues of settled truths: {dict(eig)}")
    rows = []
    for arm in ("plain", "staged"):
        got = Counter(compare(r[arm], r["truth"])["class"] for r in settled)
        diff = got["different"] + got["different_negative"]
        rows.append((arm, len(settled), got["agrees"], diff, got["different_negative"],
                     got["failed"]))
    parts.append(_table(f"Baselines against the settled truth (agrees: rel. L1 <= "
                        f"{AGREE_REL_L1:g})", ("baseline", "settled", "agrees",
                                                "different point", "of which negative",
                                                "failed"), rows))
    for arm in ("plain", "staged"):
        why = Counter(r[arm].get("status") for r in settled
                      if compare(r[arm], r["truth"])["class"] == "failed")
        parts.append(_table(f"{arm}: failures on settled models by status", ("status", "models"),
                            why.most_common()))
    cross = Counter((compare(r["plain"], r["truth"])["class"],
                     compare(r["staged"], r["truth"])["class"]) for r in settled)
    parts.append(_table("plain x staged on settled models", ("plain", "staged", "models"),
                        [(p, q, n) for (p, q), n in sorted(cross.items())]))
    kinds = Counter(_point_kind(r["plain"]) for r in settled
                    if compare(r["plain"], r["truth"])["class"].startswith("different"))
    parts.append(_table("plain's different points on settled models (flux residual; full "
                        "Jacobian)", ("point", "models"), sorted(kinds.items())))
    messages = Counter(r["plain"].get("message", "")[:60] or r["plain"].get("status")
                       for r in settled if compare(r["plain"], r["truth"])["class"] == "failed")
    parts.append(_table("plain failures on settled models, by message", ("message", "models"),
                        messages.most_common(8)))
    stages = Counter((r["staged"].get("stage", "-"), compare(r["staged"], r["truth"])["class"])
                     for r in settled)
    parts.append(_table("staged chain on settled models, by stage", ("stage", "outcome", "models"),
                        [(s, c, n) for (s, c), n in sorted(stages.items())]))
    others = [r for r in records if r["truth_class"] in ("oscillating", "growing", "undecided")]
    rows = []
    for kind in ("oscillating", "growing", "undecided"):
        group = [r for r in others if r["truth_class"] == kind]
        plain_ok = sum(returned_state(r["plain"]) for r in group)
        staged = Counter(r["staged"].get("status") for r in group)
        rows.append((kind, len(group), plain_ok, staged.get("converged_stable", 0),
                     staged.get("converged_unstable", 0), staged.get("no_steady_state", 0),
                     staged.get("solver_failure", 0) + staged.get("timeout", 0)))
    parts.append(_table("Models without a settled truth: what the baselines answer",
                        ("truth", "models", "plain returns a state", "staged stable",
                         "staged unstable", "staged no steady state", "staged failed"), rows))
    counted_records = [r for r in records if r["truth_class"] != "no_floating"]
    timing = [("plain load (s)", [r["plain"].get("load_s") for r in counted_records]),
              ("plain steadyState (s)", [r["plain"].get("solve_s") for r in counted_records]),
              ("staged chain (s)", [r["staged"].get("seconds") for r in counted_records]),
              ("truth simulation (s)", [r["truth"].get("seconds") for r in counted_records]),
              ("whole model, wall (s)", [r.get("wall_s") for r in counted_records])]
    parts.append(_table("Per-model time medians (all models / settled models)",
                        ("step", "median all", "median settled", "max all"),
                        [(name, _median(v), _median([x for x, r in zip(v, counted_records)
                                                     if r["truth_class"].startswith("settled")]),
                          f"{max((x for x in v if x is not None), default=0):.3g}")
                         for name, v in timing]))
    total = sum(r.get("wall_s") or 0 for r in records)
    parts.append(f"\nsum of per-model wall times: {total / 60:.1f} min")
    return "\n".join(parts)


# ---------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--corpus", type=Path, default=SHARED / "curated")
    parser.add_argument("--catalog", type=Path, default=SHARED / "catalog.csv")
    parser.add_argument("--models", nargs="+", help="ids (BIOMD0000000012 or 12)")
    parser.add_argument("--limit", type=int, help="only the first N candidates")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds for plain and for staged, each")
    parser.add_argument("--truth-timeout", type=float, default=120.0,
                        help="hard limit of the truth simulation (its own budget is half of it)")
    parser.add_argument("--summary", action="store_true", help="print the tables and exit")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary(args.out))
        return 0
    paths = candidates(args.catalog, args.corpus)
    print(f"candidates (catalog: pure ODE, no events / delay / time / algebraic rules): "
          f"{len(paths)}", flush=True)
    if args.models:
        wanted = {m if m.startswith("BIOMD") else f"BIOMD{int(m):010d}" for m in args.models}
        paths = [p for p in paths if p.stem in wanted]
    if args.limit is not None:
        paths = paths[:args.limit]
    done = done_ids(args.out)
    todo = [p for p in paths if p.stem not in done]
    print(f"selected {len(paths)}, already done {len(paths) - len(todo)}, to run {len(todo)}",
          flush=True)
    if todo:
        run(todo, args.out, max(1, args.workers), args.timeout, args.truth_timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
