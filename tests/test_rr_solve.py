"""roadrunner ground truth (sbmleq.solvers.roadrunner) and its input checks.

Real roadrunner, no mocks. Isolated calls run in a fresh child interpreter, so every function
sent to a child is importable by name (time.sleep, os.abort, isolate_helpers.crash_self...).
The worker itself is tested in test_isolate.py.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import sbmleq
from isolate_helpers import crash_self
from sbmleq.core.exact import solve_equilibrium
from sbmleq.core.network import Network
from sbmleq.errors import InputError
from sbmleq.io.sources import check_references, load_sbml_text
from sbmleq.solvers.roadrunner import (
    RoadRunnerResult,
    RRStatus,
    SolverSettings,
    call_isolated,
    check_timeout,
    make_worker,
    solve_network_rr,
    solve_sbml,
    solve_sbml_text,
)

CURATED = Path(__file__).resolve().parent / "data"  # BIOMD0000000010 copied from the curated set (CC0)

CHAIN = """
J0: -> S1; k0
J1: S1 -> S2; k1*S1
J2: S2 -> ; k2*S2
k0 = 1.5; k1 = 2; k2 = 0.5
S1 = 0; S2 = 0
"""

CLOSED = """
J1: S1 -> S2; k1*S1
J2: S2 -> S1; k2*S2
k1 = 1; k2 = 3
S1 = 10; S2 = 0
"""

# Written A, B, C, D; with moiety analysis roadrunner orders them B, C, A, D (A is dependent).
REORDERED = """
J1: A -> B; k1*A
J2: B -> A; k2*B
J3: -> C; 1
J4: C -> ; C
J5: B + C -> D; B*C
J6: D -> B + C; D
k1 = 1; k2 = 3
A = 10; B = 0; C = 1; D = 0
"""


@pytest.fixture(scope="module")
def worker():
    with make_worker() as w:
        yield w


def test_stable_chain_matches_analytic_steady_state():
    result = solve_sbml(CHAIN, timeout=None)
    assert result.status is RRStatus.CONVERGED_STABLE
    assert result.stage == "steady_state"
    assert result.unique
    # S1 = k0 / k1, S2 = k0 / k2; eigenvalues -k1, -k2
    assert result.concentrations == pytest.approx({"S1": 0.75, "S2": 3.0}, rel=1e-10)
    assert result.eigenvalues_max_real == pytest.approx(-0.5, rel=1e-6)
    assert 0 <= result.residual < 1e-10
    options = result.settings["steady_state"]["options"]
    assert options["allow_presimulation"] is False
    assert result.settings["steady_state"]["solver"] == "nleq2"
    assert result.settings["conserved_moiety_analysis"] == "on"


def test_conserved_moiety_converges_with_moiety_analysis():
    result = solve_sbml(CLOSED, timeout=None)
    assert result.status is RRStatus.CONVERGED_STABLE
    # S1 + S2 = 10 and k1 S1 = k2 S2
    assert result.concentrations == pytest.approx({"S1": 7.5, "S2": 2.5}, rel=1e-10)
    assert result.eigenvalues_max_real == pytest.approx(-4.0, rel=1e-6)
    assert not result.unique  # the answer depends on the initial total S1 + S2
    assert "1 conserved moieties" in result.message


def test_values_are_read_by_id_when_roadrunner_reorders_species():
    import roadrunner

    sbml, _ = load_sbml_text(REORDERED)
    options = roadrunner.LoadSBMLOptions()
    options.conservedMoieties = True
    rr = roadrunner.RoadRunner(sbml, options)  # keep it alive while .model is in use
    order = list(rr.model.getFloatingSpeciesIds())
    assert order != ["A", "B", "C", "D"]  # the test means something
    result = solve_sbml_text(sbml, timeout=None)
    assert result.status is RRStatus.CONVERGED_STABLE
    # C = 1 (J3 = J4), B = 3 A / ... : A + B + D = 10, k1 A = k2 B, B C = D
    assert result.concentrations == pytest.approx({"A": 6.0, "B": 2.0, "C": 1.0, "D": 2.0},
                                                  rel=1e-9)
    assert list(result.to_frame().index) == order


@pytest.mark.skipif(not (CURATED / "BIOMD0000000010.xml").exists(), reason="no curated models")
def test_oscillator_fixed_point_is_unstable(worker):
    result = solve_sbml(CURATED / "BIOMD0000000010.xml", timeout=60, worker=worker)
    assert result.status is RRStatus.CONVERGED_UNSTABLE, result.message
    assert result.eigenvalues_max_real > 1e-4
    assert len(result.concentrations) == 8


def test_no_steady_state_when_nothing_drains():
    result = solve_sbml("J0: -> S1; 1\nS1 = 0", timeout=None)
    assert result.status is RRStatus.NO_STEADY_STATE
    assert result.stage == "none"
    assert "keeps growing" in result.message
    assert [a.split(":")[0] for a in result.attempts] == ["steady_state", "presimulation",
                                                          "simulation"]


def test_unstable_fixed_point_of_autocatalysis():
    result = solve_sbml("J0: S1 -> 2 S1; k*S1\nk = 1; S1 = 1", timeout=None)
    assert result.status is RRStatus.CONVERGED_UNSTABLE
    assert result.concentrations["S1"] == 0.0
    assert result.eigenvalues_max_real == pytest.approx(1.0, rel=1e-6)


def test_presimulation_rescues_a_failed_newton_start():
    # Newton from S = 0 on a Hill-type law fails; presimulation lands near the root.
    model = "J0: -> S; 1\nJ1: S -> ; 10*S^4/(1 + S^4)\nS = 0"
    result = solve_sbml(model, timeout=None)
    assert result.status is RRStatus.CONVERGED_STABLE
    assert result.stage == "presimulation"
    assert result.attempts[0].startswith("steady_state: ")
    assert 10 * result.concentrations["S"] ** 4 / (1 + result.concentrations["S"] ** 4) == \
        pytest.approx(1.0, rel=1e-9)


def test_stage_three_simulation_settles_where_newton_is_singular():
    # B drains into U and away: U's final value depends on the path (Jacobian singular), so
    # Newton fails and the long simulation answers: U = B0 / 2.
    model = "J0: -> A; 1\nJ1: A -> ; A\nJ2: B -> U; B\nJ3: B -> ; B\nB = 1; U = 0"
    result = solve_sbml(model, timeout=None)
    assert result.status is RRStatus.CONVERGED_STABLE, result.message
    assert result.stage == "simulation"
    assert result.concentrations == pytest.approx({"A": 1.0, "B": 0.0, "U": 0.5}, abs=1e-9)
    assert not result.unique  # a zero eigenvalue: U keeps whatever it receives
    assert "simulation" in result.settings


def test_rates_are_judged_per_volume():
    # In a 1e-12 L compartment a constant inflow of 1e-12 mol/s is 1 M/s: not a steady state.
    growing = "compartment c = 1e-12; species S in c; J0: -> S; 1e-12; S = 0"
    assert solve_sbml(growing, timeout=None).status is RRStatus.NO_STEADY_STATE
    two = ("compartment c = 1e-12; compartment d = 1; species S in c, T in d\n"
           "J0: -> S; 2*c; J1: S -> T; c*S; J2: T -> ; 3*d*T; S = 0; T = 0")
    result = solve_sbml(two, timeout=None)
    assert result.status is RRStatus.CONVERGED_STABLE
    assert result.concentrations == pytest.approx({"S": 2.0, "T": 2e-12 / 3}, rel=1e-9)


def test_rate_rule_models_are_checked_by_finite_differences():
    stable = solve_sbml("E' = 1 - 2*E; E = 0\nJ0: -> S; 1\nJ1: S -> ; S", timeout=None)
    assert stable.status is RRStatus.CONVERGED_STABLE
    assert stable.settings["eigenvalues"] == "finite-difference Jacobian"
    assert stable.settings["conserved_moiety_analysis"] == "off (model has rate rules)"
    assert stable.eigenvalues_max_real == pytest.approx(-1.0, rel=1e-5)
    voltage = solve_sbml("species V; V' = (-60 - V)/10; V = 0", timeout=None)
    assert voltage.status is RRStatus.CONVERGED_STABLE  # a rate-rule species may be negative
    assert voltage.concentrations["V"] == pytest.approx(-60.0)
    unstable = solve_sbml("E' = E - 1; E = 0", timeout=None)
    assert unstable.status is RRStatus.CONVERGED_UNSTABLE
    assert unstable.eigenvalues_max_real == pytest.approx(1.0, rel=1e-5)


def test_isolated_solve_matches_in_process(worker):
    inside = solve_sbml(CHAIN, timeout=None)
    pid = None
    for _ in range(2):
        outside = solve_sbml(CHAIN, timeout=30, worker=worker)
        pid = pid or worker.pid
        assert worker.pid == pid  # one child serves both calls
        assert outside.status is RRStatus.CONVERGED_STABLE
        assert outside.concentrations == inside.concentrations
        assert outside.stage == inside.stage


def test_isolated_solve_without_worker():
    result = solve_sbml(CLOSED, timeout=60)
    assert result.status is RRStatus.CONVERGED_STABLE
    assert result.concentrations["S1"] == pytest.approx(7.5)


def test_timeout_returns_within_the_limit(worker):
    start = time.monotonic()
    result = call_isolated(time.sleep, 60, timeout=1.0, worker=worker, name="sleeper")
    elapsed = time.monotonic() - start
    assert result.status is RRStatus.TIMEOUT
    assert result.message == "timed out after 1 s"
    assert elapsed < 5.0
    assert result.model == "sleeper"
    # the worker starts a fresh child for the next call
    assert solve_sbml(CHAIN, timeout=30, worker=worker).status is RRStatus.CONVERGED_STABLE


def test_timeout_on_a_real_model():
    # loading and solving takes tens of milliseconds: a 1 ms limit cannot be met.
    start = time.monotonic()
    result = solve_sbml(CHAIN, timeout=0.001)
    assert result.status is RRStatus.TIMEOUT
    assert result.message == "timed out after 0.001 s"
    assert time.monotonic() - start < 30  # includes starting the child


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGABRT])
def test_crash_becomes_solver_failure(worker, sig):
    result = call_isolated(crash_self, sig, timeout=30, worker=worker)
    assert result.status is RRStatus.SOLVER_FAILURE
    assert result.message == f"roadrunner crashed (signal {int(sig)})"
    assert not result.concentrations


def test_abort_in_child_becomes_solver_failure(worker):
    result = call_isolated(os.abort, timeout=30, worker=worker)
    assert result.status is RRStatus.SOLVER_FAILURE
    assert result.message == f"roadrunner crashed (signal {int(signal.SIGABRT)})"


def test_exception_in_child_becomes_solver_failure(worker):
    result = call_isolated(int, "not a number", timeout=30, worker=worker)
    assert result.status is RRStatus.SOLVER_FAILURE
    assert result.message.startswith("ValueError: invalid literal")


def test_unloadable_model_is_a_solver_failure_not_an_exception():
    sbml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">'
            '<model id="m"><listOfSpecies><species id="S" compartment="nowhere" '
            'initialConcentration="1" hasOnlySubstanceUnits="false" boundaryCondition="false" '
            'constant="false"/></listOfSpecies></model></sbml>')
    result = solve_sbml_text(sbml, timeout=None)  # no input checks: roadrunner's to refuse
    assert result.status is RRStatus.SOLVER_FAILURE
    assert result.message.startswith("roadrunner could not load the model")
    with pytest.raises(InputError, match="species S: invalid SBML: .*compartment 'nowhere'"):
        solve_sbml(sbml, timeout=None)  # the reference check catches it first


def test_unreadable_input_raises_input_error(tmp_path):
    missing = tmp_path / "missing.xml"
    with pytest.raises(InputError, match="missing.xml") as info:
        solve_sbml(missing, timeout=None)
    assert info.value.exit_code == 2
    broken = tmp_path / "broken.xml"
    broken.write_text("<sbml><model>", encoding="utf-8")
    with pytest.raises(InputError, match="broken.xml.*malformed XML"):
        solve_sbml(broken, timeout=None)
    html = tmp_path / "page.xml"
    html.write_text("<html><body/></html>", encoding="utf-8")
    with pytest.raises(InputError, match="not an SBML document"):
        solve_sbml(html, timeout=None)


def test_network_solve_follows_node_order():
    net = Network.from_edges([("2b", "a-1", 2.0), ("a-1", "2b", 0.5), ("a-1", "z", 1.0)],
                             {"2b": 1.0}, {"z": 0.25}, nodes=["z", "a-1", "2b"])
    result = solve_network_rr(net, timeout=None)
    assert result.status is RRStatus.CONVERGED_STABLE and result.unique
    assert list(result.concentrations) == ["z", "a-1", "2b"]
    np.testing.assert_allclose(result.values(net.nodes), solve_equilibrium(net).concentrations,
                               rtol=1e-9)


def test_result_serialises():
    result = solve_sbml(CHAIN, timeout=None)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["status"] == "converged_stable"
    assert data["concentrations"] == {"S1": pytest.approx(0.75), "S2": pytest.approx(3.0)}
    assert data["settings"]["sbmleq"]["steady_state_solver"] == "nleq2"
    frame = result.to_frame()
    assert list(frame.columns) == ["concentration"] and frame.index.name == "species"
    assert frame.loc["S2", "concentration"] == pytest.approx(3.0)
    failed = RoadRunnerResult(RRStatus.NO_STEADY_STATE, residual=math.inf)
    assert json.loads(json.dumps(failed.to_dict()))["residual"] is None


def test_settings_round_trip_and_are_recorded():
    settings = SolverSettings(presimulation_time=50.0, solver_options=(("maximum_iterations", 7),))
    assert SolverSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    result = solve_sbml("J0: -> S1; 1\nS1 = 0", timeout=None, settings=settings)
    assert result.settings["sbmleq"]["presimulation_time"] == 50.0
    assert result.settings["presimulation"]["options"]["presimulation_time"] == 50.0
    assert result.settings["presimulation"]["options"]["maximum_iterations"] == 7


# ---------------------------------------------------------------------- input checks
@pytest.mark.parametrize("bad", [-1, -0.5, 0, math.nan, "30", True])
def test_bad_timeout_is_an_input_error_naming_the_option(bad):
    for call in (lambda: solve_sbml(CHAIN, timeout=bad), lambda: solve_sbml_text("", timeout=bad),
                 lambda: solve_network_rr(Network.from_edges([("A", "B", 1.0)], {"A": 1.0},
                                                              {"B": 1.0}), timeout=bad),
                 lambda: sbmleq.solve(CHAIN, timeout=bad)):
        with pytest.raises(InputError) as info:
            call()
        assert info.value.exit_code == 2
        assert str(info.value).startswith("timeout: must be ")


def test_check_timeout_values():
    assert check_timeout(None) is None
    assert check_timeout(2) == 2.0 and isinstance(check_timeout(2), float)
    assert check_timeout(math.inf) == math.inf  # isolated, no limit
    with pytest.raises(InputError, match=r"^--timeout: must be > 0 seconds .*got nan$"):
        check_timeout(math.nan, "--timeout")


@pytest.mark.parametrize("blank", ["", "   ", "\n\t\n", b""])
def test_empty_source_is_an_input_error(blank, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the working directory must not be what is reported
    for call in (lambda: load_sbml_text(blank), lambda: solve_sbml(blank, timeout=None),
                 lambda: sbmleq.solve(blank, timeout=None), lambda: sbmleq.predict(blank),
                 lambda: sbmleq.load(blank)):
        with pytest.raises(InputError) as info:
            call()
        assert str(info.value).startswith("empty model source: give a path")
        assert str(tmp_path) not in str(info.value)


SPECIES = ('<species id="{}" compartment="c" initialConcentration="1" '
           'hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>')


def sbml_with(reactant: str = "A", law: str = "k", extra: str = "") -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">\n'
            '<model id="m"><listOfCompartments><compartment id="c" size="1" constant="true"/>'
            '</listOfCompartments>\n'
            f'<listOfSpecies>{SPECIES.format("A")}{extra}</listOfSpecies>\n'
            '<listOfParameters><parameter id="k" value="1" constant="true"/></listOfParameters>\n'
            '<listOfReactions><reaction id="R1" reversible="false">\n'
            f'<listOfReactants><speciesReference species="{reactant}" stoichiometry="1" '
            'constant="true"/></listOfReactants>\n'
            '<kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/>'
            f'<ci>{law}</ci><ci>{reactant}</ci></apply></math></kineticLaw>\n'
            '</reaction></listOfReactions></model></sbml>\n')


@pytest.mark.parametrize("kwargs, element, detail", [
    ({"reactant": "X"}, "reaction R1", "references species 'X', which is undefined"),
    ({"law": "kk"}, "reaction R1", "uses 'kk' that is not the id of a species"),
    ({"extra": SPECIES.format("k")}, "parameter k",
     "The <parameter> id 'k' conflicts with the previously defined <species> id 'k'"),
])
def test_undefined_references_are_input_errors(kwargs, element, detail, tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text(sbml_with(**kwargs))
    with pytest.raises(InputError) as info:
        solve_sbml(path, timeout=None)
    assert info.value.exit_code == 2
    assert info.value.source == str(path) and info.value.element == element
    assert info.value.message.startswith("invalid SBML: ") and detail in info.value.message
    with pytest.raises(InputError, match="invalid SBML"):
        check_references(path.read_text(), "bad.xml")


def test_valid_references_pass_and_solve():
    text = sbml_with()
    check_references(text, "ok.xml")
    import libsbml

    doc = libsbml.readSBMLFromString(text)
    check_references(doc, "ok.xml")  # a document is checked on a copy
    assert doc.getNumErrors() == 0
    result = solve_sbml(text, timeout=None)  # A decays: A' = -k A
    assert result.status is RRStatus.CONVERGED_STABLE
    assert result.concentrations["A"] == pytest.approx(0.0, abs=1e-9)
