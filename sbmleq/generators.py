"""Seeded random LIFE network generators, in a registry (the paper's families and more).

Every generator draws a topology (``src``, ``dst`` index arrays over ``n`` nodes); then
:func:`sample_network` attaches intakes, excretions and weights and optionally "redeems" graphs
without equilibrium as the paper's code does. The fast path returns plain arrays
(:class:`RawNetwork`); :meth:`RawNetwork.to_network` builds a validated :class:`Network`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np

from sbmleq.network import Network

TopologyFn = Callable[[int, int, np.random.Generator], tuple[np.ndarray, np.ndarray]]
GENERATORS: dict[str, TopologyFn] = {}


def register(name: str) -> Callable[[TopologyFn], TopologyFn]:
    def deco(fn: TopologyFn) -> TopologyFn:
        GENERATORS[name] = fn
        return fn

    return deco


def _dedupe(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = src != dst
    code = np.unique(src[keep] * n + dst[keep])
    return code // n, code % n


@register("gnm")
def erdos_renyi_gnm(n: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Directed G(n, m): exactly ``m`` distinct edges (fewer if the graph is complete)."""
    m = min(m, n * (n - 1))
    if m <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Sample codes over the n(n-1) ordered pairs without self-loops.
    codes = rng.choice(n * (n - 1), size=m, replace=False)
    src = codes // (n - 1)
    off = codes % (n - 1)
    dst = off + (off >= src)
    return src.astype(np.int64), dst.astype(np.int64)


@register("gnp")
def erdos_renyi_gnp(n: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Directed G(n, p) with p chosen so that the expected edge count is ``m``."""
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    p = min(1.0, m / (n * (n - 1)))
    mask = rng.random((n, n)) < p
    np.fill_diagonal(mask, False)
    src, dst = np.nonzero(mask)
    return src.astype(np.int64), dst.astype(np.int64)


@register("small_world")
def small_world(n: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Watts-Strogatz ring (k = 2m/n neighbours, rewiring 0.3) with random edge directions."""
    if n < 3:
        return erdos_renyi_gnm(n, m, rng)
    k = int(np.clip(round(2 * m / n), 2, n - 1))
    half = max(1, k // 2)
    a = np.repeat(np.arange(n), half)
    b = (a + np.tile(np.arange(1, half + 1), n)) % n
    rewire = rng.random(len(b)) < 0.3
    b = np.where(rewire, rng.integers(0, n, len(b)), b)
    flip = rng.random(len(a)) < 0.5
    src, dst = np.where(flip, b, a), np.where(flip, a, b)
    return _dedupe(n, src, dst)


@register("scale_free")
def scale_free(n: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Directed scale-free graph (networkx ``scale_free_graph``), de-duplicated, no self-loops."""
    import networkx as nx

    g = nx.scale_free_graph(n, seed=int(rng.integers(2**31 - 1)))
    edges = np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2)
    return _dedupe(n, edges[:, 0], edges[:, 1])


class RawNetwork(NamedTuple):
    """Unvalidated arrays of a generated network (the generators' fast path)."""

    n: int
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    intake: np.ndarray
    excretion: np.ndarray

    def to_network(self, name: str = "") -> Network:
        return Network.from_arrays(self.n, self.src, self.dst, self.weight, self.intake,
                                   self.excretion, name=name)


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. The defaults are the paper's setting (S: 32-64 nodes, unit weights)."""

    family: str = "gnm"
    n_min: int = 32
    n_max: int = 64
    edge_factor: tuple[float, float] = (2.0, 4.0)  # edges = round(U[a, b] * n)
    intakes: tuple[int, int] = (1, 1)  # inclusive range of intake node counts
    excretions: tuple[int, int] = (1, 1)
    weights: str = "unit"  # unit | integer (1-99, the paper's weighted mode) | loguniform
    decades: float = 2.0  # log-uniform range for rates, intake and excretion
    redeem: float = 0.0  # probability of adding edges until an equilibrium exists (paper: 0.4)
    size_power: float = 1.0  # <1 favours small sizes: n = n_min + (n_max-n_min) * U^(1/p)

    def __post_init__(self) -> None:
        if self.family not in GENERATORS:
            raise ValueError(f"unknown generator family {self.family!r}; known: {sorted(GENERATORS)}")
        if self.weights not in ("unit", "integer", "loguniform"):
            raise ValueError(f"unknown weights mode {self.weights!r}")
        if not 1 <= self.n_min <= self.n_max:
            raise ValueError("need 1 <= n_min <= n_max")

    def to_dict(self) -> dict:
        return asdict(self)


def _values(cfg: GeneratorConfig, size: int, rng: np.random.Generator) -> np.ndarray:
    if cfg.weights == "unit":
        return np.ones(size)
    if cfg.weights == "integer":
        return rng.integers(1, 100, size).astype(np.float64)
    half = cfg.decades / 2.0
    return 10.0 ** rng.uniform(-half, half, size)


def _drains(n: int, src: np.ndarray, dst: np.ndarray, excretion: np.ndarray) -> np.ndarray:
    """Which nodes reach an excreting node (iterative backward propagation, small graphs)."""
    reach = excretion > 0
    while True:
        new = reach.copy()
        new[src[reach[dst]]] = True
        if np.array_equal(new, reach):
            return reach
        reach = new


def sample_network(cfg: GeneratorConfig, rng: np.random.Generator) -> RawNetwork:
    """Draw one network according to ``cfg``."""
    u = rng.random() ** (1.0 / cfg.size_power)
    n = int(cfg.n_min + np.floor(u * (cfg.n_max - cfg.n_min + 1)))
    n = min(n, cfg.n_max)
    m = int(round(rng.uniform(*cfg.edge_factor) * n))
    src, dst = GENERATORS[cfg.family](n, m, rng)
    intake = np.zeros(n)
    excretion = np.zeros(n)
    k_in = int(rng.integers(cfg.intakes[0], cfg.intakes[1] + 1))
    k_out = int(rng.integers(cfg.excretions[0], cfg.excretions[1] + 1))
    intake[rng.choice(n, size=min(k_in, n), replace=False)] = _values(cfg, min(k_in, n), rng)
    excretion[rng.choice(n, size=min(k_out, n), replace=False)] = _values(cfg, min(k_out, n), rng)
    if cfg.redeem > 0 and rng.random() < cfg.redeem:
        src, dst = _redeem(n, src, dst, excretion, rng)
    weight = _values(cfg, len(src), rng)
    return RawNetwork(n, src, dst, weight, intake, excretion)


def _redeem(n, src, dst, excretion, rng):
    """Add edges from non-draining to draining nodes until every node drains (paper's redeem)."""
    drains = _drains(n, src, dst, excretion)
    while not drains.all():
        a = int(rng.choice(np.flatnonzero(~drains)))
        b = int(rng.choice(np.flatnonzero(drains)))
        src, dst = np.append(src, a), np.append(dst, b)
        drains = _drains(n, src, dst, excretion)
    return src, dst


def iter_networks(cfg: GeneratorConfig, seed: int) -> Iterator[RawNetwork]:
    """An endless reproducible stream of networks."""
    rng = np.random.default_rng(seed)
    while True:
        yield sample_network(cfg, rng)


def generate(cfg: GeneratorConfig, count: int, seed: int) -> list[Network]:
    """``count`` validated networks, reproducible from ``seed``."""
    stream = iter_networks(cfg, seed)
    return [next(stream).to_network(name=f"{cfg.family}-{seed}-{k}") for k in range(count)]


@dataclass
class Balancer:
    """Balanced subsampling: accept an example only if its class is not ahead of the other."""

    slack: int = 0
    counts: list[int] = field(default_factory=lambda: [0, 0])

    def accept(self, exists: bool) -> bool:
        k = int(bool(exists))
        if self.counts[k] > self.counts[1 - k] + self.slack:
            return False
        self.counts[k] += 1
        return True
