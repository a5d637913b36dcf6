"""Compiled rate laws: values, batching, exact Jacobians, torch parity, deep and large models."""

import math

import numpy as np
import pytest

from sbmleq.core.compile import compile_expressions, compile_network
from sbmleq.core.expr import add, call, diff, div, evaluate, mul, num, power, sub, sym
from sbmleq.core.infix import to_infix
from sbmleq.core.reactions import RateRule, Reaction, ReactionNetwork, Species
from sbmleq.errors import NetworkError

S, E, ES, P = map(sym, ["S", "E", "ES", "P"])


def enzyme_network() -> ReactionNetwork:
    return ReactionNetwork(
        species=(Species("S", "c", 10), Species("E", "c", 1), Species("ES", "c", 0),
                 Species("P", "c", 0), Species("X", "c", 2, boundary=True)),
        reactions=(
            Reaction("bind", (("S", 1), ("E", 1)), (("ES", 1),),
                     sub(mul("c", "kf", S, E), mul("c", "kr", ES)), reversible=True),
            Reaction("cat", (("ES", 1),), (("E", 1), ("P", 1)), mul("c", "kc", ES)),
            Reaction("deg", (("P", 1),), (), div(mul("c", "Vm", P, "X"), add("Km", P))),
            Reaction("in", (), (("S", 1),), mul("c", "k0"))),
        parameters={"kf": 1, "kr": 0.5, "kc": 2, "Vm": 3, "Km": 0.7, "k0": 1.5},
        compartments={"c": 2.0}, name="enzyme")


def fd_jacobian(cn, x, p=None, h=1e-6):
    cols = []
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h * max(1.0, abs(x[i]))
        cols.append((cn.rhs(x + e, p) - cn.rhs(x - e, p)) / (2 * e[i]))
    return np.stack(cols, axis=1)


def test_rhs_matches_hand_written_odes():
    net = enzyme_network()
    cn = compile_network(net)
    s, e, es, p = 10.0, 1.0, 0.0, 0.0
    bind = 2 * (1 * s * e - 0.5 * es)
    cat = 2 * 2 * es
    deg = 2 * 3 * p * 2 / (0.7 + p)
    inflow = 2 * 1.5
    expected = np.array([-bind + inflow, -bind + cat, bind - cat, cat - deg]) / 2.0
    np.testing.assert_allclose(cn.rhs(cn.x0), expected, rtol=1e-14)
    assert cn.state_ids == ("S", "E", "ES", "P")
    assert "X" in cn.parameter_ids and "c" in cn.parameter_ids


def test_jacobian_is_exact_and_batched():
    cn = compile_network(enzyme_network())
    rng = np.random.default_rng(0)
    X = rng.uniform(0.1, 5, size=(50, 4))
    Pm = cn.p0 * rng.uniform(0.5, 2, size=(50, 1))
    J = cn.jacobian(X, Pm)
    assert J.shape == (50, 4, 4)
    for k in (0, 17, 49):
        np.testing.assert_allclose(J[k], fd_jacobian(cn, X[k], Pm[k]), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(cn.rhs(X, Pm)[k], cn.rhs(X[k], Pm[k]), rtol=1e-15)
    # one parameter set broadcast over many states, and the sparse path
    np.testing.assert_allclose(cn.jacobian(X)[3], cn.jacobian(X[3]), rtol=1e-15)
    np.testing.assert_allclose(cn.jacobian(X[3], sparse=True).toarray(), cn.jacobian(X[3]))


def test_compartment_size_is_read_from_parameters():
    cn = compile_network(enzyme_network())
    p = cn.p0.copy()
    p[cn.parameter_ids.index("c")] = 4.0  # every law is c * (...): rhs is unchanged
    np.testing.assert_allclose(cn.rhs(cn.x0, p), cn.rhs(cn.x0), rtol=1e-14)


def test_torch_matches_numpy():
    torch = pytest.importorskip("torch")
    cn = compile_network(enzyme_network())
    X = np.random.default_rng(1).uniform(0.1, 3, size=(6, 4))
    xt = torch.tensor(X, dtype=torch.float64)
    np.testing.assert_allclose(cn.torch_rhs(xt).numpy(), cn.rhs(X), rtol=1e-13)
    np.testing.assert_allclose(cn.torch_jacobian(xt).numpy(), cn.jacobian(X), rtol=1e-12,
                               atol=1e-14)


def test_every_operator_compiles_like_evaluate():
    a, b = sym("a"), sym("b")
    exprs = [call(f, a) for f in ("exp", "ln", "log10", "abs", "floor", "ceil", "sin", "cos",
                                  "tan", "sinh", "cosh", "tanh", "arctan")]
    exprs += [call("arcsin", mul(0.1, a)), call("arccos", mul(0.1, a)), power(a, b),
              power(a, 0.5), power(a, -1), power(a, 2), call("min", a, b, 1.5),
              call("max", a, b), call("piecewise", a, call("lt", a, b), b, call("gt", a, 2), 7.0),
              call("and", call("lt", a, b), call("ge", b, 1)), call("not", call("eq", a, b)),
              call("xor", call("le", a, 1), call("ne", b, 2)), call("or", a, 0.0)]
    _, f = compile_expressions(exprs, ["a"], ["b"])
    from sbmleq.core.compile import NumpyOps
    for av, bv in ((0.5, 2.0), (3.0, 1.0), (2.5, 2.5)):
        got = f(np.array([av]), np.array([bv]), NumpyOps)
        for e, g in zip(exprs, got):
            want = evaluate(e, {"a": av, "b": bv})
            assert float(np.asarray(g).reshape(-1)[0]) == pytest.approx(want, rel=1e-14), \
                to_infix(e)


def test_symbolic_derivatives():
    x, k, n = sym("x"), sym("k"), sym("n")
    hill = div(power(x, n), add(power(k, n), power(x, n)))
    env = {"x": 1.3, "k": 0.8, "n": 2.5}
    h = 1e-7
    fd = (evaluate(hill, {**env, "x": 1.3 + h}) - evaluate(hill, {**env, "x": 1.3 - h})) / (2 * h)
    assert evaluate(diff(hill, "x"), env) == pytest.approx(fd, rel=1e-7)
    assert diff(mul(3, x, x), "x") == mul(6, x)
    assert diff(num(2.0), "x") == num(0.0)


def test_rate_rules_are_state():
    net = ReactionNetwork(
        species=(Species("A", "c", 1.0),),
        reactions=(Reaction("deg", (("A", 1),), (), mul("kd", "A", "c")),),
        parameters={"kd": 0.5, "z": 3.0}, compartments={"c": 1.0},
        rate_rules=(RateRule("z", sub(sym("A"), sym("z"))),))
    cn = compile_network(net)
    assert cn.state_ids == ("A", "z")
    np.testing.assert_allclose(cn.rhs(cn.x0), [-0.5, -2.0])
    np.testing.assert_allclose(cn.jacobian(cn.x0), [[-0.5, 0.0], [1.0, -1.0]])
    assert net.conservation.count == 0


def test_large_chain_compiles_and_runs_sparse():
    n = 3000
    species = tuple(Species(f"s{i}", "c", 1.0) for i in range(n))
    reactions = tuple(Reaction(f"r{i}", ((f"s{i}", 1),), ((f"s{i + 1}", 1),),
                               div(mul("V", f"s{i}"), add("K", f"s{i}"))) for i in range(n - 1))
    net = ReactionNetwork(species, reactions, {"V": 1.0, "K": 0.5}, {"c": 1.0})
    cn = compile_network(net)
    J = cn.jacobian(cn.x0)
    assert J.shape == (n, n) and J.nnz == 2 * (n - 1)
    assert cn.rhs(cn.x0)[0] == pytest.approx(-1 / 1.5)


def test_deep_expression_does_not_hit_recursion_limits():
    e = sym("a")
    for k in range(3000):
        e = call("exp", mul(0.0001, e)) if k % 2 else add(e, 1.0)
    _, f = compile_expressions([e], ["a"], [])
    from sbmleq.core.compile import NumpyOps
    assert math.isfinite(float(f(np.array([0.1]), np.array([]), NumpyOps)[0]))


def test_network_validation_names_the_element():
    with pytest.raises(NetworkError, match="deg"):
        ReactionNetwork((Species("A", "c", 1.0),),
                        (Reaction("deg", (("A", 1),), (), mul("kd", "A")),), {}, {"c": 1.0})
    with pytest.raises(NetworkError, match="species A"):
        ReactionNetwork((Species("A", "c", -1.0),), (), {}, {"c": 1.0})


def test_infix_is_readable():
    x, k = sym("S1"), sym("Km")
    assert to_infix(div(mul("Vm", x), add(k, x))) == "Vm*S1/(Km + S1)"
    assert to_infix(sub(sym("a"), mul(2, sym("b")))) == "a - 2*b"
