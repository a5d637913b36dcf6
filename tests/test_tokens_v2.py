"""Token format v2: exact round trips (hypothesis), number tokens, v1 compatibility, errors."""

import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbmleq.core.expr import ARITY, Num, Op, Sym, call, mul, walk_preorder
from sbmleq.core.generators import GeneratorConfig, generate
from sbmleq.core.life_bridge import life_from_reaction_network, reaction_network_from_life
from sbmleq.core.network import Network
from sbmleq.core.reactions import RateRule, Reaction, ReactionNetwork, Species
from sbmleq.errors import InputError, NetworkError
from sbmleq.model import tokens as tokens_v1
from sbmleq.model.numbers import DecimalFloat, IndexToken, TokenError
from sbmleq.model.tokens_v2 import (SideTable, decode_v2, encode_v2, side_table, vocabulary)

EXTREMES = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 1e300,
            1.7976931348623157e308, -1.7976931348623157e308, math.inf, -math.inf, 0.1, 1.0 / 3]


# ------------------------------------------------------------------ exact comparison
def fkey(x: float):
    return "nan" if math.isnan(x) else struct.pack("<d", x)  # bits (NaN payloads are not kept)


def ekey(e):
    """The tree in prefix order, each node with its arity (iterative: any depth)."""
    return tuple(("num", fkey(x.value)) if isinstance(x, Num) else ("sym", x.name)
                 if isinstance(x, Sym) else (x.op, len(x.args)) for x in walk_preorder(e))


def nkey(rn: ReactionNetwork):
    return (rn.name,
            [(c, fkey(v)) for c, v in rn.compartments.items()],
            [(s.id, s.compartment, fkey(s.initial), s.amount, s.boundary, s.constant, s.name)
             for s in rn.species],
            [(p, fkey(v)) for p, v in rn.parameters.items()],
            [(r.id, [(a, fkey(b)) for a, b in r.reactants], [(a, fkey(b)) for a, b in r.products],
              ekey(r.rate), r.modifiers, r.reversible, r.family, r.name) for r in rn.reactions],
            [(rule.variable, ekey(rule.rate)) for rule in rn.rate_rules])


def round_trip(rn: ReactionNetwork) -> None:
    tokens = encode_v2(rn)
    side = side_table(rn)
    assert nkey(decode_v2(tokens, side)) == nkey(rn)
    assert nkey(decode_v2(tokens, SideTable.from_dict(side.to_dict()))) == nkey(rn)
    anonymous = decode_v2(tokens)  # default ids; the same tokens again
    assert encode_v2(anonymous) == tokens
    assert set(tokens) <= set(VOCAB)


VOCAB = vocabulary(max_species=8, max_parameters=16, max_compartments=4, max_arity=6,
                   families=("mass_action", "michaelis_menten", "zero_order", "mass_action_1"))

# ------------------------------------------------------------------ random networks
sizes = st.floats(min_value=5e-324, max_value=1.7976931348623157e308) | st.sampled_from(
    [5e-324, 1e-300, 1e300, 1.0, 2.5])
nonneg = st.floats(min_value=0.0, max_value=1.7976931348623157e308) | st.sampled_from(
    [0.0, 5e-324, 1e300])
values = st.floats(allow_nan=False) | st.sampled_from(EXTREMES)
numbers_in_laws = st.floats() | st.sampled_from(EXTREMES + [math.nan, -1.0, 2.0])


def exprs(names: list[str]):
    leaves = st.builds(Num, numbers_in_laws)
    if names:
        leaves = leaves | st.builds(Sym, st.sampled_from(names))

    def extend(child):
        fixed = st.sampled_from(sorted(op for op, a in ARITY.items() if a > 0)).flatmap(
            lambda op: st.tuples(*[child] * ARITY[op]).map(lambda args: Op(op, args)))
        nary = st.tuples(st.sampled_from(sorted(op for op, a in ARITY.items() if a < 0)),
                         st.lists(child, min_size=1, max_size=4)).map(
            lambda t: Op(t[0], tuple(t[1])))
        simplified = st.tuples(st.sampled_from(["add", "mul", "min", "pow", "piecewise"]),
                               st.lists(child, min_size=2, max_size=3)).map(
            lambda t: call(t[0], *t[1][:2]) if t[0] == "pow" else call(t[0], *t[1]))
        return fixed | nary | simplified

    return st.recursive(leaves, extend, max_leaves=12)


text = st.text(min_size=0, max_size=6)


@st.composite
def networks(draw):
    n_c = draw(st.integers(1, 3))
    comps = {f"c{k}{draw(text)}": draw(sizes) for k in range(n_c)}
    species = []
    for k in range(draw(st.integers(0, 5))):
        species.append(Species(f"s{k}:{draw(text)}", draw(st.sampled_from(list(comps))),
                               draw(nonneg), draw(st.booleans()), draw(st.booleans()),
                               draw(st.booleans()), draw(text)))
    n_r = draw(st.integers(0, 4))
    rids = [f"r{k}" for k in range(n_r)]
    params = {}
    for k in range(draw(st.integers(0, 5))):
        local = n_r and draw(st.booleans())
        pid = f"{draw(st.sampled_from(rids))}.k{k}" if local else f"p{k}{draw(text)}"
        params[pid] = draw(values)
    if draw(st.booleans()):
        params[next(iter(comps))] = next(iter(comps.values()))  # a compartment also a parameter
    sids = [s.id for s in species]
    names = sids + list(params) + list(comps)
    law = exprs(names)
    refs = st.lists(st.tuples(st.sampled_from(sids), st.sampled_from([1.0, 2.0, 0.5, 5e-324, 1e300])
                              | st.floats(min_value=1e-3, max_value=1e3)), max_size=3) \
        if sids else st.just([])
    reactions = []
    for rid in rids:
        reactions.append(Reaction(
            rid, tuple(draw(refs)), tuple(draw(refs)), draw(law),
            tuple(draw(st.lists(st.sampled_from(sids), max_size=2))) if sids else (),
            draw(st.booleans()), draw(st.sampled_from(["", "mass_action", "michaelis_menten"])),
            draw(text)))
    candidates = [p for p in params] + sids
    rules = []
    if candidates:
        for var in draw(st.lists(st.sampled_from(candidates), max_size=2, unique=True)):
            rules.append(RateRule(var, draw(law)))
    return ReactionNetwork(tuple(species), tuple(reactions), params, comps, tuple(rules),
                           name=draw(text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_round_trip_on_random_networks(rn):
    round_trip(rn)


def test_every_operator_and_extreme_number():
    species = (Species("A", "cell", 5e-324), Species("B", "cell", 1e300, amount=True),
               Species("X", "cell", 0.0, boundary=True, constant=True))
    params = {f"k{k}": v for k, v in enumerate(EXTREMES)}
    args = [Sym("A"), Sym("k3"), Num(-2.5e-7), Sym("cell"), Sym("B")]
    laws = []
    for op, arity in sorted(ARITY.items()):
        n = arity if arity > 0 else 3
        laws.append(Op(op, tuple(args[:n])))
    laws += [Op("add", (Sym("A"),)), Op("piecewise", (Num(math.nan),)), Num(math.inf),
             Num(-math.inf), Num(math.nan), Num(5e-324), Num(-1.7976931348623157e308)]
    deep = Sym("A")
    for _ in range(3000):  # deeper than Python's recursion limit
        deep = Op("exp", (deep,))
    laws.append(deep)
    reactions = tuple(Reaction(f"r{k}", (("A", 1.0),), (("B", 3.0),), law, ("X",), k % 2 == 0)
                      for k, law in enumerate(laws))
    rn = ReactionNetwork(species, reactions, params, {"cell": 1e-300},
                         (RateRule("k0", mul("k1", "A")),), name="every op")
    round_trip(rn)
    tokens = encode_v2(rn)
    assert {op for op in ARITY} <= set(tokens)
    assert decode_v2(tokens, side_table(rn)).parameters["k1"] == 0.0
    assert math.copysign(1, decode_v2(tokens, side_table(rn)).parameters["k1"]) == -1


# ------------------------------------------------------------------ number tokens
@settings(max_examples=500, deadline=None)
@given(st.floats())
def test_exact_numbers_are_bit_for_bit(x):
    enc = DecimalFloat()
    toks = enc.encode(x)
    value, n = enc.parse(toks + ["S0"])
    assert n == len(toks) and fkey(value) == fkey(x)
    assert len(toks) <= 19 and set(toks) <= set(DecimalFloat.vocabulary())


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1e300) | st.floats(min_value=-1e300, max_value=-1e-300),
       st.integers(1, 17))
def test_fixed_precision_numbers(x, p):
    toks = DecimalFloat(p).encode(x)
    assert len(toks) == p + 2
    value, _ = DecimalFloat().parse(toks)
    assert abs(value - x) <= 5 * 10.0 ** -p * abs(x) * (1 + 1e-15)


def test_number_examples():
    enc = DecimalFloat()
    assert enc.encode(2.5e-7) == ["+", "2", "5", "E-7"]
    assert DecimalFloat(3).encode(2.5e-7) == ["+", "2", "5", "0", "E-7"]
    assert enc.encode(0.0) == ["+", "0", "E0"] and enc.encode(-0.0) == ["-", "0", "E0"]
    assert enc.encode(-math.inf) == ["-", "Inf"] and enc.encode(math.nan) == ["NaN"]
    assert enc.encode(5e-324) == ["+", "5", "E-324"]
    assert enc.encode(123.0) == ["+", "1", "2", "3", "E2"]
    assert DecimalFloat(3).encode(9.9999) == ["+", "1", "0", "0", "E1"]
    for bad in [["+", "E0"], ["*"], ["+", "1"], ["+", "1", "E+3"], ["+", "1", "E007"],
                ["+", "1", "E-0"], ["+", "1", "E400"], ["+", "0", "1", "E0"], ["+", "0", "E2"], []]:
        with pytest.raises(TokenError):
            enc.parse(bad)
    with pytest.raises(ValueError):
        DecimalFloat(0)
    ref = IndexToken("S", "species")
    assert ref.encode(12) == ["S12"] and ref.parse(["x", "S12"], 1) == (12, 1)
    for bad in ["S", "S01", "S-1", "Sx", "P1"]:
        assert ref.match(bad) is None
    with pytest.raises(TokenError, match="not declared"):
        ref.parse(["S3"], 0, limit=3)


def test_lossy_precision_codec():
    net = generate(GeneratorConfig(n_min=5, n_max=8, weights="loguniform"), 1, seed=3)[0]
    rn = reaction_network_from_life(net)
    back = decode_v2(encode_v2(rn, DecimalFloat(3)), side_table(rn))
    for p, v in rn.parameters.items():
        assert back.parameters[p] == pytest.approx(v, rel=5e-3)


# ------------------------------------------------------------------ version 1 as a subset
def test_v1_sequences_decode_through_the_life_bridge():
    cfg = GeneratorConfig(n_min=3, n_max=30, weights="loguniform", intakes=(1, 3),
                          excretions=(0, 2))
    for net in generate(cfg, 20, seed=1):
        rn = decode_v2(tokens_v1.encode(net))
        assert nkey(rn)[1:] == nkey(reaction_network_from_life(net))[1:]  # v1 has no name
        assert life_from_reaction_network(rn) == net
        again = decode_v2(encode_v2(rn), side_table(rn))
        assert life_from_reaction_network(again) == net
    net = Network.from_edges([("a", "b", 2.0)], {"a": 1.0}, {"b": 0.5})
    assert decode_v2(tokens_v1.encode(net), SideTable(name="named")).name == "named"


# ------------------------------------------------------------------ errors
GOOD = encode_v2(ReactionNetwork(
    (Species("S", "c", 1.0),), (Reaction("r", (("S", 1.0),), (), mul("k", "S")),), {"k": 2.0},
    {"c": 1.0}))


@pytest.mark.parametrize("tokens, position, fragment", [
    (["<v1>"] + GOOD[1:], 0, "expected '<v2>'"),
    ([], 0, "expected '<v2>'"),
    (GOOD[:-1], len(GOOD) - 1, "end"),
    (GOOD + ["S0"], len(GOOD), "nothing but <pad>"),
    (GOOD + ["<pad>", "<pad>"], None, None),
    (["<v2>", "COMP", "+", "E0", "<eos>"], 3, "mantissa digits"),
    (["<v2>", "COMP", "+", "1", "<eos>"], 4, "exponent token"),
    (["<v2>", "COMP", "+", "1", "E0", "SPEC", "C1", "+", "1", "E0", "CONC", "<eos>"], 6,
     "not declared"),
    (["<v2>", "COMP", "+", "1", "E0", "SPEC", "C0", "+", "1", "E0", "MOLES", "<eos>"], 10,
     "'AMT' or 'CONC'"),
    (["<v2>", "PAR", "+", "1", "E0", "COMP", "+", "1", "E0", "<eos>"], 5, "in that order"),
    (["<v2>", "RXN", "LHS", "RHS", "LAW", "foo", "<eos>"], 5, "expected an expression"),
    (["<v2>", "RXN", "LHS", "RHS", "LAW", "add", "S0", "<eos>"], 6, "A<k> (arity)"),
    (["<v2>", "RXN", "LHS", "RHS", "LAW", "add", "A0", "+", "1", "E0", "<eos>"], 6,
     "at least one"),
    (["<v2>", "RXN", "LHS", "RHS", "LAW", "pow", "+", "1", "E0"], 9, "cut short"),
    (["<v2>", "RXN", "LHS", "S0", "RHS", "LAW", "+", "1", "E0", "<eos>"], 3, "not declared"),
    (["<v2>", "RXN", "RHS", "LAW", "+", "1", "E0", "<eos>"], 2, "expected 'LHS'"),
    (["<v2>", "RXN", "LHS", "RHS", "+", "1", "E0", "<eos>"], 4, "expected 'LAW'"),
    (["<v2>", "PAR", "+", "1", "E0", "RULE", "C0", "+", "1", "E0", "<eos>"], 6, "S<k> or P<k>"),
])
def test_malformed_sequences_name_the_position(tokens, position, fragment):
    if position is None:
        assert decode_v2(tokens).parameters == {"p0": 2.0}
        return
    with pytest.raises(TokenError) as info:
        decode_v2(tokens)
    assert info.value.position == position and fragment in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, InputError)
    assert f"token {position}" in str(info.value)


def test_side_table_must_fit_and_invalid_networks_are_network_errors():
    with pytest.raises(TokenError, match="side table has 2 species ids"):
        decode_v2(GOOD, SideTable(species=("a", "b")))
    bad = ["<v2>", "COMP", "-", "1", "E0", "<eos>"]
    with pytest.raises(NetworkError, match="compartment size"):
        decode_v2(bad)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_sequences_raise_only_input_errors(data):
    tokens = list(encode_v2(decode_v2(GOOD)))
    pool = ["S0", "S1", "P0", "C0", "add", "A2", "+", "-", "1", "E0", "LAW", "RXN", "<eos>",
            "NaN", "Inf", "MOD", "pow"]
    for _ in range(data.draw(st.integers(1, 3))):
        k = data.draw(st.integers(0, len(tokens)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert":
            tokens.insert(k, data.draw(st.sampled_from(pool)))
        elif tokens and k < len(tokens):
            if action == "delete":
                del tokens[k]
            else:
                tokens[k] = data.draw(st.sampled_from(pool))
    try:
        rn = decode_v2(tokens)
    except InputError:  # TokenError or NetworkError, never an IndexError or KeyError
        return
    assert isinstance(rn, ReactionNetwork)


def test_vocabulary_is_finite_and_covers_the_sizes():
    vocab = vocabulary()
    assert len(vocab) == len(set(vocab)) < 3000
    rn = reaction_network_from_life(generate(GeneratorConfig(n_min=40, n_max=40,
                                                             weights="integer"), 1, seed=0)[0])
    assert set(encode_v2(rn)) <= set(vocabulary())  # the families of sbmleq.core.families
    assert len(np.unique(encode_v2(rn))) < 200
