"""Network -> SBML: valid SBML, predictable ids, full precision, exact round trip."""

from __future__ import annotations

import libsbml
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbmleq.errors import InputError
from sbmleq.core.network import Network
from sbmleq.io.sbml_export import is_valid_sid, network_to_sbml, to_sid, unique_sid, write_sbml
from sbmleq.io.sbml_import import import_sbml


def chain() -> Network:
    return Network.from_edges([("A", "B", 0.3), ("B", "C", 1 / 3), ("C", "A", 0.1)],
                              {"A": 0.5}, {"C": 0.2}, name="chain")


def consistency_errors(text: str) -> list[str]:
    doc = libsbml.readSBMLFromString(text)
    doc.checkConsistency()
    return [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
            if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]


def test_export_is_valid_sbml_l3v2() -> None:
    text = network_to_sbml(chain())
    assert consistency_errors(text) == []
    doc = libsbml.readSBMLFromString(text)
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    model = doc.getModel()
    assert model.getNumCompartments() == 1
    assert [s.getId() for s in model.getListOfSpecies()] == ["A", "B", "C"]
    for s in model.getListOfSpecies():
        assert s.getInitialConcentration() == 0 and not s.getHasOnlySubstanceUnits()
    assert model.getNumReactions() == 1 + 3 + 1


def test_predictable_parameter_and_reaction_ids() -> None:
    model = libsbml.readSBMLFromString(network_to_sbml(chain())).getModel()
    params = {p.getId(): p.getValue() for p in model.getListOfParameters()}
    assert params == {"phi_A": 0.5, "k_A_B": 0.3, "k_B_C": 1 / 3, "k_C_A": 0.1, "e_C": 0.2}
    reactions = {r.getId() for r in model.getListOfReactions()}
    assert reactions == {"intake_A", "edge_A_B", "edge_B_C", "edge_C_A", "excretion_C"}
    edge = model.getReaction("edge_A_B")
    assert edge.getReactant(0).getSpecies() == "A" and edge.getProduct(0).getSpecies() == "B"
    assert libsbml.formulaToL3String(edge.getKineticLaw().getMath()) == "k_A_B * A * compartment"
    intake = model.getReaction("intake_A")
    assert intake.getNumReactants() == 0 and intake.getProduct(0).getSpecies() == "A"
    assert model.getReaction("excretion_C").getNumProducts() == 0


def test_full_precision_values() -> None:
    net = Network.from_edges([("a", "b", 0.1 + 0.2)], {"a": 1 / 3}, {"b": 2 / 3})
    text = network_to_sbml(net, compartment_volume=1 / 7)
    assert 'value="0.30000000000000004"' in text and 'size="0.14285714285714285"' in text
    model = libsbml.readSBMLFromString(text).getModel()
    assert model.getParameter("k_a_b").getValue() == 0.1 + 0.2
    assert model.getCompartment(0).getSize() == 1 / 7


def test_invalid_node_ids_are_mapped_and_named() -> None:
    net = Network.from_edges([("glucose 6-P", "2pg", 1.0), ("a.b", "a-b", 2.0)],
                             {"glucose 6-P": 1.0}, {"2pg": 1.0, "a-b": 1.0})
    text = network_to_sbml(net)
    assert consistency_errors(text) == []
    model = libsbml.readSBMLFromString(text).getModel()
    ids = [s.getId() for s in model.getListOfSpecies()]
    names = [s.getName() for s in model.getListOfSpecies()]
    assert ids == ["glucose_6_P", "_2pg", "a_b", "a_b_2"]
    assert names == list(net.nodes)
    assert all(is_valid_sid(i) for i in ids)
    back = import_sbml(text, source_name="mapped")
    assert back.network == net
    assert back.node_species["glucose 6-P"] == "glucose_6_P"


def test_sid_helpers() -> None:
    assert to_sid("9x") == "_9x" and to_sid("") == "_" and to_sid("ok_1") == "ok_1"
    used: set[str] = {"x"}
    assert unique_sid("x", used) == "x_2" and unique_sid("x", used) == "x_3"
    assert not is_valid_sid("a b") and is_valid_sid("_a1")


def test_node_named_like_a_generated_id() -> None:
    net = Network.from_edges([("k_a_b", "a"), ("a", "b"), ("compartment", "a")],
                             {"k_a_b": 1.0}, {"b": 1.0})
    text = network_to_sbml(net)
    assert consistency_errors(text) == []
    assert import_sbml(text, source_name="clash").network == net


def test_write_sbml(tmp_path) -> None:
    path = write_sbml(chain(), tmp_path / "chain.xml", model_id="my model")
    doc = libsbml.readSBMLFromFile(str(path))
    assert doc.getModel().getId() == "my_model"
    assert import_sbml(path, source_name="chain.xml").network == chain()


def test_subnormal_value_is_refused() -> None:
    net = Network.from_edges([("a", "b", 5e-324)], {}, {"b": 1.0}, name="tiny")
    with pytest.raises(InputError, match="tiny: edge a->b: value 5e-324 is subnormal"):
        network_to_sbml(net)


@pytest.mark.parametrize("volume", [0.0, -1.0, float("nan"), float("inf"), 5e-324])
def test_bad_volume(volume: float) -> None:
    with pytest.raises(InputError, match="compartment"):
        network_to_sbml(chain(), compartment_volume=volume)


def test_roadrunner_steady_state_matches_exact() -> None:
    import roadrunner

    from sbmleq.core.exact import solve_equilibrium

    net = chain()
    rr = roadrunner.RoadRunner(network_to_sbml(net, compartment_volume=2.5))
    rr.conservedMoietyAnalysis = True
    rr.steadyState()
    got = dict(zip(rr.steadyStateSelections, rr.getSteadyStateValues()))
    exact = solve_equilibrium(net).as_dict()
    for node, value in exact.items():
        assert got[f"[{node}]"] == pytest.approx(value, rel=1e-8)


@st.composite
def networks(draw: st.DrawFn) -> tuple[Network, float]:
    n = draw(st.integers(1, 20))
    alphabet = st.sampled_from(list("abcxyz019_ -.:é"))
    names = draw(st.one_of(
        st.just([f"x{i}" for i in range(n)]),
        st.lists(st.text(alphabet, min_size=1, max_size=6), min_size=n, max_size=n, unique=True)))
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=min(len(pairs), 60))
                  if pairs else st.just([]))
    positive = st.one_of(st.floats(min_value=1e-9, max_value=1e9),
                         st.floats(min_value=1e-300, max_value=1e300))
    non_negative = st.one_of(st.just(0.0), positive)
    weights = draw(st.lists(positive, min_size=len(chosen), max_size=len(chosen)))
    intake = draw(st.lists(non_negative, min_size=n, max_size=n))
    excretion = draw(st.lists(non_negative, min_size=n, max_size=n))
    volume = draw(st.one_of(st.just(1.0), st.floats(min_value=1e-3, max_value=1e3)))
    net = Network(tuple(names), np.array([p[0] for p in chosen], dtype=np.int64),
                  np.array([p[1] for p in chosen], dtype=np.int64), np.array(weights),
                  np.array(intake), np.array(excretion), name="random")
    return net, volume


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_round_trip_is_exact(case: tuple[Network, float]) -> None:
    net, volume = case
    text = network_to_sbml(net, compartment_volume=volume)
    result = import_sbml(text, source_name="roundtrip")
    assert result.in_class, result.reasons
    assert result.network == net
    assert result.network.nodes == net.nodes
