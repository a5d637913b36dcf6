"""Exact ground truth for LIFE networks: existence, equilibrium concentrations, edge flows.

Existence follows the paper's code: the equilibrium exists (and is unique, and globally stable)
iff every node has a directed path to an excreting node. sbmleq refines the negative case:

- ``unbounded``: some node that cannot reach an excretion receives inflow (it is an intake node
  or reachable from one), so its concentration grows without bound;
- ``non_unique``: the nodes that cannot reach an excretion receive no inflow at all; they keep
  whatever mass they start with, so steady states exist but form a family. The paper labels this
  "no equilibrium" and so does sbmleq's ``exists`` flag (the learned model's label); the
  concentrations of the draining nodes are still unique and are returned, the others are NaN.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sbmleq.network import Network


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
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    n = net.n_nodes
    # Search backwards from a virtual sink fed by every excreting node.
    rows = np.concatenate([net.dst, np.full(len(net.excreting_nodes), n)])
    cols = np.concatenate([net.src, net.excreting_nodes])
    reverse = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1))
    order = breadth_first_order(reverse, n, directed=True, return_predecessors=False)
    seen = np.zeros(n + 1, dtype=bool)
    seen[order] = True
    return seen[:n]


def reachable_from_intake(net: Network) -> np.ndarray:
    """Boolean per node: receives inflow (is an intake node or downstream of one)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    n = net.n_nodes
    rows = np.concatenate([net.src, np.full(len(net.intake_nodes), n)])
    cols = np.concatenate([net.dst, net.intake_nodes])
    forward = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1))
    order = breadth_first_order(forward, n, directed=True, return_predecessors=False)
    seen = np.zeros(n + 1, dtype=bool)
    seen[order] = True
    return seen[:n]


def equilibrium_status(net: Network) -> EquilibriumStatus:
    drains = reaches_excretion(net)
    if drains.all():
        return EquilibriumStatus.UNIQUE
    if (reachable_from_intake(net) & ~drains).any():
        return EquilibriumStatus.UNBOUNDED
    return EquilibriumStatus.NON_UNIQUE


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

    status = equilibrium_status(net)
    drains = reaches_excretion(net)
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
        n_max = max(net.n_nodes for net in nets) if n_max is None else n_max
        b = len(nets)
        w = np.zeros((b, n_max, n_max))
        phi = np.zeros((b, n_max))
        ex = np.zeros((b, n_max))
        sizes = np.zeros(b, dtype=np.int64)
        for k, net in enumerate(nets):
            w[k, net.src, net.dst] = net.weight
            phi[k, : net.n_nodes] = net.intake
            ex[k, : net.n_nodes] = net.excretion
            sizes[k] = net.n_nodes
        return cls(w, phi, ex, sizes)


def batch_reaches_excretion(weight: np.ndarray, excretion: np.ndarray,
                            n_nodes: np.ndarray | None = None) -> np.ndarray:
    """(B, n) booleans: node reaches an excreting node. Padding nodes count as reaching."""
    b, n, _ = weight.shape
    adj = (weight > 0).astype(np.float32)
    reach = (excretion > 0).astype(np.float32)
    if n_nodes is not None:
        reach = np.maximum(reach, (np.arange(n)[None, :] >= n_nodes[:, None]).astype(np.float32))
    for _ in range(n):
        new = np.maximum(reach, (np.einsum("bij,bj->bi", adj, reach) > 0).astype(np.float32))
        if np.array_equal(new, reach):
            break
        reach = new
    return reach > 0


def solve_dense_batch(batch: DenseBatch) -> tuple[np.ndarray, np.ndarray]:
    """Label a batch: returns ``exists`` (B,) and concentrations (B, n) (NaN where not unique)."""
    w, phi, ex, sizes = batch.weight, batch.intake, batch.excretion, batch.n_nodes
    b, n, _ = w.shape
    exists = batch_reaches_excretion(w, ex, sizes).all(axis=1)
    pad = np.arange(n)[None, :] >= sizes[:, None]
    loss = w.sum(axis=2) + ex + pad  # padding nodes: x = 0 with unit diagonal
    m = -np.swapaxes(w, 1, 2)
    m[:, np.arange(n), np.arange(n)] += loss
    rhs = np.where(pad, 0.0, phi)
    # Singular systems (no unique equilibrium) are replaced by the identity, then masked.
    m[~exists] = np.eye(n)
    x = np.linalg.solve(m, rhs[..., None])[..., 0]
    x[~exists] = np.nan
    x[pad] = np.nan
    return exists, x


def solve_batch(nets: Sequence[Network]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Exact labels for many networks at once: ``exists`` and one concentration vector each."""
    if not nets:
        return np.zeros(0, dtype=bool), []
    exists, x = solve_dense_batch(DenseBatch.from_networks(nets))
    return exists, [x[k, : net.n_nodes].copy() for k, net in enumerate(nets)]
