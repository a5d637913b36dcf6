"""The steady state a LIFE network reaches from a given initial state: exact, and batched.

A LIFE network is linear, ``dx/dt = phi + A x``, so the state it settles to is known exactly once
the initial state ``x0`` is fixed. Split the nodes by the strongly connected components (SCCs) of
the edge graph:

- a *closed pool* is a terminal SCC (no edge leaves it) without an excreting node: the mass in it
  is conserved and, at steady state, distributed over the pool as the pool's stationary vector
  (the kernel of its Laplacian, positive and unique for a strongly connected pool);
- every other node is *transient*: it reaches an excretion or a closed pool, so the sub-system
  ``A_RR`` on these nodes is non-singular and their steady state is the grounded-Laplacian solve
  ``x_R = -A_RR^{-1} phi_R``.

A closed pool that receives inflow (an intake reaches it) grows without bound: the network does not
settle (``UNBOUNDED``). Otherwise each pool ends with its initial mass plus everything the transient
nodes send into it on the way, ``M_C = sum_C x0 + B_C (-A_RR)^{-1} (x0_R - x_R)``, where ``B_C`` holds
the rates of the edges from transient nodes into ``C``. Amounts are counted in the network's own
units: the importer keeps only edges along which ``sum x`` is conserved, so ``sum_C x`` is the
conserved total of the pool. A network without closed pools settles to the unique equilibrium
(the paper's case) whatever its initial state.

All networks of a batch are solved together: the SCCs of the block-diagonal union in one search,
one sparse LU of the union's transient system, and one sparse solve for every pool's stationary
vector. Batches up to ``DENSE_MAX`` nodes in all use NumPy alone (an iterative Tarjan search and
dense solves), so a single small model never pays scipy's ~0.25 s import; larger ones use
scipy.sparse (imported on first use).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sbmleq.core.graph import reaches
from sbmleq.core.network import Network
from sbmleq.errors import NetworkError


DENSE_MAX = 256  # total nodes up to which the batch is solved densely, without scipy


class SteadyStatus(str, enum.Enum):
    """How a LIFE network behaves from its initial state."""

    UNIQUE = "unique"  # settles to the unique equilibrium: no closed pool
    CONSERVED = "conserved"  # settles; closed pools keep their (initial-state dependent) totals
    UNBOUNDED = "unbounded"  # an intake feeds a closed pool: it grows without bound

    @property
    def settles(self) -> bool:
        return self is not SteadyStatus.UNBOUNDED


@dataclass(frozen=True)
class ConservedPool:
    """A closed pool: its node indices and the conserved total ``sum x`` it settles with."""

    nodes: tuple[int, ...]
    total: float  # the total it settles with (initial mass plus what flows in)
    initial: float  # sum of x0 over the pool
    unbounded: bool = False  # fed by an intake: grows without bound, total is meaningless


@dataclass(frozen=True)
class SteadyState:
    """The exact steady state of one network from ``initial``.

    ``concentrations`` is NaN everywhere when the network does not settle."""

    network: Network
    status: SteadyStatus
    concentrations: np.ndarray
    initial: np.ndarray
    pools: tuple[ConservedPool, ...]
    residual: float  # max |dx/dt| at the steady state relative to the largest flux term

    @property
    def settles(self) -> bool:
        return self.status.settles

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.network.nodes, map(float, self.concentrations)))

    def conserved_totals(self) -> list[dict[str, object]]:
        """One entry per closed pool: ``{"species": [node ids], "total": value, "initial": value,
        "unbounded": bool}`` (JSON-ready; ``total`` is None for an unbounded pool)."""
        nodes = self.network.nodes
        return [{"species": [nodes[k] for k in p.nodes],
                 "total": None if p.unbounded else float(p.total),
                 "initial": float(p.initial), "unbounded": bool(p.unbounded)}
                for p in self.pools]


def _check_initial(net: Network, x0: np.ndarray) -> np.ndarray:
    x0 = np.asarray(x0, dtype=np.float64).reshape(-1)
    if x0.shape != (net.n_nodes,):
        raise NetworkError(f"the initial state needs {net.n_nodes} values, got {x0.size}",
                           source=net.name or "network")
    bad = np.flatnonzero(~np.isfinite(x0) | (x0 < 0))
    if len(bad):
        k = int(bad[0])
        raise NetworkError(f"initial value must be finite and >= 0, got {float(x0[k])!r}",
                           source=net.name or "network", element=net.nodes[k])
    return x0


def steady_state(net: Network, initial: Sequence[float] | np.ndarray | None = None) -> SteadyState:
    """The steady state ``net`` reaches from ``initial`` (zeros when None)."""
    return steady_states([net], None if initial is None else [initial])[0]


def steady_states(nets: Sequence[Network],
                  initials: Sequence[Sequence[float] | np.ndarray] | None = None) -> list[SteadyState]:
    """:func:`steady_state` for many networks at once (one search, one LU for the whole batch)."""
    nets = list(nets)
    if not nets:
        return []
    if initials is None:
        initials = [np.zeros(net.n_nodes) for net in nets]
    if len(initials) != len(nets):
        raise ValueError(f"{len(nets)} networks but {len(initials)} initial states")
    x0s = [_check_initial(net, x0) for net, x0 in zip(nets, initials)]
    sizes = np.array([net.n_nodes for net in nets], np.int64)
    off = np.concatenate([[0], np.cumsum(sizes)])
    n = int(off[-1])
    src = np.concatenate([net.src + off[k] for k, net in enumerate(nets)]).astype(np.int64)
    dst = np.concatenate([net.dst + off[k] for k, net in enumerate(nets)]).astype(np.int64)
    w = np.concatenate([net.weight for net in nets])
    phi = np.concatenate([net.intake for net in nets])
    ex = np.concatenate([net.excretion for net in nets])
    x0 = np.concatenate(x0s)
    dense = n <= DENSE_MAX

    # Closed pools: terminal SCCs without excretion.
    n_comp, comp = _strong_components(n, src, dst, dense)
    leaves = np.zeros(n_comp, bool)
    leaves[comp[src[comp[src] != comp[dst]]]] = True  # an edge leaves the component
    leaky = np.zeros(n_comp, bool)
    leaky[comp[ex > 0]] = True
    closed_comp = ~leaves & ~leaky
    pool = closed_comp[comp]  # (n,) node in a closed pool
    fed = _downstream(n, src, dst, np.flatnonzero(phi > 0), dense)  # receives inflow
    unbounded_comp = np.zeros(n_comp, bool)
    unbounded_comp[comp[pool & fed]] = True

    # Transient nodes: grounded-Laplacian solve, and the mass they pass into each pool.
    out_rate = np.bincount(src, weights=w, minlength=n)
    trans = np.flatnonzero(~pool)
    x = np.zeros(n)
    absorbed = np.zeros(n_comp)
    if len(trans):
        local = np.full(n, -1, np.int64)
        local[trans] = np.arange(len(trans))
        inner = ~pool[src] & ~pool[dst]
        m_rows = np.concatenate([local[dst[inner]], np.arange(len(trans))])
        m_cols = np.concatenate([local[src[inner]], np.arange(len(trans))])
        m_vals = np.concatenate([-w[inner], out_rate[trans] + ex[trans]])
        solve = _factor(m_rows, m_cols, m_vals, len(trans), dense)
        x_t = solve(phi[trans].copy())
        x[trans] = x_t
        into = ~pool[src] & pool[dst]  # edges from transient nodes into pools
        if into.any():
            passed = solve(x0[trans] - x_t)  # integral of the deviation from steady state
            np.add.at(absorbed, comp[dst[into]], w[into] * passed[local[src[into]]])

    # Pools: stationary vector scaled to the pool's total (one row per pool holds the total).
    pool_nodes = np.flatnonzero(pool)
    totals = np.zeros(n_comp)
    np.add.at(totals, comp[pool_nodes], x0[pool_nodes])
    initial_totals = totals.copy()
    totals += absorbed
    if len(pool_nodes):
        local = np.full(n, -1, np.int64)
        local[pool_nodes] = np.arange(len(pool_nodes))
        inner = pool[src] & pool[dst]  # closed pools have no edge leaving them
        first = np.full(n_comp, n, np.int64)
        np.minimum.at(first, comp[pool_nodes], pool_nodes)  # lowest node index of each pool
        is_first = first[comp[pool_nodes]] == pool_nodes
        keep_edges = ~is_first[local[dst[inner]]]
        rows = [local[dst[inner]][keep_edges], local[pool_nodes][~is_first]]
        cols = [local[src[inner]][keep_edges], local[pool_nodes][~is_first]]
        vals = [w[inner][keep_edges], -out_rate[pool_nodes][~is_first]]
        anchor = first[comp[pool_nodes]]  # the normalisation row of each pool: sum x = total
        rows.append(local[anchor])
        cols.append(local[pool_nodes])
        vals.append(np.ones(len(pool_nodes)))
        rhs = np.where(is_first, totals[comp[pool_nodes]], 0.0)
        x[pool_nodes] = _factor(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
                                len(pool_nodes), dense)(rhs)

    results = []
    for k, net in enumerate(nets):
        a, b = int(off[k]), int(off[k + 1])
        comps = np.unique(comp[a:b][pool[a:b]])
        pools = tuple(ConservedPool(tuple(int(i) - a for i in np.flatnonzero(comp[a:b] == c) + a),
                                    float(totals[c]), float(initial_totals[c]),
                                    bool(unbounded_comp[c])) for c in comps)
        if any(p.unbounded for p in pools):
            status = SteadyStatus.UNBOUNDED
        else:
            status = SteadyStatus.CONSERVED if pools else SteadyStatus.UNIQUE
        xk = np.maximum(x[a:b], 0.0) if status.settles else np.full(b - a, np.nan)
        xk.setflags(write=False)
        results.append(SteadyState(net, status, xk, x0s[k], pools,
                                   _residual(net, xk) if status.settles else float("nan")))
    return results


def _strong_components(n: int, src: np.ndarray, dst: np.ndarray,
                       dense: bool) -> tuple[int, np.ndarray]:
    """(number of SCCs, SCC label per node): scipy for large graphs, else an iterative Tarjan."""
    if not dense:
        from scipy.sparse import csr_matrix  # lazy: ~0.25 s to import
        from scipy.sparse.csgraph import connected_components

        adj = csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
        return connected_components(adj, directed=True, connection="strong")
    order = np.argsort(src, kind="stable")
    targets = dst[order].tolist()
    start = np.searchsorted(src[order], np.arange(n + 1)).tolist()
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    comp = [-1] * n
    counter = n_comp = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, start[root])]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, k = work[-1]
            if k < start[v + 1]:
                work[-1] = (v, k + 1)
                u = targets[k]
                if index[u] < 0:
                    index[u] = low[u] = counter
                    counter += 1
                    stack.append(u)
                    on_stack[u] = True
                    work.append((u, start[u]))
                elif on_stack[u]:
                    low[v] = min(low[v], index[u])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                while True:
                    u = stack.pop()
                    on_stack[u] = False
                    comp[u] = n_comp
                    if u == v:
                        break
                n_comp += 1
    return n_comp, np.array(comp, dtype=np.int64)


def _downstream(n: int, src: np.ndarray, dst: np.ndarray, seeds: np.ndarray,
                dense: bool) -> np.ndarray:
    """Boolean per node: a seed or reachable from one along the edges."""
    if not dense:
        return reaches(n, dst, src, seeds)
    seen = np.zeros(n, bool)
    seen[seeds] = True
    frontier = seen.copy()
    while frontier.any():
        step = np.zeros(n, bool)
        step[dst[frontier[src]]] = True
        frontier = step & ~seen
        seen |= step
    return seen


def _factor(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, size: int,
            dense: bool) -> Callable[[np.ndarray], np.ndarray]:
    """A solver for the (size x size) matrix given as triplets (duplicates add up)."""
    if dense:
        mat = np.zeros((size, size))
        np.add.at(mat, (rows, cols), vals)
        return lambda b: np.linalg.solve(mat, b)
    from scipy.sparse import csr_matrix  # lazy: ~0.25 s to import
    from scipy.sparse.linalg import splu

    lu = splu(csr_matrix((vals, (rows, cols)), shape=(size, size)).tocsc())
    return lu.solve


def _residual(net: Network, x: np.ndarray) -> float:
    """max |dx/dt| divided by the largest single flux term at ``x`` (0 for an empty system)."""
    r = net.rhs(x)
    scale = max(float(np.max(net.intake, initial=0.0)),
                float(np.max((net.out_rate() + net.excretion) * np.abs(x), initial=0.0)))
    return float(np.max(np.abs(r), initial=0.0) / scale) if scale > 0 else 0.0
