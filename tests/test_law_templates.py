"""Law templates (sbmleq.core.law_templates) and token format v2.1 (``LAW T:<template> arg*``):
matching is exact, round trips stay exact (every generator family, the shipped BioModels, extreme
numbers, hypothesis), v2.0 and v1 sequences still decode, malformed template laws are errors."""

import glob
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbmleq.core.expr import Num, Op, Sym, add, div, mul, power, sub, walk_preorder
from sbmleq.core.generators import GeneratorConfig, generate
from sbmleq.core.law_templates import TEMPLATES, build_law, match_law, template_names
from sbmleq.core.reaction_generators import GENERATORS, build_network
from sbmleq.core.reactions import Reaction, ReactionNetwork, Species
from sbmleq.errors import InputError
from sbmleq.io.general_import import import_reaction_network_from
from sbmleq.model import tokens as tokens_v1
from sbmleq.model.numbers import TokenError
from sbmleq.model.tokens_v2 import decode_v2, encode_v2, side_table, vocabulary

EXTREMES = [1e-300, 1e300, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
            -1.7976931348623157e308, 0.1 + 0.2, -2.5, math.inf, -math.inf]


# ------------------------------------------------------------------ exact comparison
def fkey(x: float):
    return "nan" if math.isnan(x) else struct.pack("<d", x)


def ekey(e):
    return tuple(("num", fkey(x.value)) if isinstance(x, Num) else ("sym", type(x), x.name)
                 if isinstance(x, Sym) else (x.op, len(x.args)) for x in walk_preorder(e))


def nkey(rn: ReactionNetwork):
    return (rn.name, [(c, fkey(v)) for c, v in rn.compartments.items()],
            [(s.id, s.compartment, fkey(s.initial), s.amount, s.boundary, s.constant, s.name)
             for s in rn.species],
            [(p, fkey(v)) for p, v in rn.parameters.items()],
            [(r.id, [(a, fkey(b)) for a, b in r.reactants], [(a, fkey(b)) for a, b in r.products],
              ekey(r.rate), r.modifiers, r.reversible, r.family, r.name) for r in rn.reactions],
            [(x.variable, ekey(x.rate)) for x in rn.rate_rules])


def round_trip(rn: ReactionNetwork) -> list[str]:
    """Exact round trip in v2.1 and v2.0; returns the v2.1 tokens."""
    tokens = encode_v2(rn)
    assert tokens[0] == "<v2.1>"
    assert nkey(decode_v2(tokens, side_table(rn))) == nkey(rn)
    assert encode_v2(decode_v2(tokens)) == tokens  # anonymous ids: the same tokens again
    old = encode_v2(rn, templates=False)
    assert old[0] == "<v2>" and not any(t.startswith("T:") for t in old)
    assert nkey(decode_v2(old, side_table(rn))) == nkey(rn)
    return tokens


def template_share(nets) -> float:
    laws = [r for rn in nets for r in rn.reactions]
    return sum(match_law(r) is not None for r in laws) / len(laws)


# ------------------------------------------------------------------ generated networks
@pytest.mark.parametrize("family", sorted(GENERATORS))
def test_every_generator_family_round_trips_exactly(family):
    nets = [build_network(family, n, seed, seed + 100) for seed, n in ((1, 8), (2, 12), (3, 20))]
    for rn in nets:
        for r in rn.reactions:
            found = match_law(r)
            if found is not None:  # exact by construction, tree for tree
                assert ekey(TEMPLATES[found[0]].build(r, found[1])) == ekey(r.rate)
        tokens = round_trip(rn)
        assert len(tokens) <= len(encode_v2(rn, templates=False))
    # laws with two modifier factors (modifiers, hill's two-regulator productions) stay
    # expressions; every other family is (nearly) all templates
    assert template_share(nets) >= {"modifiers": 0.5, "hill": 0.75}.get(family, 0.95), family


def test_generated_sample_mostly_templates_and_shorter():
    from sbmleq.core.reaction_generators import RNConfig, sample_networks

    nets = sample_networks(RNConfig(n_min=8, n_max=32), np.random.default_rng(0), 40)
    assert template_share(nets) > 0.95
    before = [encode_v2(n, templates=False) for n in nets]
    after = [encode_v2(n) for n in nets]
    assert sum(map(len, after)) < 0.95 * sum(map(len, before))  # numbers dominate either way
    assert sum(map(law_length, after)) < 0.6 * sum(map(law_length, before))


def law_length(tokens: list[str]) -> int:
    """How many tokens the laws take (from each LAW to the next RXN, RULE or <eos>)."""
    n, inside = 0, False
    for t in tokens:
        if t in ("RXN", "RULE", "<eos>"):
            inside = False
        n += inside
        inside = inside or t == "LAW"
    return n


def test_generator_laws_take_the_expected_templates():
    v, k, km, n, kk = Sym("cell"), Sym("R0.k"), Sym("R0.Km"), Sym("R0.n"), Sym("R0.K")
    S, P, E = Sym("S"), Sym("P"), Sym("E")
    one = (("S", 1.0),)
    cases = [
        (Reaction("R0", one, (("P", 1.0),), mul(v, k, S)), "ma", (v, k)),
        (Reaction("R0", (("S", 2.0),), (), mul(k, power(S, 2.0))), "ma", (k,)),
        (Reaction("R0", one, (), mul(S, k)), "ma.s", (k,)),
        (Reaction("R0", one, (), mul(k, S, v)), "ma.1", (k, v)),
        (Reaction("R0", (), (("P", 1.0),), mul(v, k, E), ("E",)), "ma.c", (v, k)),
        (Reaction("R0", (("E", 1.0), ("S", 1.0)), (("P", 1.0),),
                  mul(v, sub(mul(k, E, S), mul(km, P))), (), True), "rma", (v, k, km)),
        (Reaction("R0", one, (("P", 1.0),), sub(mul(k, S, v), mul(km, P, v)), (), True),
         "rma.v", (v, k, km)),
        (Reaction("R0", one, (), mul(v, div(mul(k, S), add(km, S)))), "mm", (v, k, km)),
        (Reaction("R0", one, (), mul(v, div(mul(k, E, S), add(km, S))), ("E",)), "mm.e",
         (v, k, km)),
        (Reaction("R0", one, (), div(mul(k, power(S, n)), add(power(kk, n), power(S, n)))),
         "hill", (k, kk, n)),
        (Reaction("R0", (), (("P", 1.0),), mul(v, k, div(power(kk, n), add(power(kk, n),
                                                                          power(E, n)))), ("E",)),
         "hill.i", (v, k, kk, n)),
        (Reaction("R0", one, (), mul(v, k, S, div(kk, add(kk, E))), ("E",)), "ma+i", (v, k, kk)),
        (Reaction("R0", one, (), mul(div(mul(k, S), add(km, S)), div(power(E, n), add(
            power(kk, n), power(E, n)))), ("E",)), "mm+ha", (k, km, kk, n)),
        (Reaction("R0", one, (), mul(Num(1e-300), S)), "ma", (Num(1e-300),)),
    ]
    for reaction, name, refs in cases:
        assert match_law(reaction) == (name, refs), name
        assert build_law(name, reaction, refs) == reaction.rate
    # not templates: a law missing a reactant, a divided volume, a reaction species as a ref
    assert match_law(Reaction("R0", (("S", 1.0), ("P", 1.0)), (), mul(k, S))) is None
    assert match_law(Reaction("R0", one, (), mul(k, power(v, -1.0), S))) is None
    assert match_law(Reaction("R0", one, (), mul(v, k, E, S), ("E",))) is None


# ------------------------------------------------------------------ imported models
def test_shipped_biomodels_round_trip_with_templates():
    nets = [n for n in (import_reaction_network_from(f).network
                        for f in sorted(glob.glob("sbmleq/data/biomodels/*.xml"))) if n]
    assert len(nets) >= 30
    for rn in nets:
        round_trip(rn)
    assert template_share(nets) > 0.8


def test_v1_and_v2_sequences_still_decode():
    for net in generate(GeneratorConfig(n_min=3, n_max=12, weights="loguniform"), 5, seed=2):
        rn = decode_v2(tokens_v1.encode(net))
        tokens = round_trip(rn)
        assert {"T:ma"} <= set(tokens)  # LIFE laws are mass action
    v20 = ["<v2>", "COMP", "+", "1", "E0", "SPEC", "C0", "+", "1", "E0", "CONC", "PAR", "+", "2",
           "E0", "RXN", "LHS", "S0", "RHS", "LAW", "mul", "A2", "P0", "S0", "<eos>"]
    rn = decode_v2(v20)
    assert rn.reactions[0].rate == Op("mul", (Sym("p0"), Sym("s0")))
    assert encode_v2(rn, templates=False) == v20
    assert encode_v2(rn)[-4:] == ["LAW", "T:ma", "P0", "<eos>"]


# ------------------------------------------------------------------ extreme numbers
def extreme_network() -> ReactionNetwork:
    species = (Species("A", "c", 5e-324), Species("B", "c", 1e300, amount=True),
               Species("E", "c", 0.0, boundary=True))
    params = {"k0": -0.0, "k1": 5e-324, "k2": 1e-300, "k3": 1e300, "k4": -1.7976931348623157e308,
              "k5": 2.2250738585072014e-308}
    A, B, E = Sym("A"), Sym("B"), Sym("E")
    laws = [mul("c", "k0", A), mul("k1", A, B), sub(mul("k2", A), mul("k3", B)),
            mul("c", div(mul("k4", E, A), add("k5", A))),
            div(mul("k3", power(A, "k1")), add(power("k2", "k1"), power(A, "k1")))]
    laws += [mul(x, A) for x in EXTREMES]  # numbers as refs
    reactions = []
    for j, law in enumerate(laws):
        two = j in (1, 2)
        reactions.append(Reaction(f"r{j}", (("A", 1.0),) + ((("B", 1.0),) if j == 1 else ()),
                                  (("B", 1.0),) if two else (), law, ("E",) if j == 3 else (),
                                  j == 2))
    return ReactionNetwork(species, tuple(reactions), params, {"c": 5e-324}, name="extremes")


def test_extreme_numbers_round_trip_bit_for_bit():
    rn = extreme_network()
    tokens = round_trip(rn)
    assert sum(t.startswith("T:") for t in tokens) == len(rn.reactions)
    back = decode_v2(tokens, side_table(rn))
    assert math.copysign(1.0, back.parameters["k0"]) == -1.0 and back.parameters["k1"] == 5e-324
    assert [fkey(r.rate.args[0].value) for r in back.reactions[5:]] == [fkey(x) for x in EXTREMES]


# ------------------------------------------------------------------ hypothesis
leaf_refs = st.sampled_from([Sym("k"), Sym("V"), Sym("K"), Sym("n")]) | st.builds(
    Num, st.floats(allow_nan=False) | st.sampled_from(EXTREMES + [-0.0, 0.0, 1.0, 2.0]))


@st.composite
def filled_templates(draw):
    ids = ["A", "B", "C", "D"]
    side = st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(
        [1.0, 2.0, 0.5, 5e-324, 1e300])), max_size=3, unique_by=lambda t: t[0])
    reactants, products = draw(side), draw(side)
    own = {s for s, _ in reactants + products}
    modifiers = draw(st.lists(st.sampled_from([x for x in ids if x not in own] or ["A"]),
                              max_size=2, unique=True))
    name = draw(st.sampled_from(template_names()))
    t = TEMPLATES[name]
    refs = draw(st.lists(leaf_refs, min_size=min(t.arities), max_size=max(t.arities)))
    return Reaction("r", tuple(reactants), tuple(products), Num(0.0), tuple(modifiers)), name, refs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filled_templates())
def test_a_built_law_is_matched_and_rebuilt_exactly(case):
    reaction, name, refs = case
    try:
        law = build_law(name, reaction, refs)
    except ValueError:
        return  # the template does not fit this reaction or these refs
    found = match_law(reaction, law)
    if all(isinstance(x, Sym) for x in refs) and len(set(refs)) == len(refs):
        assert found is not None, (name, law)  # distinct symbols: nothing folds, always found
    elif found is None:
        return  # numbers fold, a symbol twice merges into a power: maybe no template fits
    assert ekey(build_law(found[0], reaction, found[1])) == ekey(law)
    species = tuple(Species(x, "c", 1.0) for x in "ABCD")
    rn = ReactionNetwork(species, (Reaction("r", reaction.reactants, reaction.products, law,
                                            reaction.modifiers),),
                         {"k": -0.0, "V": 1e300, "K": 5e-324, "n": 2.0}, {"c": 1.0})
    tokens = round_trip(rn)
    assert "T:" + found[0] in tokens


# ------------------------------------------------------------------ errors and vocabulary
GOOD = encode_v2(ReactionNetwork((Species("S", "c", 1.0),),
                                 (Reaction("r", (("S", 1.0),), (), mul("k", "S")),),
                                 {"k": 2.0}, {"c": 1.0}))


@pytest.mark.parametrize("change, fragment", [
    (lambda t: t[:-3] + ["T:nope", "P0", "<eos>"], "unknown law template 'nope'"),
    (lambda t: t[:-3] + ["T:ma", "<eos>"], "takes 1 or 2 or 3 refs, got 0"),
    (lambda t: t[:-3] + ["T:ma", "S0", "<eos>"], "not one of the reaction's species"),
    (lambda t: t[:-3] + ["T:mm", "P0", "P0", "P0", "P0", "<eos>"], "takes 2 or 3 refs"),
    (lambda t: t[:-3] + ["T:mm.e", "P0", "P0", "<eos>"], "exactly one modifier"),
    (lambda t: ["<v2>"] + t[1:], "needs the '<v2.1>' marker"),
])
def test_malformed_template_laws_name_the_position(change, fragment):
    assert GOOD[-3:] == ["T:ma", "P0", "<eos>"]
    tokens = change(list(GOOD))
    with pytest.raises(TokenError) as info:
        decode_v2(tokens)
    assert fragment in str(info.value) and isinstance(info.value, InputError)
    assert info.value.position == tokens.index(next(t for t in tokens if t.startswith("T:")))


def test_vocabulary_has_the_markers_and_templates():
    vocab = vocabulary()
    assert len(vocab) == len(set(vocab)) < 3000
    assert {"<v2>", "<v2.1>"} | {"T:" + t for t in template_names()} <= set(vocab)
    rn = build_network("mixed", 30, 1, 2)
    assert set(encode_v2(rn)) <= set(vocab)
