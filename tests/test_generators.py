"""Generators: reproducibility, the paper's distributions, redeem, balancing, batched sampling."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from sbmleq.core.exact import equilibrium_exists, label_raw_batch
from sbmleq.core.generators import (
    GENERATORS,
    Balancer,
    GeneratorConfig,
    RawBatch,
    RawNetwork,
    _gnm_batch,
    generate,
    iter_networks,
    sample_batch,
    sample_network,
)

FAMILIES = sorted(GENERATORS)
SMALL = GeneratorConfig(n_min=4, n_max=24)


def stream(cfg: GeneratorConfig, count: int, seed: int) -> list[RawNetwork]:
    rng = np.random.default_rng(seed)
    return [sample_network(cfg, rng) for _ in range(count)]


def check_raw(raw: RawNetwork) -> None:
    """Valid: no self loops, no duplicate edges, indices in range (and Network accepts it)."""
    src, dst = np.asarray(raw.src), np.asarray(raw.dst)
    assert len(src) == len(dst) == len(raw.weight)
    assert (src != dst).all()
    assert ((src >= 0) & (src < raw.n) & (dst >= 0) & (dst < raw.n)).all()
    assert len(set(zip(src.tolist(), dst.tolist()))) == len(src)
    assert raw.intake.shape == raw.excretion.shape == (raw.n,)
    raw.to_network()


def test_families_registered():
    assert {"gnm", "gnp", "small_world", "scale_free"} <= set(GENERATORS)


@pytest.mark.parametrize("family", FAMILIES)
def test_reproducible_by_seed(family):
    cfg = replace(SMALL, family=family, weights="loguniform", redeem=0.4, intakes=(1, 3))
    a, b = generate(cfg, 25, seed=3), generate(cfg, 25, seed=3)
    assert a == b and [x.name for x in a] == [y.name for y in b]
    assert generate(cfg, 25, seed=4) != a
    it = iter_networks(cfg, seed=3)
    assert [next(it).to_network() for _ in range(25)] == a
    x = sample_batch(cfg, np.random.default_rng(9), 30)
    y = sample_batch(cfg, np.random.default_rng(9), 30)
    assert [r.to_network() for r in x] == [r.to_network() for r in y]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("sampler", ["stream", "batch"])
def test_valid_networks_and_node_range(family, sampler):
    cfg = GeneratorConfig(family=family, n_min=1, n_max=6, intakes=(0, 2), excretions=(0, 2),
                          redeem=0.5)
    raws = (stream(cfg, 300, 1) if sampler == "stream"
            else list(sample_batch(cfg, np.random.default_rng(1), 300)))
    sizes = Counter(r.n for r in raws)
    assert set(sizes) == set(range(1, 7))  # both ends of the range are hit
    for raw in raws:
        check_raw(raw)


@pytest.mark.parametrize("sampler", ["stream", "batch"])
def test_gnm_edge_count_is_round_u24_times_n(sampler):
    cfg = GeneratorConfig()  # the paper's setting: 32-64 nodes
    raws = (stream(cfg, 400, 2) if sampler == "stream"
            else list(sample_batch(cfg, np.random.default_rng(2), 400)))
    ratio = np.array([len(r.src) / r.n for r in raws])
    n = np.array([r.n for r in raws])
    assert (n >= 32).all() and (n <= 64).all()
    assert (ratio >= 2.0 - 0.5 / n).all() and (ratio <= 4.0 + 0.5 / n).all()
    assert abs(ratio.mean() - 3.0) < 0.1
    assert ratio.min() < 2.1 and ratio.max() > 3.9  # spread over the whole range


def test_other_families_follow_the_edge_factor_roughly():
    for family in ("gnp", "small_world"):
        raws = stream(replace(GeneratorConfig(), family=family), 200, 3)
        assert 2.3 < np.mean([len(r.src) / r.n for r in raws]) < 3.5, family


@pytest.mark.parametrize("sampler", ["stream", "batch"])
@pytest.mark.parametrize("weights", ["unit", "integer", "loguniform"])
def test_weight_modes(weights, sampler):
    cfg = replace(SMALL, weights=weights, decades=3.0, intakes=(1, 3), excretions=(1, 3))
    raws = (stream(cfg, 150, 4) if sampler == "stream"
            else list(sample_batch(cfg, np.random.default_rng(4), 150)))
    values = np.concatenate([np.concatenate([r.weight, r.intake[r.intake > 0],
                                             r.excretion[r.excretion > 0]]) for r in raws])
    if weights == "unit":
        assert (values == 1.0).all()
    elif weights == "integer":
        assert (values == np.round(values)).all()
        assert values.min() == 1 and values.max() == 99
    else:
        assert values.min() >= 10**-1.5 and values.max() <= 10**1.5
        logs = np.log10(values)
        assert logs.min() < -1.4 and logs.max() > 1.4 and abs(logs.mean()) < 0.1


@pytest.mark.parametrize("sampler", ["stream", "batch"])
def test_intake_and_excretion_counts_in_range(sampler):
    cfg = replace(SMALL, n_min=2, n_max=12, intakes=(1, 3), excretions=(2, 4))
    raws = (stream(cfg, 400, 5) if sampler == "stream"
            else list(sample_batch(cfg, np.random.default_rng(5), 400)))
    k_in = Counter(int((r.intake > 0).sum()) for r in raws)
    k_out = Counter(int((r.excretion > 0).sum()) for r in raws)
    assert set(k_in) == {1, 2, 3}
    assert set(k_out) == {2, 3, 4}
    assert all((r.excretion > 0).sum() <= r.n for r in raws)
    one = list(sample_batch(GeneratorConfig(), np.random.default_rng(5), 50))
    assert all((r.intake > 0).sum() == 1 and (r.excretion > 0).sum() == 1 for r in one)


@pytest.mark.parametrize("family", FAMILIES)
def test_redeem_with_probability_one_always_yields_existence(family):
    cfg = GeneratorConfig(family=family, n_min=2, n_max=40, redeem=1.0, intakes=(1, 3),
                          excretions=(1, 3))
    raws = stream(cfg, 120, 6)
    assert all(equilibrium_exists(r.to_network()) for r in raws)
    batch = sample_batch(cfg, np.random.default_rng(6), 300)
    assert label_raw_batch(batch)[0].all()
    for raw in batch:
        check_raw(raw)


def test_redeem_without_any_excretion_leaves_the_network_alone():
    cfg = GeneratorConfig(n_min=3, n_max=8, excretions=(0, 1), redeem=1.0)
    raws = stream(cfg, 100, 7)
    batch = list(sample_batch(cfg, np.random.default_rng(7), 100))
    for raw in raws + batch:
        check_raw(raw)
        assert equilibrium_exists(raw.to_network()) == bool((raw.excretion > 0).any())


def test_redeem_balances_the_paper_setting():
    exists, _ = label_raw_batch(sample_batch(replace(GeneratorConfig(), redeem=0.4),
                                             np.random.default_rng(8), 2000))
    assert 0.4 < exists.mean() < 0.6  # the paper: about 50% positives
    assert label_raw_batch(sample_batch(GeneratorConfig(), np.random.default_rng(8),
                                        2000))[0].mean() < 0.3


def test_batch_sampler_matches_the_stream_distribution():
    cfg = replace(GeneratorConfig(), n_min=8, n_max=24, intakes=(1, 2), excretions=(1, 2))
    a = stream(cfg, 1500, 10)
    b = sample_batch(cfg, np.random.default_rng(10), 1500)
    for stat in (lambda r: r.n, lambda r: len(r.src) / r.n, lambda r: (r.intake > 0).sum()):
        x, y = np.array([stat(r) for r in a]), np.array([stat(r) for r in b])
        assert abs(x.mean() - y.mean()) < 4 * np.sqrt((x.var() + y.var()) / 1500) + 1e-12
    pa = label_raw_batch(a)[0].mean()
    pb = label_raw_batch(b)[0].mean()
    assert abs(pa - pb) < 4 * np.sqrt(0.25 * 2 / 1500)


def test_batched_gnm_draws_uniform_edge_sets():
    # n = 3: 6 ordered pairs, m = 3 of them: every one of the C(6, 3) = 20 sets equally likely.
    count = 20000
    n = np.full(count, 3)
    counts, src, dst = _gnm_batch(n, np.full(count, 3), np.random.default_rng(12))
    assert (counts == 3).all()
    edges = np.stack([src, dst], axis=1).reshape(count, 3, 2)
    sets = Counter(tuple(sorted(map(tuple, e.tolist()))) for e in edges)
    assert len(sets) == 20
    expected = count / 20
    assert all(abs(c - expected) < 5 * np.sqrt(expected) for c in sets.values())
    pairs = Counter(p for s in sets.elements() for p in s)
    assert set(pairs) == {(i, j) for i, j in itertools.permutations(range(3), 2)}


def test_batched_gnm_handles_complete_and_tiny_graphs():
    n = np.array([1, 2, 3, 5, 40])
    m = np.array([5, 2, 6, 100, 160])  # more than possible: capped at n(n-1)
    counts, src, dst = _gnm_batch(n, m, np.random.default_rng(0))
    assert counts.tolist() == [0, 2, 6, 20, 160]
    off = np.concatenate([[0], np.cumsum(counts)])
    for k in range(len(n)):
        s, d = src[off[k]:off[k + 1]], dst[off[k]:off[k + 1]]
        assert len(set(zip(s.tolist(), d.tolist()))) == counts[k]
        assert (s != d).all() and (s < n[k]).all() and (d < n[k]).all()


def test_raw_batch_is_a_sequence_of_raw_networks():
    batch = sample_batch(GeneratorConfig(n_min=3, n_max=9), np.random.default_rng(1), 10)
    assert isinstance(batch, RawBatch) and len(batch) == 10
    items = list(batch)
    assert len(items) == 10 and all(isinstance(r, RawNetwork) for r in items)
    assert batch[-1].n == items[-1].n and np.array_equal(batch[-1].src, items[-1].src)
    assert [r.n for r in batch[2:5]] == [r.n for r in items[2:5]]
    with pytest.raises(IndexError):
        batch[10]
    assert int(batch.edge_off[-1]) == sum(len(r.src) for r in items)
    assert batch.edge_graph.tolist() == [k for k, r in enumerate(items) for _ in r.src]


def test_balancer_gives_fifty_fifty():
    rng = np.random.default_rng(13)
    for slack in (0, 1, 5):
        bal = Balancer(slack=slack)
        accepted = [bool(x) for x in rng.random(5000) < 0.2 if bal.accept(bool(x))]
        pos = sum(accepted)
        assert abs(pos - (len(accepted) - pos)) <= slack + 1
        assert bal.counts == [len(accepted) - pos, pos]
        assert len(accepted) > 1500
        # at every prefix the classes stay within the slack
        diff = np.cumsum([1 if a else -1 for a in accepted])
        assert np.abs(diff).max() <= slack + 1


def test_config_validation():
    with pytest.raises(ValueError, match="unknown generator family"):
        GeneratorConfig(family="nope")
    with pytest.raises(ValueError, match="weights"):
        GeneratorConfig(weights="gaussian")
    with pytest.raises(ValueError, match="n_min"):
        GeneratorConfig(n_min=5, n_max=4)
    with pytest.raises(ValueError, match="n_min"):
        GeneratorConfig(n_min=0)
    d = GeneratorConfig().to_dict()
    assert d["family"] == "gnm" and (d["n_min"], d["n_max"]) == (32, 64)
    assert d["weights"] == "unit" and d["edge_factor"] == (2.0, 4.0)


def test_size_power_favours_small_networks():
    cfg = GeneratorConfig(n_min=2, n_max=100, size_power=0.3)
    sizes = np.array([r.n for r in stream(cfg, 400, 14)])
    flat = np.array([r.n for r in stream(replace(cfg, size_power=1.0), 400, 14)])
    assert np.median(sizes) < 30 < np.median(flat)
    assert sizes.min() >= 2 and sizes.max() <= 100
