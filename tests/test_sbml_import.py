"""SBML -> LIFE network: real-model features, out-of-class reasons, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import libsbml
import pytest

from sbmleq.errors import InputError, OutOfClassError
from sbmleq.core.network import Network
from sbmleq.io.reasons import ReasonCode
from sbmleq.io.sbml_import import ImportResult, ReactionReport, import_sbml

DATA = Path(__file__).parent / "data"

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">\n'
        '<model id="m" substanceUnits="mole" volumeUnits="litre">\n'
        '<listOfCompartments><compartment id="c" spatialDimensions="3" size="{volume}" '
        'constant="true"/></listOfCompartments>\n')
MATHML = '<math xmlns="http://www.w3.org/1998/Math/MathML">{}</math>'


def species(sid: str, *, boundary: bool = False, amount: bool = False, value: float = 1.0) -> str:
    init = f'initialAmount="{value}"' if amount else f'initialConcentration="{value}"'
    flag = "true" if boundary else "false"
    return (f'<species id="{sid}" compartment="c" {init} hasOnlySubstanceUnits='
            f'"{"true" if amount else "false"}" boundaryCondition="{flag}" constant="{flag}"/>')


def reaction(rid: str, reactants: dict[str, float], products: dict[str, float], law: str,
             local: str = "") -> str:
    def refs(tag: str, items: dict[str, float]) -> str:
        if not items:
            return ""
        inner = "".join(f'<speciesReference species="{s}" stoichiometry="{n}" constant="true"/>'
                        for s, n in items.items())
        return f"<listOf{tag}>{inner}</listOf{tag}>"

    math = libsbml.writeMathMLToString(libsbml.parseL3Formula(law))
    math = math[math.index("<math"):]
    locals_ = f"<listOfLocalParameters>{local}</listOfLocalParameters>" if local else ""
    return (f'<reaction id="{rid}" reversible="false">{refs("Reactants", reactants)}'
            f'{refs("Products", products)}<kineticLaw>{math}{locals_}</kineticLaw></reaction>')


def model(species_xml: list[str], reactions: list[str], params: dict[str, float] | None = None,
          extra: str = "", volume: float = 1.0) -> str:
    pars = "".join(f'<parameter id="{k}" value="{v}" constant="true"/>'
                   for k, v in (params or {}).items())
    return (HEAD.format(volume=volume) + f"<listOfSpecies>{''.join(species_xml)}</listOfSpecies>"
            + (f"<listOfParameters>{pars}</listOfParameters>" if pars else "") + extra
            + f"<listOfReactions>{''.join(reactions)}</listOfReactions></model></sbml>")


def two_species(law: str, reactants=None, products=None, params=None, extra="") -> str:
    return model([species("S1"), species("S2")],
                 [reaction("R1", {"S1": 1} if reactants is None else reactants,
                           {"S2": 1} if products is None else products, law)],
                 {"k": 0.3, "Vmax": 1.0, "Km": 0.5, **(params or {})}, extra)


# ------------------------------------------------------------------ the feature model
def test_feature_model_maps_every_feature() -> None:
    result = import_sbml(DATA / "features.xml", source_name="features.xml")
    assert result.in_class, result.reasons
    expected = Network.from_edges(
        [("A", "B", 0.3 + 0.1), ("B", "C", 0.5), ("C", "B", 0.2), ("D", "E", 0.3)],
        {"A": 1.0, "D": 0.6}, {"B": 0.6, "C": (0.3 + 0.1) / 2, "E": 0.3},
        nodes=["A", "B", "C", "D", "E"])
    assert result.network == expected
    report = {r.reaction_id: r for r in result.report}
    assert report["R_in"].as_ == "intake into A (1) from boundary species X_ext"
    assert report["R1"].as_ == "edge A->B k=0.3 (edge A->B summed with parallel R8: 0.4)"
    assert report["R2"].as_ == "reversible: edges B->C (k=0.5) and C->B (k=0.2)"
    assert report["R3"].as_ == "excretion of C (rate 0.2)"
    assert report["R5"].as_ == "intake into D (0.6)"
    assert any("parallel reactions R1, R8" in w for w in result.warnings)
    assert result.species_units["A"] == "concentration (mole/litre)"
    assert result.species_units["D"] == "amount (mole)"
    assert result.species_units["X_ext"] == "concentration (mole/litre)"


def test_feature_model_agrees_with_roadrunner() -> None:
    import roadrunner

    from sbmleq.core.exact import solve_equilibrium

    net = import_sbml(DATA / "features.xml", source_name="features.xml").require_in_class()
    rr = roadrunner.RoadRunner(str(DATA / "features.xml"))
    rr.conservedMoietyAnalysis = True
    rr.steadyState()
    amounts = dict(zip(rr.steadyStateSelections, rr.getSteadyStateValues()))
    exact = solve_equilibrium(net).as_dict()
    for node in "ABC":  # concentrations
        assert amounts[f"[{node}]"] == pytest.approx(exact[node], rel=1e-8)
    for node in "DE":  # amounts: roadrunner reports [D] = amount / volume (2)
        assert amounts[f"[{node}]"] * 2 == pytest.approx(exact[node], rel=1e-8)


def test_result_frame_and_dict() -> None:
    result = import_sbml(DATA / "features.xml", source_name="features.xml")
    frame = result.to_frame()
    assert list(frame.columns) == ["reaction_id", "mapped", "as", "reason", "law"]
    assert len(frame) == 9 and frame["mapped"].all()
    data = result.to_dict()
    assert data["in_class"] and data["network"]["nodes"] == ["A", "B", "C", "D", "E"]
    assert data["report"][0]["as"].startswith("intake into A")


# ------------------------------------------------------------------ volumes and units
def test_amount_vs_concentration_with_volume() -> None:
    # S1 concentration, S2 amount, both in c of volume 2: law k*S1*c moves k*S1*2 amount/time.
    conc = model([species("S1"), species("S2", amount=True)],
                 [reaction("R1", {"S1": 1}, {}, "k * S1 * c"),
                  reaction("R2", {"S2": 1}, {}, "k * S2 * c")], {"k": 0.3}, volume=2.0)
    result = import_sbml(conc, source_name="conc")
    net = result.require_in_class()
    assert list(net.excretion) == [0.3, 0.3 * 2.0]  # conc: k ; amount: k * V
    assert result.species_units == {"S1": "concentration (mole/litre)", "S2": "amount (mole)"}
    amounts = model([species("S1", amount=True), species("S2", amount=True)],
                    [reaction("R1", {"S1": 1}, {"S2": 1}, "k * S1"),
                     reaction("R2", {"S2": 1}, {}, "k * S2")], {"k": 0.3}, volume=2.0)
    result = import_sbml(amounts, source_name="amounts")
    assert result.network == Network.from_edges([("S1", "S2", 0.3)], {}, {"S2": 0.3})
    assert result.species_units == {"S1": "amount (mole)", "S2": "amount (mole)"}


def test_law_without_volume_is_divided_by_it() -> None:
    text = model([species("S1"), species("S2")],
                 [reaction("R1", {"S1": 1}, {"S2": 1}, "k * S1"),
                  reaction("R2", {"S2": 1}, {}, "k * S2 * c")], {"k": 0.3}, volume=4.0)
    net = import_sbml(text, source_name="novol").require_in_class()
    assert net.weight.tolist() == [0.3 / 4.0] and net.excretion.tolist() == [0.0, 0.3]


def test_different_volumes_out_of_class() -> None:
    text = (HEAD.format(volume=1.0).replace(
        "</listOfCompartments>",
        '<compartment id="d" spatialDimensions="3" size="3" constant="true"/></listOfCompartments>')
        + '<listOfSpecies>' + species("S1")
        + species("S2").replace('compartment="c"', 'compartment="d"') + "</listOfSpecies>"
        + '<listOfParameters><parameter id="k" value="1" constant="true"/></listOfParameters>'
        + "<listOfReactions>" + reaction("T", {"S1": 1}, {"S2": 1}, "k * S1 * c")
        + "</listOfReactions></model></sbml>")
    result = import_sbml(text, source_name="two_compartments")
    assert not result.in_class and result.reasons[0].code == ReasonCode.VOLUME_MISMATCH
    assert "outflow of S1 and the inflow to S2 differ" in str(result.reasons[0])


# ------------------------------------------------------------------ mapped shapes
def test_boundary_species_source_and_sink() -> None:
    text = model([species("B", boundary=True, value=2.0), species("S"),
                  species("W", boundary=True, value=0.0)],
                 [reaction("In", {"B": 1}, {"S": 1}, "k * B * c"),
                  reaction("Out", {"S": 1}, {"W": 1}, "k * S * c")], {"k": 0.25})
    result = import_sbml(text, source_name="boundary")
    assert result.network == Network.from_edges([], {"S": 0.5}, {"S": 0.25}, nodes=["S"])
    assert result.report[1].as_ == "excretion of S (rate 0.25)"


def test_reversible_source_sink() -> None:
    text = model([species("S")], [reaction("R", {}, {"S": 1}, "c * (v0 - k * S)")],
                 {"v0": 2.0, "k": 0.5})
    result = import_sbml(text, source_name="rev_source")
    assert result.network == Network.from_edges([], {"S": 2.0}, {"S": 0.5})
    assert result.report[0].as_ == "intake into S (2); excretion of S (rate 0.5)"


def test_local_parameter_shadows_global() -> None:
    text = two_species("k * S1", params={"k": 99.0}).replace(
        "</math></kineticLaw>",
        '</math><listOfLocalParameters><localParameter id="k" value="0.7"/>'
        "</listOfLocalParameters></kineticLaw>")
    assert import_sbml(text, source_name="local").network.weight.tolist() == [0.7]


def test_hill_exponent_one_is_first_order() -> None:
    text = two_species("k * S1^n", params={"n": 1.0})
    assert import_sbml(text, source_name="n1").network.weight.tolist() == [0.3]


# ------------------------------------------------------------------ out of class
@pytest.mark.parametrize("law, reactants, products, code, reason", [
    ("Vmax * S1 / (Km + S1)", None, None, "not_first_order",
     "R1: kinetic law Vmax * S1 / (Km + S1) is not first-order in S1"),
    ("k * S1", {"S1": 2}, None, "stoichiometry_not_one", "R1: stoichiometry of S1 is 2, not 1"),
    ("k * S1 * S2", {"S1": 1, "S2": 1}, {}, "multi_reactant", "R1: has 2 reactants (S1, S2)"),
    ("k * S1", {"S1": 1}, {"S2": 1, "S3": 1}, "multi_product", "R1: has 2 products"),
    ("k * S1 * time", None, None, "time_dependence", "depends on time"),
    ("k * S1 * S3", None, None, "modifier", "depends on S3, which the reaction does not convert"),
    ("k * delay(S1, 2)", None, None, "delay", "R1: uses delay()"),
    ("k", None, None, "zero_order_transfer", "a zero-order flux between two species"),
    ("k * S1", {}, {"S1": 1}, "negative_rate",
     "R1: kinetic law k * S1 makes S1 grow in proportion to itself"),
    ("k", {"S1": 1}, {}, "negative_rate", "R1: kinetic law k drains S1 at a constant rate"),
    ("-k * S1", None, None, "negative_rate", "gives a negative rate constant for S1->S2"),
])
def test_reaction_out_of_class(law, reactants, products, code, reason) -> None:
    text = model([species("S1"), species("S2"), species("S3")],
                 [reaction("R1", {"S1": 1} if reactants is None else reactants,
                           {"S2": 1} if products is None else products, law),
                  reaction("R2", {"S3": 1}, {}, "k * S3 * c")],
                 {"k": 0.3, "Vmax": 1.0, "Km": 0.5})
    result = import_sbml(text, source_name="ooc.xml")
    assert not result.in_class and result.network is None
    first = result.reasons[0]
    assert first.code == ReasonCode(code) and first.reaction == first.element == "R1"
    assert reason in str(first)
    assert not result.report[0].mapped and reason in result.report[0].reason
    assert result.report[0].code == code
    assert result.report[1].mapped  # other reactions are still described
    with pytest.raises(OutOfClassError, match="ooc.xml: outside the LIFE class") as info:
        result.require_in_class()
    assert info.value.exit_code == 3


def test_michaelis_menten_function_definition_reason() -> None:
    fd = ('<listOfFunctionDefinitions><functionDefinition id="MM">' + MATHML.format(
        "<lambda><bvar><ci>V</ci></bvar><bvar><ci>K</ci></bvar><bvar><ci>S</ci></bvar>"
        "<apply><divide/><apply><times/><ci>V</ci><ci>S</ci></apply>"
        "<apply><plus/><ci>K</ci><ci>S</ci></apply></apply></lambda>")
        + "</functionDefinition></listOfFunctionDefinitions>")
    text = two_species("MM(Vmax, Km, S1)").replace("<listOfCompartments>", fd + "<listOfCompartments>")
    result = import_sbml(text, source_name="mm")
    assert [str(r) for r in result.reasons] == [
        "R1: kinetic law MM(Vmax, Km, S1) is not first-order in S1"]
    assert [r.code for r in result.reasons] == [ReasonCode.NOT_FIRST_ORDER]


@pytest.mark.parametrize("extra, code, reason", [
    ('<listOfEvents><event id="ev" useValuesFromTriggerTime="true"><trigger initialValue="true" '
     'persistent="true">' + MATHML.format("<apply><gt/><csymbol encoding=\"text\" definitionURL="
                                          "\"http://www.sbml.org/sbml/symbols/time\">t</csymbol>"
                                          "<cn>1</cn></apply>")
     + '</trigger><listOfEventAssignments><eventAssignment variable="k">' + MATHML.format("<cn>1</cn>")
     + "</eventAssignment></listOfEventAssignments></event></listOfEvents>",
     "events", "the model has 1 event(s) (ev)"),
    ('<listOfRules><rateRule variable="S3">' + MATHML.format("<cn>1</cn>") + "</rateRule></listOfRules>",
     "rate_rule", "species S3 is governed by a rate rule"),
    ('<listOfRules><algebraicRule>' + MATHML.format("<apply><minus/><ci>S3</ci><cn>1</cn></apply>")
     + "</algebraicRule></listOfRules>", "algebraic_rule", "algebraic rule"),
])
def test_model_out_of_class(extra: str, code: str, reason: str) -> None:
    text = model([species("S1"), species("S2"), species("S3")],
                 [reaction("R1", {"S1": 1}, {"S2": 1}, "k * S1")],
                 {"k": 0.3}, extra.replace('constant="true"', ""))
    text = text.replace('<parameter id="k" value="0.3" constant="true"/>',
                        '<parameter id="k" value="0.3" constant="false"/>')
    result = import_sbml(text, source_name="model_ooc")
    assert not result.in_class
    assert any(r.code == ReasonCode(code) and reason in str(r) for r in result.reasons), result.reasons


def test_parameter_changed_by_rate_rule_is_out_of_class() -> None:
    text = two_species("k * S1").replace('<parameter id="k" value="0.3" constant="true"/>',
                                         '<parameter id="k" value="0.3" constant="false"/>')
    text = text.replace("<listOfReactions>", '<listOfRules><rateRule variable="k">'
                        + MATHML.format("<cn>1</cn>") + "</rateRule></listOfRules><listOfReactions>")
    result = import_sbml(text, source_name="rr")
    assert [str(r) for r in result.reasons] == ["R1: k changes in time (a rate rule)"]
    assert [r.code for r in result.reasons] == [ReasonCode.TIME_VARYING_PARAMETER]


# ------------------------------------------------------------------ bad inputs
def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def expect_input_error(path: Path, *fragments: str) -> InputError:
    with pytest.raises(InputError) as info:
        import_sbml(path, source_name=path.name)
    message = str(info.value)
    assert message.startswith(path.name), message
    for fragment in fragments:
        assert fragment in message, message
    assert info.value.exit_code == 2 and info.value.element
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.xml"
    with pytest.raises(InputError, match="file not found") as info:
        import_sbml(path, source_name="absent.xml")
    assert "absent.xml" in str(info.value) and info.value.element == str(path.absolute())


def test_malformed_xml(tmp_path: Path) -> None:
    text = two_species("k * S1").replace("</listOfSpecies>", "</listOfSpeciez>")
    error = expect_input_error(write(tmp_path, "broken.xml", text), "malformed XML", "line ")
    assert error.element.startswith("line ")


def test_xml_that_is_not_sbml(tmp_path: Path) -> None:
    expect_input_error(write(tmp_path, "notes.xml", '<?xml version="1.0"?><notes><p>hi</p></notes>'),
                       "not an SBML document", "<notes>")


def test_sbml_with_read_errors(tmp_path: Path) -> None:
    text = two_species("k * S1").replace(' hasOnlySubstanceUnits="false"', "", 1)
    expect_input_error(write(tmp_path, "invalid.xml", text), "invalid SBML", "hasOnlySubstanceUnits")


def test_empty_model(tmp_path: Path) -> None:
    text = HEAD.format(volume=1.0) + "</model></sbml>"
    expect_input_error(write(tmp_path, "empty.xml", text), "the model has no species", "model m")


def test_nan_parameter(tmp_path: Path) -> None:
    error = expect_input_error(write(tmp_path, "nan.xml", two_species("k * S1", params={"k": "NaN"})),
                               ": k: value must be finite")
    assert error.element == "k"


def test_negative_parameter(tmp_path: Path) -> None:
    text = two_species("k * S1 * c", params={"k": -0.5})
    error = expect_input_error(write(tmp_path, "neg.xml", text), ": k: parameter value must be >= 0",
                               "-0.5", "R1")
    assert error.element == "k"


def test_reaction_report_dict() -> None:
    entry = ReactionReport("R1", False, "", "R1: why", "k*S", "modifier")
    assert entry.to_dict() == {"reaction_id": "R1", "mapped": False, "as": "", "reason": "R1: why",
                               "law": "k*S", "code": "modifier"}
    assert isinstance(import_sbml(DATA / "features.xml", source_name="f"), ImportResult)


# ------------------------------------------------------------------ invalid SBML (exit code 2, not 3)
RULE = '<listOfRules><assignmentRule variable="{var}">{math}</assignmentRule></listOfRules>'


def _with_rule(law: str, var: str, body: str, used: bool = True) -> str:
    text = two_species(law, params={"p": 1.0},
                       extra=RULE.format(var=var, math=MATHML.format(body)))
    return text.replace('<parameter id="p" value="1.0" constant="true"/>',
                        '<parameter id="p" value="1.0" constant="false"/>')


INVALID = {
    "undefined reactant": (model([species("S1")], [reaction("R1", {"X": 1}, {"S1": 1}, "k*S1")],
                                 {"k": 1.0}), "R1", "refers to the undefined species X"),
    "undefined product": (model([species("S1")], [reaction("R1", {"S1": 1}, {"X": 1}, "k*S1")],
                                {"k": 1.0}), "R1", "refers to the undefined species X"),
    "undefined modifier": (two_species("k * S1").replace(
        "</listOfProducts>", '</listOfProducts><listOfModifiers><modifierSpeciesReference '
        'species="E"/></listOfModifiers>'), "R1", "undefined species E (a modifier)"),
    "undefined symbol in the law": (two_species("kk * S1"), "R1",
                                    "the kinetic law of R1 uses the undefined symbol kk"),
    "undefined symbol after an out-of-class construct": (
        two_species("k * S1 * S1 + kk"), "R1", "uses the undefined symbol kk"),
    "undefined symbol in an out-of-class reaction": (
        two_species("kk * S1", reactants={"S1": 2}), "R1", "uses the undefined symbol kk"),
    "undefined function": (two_species("f(S1)"), "R1",
                           "the kinetic law of R1 calls the undefined function f"),
    "undefined symbol in a rule the law uses": (_with_rule("k * S1 * p", "p", "<ci>zz</ci>"), "p",
                                                "the assignment rule of p uses the undefined symbol zz"),
    "undefined symbol in an unused rule": (_with_rule("k * S1", "p", "<ci>zz</ci>"), "p",
                                           "uses the undefined symbol zz"),
    "rule for an undefined id": (_with_rule("k * S1", "zz", "<cn>1</cn>"), "zz",
                                 "the assignment rule of zz sets an undefined id"),
    "species in an undefined compartment": (
        model([species("S1").replace('compartment="c"', 'compartment="d"')],
              [reaction("R1", {"S1": 1}, {}, "k*S1")], {"k": 1.0}), "S1",
        "species S1 lives in the undefined compartment d"),
    "duplicate species ids": (model([species("S1"), species("S1")],
                                    [reaction("R1", {"S1": 1}, {}, "k*S1")], {"k": 1.0}),
                              "line ", "The <species> id 'S1' conflicts"),
    "parameter with a species id": (model([species("S1"), species("k")],
                                          [reaction("R1", {"S1": 1}, {}, "k*S1")], {"k": 1.0}),
                                    "line ", "The <parameter> id 'k' conflicts"),
    "reaction with a parameter id": (model([species("S1")], [reaction("k", {"S1": 1}, {}, "k*S1")],
                                           {"k": 1.0}), "line ", "The <reaction> id 'k' conflicts"),
    "duplicate reaction ids": (model([species("S1")], [reaction("R1", {"S1": 1}, {}, "k*S1"),
                                                       reaction("R1", {"S1": 1}, {}, "k*S1")],
                                     {"k": 1.0}), "line ", "The <reaction> id 'R1' conflicts"),
    "duplicate local parameters": (two_species("k * S1").replace(
        "</math></kineticLaw>", '</math><listOfLocalParameters><localParameter id="q" value="1"/>'
        '<localParameter id="q" value="2"/></listOfLocalParameters></kineticLaw>'),
        "line ", "The <localParameter> id 'q' conflicts"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_sbml_is_an_input_error(tmp_path: Path, case: str) -> None:
    text, element, fragment = INVALID[case]
    error = expect_input_error(write(tmp_path, "invalid.xml", text), "invalid SBML", fragment)
    assert error.element.startswith(element), error.element


def test_wrong_number_of_arguments_is_an_input_error(tmp_path: Path) -> None:
    fd = ('<listOfFunctionDefinitions><functionDefinition id="f">' + MATHML.format(
        "<lambda><bvar><ci>x</ci></bvar><ci>x</ci></lambda>")
        + "</functionDefinition></listOfFunctionDefinitions>")
    text = two_species("k * f(S1, S2)").replace("<listOfCompartments>", fd + "<listOfCompartments>")
    expect_input_error(write(tmp_path, "args.xml", text), "calls f with 2 arguments, not 1")


def test_species_reference_id_in_math_is_valid_but_out_of_class() -> None:
    text = two_species("k * S1 * sr").replace(
        '<speciesReference species="S2"', '<speciesReference id="sr" species="S2"')
    result = import_sbml(text, source_name="sr")
    assert not result.in_class
    assert result.reasons[0].code == ReasonCode.UNSUPPORTED_MATH
    assert "species reference sr" in str(result.reasons[0])


def test_rate_of_a_reaction_in_math_stays_out_of_class() -> None:
    result = import_sbml(two_species("k * S1 * R1"), source_name="rate")
    assert not result.in_class and "uses the rate of reaction R1" in str(result.reasons[0])


# ------------------------------------------------------------------ fast walker == sympy walker
SHIPPED = sorted((Path(__file__).parents[1] / "sbmleq" / "data" / "biomodels").glob("*.xml"))


def _summary(result: ImportResult) -> tuple:
    net = result.network
    arrays = None if net is None else (net.nodes, net.src.tolist(), net.dst.tolist(),
                                       [x.hex() for x in net.weight.tolist()],
                                       [x.hex() for x in net.intake.tolist()],
                                       [x.hex() for x in net.excretion.tolist()])
    return (result.in_class, [str(r) for r in result.reasons], [r.code for r in result.reasons],
            [(e.reaction_id, e.mapped, e.as_, e.reason, e.code) for e in result.report],
            result.warnings, arrays)


def _forced_sympy(monkeypatch) -> None:
    from sbmleq.io import sbml_import
    from sbmleq.io.lin import Opaque

    def opaque(*args, **kwargs):
        raise Opaque("forced")

    monkeypatch.setattr(sbml_import._Importer, "_decide_fast", opaque)
    monkeypatch.setattr(sbml_import._Importer, "_screen_opaque", lambda *a, **k: None)


@pytest.mark.parametrize("path", SHIPPED + sorted(DATA.glob("*.xml")), ids=lambda p: p.stem)
def test_fast_walker_agrees_with_sympy(path: Path, monkeypatch) -> None:
    """Every result (reasons, reports, networks bit for bit) is what the sympy walker gives."""
    fast = _summary(import_sbml(path, source_name=path.name))
    _forced_sympy(monkeypatch)
    assert _summary(import_sbml(path, source_name=path.name)) == fast


_LAWS = ["k * S1", "k * S1 * c", "c * (kf * S1 - kr * S2)", "k * S1 / c", "2 * k * S1 / 3",
         "(k + kf) * S1 * c / 2.5", "k * S1 * c^2 / c", "S1 * k / 7 + S2 * kr * 3", "k * S1 * S1 / S1",
         "kf * S1 - kr * S2 + 0 * S1^2", "k^2 * S1 * 1e-3", "k * (S1 + S2) - k * S2",
         "k * S1^2", "k * S1 * S2", "k / S1", "k * S1^0.5", "k * S1 * c * c", "exp(-kf) * S1",
         "k * S1 * pi", "-(kr - kf) * S1", "k * S1 * 1/3 * c", "k * S1 * 0.1 * 0.2 * 0.7"]


@pytest.mark.parametrize("law", _LAWS)
@pytest.mark.parametrize("volume", [1.0, 2.5, 3.0, 1 / 7])
def test_fast_walker_agrees_with_sympy_on_laws(law: str, volume: float, monkeypatch) -> None:
    text = model([species("S1"), species("S2", amount=volume == 3.0)],
                 [reaction("R1", {"S1": 1}, {"S2": 1}, law), reaction("R2", {"S2": 1}, {}, law.replace("S1", "S2")),
                  reaction("R3", {}, {"S1": 1}, "kf * c")],
                 {"k": 0.3, "kf": 0.7, "kr": 0.11}, volume=volume)
    fast = _summary(import_sbml(text, source_name="law"))
    _forced_sympy(monkeypatch)
    assert _summary(import_sbml(text, source_name="law")) == fast


def test_common_path_does_not_import_sympy() -> None:
    import subprocess
    import sys

    code = ("import sys; from sbmleq.io.loader import load; "
            "r = load('examples/branched_pathway.xml'); assert r.in_class; "
            "r = load('sbmleq/data/biomodels/BIOMD0000000057.xml'); "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "False", out.stdout + out.stderr


_NONLINEAR = ["Vm * S1 / (Km + S1)", "Vm * S1^h / (Km^h + S1^h)", "k * S1 / (1 + S2 / Ki)",
              "k * S1 * S2 / (Km + S1)", "k * S1 / (Km + S1) - kr * S2 / (Km + S2)",
              "k * S1 / (1 + M / Ki)", "k * (S1 / (Km + S1)) * c"]


@pytest.mark.parametrize("law", _NONLINEAR)
def test_screen_before_sympy_agrees_with_sympy(law: str, monkeypatch) -> None:
    """Rational laws (the fast walker's Opaque) are decided by the expression-tree screen with
    the same reasons as the sympy walker (M: a modifier species)."""
    text = model([species("S1"), species("S2"), species("M")],
                 [reaction("R1", {"S1": 1}, {"S2": 1}, law), reaction("R3", {}, {"S1": 1}, "k"),
                  reaction("R4", {"M": 1}, {}, "k * M")],
                 {"k": 0.3, "Vm": 2.0, "Km": 0.5, "h": 2.0, "Ki": 0.2, "kr": 0.1}, volume=2.0)
    screened = _summary(import_sbml(text, source_name="law"))
    assert not screened[0] and screened[2][0] in ("not_first_order", "modifier")
    _forced_sympy(monkeypatch)
    assert _summary(import_sbml(text, source_name="law")) == screened


def test_michaelis_menten_out_of_class_without_sympy() -> None:
    """A model outside the LIFE class for a rational law is decided without importing sympy
    (1.5-2 s of a cold start)"""
    import subprocess
    import sys

    text = model([species("S1"), species("S2")],
                 [reaction("R1", {"S1": 1}, {"S2": 1}, "Vm * S1 / (Km + S1)"),
                  reaction("R2", {}, {"S1": 1}, "k")], {"k": 1.0, "Vm": 2.0, "Km": 0.5})
    code = ("import sys; from sbmleq.io.sbml_import import import_sbml; "
            "r = import_sbml(sys.stdin.read(), source_name='mm'); "
            "print(r.in_class, r.reasons[0].code.value, 'sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True,
                         text=True, check=True, cwd=Path(__file__).parents[1])
    assert out.stdout.split() == ["False", "not_first_order", "False"], out.stdout + out.stderr


def test_exact_cancellation_in_the_fast_walker() -> None:
    # S1 * (1 - (c0 - S1) / S1) = S1 - c0 + S1: affine, although it is not term by term.
    text = two_species("k * S1 * (1 - (q - S1) / S1) * c", reactants={"S1": 1}, products={},
                       params={"q": 0.5})
    net = import_sbml(text, source_name="cancel").require_in_class()
    assert net.excretion.tolist() == [0.6, 0.0] and net.intake.tolist() == [0.15, 0.0]
