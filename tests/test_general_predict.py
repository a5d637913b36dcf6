"""Predicted, then verified, for general networks (sbmleq.general_predict)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from sbmleq.api import load_network
from sbmleq.core.solve import SolveStatus
from sbmleq.general import solve_network
from sbmleq.general_predict import predict_network
from sbmleq.model.general_model import GeneralModelConfig, GeneralSteadyStateModel
from sbmleq.model.general_predictor import GeneralPredictor, save_general_checkpoint
from sbmleq.validation.truth import shipped_truth_path
from sbmleq.io.sources import shipped_biomodels_dir
from training import evaluate_general
from antimony_models import TOGGLE


# the Brusselator beyond its Hopf point (b > 1 + a^2): a limit cycle
BRUSSELATOR = """
model brusselator
  J1: -> X; a
  J2: X -> Y; b*X
  J3: 2 X + Y -> 3 X; X^2*Y
  J4: X -> ; X
  a = 1; b = 3
  X = 1; Y = 1
end
"""


@pytest.fixture(scope="module")
def predictor() -> GeneralPredictor:
    torch.manual_seed(0)  # an untrained model: the verification must not depend on its quality
    return GeneralPredictor(GeneralSteadyStateModel(GeneralModelConfig()), source="untrained")


@pytest.mark.parametrize("confirm", [True, False])
def test_the_verified_state_is_the_solver_s_whatever_the_prediction(predictor, confirm) -> None:
    net = load_network(TOGGLE).network
    reference = solve_network(net)
    out = predict_network(net, predictor, confirm=confirm)
    assert out.verified.status is SolveStatus.STABLE
    assert set(out.predicted) == {"u", "v"} and all(math.isfinite(v) for v in
                                                    out.predicted.values())
    assert out.steady_state == pytest.approx(reference.concentrations, rel=1e-6)
    assert out.outcome in out.probabilities
    assert sum(out.probabilities.values()) == pytest.approx(1.0, rel=1e-5)
    assert out.seconds >= out.seconds_predict + out.seconds_verify - 1e-9


def test_json_reports_both_side_by_side(predictor) -> None:
    out = predict_network(load_network(TOGGLE).network, predictor, model="toggle")
    d = json.loads(out.to_json())
    assert set(d) >= {"predicted", "steady_state", "outcome", "verified", "seconds",
                      "conserved_totals", "out_of_distribution", "checkpoint"}
    assert set(d["verified"]) >= {"status", "stable", "eigenvalues_max_real", "residual",
                                  "newton_iterations", "fallback", "stage"}
    assert d["verified"]["status"] == "stable" and d["verified"]["residual"] <= 1e-9
    assert d["outcome"]["verified"] == "settles"
    assert set(d["seconds"]) == {"import", "predict", "verify", "total"}
    frame = out.to_frame()
    assert list(frame.columns) == ["predicted", "steady_state"]


def test_an_oscillator_has_no_steady_state(predictor) -> None:
    out = predict_network(load_network(BRUSSELATOR).network, predictor)
    assert out.verified.status is SolveStatus.OSCILLATION
    assert out.steady_state is None and out.verified_outcome == "oscillates"
    assert out.to_dict()["steady_state"] is None


def test_the_evaluation_script_runs_end_to_end(tmp_path, capsys) -> None:
    torch.manual_seed(0)
    cfg = GeneralModelConfig()
    path = tmp_path / "model.pt"
    save_general_checkpoint(path, GeneralSteadyStateModel(cfg), cfg,
                            {"meta": {"generator_families": ["mass_action"]}})
    res = evaluate_general.main(["--model", str(path), "--n", "2", "--families",
                                 "mass_action,hill", "--sizes", "2-4", "--decades", "2",
                                 "--curated", "--limit", "3", "--truth",
                                 str(shipped_truth_path()), "--corpus",
                                 str(shipped_biomodels_dir())])
    text = capsys.readouterr().out
    assert "random networks" in text and "curated BioModels" in text
    rnd = res["random"]
    assert rnd["in_distribution"]["networks"] + rnd["ood"]["networks"] == rnd["all"]["networks"]
    assert set(rnd["family"]) <= {"mass_action", "hill"}
    assert rnd["all"]["verified"] == 1.0  # the untrained model's guesses are never reported
    assert res["curated"]["models"] == 3
