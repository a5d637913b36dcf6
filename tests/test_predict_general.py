"""``sbmleq predict`` on models outside the LIFE class with a general model: predicted, then
verified (the CLI and Session.predict)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from sbmleq.api import Session
from sbmleq.cli.main import app
from sbmleq.general import solve_network
from sbmleq.api import load_network
from sbmleq.model.general_model import GeneralModelConfig, GeneralSteadyStateModel
from sbmleq.model.general_predictor import save_general_checkpoint
from antimony_models import TOGGLE

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)  # untrained: what is reported must come from the verification
    cfg = GeneralModelConfig()
    path = tmp_path_factory.mktemp("general") / "model.pt"
    save_general_checkpoint(path, GeneralSteadyStateModel(cfg), cfg, {"meta": {}})
    return str(path)


@pytest.fixture(scope="module")
def toggle_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("models") / "toggle.ant"
    path.write_text(TOGGLE)
    return str(path)


def test_life_only_a_nonlinear_model_exits_3(toggle_file) -> None:
    res = runner.invoke(app, ["predict", toggle_file, "--life-only", "--format", "json"])
    assert res.exit_code == 3
    data = json.loads(res.stdout)
    assert data["out_of_class"][0]["code"] == "needs_general_model"
    assert data["verified"] is None and data["model_kind"] is None


@pytest.mark.parametrize("quick", [False, True])
def test_with_a_general_model_the_answer_is_verified(toggle_file, checkpoint, quick) -> None:
    args = ["predict", toggle_file, "--general-model", checkpoint, "--format", "json"]
    res = runner.invoke(app, args + (["--quick"] if quick else []))
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    truth = solve_network(load_network(TOGGLE).network).concentrations
    assert data["model_kind"] == "general" and data["checkpoint"] == "model.pt"
    assert data["verified"]["status"] == "stable" and data["verified"]["residual"] <= 1e-9
    assert data["outcome"]["verified"] == "settles"
    assert set(data["outcome"]["probabilities"]) == {"settles", "oscillates", "grows"}
    for sid, value in truth.items():
        assert data["species"][sid]["steady_state"] == pytest.approx(value, rel=1e-6)
        assert data["species"][sid]["predicted"] is not None
    assert set(data["timings"]) == {"import", "predict", "verify", "total"}
    assert data["equilibrium_exists"] is True and data["steady_state_status"] == "stable"


def test_the_table_shows_learned_and_verified_side_by_side(toggle_file, checkpoint) -> None:
    res = runner.invoke(app, ["predict", toggle_file, "--general-model", checkpoint])
    assert res.exit_code == 0
    assert "predicted (learned)" in res.stdout and "steady state (verified)" in res.stdout


def test_a_corrupt_general_model_is_one_line_exit_4(toggle_file, tmp_path) -> None:
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    res = runner.invoke(app, ["predict", toggle_file, "--general-model", str(bad)])
    assert res.exit_code == 4
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "broken.pt" in lines[0] and "Traceback" not in res.stderr


def test_session_predict_keeps_life_models_on_the_exact_path(checkpoint) -> None:
    life = """
    model life
      J1: -> A; 1
      J2: A -> B; 2*A
      J3: B -> ; 0.5*B
      A = 0; B = 0
    end
    """
    with Session(general_model=checkpoint) as session:
        result = session.predict(life)
    assert result.in_class and result.learned is None
    d = result.to_dict()
    assert d["model_kind"] == "life" and d["verified"]["method"] == "exact"
    assert d["species"]["B"]["steady_state"] == pytest.approx(2.0)
