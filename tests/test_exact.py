"""The exact solver: existence as the paper decides it, statuses, solutions, batched paths, KEGG."""

from __future__ import annotations

import json
import math
from importlib import resources

import networkx as nx
import numpy as np
import pytest

from sbmleq import Network
from sbmleq.core.exact import (
    DenseBatch,
    EquilibriumStatus,
    batch_reaches_excretion,
    equilibrium_exists,
    equilibrium_status,
    label_raw_batch,
    reachable_from_intake,
    reaches_excretion,
    relative_residual,
    solve_batch,
    solve_dense_batch,
    solve_equilibrium,
)
from sbmleq.core.generators import GENERATORS, GeneratorConfig, sample_batch, sample_network

EXIT = "__excretion__"


def random_networks(count: int, seed: int, **overrides) -> list[Network]:
    """A mix of families, sizes 1-20, 0-3 intakes and excretions: all three statuses occur."""
    rng = np.random.default_rng(seed)
    families = sorted(GENERATORS)
    out = []
    for k in range(count):
        cfg = GeneratorConfig(**{"family": families[k % len(families)], "n_min": 1, "n_max": 20,
                                 "intakes": (0, 3), "excretions": (0, 3),
                                 "edge_factor": (0.5, 3.0), **overrides})
        out.append(sample_network(cfg, rng).to_network())
    return out


def paper_exists(net: Network) -> bool:
    """The paper's code, literally: per node ``nx.has_path`` to the (merged) excretion node."""
    g = net.to_networkx()
    g.add_node(EXIT)
    for k in net.excreting_nodes:
        g.add_edge(net.nodes[k], EXIT)
    return all(nx.has_path(g, node, EXIT) for node in net.nodes)


def reference_status(net: Network) -> EquilibriumStatus:
    g = net.to_networkx()
    g.add_node(EXIT)
    for k in net.excreting_nodes:
        g.add_edge(net.nodes[k], EXIT)
    stuck = {v for v in net.nodes if not nx.has_path(g, v, EXIT)}
    if not stuck:
        return EquilibriumStatus.UNIQUE
    fed = set()
    for k in net.intake_nodes:
        fed |= {net.nodes[k]} | nx.descendants(g, net.nodes[k])
    return EquilibriumStatus.UNBOUNDED if stuck & fed else EquilibriumStatus.NON_UNIQUE


@pytest.fixture(scope="module")
def mixed() -> list[Network]:
    return random_networks(600, seed=11)


# ---------------------------------------------------------------------- existence
def test_existence_matches_the_papers_per_node_has_path(mixed):
    labels = [paper_exists(net) for net in mixed]
    assert 0.2 < np.mean(labels) < 0.8  # both classes well represented
    assert [equilibrium_exists(net) for net in mixed] == labels
    assert [solve_equilibrium(net).exists for net in mixed] == labels
    exists, _ = solve_batch(mixed)
    assert exists.tolist() == labels
    raws = [(n.n_nodes, n.src, n.dst, n.weight, n.intake, n.excretion) for n in mixed]
    assert label_raw_batch(raws)[0].tolist() == labels
    assert solve_dense_batch(DenseBatch.from_networks(mixed))[0].tolist() == labels


def test_status_matches_a_networkx_reference(mixed):
    statuses = [equilibrium_status(net) for net in mixed]
    assert statuses == [reference_status(net) for net in mixed]
    assert set(statuses) == set(EquilibriumStatus)  # all three occur in the mix
    for net in mixed[:200]:
        g = net.to_networkx()
        fed = set()
        for k in net.intake_nodes:
            fed |= {net.nodes[k]} | nx.descendants(g, net.nodes[k])
        assert reachable_from_intake(net).tolist() == [v in fed for v in net.nodes]


def test_per_node_drains_agree_across_paths(mixed):
    n_max = max(net.n_nodes for net in mixed)
    raws = [(n.n_nodes, n.src, n.dst, n.weight, n.intake, n.excretion) for n in mixed]
    _, _, drains = label_raw_batch(raws, n_max=n_max, with_drains=True)
    dense = DenseBatch.from_networks(mixed, n_max=n_max)
    padded = batch_reaches_excretion(dense.weight, dense.excretion, dense.n_nodes)
    for k, net in enumerate(mixed):
        ref = reaches_excretion(net)
        assert drains[k, : net.n_nodes].tolist() == ref.tolist()
        assert not drains[k, net.n_nodes:].any()
        assert padded[k, : net.n_nodes].tolist() == ref.tolist()
        assert padded[k, net.n_nodes:].all()  # padding counts as draining there


# ---------------------------------------------------------------------- the three statuses
def test_unique():
    net = Network.from_edges([("a", "b"), ("b", "c", 2.0), ("a", "c")], {"a": 3.0}, {"c": 0.5})
    eq = solve_equilibrium(net)
    assert eq.status is EquilibriumStatus.UNIQUE and eq.exists
    # a: 3 = 2 x_a; b: x_a = 2 x_b; c: x_a + 2 x_b = 0.5 x_c
    assert eq.concentrations == pytest.approx([1.5, 0.75, 6.0], rel=1e-14)
    assert eq.as_dict() == pytest.approx({"a": 1.5, "b": 0.75, "c": 6.0}, rel=1e-14)
    assert eq.residual < 1e-15


def test_unbounded():
    # b is fed (downstream of the intake) but cannot reach the excretion of c.
    net = Network.from_edges([("a", "b"), ("a", "c")], {"a": 1.0}, {"c": 1.0})
    eq = solve_equilibrium(net)
    assert eq.status is EquilibriumStatus.UNBOUNDED and not eq.exists
    assert np.isnan(eq.concentrations[1])
    # a and c still drain and have their (unique) values: a loses 2 x_a = 1, c gets x_a.
    assert eq.concentrations[[0, 2]] == pytest.approx([0.5, 0.5])


def test_neither_fed_nor_drained_is_non_unique():
    # d -> e is a closed pocket: no inflow, no way out. Mass there stays where it is.
    net = Network.from_edges([("a", "b"), ("b", "c"), ("d", "e"), ("e", "d", 2.0)],
                             {"a": 2.0}, {"c": 4.0}, nodes=list("abcde"))
    eq = solve_equilibrium(net)
    assert eq.status is EquilibriumStatus.NON_UNIQUE
    assert not eq.exists and not equilibrium_exists(net)  # the paper: "no equilibrium"
    x = eq.concentrations
    assert x[:3] == pytest.approx([2.0, 2.0, 0.5])  # the draining nodes are solved
    assert np.isnan(x[3:]).all()  # the pocket is not determined
    assert eq.residual < 1e-15
    # The batched paths give the label only: no concentrations for any node.
    exists, xs = solve_batch([net])
    assert not exists[0] and np.isnan(xs[0]).all()


def test_no_excretion_at_all():
    fed = Network.from_edges([("a", "b")], {"a": 1.0}, {})
    assert equilibrium_status(fed) is EquilibriumStatus.UNBOUNDED
    assert np.isnan(solve_equilibrium(fed).concentrations).all()
    closed = Network.from_edges([("a", "b")], {}, {})
    assert equilibrium_status(closed) is EquilibriumStatus.NON_UNIQUE


def test_single_nodes_and_zero_intake():
    one = Network.from_arrays(1, [], [], [], [2.0], [4.0])
    assert solve_equilibrium(one).concentrations.tolist() == [0.5]
    quiet = Network.from_edges([("a", "b")], {}, {"b": 1.0})
    eq = solve_equilibrium(quiet)
    assert eq.exists and eq.concentrations.tolist() == [0.0, 0.0] and eq.residual == 0.0
    assert relative_residual(quiet, np.zeros(2)) == 0.0


# ---------------------------------------------------------------------- solutions
@pytest.mark.parametrize("weights,decades", [("unit", 2.0), ("integer", 2.0),
                                             ("loguniform", 2.0), ("loguniform", 4.0)])
def test_residual_flows_and_mass_balance(weights, decades):
    nets = random_networks(150, seed=5, weights=weights, decades=decades, redeem=0.7)
    solved = 0
    for net in nets:
        eq = solve_equilibrium(net)
        drains = reaches_excretion(net)
        x = eq.concentrations
        assert np.isfinite(x[drains]).all() and np.isnan(x[~drains]).all()
        assert eq.residual < 1e-9
        if not eq.exists:
            continue
        solved += 1
        assert (x >= 0).all()
        scale = max(np.abs(net.intake).max(), np.abs((net.out_rate() + net.excretion) * x).max())
        assert np.abs(net.rhs(x)).max() <= 1e-9 * max(scale, 1e-300)
        assert np.array_equal(eq.edge_flows(), net.weight * x[net.src])
        assert np.array_equal(eq.excretion_flows(), net.excretion * x)
        # What comes in goes out: total intake equals total excretion flux. (Edge terms cancel
        # in the sum of the rhs, so the mismatch is at most n residuals of the largest flux.)
        mismatch = abs(eq.excretion_flows().sum() - net.intake.sum())
        assert mismatch <= 1e-9 * net.n_nodes * scale
        if decades <= 2.0:
            assert eq.excretion_flows().sum() == pytest.approx(net.intake.sum(), rel=1e-9, abs=0)
    assert solved > 60


@pytest.mark.parametrize("weights", ["unit", "integer", "loguniform"])
def test_batched_solvers_equal_the_sparse_solve(weights):
    nets = random_networks(300, seed=21, weights=weights, decades=2.0, redeem=0.6)
    exists, xs = solve_batch(nets)
    dense_exists, dense_x = solve_dense_batch(DenseBatch.from_networks(nets))
    raws = [(n.n_nodes, n.src, n.dst, n.weight, n.intake, n.excretion) for n in nets]
    raw_exists, raw_x = label_raw_batch(raws)
    assert np.array_equal(exists, dense_exists) and np.array_equal(exists, raw_exists)
    for k, net in enumerate(nets):
        eq = solve_equilibrium(net)
        assert exists[k] == eq.exists
        n = net.n_nodes
        assert np.isnan(dense_x[k, n:]).all() and np.isnan(raw_x[k, n:]).all()
        if not eq.exists:
            assert np.isnan(xs[k]).all() and np.isnan(dense_x[k]).all()
            continue
        ref = eq.concentrations
        tol = 1e-9 * max(ref.max(), 1e-300)
        assert np.allclose(xs[k], ref, rtol=1e-9, atol=tol)
        assert np.allclose(dense_x[k, :n], ref, rtol=1e-9, atol=tol)
        assert np.array_equal(raw_x[k, :n], xs[k])


def test_label_raw_batch_on_generated_batches():
    for cfg in (GeneratorConfig(), GeneratorConfig(weights="integer", intakes=(1, 3),
                                                   excretions=(1, 3), redeem=0.4)):
        batch = sample_batch(cfg, np.random.default_rng(3), 400)
        exists, x, drains = label_raw_batch(batch, n_max=70, with_drains=True)
        assert x.shape == (400, 70) and drains.shape == (400, 70)
        assert label_raw_batch(list(batch), n_max=70)[0].tolist() == exists.tolist()
        nets = [raw.to_network() for raw in batch]
        for k, net in enumerate(nets):
            eq = solve_equilibrium(net)
            assert eq.exists == exists[k]
            assert drains[k, : net.n_nodes].tolist() == reaches_excretion(net).tolist()
            if eq.exists:
                assert relative_residual(net, x[k, : net.n_nodes]) < 1e-12
                assert np.allclose(x[k, : net.n_nodes], eq.concentrations, rtol=1e-9, atol=0)


def test_n_max_smaller_than_a_network_is_refused():
    raws = [(3, np.array([0, 1]), np.array([1, 2]), np.ones(2), np.array([1.0, 0, 0]),
             np.array([0, 0, 1.0]))]
    assert label_raw_batch(raws, n_max=5)[1].shape == (1, 5)
    with pytest.raises(ValueError, match="n_max"):
        label_raw_batch(raws, n_max=2)
    with pytest.raises(ValueError, match="n_max"):
        DenseBatch.from_raw(raws, n_max=2)


def test_empty_batches():
    exists, xs = solve_batch([])
    assert exists.shape == (0,) and xs == []
    exists, x = label_raw_batch([])
    assert exists.shape == (0,) and x.shape == (0, 0)


# ---------------------------------------------------------------------- the 51 KEGG networks
def kegg() -> dict:
    return json.loads(resources.files("sbmleq").joinpath("data/kegg51.json").read_text())


def kegg_network(rec: dict) -> Network:
    return Network.from_edges([tuple(e) for e in rec["edges"]],
                              {int(k): v for k, v in rec["intake"].items()},
                              {int(k): v for k, v in rec["excretion"].items()},
                              nodes=list(range(rec["n_nodes"])), name=rec["title"])


def test_kegg51_labels_and_concentrations():
    data = kegg()
    assert "LIFE-AI" in data["source"]
    recs = data["networks"]
    assert len(recs) == 51 and sum(r["equilibrium_exists"] for r in recs) == 32
    nets = [kegg_network(r) for r in recs]
    exists, xs = solve_batch(nets)
    values = 0
    for rec, net, batch_exists, batch_x in zip(recs, nets, exists, xs):
        eq = solve_equilibrium(net)
        assert eq.exists == rec["equilibrium_exists"] == batch_exists == paper_exists(net), \
            rec["title"]
        if not rec["equilibrium_exists"]:
            assert rec.get("concentrations") is None
            continue
        stored = rec["concentrations"]
        assert len(stored) == net.n_nodes
        for ours, batched, theirs in zip(eq.concentrations, batch_x, stored):
            # The dataset keeps 5 significant digits.
            rounded = float(f"{ours:.5g}")
            assert math.isclose(rounded, theirs, rel_tol=1e-12, abs_tol=0), rec["title"]
            assert batched == pytest.approx(ours, rel=1e-12, abs=1e-300)
            values += 1
    assert values == sum(r["n_nodes"] for r in recs if r["equilibrium_exists"])
