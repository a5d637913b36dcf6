"""Labelled networks per second in the paper's setting, against the paper's own per-graph method.

Setting: directed G(n, m), n uniform in 32..64, m = round(U[2, 4] n), unit weights, one intake
node and one excreting node (``GeneratorConfig()``), labelled with existence and, for positives,
the equilibrium concentrations.

- baseline (what the paper's code does per graph, written lean): ``nx.gnm_random_graph``, a
  ``DiGraph`` with the intake node 0 and the excretion node n+1 added, ``nx.has_path`` from every
  node to the excretion node, and for positives ``np.linalg.inv`` of the grounded Laplacian.
  (The paper's code also round-trips through dense numpy matrices and ``matrix_rank``; leaving
  that out only makes the baseline faster.)
- ours: :func:`sbmleq.core.generators.sample_batch` in chunks, labelled with
  :func:`sbmleq.core.exact.label_raw_batch`. For reference also the per-graph ``sample_network``
  stream with the same labeller, and labelling alone on identical networks.

Rates are measured in alternating rounds in one process, on CPU time of this process (robust to
other load on the machine) and on wall-clock time; the ratio uses the median round of each.

    python benchmarks/bench_generators.py [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time

import networkx as nx
import numpy as np

from sbmleq.core.exact import label_raw_batch
from sbmleq.core.generators import GeneratorConfig, RawNetwork, sample_batch, sample_network

CFG = GeneratorConfig()  # the paper's S setting: gnm, 32-64 nodes, unit weights, 1 in / 1 out


# ---------------------------------------------------------------------- the paper's method
def paper_label(n: int, edges, intake_node: int, excretion_node: int):
    """Existence (every node has a path to the excretion node) and, if so, x = inv(L_G^T) phi."""
    gg = nx.DiGraph()
    gg.add_nodes_from(range(n + 2))
    gg.add_edges_from((s + 1, t + 1) for s, t in edges)
    gg.add_edge(0, intake_node + 1)
    gg.add_edge(excretion_node + 1, n + 1)
    without_path = [k for k in range(n + 2) if not nx.has_path(gg, k, n + 1)]
    if without_path:
        return False, None
    a = np.zeros((n, n))
    for s, t in edges:
        a[s, t] = 1.0
    lg = np.diag(a.sum(axis=1)) - a
    lg[excretion_node, excretion_node] += 1.0
    phi = np.zeros(n)
    phi[intake_node] = 1.0
    return True, np.linalg.inv(lg.T) @ phi


def paper_generate_and_label(count: int, seed: int) -> int:
    rng = random.Random(seed)
    positives = 0
    for _ in range(count):
        n = rng.randint(CFG.n_min, CFG.n_max)
        m = round((2 + 2 * rng.random()) * n)
        g = nx.gnm_random_graph(n, m, directed=True, seed=rng)
        ok, _ = paper_label(n, list(g.edges()), rng.randrange(n), rng.randrange(n))
        positives += ok
    return positives


# ---------------------------------------------------------------------- ours
def ours_batched(count: int, seed: int, chunk: int) -> int:
    rng = np.random.default_rng(seed)
    positives = 0
    for start in range(0, count, chunk):
        exists, _ = label_raw_batch(sample_batch(CFG, rng, min(chunk, count - start)))
        positives += int(exists.sum())
    return positives


def ours_stream(count: int, seed: int, chunk: int) -> int:
    rng = np.random.default_rng(seed)
    positives = 0
    for start in range(0, count, chunk):
        raws = [sample_network(CFG, rng) for _ in range(min(chunk, count - start))]
        exists, _ = label_raw_batch(raws)
        positives += int(exists.sum())
    return positives


def labelling_only(raws: list[RawNetwork], repeats: int = 5):
    """Both labellers on the same networks (ours: best of ``repeats``); checks that they agree."""
    t0, c0 = time.perf_counter(), time.process_time()
    ref = [paper_label(r.n, list(zip(r.src.tolist(), r.dst.tolist())),
                       int(np.flatnonzero(r.intake)[0]), int(np.flatnonzero(r.excretion)[0]))
           for r in raws]
    base = (time.process_time() - c0, time.perf_counter() - t0)
    ours = []
    for _ in range(repeats):
        t1, c1 = time.perf_counter(), time.process_time()
        exists, x = label_raw_batch(raws)
        ours.append((time.process_time() - c1, time.perf_counter() - t1))
    for k, (ok, xr) in enumerate(ref):
        assert ok == exists[k], f"label mismatch on network {k}"
        if ok:
            assert np.allclose(x[k, : raws[k].n], xr, rtol=1e-9, atol=1e-12), k
    return base, (min(c for c, _ in ours), min(w for _, w in ours))


def timed(fn, *args):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.process_time() - c0, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline-count", type=int, default=1000)
    ap.add_argument("--count", type=int, default=32768)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    ours_batched(args.chunk, 0, args.chunk)  # warm up imports and caches
    paper_generate_and_label(20, 0)
    rows = {"baseline": [], "ours": [], "ours_stream": []}
    pos = {}
    for r in range(args.rounds):
        p, cpu, wall = timed(paper_generate_and_label, args.baseline_count, 100 + r)
        rows["baseline"].append((args.baseline_count / cpu, args.baseline_count / wall))
        pos["baseline"] = p / args.baseline_count
        p, cpu, wall = timed(ours_batched, args.count, 100 + r, args.chunk)
        rows["ours"].append((args.count / cpu, args.count / wall))
        pos["ours"] = p / args.count
        n_stream = args.count // 4
        p, cpu, wall = timed(ours_stream, n_stream, 100 + r, args.chunk)
        rows["ours_stream"].append((n_stream / cpu, n_stream / wall))
        pos["ours_stream"] = p / n_stream

    rng = np.random.default_rng(7)
    same = [sample_network(CFG, rng) for _ in range(args.baseline_count)]
    (bc, bw), (oc, ow) = labelling_only(same)

    med = {k: (statistics.median(v[0] for v in vs), statistics.median(v[1] for v in vs))
           for k, vs in rows.items()}
    result = {
        "setting": "gnm, n 32-64, m = round(U[2,4] n), unit weights, 1 intake, 1 excretion",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "rounds": args.rounds, "chunk": args.chunk,
        "rate_cpu": {k: v[0] for k, v in med.items()},
        "rate_wall": {k: v[1] for k, v in med.items()},
        "ratio_cpu": med["ours"][0] / med["baseline"][0],
        "ratio_wall": med["ours"][1] / med["baseline"][1],
        "ratio_stream_cpu": med["ours_stream"][0] / med["baseline"][0],
        "positive_fraction": pos,
        "labelling_only": {"networks": len(same), "baseline_rate_cpu": len(same) / bc,
                           "ours_rate_cpu": len(same) / oc, "ratio_cpu": bc / oc,
                           "ratio_wall": bw / ow},
    }
    print(f"setting: {result['setting']} ({result['machine']})")
    print(f"{'':34s}{'CPU-time rate':>16s}{'wall-clock rate':>18s}")
    names = {"baseline": "baseline (paper's method)",
             "ours": "ours: sample_batch + label_raw",
             "ours_stream": "ours: sample_network + label_raw"}
    for k, name in names.items():
        print(f"{name:34s}{med[k][0]:13,.0f}/s{med[k][1]:15,.0f}/s")
    print(f"ratio ours/baseline: {result['ratio_cpu']:.1f}x (CPU time), "
          f"{result['ratio_wall']:.1f}x (wall clock); per-graph stream: "
          f"{result['ratio_stream_cpu']:.1f}x (CPU time)")
    lo = result["labelling_only"]
    print(f"labelling only, same {lo['networks']} networks (a list of RawNetworks): "
          f"{lo['baseline_rate_cpu']:,.0f}/s vs {lo['ours_rate_cpu']:,.0f}/s = "
          f"{lo['ratio_cpu']:.0f}x (CPU time); labels identical")
    print("positive fraction: " + ", ".join(f"{k} {v:.3f}" for k, v in pos.items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
