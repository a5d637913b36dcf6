"""COPASI (basico's steady-state task) as a third peer over the models that settle.

    python benchmarks/corpus_copasi.py [--workers 1] [--timeout 60] [--out FILE] [--truth FILE]
    python benchmarks/corpus_copasi.py --summary

Needs ``pip install copasi-basico`` (not a dependency of sbmleq). For every candidate whose
simulation truth (benchmarks/results/corpus_truth.jsonl) settles, in an isolated child with a
hard limit: ``basico.load_model`` + ``run_steadystate`` with COPASI's default settings (damped
Newton, then forward and backward integration), scored like the other arms of
benchmarks/corpus_solve.py (right: a state within relative L1 1e-4 of the truth). Resumable.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _solve_worker as sw  # benchmarks/ is on sys.path when this script runs
import corpus_solve as cs
import corpus_truth as ct

DEFAULT_OUT = ct.ROOT / "benchmarks" / "results" / "corpus_copasi.jsonl"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--truth", type=Path, default=ct.DEFAULT_OUT)
    ap.add_argument("--summary", action="store_true")
    args = ap.parse_args(argv)
    truths = {r["model"]: r for r in ct.read_records(args.truth)}
    settled = [m for m, r in truths.items() if ct.truth_class(r["truth"]) in cs.SETTLED]
    if not args.summary:
        done = {r["model"] for r in ct.read_records(args.out)}
        todo = [m for m in sorted(settled) if m not in done]
        args.out.parent.mkdir(parents=True, exist_ok=True)

        def one(model: str) -> dict:
            path = ct.SHARED / "curated" / f"{model}.xml"
            return {"model": model, "copasi": ct._isolated(sw.copasi_steady_state, str(path),
                                                            timeout=args.timeout)}

        start = time.perf_counter()
        try:
            with ThreadPoolExecutor(args.workers) as pool, args.out.open("a") as handle:
                for k, rec in enumerate(pool.map(one, todo), 1):
                    handle.write(json.dumps(rec, separators=(",", ":")) + "\n")
                    handle.flush()
                    print(f"[{k}/{len(todo)}] {rec['model']} {rec['copasi'].get('status')} "
                          f"(elapsed {time.perf_counter() - start:.0f} s)", flush=True)
        finally:
            for worker in ct._WORKERS:
                worker.close()
    recs = {r["model"]: r for r in ct.read_records(args.out)}
    scores, secs = Counter(), []
    for m in settled:
        if m not in recs:
            continue
        arm = recs[m]["copasi"]
        shaped = {**arm, "status": "ok"} if arm.get("concentrations") else arm
        got = ct.compare(shaped, truths[m]["truth"])["class"]
        scores["right" if got == "agrees" else got] += 1
        if arm.get("load_s") is not None and arm.get("solve_s") is not None:
            secs.append(arm["load_s"] + arm["solve_s"])
    print(f"COPASI on {sum(scores.values())} settled models: " +
          ", ".join(f"{k} {v}" for k, v in scores.most_common()))
    if secs:
        print(f"seconds per model (load + steady state): median {statistics.median(secs):.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
