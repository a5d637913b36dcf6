"""Property-based cross-check: roadrunner (via SBML export) against the exact LIFE solver.

Random networks of 2-20 nodes, rates log-uniform over 2 decades, 1-3 intakes and 1-3
excretions, are written as SBML, solved by roadrunner in this process and compared with
:func:`sbmleq.core.exact.solve_equilibrium`:

- a unique equilibrium: roadrunner must find it (``converged_stable``, ``unique``) within 1e-6
  relative on every node;
- no unique equilibrium: roadrunner must not claim a unique stable steady state; unbounded
  growth must come back ``no_steady_state``; where roadrunner settles on one member of a
  family of steady states, the nodes that drain must still match.

``SBMLEQ_CROSSCHECK_EXAMPLES`` sets the number of random networks (default 200); run with
``-s`` to see the worst relative error.
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbmleq.core.exact import EquilibriumStatus, reaches_excretion, solve_equilibrium
from sbmleq.core.generators import GeneratorConfig, generate
from sbmleq.core.network import Network
from sbmleq.solvers.roadrunner import RRStatus, solve_network_rr

EXAMPLES = int(os.environ.get("SBMLEQ_CROSSCHECK_EXAMPLES", "200"))
TOLERANCE = 1e-6
WORST = {"error": 0.0}
SEEN: Counter[str] = Counter()  # "exact status -> roadrunner status"


@st.composite
def networks(draw: st.DrawFn) -> Network:
    n = draw(st.integers(2, 20))
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    m = draw(st.integers(0, min(len(pairs), 3 * n)))
    edges = draw(st.lists(st.sampled_from(pairs), min_size=m, max_size=m, unique=True))
    rate = st.floats(-1.0, 1.0).map(lambda u: 10.0 ** u)  # log-uniform over 2 decades
    weights = draw(st.lists(rate, min_size=len(edges), max_size=len(edges)))
    nodes = st.integers(0, n - 1)
    intake_nodes = draw(st.lists(nodes, min_size=1, max_size=min(3, n), unique=True))
    excreting = draw(st.lists(nodes, min_size=1, max_size=min(3, n), unique=True))
    intake, excretion = np.zeros(n), np.zeros(n)
    intake[intake_nodes] = draw(st.lists(rate, min_size=len(intake_nodes),
                                         max_size=len(intake_nodes)))
    excretion[excreting] = draw(st.lists(rate, min_size=len(excreting), max_size=len(excreting)))
    if draw(st.booleans()):  # "redeem" (as the paper's generator): every node gets drained
        net = Network.from_arrays(n, [e[0] for e in edges], [e[1] for e in edges], weights,
                                  intake, excretion)
        for node in np.flatnonzero(~reaches_excretion(net)):
            target = draw(st.sampled_from([int(k) for k in excreting if k != node] or [None]))
            if target is None:  # the node itself excretes: cannot happen, kept for safety
                continue
            if (int(node), target) not in edges:
                edges.append((int(node), target))
                weights.append(draw(rate))
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    return Network.from_arrays(n, src, dst, np.array(weights, dtype=float), intake, excretion)


def relative_error(found: np.ndarray, exact: np.ndarray) -> float:
    """max_i |found_i - exact_i| / |exact_i|, nodes near 0 measured against 1e-9 max|exact|."""
    mask = np.isfinite(exact)
    if not mask.any():
        return 0.0
    scale = np.maximum(np.abs(exact[mask]), 1e-9 * float(np.abs(exact[mask]).max()) + 1e-300)
    return float(np.max(np.abs(found[mask] - exact[mask]) / scale))


def check(net: Network) -> None:
    exact = solve_equilibrium(net)
    result = solve_network_rr(net, timeout=None)
    found = result.values(net.nodes)
    SEEN[f"{exact.status.value} -> {result.status.value}"] += 1
    if exact.status is EquilibriumStatus.UNIQUE:
        assert result.status is RRStatus.CONVERGED_STABLE and result.unique, result.message
        error = relative_error(found, exact.concentrations)
        WORST["error"] = max(WORST["error"], error)
        assert error <= TOLERANCE, (error, result.stage, result.message)
        return
    assert not (result.status is RRStatus.CONVERGED_STABLE and result.unique), result.message
    if exact.status is EquilibriumStatus.UNBOUNDED:
        assert result.status is RRStatus.NO_STEADY_STATE, result.message
    elif result.converged:  # one member of the family: the draining nodes are still exact
        assert relative_error(found, exact.concentrations) <= TOLERANCE, result.message


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(networks())
def test_roadrunner_matches_exact_solver(net: Network) -> None:
    check(net)


@pytest.mark.parametrize("family", ["gnm", "small_world", "scale_free"])
def test_generated_networks(family: str) -> None:
    cfg = GeneratorConfig(family=family, n_min=2, n_max=20, weights="loguniform",
                                     intakes=(1, 3), excretions=(1, 3), redeem=0.4)
    for net in generate(cfg, 15, seed=7):
        check(net)


def test_known_cases() -> None:
    unique = Network.from_edges([("a", "b", 2.0), ("b", "a", 0.5), ("b", "c", 1.0)],
                                {"a": 1.0}, {"c": 0.3})
    closed = Network.from_edges([("x0", "x1"), ("x2", "x3"), ("x3", "x2", 2.0)],
                                {"x0": 1.0}, {"x1": 0.5})  # x2 <-> x3: a conserved moiety
    sink = Network.from_edges([("x0", "x1"), ("a", "u"), ("a", "x1")],
                              {"x0": 1.0}, {"x1": 0.5})  # u: no outflow, singular Jacobian
    unbounded = Network.from_edges([("x0", "x1"), ("x0", "u")], {"x0": 1.0}, {"x1": 0.5})
    for net in (unique, closed, sink, unbounded):
        check(net)
    assert solve_network_rr(closed, timeout=None).status is RRStatus.CONVERGED_STABLE
    assert solve_network_rr(unbounded, timeout=None).status is RRStatus.NO_STEADY_STATE


def test_report_worst_error() -> None:
    """Runs last: print what the cross-check saw (``pytest -s`` shows it)."""
    print(f"\ncross-check of {sum(SEEN.values())} networks (exact -> roadrunner): "
          f"{dict(sorted(SEEN.items()))}; worst relative error on unique equilibria "
          f"{WORST['error']:.3g}")
    assert WORST["error"] <= TOLERANCE
