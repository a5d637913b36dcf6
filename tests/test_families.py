"""Rate-law families (sbmleq.core.families) on hand-written laws and on curated BioModels."""

from __future__ import annotations

from pathlib import Path

import libsbml
import pytest

from sbmleq.core.expr import Expr, add, mul, power, sym
from sbmleq.core.families import (
    FAMILIES,
    classify,
    classify_rate,
    family_counts,
    family_table,
)
from sbmleq.core.reactions import Reaction, ReactionNetwork, Species
from sbmleq.io.general_import import import_reaction_network_from
from sbmleq.io.general_math import MathConverter

CURATED = Path(__file__).resolve().parents[2] / "shared" / "biomodels" / "curated"
SPECIES = frozenset({"S", "P", "A", "B", "C", "E", "I", "X"})


def law(text: str) -> Expr:
    node = libsbml.parseL3Formula(text)
    assert node is not None, libsbml.getLastParseL3Error()
    return MathConverter({}, "test").convert(node, "law")


@pytest.mark.parametrize("text,substrates,family", [
    ("k", ["P"], "zero_order"),
    ("k*V", ["P"], "zero_order"),
    ("k*S", ["S"], "mass_action_1"),
    ("V*k*S", ["S", "P"], "mass_action_1"),
    ("k*S/V", ["S"], "mass_action_1"),
    ("k*A*B", ["A", "B", "C"], "mass_action_2"),
    ("k*A^2", ["A"], "mass_action_2"),
    ("k*E*S", ["S", "P"], "mass_action_2"),  # a catalyst in mass action
    ("k*A*B*C", ["A", "B", "C"], "mass_action_3+"),
    ("k*A^2*B", ["A", "B"], "mass_action_3+"),
    ("kf*A*B - kr*C", ["A", "B", "C"], "reversible_mass_action"),
    ("kf*(S - P/Keq)", ["S", "P"], "reversible_mass_action"),
    ("V*(k1*A - k2*B*C)", ["A", "B", "C"], "reversible_mass_action"),
    ("Vm*S/(Km + S)", ["S", "P"], "michaelis_menten"),
    ("kcat*E*S/(Km + S)", ["S", "P"], "michaelis_menten"),
    ("V*S/Km/(1 + S/Km)", ["S", "P"], "michaelis_menten"),
    ("(Vf*S/Ks - Vr*P/Kp)/(1 + S/Ks + P/Kp)", ["S", "P"], "michaelis_menten"),
    ("V*A*B/((Ka + A)*(Kb + B))", ["A", "B", "P"], "michaelis_menten"),
    ("V*S*(1 - P/(Keq*S))/(Km*(1 + S/Km + P/Kp))", ["S", "P"], "michaelis_menten"),  # Haldane
    ("k*S*(1 - P/(Keq*S))", ["S", "P"], "reversible_mass_action"),
    ("k*(S/P + 1)", ["S", "P"], "other"),
    ("V*S^n/(K^n + S^n)", ["S", "P"], "hill"),
    ("V*S^2/(K^2 + S^2)", ["S", "P"], "hill"),
    ("V*S^h/(K + S^h)", ["S"], "hill"),
    ("V*A^n/(K^n + A^n)", ["P"], "hill"),  # expression driven by an activator
    ("V*S/(K + S)/(1 + I/Ki)", ["S", "P"], "modifier"),
    ("V*S/(K*(1 + I/Ki) + S)", ["S", "P"], "modifier"),  # competitive inhibition
    ("k*S*A/(Ka + A)", ["S", "P"], "modifier"),
    ("k*S*(1 + a*A)", ["S", "P"], "modifier"),
    ("V/(1 + (I/K)^n)", ["P"], "modifier"),  # repressed production
    ("V*S/((K + S)*(1 + (I/Ki)^n))", ["S", "P"], "modifier"),
    ("k*exp(S)", ["S"], "other"),
    ("k*S^0.5", ["S"], "other"),
    ("k*(A + B)", ["A", "B"], "other"),
    ("k0 + k*S", ["S"], "other"),
    ("piecewise(k*S, S > 1, 0)", ["S"], "other"),
    ("k*S/(S + P)", ["S", "P"], "other"),  # no constant term: not saturable
    ("V*S/(K + S + S^2/Ki)", ["S", "P"], "other"),  # substrate inhibition
    ("k*S/(K + I)", ["S", "P"], "modifier"),  # mass action, inhibited
])
def test_hand_written_laws(text: str, substrates: list[str], family: str) -> None:
    assert family in FAMILIES
    assert classify_rate(law(text), SPECIES, substrates) == family


def test_every_law_gets_exactly_one_known_family() -> None:
    laws = ["k", "k*S", "S*P*A*B", "Vm*S/(Km+S)", "sin(S)", "S^n", "1/S"]
    for text in laws:
        assert classify_rate(law(text), SPECIES) in FAMILIES


def test_classify_reads_its_network() -> None:
    rate = mul(sym("k"), sym("S"), power(add(sym("K"), sym("S")), -1.0))
    net = ReactionNetwork(
        species=(Species("S", "c", 1.0), Species("P", "c", 0.0)),
        reactions=(Reaction("R1", (("S", 1.0),), (("P", 1.0),), rate),
                   Reaction("R2", (("P", 1.0),), (), mul(sym("d"), sym("P")))),
        parameters={"k": 1.0, "K": 2.0, "d": 0.1}, compartments={"c": 1.0})
    assert classify(net.reactions[0], net) == "michaelis_menten"
    assert classify(net.reactions[0], {"S", "P"}) == "michaelis_menten"
    # with S taken as a constant the same law has no species at all
    assert classify(net.reactions[0], {"P"}) == "zero_order"
    assert family_table(net) == {"R1": "michaelis_menten", "R2": "mass_action_1"}
    assert family_counts(net) == {"mass_action_1": 1, "michaelis_menten": 1}


@pytest.mark.skipif(not CURATED.is_dir(), reason="the curated BioModels corpus is not here")
@pytest.mark.parametrize("model_id,expected", [
    # Goldbeter 1991: a constant input, first-order decay, Michaelis-Menten steps and one step
    # activated by C
    ("BIOMD0000000003", {"reaction1": "zero_order", "reaction2": "mass_action_1",
                         "reaction3": "michaelis_menten", "reaction4": "modifier",
                         "reaction5": "michaelis_menten", "reaction7": "michaelis_menten"}),
    # Kholodenko 2000 MAPK cascade: MM steps, the first inhibited by MAPK-PP (Hill-type)
    ("BIOMD0000000010", {"J0": "modifier", "J1": "michaelis_menten", "J2": "michaelis_menten"}),
    # Markevich 2004: mass-action binding and catalysis
    ("BIOMD0000000028", {}),
])
def test_curated_models(model_id: str, expected: dict[str, str | None]) -> None:
    result = import_reaction_network_from(CURATED / f"{model_id}.xml")
    net = result.require()
    table = family_table(net)
    assert table == result.families == {r.id: r.family for r in net.reactions}
    for rid, family in expected.items():
        if family is not None:
            assert table[rid] == family, (rid, table[rid])
    if model_id == "BIOMD0000000028":
        assert set(table.values()) == {"mass_action_1", "reversible_mass_action"}
