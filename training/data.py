"""Labelled examples for training and evaluation, generated on the fly (seeded, reproducible).

A *recipe* is a list of (weight, GeneratorConfig) size buckets. Each batch draws one bucket (so a
batch has similar node counts and little padding), generates networks, balances existence, encodes
them with the token format and labels them with the exact batched solver.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from sbmleq.core.exact import DenseBatch, batch_reaches_excretion, solve_dense_batch
from sbmleq.model.features import ArrayBatch, batch_from_tokens, log_targets
from sbmleq.core.generators import Balancer, GeneratorConfig, _drains, sample_network
from sbmleq.core.network import Network
from sbmleq.model.tokens import encode

VALIDATION_SEED = 10**9 + 7
TEST_SEED = 2 * 10**9 + 11


def default_recipe(family: str = "gnm", weights: str = "loguniform") -> list[tuple[float, GeneratorConfig]]:
    """The shipped model's training distribution: real-valued rates over 2 decades, 1-3 intakes
    and excretions, most examples at up to 32 nodes, some up to 64. The model is permutation
    equivariant and size-agnostic; larger networks (KEGG has up to 84 nodes) are evaluated as
    out of the trained range. (An earlier recipe with a 65-100 node bucket spent most of its CPU
    time on that bucket.)"""
    base = GeneratorConfig(family=family, weights=weights, decades=2.0, intakes=(1, 3),
                           excretions=(1, 3), redeem=0.4)
    return [
        (0.35, replace(base, n_min=2, n_max=16)),
        (0.50, replace(base, n_min=17, n_max=32)),
        (0.15, replace(base, n_min=33, n_max=64)),
    ]


@dataclass
class Example:
    networks: list[Network]
    batch: ArrayBatch
    exists: np.ndarray  # (B,) bool
    drains: np.ndarray  # (B, n) bool, per-node: reaches an excretion
    y: np.ndarray  # (B, n) normalised log10 targets, NaN where undefined


def label(networks: Sequence[Network]) -> Example:
    """Encode with the token format, then label exactly."""
    batch = batch_from_tokens([encode(net) for net in networks])
    dense = DenseBatch.from_networks(networks, n_max=batch.node_mask.shape[1])
    exists, x = solve_dense_batch(dense)
    drains = batch_reaches_excretion(dense.weight, dense.excretion, dense.n_nodes) & batch.node_mask
    return Example(list(networks), batch, exists, drains, log_targets(x, batch))


def sample_balanced(cfg: GeneratorConfig, count: int, rng: np.random.Generator,
                    exclude: set[str] | None = None) -> list[Network]:
    """``count`` networks with existence balanced 50/50 (unless a class is unreachable)."""
    balancer = Balancer(slack=1)
    out: list[Network] = []
    tries = 0
    while len(out) < count:
        raw = sample_network(cfg, rng)
        net = raw.to_network()
        tries += 1
        if exclude is not None and net.structure_digest() in exclude:
            continue
        ok = bool(_drains(raw.n, raw.src, raw.dst, raw.excretion).all())
        if balancer.accept(ok) or tries > 20 * count:
            out.append(net)
    return out


def batch_stream(recipe, batch_size: int, seed: int, exclude: set[str] | None = None) -> Iterator[Example]:
    """Endless stream of labelled batches; reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    weights = np.array([w for w, _ in recipe], dtype=float)
    weights /= weights.sum()
    while True:
        cfg = recipe[int(rng.choice(len(recipe), p=weights))][1]
        yield label(sample_balanced(cfg, batch_size, rng, exclude))


def fixed_set(cfg: GeneratorConfig, count: int, seed: int, balanced: bool = True) -> list[Network]:
    """A fixed evaluation set (validation or test), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    if balanced:
        return sample_balanced(cfg, count, rng)
    return [sample_network(cfg, rng).to_network() for _ in range(count)]


def digests(networks: Sequence[Network]) -> set[str]:
    return {net.structure_digest() for net in networks}
