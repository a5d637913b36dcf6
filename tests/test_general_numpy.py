"""The NumPy inference path of the general model (sbmleq.model.general_numpy / general_npz /
general_load): it agrees with the torch model on both arms, loads and predicts without importing
torch, refuses corrupt files with a one-line CheckpointError, and survives the export round trip.
Real networks (generated and one imported from Antimony), real compiled rate laws."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sbmleq.api import load_network
from sbmleq.core.reaction_generators import RNConfig, sample_networks
from sbmleq.errors import CheckpointError, InputError
from sbmleq.model.general_features import collate, network_features
from sbmleq.model.general_load import NumpyGeneralPredictor, load_general_predictor
from sbmleq.model.general_model import (GeneralModelConfig, GeneralSteadyStateModel, PhysicsRHS,
                                        batch_tensors)
from sbmleq.model.general_npz import read_general_npz
from sbmleq.model.general_numpy import NumpyPhysicsRHS, general_weight_shapes
from sbmleq.model.general_predictor import (GeneralPredictor, build_from_payload,
                                            read_general_checkpoint, save_general_checkpoint)
from training import export_general

ROOT = Path(__file__).resolve().parents[1]

# a conserved enzyme pool, a compartment of size 2 and a saturating degradation
ENZYME = """
model enzyme
  compartment cell = 2
  species S in cell, E in cell, ES in cell, P in cell
  J1: S + E -> ES; cell*(kon*S*E - koff*ES)
  J2: ES -> E + P; cell*kcat*ES
  J3: P -> ; cell*kd*P/(Km + P)
  J4: -> S; cell*v0
  S = 5; E = 1; ES = 0; P = 0
  kon = 1; koff = 0.5; kcat = 2; kd = 1; Km = 0.3; v0 = 0.5
end
"""


def _model(physics: bool, seed: int) -> GeneralSteadyStateModel:
    torch.manual_seed(seed)
    cfg = GeneralModelConfig(d_model=32, n_heads=4, n_local_heads=2, n_layers=2, d_ff=64,
                             physics=physics, n_iters=6, train_families=("mass_action",))
    model = GeneralSteadyStateModel(cfg)
    if physics:  # the gain MLP starts at zero (gain 1): give it weights so its path is tested
        with torch.no_grad():
            model.step_mlp.fc2.weight.normal_(0.0, 0.3)
            model.step_mlp.fc2.bias.normal_(0.0, 0.3)
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[bool, tuple[Path, Path]]:
    """Per arm: a .pt checkpoint and its .npz export (through the export command)."""
    out = tmp_path_factory.mktemp("general_numpy")
    paths = {}
    for physics in (False, True):
        model = _model(physics, seed=3 + physics)
        pt, npz = out / f"m{int(physics)}.pt", out / f"m{int(physics)}.npz"
        save_general_checkpoint(pt, model, model.cfg,
                                {"meta": {"seed": 3, "command": "test"},
                                 "train_state": {"step": 7}})
        export_general.main([str(pt), str(npz)])
        paths[physics] = (pt, npz)
    return paths


@pytest.fixture(scope="module")
def networks() -> list:
    cfg = RNConfig(families=("mass_action", "michaelis_menten", "enzyme_complex", "hill",
                             "mixed"), n_min=2, n_max=8, decades=2.0, group_size=1)
    nets = sample_networks(cfg, np.random.default_rng(11), 5)
    return nets + [load_network(ENZYME).network]


def test_weight_shapes_are_the_state_dict_s() -> None:
    for physics in (False, True):
        model = _model(physics, 0)
        assert general_weight_shapes(model.cfg) == {k: tuple(v.shape) for k, v in
                                                    model.state_dict().items()}


@pytest.mark.parametrize("physics", [False, True])
def test_numpy_agrees_with_torch(files, networks, physics) -> None:
    pt, npz = files[physics]
    torch_pred, numpy_pred = load_general_predictor(pt), load_general_predictor(npz)
    assert isinstance(torch_pred, GeneralPredictor)
    assert isinstance(numpy_pred, NumpyGeneralPredictor)
    assert numpy_pred.cfg == torch_pred.cfg and numpy_pred.meta == torch_pred.meta
    assert numpy_pred.source == str(npz)
    assert any(n.conservation.count for n in networks)  # the pool rescaling is exercised
    # the physics iteration amplifies torch's float32 rounding of the iterates (~1e-6 decades
    # per step with these random gains): concentrations agree to ~1e-5, 3e-5 allowed
    rtol = 3e-5 if physics else 1e-5
    for net in networks:
        p_t, x_t, ood_t = torch_pred.predict(net)
        p_n, x_n, ood_n = numpy_pred.predict(net)
        assert list(p_n) == list(p_t) == ["settles", "oscillates", "grows"]
        np.testing.assert_allclose(list(p_n.values()), list(p_t.values()), rtol=1e-5, atol=1e-7)
        assert np.isfinite(x_n).all() and x_n.shape == (net.n_state,)
        np.testing.assert_allclose(x_n, x_t, rtol=rtol)
        assert (ood_n.flag, ood_n.reasons) == (ood_t.flag, ood_t.reasons)
    net = networks[-1]  # the imported model, from another initial state and more iterations
    x0 = net.initial_state() * 1.7
    _, x_t, _ = torch_pred.predict(net, x0=x0, n_iters=10)
    _, x_n, _ = numpy_pred.predict(net, x0=x0, n_iters=10)
    np.testing.assert_allclose(x_n, x_t, rtol=2 * rtol)
    if physics:  # the iteration ran: more steps move the answer
        assert not np.allclose(x_n, numpy_pred.predict(net, x0=x0, n_iters=1)[1], rtol=1e-3)


@pytest.mark.parametrize("physics", [False, True])
def test_padded_batches_agree(files, networks, physics) -> None:
    """A batch of networks of different sizes (padding, one group per structure)."""
    pt, npz = files[physics]
    model = build_from_payload(read_general_checkpoint(pt), str(pt)).eval()
    numpy_model = NumpyGeneralPredictor.load(npz).model
    nets = networks[:3] + networks[-1:]
    batch = collate([network_features(n) for n in nets])
    assert not batch.species_mask.all()  # padded
    with torch.no_grad():
        ref = model(**batch_tensors(batch, "cpu"), rhs=PhysicsRHS(nets, batch, "cpu"))
    out = numpy_model.forward(batch, rhs=NumpyPhysicsRHS(nets, batch))
    np.testing.assert_allclose(out["logits"], ref["logits"].numpy(), rtol=1e-5, atol=1e-5)
    assert len(out["ys"]) == len(ref["ys"]) == (1 + 1 + model.cfg.n_iters if physics else 1)
    m = batch.species_mask
    np.testing.assert_allclose(out["y"][m], ref["y"].numpy()[m], atol=2e-5)


def test_npz_load_and_predict_do_not_import_torch(files) -> None:
    code = ("import sys\n"
            "import numpy as np\n"
            "from sbmleq.core.reaction_generators import RNConfig, sample_networks\n"
            "from sbmleq.model.general_load import load_general_predictor\n"
            f"pred = load_general_predictor({str(files[True][1])!r})\n"
            "net = sample_networks(RNConfig(families=('enzyme_complex',), n_min=4, n_max=6),"
            " np.random.default_rng(0), 1)[0]\n"
            "probs, x, ood = pred.predict(net)\n"
            "assert np.isfinite(x).all() and abs(sum(probs.values()) - 1) < 1e-9\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "print('ok')\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_export_round_trip(files, tmp_path) -> None:
    pt, npz = files[True]
    payload = read_general_checkpoint(pt)
    weights, cfg, meta = read_general_npz(npz)
    assert cfg.to_dict() == payload["config"]
    assert meta["meta"] == payload["meta"] and meta["train_state"] == {"step": 7}
    assert set(weights) == set(payload["model"])
    for name, value in payload["model"].items():
        np.testing.assert_array_equal(weights[name], value.numpy().astype(np.float64))
    out = tmp_path / "sub" / "iters.npz"
    export_general.main([str(pt), str(out), "--iters", "12"])
    assert read_general_npz(out)[1].n_iters == 12
    assert not list(out.parent.glob("*.tmp*"))  # written atomically


def _npz_with(path: Path, source: Path, change) -> Path:
    """A copy of the export ``source`` with its entries passed through ``change``."""
    with np.load(source, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    change(arrays, meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


def _set(d: dict, key: str, value) -> None:
    d[key] = value


CORRUPTIONS = {
    "garbage": lambda p, src: p.write_bytes(b"\x00not a model\xff" * 50),
    "truncated": lambda p, src: p.write_bytes(src.read_bytes()[:300]),
    "format": lambda p, src: _npz_with(p, src, lambda a, m: _set(m, "format", "other/1")),
    "config": lambda p, src: _npz_with(p, src, lambda a, m: m["config"].update(n_heads=5)),
    "missing_weight": lambda p, src: _npz_with(p, src, lambda a, m: a.pop("w:ln_f.weight")),
    "extra_weight": lambda p, src: _npz_with(p, src, lambda a, m: _set(a, "w:bogus",
                                                                       np.zeros(3))),
    "shape": lambda p, src: _npz_with(p, src, lambda a, m: _set(a, "w:y_head.bias",
                                                                np.zeros(2))),
    "nan": lambda p, src: _npz_with(p, src, lambda a, m: a["w:y_head.weight"].fill(np.nan)),
    "no_meta": lambda p, src: np.savez(p, x=np.zeros(2)),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_npz_is_a_checkpoint_error(files, tmp_path, kind) -> None:
    bad = tmp_path / f"{kind}.npz"
    CORRUPTIONS[kind](bad, files[True][1])
    with pytest.raises(CheckpointError) as err:
        load_general_predictor(bad)
    msg = str(err.value)
    assert "\n" not in msg and str(bad) in msg
    assert err.value.exit_code == 4


def test_missing_file_is_a_checkpoint_error_and_gpu_npz_an_input_error(files, tmp_path) -> None:
    missing = tmp_path / "absent.npz"
    with pytest.raises(CheckpointError, match="not found") as err:
        load_general_predictor(missing)
    assert str(missing) in str(err.value)
    with pytest.raises(InputError, match="CPU only"):
        load_general_predictor(files[False][1], device="cuda")
    with pytest.raises(CheckpointError):  # a .npz renamed .pt goes to torch, which refuses it
        bad = tmp_path / "model.pt"
        bad.write_bytes(files[False][1].read_bytes())
        load_general_predictor(bad)
