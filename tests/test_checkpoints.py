"""Malformed checkpoints: every one is a CheckpointError (exit 4) naming the checkpoint file and
the key, raised when the model is loaded, never a KeyError/ValueError at prediction time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sbmleq.core.network import Network
from sbmleq.errors import CheckpointError, InputError
from sbmleq.model import predictor as predictor_module
from sbmleq.model.predictor import DEFAULT_MODEL, MAX_NODES, Predictor


def shipped() -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(DEFAULT_MODEL, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    return meta, arrays


def save(path: Path, meta, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return path


def expect_checkpoint_error(path: Path, *fragments: str, element: str | None = None) -> None:
    with pytest.raises(CheckpointError) as info:
        Predictor(path)
    error = info.value
    assert error.exit_code == 4
    assert error.source == str(path) and str(path) in str(error), str(error)
    for fragment in fragments:
        assert fragment in str(error), str(error)
    if element is not None:
        assert error.element == element, str(error)
    assert "\n" not in str(error)


def test_the_shipped_model_passes_validation(tmp_path: Path) -> None:
    meta, arrays = shipped()
    copy = save(tmp_path / "copy.npz", meta, arrays)
    net = Network.from_edges([("A", "B", 1.0)], {"A": 1.0}, {"B": 1.0})
    assert Predictor(copy).predict(net).equilibrium_exists


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    expect_checkpoint_error(path, "not a readable sbmleq model")


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.npz"
    path.write_bytes(DEFAULT_MODEL.read_bytes()[:5000])
    expect_checkpoint_error(path)


def test_plain_npy_array(tmp_path: Path) -> None:
    path = tmp_path / "array.npz"
    with path.open("wb") as fh:
        np.save(fh, np.zeros(3))
    expect_checkpoint_error(path, "not a readable sbmleq model")


def test_pickled_object_refused(tmp_path: Path) -> None:
    _, arrays = shipped()
    path = tmp_path / "pickle.npz"
    np.savez(path, meta=np.array([{"format": "sbmleq.npz/1"}], dtype=object), **arrays)
    expect_checkpoint_error(path)


@pytest.mark.parametrize("meta, element", [
    ([1, 2, 3], "meta"),
    ("a string", "meta"),
    ({"format": "other"}, "meta.format"),
])
def test_metadata_not_an_sbmleq_mapping(tmp_path: Path, meta, element: str) -> None:
    _, arrays = shipped()
    expect_checkpoint_error(save(tmp_path / "meta.npz", meta, arrays), element=element)


def test_metadata_not_json(tmp_path: Path) -> None:
    _, arrays = shipped()
    path = tmp_path / "json.npz"
    np.savez(path, meta=np.frombuffer(b"{not json", dtype=np.uint8), **arrays)
    expect_checkpoint_error(path, "metadata", element="meta")


def test_missing_meta(tmp_path: Path) -> None:
    _, arrays = shipped()
    path = tmp_path / "nometa.npz"
    np.savez(path, **arrays)
    expect_checkpoint_error(path, element="meta")


def test_missing_config(tmp_path: Path) -> None:
    meta, arrays = shipped()
    del meta["config"]
    expect_checkpoint_error(save(tmp_path / "noconfig.npz", meta, arrays), element="meta.config")


@pytest.mark.parametrize("key", ["arch", "d_model", "n_heads", "n_layers", "n_iters", "d_ff",
                                 "physics"])
def test_missing_config_key(tmp_path: Path, key: str) -> None:
    meta, arrays = shipped()
    del meta["config"][key]
    expect_checkpoint_error(save(tmp_path / f"no_{key}.npz", meta, arrays), f"missing key {key}",
                            element=f"config.{key}")


@pytest.mark.parametrize("key, value", [
    ("arch", "seq"), ("arch", 3), ("d_model", "96"), ("d_model", 96.0), ("d_model", True),
    ("d_model", 0), ("n_heads", -6), ("n_layers", 0), ("n_iters", 0), ("n_iters", 10**9),
    ("d_ff", None), ("physics", 1), ("train_n_max", "64"), ("train_log_range", [1]),
    ("extra", []),
])
def test_config_value_of_wrong_type_or_range(tmp_path: Path, key: str, value) -> None:
    meta, arrays = shipped()
    meta["config"][key] = value
    expect_checkpoint_error(save(tmp_path / f"bad_{key}.npz", meta, arrays),
                            "invalid model config", element=f"config.{key}")


def test_malformed_recipe(tmp_path: Path) -> None:
    meta, arrays = shipped()
    meta["config"]["extra"]["recipe"][0][1]["decades"] = "two"
    expect_checkpoint_error(save(tmp_path / "recipe.npz", meta, arrays),
                            element="config.extra.recipe[0].decades")


def test_heads_that_do_not_divide_the_width(tmp_path: Path) -> None:
    meta, arrays = shipped()
    meta["config"]["n_heads"] = 5  # d_model 96
    expect_checkpoint_error(save(tmp_path / "heads.npz", meta, arrays), "does not divide",
                            element="config.n_heads")


def test_config_that_does_not_match_the_weights(tmp_path: Path) -> None:
    meta, arrays = shipped()
    meta["config"]["n_layers"] = 2  # no blocks.1.* weights in the file
    expect_checkpoint_error(save(tmp_path / "layers.npz", meta, arrays), "missing weight",
                            element="w:blocks.1.ln1.weight")
    meta, arrays = shipped()
    meta["config"]["d_ff"] = 128
    expect_checkpoint_error(save(tmp_path / "dff.npz", meta, arrays), "shape",
                            element="w:blocks.0.mlp.fc1.weight")


@pytest.mark.parametrize("key", ["w:embed.fc1.weight", "w:blocks.0.qkv.bias", "w:drain_head.bias"])
def test_missing_weight(tmp_path: Path, key: str) -> None:
    meta, arrays = shipped()
    del arrays[key]
    expect_checkpoint_error(save(tmp_path / "missing.npz", meta, arrays), "missing weight",
                            element=key)


@pytest.mark.parametrize("key, shape", [("w:blocks.0.qkv.weight", (96, 288)),
                                        ("w:ln_f.bias", (95,)), ("w:y_head.weight", (2, 96, 1))])
def test_wrong_shape(tmp_path: Path, key: str, shape) -> None:
    meta, arrays = shipped()
    arrays[key] = np.zeros(shape, np.float32)
    expect_checkpoint_error(save(tmp_path / "shape.npz", meta, arrays), "shape", element=key)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights(tmp_path: Path, value: float) -> None:
    meta, arrays = shipped()
    arrays["w:blocks.0.proj.weight"] = arrays["w:blocks.0.proj.weight"].copy()
    arrays["w:blocks.0.proj.weight"][3, 7] = value
    expect_checkpoint_error(save(tmp_path / "nan.npz", meta, arrays), "non-finite",
                            element="w:blocks.0.proj.weight")


def test_non_numeric_and_unexpected_weights(tmp_path: Path) -> None:
    meta, arrays = shipped()
    arrays["w:ln_f.bias"] = np.array(["x"] * 96)
    expect_checkpoint_error(save(tmp_path / "str.npz", meta, arrays), "not numeric",
                            element="w:ln_f.bias")
    meta, arrays = shipped()
    arrays["w:blocks.7.qkv.weight"] = np.zeros((2, 2), np.float32)
    expect_checkpoint_error(save(tmp_path / "extra.npz", meta, arrays), "unexpected",
                            element="w:blocks.7.qkv.weight")


# ------------------------------------------------------------------ .pt checkpoints (torch)
def _pt(tmp_path: Path, mutate) -> Path:
    torch = pytest.importorskip("torch")
    from sbmleq.model.checkpoint import save_checkpoint
    from sbmleq.model.torch_model import ModelConfig, build_model

    torch.manual_seed(0)
    cfg = ModelConfig(n_iters=2)
    path = tmp_path / "m.pt"
    save_checkpoint(path, build_model(cfg), cfg)
    payload = torch.load(path, weights_only=True)
    mutate(payload)
    torch.save(payload, path)
    return path


def test_pt_checkpoint_valid_loads(tmp_path: Path) -> None:
    path = _pt(tmp_path, lambda payload: None)
    assert Predictor(path).config["arch"] == "graph"


def test_pt_checkpoint_nan_weight(tmp_path: Path) -> None:
    def mutate(payload):
        payload["model"]["blocks.0.qkv.weight"][0, 0] = float("nan")

    expect_checkpoint_error(_pt(tmp_path, mutate), "non-finite",
                            element="model.blocks.0.qkv.weight")


def test_pt_checkpoint_heads_and_missing_keys(tmp_path: Path) -> None:
    def heads(payload):
        payload["config"]["n_heads"] = 7

    expect_checkpoint_error(_pt(tmp_path, heads), "does not divide", element="config.n_heads")

    def no_config(payload):
        del payload["config"]

    expect_checkpoint_error(_pt(tmp_path, no_config), element="config")

    def no_weight(payload):
        del payload["model"]["ln_f.bias"]

    expect_checkpoint_error(_pt(tmp_path, no_weight), "missing weight", element="model.ln_f.bias")


def test_pt_checkpoint_empty_file(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    expect_checkpoint_error(path)


# ------------------------------------------------------------------ the size limit
def test_network_above_the_size_limit_is_refused_before_allocating(monkeypatch) -> None:
    chain = [(f"s{k}", f"s{k + 1}") for k in range(MAX_NODES)]
    big = Network.from_edges(chain, {"s0": 1.0}, {f"s{MAX_NODES}": 1.0}, name="bigchain")
    assert big.n_nodes == MAX_NODES + 1

    def no_allocation(*args, **kwargs):
        raise AssertionError("arrays were built for a network above the limit")

    monkeypatch.setattr(predictor_module, "batch_from_networks", no_allocation)
    monkeypatch.setattr(predictor_module, "batch_from_arrays", no_allocation)
    predictor = Predictor()
    for call in (lambda: predictor.predict(big),
                 lambda: predictor.predict_networks([Network.from_edges([("a", "b")], {"a": 1.0},
                                                                        {"b": 1.0}), big]),
                 lambda: predictor.scan(big, intake=np.ones((2, big.n_nodes)))):
        with pytest.raises(InputError) as info:
            call()
        assert info.value.exit_code == 2
        message = str(info.value)
        assert "bigchain" in message and str(MAX_NODES) in message and "1001 species" in message


def test_batches_stay_within_the_element_budget() -> None:
    sizes = [10] * 300 + [600] * 5
    groups = Predictor._batches(list(range(len(sizes))), sizes, 256)
    assert sorted(k for g in groups for k in g) == list(range(len(sizes)))
    for group in groups:
        assert len(group) <= 256
        assert len(group) * max(sizes[k] for k in group) ** 2 <= predictor_module.BATCH_ELEMENTS
    assert [len(g) for g in groups][:2] == [256, 44]  # small networks: batching unchanged
