"""LIFE Network <-> ReactionNetwork: exact round trips, the same ODE right-hand side, the class."""

import json
from importlib import resources

import numpy as np
import pytest

from sbmleq.core.compile import compile_network
from sbmleq.core.expr import add, div, mul, sub, sym
from sbmleq.core.generators import GENERATORS, GeneratorConfig, generate
from sbmleq.core.life_bridge import (MASS_ACTION_1, ZERO_ORDER, life_from_reaction_network,
                                     reaction_network_from_life, why_not_life)
from sbmleq.core.network import Network
from sbmleq.core.reactions import RateRule, Reaction, ReactionNetwork, Species
from sbmleq.errors import NetworkError


def generated(count: int = 6) -> list[Network]:
    out = []
    for k, family in enumerate(sorted(GENERATORS)):
        cfg = GeneratorConfig(family=family, n_min=3, n_max=25, weights="loguniform",
                              decades=6.0, intakes=(1, 3), excretions=(0, 3))
        out += generate(cfg, count, seed=k)
    return out


def kegg() -> list[Network]:
    data = json.loads(resources.files("sbmleq").joinpath("data/kegg51.json").read_text())
    return [Network.from_edges([tuple(e) for e in rec["edges"]],
                               {int(k): v for k, v in rec["intake"].items()},
                               {int(k): v for k, v in rec["excretion"].items()},
                               nodes=list(range(rec["n_nodes"])), name=rec["title"])
            for rec in data["networks"]]


def assert_same_dynamics(rn: ReactionNetwork, net: Network, seed: int = 0) -> None:
    cn = compile_network(rn)
    assert cn.state_ids == net.nodes
    x = np.random.default_rng(seed).uniform(0, 10, size=(8, net.n_nodes))
    expected = np.stack([net.rhs(row) for row in x])
    scale = np.abs(net.weight).sum() * 10 + net.intake.sum() + net.excretion.sum() * 10
    np.testing.assert_allclose(cn.rhs(x), expected, rtol=1e-12, atol=1e-13 * scale)


@pytest.mark.parametrize("source", ["generated", "kegg"])
def test_round_trip_is_exact_and_dynamics_agree(source):
    nets = generated() if source == "generated" else kegg()
    assert len(nets) >= 24 if source == "generated" else len(nets) == 51
    for k, net in enumerate(nets):
        rn = reaction_network_from_life(net)
        assert life_from_reaction_network(rn) == net, net.name  # bytes of every array
        assert why_not_life(rn) is None
        assert rn.name == net.name
        assert_same_dynamics(rn, net, seed=k)


def test_structure_of_the_reaction_network():
    net = Network.from_edges([("a", "b", 2.5), ("b", "c", 0.5)], {"a": 1.5}, {"c": 0.25},
                             nodes=["a", "b", "c"], name="chain")
    rn = reaction_network_from_life(net, {"b": 3.0})
    assert [s.id for s in rn.species] == ["a", "b", "c"]
    assert [s.initial for s in rn.species] == [0.0, 3.0, 0.0]
    assert all(not s.amount and s.floating for s in rn.species)
    assert rn.compartments == {"compartment": 1.0}
    assert rn.parameters == {"phi_a": 1.5, "k_a_b": 2.5, "k_b_c": 0.5, "e_c": 0.25}
    assert [r.id for r in rn.reactions] == ["intake_a", "edge_a_b", "edge_b_c", "excretion_c"]
    assert [r.family for r in rn.reactions] == [ZERO_ORDER, MASS_ACTION_1, MASS_ACTION_1,
                                                MASS_ACTION_1]
    assert rn.reactions[1].rate == mul("k_a_b", "a", "compartment")
    assert rn.reactions[0].rate == mul("phi_a", "compartment")
    assert rn.reactions[1].reactants == (("a", 1.0),) and rn.reactions[1].products == (("b", 1.0),)
    assert rn.reactions[3].products == ()
    np.testing.assert_array_equal(rn.initial_state(), [0.0, 3.0, 0.0])
    assert reaction_network_from_life(net, [1, 2, 3]).initial_state().tolist() == [1, 2, 3]
    with pytest.raises(NetworkError, match="unknown node"):
        reaction_network_from_life(net, {"zz": 1.0})
    with pytest.raises(NetworkError, match="2 initial values for 3 nodes"):
        reaction_network_from_life(net, [1.0, 2.0])


def test_ids_that_clash_with_generated_names():
    net = Network.from_edges([("compartment", "k_a_b"), ("a", "b_c"), ("a_b", "c"),
                              ("k_a_b", "a")], {"compartment": 1.0}, {"c": 2.0})
    rn = reaction_network_from_life(net)
    ids = [*rn.parameters, *rn.compartments, *(s.id for s in rn.species),
           *(r.id for r in rn.reactions)]
    assert len(set(ids)) == len(ids) == 6 + 1 + 6 + 6
    assert "compartment" in {s.id for s in rn.species} and "compartment_2" in rn.compartments
    assert life_from_reaction_network(rn) == net
    assert_same_dynamics(rn, net)


# ------------------------------------------------------------------ other writings of LIFE
def rn_of(reactions, species=None, parameters=None, compartments=None, rules=()):
    species = species or (Species("S", "c", 1.0), Species("T", "c", 2.0))
    return ReactionNetwork(tuple(species), tuple(reactions), parameters or {"k": 2.0},
                           compartments or {"c": 4.0}, rate_rules=tuple(rules), name="t")


def test_laws_are_read_on_their_value():
    B = Species("B", "c", 5.0, boundary=True)
    species = (Species("S", "c", 1.0), Species("T", "c", 2.0), B, Species("A", "c", 3.0, amount=True))
    rn = rn_of([
        Reaction("edge_no_volume", (("S", 1),), (("T", 1),), mul("k", "S")),
        Reaction("edge_written_oddly", (("S", 1),), (("T", 1),),
                 mul(sub("k", "k2"), "S", div("c", "c"))),
        Reaction("parallel", (("S", 1),), (("T", 1),), mul(0.5, "S", "c")),
        Reaction("from_boundary", (("B", 1),), (("S", 1),), mul("k", "B")),
        Reaction("to_boundary", (("T", 1),), (("B", 2),), mul("k", "T")),
        Reaction("catalyst_constant", (("B", 1),), (("B", 1),), mul("k", "S")),  # moves nothing
        Reaction("amount_out", (("A", 1),), (), mul("k", "A")),
        Reaction("off", (("T", 1),), (), mul(0.0, "T")),
    ], species=species, parameters={"k": 2.0, "k2": 0.5})
    net = life_from_reaction_network(rn)
    assert net is not None, why_not_life(rn)
    assert net.nodes == ("S", "T", "A")
    np.testing.assert_allclose(net.weight, [2.0 / 4 + 1.5 / 4 + 0.5])
    np.testing.assert_allclose(net.intake, [2.0 * 5 / 4, 0, 0])
    np.testing.assert_allclose(net.excretion, [0, 2.0 / 4, 2.0])
    assert_same_dynamics(rn, net)


@pytest.mark.parametrize("reaction, reason", [
    (Reaction("r", (("S", 2),), (("T", 1),), mul("k", "S")), "stoichiometry other than 1"),
    (Reaction("r", (("S", 1), ("T", 1)), (), mul("k", "S", "T")), "more than one"),
    (Reaction("r", (("S", 1),), (("T", 1),), mul("k", "S", "S")), "not first order"),
    (Reaction("r", (("S", 1),), (("T", 1),), mul("k", "T")), "not first order"),
    (Reaction("r", (("S", 1),), (("T", 1),), sym("k")), "not first order"),
    (Reaction("r", (), (("T", 1),), mul("k", "S")), "inflow is not constant"),
    (Reaction("r", (("S", 1),), (("T", 1),), div(mul("k", "S"), add(1, "S"))), "not first order"),
    (Reaction("r", (("S", 1),), (("T", 1),), mul(-1.0, "k", "S")), "negative"),
])
def test_out_of_class_reactions(reaction, reason):
    rn = rn_of([reaction])
    assert life_from_reaction_network(rn) is None
    assert reason in why_not_life(rn)


def test_out_of_class_networks():
    two_volumes = rn_of([Reaction("r", (("S", 1),), (("T", 1),), mul("k", "S"))],
                        species=(Species("S", "c", 1.0), Species("T", "d", 0.0)),
                        compartments={"c": 1.0, "d": 2.0})
    assert "different volumes" in why_not_life(two_volumes)
    ruled = rn_of([], parameters={"k": 1.0}, rules=[RateRule("k", sym("S"))])
    assert "rate rules" in why_not_life(ruled)
    empty = rn_of([], species=(Species("B", "c", 1.0, boundary=True),))
    assert "no floating species" in why_not_life(empty)
    huge = rn_of([Reaction("r", (("S", 1),), (("T", 1),), mul("k", "S"))],
                 parameters={"k": float("inf")})
    assert life_from_reaction_network(huge) is None
