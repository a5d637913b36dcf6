"""The Network type: validation, immutability, conversions, identity, matrices."""

from __future__ import annotations

import dataclasses
import json

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbmleq import InputError, Network, NetworkError
from sbmleq.core.network import JSON_SCHEMA_VERSION

EXTREMES = [5e-324, 1e-300, 2.2250738585072014e-308, 1e-5, 1.0, 7.25, 1e300,
            1.7976931348623157e308]


def chain() -> Network:
    """a -> b -> c, intake 2 into a, c excretes at rate 0.5; a -> c at rate 3."""
    return Network.from_edges([("a", "b"), ("b", "c", 1.5), ("a", "c", 3.0)],
                              intake={"a": 2.0}, excretion={"c": 0.5}, name="chain")


@st.composite
def networks(draw, max_nodes: int = 7, values=None):
    """Random valid networks, parameters drawn from ``values`` (default: wide float range)."""
    n = draw(st.integers(1, max_nodes))
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    chosen = (draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
              if pairs else [])
    positive = values if values is not None else st.one_of(
        st.sampled_from(EXTREMES),
        st.floats(min_value=5e-324, max_value=1e300, allow_nan=False, allow_infinity=False))
    nonneg = st.one_of(st.just(0.0), positive)
    weight = [draw(positive) for _ in chosen]
    intake = [draw(nonneg) for _ in range(n)]
    excretion = [draw(nonneg) for _ in range(n)]
    src = np.array([p[0] for p in chosen], dtype=np.int64)
    dst = np.array([p[1] for p in chosen], dtype=np.int64)
    return Network.from_arrays(n, src, dst, weight, intake, excretion)


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("edges", "intake", "excretion", "element", "words"),
    [
        ([("a", "b", float("nan"))], {}, {"b": 1}, "edge a->b", "finite and > 0"),
        ([("a", "b", -1.0)], {}, {"b": 1}, "edge a->b", "> 0"),
        ([("a", "b", 0.0)], {}, {"b": 1}, "edge a->b", "> 0"),
        ([("a", "b", float("inf"))], {}, {"b": 1}, "edge a->b", "finite"),
        ([("a", "b"), ("b", "b")], {}, {"b": 1}, "edge b->b", "self-loop"),
        ([("a", "b"), ("a", "b", 2.0)], {}, {"b": 1}, "edge a->b", "duplicate edge"),
        ([("a", "b")], {"a": float("nan")}, {"b": 1}, "intake of a", "finite"),
        ([("a", "b")], {"a": -1.0}, {"b": 1}, "intake of a", ">= 0"),
        ([("a", "b")], {"a": float("inf")}, {"b": 1}, "intake of a", "finite"),
        ([("a", "b")], {}, {"b": -0.5}, "excretion of b", ">= 0"),
        ([("a", "b")], {}, {"b": float("nan")}, "excretion of b", "finite"),
        ([("a", "zz")], {}, {"b": 1}, None, "unknown node"),
    ],
)
def test_validation_names_the_bad_element(edges, intake, excretion, element, words):
    with pytest.raises(NetworkError) as info:
        Network.from_edges(edges, intake, excretion, nodes=["a", "b"], name="model.xml")
    err = info.value
    assert isinstance(err, InputError)
    assert err.source == "model.xml"
    if element is not None:
        assert err.element == element
        assert element in str(err)
    else:
        assert err.element and "zz" in err.element
    assert words in err.message
    assert "\n" not in str(err)


def test_duplicate_node_ids_are_named():
    with pytest.raises(NetworkError, match="not unique: a"):
        Network(("a", "b", "a"), [], [], [], [0, 0, 0], [0, 0, 0])


def test_out_of_range_index_names_the_edge():
    with pytest.raises(NetworkError, match="out of range") as info:
        Network.from_arrays(3, [0, 1], [1, 5], [1.0, 1.0], [0, 0, 0], [0, 0, 1])
    assert info.value.element == "edge #1 (1->5)"
    with pytest.raises(NetworkError, match="out of range") as info:
        Network.from_arrays(3, [-1], [1], [1.0], [0, 0, 0], [0, 0, 1])
    assert info.value.element == "edge #0 (-1->1)"


def test_empty_network_and_shape_errors():
    with pytest.raises(NetworkError, match="no nodes"):
        Network((), [], [], [], [], [])
    with pytest.raises(NetworkError, match="differ in length"):
        Network.from_arrays(2, [0], [1, 0], [1.0], [0, 0], [0, 1])
    with pytest.raises(NetworkError, match="one value per node"):
        Network.from_arrays(2, [0], [1], [1.0], [0, 0, 0], [0, 1])


def test_single_node_without_edges_is_valid():
    net = Network.from_arrays(1, [], [], [], [2.0], [4.0])
    assert (net.n_nodes, net.n_edges) == (1, 0)
    assert net.src.dtype == np.int64 and net.weight.dtype == np.float64


# ---------------------------------------------------------------------- immutability
def test_arrays_are_read_only_and_fields_frozen():
    net = chain()
    for name in ("src", "dst", "weight", "intake", "excretion"):
        arr = getattr(net, name)
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.name = "other"  # type: ignore[misc]


def test_network_does_not_share_or_freeze_the_callers_arrays():
    src, dst = np.array([0]), np.array([1])
    weight, intake, excretion = np.array([1.0]), np.array([1.0, 0.0]), np.array([0.0, 1.0])
    net = Network.from_arrays(2, src, dst, weight, intake, excretion)
    for arr in (src, dst, weight, intake, excretion):
        assert arr.flags.writeable
    intake[0] = 99.0
    weight[0] = 99.0
    assert net.intake[0] == 1.0 and net.weight[0] == 1.0


def test_edges_are_sorted_by_source_then_target():
    net = Network.from_arrays(3, [2, 0, 1, 0], [0, 2, 0, 1], [4.0, 3.0, 2.0, 1.0], [1, 0, 0],
                              [0, 0, 1])
    assert net.src.tolist() == [0, 0, 1, 2]
    assert net.dst.tolist() == [1, 2, 0, 0]
    assert net.weight.tolist() == [1.0, 3.0, 2.0, 4.0]


# ---------------------------------------------------------------------- conversions
@settings(max_examples=60, deadline=None)
@given(networks())
def test_networkx_round_trip(net):
    g = net.to_networkx()
    assert g.number_of_nodes() == net.n_nodes and g.number_of_edges() == net.n_edges
    back = Network.from_networkx(g)
    assert back == net
    assert back.nodes == net.nodes


def test_from_plain_networkx_graph_defaults():
    g = nx.DiGraph(name="plain")
    g.add_edges_from([(1, 2), (2, 3)])
    g.nodes[1]["intake"] = 1.0
    g.nodes[3]["excretion"] = 2.0
    net = Network.from_networkx(g)
    assert net.name == "plain"
    assert net.nodes == ("1", "2", "3")
    assert net.weight.tolist() == [1.0, 1.0]
    assert net.intake.tolist() == [1.0, 0.0, 0.0]
    assert net.excretion.tolist() == [0.0, 0.0, 2.0]
    g2 = net.to_networkx()
    assert g2.edges["1", "2"]["weight"] == 1.0 and g2.nodes["3"]["excretion"] == 2.0


@settings(max_examples=80, deadline=None)
@given(networks())
def test_json_and_dict_round_trips_are_exact(net):
    assert Network.from_dict(net.to_dict()) == net
    text = net.to_json()
    back = Network.from_json(text)
    assert back == net and back.nodes == net.nodes
    assert back.weight.tobytes() == net.weight.tobytes()


def test_json_schema_and_errors():
    net = chain()
    data = net.to_dict()
    assert data["schema"] == "sbmleq.core.network" and data["version"] == JSON_SCHEMA_VERSION == 1
    assert data["nodes"] == ["a", "b", "c"]
    assert data["edges"] == [["a", "b", 1.0], ["a", "c", 3.0], ["b", "c", 1.5]]
    assert data["intake"] == {"a": 2.0} and data["excretion"] == {"c": 0.5}
    assert json.loads(net.to_json()) == data
    assert Network.from_dict(data).name == "chain"
    with pytest.raises(NetworkError, match="schema"):
        Network.from_dict({"nodes": []})
    with pytest.raises(NetworkError, match="newer"):
        Network.from_dict({**data, "version": JSON_SCHEMA_VERSION + 1})
    with pytest.raises(NetworkError, match="malformed"):
        Network.from_dict({"schema": "sbmleq.core.network", "version": 1, "edges": []})
    with pytest.raises(NetworkError, match="malformed"):
        Network.from_json("{not json")
    bad = {**data, "edges": [["a", "b", -2.0]]}
    with pytest.raises(NetworkError, match="> 0"):
        Network.from_dict(bad)


# ---------------------------------------------------------------------- identity
def test_equality_and_hashing_deduplicate_in_a_set():
    a = chain()
    b = Network.from_edges([("a", "c", 3.0), ("b", "c", 1.5), ("a", "b")],
                           intake={"a": 2.0}, excretion={"c": 0.5}, nodes=["a", "b", "c"],
                           name="other name")
    c = a.with_parameters(weight=a.weight * 2)
    assert a == b and hash(a) == hash(b)
    assert a.structure_digest() == b.structure_digest()
    assert a != c and a.structure_digest() != c.structure_digest()
    assert len({a, b, c, chain()}) == 2
    assert a != "not a network"
    renamed = Network(("p", "q", "r"), a.src, a.dst, a.weight, a.intake, a.excretion)
    assert renamed != a  # node ids are part of the identity ...
    assert renamed.structure_digest() == a.structure_digest()  # ... but not of the digest


def test_negative_zero_parameters_equal_positive_zero():
    a = Network.from_arrays(2, [0], [1], [1.0], [1.0, 0.0], [0.0, 1.0])
    b = Network.from_arrays(2, [0], [1], [1.0], [1.0, -0.0], [-0.0, 1.0])
    assert a == b and hash(a) == hash(b) and a.structure_digest() == b.structure_digest()


@settings(max_examples=40, deadline=None)
@given(networks())
def test_copies_are_equal_and_hash_alike(net):
    twin = Network(net.nodes, net.src.copy(), net.dst.copy(), net.weight.copy(),
                   net.intake.copy(), net.excretion.copy())
    assert twin == net and hash(twin) == hash(net)
    assert len({net, twin}) == 1


# ---------------------------------------------------------------------- matrices and rhs
@settings(max_examples=60, deadline=None)
@given(networks(values=st.floats(1e-3, 1e3)))
def test_dense_and_sparse_matrices_agree(net):
    assert np.array_equal(net.weight_matrix(), net.weight_matrix(sparse=True).toarray())
    assert np.allclose(net.system_matrix(), net.system_matrix(sparse=True).toarray(),
                       rtol=1e-15, atol=0)
    w = net.weight_matrix()
    assert np.allclose(net.out_rate(), w.sum(axis=1))
    # Columns of J sum to minus the excretion rates: what leaves a node along an edge arrives.
    assert np.allclose(net.system_matrix().sum(axis=0), -net.excretion, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(networks(values=st.floats(1e-3, 1e3)), st.randoms(use_true_random=False))
def test_rhs_matches_the_system_matrix(net, rnd):
    x = np.array([rnd.uniform(0, 10) for _ in range(net.n_nodes)])
    expected = net.system_matrix() @ x + net.intake
    assert np.allclose(net.rhs(x), expected, rtol=1e-12, atol=1e-9)


def test_rhs_by_hand():
    net = chain()  # a->b (1), a->c (3), b->c (1.5); intake a = 2, excretion c = 0.5
    x = np.array([1.0, 2.0, 4.0])
    # da = 2 - 4*1; db = 1*1 - 1.5*2; dc = 3*1 + 1.5*2 - 0.5*4
    assert net.rhs(x).tolist() == [-2.0, -2.0, 4.0]
    assert net.rhs([0.5, 1 / 3, 4.0]) == pytest.approx([0.0, 0.0, 0.0])


def test_accessors():
    net = chain()
    assert net.index("b") == 1
    with pytest.raises(KeyError):
        net.index("nope")
    assert net.intake_nodes.tolist() == [0] and net.excreting_nodes.tolist() == [2]
    assert net.out_rate().tolist() == [4.0, 1.5, 0.0]
    assert "chain" in repr(net) and "edges=3" in repr(net)
    assert Network.from_arrays(2, [0], [1], [1.0], [1, 0], [0, 1]).nodes == ("x0", "x1")
    same = net.with_parameters()
    assert same == net and same.name == net.name
