"""training/generate_general.py on a real Dask LocalCluster (2 worker processes): every shard's
content, determinism per shard, resuming (finished shards are skipped), and a refused mix of
settings in one directory."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from sbmleq.core.labels import Label
from sbmleq.core.reaction_generators import RNConfig, network_from_dict, structure_key
from sbmleq.errors import InputError
from training.generate_general import (make_shard, read_shard, run, shard_specs,
                                       write_manifest)

distributed = pytest.importorskip("dask.distributed")

CFG = RNConfig(families=("intake_degradation", "mass_action", "brusselator", "autocatalysis"),
               n_min=2, n_max=4, decades=2.0, group_size=2)


def timeless(records: list[dict]) -> list[dict]:
    """The records without the labelling time (the one thing that differs between runs)."""
    return [{**r, "label": {k: v for k, v in r["label"].items() if k != "seconds"}}
            for r in records]


def check_shard(spec) -> list[dict]:
    header, records = read_shard(spec.path)
    assert header == spec.header()
    assert len(records) == spec.count
    assert [r["index"] for r in records] == list(range(spec.count))
    for rec in records:
        net = network_from_dict(rec["network"])
        lab = Label.from_dict(rec["label"])
        assert 2 <= net.n_state <= 4
        assert net.name.split(":")[0] in CFG.families
        assert lab.outcome in ("settles", "oscillates", "grows", "unresolved")
        if lab.outcome == "settles":
            assert lab.state is not None and len(lab.state) == net.n_state
            assert lab.residual is not None and lab.residual <= 1e-9
    return records


def test_local_cluster_writes_checks_and_resumes(tmp_path):
    out = tmp_path / "data"
    specs = shard_specs(7, 3, seed=5, out=out, cfg=CFG)
    assert [s.count for s in specs] == [3, 2, 2]
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        first = run(specs, client)
        assert [s["skipped"] for s in first] == [False, False, False]
        records = [check_shard(s) for s in specs]
        # shards differ from each other (their own seed streams)
        keys = [structure_key(network_from_dict(r[0]["network"])) for r in records]
        assert len(set(keys)) == 3
        mtimes = [os.stat(s.path).st_mtime_ns for s in specs]
        # resume: a finished shard is skipped; a missing one is made again, identically
        removed = specs[1].path.read_bytes()
        specs[1].path.unlink()
        second = run(specs, client)
        assert [s["skipped"] for s in second] == [True, False, True]
        assert [os.stat(s.path).st_mtime_ns for s in (specs[0], specs[2])] == \
            [mtimes[0], mtimes[2]]
        assert timeless(read_shard(specs[1].path)[1]) == timeless(records[1])
        assert len(removed) > 0
        # a shard that fails on its worker is recorded, the others are still written
        bad = [dataclasses.replace(s, out=str(tmp_path / "bad")) for s in specs]
        bad[0] = dataclasses.replace(bad[0], config={**bad[0].config,
                                                     "families": ["no_such_family"]})
        third = run(bad, client)
        assert "failed" in third[0] and third[0]["count"] == 0
        assert not bad[0].path.exists() and bad[1].path.exists() and bad[2].path.exists()
    # the same shard made in this process, elsewhere, is the same (deterministic seeds)
    again = shard_specs(7, 3, seed=5, out=tmp_path / "again", cfg=CFG)
    make_shard(again[2])
    assert timeless(read_shard(again[2].path)[1]) == timeless(records[2])
    manifest = json.loads(write_manifest(out, specs, second).read_text())
    assert manifest["count"] == 7 and len(manifest["shards"]) == 3
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]
    # other settings in the same directory are refused, not mixed in
    other = shard_specs(7, 3, seed=6, out=out, cfg=CFG)
    with pytest.raises(InputError, match="other settings"):
        make_shard(other[0])


def test_command_line_balanced_run(tmp_path, capsys):
    from training.generate_general import main

    out = tmp_path / "cli"
    args = ["--n", "6", "--out", str(out), "--shards", "2", "--workers", "2", "--seed", "1",
            "--balanced", "--n-min", "2", "--n-max", "3", "--group", "2",
            "--families", "intake_degradation,brusselator,autocatalysis"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == 6 and manifest["shards"] == ["shard-00000.jsonl.gz",
                                                             "shard-00001.jsonl.gz"]
    for name in manifest["shards"]:
        header, records = read_shard(out / name)
        assert header["balanced"] is True and header["count"] == 3
        assert sorted(r["label"]["outcome"] for r in records) == ["grows", "oscillates",
                                                                  "settles"]
    assert main(args) == 0  # everything is there: both shards skipped
    assert all(s["skipped"] for s in json.loads((out / "manifest.json").read_text())
               ["summaries"])
    with pytest.raises(InputError):
        main(["--n", "2", "--out", str(out), "--families", "nope"])
