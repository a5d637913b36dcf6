"""Generate labelled general reaction networks in shards, fanned out with Dask.

    python training/generate_general.py --n 100000 --out data/general --shards 200 \
        [--scheduler local|tcp://host:8786] [--workers 4] [--seed 0] [--balanced] \
        [--n-min 2 --n-max 64 --decades 3 --group 8] [--families mass_action,hill,...]

Each shard ``k`` is one task: it draws its networks from its own seed stream
(``SeedSequence([seed, k])``: deterministic, whatever machine runs it and in whatever order),
labels them (:func:`sbmleq.core.labels.label_networks`; with ``--balanced``, equal numbers per
outcome by :func:`sbmleq.core.reaction_generators.balanced_sample`) and writes
``DIR/shard-00042.jsonl.gz``: a header line ``{"shard", "count", "config"}`` then one line per
network ``{"index", "network": <token-free network JSON>, "label": <label>}``. A shard is written
to a temporary name and renamed when complete, so a file under the final name is always whole:
rerunning skips the shards already there (after checking that they were made with the same
config), which makes the job resumable. ``DIR/manifest.json`` lists the shards at the end.

Scheduling is Dask's (``dask.distributed``): a ``LocalCluster`` of single-threaded worker
processes by default, or the address of a running scheduler for many machines (each needs
sbmleq installed; this module's code travels with the tasks).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sbmleq.core.labels import label_networks
from sbmleq.core.reaction_generators import (GENERATORS, RNConfig, balanced_sample,
                                             network_to_dict, sample_networks)
from sbmleq.errors import InputError

SCHEMA = "sbmleq.training.general_shard"


@dataclass(frozen=True)
class ShardSpec:
    """Everything one shard task needs (plain data: it is shipped to a worker)."""

    index: int
    count: int
    seed: int
    out: str
    balanced: bool
    config: dict[str, Any]

    @property
    def path(self) -> Path:
        return Path(self.out) / f"shard-{self.index:05d}.jsonl.gz"

    def header(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "shard": self.index, "count": self.count, "seed": self.seed,
                "balanced": self.balanced, "config": self.config}


def shard_specs(n: int, shards: int, seed: int, out: str | os.PathLike, cfg: RNConfig,
                balanced: bool = False) -> list[ShardSpec]:
    """``n`` networks over ``shards`` shards (the first ``n % shards`` get one more)."""
    if n < 0 or shards < 1:
        raise InputError("need --n >= 0 and --shards >= 1")
    base, extra = divmod(n, shards)
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.to_dict().items()}
    return [ShardSpec(k, base + (k < extra), seed, str(out), balanced, config)
            for k in range(shards)]


def read_header(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.loads(fh.readline())


def read_shard(path: str | os.PathLike) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, records) of a shard file."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        return header, [json.loads(line) for line in fh if line.strip()]


def is_done(spec: ShardSpec) -> bool:
    """The shard's file exists (complete, by the atomic rename) and matches ``spec``."""
    if not spec.path.exists():
        return False
    header = read_header(spec.path)
    if header != spec.header():
        raise InputError(f"{spec.path} was made with other settings ({header.get('config')}, "
                         f"count {header.get('count')}); use another --out directory",
                         source=str(spec.path))
    return True


def _config(d: dict[str, Any]) -> RNConfig:
    return RNConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def make_shard(spec: ShardSpec) -> dict[str, Any]:
    """Generate, label and write one shard (skipped when already there); a summary."""
    t0 = time.perf_counter()
    if is_done(spec):
        return {"shard": spec.index, "skipped": True, "count": spec.count}
    cfg = _config(spec.config)
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, spec.index]))
    if spec.balanced:
        nets, labels, _ = balanced_sample(cfg, spec.count, rng, label_networks)
        nets, labels = nets[:spec.count], labels[:spec.count]
    else:
        nets = sample_networks(cfg, rng, spec.count)
        labels = label_networks(nets)
    spec.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = spec.path.with_name(f".{spec.path.name}.{os.getpid()}.tmp")
    outcomes: dict[str, int] = {}
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(spec.header()) + "\n")
        for i, (net, lab) in enumerate(zip(nets, labels)):
            outcomes[lab.outcome] = outcomes.get(lab.outcome, 0) + 1
            fh.write(json.dumps({"index": i, "network": network_to_dict(net),
                                 "label": lab.to_dict()}) + "\n")
    os.replace(tmp, spec.path)
    return {"shard": spec.index, "skipped": False, "count": len(nets), "outcomes": outcomes,
            "seconds": time.perf_counter() - t0}


def run(specs: Sequence[ShardSpec], client: Any) -> list[dict[str, Any]]:
    """Submit the unfinished shards to a ``dask.distributed`` client; summaries of all."""
    from dask.distributed import as_completed  # the cluster extra: only when fanning out
    import cloudpickle  # ships this module's code by value (workers need only sbmleq)

    module = sys.modules[__name__]
    if __name__ != "__main__":
        cloudpickle.register_pickle_by_value(module)
    done = [{"shard": s.index, "skipped": True, "count": s.count} for s in specs if is_done(s)]
    todo = [s for s in specs if not s.path.exists()]
    futures = client.map(make_shard, todo, pure=False)
    out = list(done)
    index = {fut.key: spec.index for fut, spec in zip(futures, todo)}
    for fut in as_completed(futures):
        try:
            summary = fut.result()
        except Exception as exc:  # noqa: BLE001 - one shard's failure is recorded; a rerun retries it
            summary = {"shard": index[fut.key], "count": 0,
                       "failed": f"{type(exc).__name__}: {exc}"}
            out.append(summary)
            print(f"shard {summary['shard']}: FAILED ({summary['failed']}); rerun to retry",
                  flush=True)
            continue
        out.append(summary)
        print(f"shard {summary['shard']}: {summary['count']} networks "
              f"{summary.get('outcomes', '')} in {summary.get('seconds', 0):.1f} s", flush=True)
    return sorted(out, key=lambda s: s["shard"])


def write_manifest(out: str | os.PathLike, specs: Sequence[ShardSpec],
                   summaries: Sequence[dict[str, Any]]) -> Path:
    path = Path(out) / "manifest.json"
    manifest = {"schema": SCHEMA + ".manifest", "shards": [s.path.name for s in specs],
                "count": sum(s.count for s in specs),
                "config": specs[0].config if specs else {},
                "summaries": list(summaries)}
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, required=True, help="networks in all")
    ap.add_argument("--out", required=True, help="output directory (shards, manifest)")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--scheduler", default="local",
                    help="'local' (a LocalCluster on this machine) or a scheduler address")
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--balanced", action="store_true",
                    help="equal numbers settling / oscillating / growing (labels decide)")
    ap.add_argument("--n-min", type=int, default=2)
    ap.add_argument("--n-max", type=int, default=64)
    ap.add_argument("--decades", type=float, default=3.0)
    ap.add_argument("--group", type=int, default=8, help="networks per structure")
    ap.add_argument("--families", default=",".join(GENERATORS))
    args = ap.parse_args(argv)
    try:
        cfg = RNConfig(families=tuple(f for f in args.families.split(",") if f),
                       n_min=args.n_min, n_max=args.n_max, decades=args.decades,
                       group_size=args.group)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    specs = shard_specs(args.n, args.shards, args.seed, args.out, cfg, args.balanced)
    from dask.distributed import Client, LocalCluster  # the cluster extra

    if args.scheduler == "local":
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            summaries = run(specs, client)
    else:
        with Client(args.scheduler) as client:
            summaries = run(specs, client)
    print(f"manifest: {write_manifest(args.out, specs, summaries)}")
    failed = [s["shard"] for s in summaries if "failed" in s]
    if failed:
        print(f"{len(failed)} shard(s) failed ({failed}); run the same command again to retry "
              "them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
