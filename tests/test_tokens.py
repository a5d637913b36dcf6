"""Token format v1: lossless round trips, number encoders, malformed input, the paper's text."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbmleq import InputError, Network
from sbmleq.core.generators import GeneratorConfig, generate
from sbmleq.model.tokens import (
    BOS,
    EDGE,
    EOS,
    NODE,
    NUM_NAN,
    NUM_NEG,
    NUM_NEG_INF,
    NUM_NONE,
    NUM_POS,
    NUM_POS_INF,
    NUM_ZERO,
    PAD,
    TOKEN_FORMAT_VERSION,
    LogScalarEncoder,
    PaperFloatEncoder,
    decode,
    encode,
    from_paper_text,
    to_paper_text,
)

EXTREMES = [5e-324, 1e-300, 2.2250738585072014e-308, 0.1, 1.0, 3.0, 1e300,
            1.7976931348623157e308]
positive = st.one_of(st.sampled_from(EXTREMES),
                     st.floats(min_value=5e-324, max_value=1.7976931348623157e308))
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def networks(draw, values=positive, ids: bool = False):
    n = draw(st.integers(1, 8))
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    chosen = (draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
              if pairs else [])
    nonneg = st.one_of(st.just(0.0), values)
    nodes = (draw(st.lists(st.text(min_size=1, max_size=6), min_size=n, max_size=n, unique=True))
             if ids else [f"x{k}" for k in range(n)])
    return Network(tuple(nodes), [p[0] for p in chosen], [p[1] for p in chosen],
                   [draw(values) for _ in chosen], [draw(nonneg) for _ in range(n)],
                   [draw(nonneg) for _ in range(n)])


def small() -> Network:
    return Network.from_edges([("A", "B", 2.5), ("B", "C"), ("A", "C", 0.25)],
                              {"A": 1.0}, {"C": 0.5}, nodes=["A", "B", "C"])


# ---------------------------------------------------------------------- network round trips
@settings(max_examples=150, deadline=None)
@given(networks(ids=True))
def test_round_trip_is_exact(net):
    seq = encode(net)
    assert len(seq) == net.n_nodes + net.n_edges + 2
    back = decode(seq)
    assert back == net and back.nodes == net.nodes
    for name in ("weight", "intake", "excretion"):
        assert getattr(back, name).tobytes() == getattr(net, name).tobytes()


def test_layout_of_a_small_network():
    net = small()
    seq = encode(net)
    assert seq.version == TOKEN_FORMAT_VERSION == 1
    assert seq.kind.tolist() == [BOS, NODE, NODE, NODE, EDGE, EDGE, EDGE, EOS]
    assert seq.a.tolist() == [-1, 0, 1, 2, 0, 0, 1, -1]
    assert seq.b.tolist() == [-1, -1, -1, -1, 1, 2, 2, -1]
    assert seq.num_cls.tolist() == [[NUM_NONE, NUM_NONE], [NUM_POS, NUM_ZERO],
                                    [NUM_ZERO, NUM_ZERO], [NUM_ZERO, NUM_POS],
                                    [NUM_POS, NUM_NONE], [NUM_POS, NUM_NONE],
                                    [NUM_POS, NUM_NONE], [NUM_NONE, NUM_NONE]]
    assert seq.num_mag[4, 0] == pytest.approx(math.log10(2.5))
    assert seq.num_exact[5, 0] == 0.25
    assert seq.render() == ["<bos>", "NODE A in=1 ex=0", "NODE B in=0 ex=0", "NODE C in=0 ex=0.5",
                            "EDGE A>B k=2.5", "EDGE A>C k=0.25", "EDGE B>C k=1", "<eos>"]


def test_sequence_length_is_nodes_plus_edges_plus_two():
    for net in generate(GeneratorConfig(), 20, seed=1):
        assert len(encode(net)) == net.n_nodes + net.n_edges + 2


# ---------------------------------------------------------------------- LogScalarEncoder
@pytest.mark.parametrize(("x", "cls"), [(0.0, NUM_ZERO), (-0.0, NUM_ZERO), (2.0, NUM_POS),
                                        (-2.0, NUM_NEG), (math.nan, NUM_NAN),
                                        (math.inf, NUM_POS_INF), (-math.inf, NUM_NEG_INF)])
def test_log_scalar_special_values(x, cls):
    enc = LogScalarEncoder()
    c, mag = enc.encode(x)
    assert c == cls
    value = enc.parse(c, mag)
    assert (math.isnan(value) if math.isnan(x) else value == x)
    assert np.isfinite(mag)
    arr_cls, arr_mag = enc.encode_array(np.array([x]))
    assert arr_cls.tolist() == [cls] and arr_mag[0] == mag


@settings(max_examples=200, deadline=None)
@given(st.one_of(finite, st.sampled_from(EXTREMES + [-x for x in EXTREMES])))
def test_log_scalar_round_trip(x):
    enc = LogScalarEncoder()
    cls, mag = enc.encode(x)
    assert enc.parse(cls, mag, exact=x) == x  # lossless with the exact value
    approx = enc.parse(cls, mag)  # from the magnitude alone: float rounding only
    if x == 0:
        assert approx == 0.0
    elif 1e-300 < abs(x) < 1e300:
        assert math.copysign(1, approx) == math.copysign(1, x)
        assert approx == pytest.approx(x, rel=1e-12)
    cls_a, mag_a = enc.encode_array(np.array([x, -x]))
    assert cls_a.tolist() == [cls, enc.encode(-x)[0]] and mag_a[0] == mag


def test_log_scalar_none_class_reads_as_zero():
    assert LogScalarEncoder().parse(NUM_NONE, 5.0) == 0.0


# ---------------------------------------------------------------------- PaperFloatEncoder
@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e300, max_value=1e300, allow_nan=False), st.integers(1, 6))
def test_paper_float_within_its_precision(x, precision):
    enc = PaperFloatEncoder(precision)
    toks = enc.encode(x)
    assert toks[0] in ("+", "-") and "10^" in toks
    assert len([t for t in toks[1:toks.index("10^")]]) == precision
    value = enc.parse(toks)
    if x == 0:
        assert value == 0.0
        return
    # Rounding to `precision` significant digits: relative error at most 5 * 10^-precision.
    assert abs(value - x) <= 5 * 10.0 ** -precision * abs(x) * (1 + 1e-12) + 5e-324


@pytest.mark.parametrize("x", [5e-324, 1e-300, 2.5e-310, 1e300, 123.0, -0.001])
def test_paper_float_extremes(x):
    enc = PaperFloatEncoder(3)
    assert enc.parse(enc.encode(x)) == pytest.approx(x, rel=5e-3, abs=0)


def test_paper_float_special_tokens():
    enc = PaperFloatEncoder()
    assert enc.encode(math.nan) == ["NaN"] and math.isnan(enc.parse(["NaN"]))
    assert enc.encode(math.inf) == ["+", "Inf"] and enc.parse(["+", "Inf"]) == math.inf
    assert enc.encode(-math.inf) == ["-", "Inf"] and enc.parse(["-", "Inf"]) == -math.inf
    assert enc.encode(-1234.5) == ["-", "1", "2", "3", "10^", "+", "3"]
    assert enc.encode(0.0) == ["+", "0", "0", "0", "10^", "+", "0"]


@pytest.mark.parametrize("tokens", [[], ["+"], ["+", "1", "10^"], ["+", "1", "10^", "+"],
                                    ["1", "2", "10^", "+", "3"], ["+", "12", "10^", "+", "3"],
                                    ["+", "10^", "+", "3"], ["x", "Inf"],
                                    ["+", "a", "10^", "+", "1"], ["+", "1", "10^", "*", "1"]])
def test_paper_float_malformed(tokens):
    with pytest.raises(InputError):
        PaperFloatEncoder().parse(tokens)


# ---------------------------------------------------------------------- malformed sequences
def _replace(seq, **changes):
    return dataclasses.replace(seq, **changes)


def _malformed():
    seq = encode(small())
    kind = seq.kind
    yield "no bos", _replace(seq, kind=np.concatenate([[NODE], kind[1:]]))
    yield "no eos", _replace(seq, kind=np.concatenate([kind[:-1], [EDGE]]))
    yield "too short", _replace(seq, kind=kind[:2], a=seq.a[:2], b=seq.b[:2],
                                num_cls=seq.num_cls[:2], num_mag=seq.num_mag[:2],
                                num_exact=seq.num_exact[:2])
    swapped = kind.copy()
    swapped[[3, 4]] = swapped[[4, 3]]
    yield "node after edge", _replace(seq, kind=swapped)
    padded = kind.copy()
    padded[5] = PAD
    yield "pad inside", _replace(seq, kind=padded)
    numbering = seq.a.copy()
    numbering[[1, 2]] = numbering[[2, 1]]
    yield "node numbering", _replace(seq, a=numbering)
    yield "lengths differ", _replace(seq, a=seq.a[:-1])
    yield "num shape", _replace(seq, num_cls=seq.num_cls[:, :1])
    yield "node ids", _replace(seq, node_ids=("A", "B"))
    bad_edge = seq.b.copy()
    bad_edge[4] = 7
    yield "edge to unknown node", _replace(seq, b=bad_edge)
    loop = seq.b.copy()
    loop[4] = 0
    yield "self loop", _replace(seq, b=loop)
    exact = seq.num_exact.copy()
    exact[4, 0] = math.nan
    cls = seq.num_cls.copy()
    cls[4, 0] = NUM_NAN
    yield "nan rate", _replace(seq, num_cls=cls, num_exact=exact)
    cls = seq.num_cls.copy()
    cls[1, 0] = NUM_NEG
    exact = seq.num_exact.copy()
    exact[1, 0] = -1.0
    yield "negative intake", _replace(seq, num_cls=cls, num_exact=exact)
    yield "version", _replace(seq, version=TOKEN_FORMAT_VERSION + 1)


@pytest.mark.parametrize(("what", "seq"), list(_malformed()), ids=[w for w, _ in _malformed()])
def test_malformed_sequences_raise_input_error(what, seq):
    with pytest.raises(InputError):
        decode(seq)


# ---------------------------------------------------------------------- the paper's text
def _unit(net: Network) -> Network:
    ones = np.ones(net.n_edges)
    return net.with_parameters(weight=ones, intake=(net.intake > 0) * 1.0,
                               excretion=(net.excretion > 0) * 1.0)


def test_paper_text_format():
    net = Network.from_arrays(3, [0, 1], [1, 2], [1.0, 1.0], [1, 0, 0], [0, 0, 1])
    assert to_paper_text(net) == "N3 N0 N1 N1 N2 N2 N3 N3 N4"
    assert to_paper_text(net, weighted=True).startswith("N3 N0 N1 + 1 0 0 10^ + 0 N1 N2")


@settings(max_examples=80, deadline=None)
@given(networks(values=st.just(1.0)))
def test_paper_text_round_trip_unit(net):
    net = _unit(net)
    text = to_paper_text(net)
    n_in, n_out = len(net.intake_nodes), len(net.excreting_nodes)
    assert len(text.split()) == 1 + 2 * (net.n_edges + n_in + n_out)
    assert from_paper_text(text) == net


@settings(max_examples=80, deadline=None)
@given(networks(values=st.integers(1, 99).map(float)))
def test_paper_text_round_trip_integer_weights(net):
    assert from_paper_text(to_paper_text(net, weighted=True), weighted=True) == net


@settings(max_examples=80, deadline=None)
@given(networks(values=st.floats(1e-200, 1e200)), st.integers(2, 6))
def test_paper_text_round_trip_weighted_within_precision(net, precision):
    back = from_paper_text(to_paper_text(net, weighted=True, precision=precision), weighted=True)
    assert back.nodes == net.nodes
    assert np.array_equal(back.src, net.src) and np.array_equal(back.dst, net.dst)
    rel = 5 * 10.0 ** -precision * (1 + 1e-9)
    for name in ("weight", "intake", "excretion"):
        assert np.allclose(getattr(back, name), getattr(net, name), rtol=rel, atol=0)


@pytest.mark.parametrize("text", ["", "N", "X3 N0 N1", "N3 N0", "N3 N0 N9", "N2 N1 N1",
                                  "N2 N1 N2 N1 N2"])
def test_paper_text_malformed(text):
    with pytest.raises(InputError):
        from_paper_text(text)
