"""Predicted, then verified, for general networks (sbmleq.general_predict)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from sbmleq.api import DEFAULT_GENERAL_MODEL, load_network
from sbmleq.core.compile import compile_network
from sbmleq.core.solve import SolveStatus
from sbmleq.general import solve_network
from sbmleq.errors import InputError
from sbmleq.general_predict import predict_network
from sbmleq.model.general_features import structure_digest
from sbmleq.model.general_load import load_general_predictor
from sbmleq.model.general_model import GeneralModelConfig, GeneralSteadyStateModel
from sbmleq.model.general_predictor import GeneralPredictor, save_general_checkpoint
from sbmleq.validation.truth import shipped_truth_path
from sbmleq.io.sources import shipped_biomodels_dir
from training import evaluate_general
from antimony_models import BRUSSELATOR, TOGGLE




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


def test_quick_mode_reports_the_fallback_and_the_chain_s_answer(predictor) -> None:
    net = load_network(BRUSSELATOR).network
    reference = solve_network(net)
    out = predict_network(net, predictor, confirm=False)
    assert out.fallback and not out.used_prediction
    assert out.verified.status is reference.status is SolveStatus.OSCILLATION
    d = out.to_dict()["verified"]
    assert d["fallback"] is True and d["stages"][0]["name"] == "prediction"
    assert [s["name"] for s in d["stages"][1:]] == [s["name"] for s in reference.stages]


# the toggle switch started on either side: one structure, two attractors
TOGGLE_V = TOGGLE.replace("u = 2; v = 0.1", "u = 0.1; v = 2")
# E + S <-> C -> E + P, P -> S: one structure, one steady state per parameter set and class
POOL = """
model pool
  J1: E + S -> C; kf*E*S - kr*C
  J2: C -> E + P; kc*C
  J3: P -> S; kp*P
  kf = {kf}; kr = 1; kc = {kc}; kp = 0.3
  E = {e}; S = 5; C = 0; P = 0
end
"""


@pytest.fixture(scope="module")
def physics_predictor():
    pred = load_general_predictor(DEFAULT_GENERAL_MODEL)
    assert pred.cfg.physics  # its physics steps use the compiled network the solver shares
    return pred


def test_the_compile_is_shared_with_the_predictor_but_never_another_network_s(
        physics_predictor) -> None:
    pred = physics_predictor
    a, b = load_network(TOGGLE).network, load_network(TOGGLE_V).network
    assert structure_digest(b) == structure_digest(a)
    first, second = compile_network(a), compile_network(b)
    assert first.network is a and second.network is b  # the solver gets each one's own values
    pred._cache.clear()
    xa = pred.predict(a, compiled=first)[1]
    xb = pred.predict(b, compiled=second)[1]
    assert not pred._cache  # handed over: the predictor's cache is neither read nor filled
    # the physics steps read each network's own parameters: as without the shared compile
    assert xa.tolist() == pred.predict(a)[1].tolist()
    assert xb.tolist() == pred.predict(b)[1].tolist()
    assert xa.tolist() != xb.tolist()
    with pytest.raises(InputError, match="other state or parameter ids"):
        pred.predict(a, compiled=compile_network(load_network(BRUSSELATOR).network))


@pytest.mark.parametrize("confirm", [True, False])
def test_networks_of_one_structure_each_get_their_own_verified_answer(
        physics_predictor, confirm) -> None:
    pred = physics_predictor
    pred._cache.clear()
    if confirm:  # the reached attractor differs: confirmed answers must follow each network
        nets = [load_network(TOGGLE).network, load_network(TOGGLE_V).network,
                load_network(TOGGLE).network]
    else:  # monostable: a quick answer is the one steady state of each network's class
        nets = [load_network(POOL.format(kf=kf, kc=kc, e=e)).network
                for kf, kc, e in ((2, 0.5, 1), (0.2, 2, 3), (2, 0.5, 1))]
    answers = []
    for net in nets:
        out = predict_network(net, pred, confirm=confirm)
        reference = solve_network(net)
        assert out.verified.status is SolveStatus.STABLE
        assert out.steady_state == pytest.approx(reference.concentrations, rel=1e-6, abs=1e-12)
        answers.append(out.steady_state)
    assert answers[0] != pytest.approx(answers[1], rel=1e-3)
    assert answers[2] == pytest.approx(answers[0], rel=1e-9)
    assert not pred._cache  # one compile per network, shared by the predictor and the solver
