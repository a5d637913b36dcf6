"""Cold start: whole-process wall time of ``sbmleq predict`` against plain roadrunner.

    python benchmarks/bench_cold_start.py [--runs 7] [--nodes 3]

Both arms get the same small in-class SBML file (a LIFE network written by
``sbmleq.io.sbml_export``):

- ``sbmleq predict FILE`` (``python -m sbmleq``: import, model, table on stdout);
- ``sbmleq predict FILE --format json``;
- ``python -c "import roadrunner; r = roadrunner.RoadRunner(FILE); r.steadyState()"``.

Runs are interleaved (A, B, C, A, B, C, ...) so that a change of machine load hits every arm
alike; the script prints each arm's median and the ratio to roadrunner (target: <= 2x). It also
prints the top imports of the predict path (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sbmleq.core.network import Network
from sbmleq.io.sbml_export import write_sbml


def small_network(n: int, seed: int = 1) -> Network:
    rng = np.random.default_rng(seed)
    edges = [(f"S{i}", f"S{i + 1}", float(rng.uniform(0.5, 2.0))) for i in range(n - 1)]
    edges.append((f"S{n - 1}", "S0", 0.5))
    return Network.from_edges(edges, {"S0": 1.0}, {f"S{n - 1}": 0.3}, name="cold_start")


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds


def top_imports(cmd: list[str], env: dict[str, str], count: int = 8) -> list[tuple[int, str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            rows.append((int(parts[1]), parts[2].strip()))  # top-level imports: cumulative us
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--nodes", type=int, default=3)
    args = ap.parse_args()

    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_sbml(small_network(args.nodes), Path(tmp) / "cold_start.xml")
        arms = {
            "sbmleq predict (table)": [sys.executable, "-m", "sbmleq", "predict", str(path)],
            "sbmleq predict --format json": [sys.executable, "-m", "sbmleq", "predict",
                                             str(path), "--format", "json"],
            "roadrunner load + steadyState": [
                sys.executable, "-c", "import sys, roadrunner; r = roadrunner.RoadRunner("
                                      "sys.argv[1]); r.steadyState()", str(path)],
        }
        for cmd in arms.values():  # warm the file cache and the .pyc files
            wall(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in arms}
        for _ in range(args.runs):
            for name, cmd in arms.items():
                times[name].append(wall(cmd, env))
        imports = top_imports(arms["sbmleq predict (table)"], env)

    base = statistics.median(times["roadrunner load + steadyState"])
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"cold start, {args.runs} interleaved runs per arm, {args.nodes}-species model, "
          f"{os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"{'arm':34s} {'median s':>9s} {'min s':>7s} {'max s':>7s} {'x roadrunner':>13s}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:34s} {med:9.3f} {min(values):7.3f} {max(values):7.3f} {med / base:13.2f}")
    print("\nlargest top-level imports of `sbmleq predict` (cumulative, python -X importtime):")
    for us, name in imports:
        print(f"  {us / 1e3:8.1f} ms  {name}")


if __name__ == "__main__":
    main()
