"""The shipped model, its NumPy path, the PyTorch model, and the Predictor."""

from __future__ import annotations

import numpy as np
import pytest

from sbmleq.errors import CheckpointError
from sbmleq.core.exact import solve_batch
from sbmleq.model.features import batch_from_tokens
from sbmleq.core.generators import GeneratorConfig, generate
from sbmleq.core.network import Network
from sbmleq.model.numpy_model import NumpyGraphModel
from sbmleq.model.predictor import DEFAULT_MODEL, Predictor
from sbmleq.model.tokens import encode


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor()


def _nets(count: int, seed: int, **kw) -> list[Network]:
    cfg = GeneratorConfig(**{"family": "gnm", "weights": "loguniform", "n_min": 3, "n_max": 24,
                             "intakes": (1, 3), "excretions": (1, 3), "redeem": 0.5, **kw})
    return generate(cfg, count, seed)


def test_shipped_model_is_small_and_loads():
    assert DEFAULT_MODEL.stat().st_size < 20 * 2**20
    model = NumpyGraphModel.load(DEFAULT_MODEL)
    assert model.config["arch"] == "graph"


def test_shipped_model_is_accurate_on_fresh_networks(predictor):
    nets = _nets(120, seed=424242)
    exists, xs = solve_batch(nets)
    preds = predictor.predict_networks(nets)
    acc = np.mean([p.equilibrium_exists == e for p, e in zip(preds, exists)])
    assert acc >= 0.95
    errs = [np.abs(p.concentrations - x).sum() / x.sum()
            for p, e, x in zip(preds, exists, xs) if e and p.concentrations is not None]
    assert len(errs) >= 0.9 * exists.sum()
    assert np.median(errs) < 0.05
    assert np.mean(np.array(errs) < 0.10) > 0.9


def test_numpy_path_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from sbmleq.model.checkpoint import save_checkpoint
    from sbmleq.model.torch_model import ModelConfig, build_model
    from sbmleq.model.numpy_model import export_npz

    torch.manual_seed(0)
    cfg = ModelConfig(n_iters=5)
    model = build_model(cfg)
    with torch.no_grad():  # make the refinement heads non-trivial
        model.y_head.weight.normal_(0, 0.1)
    save_checkpoint(tmp_path / "m.pt", model, cfg)
    export_npz(tmp_path / "m.pt", tmp_path / "m.npz")
    batch = batch_from_tokens([encode(n) for n in _nets(6, seed=3)])
    out_np = NumpyGraphModel.load(tmp_path / "m.npz").forward(batch)
    t = torch.as_tensor
    with torch.no_grad():
        out_t = model.eval()(t(batch.node_mask), t(batch.log_intake).float(),
                             t(batch.log_excretion).float(), t(batch.log_weight).float(),
                             t(batch.adjacency))
    assert np.allclose(out_np["y"], out_t["y"].numpy(), atol=1e-4)
    assert np.allclose(out_np["drain_logit"], out_t["drain_logit"].numpy(), atol=1e-4)


def test_predictions_follow_units(predictor):
    """Rates x10 and intakes x3 scale the equilibrium by exactly 3/10 (scale-free inputs)."""
    net = _nets(1, seed=11, redeem=1.0)[0]
    scaled = net.with_parameters(weight=net.weight * 10, intake=net.intake * 3,
                                 excretion=net.excretion * 10)
    a, b = predictor.predict(net), predictor.predict(scaled)
    assert a.equilibrium_exists and b.equilibrium_exists
    assert np.allclose(b.concentrations, a.concentrations * 0.3, rtol=1e-9)


def test_no_equilibrium_gives_no_values(predictor):
    # B is fed and cannot reach the excretion: it accumulates without bound.
    net = Network.from_edges([("A", "B"), ("A", "C")], {"A": 1.0}, {"C": 1.0})
    pred = predictor.predict(net)
    assert not pred.equilibrium_exists and pred.concentrations is None
    assert pred.drain_probability[net.index("B")] < 0.5
    assert pred.to_dict()["species"]["B"]["predicted"] is None


def test_out_of_distribution_flag(predictor):
    chain = [(f"s{k}", f"s{k + 1}") for k in range(150)]
    big = Network.from_edges(chain, {"s0": 1.0}, {"s150": 1.0})
    pred = predictor.predict(big)
    assert pred.out_of_distribution and any("species" in r for r in pred.ood_reasons)
    small = _nets(1, seed=5, redeem=1.0)[0]
    wide = small.with_parameters(weight=small.weight * np.geomspace(1e-4, 1e4, small.n_edges))
    assert any("decades" in r for r in predictor.predict(wide).ood_reasons)


def test_scan_matches_single_predictions(predictor):
    net = _nets(1, seed=8, redeem=1.0)[0]
    rng = np.random.default_rng(0)
    weights = net.weight * rng.uniform(0.5, 2.0, (5, net.n_edges))
    p_exists, x = predictor.scan(net, weight=weights)
    assert x.shape == (5, net.n_nodes) and p_exists.shape == (5,)
    for k in range(5):
        single = predictor.predict(net.with_parameters(weight=weights[k]))
        assert np.allclose(single.concentrations, x[k], rtol=1e-9)
    with pytest.raises(ValueError):
        predictor.scan(net, weight=weights[:, :-1])


def test_corrupt_model_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError) as info:
        Predictor(bad)
    assert "bad.npz" in str(info.value)
    with pytest.raises(CheckpointError):
        Predictor(tmp_path / "missing.npz")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, meta=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    with pytest.raises(CheckpointError):
        Predictor(foreign)


def test_networks_read_directly_match_their_tokens():
    from sbmleq.model.features import batch_from_networks

    nets = _nets(6, seed=5)
    a, b = batch_from_tokens([encode(n) for n in nets]), batch_from_networks(nets)
    for name in ("node_mask", "log_intake", "log_excretion", "log_weight", "adjacency",
                 "log_scale", "n_nodes", "zero_intake"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
