"""Seeded random LIFE network generators, in a registry (the paper's families and more).

Every generator draws a topology (``src``, ``dst`` index arrays over ``n`` nodes); then
:func:`sample_network` attaches intakes, excretions and weights and optionally "redeems" graphs
without equilibrium as the paper's code does. The fast path returns plain arrays
(:class:`RawNetwork`); :meth:`RawNetwork.to_network` builds a validated :class:`Network`.
:func:`sample_batch` draws many networks at once into one :class:`RawBatch` (same distribution,
vectorised), which :func:`sbmleq.core.exact.label_raw_batch` labels without per-network Python work.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

from sbmleq.core.graph import reaches
from sbmleq.core.network import Network

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
    return src.astype(np.int64, copy=False), dst.astype(np.int64, copy=False)


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
    """Directed scale-free graph (networkx ``scale_free_graph``), de-duplicated, no self-loops.

    As in the paper's code, alpha = 0.9 n/m, beta = (m - n)/m, gamma = 0.1 n/m so that about ``m``
    edges are drawn (delta_in = 0.2, delta_out = 0).
    """
    import networkx as nx

    if n < 3 or m <= n:  # networkx starts from a 3-node graph; beta needs m > n
        return erdos_renyi_gnm(n, m, rng)
    g = nx.scale_free_graph(n, alpha=0.9 * n / m, beta=(m - n) / m, gamma=0.1 * n / m,
                            delta_in=0.2, delta_out=0, seed=int(rng.integers(2**31 - 1)))
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


def _count(bounds: tuple[int, int], rng: np.random.Generator) -> int:
    lo, hi = bounds
    return lo if lo == hi else int(rng.integers(lo, hi + 1))  # integers(lo, lo + 1) draws nothing


def sample_network(cfg: GeneratorConfig, rng: np.random.Generator) -> RawNetwork:
    """Draw one network according to ``cfg``."""
    u = rng.random() ** (1.0 / cfg.size_power)
    n = min(int(cfg.n_min + math.floor(u * (cfg.n_max - cfg.n_min + 1))), cfg.n_max)
    lo, hi = cfg.edge_factor
    m = int(round((lo + (hi - lo) * rng.random()) * n))  # = rng.uniform(lo, hi), same stream
    src, dst = GENERATORS[cfg.family](n, m, rng)
    intake = np.zeros(n)
    excretion = np.zeros(n)
    k_in = min(_count(cfg.intakes, rng), n)
    k_out = min(_count(cfg.excretions, rng), n)
    intake[rng.choice(n, size=k_in, replace=False)] = _values(cfg, k_in, rng)
    excretion[rng.choice(n, size=k_out, replace=False)] = _values(cfg, k_out, rng)
    if cfg.redeem > 0 and rng.random() < cfg.redeem:
        src, dst = _redeem(n, src, dst, excretion, rng)
    weight = _values(cfg, len(src), rng)
    return RawNetwork(n, src, dst, weight, intake, excretion)


def _redeem(n, src, dst, excretion, rng):
    """Add edges from non-draining to draining nodes until every node drains (paper's redeem)."""
    drains = _drains(n, src, dst, excretion)
    if not drains.any():  # no excreting node: no edge can make the network drain
        return src, dst
    while not drains.all():
        a = int(rng.choice(np.flatnonzero(~drains)))
        b = int(rng.choice(np.flatnonzero(drains)))
        src, dst = np.append(src, a), np.append(dst, b)
        drains = _drains(n, src, dst, excretion)
    return src, dst


@dataclass(frozen=True, eq=False)
class RawBatch(Sequence):
    """Many generated networks stored end to end (the output of :func:`sample_batch`).

    A sequence of :class:`RawNetwork` (``batch[k]`` slices views out of the flat arrays), which
    :func:`sbmleq.core.exact.label_raw_batch` reads directly without concatenating anything.
    """

    sizes: np.ndarray  # (B,) node counts
    node_off: np.ndarray  # (B + 1,) offsets into intake / excretion
    edge_off: np.ndarray  # (B + 1,) offsets into src / dst / weight
    src: np.ndarray  # (E,) local source index of each edge (int32 from the G(n, m) sampler)
    dst: np.ndarray  # (E,) local target index
    weight: np.ndarray  # (E,)
    intake: np.ndarray  # (N,)
    excretion: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        k = range(len(self))[k]
        e0, e1 = self.edge_off[k], self.edge_off[k + 1]
        v0, v1 = self.node_off[k], self.node_off[k + 1]
        return RawNetwork(int(self.sizes[k]), self.src[e0:e1], self.dst[e0:e1],
                          self.weight[e0:e1], self.intake[v0:v1], self.excretion[v0:v1])

    @cached_property
    def edge_graph(self) -> np.ndarray:
        """(E,) the network of each edge."""
        return np.repeat(np.arange(len(self.sizes)), np.diff(self.edge_off))


_SCRATCH = 1 << 19  # slots of the duplicate-detection table in the batched G(n, m) sampler


def _offsets(counts: np.ndarray) -> np.ndarray:
    off = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=off[1:])
    return off


def _gnm_batch(n: np.ndarray, m: np.ndarray, rng: np.random.Generator):
    """Directed G(n, m) for many graphs at once: (counts, src, dst) with edges grouped by graph.

    Each graph draws codes of ordered pairs with replacement and keeps its first ``m`` distinct
    ones in draw order, which is a uniform m-subset (sequential sampling without replacement);
    the rare graph that draws too few distinct codes is redrawn with :func:`erdos_renyi_gnm`.
    Index arithmetic is in int32 where it fits (twice as fast as int64 here).
    """
    b = len(n)
    pairs = n * (n - 1)
    i32 = np.int32 if pairs.max(initial=0) < 2**31 else np.int64
    m = np.minimum(m, pairs)
    dupes = m * m / np.maximum(pairs, 1)  # about twice the expected number of repeats
    draws = np.where(m > 0, m + np.ceil(dupes + 4 * np.sqrt(dupes)).astype(np.int64) + 4, 0)
    draw_off = _offsets(draws)
    graph = np.repeat(np.arange(b, dtype=i32), draws)
    code = (rng.random(len(graph)) * np.repeat(pairs.astype(np.float64), draws)).astype(i32)
    # First occurrence of each (graph, code), graphs taken in slabs that fit the table. There is
    # one winner per distinct key; numpy writes in order, so the winner is the first draw (any
    # rule that looks only at positions would keep the subset uniform).
    first = np.empty(len(code), bool)
    table = np.empty(_SCRATCH, i32)
    g0 = 0
    while g0 < b:
        width = max(int(pairs[g0:].max(initial=1)), 1)
        g1 = min(b, g0 + max(1, _SCRATCH // width))
        if width > len(table):  # a graph too large for the table: give it its own
            table = np.empty(width, i32)
        d0, d1 = draw_off[g0], draw_off[g1]
        key = (graph[d0:d1] - i32(g0)) * i32(width) + code[d0:d1]
        pos = np.arange(d1 - d0, dtype=i32)
        table[key[::-1]] = pos[::-1]
        np.equal(table[key], pos, out=first[d0:d1])
        g0 = g1
    seen = np.zeros(len(code) + 1, i32)
    np.cumsum(first, out=seen[1:])
    rank = seen[:-1] - np.repeat(seen[draw_off[:-1]], draws)  # distinct codes drawn before
    keep = first & (rank < np.repeat(m.astype(i32), draws))
    counts = np.bincount(graph[keep], minlength=b)
    src, off = np.divmod(code[keep], np.repeat(np.maximum(n - 1, 1).astype(i32), counts))
    dst = off + (off >= src)
    short = np.flatnonzero(counts < m)
    if len(short):  # redraw these graphs one by one
        e_off = _offsets(counts)
        parts = [erdos_renyi_gnm(int(n[k]), int(m[k]), rng) if counts[k] < m[k]
                 else (src[e_off[k]:e_off[k + 1]], dst[e_off[k]:e_off[k + 1]]) for k in range(b)]
        src = np.concatenate([p[0] for p in parts]).astype(i32)
        dst = np.concatenate([p[1] for p in parts]).astype(i32)
        counts = m.copy()
    return counts, src, dst


def _pick_batch(n: np.ndarray, k: np.ndarray, rng: np.random.Generator):
    """Distinct uniform picks: ``k[b]`` of the ``n[b]`` nodes of each graph (graph, local node)."""
    b = len(n)
    k = np.minimum(k, n)
    kmax = int(k.max(initial=0))
    chosen = np.full((b, max(kmax, 1)), np.iinfo(np.int64).max)
    for j in range(kmax):
        r = (rng.random(b) * (n - j)).astype(np.int64)
        # Map r to the r-th node not chosen yet: step over earlier picks in increasing order.
        for p in np.sort(chosen[:, :j], axis=1).T:
            r += r >= p
        chosen[:, j] = np.where(j < k, r, chosen[:, j])
    graph, slot = np.nonzero(np.arange(max(kmax, 1))[None, :] < k[:, None])
    return graph, chosen[graph, slot]


def _redeem_batch(batch: RawBatch, todo: np.ndarray, rng: np.random.Generator) -> RawBatch:
    """:func:`_redeem` for the graphs flagged in ``todo``, in rounds of one new edge per graph.

    Each round searches only the graphs still being redeemed, so the work shrinks with them.
    """
    b = len(batch.sizes)
    node_graph = np.repeat(np.arange(b), batch.sizes)
    n_total = int(batch.node_off[-1])
    graph = batch.edge_graph
    exits = np.flatnonzero(batch.excretion > 0)
    todo = todo & (np.bincount(node_graph[exits], minlength=b) > 0)  # else nothing can drain
    # The working set, in global node indices: the edges, nodes and exits of the live graphs.
    live = todo[graph]
    src = batch.src[live] + batch.node_off[graph[live]]
    dst = batch.dst[live] + batch.node_off[graph[live]]
    edge_graph = graph[live]
    nodes = np.flatnonzero(todo[node_graph])
    exits = exits[todo[node_graph[exits]]]
    rounds = []  # (graphs, new sources, new targets) per round
    index = np.empty(n_total, np.int64)  # global -> working-set node index
    while len(nodes):
        index[nodes] = np.arange(len(nodes))
        drains = reaches(len(nodes), index[src], index[dst], index[exits])
        stuck = np.bincount(node_graph[nodes[~drains]], minlength=b)
        still = stuck > 0
        rows = np.flatnonzero(still)
        if not len(rows):
            break
        pick = []
        for want in (~drains, drains & still[node_graph[nodes]]):
            # a random source among the stuck nodes, a random target among the draining ones
            cand = nodes[want]
            count = np.bincount(node_graph[cand], minlength=b)
            r = (rng.random(len(rows)) * count[rows]).astype(np.int64)
            pick.append(cand[_offsets(count)[rows] + r])
        rounds.append((rows, pick[0], pick[1]))
        keep = still[edge_graph]
        src = np.concatenate([src[keep], pick[0]])
        dst = np.concatenate([dst[keep], pick[1]])
        edge_graph = np.concatenate([edge_graph[keep], rows])
        nodes = nodes[still[node_graph[nodes]]]
        exits = exits[still[node_graph[exits]]]
    if not rounds:
        return batch
    # Regroup by graph: the original edges first, then the added ones in round order (a graph
    # takes part in rounds 0, 1, ... until it drains, so its k-th added edge is from round k).
    old_counts = np.diff(batch.edge_off)
    counts = old_counts + np.bincount(np.concatenate([r[0] for r in rounds]), minlength=b)
    edge_off = _offsets(counts)
    total = int(edge_off[-1])
    new_src = np.empty(total, np.int64)
    new_dst = np.empty(total, np.int64)
    at = edge_off[graph] + np.arange(len(graph)) - batch.edge_off[graph]
    new_src[at] = batch.src
    new_dst[at] = batch.dst
    for k, (rows, a, t) in enumerate(rounds):
        at = edge_off[rows] + old_counts[rows] + k
        new_src[at] = a - batch.node_off[rows]
        new_dst[at] = t - batch.node_off[rows]
    return RawBatch(batch.sizes, batch.node_off, edge_off, new_src, new_dst, batch.weight,
                    batch.intake, batch.excretion)


def sample_batch(cfg: GeneratorConfig, rng: np.random.Generator, count: int) -> RawBatch:
    """``count`` networks drawn as :func:`sample_network` draws them, vectorised over the batch.

    Same distribution, different random stream (so not the same networks as ``sample_network``
    for a given seed; still reproducible from ``rng``). The G(n, m) family is generated fully
    vectorised; the other families draw their topologies one by one.
    """
    u = rng.random(count) ** (1.0 / cfg.size_power)
    n = np.minimum(cfg.n_min + np.floor(u * (cfg.n_max - cfg.n_min + 1)).astype(np.int64),
                   cfg.n_max)
    lo, hi = cfg.edge_factor
    m = np.rint((lo + (hi - lo) * rng.random(count)) * n).astype(np.int64)
    if cfg.family == "gnm":
        counts, src, dst = _gnm_batch(n, m, rng)
    else:
        tops = [GENERATORS[cfg.family](int(a), int(c), rng) for a, c in zip(n, m)]
        counts = np.array([len(t[0]) for t in tops], np.int64)
        src = np.concatenate([t[0] for t in tops] + [np.zeros(0, np.int64)])
        dst = np.concatenate([t[1] for t in tops] + [np.zeros(0, np.int64)])
    node_off = _offsets(n)
    intake = np.zeros(int(node_off[-1]))
    excretion = np.zeros(int(node_off[-1]))
    for values, bounds in ((intake, cfg.intakes), (excretion, cfg.excretions)):
        k = np.full(count, bounds[0]) if bounds[0] == bounds[1] else rng.integers(
            bounds[0], bounds[1] + 1, count)
        graph, node = _pick_batch(n, k, rng)
        values[node_off[graph] + node] = _values(cfg, len(node), rng)
    batch = RawBatch(n, node_off, _offsets(counts), src, dst, np.zeros(0), intake, excretion)
    if cfg.redeem > 0:
        batch = _redeem_batch(batch, rng.random(count) < cfg.redeem, rng)
    weight = _values(cfg, int(batch.edge_off[-1]), rng)
    return RawBatch(batch.sizes, batch.node_off, batch.edge_off, batch.src, batch.dst, weight,
                    batch.intake, batch.excretion)


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
