"""The exact steady state from the initial state (closed pools), checked against the dynamics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from sbmleq.core.exact import solve_equilibrium
from sbmleq.core.generators import GeneratorConfig, generate
from sbmleq.core.network import Network
from sbmleq.core.steady import SteadyStatus, steady_state, steady_states
from sbmleq.errors import NetworkError


def simulate(net: Network, x0: np.ndarray, t: float) -> np.ndarray:
    """x(t) of dx/dt = phi + A x exactly, by the exponential of the augmented matrix."""
    n = net.n_nodes
    m = np.zeros((n + 1, n + 1))
    m[:n, :n] = np.asarray(net.system_matrix())
    m[:n, n] = net.intake
    return (scipy.linalg.expm(m * t) @ np.append(x0, 1.0))[:n]


def test_closed_pool_redistributes_its_initial_mass():
    net = Network.from_edges([("a", "b", 1.0), ("b", "a", 2.0)], intake={}, excretion={})
    s = steady_state(net, [3.0, 0.0])
    assert s.status is SteadyStatus.CONSERVED and s.settles
    np.testing.assert_allclose(s.concentrations, [2.0, 1.0], rtol=1e-12)
    assert s.conserved_totals() == [{"species": ["a", "b"], "total": 3.0, "initial": 3.0,
                                     "unbounded": False}]
    assert s.residual < 1e-12


def test_transient_mass_flows_into_the_pool():
    # c drains to d (excreted) and to the pool {a, b}: the pool keeps 1/3 of c's initial 3.
    net = Network.from_edges([("a", "b", 1.0), ("b", "a", 2.0), ("c", "a", 0.5), ("c", "d", 1.0)],
                             intake={}, excretion={"d": 1.0})
    s = steady_state(net, [1.0, 0.0, 3.0, 0.0])
    assert s.status is SteadyStatus.CONSERVED
    np.testing.assert_allclose(s.concentrations, [4 / 3, 2 / 3, 0.0, 0.0], atol=1e-12)
    assert s.pools[0].total == pytest.approx(2.0) and s.pools[0].initial == pytest.approx(1.0)


def test_fed_pool_is_unbounded_and_has_no_values():
    net = Network.from_edges([("a", "b", 1.0), ("b", "a", 2.0), ("c", "a", 0.5)],
                             intake={"c": 1.0}, excretion={})
    s = steady_state(net, [1.0, 0.0, 0.0])
    assert s.status is SteadyStatus.UNBOUNDED and not s.settles
    assert np.isnan(s.concentrations).all()
    assert s.conserved_totals()[0]["unbounded"] is True


def test_network_without_pools_matches_the_unique_equilibrium():
    for net in generate(GeneratorConfig(n_min=2, n_max=20, redeem=1.0), 40, seed=3):
        exact = solve_equilibrium(net)
        if not exact.exists:
            continue
        s = steady_state(net, np.full(net.n_nodes, 5.0))  # the initial state does not matter
        assert s.status is SteadyStatus.UNIQUE
        np.testing.assert_allclose(s.concentrations, exact.concentrations, rtol=1e-9, atol=1e-12)


def test_batch_agrees_with_the_dynamics():
    """Random networks (many with closed pools): the batched answer is the long-time limit."""
    rng = np.random.default_rng(7)
    nets = generate(GeneratorConfig(n_min=2, n_max=12, excretions=(0, 2), intakes=(0, 2),
                                    weights="loguniform", edge_factor=(0.8, 1.6)), 120, seed=11)
    x0s = [rng.uniform(0, 2, net.n_nodes) for net in nets]
    states = steady_states(nets, x0s)
    assert len(states) == len(nets)
    kinds = {s.status for s in states}
    assert kinds == set(SteadyStatus)  # the sample covers every case
    checked = 0
    for net, x0, s in zip(nets, x0s, states):
        alone = steady_state(net, x0)
        assert alone.status is s.status
        np.testing.assert_allclose(alone.concentrations, s.concentrations, rtol=1e-9, atol=1e-12)
        if not s.settles:
            late = simulate(net, x0, 1e4)
            assert late.sum() > simulate(net, x0, 1e3).sum() + 1e-6  # still growing
            continue
        rates = np.concatenate([net.weight, net.excretion[net.excretion > 0]])
        t = 200.0 / rates.min()
        late, later = simulate(net, x0, t), simulate(net, x0, 2 * t)
        if not np.allclose(late, later, rtol=1e-9, atol=1e-12):
            continue  # too slow to settle in the reference itself
        np.testing.assert_allclose(s.concentrations, later, rtol=1e-6, atol=1e-9)
        checked += 1
    assert checked >= 45  # 52 with this seed; the others settle too slowly for the reference


def test_bad_initial_state_names_the_node():
    net = Network.from_edges([("a", "b", 1.0)], intake={}, excretion={})
    with pytest.raises(NetworkError, match="b: initial value must be finite and >= 0"):
        steady_state(net, [1.0, -1.0])
    with pytest.raises(NetworkError, match="needs 2 values"):
        steady_state(net, [1.0])


def test_dense_and_sparse_paths_agree(monkeypatch):
    import sbmleq.core.steady as steady_module

    rng = np.random.default_rng(5)
    nets = generate(GeneratorConfig(n_min=2, n_max=30, excretions=(0, 2), intakes=(0, 2),
                                    weights="loguniform", edge_factor=(0.8, 1.6)), 60, seed=4)
    x0s = [rng.uniform(0, 2, net.n_nodes) for net in nets]
    monkeypatch.setattr(steady_module, "DENSE_MAX", 10**9)
    dense = steady_states(nets, x0s)
    monkeypatch.setattr(steady_module, "DENSE_MAX", 0)
    sparse = steady_states(nets, x0s)
    for a, b in zip(dense, sparse):
        assert a.status is b.status
        assert sorted(p.nodes for p in a.pools) == sorted(p.nodes for p in b.pools)
        np.testing.assert_allclose(a.concentrations, b.concentrations, rtol=1e-9, atol=1e-12)
