"""The NumPy inference path of the general model (sbmleq.model.general_numpy / general_npz /
general_load): it agrees with the torch model on both arms, loads and predicts without importing
torch, refuses corrupt files with a one-line CheckpointError, and survives the export round trip.
Real networks (generated and one imported from Antimony), real compiled rate laws."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from sbmleq.api import load_network
from sbmleq.core.compile import compile_network
from sbmleq.core.reaction_generators import RNConfig, sample_networks
from sbmleq.errors import CheckpointError, InputError
from sbmleq.model.general_features import collate, network_features, structure_digest
from sbmleq.model.general_load import NumpyGeneralPredictor, load_general_predictor
from sbmleq.model.general_model import (GeneralModelConfig, GeneralSteadyStateModel, PhysicsRHS,
                                        batch_tensors)
from sbmleq.model.general_npz import npz_payload, read_general_npz
from sbmleq.model.general_numpy import (NumpyPhysicsRHS, _gelu_exact, _gelu_fast, compile_key,
                                        general_weight_shapes)
from sbmleq.model.general_predictor import (GeneralPredictor, build_from_payload,
                                            read_general_checkpoint, save_general_checkpoint)
from training import export_general

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "sbmleq" / "checkpoints" / "general.npz"

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


def _numpy_predictor(npz: Path, dtype) -> NumpyGeneralPredictor:
    pred = load_general_predictor(npz) if dtype is np.float32 else \
        NumpyGeneralPredictor.load(npz, dtype)
    assert pred.model.dtype == dtype  # float32 is the default
    return pred


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("physics", [False, True])
def test_numpy_agrees_with_torch(files, networks, physics, dtype) -> None:
    pt, npz = files[physics]
    torch_pred, numpy_pred = load_general_predictor(pt), _numpy_predictor(npz, dtype)
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
    if dtype is np.float64:
        np.testing.assert_allclose(x_n, x_t, rtol=2 * rtol)
    else:  # these random gains amplify rounding ~100x in one step here: the float32 noise of
        # either side (1e-7) becomes ~1e-4 (48 such cases: torch float32 up to 4.9e-4 from the
        # float64 NumPy path). Log-concentrations within 1e-4 decades (5e-5 measured).
        np.testing.assert_allclose(np.log10(x_n), np.log10(x_t), rtol=0, atol=1e-4)
    if physics:  # the iteration ran: more steps move the answer
        assert not np.allclose(x_n, numpy_pred.predict(net, x0=x0, n_iters=1)[1], rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("physics", [False, True])
def test_padded_batches_agree(files, networks, physics, dtype) -> None:
    """A batch of networks of different sizes (padding, one group per structure)."""
    pt, npz = files[physics]
    model = build_from_payload(read_general_checkpoint(pt), str(pt)).eval()
    numpy_model = NumpyGeneralPredictor.load(npz, dtype).model
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
    single = numpy_model.forward(collate([network_features(nets[1])]),
                                 rhs=NumpyPhysicsRHS(nets[1:2], collate([network_features(
                                     nets[1])])))  # padding changes nothing for an item
    n1 = len(network_features(nets[1]).node_ids)
    np.testing.assert_allclose(out["y"][1, :n1], single["y"][0], atol=2e-6)


@pytest.fixture(scope="module")
def shipped() -> tuple[GeneralPredictor, NumpyGeneralPredictor, NumpyGeneralPredictor]:
    """The shipped (trained) model: torch from its weights, NumPy float32 and float64."""
    payload = npz_payload(SHIPPED)
    payload["model"] = {k: torch.from_numpy(v) for k, v in payload["model"].items()}
    return (GeneralPredictor(build_from_payload(payload, str(SHIPPED)), str(SHIPPED)),
            NumpyGeneralPredictor.load(SHIPPED), NumpyGeneralPredictor.load(SHIPPED, np.float64))


def test_the_shipped_model_agrees_with_torch_in_float32(shipped) -> None:
    """The trained physics model on random networks of 2-64 species (the sizes it serves):
    probabilities within 5e-5 relative, log-concentrations within 1e-4 decades of torch, for
    float32 and float64 alike (measured over 120 networks: <= 1e-5 and <= 6.2e-5 decades for
    float32, 5.4e-5 for float64 and for the float64 code this replaced: torch's own float32
    rounding, amplified by the physics steps, sets that floor)."""
    torch_pred, np32, np64 = shipped
    nets = [n for lo, hi in ((2, 16), (17, 32), (33, 64)) for n in sample_networks(
        RNConfig(n_min=lo, n_max=hi, decades=3.0, group_size=1), np.random.default_rng(lo), 1)]
    assert max(len(n.species) for n in nets) > 32
    for net in nets:
        p_t, x_t, _ = torch_pred.predict(net)
        ok = np.isfinite(x_t) & (x_t > 0)
        assert ok.any()
        for pred in (np32, np64):
            p, x, _ = pred.predict(net)
            assert (np.isfinite(x) == np.isfinite(x_t)).all()
            np.testing.assert_allclose(list(p.values()), list(p_t.values()), rtol=5e-5,
                                       atol=1e-9)
            np.testing.assert_allclose(np.log10(x[ok]), np.log10(x_t[ok]), rtol=0, atol=1e-4)


def test_fast_gelu_is_torch_s_exact_gelu() -> None:
    """The vectorised erfc GELU against libm's erf: relative error < 1.2e-7 in float64 over
    +-12 (the negative tail included), float32 within its own rounding."""
    x = np.linspace(-12.0, 12.0, 24001)
    exact = np.array([0.5 * v * math.erfc(-v / math.sqrt(2.0)) for v in x])
    got = _gelu_fast(x.copy())
    nonzero = exact != 0
    assert np.max(np.abs(got - exact)[nonzero] / np.abs(exact[nonzero])) < 1.2e-7
    got32 = _gelu_fast(x.astype(np.float32))
    assert got32.dtype == np.float32
    assert np.max(np.abs(got32 - exact)) < 2e-7 * 12  # float32 ulp of |x| <= 12
    np.testing.assert_allclose(_gelu_exact(x[::100]), exact[::100], rtol=1e-12, atol=1e-15)


def test_scratch_buffers_are_neither_shared_nor_returned(files, networks) -> None:
    """The forward pass reuses per-thread scratch arrays: what it returns is not one of them
    (a later call leaves it alone), and threads predicting at once get the sequential answers."""
    pred = load_general_predictor(files[True][1])
    batches = [collate([network_features(n)]) for n in networks]
    first = pred.model.forward(batches[-1], rhs=NumpyPhysicsRHS(networks[-1:], batches[-1]))
    kept = {k: np.copy(first[k]) for k in ("logits", "y", "y_direct")}
    pred.model.forward(batches[0], rhs=NumpyPhysicsRHS(networks[:1], batches[0]))
    for k, v in kept.items():
        np.testing.assert_array_equal(first[k], v)
    expected = [pred.predict(n)[1] for n in networks]
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda n: pred.predict(n)[1], networks * 3))
    for x, ref in zip(got, expected * 3):
        np.testing.assert_array_equal(x, ref)


def _reordered(net, scale: float = 1.5):
    """``net`` with its parameters declared in reverse order and other values: one
    structure digest, another parameter vector order."""
    items = list(net.parameters.items())[::-1]
    return dataclasses.replace(net, parameters={k: v * scale for k, v in items})


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_compile_handed_over_and_cache_keyed_by_parameter_order(files, networks, kind) -> None:
    pt, npz = files[True]
    path = npz if kind == "numpy" else pt
    pred, fresh = load_general_predictor(path), load_general_predictor(path)
    net = networks[-1]  # the enzyme: several parameters, a conserved pool
    other = _reordered(net)
    assert structure_digest(other) == structure_digest(net)
    assert other.parameter_ids != net.parameter_ids and compile_key(other) != compile_key(net)
    x_net = pred.predict(net)[1]
    # a compile of the same digest but another parameter order is never reused: the answer is
    # the one a fresh predictor gives (it was not, when the cache was keyed by the digest)
    np.testing.assert_array_equal(pred.predict(other)[1], fresh.predict(other)[1])
    assert len(pred._cache) == 2
    # the public hook: the caller's compile, at the network's own values; the cache untouched
    compiled = compile_network(other)
    fresh._cache.clear()
    np.testing.assert_array_equal(fresh.predict(other, compiled=compiled)[1],
                                  pred.predict(other)[1])
    x0 = other.initial_state() * 2.0
    np.testing.assert_array_equal(fresh.predict(other, x0=x0, compiled=compiled)[1],
                                  pred.predict(other, x0=x0)[1])
    assert not fresh._cache
    with pytest.raises(InputError, match="other state or parameter ids"):
        fresh.predict(net, compiled=compiled)  # the other order: refused, not misread
    np.testing.assert_array_equal(fresh.predict(net, compiled=compile_network(net))[1], x_net)


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
