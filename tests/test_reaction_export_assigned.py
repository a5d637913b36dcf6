"""SBML export of species defined by assignment rules (``ReactionNetwork.assigned``): written as
``assignmentRule`` elements, read back by the general importer as the same network."""

import glob
import struct
from dataclasses import replace

import libsbml
import pytest

from sbmleq.core.expr import evaluate, mul, symbols
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.io.general_import import import_reaction_network_from
from sbmleq.io.reaction_export import reaction_network_to_document, reaction_network_to_sbml

BIOMODELS = sorted(glob.glob("sbmleq/data/biomodels/*.xml"))

ANTIMONY = """
model assigned_toy
  compartment cell = 2.5
  species S1 in cell = 10, S2 in cell = 0.25, E in cell = 0.5
  species Tot in cell, Ratio in cell
  a = 3; Km = 0.7; kcat = 1.5; k2 = 0.1 + 0.2
  Tot := S1 + a*S2
  Ratio := S2/(Km + S1)
  J1: S1 -> S2; cell*kcat*E*S1/(Km + S1)
  J2: S2 -> S1; cell*k2*S2*Tot
end
"""


def fkey(x: float) -> bytes:
    return struct.pack("<d", x)


def key(rn: ReactionNetwork):
    """Everything a network holds, every float by its bits, laws tree for tree."""
    return (rn.name, [(c, fkey(v)) for c, v in rn.compartments.items()],
            [(s.id, s.compartment, fkey(s.initial), s.amount, s.boundary, s.constant, s.name)
             for s in rn.species],
            sorted((p, fkey(v)) for p, v in rn.parameters.items()),
            [(r.id, r.reactants, r.products, r.rate, r.modifiers, r.reversible, r.family, r.name)
             for r in rn.reactions],
            [(x.variable, x.rate) for x in rn.rate_rules], sorted(rn.assigned.items()))


def completed(rn: ReactionNetwork) -> ReactionNetwork:
    """``rn`` as the export writes it: a species a law reads that its reaction does not list
    becomes a modifier, after the declared ones (SBML requires it; see test_reaction_export)."""
    reactions = []
    for r in rn.reactions:
        listed = {s for s, _ in (*r.reactants, *r.products)} | set(r.modifiers)
        read = [s.id for s in rn.species if s.id not in listed and s.id in symbols(r.rate)]
        reactions.append(replace(r, modifiers=(*r.modifiers, *read)))
    return rn.replace(reactions=tuple(reactions))


def imported(source, name: str) -> ReactionNetwork:
    result = import_reaction_network_from(source, source_name=name)
    assert result.reasons == [] and result.network is not None, result.reasons
    return result.network


def with_assignment_rules() -> list[ReactionNetwork]:
    nets = []
    for path in BIOMODELS:
        net = import_reaction_network_from(path).network
        if net is not None and net.assigned:
            nets.append(net)
    return nets


def test_shipped_models_with_assignment_rules_round_trip():
    nets = with_assignment_rules()
    # BIOMD 178, 198, 199, 300 (nine assigned species, one reading parameter_2 and _5) and 552
    assert len(nets) >= 5 and max(len(n.assigned) for n in nets) == 9
    for rn in nets:
        text = reaction_network_to_sbml(rn)
        doc = libsbml.readSBMLFromString(text)
        rules = {r.getVariable() for r in doc.getModel().getListOfRules() if r.isAssignment()}
        assert rules == set(rn.assigned), rn.name
        doc.checkConsistency()
        assert [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
                if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR] == []
        back = imported(text, rn.name)
        assert key(back) == key(completed(rn)), rn.name
        assert back.assigned and back.assigned == rn.assigned


def test_antimony_model_round_trips_and_values_agree():
    rn = imported(ANTIMONY, "assigned_toy.ant")
    assert set(rn.assigned) == {"Tot", "Ratio"} and "a" in rn.parameters
    env = {**rn.parameters, **rn.compartments, **{s.id: s.initial for s in rn.species}}
    assert evaluate(rn.assigned["Tot"], env) == 10 + 3 * 0.25
    back = imported(reaction_network_to_sbml(rn), "exported")
    assert key(back) == key(completed(rn))
    # a parameter only an assignment rule reads stays global (never a local parameter)
    doc, ids = reaction_network_to_document(rn)
    assert all(p not in ids.local_ids for p in ("a", "Km"))
    doc = libsbml.readSBMLFromString(reaction_network_to_sbml(rn))
    doc.checkConsistency()
    errors = [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    assert errors == []


def test_roadrunner_reads_the_assigned_values():
    import roadrunner  # compiles the model with LLVM

    rn = imported(ANTIMONY, "assigned_toy.ant")
    rr = roadrunner.RoadRunner(reaction_network_to_sbml(rn))
    env = {**rn.parameters, **rn.compartments, **{s.id: s.initial for s in rn.species}}
    for sid, e in rn.assigned.items():
        assert rr[f"[{sid}]"] == pytest.approx(evaluate(e, env), rel=1e-14)


def test_local_parameter_read_by_an_assignment_rule_stays_global():
    rn = imported(ANTIMONY, "assigned_toy.ant")
    reactions = tuple(replace(r, rate=mul(r.rate, "J2.k")) if r.id == "J2" else r
                      for r in rn.reactions)
    changed = rn.replace(parameters={**rn.parameters, "J2.k": 2.0}, reactions=reactions,
                         assigned={**rn.assigned, "Tot": mul(rn.assigned["Tot"], "J2.k")})
    _, ids = reaction_network_to_document(changed)
    assert "J2.k" not in ids.local_ids and ids.global_ids["J2.k"] == "J2_k"
    back = imported(reaction_network_to_sbml(changed), "exported")
    assert back.assigned["Tot"] == mul(rn.assigned["Tot"], "J2_k")
    assert back.parameters["J2_k"] == 2.0


def test_assigned_species_are_written_boundary_and_not_constant():
    rn = imported(ANTIMONY, "assigned_toy.ant")
    species = tuple(replace(s, boundary=False, constant=True) if s.id == "Tot" else s
                    for s in rn.species)
    doc = libsbml.readSBMLFromString(reaction_network_to_sbml(rn.replace(species=species)))
    tot = doc.getModel().getSpecies("Tot")
    assert tot.getBoundaryCondition() and not tot.getConstant()
