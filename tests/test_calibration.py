"""Calibration of the general model's outcome probability (training/calibrate_general.py):
the metrics on hand-made examples with known answers, the temperature's round trip through the
.npz and .pt files (applied by both predictors, argmax kept, old files at T = 1), and a real
end-to-end calibration on a small generated shard (real labels, a real small model)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sbmleq.core.reaction_generators import RNConfig, sample_networks
from sbmleq.errors import CheckpointError
from sbmleq.model.general_config import (TEMPERATURE_KEY, GeneralModelConfig,
                                         outcome_probabilities, outcome_temperature)
from sbmleq.model.general_load import NumpyGeneralPredictor, load_general_predictor
from sbmleq.model.general_model import GeneralSteadyStateModel
from sbmleq.model.general_npz import npz_payload, save_general_npz
from sbmleq.model.general_predictor import (GeneralPredictor, read_general_checkpoint,
                                            save_general_checkpoint)
from training import calibrate_general, evaluate_general
from training.calibrate_general import (calibration_metrics, expected_calibration_error,
                                        fit_temperature, nll_of_logits, reliability_table,
                                        softmax)
from training.generate_general import make_shard, shard_specs
from training.train_general import load_records, make_items, split_by_structure

FAMILIES = ("mass_action", "michaelis_menten", "zero_order", "brusselator")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    """A small random-weight model as .pt and its .npz (no temperature: an 'old' file)."""
    out = tmp_path_factory.mktemp("calibration")
    torch.manual_seed(5)
    cfg = GeneralModelConfig(d_model=32, n_heads=4, n_local_heads=2, n_layers=2, d_ff=64,
                             train_families=("mass_action",))
    model = GeneralSteadyStateModel(cfg)
    with torch.no_grad():  # spread the outcome logits so a temperature visibly changes them
        model.outcome_head.fc2.weight.mul_(20.0)
    pt, npz = out / "m.pt", out / "m.npz"
    save_general_checkpoint(pt, model, cfg, {"meta": {"seed": 5}, "train_state": {"step": 1}})
    save_general_npz(npz, read_general_checkpoint(pt))
    return pt, npz


@pytest.fixture(scope="module")
def networks() -> list:
    cfg = RNConfig(families=("mass_action", "michaelis_menten", "hill"), n_min=2, n_max=6,
                   decades=2.0, group_size=1)
    return sample_networks(cfg, np.random.default_rng(3), 4)


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cal_shards")
    cfg = RNConfig(families=FAMILIES, n_min=2, n_max=5, decades=2.0, group_size=2)
    for spec in shard_specs(32, 1, 11, out, cfg):
        make_shard(spec)
    return out


# ------------------------------------------------------------------ metrics, known answers
def test_reliability_table_and_ece_by_hand() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1],
                      [0.3, 0.3, 0.4], [0.6, 0.4, 0.0]])
    labels = np.array([0, 1, 1, 2, 0])
    rows = reliability_table(probs, labels, bins=10)
    assert len(rows) == 10 and [r["n"] for r in rows] == [0, 0, 0, 1, 0, 1, 1, 0, 2, 0]
    assert rows[8]["lo"] == pytest.approx(0.8) and rows[8]["hi"] == pytest.approx(0.9)
    assert rows[8]["confidence"] == pytest.approx(0.9) and rows[8]["accuracy"] == 0.5
    assert rows[3]["confidence"] == pytest.approx(0.4) and rows[3]["accuracy"] == 1.0
    assert rows[5]["accuracy"] == 1.0 and rows[6]["accuracy"] == 1.0
    assert math.isnan(rows[0]["confidence"]) and math.isnan(rows[0]["accuracy"])
    # ECE = (2 * |0.5 - 0.9| + |1 - 0.7| + |1 - 0.4| + |1 - 0.6|) / 5
    assert expected_calibration_error(probs, labels, 10) == pytest.approx(
        (0.8 + 0.3 + 0.6 + 0.4) / 5)
    m = calibration_metrics(probs, labels, 10)
    assert m["n"] == 5 and m["accuracy"] == pytest.approx(0.8)
    brier = [0.01 + 0.0025 * 2, 0.81 + 0.9025 + 0.0025, 0.04 + 0.09 + 0.01,
             0.09 + 0.09 + 0.36, 0.16 + 0.16]
    assert m["brier"] == pytest.approx(np.mean(brier))
    assert m["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.05, 0.7, 0.4, 0.6])))
    # a perfectly calibrated set: 4 at 0.75 confidence, 3 of them right
    even = np.tile([[0.75, 0.25]], (4, 1))
    assert expected_calibration_error(even, np.array([0, 0, 0, 1]), 15) == pytest.approx(0.0)
    # exactly on an edge: 0.8 goes to (0.7, 0.8], not (0.8, 0.9]
    assert [r["n"] for r in reliability_table([[0.8, 0.2]], [0], 10)][7] == 1


def test_temperature_fit_recovers_overconfidence() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0.0, 1.5, (4000, 3))
    labels = np.array([rng.choice(3, p=p) for p in softmax(true_logits)])
    t = fit_temperature(true_logits * 3.0, labels)  # three times too confident
    assert t == pytest.approx(3.0, rel=0.1)
    assert nll_of_logits(true_logits * 3.0, labels, t) < nll_of_logits(true_logits * 3.0, labels)
    assert nll_of_logits(true_logits, labels, 1.0) == pytest.approx(
        calibration_metrics(softmax(true_logits), labels)["nll"])


def test_evaluate_general_calibration_summary() -> None:
    recs = [{"outcome": "settles", "probs": [0.9, 0.05, 0.05]},
            {"outcome": "oscillates", "probs": [0.9, 0.05, 0.05]},
            {"outcome": "grows", "probs": [0.1, 0.1, 0.8]}]
    cal = evaluate_general.calibration_summary(recs, bins=10)
    assert cal["n"] == 3 and cal["accuracy"] == pytest.approx(2 / 3)
    assert cal["ece"] == pytest.approx((2 * 0.4 + 0.2) / 3)
    assert evaluate_general.reliability_table is reliability_table
    # probabilities made at T = 2 mapped back to T = 1: softmax(2 * log p)
    logits = np.array([[3.0, 0.0, -1.0], [0.5, 2.0, 0.0], [0.0, 0.2, 4.0]])
    tempered = [{"outcome": o, "probs": list(p)}
                for o, p in zip(("settles", "oscillates", "settles"), softmax(logits, 2.0))]
    back = evaluate_general.calibration_summary(tempered, 10, temperature=2.0, at=1.0)
    direct = calibration_metrics(softmax(logits), np.array([0, 1, 0]), 10)
    assert back["temperature"] == 1.0
    assert back["nll"] == pytest.approx(direct["nll"]) and back["ece"] == pytest.approx(
        direct["ece"])
    assert evaluate_general.calibration_summary(tempered, 10, temperature=2.0)["nll"] < \
        back["nll"]  # that third one is confidently wrong: softer is better


# ------------------------------------------------------------------ the temperature in files
def test_old_file_has_temperature_one(files, networks) -> None:
    pt, npz = files
    for path in (pt, npz):
        pred = load_general_predictor(path)
        assert outcome_temperature(pred.cfg) == 1.0 and TEMPERATURE_KEY not in pred.cfg.extra
    logits = np.array([2.0, -1.0, 0.5])
    e = np.exp(logits - logits.max())
    assert np.array_equal(outcome_probabilities(logits, GeneralModelConfig()), e / e.sum())


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
def test_temperature_round_trip(files, networks, tmp_path, suffix) -> None:
    pt, npz = files
    for src in (npz, pt):
        out = tmp_path / f"cal_from_{src.suffix[1:]}{suffix}"
        calibrate_general.write_calibrated(src, out, 2.5, {"temperature": 2.5})
        cal, old = load_general_predictor(out), load_general_predictor(src)
        assert isinstance(cal, NumpyGeneralPredictor) == (suffix == ".npz")
        assert outcome_temperature(cal.cfg) == 2.5 and cal.meta["calibration"]["temperature"]
        assert cal.meta["seed"] == 5  # the recipe survives
        for net in networks:
            p_old, x_old, _ = old.predict(net)
            p_new, x_new, _ = cal.predict(net)
            a, b = np.array(list(p_old.values())), np.array(list(p_new.values()))
            assert a.argmax() == b.argmax() and b.sum() == pytest.approx(1.0)
            assert b.max() < a.max() - 1e-3  # softened toward uniform
            # p_T is softmax(log p_1 / T): the same logits up to a constant
            expect = np.exp(np.log(a) / 2.5)
            np.testing.assert_allclose(b, expect / expect.sum(), rtol=1e-4, atol=1e-7)
            np.testing.assert_allclose(x_new, x_old, rtol=1e-5)  # values untouched
    payload = npz_payload(tmp_path / f"cal_from_npz{suffix}") if suffix == ".npz" else \
        read_general_checkpoint(tmp_path / f"cal_from_npz{suffix}")
    assert payload["config"]["extra"] == {TEMPERATURE_KEY: 2.5}


@pytest.mark.parametrize("bad", [0.0, -1.0, "2", True, float("nan")])
def test_bad_temperature_is_a_checkpoint_error(files, tmp_path, bad) -> None:
    _, npz = files
    payload = npz_payload(npz)
    payload["config"]["extra"] = {TEMPERATURE_KEY: bad}
    out = tmp_path / "bad.npz"
    with pytest.raises(ValueError):
        save_general_npz(out, payload)  # refused on writing
    pt = tmp_path / "bad.pt"
    torch.save({**read_general_checkpoint(files[0]),
                "config": {**payload["config"]}}, pt)
    with pytest.raises(CheckpointError, match="outcome_temperature"):
        GeneralPredictor.load(pt)


# ------------------------------------------------------------------ end to end
def test_calibrate_end_to_end(files, shard_dir, tmp_path, capsys) -> None:
    pt, npz = files
    out = tmp_path / "cal.npz"
    rep = calibrate_general.main([str(npz), "--data", str(shard_dir), "--out", str(out),
                                  "--val-fraction", "0.5", "--json", str(tmp_path / "r.json")])
    text = capsys.readouterr().out
    assert "reliability before" in text and "reliability after" in text and "ECE" in text
    n = rep["before"]["n"]
    assert n > 0 and sum(rep["counts"].values()) == n
    assert rep["after"]["nll"] <= rep["before"]["nll"] + 1e-9
    assert rep["after"]["accuracy"] == rep["before"]["accuracy"]  # argmax unchanged
    assert sum(r["n"] for r in rep["after"]["reliability"]) == n
    t = rep["temperature"]
    assert 0.05 <= t <= 20 and t != 1.0
    cal = load_general_predictor(out)
    assert outcome_temperature(cal.cfg) == pytest.approx(t)
    assert cal.meta["calibration"]["after"]["nll"] == pytest.approx(rep["after"]["nll"])
    assert json.loads((tmp_path / "r.json").read_text())["temperature"] == pytest.approx(t)
    # only validation structures: the same split as training's, disjoint from its train part
    items = make_items(load_records(argparse.Namespace(data=str(shard_dir)), 0, 1))
    train, val = split_by_structure(items, 0.5, 0)
    assert len(val) == n and not {it.digest for it in train} & {it.digest for it in val}
    # the torch predictor fits the same temperature from the same logits
    rep_pt = calibrate_general.main([str(pt), "--data", str(shard_dir), "--out",
                                     str(tmp_path / "cal.pt"), "--val-fraction", "0.5"])
    assert rep_pt["temperature"] == pytest.approx(t, rel=1e-3)
