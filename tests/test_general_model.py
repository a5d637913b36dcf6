"""The general steady-state model: scale-free features, masks, training, resume, safe loading,
DDP. Real generated networks labelled by the real solver (a small shard, made once)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sbmleq.core.labels import Label
from sbmleq.core.reaction_generators import RNConfig, network_from_dict, sample_networks
from sbmleq.core.reactions import ReactionNetwork, Species
from sbmleq.errors import CheckpointError, InputError
from sbmleq.model.general_features import collate, network_features, targets
from sbmleq.model.general_model import (GeneralModelConfig, GeneralSteadyStateModel, PhysicsRHS,
                                        batch_tensors)
from sbmleq.model.general_predictor import GeneralPredictor
from training import train_general
from training.generate_general import make_shard, read_shard, shard_specs

ROOT = Path(__file__).resolve().parents[1]
# families that label fast (no 20 s timeouts), with one oscillating motif
FAMILIES = ("mass_action", "michaelis_menten", "zero_order", "enzyme_complex", "brusselator")
SMALL = ["--d-model", "32", "--n-heads", "4", "--n-local-heads", "2", "--n-layers", "2",
         "--d-ff", "64", "--batch-size", "16", "--warmup", "5", "--log-every", "1000",
         "--eval-every", "1000", "--ckpt-every", "1000", "--threads", "1"]


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("general_shards")
    cfg = RNConfig(families=FAMILIES, n_min=2, n_max=6, decades=2.0, group_size=8)
    for spec in shard_specs(64, 1, 7, out, cfg):
        make_shard(spec)
    return out


def scaled(net, k: float):
    """Every parameter, compartment size and initial value times 10**k."""
    f = 10.0 ** k
    species = tuple(Species(s.id, s.compartment, s.initial * f, s.amount, s.boundary,
                            s.constant, s.name) for s in net.species)
    return net.replace(species=species, parameters={p: v * f for p, v in net.parameters.items()},
                       compartments={c: v * f for c, v in net.compartments.items()})


def test_features_are_scale_free():
    cfg = RNConfig(families=("enzyme_complex", "michaelis_menten", "mixed"), n_min=3, n_max=10,
                   decades=3.0, group_size=1)
    nets = sample_networks(cfg, np.random.default_rng(3), 6)
    assert any(n.conservation.count for n in nets)  # conserved pools are covered
    for net in nets:
        a = network_features(net)
        state = net.initial_state() * 3.7
        for k in (-3.0, 2.0, 6.0):
            b = network_features(scaled(net, k))
            assert b.reference == pytest.approx(a.reference + k, abs=1e-9)
            for x, y in ((a.species_x, b.species_x), (a.reaction_x, b.reaction_x),
                         (a.edges, b.edges)):
                np.testing.assert_allclose(x, y, atol=1e-5)
            ya, ma = targets(a, state)
            yb, mb = targets(b, state * 10.0 ** k)
            np.testing.assert_array_equal(ma, mb)
            np.testing.assert_allclose(ya, yb, atol=1e-5)


def test_collate_pads_and_masks_do_not_leak():
    cfg = RNConfig(families=("mass_action", "enzyme_complex"), n_min=2, n_max=9, group_size=1)
    nets = sample_networks(cfg, np.random.default_rng(5), 12)
    nets = sorted(nets, key=lambda n: len(n.species) + len(n.reactions))
    small, big = network_features(nets[0]), network_features(nets[-1])
    assert (small.n_species, small.n_reactions) < (big.n_species, big.n_reactions)
    batch = collate([small, big])
    assert batch.species_x.shape[:2] == (2, big.n_species)
    assert batch.edges.shape[:3] == (2, big.n_species, big.n_reactions)
    assert batch.species_mask[0].sum() == small.n_species and batch.species_mask[1].all()
    assert batch.reaction_mask[0].sum() == small.n_reactions
    assert not batch.edges[0, small.n_species:].any()
    assert not batch.edges[0, :, small.n_reactions:].any()
    assert (batch.state_index[0, small.n_species:] == -1).all()
    torch.manual_seed(0)
    model = GeneralSteadyStateModel(GeneralModelConfig(d_model=32, n_heads=4, n_local_heads=2,
                                                       n_layers=2, d_ff=64)).eval()
    with torch.no_grad():
        alone = model(**batch_tensors(collate([small]), "cpu"))
        padded = model(**batch_tensors(batch, "cpu"))
    torch.testing.assert_close(padded["y"][0, :small.n_species], alone["y"][0], atol=1e-5, rtol=0)
    torch.testing.assert_close(padded["logits"][0], alone["logits"][0], atol=1e-5, rtol=0)
    assert (padded["y"][0, small.n_species:] == 0).all()


def test_physics_balance_vanishes_and_pools_hold_at_the_labelled_steady_state(shard_dir):
    _, records = read_shard(next(shard_dir.glob("shard-*.jsonl.gz")))
    items = train_general.make_items(
        [(network_from_dict(r["network"]), Label.from_dict(r["label"]))
         for r in records])
    settled = [it for it in items if it.state is not None][:4]
    assert settled
    batch = collate([it.ex for it in settled])
    rhs = PhysicsRHS([it.net for it in settled], batch, "cpu")
    y_star = torch.zeros(batch.species_x.shape[:2])
    y_init = torch.zeros_like(y_star)
    for k, it in enumerate(settled):
        ok = np.flatnonzero(it.ex.state_index >= 0)
        x0 = it.net.initial_state()[it.ex.state_index[ok]]
        y_star[k, ok] = torch.as_tensor(np.log10(it.state[it.ex.state_index[ok]]) - it.ex.reference,
                                        dtype=torch.float32)
        y_init[k, ok] = torch.as_tensor(np.log10(np.maximum(x0, 1e-30)) - it.ex.reference,
                                        dtype=torch.float32)
    at_star, at_init = rhs.balance(y_star).abs().amax(), rhs.balance(y_init).abs().amax()
    assert at_star < 1e-3 and at_init > 1e-2
    # the conserved totals of the labelled state are the initial ones: projecting keeps it
    torch.testing.assert_close(rhs.project(y_star), y_star, atol=1e-4, rtol=0)
    # the exact steady state is a fixed point of the learned iteration (any weights)
    torch.manual_seed(1)
    model = GeneralSteadyStateModel(GeneralModelConfig(d_model=32, n_heads=4, n_local_heads=2,
                                                       n_layers=1, d_ff=64, physics=True))
    torch.nn.init.normal_(model.step_mlp.fc2.weight)  # gains far from the initial 1
    hs = torch.randn(len(settled), y_star.shape[1], 32)
    move = torch.as_tensor(batch.state_mask)
    with torch.no_grad():
        stay = model.refine(hs, y_star, move, rhs, 6)[-1]
        went = model.refine(hs, y_init, move, rhs, 6)[-1]
    assert (stay - y_star).abs().max() < 1e-3
    assert (went - y_init).abs().max() > 0.1
    moved = rhs.project(y_star + 0.5)  # everything 10**0.5 too large: pools scaled back
    pooled = [k for k, it in enumerate(settled) if it.net.conservation.count]
    for k in pooled:
        ok = torch.as_tensor(settled[k].ex.state_index >= 0)
        assert (moved[k][ok] < y_star[k][ok] + 0.5 - 1e-3).any()


def test_training_reduces_loss_and_predictor_loads(shard_dir, tmp_path, capsys):
    res = train_general.main(["--out", str(tmp_path), "--data", str(shard_dir), "--max-steps",
                              "60", "--lr", "3e-3", *SMALL])
    losses = [v for _, v in res["losses"]]
    assert len(losses) == 60 and np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    text = capsys.readouterr().out
    assert "<=1%" in text and "acc" in text  # the val table
    pred = GeneralPredictor.load(tmp_path / "model.pt")
    assert pred.meta["seed"] == 0 and "hardware" in pred.meta and pred.meta["wall_seconds"] > 0
    _, records = read_shard(next(shard_dir.glob("shard-*.jsonl.gz")))
    net = network_from_dict(records[0]["network"])
    probs, x, ood = pred.predict(net)
    assert set(probs) == {"settles", "oscillates", "grows"}
    assert sum(probs.values()) == pytest.approx(1.0)
    assert x.shape == (net.n_state,) and np.isfinite(x).all() and (x > 0).all()
    assert not ood.flag, ood.reasons
    big = sample_networks(RNConfig(families=("hill",), n_min=20, n_max=20, group_size=1),
                          np.random.default_rng(0), 1)[0]
    ood = pred.ood(big)
    assert ood.flag and any("species" in r for r in ood.reasons)
    assert any("never seen" in r and "hill" in r for r in ood.reasons)
    huge = ReactionNetwork(tuple(Species(f"S{i}", "c", 1.0) for i in range(3001)), (), {},
                           {"c": 1.0}, name="huge")
    with pytest.raises(InputError, match="at most 3000"):
        pred.predict(huge)


def test_resume_continues_exactly(shard_dir, tmp_path):
    common = ["--data", str(shard_dir), "--max-steps", "6", *SMALL]
    full = train_general.main(["--out", str(tmp_path / "a"), *common])
    first = train_general.main(["--out", str(tmp_path / "b"), *common, "--stop-after", "3"])
    assert first["step"] == 3
    payload = torch.load(tmp_path / "b" / "ckpt.pt", weights_only=True)
    assert payload["train_state"]["step"] == 3 and "optimizer" in payload and "rng" in payload
    rest = train_general.main(["--out", str(tmp_path / "b"), *common, "--resume"])
    assert rest["step"] == 6 and [s for s, _ in rest["losses"]] == [4, 5, 6]
    assert [v for _, v in first["losses"] + rest["losses"]] == [v for _, v in full["losses"]]


def test_corrupt_checkpoint_is_one_line_error(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip file")
    with pytest.raises(CheckpointError) as err:
        GeneralPredictor.load(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    torch.save({"format": "sbmleq.model.general/1", "config": {"d_model": 30, "n_heads": 4},
                "model": {}}, bad)
    with pytest.raises(CheckpointError, match="config"):
        GeneralPredictor.load(bad)
    with pytest.raises(CheckpointError, match="not found"):
        GeneralPredictor.load(tmp_path / "missing.pt")


@pytest.mark.slow
def test_ddp_two_processes_gloo(shard_dir, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.train_general", "--out", str(tmp_path), "--data", str(shard_dir),
           "--max-steps", "3", "--device", "cpu", *SMALL]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "2 process(es)" in run.stdout and "done: step 3" in run.stdout
    payload = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert payload["train_state"]["step"] == 3 and payload["train_state"]["examples"] == 3 * 2 * 16
    assert payload["meta"]["hardware"]["world_size"] == 2


def test_physics_arm_trains_and_predicts(shard_dir, tmp_path):
    res = train_general.main(["--out", str(tmp_path), "--data", str(shard_dir), "--max-steps",
                              "3", "--physics", "--n-iters", "3", *SMALL])
    assert res["step"] == 3 and all(np.isfinite(v) for _, v in res["losses"])
    pred = GeneralPredictor.load(tmp_path / "model.pt")
    assert pred.cfg.physics and pred.cfg.n_iters == 3
    _, records = read_shard(next(shard_dir.glob("shard-*.jsonl.gz")))
    net = network_from_dict(records[0]["network"])
    probs, x, _ = pred.predict(net, n_iters=6)
    assert x.shape == (net.n_state,) and np.isfinite(x).all()


def test_data_from_several_directories(shard_dir):
    one = train_general.load_records(train_general.parse_args(["--data", str(shard_dir)]), 0, 1)
    two = train_general.load_records(
        train_general.parse_args(["--data", f"{shard_dir},{shard_dir}"]), 0, 1)
    assert len(one) > 0 and len(two) == 2 * len(one)
    assert [n.name for n, _ in two[len(one):]] == [n.name for n, _ in one]


def test_hold_out_families_are_left_out_of_training(shard_dir, tmp_path):
    held = FAMILIES[0]
    train_general.main(["--out", str(tmp_path), "--data", str(shard_dir), "--max-steps", "2",
                        "--hold-out", held, *SMALL])
    meta = GeneralPredictor.load(tmp_path / "model.pt").meta
    assert held not in meta["generator_families"] and meta["generator_families"]
    with pytest.raises(SystemExit, match="unknown generator families"):
        train_general.main(["--out", str(tmp_path / "x"), "--data", str(shard_dir),
                            "--hold-out", "no_such_family", *SMALL])
