"""Exact ground truth for LIFE networks: existence, equilibrium concentrations, edge flows.

Existence follows the paper's code: the equilibrium exists (and is unique, and globally stable)
iff every node has a directed path to an excreting node. sbmleq refines the negative case:

- ``unbounded``: some node that cannot reach an excretion receives inflow (it is an intake node
  or reachable from one), so its concentration grows without bound;
- ``non_unique``: the nodes that cannot reach an excretion receive no inflow at all; they keep
  whatever mass they start with, so steady states exist but form a family. The paper labels this
  "no equilibrium" and so does sbmleq's ``exists`` flag (the learned model's label); the
  concentrations of the draining nodes are still unique and are returned, the others are NaN.

The batched paths (:func:`solve_batch`, :func:`solve_dense_batch` and the fastest,
:func:`label_raw_batch`) give the label and the concentrations of the networks with a unique
equilibrium; every value of the other networks is NaN. See docs/exact-solver.md.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sbmleq.core.generators import RawBatch
from sbmleq.core.graph import reaches as _reaches
from sbmleq.core.network import Network


class EquilibriumStatus(str, enum.Enum):
    UNIQUE = "unique"
    UNBOUNDED = "unbounded"
    NON_UNIQUE = "non_unique"

    @property
    def exists(self) -> bool:
        """The paper's label: a unique equilibrium exists."""
        return self is EquilibriumStatus.UNIQUE


def reaches_excretion(net: Network) -> np.ndarray:
    """Boolean per node: has a directed path (possibly empty) to an excreting node."""
    return _reaches(net.n_nodes, net.src, net.dst, net.excreting_nodes)


def reachable_from_intake(net: Network) -> np.ndarray:
    """Boolean per node: receives inflow (is an intake node or downstream of one)."""
    return _reaches(net.n_nodes, net.dst, net.src, net.intake_nodes)


def _status(net: Network, drains: np.ndarray) -> EquilibriumStatus:
    if drains.all():
        return EquilibriumStatus.UNIQUE
    if (reachable_from_intake(net) & ~drains).any():
        return EquilibriumStatus.UNBOUNDED
    return EquilibriumStatus.NON_UNIQUE


def equilibrium_status(net: Network) -> EquilibriumStatus:
    return _status(net, reaches_excretion(net))


def equilibrium_exists(net: Network) -> bool:
    """The paper's criterion: every node has a directed path to an excreting node."""
    return bool(reaches_excretion(net).all())


@dataclass(frozen=True)
class Equilibrium:
    """Exact solution. ``concentrations`` is NaN where not determined (see module docstring)."""

    network: Network
    status: EquilibriumStatus
    concentrations: np.ndarray
    residual: float  # max |dx/dt| over determined nodes, relative to the largest flux

    @property
    def exists(self) -> bool:
        return self.status.exists

    def edge_flows(self) -> np.ndarray:
        """Flux w_ij x_i on every edge (same order as ``network.src``)."""
        return self.network.weight * self.concentrations[self.network.src]

    def excretion_flows(self) -> np.ndarray:
        return self.network.excretion * self.concentrations

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.network.nodes, map(float, self.concentrations)))


def relative_residual(net: Network, x: np.ndarray, mask: np.ndarray | None = None) -> float:
    """max |dx/dt| divided by the largest single flux term at ``x`` (0 for an empty system)."""
    mask = np.ones(net.n_nodes, dtype=bool) if mask is None else mask
    xs = np.where(mask, x, 0.0)
    r = net.rhs(xs)[mask]
    scale = max(float(np.max(net.intake, initial=0.0)),
                float(np.max((net.out_rate() + net.excretion) * np.abs(xs), initial=0.0)))
    return float(np.max(np.abs(r), initial=0.0) / scale) if scale > 0 else 0.0


def solve_equilibrium(net: Network) -> Equilibrium:
    """Sparse exact solve of J x = -intake on the nodes that reach an excretion."""
    from scipy.sparse.linalg import spsolve

    drains = reaches_excretion(net)
    status = _status(net, drains)
    x = np.full(net.n_nodes, np.nan)
    idx = np.flatnonzero(drains)
    if len(idx):
        jac = net.system_matrix(sparse=True)
        sub = (-jac[idx][:, idx]).tocsc()
        sol = spsolve(sub, net.intake[idx]) if len(idx) > 1 else net.intake[idx] / sub.toarray()[0]
        x[idx] = np.atleast_1d(sol)
    return Equilibrium(net, status, x, relative_residual(net, x, drains))


# ---------------------------------------------------------------------- batched path
@dataclass(frozen=True)
class DenseBatch:
    """Many networks padded to ``n_max`` nodes: the vectorised representation."""

    weight: np.ndarray  # (B, n, n) W[b, i, j] = rate of edge i->j
    intake: np.ndarray  # (B, n)
    excretion: np.ndarray  # (B, n)
    n_nodes: np.ndarray  # (B,)

    @classmethod
    def from_networks(cls, nets: Sequence[Network], n_max: int | None = None) -> "DenseBatch":
        return cls.from_raw([(net.n_nodes, net.src, net.dst, net.weight, net.intake, net.excretion)
                             for net in nets], n_max)

    @classmethod
    def from_raw(cls, raws: Sequence[tuple], n_max: int | None = None) -> "DenseBatch":
        """From ``(n, src, dst, weight, intake, excretion)`` tuples, e.g. generator RawNetworks."""
        flat = _Flat.of(raws)
        n_max = flat.check_n_max(n_max)
        b = len(flat.sizes)
        w = np.zeros((b, n_max, n_max))
        w.reshape(-1)[flat.edge_graph * (n_max * n_max) + flat.src * n_max + flat.dst] = flat.weight
        phi = np.zeros((b, n_max))
        ex = np.zeros((b, n_max))
        slots = flat.node_graph * n_max + flat.local
        phi.reshape(-1)[slots] = flat.intake
        ex.reshape(-1)[slots] = flat.excretion
        return cls(w, phi, ex, flat.sizes)


@dataclass(frozen=True)
class _Flat:
    """Many networks concatenated: node arrays end to end, edges with local node indices."""

    sizes: np.ndarray  # (B,) node counts
    node_off: np.ndarray  # (B + 1,) first global node index of each network
    src: np.ndarray  # (E,) local source index
    dst: np.ndarray  # (E,) local target index
    weight: np.ndarray  # (E,)
    edge_graph: np.ndarray  # (E,) network of each edge
    intake: np.ndarray  # (N,) N = total node count
    excretion: np.ndarray  # (N,)
    node_graph: np.ndarray  # (N,) network of each node
    local: np.ndarray  # (N,) index of each node inside its network

    @classmethod
    def build(cls, sizes, src, dst, weight, edge_graph, intake, excretion) -> "_Flat":
        b = len(sizes)
        node_off = np.zeros(b + 1, np.int64)
        np.cumsum(sizes, out=node_off[1:])
        node_graph = np.repeat(np.arange(b), sizes)
        local = np.arange(node_off[-1]) - node_off[node_graph]
        return cls(sizes, node_off, src, dst, weight, edge_graph, intake, excretion, node_graph,
                   local)

    @classmethod
    def of(cls, raws: Sequence[tuple]) -> "_Flat":
        if isinstance(raws, RawBatch):
            return cls.build(raws.sizes, raws.src, raws.dst, raws.weight, raws.edge_graph,
                             raws.intake, raws.excretion)
        b = len(raws)
        if b == 0:
            z, zf = np.zeros(0, np.int64), np.zeros(0)
            return cls.build(z, z, z, zf, z, zf, zf)
        ns, srcs, dsts, ws, phis, exs = zip(*raws)
        sizes = np.fromiter(ns, np.int64, b)
        if sizes.min() < 1:
            raise ValueError("every network needs at least one node")
        counts = np.fromiter(map(len, srcs), np.int64, b)
        return cls.build(sizes,
                         np.concatenate(srcs).astype(np.int64, copy=False),
                         np.concatenate(dsts).astype(np.int64, copy=False),
                         np.concatenate(ws).astype(np.float64, copy=False),
                         np.repeat(np.arange(b), counts),
                         np.concatenate(phis).astype(np.float64, copy=False),
                         np.concatenate(exs).astype(np.float64, copy=False))

    def check_n_max(self, n_max: int | None) -> int:
        largest = int(self.sizes.max(initial=0))
        if n_max is None:
            return largest
        if n_max < largest:
            raise ValueError(f"n_max={n_max} is smaller than the largest network ({largest} nodes)")
        return int(n_max)

    def take(self, graphs: np.ndarray) -> "_Flat":
        """The networks ``graphs`` (increasing indices), renumbered 0..len(graphs)-1."""
        if len(graphs) == len(self.sizes):
            return self
        chosen = np.zeros(len(self.sizes), bool)
        chosen[graphs] = True
        renumber = np.cumsum(chosen) - 1
        edges = chosen[self.edge_graph]
        nodes = chosen[self.node_graph]
        return _Flat.build(self.sizes[graphs], self.src[edges], self.dst[edges],
                           self.weight[edges], renumber[self.edge_graph[edges]],
                           self.intake[nodes], self.excretion[nodes])

    @cached_property
    def global_src(self) -> np.ndarray:
        return self.src + self.node_off[self.edge_graph]

    @cached_property
    def global_dst(self) -> np.ndarray:
        return self.dst + self.node_off[self.edge_graph]

    def drains(self) -> np.ndarray:
        """(N,) booleans: the node reaches an excreting node (in its own network)."""
        return _reaches(int(self.node_off[-1]), self.global_src, self.global_dst,
                        np.flatnonzero(self.excretion > 0))

    def exists(self, drains: np.ndarray) -> np.ndarray:
        """(B,) the paper's label from the per-node ``drains``."""
        if len(self.sizes) == 0:
            return np.zeros(0, dtype=bool)
        return np.logical_and.reduceat(drains, self.node_off[:-1])

    def open_graphs(self) -> np.ndarray:
        """Indices of the networks without a dead end: a node with neither an out-edge nor an
        excretion reaches nothing, so the others have no equilibrium. In random graphs this
        settles most negatives without a search."""
        out_degree = np.bincount(self.global_src, minlength=int(self.node_off[-1]))
        dead = (out_degree == 0) & (self.excretion <= 0)
        return np.flatnonzero(np.bincount(self.node_graph[dead], minlength=len(self.sizes)) == 0)

    def solve(self) -> np.ndarray:
        """(N,) concentrations, every network assumed to have a unique equilibrium.

        The systems are packed into one flat buffer ordered by size, so that each group of equal
        size is one contiguous (k, n, n) stack for a single batched LAPACK solve (no padding work).
        """
        b = len(self.sizes)
        order = np.argsort(self.sizes, kind="stable")
        ns = self.sizes[order]
        slot = np.empty(b, np.int64)
        slot[order] = np.arange(b)
        mat_off = np.zeros(b + 1, np.int64)
        np.cumsum(ns * ns, out=mat_off[1:])
        vec_off = np.zeros(b + 1, np.int64)
        np.cumsum(ns, out=vec_off[1:])
        mats = np.zeros(int(mat_off[-1]))
        # M = diag(out rate + excretion) - W^T: off-diagonal M[j, i] = -w_ij, then the diagonal.
        g = self.edge_graph
        mats[mat_off[slot[g]] + self.dst * self.sizes[g] + self.src] = -self.weight
        loss = np.bincount(self.global_src, weights=self.weight,
                           minlength=int(self.node_off[-1])) + self.excretion
        g = self.node_graph
        mats[mat_off[slot[g]] + self.local * (self.sizes[g] + 1)] = loss
        where = vec_off[slot[g]] + self.local
        rhs = np.empty(int(vec_off[-1]))
        rhs[where] = self.intake
        sol = np.empty_like(rhs)
        starts = np.concatenate([[0], np.flatnonzero(np.diff(ns)) + 1, [b]])
        for k0, k1 in zip(starts[:-1], starts[1:]):
            n, k = int(ns[k0]), int(k1 - k0)
            m = mats[mat_off[k0]:mat_off[k1]].reshape(k, n, n)
            r = rhs[vec_off[k0]:vec_off[k1]].reshape(k, n, 1)
            sol[vec_off[k0]:vec_off[k1]] = np.linalg.solve(m, r).reshape(-1)
        return sol[where]


def label_raw_batch(raws: Sequence[tuple], n_max: int | None = None, *,
                    with_drains: bool = False):
    """Exact labels for many generated networks at once: the fastest path (no validation).

    ``raws``: a :class:`~sbmleq.core.generators.RawBatch` (fastest, read as is), or a sequence of
    :class:`~sbmleq.core.generators.RawNetwork` objects or of any ``(n, src, dst, weight, intake,
    excretion)`` tuples of valid networks (no self-loops, no duplicate edges). Returns
    ``exists`` (B,) bool and concentrations ``x`` (B, n_max) (``n_max`` defaults to the largest
    network), NaN for networks without a unique equilibrium and in the padding; with
    ``with_drains`` also ``drains`` (B, n_max) bool, per node "reaches an excretion" (padding
    False).
    """
    flat = _Flat.of(raws)
    b = len(flat.sizes)
    n_max = flat.check_n_max(n_max)
    exists = np.zeros(b, dtype=bool)
    if with_drains:
        drains = flat.drains()
        exists = flat.exists(drains)
        pos = np.flatnonzero(exists)
        unique = flat.take(pos)
    else:  # search only the networks without a dead end
        candidates = flat.open_graphs()
        sub = flat.take(candidates)
        ok = sub.exists(sub.drains())
        pos = candidates[ok]
        exists[pos] = True
        unique = sub.take(np.flatnonzero(ok))
    x = np.full((b, n_max), np.nan)
    if len(pos):
        x.reshape(-1)[pos[unique.node_graph] * n_max + unique.local] = unique.solve()
    if not with_drains:
        return exists, x
    per_node = np.zeros((b, n_max), dtype=bool)
    per_node.reshape(-1)[flat.node_graph * n_max + flat.local] = drains
    return exists, x, per_node


def batch_reaches_excretion(weight: np.ndarray, excretion: np.ndarray,
                            n_nodes: np.ndarray | None = None) -> np.ndarray:
    """(B, n) booleans: node reaches an excreting node. Padding nodes count as reaching."""
    b, n, _ = weight.shape
    g, i, j = np.nonzero(weight > 0)
    targets = np.flatnonzero(excretion.reshape(-1) > 0)
    if n_nodes is not None:
        pad = np.arange(n)[None, :] >= np.asarray(n_nodes)[:, None]
        targets = np.union1d(targets, np.flatnonzero(pad.reshape(-1)))
    return _reaches(b * n, g * n + i, g * n + j, targets).reshape(b, n)


def solve_dense_batch(batch: DenseBatch) -> tuple[np.ndarray, np.ndarray]:
    """Label a batch: returns ``exists`` (B,) and concentrations (B, n) (NaN where not unique)."""
    w, phi, ex, sizes = batch.weight, batch.intake, batch.excretion, batch.n_nodes
    b, n, _ = w.shape
    exists = batch_reaches_excretion(w, ex, sizes).all(axis=1)
    pad = np.arange(n)[None, :] >= sizes[:, None]
    x = np.full((b, n), np.nan)
    pos = np.flatnonzero(exists)
    if len(pos):
        wp = w[pos]
        # Padding nodes: x = 0 with a unit diagonal.
        m = -np.swapaxes(wp, 1, 2)
        m[:, np.arange(n), np.arange(n)] += wp.sum(axis=2) + ex[pos] + pad[pos]
        rhs = np.where(pad[pos], 0.0, phi[pos])
        x[pos] = np.linalg.solve(m, rhs[..., None])[..., 0]
    x[pad] = np.nan
    return exists, x


def solve_batch(nets: Sequence[Network]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Exact labels for many networks at once: ``exists`` and one concentration vector each."""
    if not nets:
        return np.zeros(0, dtype=bool), []
    exists, x = label_raw_batch([(net.n_nodes, net.src, net.dst, net.weight, net.intake,
                                  net.excretion) for net in nets])
    return exists, [x[k, : net.n_nodes].copy() for k, net in enumerate(nets)]
