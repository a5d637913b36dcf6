"""ReactionNetwork -> SBML L3V2: valid, full precision, roadrunner's rates equal the compiled
right-hand side, and the general importer reads back the same network."""

import dataclasses
import json
import struct
from importlib import resources

import libsbml
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbmleq.core.compile import compile_network
from sbmleq.core.expr import (Expr, Num, Op, Sym, add, call, div, mul, power, sym,
                              walk_preorder)
from sbmleq.core.generators import GeneratorConfig, generate
from sbmleq.core.life_bridge import life_from_reaction_network, reaction_network_from_life
from sbmleq.core.network import Network
from sbmleq.core.reactions import RateRule, Reaction, ReactionNetwork, Species
from sbmleq.errors import InputError
from sbmleq.io.general_import import import_reaction_network_from
from sbmleq.io.reaction_export import (ExportIds, reaction_network_to_document,
                                       reaction_network_to_sbml)


# ------------------------------------------------------------------ networks
def rich() -> ReactionNetwork:
    """Two compartments, amounts and concentrations, boundary/constant species, local
    parameters (one clashing with a global name, one read by two laws), rate rules on a
    parameter and a species, every operator, extreme values."""
    S, T, A, Q, G = sym("S"), sym("T"), sym("A"), sym("Q"), sym("glucose 6-P")
    species = (Species("S", "cyt", 2.0, name="substrate"), Species("T", "cyt", 0.1 + 0.2),
               Species("A", "nuc", 3.5, amount=True), Species("B", "nuc", 1.25, boundary=True),
               Species("K", "cyt", 5e-324, constant=True), Species("Q", "nuc", 0.5, amount=True),
               Species("glucose 6-P", "cyt", 1.0), Species("R", "nuc", 0.75))
    params = {"Km": 0.5, "Vmax": 1 / 3, "r1.Km": 0.25, "r1.k": 2.0, "r2.k": 1.5, "n": 2.0,
              "neg": -2.5, "tiny": 5e-324, "big": 1e300, "z": 0.0, "w": 1e-300}
    reactions = (
        Reaction("r1", (("S", 1.0),), (("T", 2.0),),
                 div(mul("cyt", "Vmax", S, "r1.k"), add("Km", "r1.Km", S)), name="MM"),
        Reaction("r2", (("T", 0.5),), (("A", 1.0),),
                 mul("r2.k", power(T, "n"), power(add(1.0, power(T, "n")), -1.0), "w"), ("B",),
                 True),
        Reaction("r3", (("A", 1.0), ("S", 1.0)), (("B", 1.0),),
                 mul("r2.k", A, call("piecewise", S, call("lt", S, 1.0), mul(0.5, S))), ("K",)),
        Reaction("r4", (), (("S", 1.0),), add(
            call("exp", mul(-1.0, T)), call("ln", add(1.0, S)), call("log10", add(2.0, T)),
            call("abs", "neg"), call("ceil", T), call("sin", S), call("cos", S),
            call("tan", mul(0.1, S)), call("sinh", mul(0.1, T)), call("cosh", mul(0.1, T)),
            call("tanh", T), call("arcsin", mul(0.1, T)), call("arccos", mul(0.1, T)),
            call("arctan", S), call("min", S, T, 1.5), call("max", S, T, 0.1),
            call("floor", mul(1.5, S)), mul("tiny", "big"))),
        Reaction("r5", (("glucose 6-P", 1.0),), (), mul(G, add(
            call("lt", S, 1.0),  # a relation used as a number
            call("piecewise", 2.0, call("and", call("gt", S, 0.0), call(
                "or", call("le", T, 0.0), call("ge", S, 1.0)), call("not", call("eq", S, 3.0))),
                1.0),
            call("piecewise", 1.0, call("xor", call("ne", S, T), S), 0.0)))),  # S as a condition
    )
    rules = (RateRule("z", mul(-0.5, "z")), RateRule("Q", add(1.0, mul(-1.0, Q))),
             RateRule("R", mul(-1.0, "n", sym("R"))))
    return ReactionNetwork(species, reactions, params, {"cyt": 0.1 + 0.2, "nuc": 2.5}, rules,
                           name="rich model")


def life_networks() -> list[ReactionNetwork]:
    cfg = GeneratorConfig(n_min=3, n_max=15, weights="loguniform", decades=8, intakes=(1, 2),
                          excretions=(1, 2))
    nets = generate(cfg, 4, seed=5)
    rng = np.random.default_rng(0)
    return [reaction_network_from_life(n, rng.uniform(0, 3, n.n_nodes)) for n in nets]


def kegg(count: int) -> list[Network]:
    data = json.loads(resources.files("sbmleq").joinpath("data/kegg51.json").read_text())
    return [Network.from_edges([tuple(e) for e in rec["edges"]],
                               {int(k): v for k, v in rec["intake"].items()},
                               {int(k): v for k, v in rec["excretion"].items()},
                               nodes=list(range(rec["n_nodes"])), name=rec["title"])
            for rec in data["networks"][:count]]


# ------------------------------------------------------------------ comparisons
def fkey(x: float) -> bytes:
    return struct.pack("<d", x)


def rename_expr(e: Expr, name) -> Expr:
    if isinstance(e, Sym):
        return Sym(name(e.name))
    if isinstance(e, Op):
        return Op(e.op, tuple(rename_expr(a, name) for a in e.args))
    return e


def as_exported(rn: ReactionNetwork, ids: ExportIds) -> ReactionNetwork:
    """``rn`` with the ids the export gave it and the modifiers it completed; no families."""
    local = {p: f"{r}.{lid}" for p, (r, lid) in ids.local_ids.items()}

    def name(x: str) -> str:
        return local.get(x, ids.global_ids.get(x, x))

    species = tuple(dataclasses.replace(s, id=name(s.id), compartment=name(s.compartment))
                    for s in rn.species)
    reactions = []
    for r in rn.reactions:
        listed = {s for s, _ in (*r.reactants, *r.products)} | set(r.modifiers)
        extra = [s.id for s in rn.species if s.id not in listed
                 and s.id in {x.name for x in walk_preorder(r.rate) if isinstance(x, Sym)}]
        reactions.append(dataclasses.replace(
            r, id=name(r.id), reactants=tuple((name(s), float(v)) for s, v in r.reactants),
            products=tuple((name(s), float(v)) for s, v in r.products),
            modifiers=tuple(map(name, (*r.modifiers, *extra))), rate=rename_expr(r.rate, name),
            family=""))
    rules = tuple(RateRule(name(x.variable), rename_expr(x.rate, name)) for x in rn.rate_rules)
    return ReactionNetwork(species, tuple(reactions), {name(p): v for p, v in rn.parameters.items()},
                           {name(c): v for c, v in rn.compartments.items()}, rules, name=rn.name)


def key(rn: ReactionNetwork, laws: bool = True):
    return (sorted((c, fkey(v)) for c, v in rn.compartments.items()),
            [(s.id, s.compartment, fkey(s.initial), s.amount, s.boundary, s.constant, s.name)
             for s in rn.species],
            sorted((p, fkey(v)) for p, v in rn.parameters.items()),
            [(r.id, r.reactants, r.products, r.modifiers, r.reversible, r.name,
              r.rate if laws else None) for r in rn.reactions],
            [(x.variable, x.rate if laws else None) for x in rn.rate_rules])


def imported(text: str) -> ReactionNetwork:
    result = import_reaction_network_from(text, source_name="exported")
    assert result.reasons == [] and result.network is not None
    return result.network


def roadrunner_rhs(text: str, rn: ReactionNetwork, ids: ExportIds) -> np.ndarray:
    """roadrunner's initial rates of change, in each state variable's declared unit."""
    import roadrunner  # compiles the model with LLVM

    rr = roadrunner.RoadRunner(text)
    rates = rr.getRatesOfChangeNamedArray()
    by_id = dict(zip((str(c)[:-1] for c in rates.colnames), np.asarray(rates)[0]))
    species = rn.species_by_id()
    out = []
    for x in rn.state_ids:  # roadrunner reports species in amounts
        s = species.get(x)
        volume = rn.compartments[s.compartment] if s is not None and not s.amount else 1.0
        out.append(by_id[ids.global_ids[x]] / volume)
    return np.array(out)


# ------------------------------------------------------------------ tests
def test_export_is_valid_sbml_l3v2():
    for rn in [rich(), *life_networks()[:1]]:
        doc = libsbml.readSBMLFromString(reaction_network_to_sbml(rn))
        assert (doc.getLevel(), doc.getVersion()) == (3, 2)
        doc.checkConsistency()
        errors = [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
                  if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
        assert errors == []


@pytest.mark.parametrize("which", ["rich", "life", "kegg"])
def test_roadrunner_initial_rates_equal_the_compiled_rhs(which):
    if which == "rich":
        nets = [rich()]
    elif which == "life":
        nets = life_networks()
    else:
        rng = np.random.default_rng(1)
        nets = [reaction_network_from_life(n, rng.uniform(0, 2, n.n_nodes)) for n in kegg(3)]
    for rn in nets:
        doc, ids = reaction_network_to_document(rn)
        text = reaction_network_to_sbml(rn)
        cn = compile_network(rn)
        expected = cn.rhs(cn.x0)
        np.testing.assert_allclose(roadrunner_rhs(text, rn, ids), expected, rtol=1e-12,
                                   atol=1e-12 * np.abs(expected).max())


def test_life_networks_import_back_exactly():
    for rn in life_networks():
        doc, ids = reaction_network_to_document(rn)
        assert all(k == v for k, v in ids.global_ids.items())  # valid SIds are kept
        back = imported(reaction_network_to_sbml(rn))
        assert key(back) == key(as_exported(rn, ids))
        assert [r.family for r in back.reactions] == [r.family for r in rn.reactions]
        assert life_from_reaction_network(back) == life_from_reaction_network(rn)
    for net in kegg(5):  # node ids 0, 1, ... are no SIds: mapped, dynamics unchanged
        rn = reaction_network_from_life(net)
        back = life_from_reaction_network(imported(reaction_network_to_sbml(rn)))
        assert back.nodes == tuple(f"_{k}" for k in range(net.n_nodes))
        for a in ("src", "dst", "weight", "intake", "excretion"):
            assert getattr(back, a).tobytes() == getattr(net, a).tobytes(), net.name


def test_rich_network_imports_back():
    rn = rich()
    doc, ids = reaction_network_to_document(rn)
    assert ids.global_ids["glucose 6-P"] == "glucose_6_P"
    assert ids.local_ids == {"r1.Km": ("r1", "Km_2"), "r1.k": ("r1", "k")}
    assert "r2.k" not in ids.local_ids and ids.global_ids["r2.k"] == "r2_k"  # read by r3 too
    expected = as_exported(rn, ids)
    back = imported(reaction_network_to_sbml(rn))
    assert key(back, laws=False) == key(expected, laws=False)
    for a, b in zip(back.reactions[:3], expected.reactions[:3]):
        assert a.rate == b.rate, a.id  # tree for tree
    assert [x.rate for x in back.rate_rules] == [x.rate for x in expected.rate_rules]
    # r4 (log10 read back as ln(x)/ln(10)) and r5 (typed wrappers) agree in value
    cb, ce = compile_network(back), compile_network(expected)
    x = np.random.default_rng(2).uniform(0.05, 3, size=(20, cb.n_state))
    x[:5, :2] = [[0.5, 0.2], [1.0, 0.0], [3.0, 1.0], [0.0, 0.0], [2.0, 2.0]]  # branch edges
    np.testing.assert_allclose(cb.rhs(x), ce.rhs(x), rtol=1e-14)


def test_every_double_at_full_precision():
    rn = rich()
    text = reaction_network_to_sbml(rn)
    assert 'size="0.30000000000000004"' in text and 'value="0.3333333333333333"' in text
    assert 'initialConcentration="0.30000000000000004"' in text
    assert 'stoichiometry="0.5"' in text and "<cn> 1e-300 </cn>" not in text
    doc = libsbml.readSBMLFromString(text)  # keep the document: the model lives in it
    model = doc.getModel()
    assert model.getParameter("Vmax").getValue() == 1 / 3
    assert model.getParameter("w").getValue() == 1e-300
    # subnormals travel as initial assignments (libsbml cannot read them as attributes)
    assigned = {a.getSymbol(): a.getMath().getValue() for a in model.getListOfInitialAssignments()}
    assert assigned == {"K": 5e-324, "tiny": 5e-324}
    law = Reaction("r", (("S", 1.0),), (), mul(0.1 + 0.2, -1 / 7, 1e-300, 2.0 ** 40, "S"))
    small = ReactionNetwork((Species("S", "c", 1.0),), (law,), {}, {"c": 1.0})
    doc = libsbml.readSBMLFromString(reaction_network_to_sbml(small))
    math_ = doc.getModel().getReaction(0).getKineticLaw().getMath()
    assert math_.getChild(0).getValue() == (0.1 + 0.2) * (-1 / 7) * 1e-300 * 2.0 ** 40


def test_deep_laws_export_without_recursion():
    deep: Expr = sym("S")
    for _ in range(2000):
        deep = Op("tanh", (deep,))
    rn = ReactionNetwork((Species("S", "c", 1.0),), (Reaction("r", (("S", 1.0),), (), deep),),
                         {}, {"c": 1.0})
    doc = libsbml.readSBMLFromString(reaction_network_to_sbml(rn))
    node, depth = doc.getModel().getReaction(0).getKineticLaw().getMath(), 0
    while node.getNumChildren():
        node, depth = node.getChild(0), depth + 1
    assert depth == 2000 and node.getName() == "S"


def test_errors_name_the_element():
    bad = ReactionNetwork((Species("S", "c", 1.0),), (Reaction("r", (("S", 5e-324),), (),
                                                                mul("k", "S")),),
                          {"k": 1.0}, {"c": 1.0}, name="net")
    with pytest.raises(InputError, match="net: reaction r: stoichiometry 5e-324"):
        reaction_network_to_sbml(bad)
    clash = ReactionNetwork((Species("S", "c", 1.0),), (), {"c": 2.0}, {"c": 1.0}, name="net")
    with pytest.raises(InputError, match="compartment c"):
        reaction_network_to_sbml(clash)


# ------------------------------------------------------------------ random networks
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
positive = st.floats(min_value=2.2250738585072014e-308, max_value=1e300)  # normal doubles


@st.composite
def mass_action_networks(draw):
    n = draw(st.integers(1, 4))
    species = tuple(Species(f"X{k}", draw(st.sampled_from(["c", "d"])), draw(
        st.floats(min_value=0, max_value=1e6) | st.just(0.0)), draw(st.booleans()),
        k == 0 and n > 1 and draw(st.booleans())) for k in range(n))  # state: >= 1 species
    params, reactions = {}, []
    for j in range(draw(st.integers(1, 4))):
        lhs = draw(st.lists(st.sampled_from(range(n)), max_size=2, unique=True))
        rhs = draw(st.lists(st.sampled_from(range(n)), max_size=2, unique=True))
        st_l = [draw(st.sampled_from([1.0, 2.0, 0.5]) | positive) for _ in lhs]
        params[f"k{j}"] = draw(finite)
        factors = [Sym(f"k{j}"), Sym("c")] + [power(Sym(f"X{i}"), s) for i, s in zip(lhs, st_l)]
        if draw(st.booleans()):
            params[f"r{j}.Km"] = draw(positive)
            factors.append(power(add(f"r{j}.Km", f"X{lhs[0] if lhs else 0}"), -1.0))
        if draw(st.booleans()):
            factors.append(Num(draw(finite)))
        reactions.append(Reaction(f"r{j}", tuple((f"X{i}", s) for i, s in zip(lhs, st_l)),
                                  tuple((f"X{i}", 1.0) for i in rhs), mul(*factors),
                                  reversible=draw(st.booleans())))
    return ReactionNetwork(species, tuple(reactions), params,
                           {"c": draw(positive), "d": draw(positive)}, name="random")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mass_action_networks())
def test_random_networks_import_back_exactly(rn):
    doc, ids = reaction_network_to_document(rn)
    back = imported(reaction_network_to_sbml(rn))
    assert key(back) == key(as_exported(rn, ids))


def test_document_without_placeholders():
    doc, ids = reaction_network_to_document(rich())
    text = libsbml.writeSBMLToString(doc)
    assert "__sbmleq" not in text and "<cn" in text
    assert ids.global_ids["S"] == "S"
