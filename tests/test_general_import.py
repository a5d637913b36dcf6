"""The general SBML importer (sbmleq.io.general_import): semantics checked against roadrunner 2.10.

Hand-built models (libsbml, formulas in L3 syntax) cover each SBML feature; curated BioModels files
cover real models. In both, the initial state and the right-hand side there must equal roadrunner's
(``getFloatingSpeciesConcentrations``/``Amounts`` and ``getRatesOfChange``, which are amounts per
time for species: divided here by the compartment size for concentration species).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import libsbml
import numpy as np
import pytest

from sbmleq.core.compile import compile_network
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.errors import InputError, OutOfClassError
from sbmleq.io.general_import import (
    GeneralImport,
    import_reaction_network,
    import_reaction_network_from,
)
from sbmleq.io.reasons import ReasonCode as R

SHIPPED = Path(__file__).resolve().parents[1] / "sbmleq" / "data" / "biomodels"
CURATED = Path(__file__).resolve().parents[2] / "shared" / "biomodels" / "curated"
# Michaelis-Menten, Hill, several compartments of different sizes, hasOnlySubstanceUnits,
# rate rules on parameters, assignment rules, function definitions, local parameters,
# initial assignments.
CURATED_IDS = ["BIOMD0000000003", "BIOMD0000000006", "BIOMD0000000012", "BIOMD0000000016",
               "BIOMD0000000021", "BIOMD0000000041", "BIOMD0000000059", "BIOMD0000000079",
               "BIOMD0000000118", "BIOMD0000000169", "BIOMD0000000207", "BIOMD0000000232",
               "BIOMD0000000320"]


# ------------------------------------------------------------------ building models
def build(*, compartments: dict[str, float | None] | None = None,
          species: list[dict[str, Any]] = (), parameters: dict[str, float | None] | None = None,
          reactions: list[dict[str, Any]] = (), assignment: dict[str, str] | None = None,
          rate: dict[str, str] | None = None, initial: dict[str, str] | None = None,
          functions: dict[str, str] | None = None, level: tuple[int, int] = (3, 2),
          events: bool = False, algebraic: str | None = None) -> libsbml.SBMLDocument:
    """A model from plain data; math as L3 formulas."""
    doc = libsbml.SBMLDocument(*level)
    m = doc.createModel()
    m.setId("hand")

    def math_(text: str) -> libsbml.ASTNode:
        node = libsbml.parseL3Formula(text)
        assert node is not None, libsbml.getLastParseL3Error()
        return node

    for fid, body in (functions or {}).items():
        fd = m.createFunctionDefinition()
        fd.setId(fid)
        fd.setMath(math_(body))
    for cid, size in (compartments or {"c": 1.0}).items():
        c = m.createCompartment()
        c.setId(cid)
        c.setConstant(cid not in (rate or {}) and cid not in (assignment or {}))
        c.setSpatialDimensions(3)
        if size is not None:
            c.setSize(size)
    for spec in species:
        s = m.createSpecies()
        s.setId(spec["id"])
        s.setCompartment(spec.get("compartment", "c"))
        if "amount" in spec:
            s.setInitialAmount(spec["amount"])
        if "conc" in spec:
            s.setInitialConcentration(spec["conc"])
        s.setHasOnlySubstanceUnits(spec.get("hosu", False))
        s.setBoundaryCondition(spec.get("boundary", False))
        s.setConstant(spec.get("constant", False))
        if "cf" in spec:
            s.setConversionFactor(spec["cf"])
    for pid, value in (parameters or {}).items():
        p = m.createParameter()
        p.setId(pid)
        p.setConstant(pid not in (rate or {}) and pid not in (assignment or {}))
        if value is not None:
            p.setValue(value)
    for spec in reactions:
        r = m.createReaction()
        r.setId(spec["id"])
        r.setReversible(False)
        if spec.get("fast"):
            r.setFast(True)
        for sid, st in spec.get("reactants", []):
            ref = r.createReactant()
            ref.setSpecies(sid)
            ref.setStoichiometry(st)
            ref.setConstant(True)
        for sid, st in spec.get("products", []):
            ref = r.createProduct()
            ref.setSpecies(sid)
            ref.setStoichiometry(st)
            ref.setConstant(True)
        for sid in spec.get("modifiers", []):
            r.createModifier().setSpecies(sid)
        if spec.get("law") is not None:
            kl = r.createKineticLaw()
            kl.setMath(math_(spec["law"]))
            for pid, value in spec.get("local", {}).items():
                lp = kl.createLocalParameter()
                lp.setId(pid)
                lp.setValue(value)
    for var, text in (assignment or {}).items():
        rule = m.createAssignmentRule()
        rule.setVariable(var)
        rule.setMath(math_(text))
    for var, text in (rate or {}).items():
        rule = m.createRateRule()
        rule.setVariable(var)
        rule.setMath(math_(text))
    for var, text in (initial or {}).items():
        ia = m.createInitialAssignment()
        ia.setSymbol(var)
        ia.setMath(math_(text))
    if algebraic:
        m.createAlgebraicRule().setMath(math_(algebraic))
    if events:
        ev = m.createEvent()
        ev.setId("ev")
        ev.setUseValuesFromTriggerTime(True)
        trig = ev.createTrigger()
        trig.setMath(math_("time > 1"))
        trig.setInitialValue(False)
        trig.setPersistent(True)
        ea = ev.createEventAssignment()
        ea.setVariable(species[0]["id"])
        ea.setMath(math_("1"))
    return doc


def text_of(doc: libsbml.SBMLDocument) -> str:
    return libsbml.writeSBMLToString(doc)


# ------------------------------------------------------------------ comparing with roadrunner
def against_roadrunner(net: ReactionNetwork, sbml: str) -> None:
    """The initial state and rhs(x0) of ``net`` equal roadrunner's for the same SBML."""
    import roadrunner  # the reference simulator

    rr = roadrunner.RoadRunner(sbml)
    m = rr.model
    conc = dict(zip(m.getFloatingSpeciesIds(), m.getFloatingSpeciesConcentrations()))
    amounts = dict(zip(m.getFloatingSpeciesIds(), m.getFloatingSpeciesAmounts()))
    roc = rr.getRatesOfChangeNamedArray()
    rates = dict(zip((n.rstrip("'") for n in roc.colnames), roc[0]))
    compiled = compile_network(net)
    x0 = net.initial_state()
    f = compiled.rhs(x0)
    v = compiled.rates(x0)
    k, n_r = len(net.state_species), len(net.reactions)
    scale = np.concatenate([np.abs(net.stoichiometry) @ np.abs(v[:n_r]) / net.volumes[:k],
                            np.abs(v[n_r:])])
    by_id = net.species_by_id()
    for i, sid in enumerate(net.state_ids):
        if sid in by_id:  # a species (changed by reactions or by a rate rule)
            s = by_id[sid]
            if sid in conc:
                want0 = amounts[sid] if s.amount else conc[sid]
            else:  # a boundary species with a rate rule
                want0 = rr[sid] if s.amount else rr[f"[{sid}]"]
            want = rates[sid] / (1.0 if s.amount else net.compartments[s.compartment])
        else:
            want0, want = rr[sid], rates[sid]
        assert x0[i] == pytest.approx(want0, rel=1e-9, abs=1e-12), f"x0 of {sid}"
        assert abs(f[i] - want) <= 1e-9 * (scale[i] + abs(want)) + 1e-13, \
            f"rhs of {sid}: {f[i]!r} != roadrunner {want!r}"


def imported(doc: libsbml.SBMLDocument, **kw: Any) -> GeneralImport:
    return import_reaction_network(doc, "hand.xml", **kw)


def codes(result: GeneralImport) -> set[tuple[str, str | None]]:
    return {(r.code.value, r.element) for r in result.reasons}


# ------------------------------------------------------------------ semantics
UNITS = dict(
    compartments={"big": 2.0, "small": 0.5, "unset": None},
    species=[dict(id="A", compartment="big", amount=3.0),  # concentration 1.5
             dict(id="B", compartment="small", conc=4.0, hosu=True),  # amount 2
             dict(id="C", compartment="small", conc=1.0),
             dict(id="D", compartment="unset", amount=2.0, hosu=True),
             dict(id="E", compartment="big"),  # unset: 0
             dict(id="X", compartment="big", conc=7.0, boundary=True),
             dict(id="Y", compartment="big", conc=0.0, boundary=True)],
    parameters={"k": 0.3, "km": 2.0, "kf": None, "g": 0.0, "p": 1.5, "n": 2.0, "q": None},
    functions={"hill": "lambda(s, K, h, s^h/(K^h + s^h))", "mm": "lambda(v, s, K, v*s/(K+s))"},
    reactions=[
        dict(id="R1", reactants=[("A", 1)], products=[("B", 2)], law="big*mm(k, A, km)"),
        dict(id="R2", reactants=[("B", 1)], products=[("C", 1)],
             law="kf*B*hill(C + 1, km, n) + k", local={"k": 0.05}),
        dict(id="R3", reactants=[("C", 2)], products=[("D", 1)],
             law="small*k*C^2*(1 + sec(C)/10 - arccosh(2 + C)/20 + log(2, 1 + C)/10)"),
        dict(id="R4", products=[("A", 1)],
             law="X*root(3, 8)*max(0.1, min(g, 1)) + piecewise(1, D > 1, 0.5) * "
                 "quotient(7, 2) / 10 + rem(7, 2)*avogadro/avogadro/100"),
        dict(id="R5", reactants=[("D", 1)], products=[("Y", 1)], law="p*D/(1 + Z/5)"),
        dict(id="R6", reactants=[("E", 1)], law="k*E + R1/10"),  # a reaction's rate as a symbol
    ],
    assignment={"kf": "2*k + p/10", "Z": "A + C"},
    rate={"p": "-0.1*p + 0.01*C", "q": "k - q"},
    initial={"q": "2*k", "C": "A/3 + small", "g": "exp(-1)*arctan(1)"},
)
UNITS["species"].append(dict(id="Z", compartment="big", conc=0.0))


def test_units_rules_and_math_match_roadrunner() -> None:
    doc = build(**UNITS)
    result = imported(doc)
    assert result.reasons == [], result.reasons
    net = result.require()
    assert net.state_ids == ("A", "B", "C", "D", "E", "p", "q")
    by_id = net.species_by_id()
    assert by_id["A"].initial == 1.5 and not by_id["A"].amount
    assert by_id["B"].initial == 2.0 and by_id["B"].amount
    assert by_id["E"].initial == 0.0
    assert by_id["Z"].boundary  # set by an assignment rule: not state
    assert net.compartments["unset"] == 1.0
    assert "R2.k" in net.parameters and net.parameters["R2.k"] == 0.05
    assert "kf" not in net.parameters  # substituted by its rule
    against_roadrunner(net, text_of(doc))


def test_parameters_stay_symbolic_for_scans() -> None:
    net = imported(build(**UNITS)).require()
    compiled = compile_network(net)
    x0 = net.initial_state()
    base = compiled.rhs(x0)
    for pid in ("km", "big", "R2.k"):
        changed = compiled.rhs(x0, net.parameter_vector({pid: 3.0}))
        assert not np.allclose(changed, base), pid


def test_initial_assignment_on_compartment_rescales_species() -> None:
    doc = build(compartments={"c": 1.0}, parameters={"v": 4.0, "k": 0.5},
                species=[dict(id="S", amount=8.0), dict(id="T", conc=3.0, hosu=True)],
                reactions=[dict(id="R", reactants=[("S", 1)], products=[("T", 1)],
                                law="k*S*c")],
                initial={"c": "v/2"})
    net = imported(doc).require()
    assert net.compartments["c"] == 2.0
    assert net.species_by_id()["S"].initial == 4.0 and net.species_by_id()["T"].initial == 6.0
    against_roadrunner(net, text_of(doc))


def test_constant_assignment_rule_on_a_compartment() -> None:
    doc = build(compartments={"c": 1.0, "d": None}, parameters={"v": 4.0, "k": 0.5},
                species=[dict(id="S", compartment="d", conc=8.0), dict(id="T", conc=1.0)],
                reactions=[dict(id="R", reactants=[("S", 1)], products=[("T", 1)],
                                law="k*S*d")],
                assignment={"d": "v/8"})
    net = imported(doc).require()
    assert net.compartments["d"] == 0.5
    against_roadrunner(net, text_of(doc))


def test_species_rate_rules_boundary_rules_and_rate_of() -> None:
    doc = build(compartments={"c": 2.0},
                species=[dict(id="S", conc=2.0), dict(id="B", conc=1.0, boundary=True),
                         dict(id="W", conc=0.5, boundary=True), dict(id="F", conc=3.0),
                         dict(id="H", amount=3.0, hosu=True)],
                parameters={"k": 0.4, "d": None, "e": None},
                reactions=[dict(id="R", reactants=[("B", 1)], products=[("S", 1)],
                                law="k*B*W"),
                           dict(id="R2", reactants=[("S", 1)], law="k*S*(1 + d^2 + e)")],
                rate={"B": "0.1 - 0.05*B", "F": "0.2*F - S/10", "H": "0.3*H"},
                assignment={"W": "S/4", "d": "rateOf(B)", "e": "rateOf(H)/10"})
    result = imported(doc)
    net = result.require()
    assert net.state_ids == ("S", "B", "F", "H")  # rate rules on species: concentrations
    against_roadrunner(net, text_of(doc))


def test_conversion_factor_scales_stoichiometry() -> None:
    doc = build(species=[dict(id="S", conc=2.0, cf="two"), dict(id="P", conc=0.0)],
                parameters={"k": 0.5, "two": 2.0},
                reactions=[dict(id="R", reactants=[("S", 1)], products=[("P", 1)],
                                law="k*S")])
    net = imported(doc).require()
    assert net.reactions[0].reactants == (("S", 2.0),)
    against_roadrunner(net, text_of(doc))


# ------------------------------------------------------------------ reasons
def _one(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(species=[dict(id="S", conc=1.0), dict(id="P", conc=0.0)],
                                parameters={"k": 1.0},
                                reactions=[dict(id="R", reactants=[("S", 1)],
                                                products=[("P", 1)], law="k*S")])
    base.update(changes)
    return base


def law(text: str, **kw: Any) -> list[dict[str, Any]]:
    return [dict(id="R", reactants=[("S", 1)], products=[("P", 1)], law=text, **kw)]


@pytest.mark.parametrize("changes,expected", [
    (dict(events=True), (R.EVENTS, "model")),
    (dict(algebraic="k - 1"), (R.ALGEBRAIC_RULE, "model")),
    (dict(reactions=law("k*delay(S, 1)")), (R.DELAY, "R")),
    (dict(reactions=law("k*S*time")), (R.TIME_DEPENDENCE, "R")),
    (dict(reactions=law("k*S*kt"), parameters={"k": 1.0, "kt": None},
          assignment={"kt": "1 + time"}), (R.TIME_DEPENDENCE, "R")),
    (dict(reactions=law(None)), (R.NO_KINETIC_LAW, "R")),
    (dict(reactions=law("k*S", fast=True), level=(3, 1)), (R.FAST_REACTION, "R")),
    (dict(reactions=law("k*S*u"), parameters={"k": 1.0, "u": None}), (R.MISSING_VALUE, "u")),
    (dict(compartments={"c": 1.0}, rate={"c": "0.1"}), (R.VARIABLE_COMPARTMENT, "c")),
    (dict(compartments={"c": 1.0}, assignment={"c": "1 + S"}), (R.VARIABLE_COMPARTMENT, "c")),
    (dict(species=[dict(id="S", conc=1.0, boundary=True), dict(id="P", conc=0.0,
                                                              boundary=True)]),
     (R.NO_FLOATING_SPECIES, "model")),
    (dict(species=[dict(id="S", conc=1.0, cf="f"), dict(id="P", conc=0.0)],
          parameters={"k": 1.0, "f": 1.0}, rate={"f": "0.1"}), (R.CONVERSION_FACTOR, "R")),
    # (a negative initial value imports as a signed species: tests/test_solver_misses.py)
    (dict(species=[dict(id="S", conc=float("inf")), dict(id="P", conc=0.0)]),
     (R.INVALID_VALUE, "S")),
])
def test_reasons(changes: dict[str, Any], expected: tuple[R, str]) -> None:
    result = imported(build(**_one(**changes)))
    assert result.network is None and not result.importable
    assert (expected[0].value, expected[1]) in codes(result), result.reasons
    with pytest.raises(OutOfClassError):
        result.require()
    json.dumps(result.to_dict())


def test_fast_reaction_can_be_taken_as_ordinary() -> None:
    result = imported(build(**_one(reactions=law("k*S", fast=True), level=(3, 1))),
                      fast_as_ordinary=True)
    assert result.importable and any("fast" in w for w in result.warnings)


def test_variable_stoichiometry() -> None:
    doc = build(**_one(parameters={"k": 1.0, "h": 1.0}))
    ref = doc.getModel().getReaction("R").getReactant(0)
    ref.setId("sref")
    rule = doc.getModel().createAssignmentRule()
    rule.setVariable("sref")
    rule.setMath(libsbml.parseL3Formula("1 + S"))
    assert (R.VARIABLE_STOICHIOMETRY.value, "R") in codes(imported(doc))


@pytest.mark.parametrize("formula,stoichiometry", [("2*k", 1.0), ("1 + S", None)])
def test_level2_stoichiometry_math(formula: str, stoichiometry: float | None) -> None:
    doc = build(level=(2, 4), **_one(parameters={"k": 0.5}))
    ref = doc.getModel().getReaction("R").getProduct(0)
    ref.createStoichiometryMath().setMath(libsbml.parseL3Formula(formula))
    result = imported(doc)
    if stoichiometry is None:
        assert (R.VARIABLE_STOICHIOMETRY.value, "R") in codes(result)
        return
    net = result.require()
    assert net.reactions[0].products == (("P", stoichiometry),)
    against_roadrunner(net, text_of(doc))


def test_time_in_an_unused_rule_does_not_block() -> None:
    result = imported(build(**_one(parameters={"k": 1.0, "clock": None},
                                   assignment={"clock": "2*time"})))
    assert result.importable


def test_time_in_initial_assignment_is_zero() -> None:
    net = imported(build(**_one(initial={"S": "3 + time"}))).require()
    assert net.species_by_id()["S"].initial == 3.0


# ------------------------------------------------------------------ invalid SBML
@pytest.mark.parametrize("changes,element", [
    (dict(reactions=law("k*S*nothere")), "the kinetic law of R"),
    (dict(reactions=law("k*f(S)")), "the kinetic law of R"),
    (dict(parameters={"k": None, "a": None}, assignment={"k": "a + 1", "a": "2*k"}), None),
    (dict(initial={"S": "2*P", "P": "S + 1"}), None),
    (dict(functions={"f": "lambda(x, x + 1)"}, reactions=law("k*f(S, S)")),
     "the kinetic law of R"),
])
def test_invalid_sbml_raises_input_error(changes: dict[str, Any], element: str | None) -> None:
    with pytest.raises(InputError) as info:
        imported(build(**_one(**changes)))
    assert info.value.source == "hand.xml"
    assert info.value.element
    if element:
        assert info.value.element == element


def test_convenience_reads_paths_and_text(tmp_path: Path) -> None:
    text = text_of(build(**_one()))
    path = tmp_path / "one.xml"
    path.write_text(text)
    for source in (path, str(path), text):
        result = import_reaction_network_from(source)
        assert result.importable and result.network.state_ids == ("S", "P")
    with pytest.raises(InputError):
        import_reaction_network_from(tmp_path / "missing.xml")
    data = import_reaction_network_from(path).to_dict()
    assert json.loads(json.dumps(data))["families"] == {"R": "mass_action_1"}


# ------------------------------------------------------------------ real models
def _shipped() -> list[Path]:
    return sorted(p for p in SHIPPED.glob("*.xml"))


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.stem)
def test_shipped_models_match_roadrunner(path: Path) -> None:
    result = import_reaction_network_from(path)
    if not result.importable:  # events or explicit time: a reason, never an exception
        assert {r.code for r in result.reasons} <= {R.EVENTS, R.TIME_DEPENDENCE}
        return
    against_roadrunner(result.network, path.read_text())


@pytest.mark.skipif(not CURATED.is_dir(), reason="the curated BioModels corpus is not here")
@pytest.mark.parametrize("model_id", CURATED_IDS)
def test_curated_models_match_roadrunner(model_id: str) -> None:
    path = CURATED / f"{model_id}.xml"
    result = import_reaction_network_from(path)
    assert result.importable, result.reasons
    against_roadrunner(result.network, path.read_text())


# ------------------------------------------------------------------ scale
def chain(n: int) -> str:
    """S0 -> S1 -> ... -> Sn-1, Michaelis-Menten and mass-action laws alternating, one local
    parameter per reaction, an assignment rule and a function definition."""
    doc = build(species=[dict(id=f"S{i}", conc=1.0) for i in range(n)],
                parameters={"k": 0.5, "km": 2.0, "vm": None},
                functions={"mm": "lambda(v, s, K, v*s/(K + s))"}, assignment={"vm": "2*k"},
                reactions=[dict(id=f"R{i}", reactants=[(f"S{i}", 1)],
                                products=[(f"S{i + 1}", 1)] if i + 1 < n else [],
                                law=f"c*mm(vm, S{i}, km)" if i % 2 else f"c*kl*S{i}",
                                local={} if i % 2 else {"kl": 0.1 + i % 7})
                           for i in range(n)])
    return text_of(doc)


def test_import_is_linear_in_model_size() -> None:
    times = {}
    for n in (1_000, 10_000):
        text = chain(n)
        start = time.perf_counter()
        result = import_reaction_network_from(text, source_name=f"chain{n}")
        times[n] = time.perf_counter() - start
        assert result.importable and len(result.network.reactions) == n
        assert set(result.families.values()) == {"mass_action_1", "michaelis_menten"}
    assert times[10_000] < 30, f"10,000 reactions took {times[10_000]:.1f} s"
    assert times[10_000] / times[1_000] < 25, times  # linear: 10x; quadratic: 100x
    assert math.isfinite(times[1_000])
