"""The Python API: sbmleq.model.predictor / solve / load / scan over every kind of source."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sbmleq
from sbmleq.api import ModelPrediction, ScanResult, Session, SolveResult
from sbmleq.errors import InputError, OutOfClassError
from sbmleq.core.exact import solve_equilibrium
from sbmleq.io.sources import shipped_biomodels_dir
from sbmleq.core.network import Network
from sbmleq.io.sbml_export import write_sbml
from antimony_models import MM_CHAIN

CURATED = Path(__file__).resolve().parents[2] / "shared" / "biomodels" / "curated"
IN_CLASS_BIOMODEL = "BIOMD0000000668"

NET = Network.from_edges([("A", "B", 2.0), ("B", "C", 1.0), ("C", "A", 0.5)],
                         {"A": 1.0}, {"C": 0.3}, name="small")
EXACT = {"A": 4 / 3, "B": 8 / 3, "C": 10 / 3}

SAME_IN_ANTIMONY = """
J0: -> A; 1
J1: A -> B; 2*A
J2: B -> C; 1*B
J3: C -> A; 0.5*C
J4: C -> ; 0.3*C
A = 0; B = 0; C = 0
"""

OUT_OF_CLASS = MM_CHAIN

SCAN_MODEL = """
J0: -> S1; k0
J1: S1 -> S2; k1^2*S1
J2: S2 -> S1; k2*S2
J3: S2 -> ; k3*S2
J4: S1 -> ; (ka + kb)*S1
k0 = 1.5; k1 = 1.2; k2 = 0.5; k3 = 0.7; ka = 0.1; kb = 0.2
S1 = 0; S2 = 0
"""


@pytest.fixture(scope="module")
def session():
    with Session(timeout=None) as s:  # roadrunner in this process: faster tests
        yield s


@pytest.fixture(scope="module")
def sbml_path(tmp_path_factory) -> Path:
    return write_sbml(NET, tmp_path_factory.mktemp("api") / "small.xml")


@pytest.fixture(scope="module")
def reference(session, sbml_path) -> ModelPrediction:
    return session.predict(sbml_path)


def biomodel_source(monkeypatch, tmp_path) -> str:
    shipped = sorted(shipped_biomodels_dir().glob("BIOMD*.xml"))
    if shipped:
        return shipped[0].stem
    if not (CURATED / f"{IN_CLASS_BIOMODEL}.xml").is_file():
        pytest.skip("no shipped BioModels file and no curated snapshot to fill a cache from")
    (tmp_path / "biomodels").mkdir()
    shutil.copy(CURATED / f"{IN_CLASS_BIOMODEL}.xml", tmp_path / "biomodels")
    monkeypatch.setenv("SBMLEQ_CACHE", str(tmp_path))
    return IN_CLASS_BIOMODEL


@pytest.mark.parametrize("kind", ["path", "str_path", "sbml_string", "antimony", "roadrunner",
                                  "libsbml_document", "network"])
def test_predict_every_source_type(kind, session, sbml_path, reference):
    text = sbml_path.read_text()
    if kind == "path":
        source = sbml_path
    elif kind == "str_path":
        source = str(sbml_path)
    elif kind == "sbml_string":
        source = text
    elif kind == "antimony":
        source = SAME_IN_ANTIMONY
    elif kind == "roadrunner":
        import roadrunner

        source = roadrunner.RoadRunner(text)
    elif kind == "libsbml_document":
        import libsbml

        source = libsbml.readSBMLFromString(text)
    else:
        source = NET
    result = session.predict(source)
    assert isinstance(result, ModelPrediction)
    assert result.in_class and result.exit_code == 0
    assert set(result.species) == {"A", "B", "C"}
    expected = reference.predicted()
    for sid, value in result.predicted().items():
        assert (value is None) == (expected[sid] is None)
        if value is not None:
            assert value == pytest.approx(expected[sid], rel=1e-9)
    for sid, value in result.steady_state().items():  # exact, whatever the source type
        assert value == pytest.approx(EXACT[sid], rel=1e-12)
    frame = result.to_frame()
    assert frame.index.name == "species" and set(frame.index) == {"A", "B", "C"}


def test_predict_biomodels_id(monkeypatch, tmp_path, session):
    model_id = biomodel_source(monkeypatch, tmp_path)
    result = session.predict(model_id)
    assert result.model == model_id
    assert result.in_class and result.exit_code == 0  # the shipped models are in class
    assert result.equilibrium_exists is True and result.steady_state_status in ("unique",
                                                                                 "conserved")


def test_module_functions_and_callable_module(sbml_path):
    result = sbmleq.predict(sbml_path)
    assert isinstance(result, ModelPrediction) and result.in_class
    assert sbmleq.predict is sbmleq.api.predict and sbmleq.solve is sbmleq.api.solve
    imported = sbmleq.load(sbml_path)
    assert imported.in_class and imported.network == NET
    assert [r.reaction_id for r in imported.report][0] == "intake_A"


def test_check_relative_errors(session, sbml_path):
    result = session.predict(sbml_path, check=True)
    assert result.roadrunner is not None and result.roadrunner.status.value == "converged_stable"
    for sid, value in result.roadrunner_values.items():
        assert value == pytest.approx(EXACT[sid], rel=1e-6)
    pred, errs = result.predicted(), result.rel_errors()
    assert result.equilibrium_exists is True and result.predicted_exists is True
    for sid in EXACT:
        assert errs[sid] == pytest.approx(abs(pred[sid] - EXACT[sid]) / EXACT[sid], rel=1e-5)
    total = sum(abs(pred[s] - EXACT[s]) for s in EXACT) / sum(EXACT.values())
    assert result.rel_l1 == pytest.approx(total, rel=1e-5)
    assert result.steady_state_rel_l1 == pytest.approx(0.0, abs=1e-6)
    frame = result.to_frame()
    assert list(frame.columns) == ["predicted", "steady_state", "unit", "roadrunner", "rel_error"]
    assert frame.attrs["roadrunner_status"] == "converged_stable"


def test_to_dict_is_the_documented_schema(session, sbml_path):
    data = session.predict(sbml_path, check=True).to_dict()
    required = {"model", "in_class", "out_of_class", "equilibrium_exists", "p_exists",
                "out_of_distribution", "species", "roadrunner", "seconds", "steady_state_status",
                "conserved_totals", "predicted_exists", "steady_state_rel_l1"}
    assert required <= set(data)
    assert set(data["roadrunner"]) >= {"status", "seconds"}
    for row in data["species"].values():
        assert set(row) == {"predicted", "steady_state", "unit", "roadrunner", "rel_error"}
    assert data["steady_state_status"] == "unique" and data["conserved_totals"] == []
    text = json.dumps(data, allow_nan=False)  # strict JSON
    assert json.loads(text)["model"] == str(sbml_path)


def test_amount_species_compared_in_declared_units(session):
    model = """
    compartment C = 2
    substanceOnly species S1 in C
    substanceOnly species S2 in C
    J0: -> S1; 1.5
    J1: S1 -> S2; 2*S1
    J2: S2 -> ; 0.5*S2
    S1 = 0; S2 = 0
    """
    result = session.predict(model, check=True)
    assert result.in_class
    units = result.to_dict()["species"]
    assert units["S1"]["unit"].startswith("amount")
    # the network is in amounts; roadrunner reports concentrations (amount / 2): converted back
    assert result.roadrunner_values["S1"] == pytest.approx(0.75, rel=1e-6)
    assert result.roadrunner_values["S2"] == pytest.approx(3.0, rel=1e-6)


CLOSED_POOL = """
J1: A -> B; 2*A
J2: B -> A; 1*B
J3: B -> C; 0.5*B
J4: C -> B; 0.25*C
A = 3; B = 0; C = 1
"""

FOUR_INTAKES = """
J0: -> A; 1
J1: -> B; 2
J2: -> C; 0.5
J3: -> D; 0.25
J4: A -> B; 1*A
J5: B -> C; 2*B
J6: C -> D; 1*C
J7: D -> ; 0.5*D
A = 0; B = 0; C = 0; D = 0
"""


def test_closed_pool_reports_the_state_the_dynamics_reach(session):
    result = session.predict(CLOSED_POOL, check=True)
    assert result.in_class and result.equilibrium_exists is True
    assert result.predicted_exists is False  # the learned model keeps the paper's label
    assert result.steady_state_status == "conserved"
    pools = result.conserved_totals()
    assert [sorted(p["species"]) for p in pools] == [["A", "B", "C"]]
    assert pools[0]["total"] == pytest.approx(4.0)
    # A:B:C = 1:2:4 at steady state (2A = B, 0.5B = 0.25C), total 4
    ss = result.steady_state()
    assert [ss[s] for s in "ABC"] == pytest.approx([4 / 7, 8 / 7, 16 / 7], rel=1e-12)
    assert result.roadrunner.status.value == "converged_stable"
    assert result.steady_state_rel_l1 == pytest.approx(0.0, abs=1e-6)


def test_four_intakes_settle_whatever_the_learned_verdict(session):
    result = session.predict(FOUR_INTAKES, check=True)
    assert result.equilibrium_exists is True and result.steady_state_status == "unique"
    assert result.steady_state()["D"] == pytest.approx(3.75 / 0.5, rel=1e-12)
    assert result.steady_state_rel_l1 == pytest.approx(0.0, abs=1e-6)


def test_steady_state_does_not_depend_on_decades(session):
    wide = CLOSED_POOL.replace("2*A", "2e5*A").replace("0.25*C", "2.5e-3*C")
    result = session.predict(wide, check=True)
    assert result.steady_state_rel_l1 == pytest.approx(0.0, abs=1e-6)
    ss = result.steady_state()
    assert ss["C"] / ss["B"] == pytest.approx(0.5 / 2.5e-3, rel=1e-9)


def test_out_of_class_predict_warns_with_the_reasons(sbml_path):
    with pytest.warns(sbmleq.OutOfClassWarning, match="J1: kinetic law .* not first-order"):
        result = sbmleq.predict(OUT_OF_CLASS, general_model=False)
    assert not result.in_class and result.learned is None


def test_out_of_class_goes_to_the_shipped_general_model(session):
    result = session.predict(OUT_OF_CLASS)
    assert not result.in_class and result.exit_code == 0
    # why it is outside the LIFE class, without needs_general_model: the general model answered
    assert [r["code"] for r in result.out_of_class] == ["not_first_order"]
    learned = result.learned
    assert learned is not None and result.checkpoint == "general.npz"
    assert learned.verified.status.value == "stable"
    assert learned.steady_state == pytest.approx({"S1": 0.5, "S2": 1.0}, rel=1e-8)
    assert set(learned.predicted) == {"S1", "S2"}
    quick = sbmleq.predict(OUT_OF_CLASS, confirm=False)
    assert quick.learned.steady_state == pytest.approx({"S1": 0.5, "S2": 1.0}, rel=1e-8)


def test_out_of_class_is_a_result_not_an_exception():
    with Session(timeout=None, general_model=False) as life_only:
        result = life_only.predict(OUT_OF_CLASS, check=True, warn=False)
    assert not result.in_class and result.exit_code == 3
    assert result.prediction is None and result.equilibrium_exists is None
    assert [r["reaction"] for r in result.out_of_class] == [None, "J1"]
    assert result.out_of_class[0]["code"] == "needs_general_model"  # sbmleq solve answers it
    assert [r["code"] for r in result.out_of_class] == ["needs_general_model", "not_first_order"]
    assert result.roadrunner_values["S1"] == pytest.approx(0.5, rel=1e-6)
    assert result.to_dict()["species"]["S1"]["predicted"] is None
    with pytest.raises(OutOfClassError):
        result.require_in_class()


def test_solve_sbmleq_engine(session, sbml_path):
    result = sbmleq.solve(sbml_path)
    assert isinstance(result, sbmleq.GeneralSolveResult)
    assert result.status.value == "stable" and result.stable and result.eigenvalues_max_real < 0
    assert result.residual <= 1e-9 and result.stage in [s["name"] for s in result.stages]
    assert result.concentrations == pytest.approx(EXACT, rel=1e-9)
    data = json.loads(result.to_json())
    for key in ("status", "concentrations", "eigenvalues_max_real", "stage", "seconds",
                "settings", "stable", "residual", "stages", "conserved_totals"):
        assert key in data
    assert result.to_frame().loc["C", "concentration"] == pytest.approx(EXACT["C"])
    by_network = session.solve(NET)  # a LIFE Network converts exactly (initial values 0)
    assert by_network.concentrations["A"] == pytest.approx(EXACT["A"])
    with pytest.raises(InputError):
        session.solve(sbml_path, engine="copasi")


def test_solve(session, sbml_path):
    result = sbmleq.solve(sbml_path, timeout=None, engine="roadrunner")
    assert isinstance(result, SolveResult)
    assert result.status.value == "converged_stable" and result.eigenvalues_max_real < 0
    frame = result.to_frame()
    assert frame.loc["C", "concentration"] == pytest.approx(EXACT["C"])
    assert json.loads(result.to_json())["status"] == "converged_stable"
    by_network = session.solve(NET, engine="roadrunner")
    assert by_network.concentrations["A"] == pytest.approx(EXACT["A"])
    with pytest.raises(InputError):
        session.solve("<sbml><model")


def test_session_caches_models(session, sbml_path):
    assert session.predictor() is session.predictor()
    with pytest.raises(sbmleq.CheckpointError):
        session.predictor(model=sbml_path.parent / "no-such-model.npz")


def test_cuda_errors_are_input_errors(monkeypatch):
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: False))
    monkeypatch.setitem(sys.modules, "torch", fake)
    with pytest.raises(InputError, match="CUDA is not available"):
        Session(device="cuda").predictor()
    fake.cuda.is_available = lambda: True
    with pytest.raises(InputError, match=r"\.pt"):
        Session(device="cuda").predictor()  # the shipped .npz runs on the CPU only


# ---------------------------------------------------------------------------- scan
def test_scan_by_edges_and_parameter_ids_agree(session, sbml_path):
    k = np.array([0.5, 1.0, 2.0, 4.0])
    by_edge = session.scan(sbml_path, {"A->B": k, ("C", "A"): 0.25, "intake:A": [1, 2, 3, 4]},
                           exact=True)
    by_id = session.scan(sbml_path, {"k_A_B": k, "k_C_A": 0.25, "phi_A": [1, 2, 3, 4]},
                         exact=True)
    assert isinstance(by_edge, ScanResult) and len(by_edge) == 4
    assert by_id.mapping["k_A_B"].startswith("edge A->B")
    np.testing.assert_allclose(by_id.p_exists, by_edge.p_exists, rtol=1e-9)
    np.testing.assert_allclose(by_id.predicted, by_edge.predicted, rtol=1e-9)
    for row in range(4):
        variant = NET.with_parameters(weight=[k[row], 1.0, 0.25], intake=[row + 1.0, 0, 0])
        np.testing.assert_allclose(by_edge.exact[row], solve_equilibrium(variant).concentrations)
    frame = by_edge.to_frame()
    assert list(frame.columns[:5]) == ["A->B", "('C', 'A')", "intake:A", "p_exists",
                                      "equilibrium_exists"]
    assert {"A", "B", "C", "exact:A", "exact_exists"} <= set(frame.columns)
    json.dumps(by_edge.to_dict(), allow_nan=False)


def test_scan_parameter_powers_and_dataframe_index(session):
    params = pd.DataFrame({"k1": [1.2, 2.4], "k3": [0.7, 1.4]}, index=["base", "double"])
    result = session.scan(SCAN_MODEL, params, exact=True)
    assert "^2" in result.mapping["k1"]  # the rate is k1^2 * S1
    assert list(result.to_frame().index) == ["base", "double"]
    base = session.load(SCAN_MODEL).network
    w = base.weight.copy()
    s1_s2 = int(np.flatnonzero((base.src == base.index("S1")) & (base.dst == base.index("S2")))[0])
    w[s1_s2] *= 4.0  # (2.4 / 1.2)^2
    ex = base.excretion.copy()
    ex[base.index("S2")] *= 2.0
    np.testing.assert_allclose(result.exact[0], solve_equilibrium(base).concentrations)
    np.testing.assert_allclose(result.exact[1],
                               solve_equilibrium(base.with_parameters(w, None, ex)).concentrations)


@pytest.mark.parametrize("params, message", [
    ({"nope": [1.0]}, "unknown scan key"),
    ({"k1": [0.0, 1.0]}, "must be finite and > 0"),
    ({"ka": [0.3]}, "not scale"),  # (ka + kb) * S1: not a power of ka
    ({"S1->S9": [1.0]}, "not a species"),
    ({"S2->S2": [1.0]}, "no edge"),
    ({"k2": [1.0], "S2->S1": [2.0]}, "give only one"),
    ({"k1": [1.0, 2.0], "k2": [1.0, 2.0, 3.0]}, "differ in length"),
])
def test_scan_errors(session, params, message):
    with pytest.raises(InputError, match=message):
        session.scan(SCAN_MODEL, params)


def test_scan_out_of_class_and_network_sources(session):
    with pytest.raises(OutOfClassError):
        session.scan(OUT_OF_CLASS, {"k0": [1.0]}, engine="learned")  # default: verified scan
    with pytest.raises(InputError, match="no SBML parameters"):
        session.scan(NET, {"k_A_B": [1.0]})
    result = sbmleq.scan(NET, {"A->B": [1.0, 3.0]})
    assert result.predicted.shape == (2, 3)


def test_import_sbmleq_is_light():
    code = ("import sys, sbmleq; heavy = [m for m in ('numpy', 'torch', 'roadrunner', 'libsbml', "
            "'pandas', 'rich', 'typer', 'sympy', 'scipy') if m in sys.modules]; print(heavy); "
            "print(callable(sbmleq.predict), sbmleq.predict.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True sbmleq.api"]


def test_rel_error_definition():
    from sbmleq.compare import rel_error

    assert rel_error(1.0, 0.0) is None and rel_error(0.0, 0.0) == 0.0
    assert rel_error(None, 1.0) is None and rel_error(1.5, 1.0) == pytest.approx(0.5)


def test_solve_reports_every_species_as_roadrunner_lists_them():
    """State species, species set by an assignment rule (evaluated at the steady state) and
    constant species, all in the concentrations."""
    model = ("J0: -> S1; k0\nJ1: S1 -> S2; k1*S1*E\nJ2: S2 -> ; k2*S2\nspecies T; T := S1 + S2\n"
             "species E; const E; E = 2\nS1 = 0; S2 = 0; k0 = 1; k1 = 0.5; k2 = 2")
    result = sbmleq.solve(model)
    assert result.status.value == "stable"
    assert result.concentrations == pytest.approx({"S1": 1.0, "S2": 0.5, "T": 1.5, "E": 2.0})
    assert result.state == pytest.approx({"S1": 1.0, "S2": 0.5})
    rr = sbmleq.solve(model, engine="roadrunner", timeout=None)
    for sid, value in rr.concentrations.items():
        assert result.concentrations[sid] == pytest.approx(value, rel=1e-8)
