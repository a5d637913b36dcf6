"""The LIFE network: metabolites as nodes, first-order fluxes on edges, intakes and excretions.

Dynamics (x = concentrations)::

    dx_j/dt = phi_j + sum_i w_ij x_i - (sum_k w_jk) x_j - e_j x_j

``Network`` is immutable: its arrays are read-only and it is hashable, so networks can be
de-duplicated with a ``set``. Node ``k`` is named ``nodes[k]``; edges are stored as three
parallel arrays (source index, target index, rate constant) sorted by (source, target).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sbmleq.errors import NetworkError

JSON_SCHEMA_VERSION = 1


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Network:
    """A validated LIFE network. Build it with :meth:`from_edges` or the constructor."""

    nodes: tuple[str, ...]
    src: np.ndarray  # int64, shape (E,)
    dst: np.ndarray  # int64, shape (E,)
    weight: np.ndarray  # float64 > 0, shape (E,)
    intake: np.ndarray  # float64 >= 0, shape (n,): constant inflow into each node
    excretion: np.ndarray  # float64 >= 0, shape (n,): first-order outflow rate of each node
    name: str = ""
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        nodes = tuple(str(n) for n in self.nodes)
        n = len(nodes)
        src = np.asarray(self.src, dtype=np.int64).reshape(-1)
        dst = np.asarray(self.dst, dtype=np.int64).reshape(-1)
        weight = np.asarray(self.weight, dtype=np.float64).reshape(-1)
        # "+ 0.0" turns -0.0 into 0.0, so that equal networks have equal bytes (hash, digest).
        intake = np.asarray(self.intake, dtype=np.float64).reshape(-1) + 0.0
        excretion = np.asarray(self.excretion, dtype=np.float64).reshape(-1) + 0.0
        where = self.name or "network"
        if n == 0:
            raise NetworkError("the network has no nodes", source=where)
        if len(set(nodes)) != n:
            dupes = sorted({x for x in nodes if nodes.count(x) > 1})
            raise NetworkError(f"node ids are not unique: {', '.join(dupes[:5])}", source=where)
        if not (len(src) == len(dst) == len(weight)):
            raise NetworkError("edge arrays differ in length", source=where)
        if intake.shape != (n,) or excretion.shape != (n,):
            raise NetworkError("intake and excretion need one value per node", source=where)
        outside = np.flatnonzero((src < 0) | (dst < 0) | (src >= n) | (dst >= n))
        if len(outside):
            k = int(outside[0])
            raise NetworkError(f"an edge refers to a node index out of range 0..{n - 1}",
                               source=where, element=f"edge #{k} ({int(src[k])}->{int(dst[k])})")
        bad = np.flatnonzero((src == dst) | ~np.isfinite(weight) | (weight <= 0))
        if len(bad):
            k = int(bad[0])
            s, t, w = int(src[k]), int(dst[k]), float(weight[k])
            problem = ("self-loop (an edge from a node to itself)" if s == t
                       else f"rate constant must be finite and > 0, got {w!r}")
            raise NetworkError(problem, source=where, element=f"edge {nodes[s]}->{nodes[t]}")
        for label, values in (("intake", intake), ("excretion", excretion)):
            bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
            if len(bad):
                k = int(bad[0])
                raise NetworkError(f"{label} must be finite and >= 0, got {values[k]!r}",
                                   source=where, element=f"{label} of {nodes[k]}")
        order = np.lexsort((dst, src))
        src, dst, weight = src[order], dst[order], weight[order]
        if len(src) > 1:
            same = (src[1:] == src[:-1]) & (dst[1:] == dst[:-1])
            if same.any():
                k = int(np.flatnonzero(same)[0])
                raise NetworkError("duplicate edge (merge parallel fluxes by adding their rates)",
                                   source=where, element=f"edge {nodes[src[k]]}->{nodes[dst[k]]}")
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "src", _frozen(src))
        object.__setattr__(self, "dst", _frozen(dst))
        object.__setattr__(self, "weight", _frozen(weight))
        object.__setattr__(self, "intake", _frozen(intake))
        object.__setattr__(self, "excretion", _frozen(excretion))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(
        cls,
        edges: Iterable[tuple[Any, Any] | tuple[Any, Any, float]],
        intake: Mapping[Any, float],
        excretion: Mapping[Any, float],
        nodes: Sequence[Any] | None = None,
        name: str = "",
    ) -> "Network":
        """Build from node ids: ``edges`` as (source, target[, rate]) with rate 1 by default."""
        edges = [tuple(e) for e in edges]
        if nodes is None:
            seen: dict[str, None] = {}
            for e in edges:
                seen.setdefault(str(e[0]))
                seen.setdefault(str(e[1]))
            for k in list(intake) + list(excretion):
                seen.setdefault(str(k))
            nodes = list(seen)
        ids = [str(x) for x in nodes]
        index = {x: i for i, x in enumerate(ids)}
        where = name or "network"

        def idx(x: Any, what: str) -> int:
            try:
                return index[str(x)]
            except KeyError:
                raise NetworkError(f"unknown node {x!r}", source=where, element=what) from None

        src = [idx(e[0], f"edge {e[0]}->{e[1]}") for e in edges]
        dst = [idx(e[1], f"edge {e[0]}->{e[1]}") for e in edges]
        weight = [float(e[2]) if len(e) > 2 else 1.0 for e in edges]
        phi = np.zeros(len(ids))
        ex = np.zeros(len(ids))
        for k, v in intake.items():
            phi[idx(k, f"intake of {k}")] = float(v)
        for k, v in excretion.items():
            ex[idx(k, f"excretion of {k}")] = float(v)
        return cls(tuple(ids), np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64),
                   np.array(weight, dtype=np.float64), phi, ex, name=name)

    @classmethod
    def from_arrays(cls, n: int, src, dst, weight, intake, excretion, name: str = "") -> "Network":
        """Build with default node ids ``x0 .. x{n-1}`` (the generators' path)."""
        return cls(tuple(f"x{i}" for i in range(n)), src, dst, weight, intake, excretion, name=name)

    # ------------------------------------------------------------------ basic properties
    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        return len(self.src)

    @property
    def intake_nodes(self) -> np.ndarray:
        return np.flatnonzero(self.intake > 0)

    @property
    def excreting_nodes(self) -> np.ndarray:
        return np.flatnonzero(self.excretion > 0)

    def index(self, node_id: str) -> int:
        try:
            return self.nodes.index(node_id)
        except ValueError:
            raise KeyError(node_id) from None

    def out_rate(self) -> np.ndarray:
        """Total first-order loss rate of each node along its edges (without excretion)."""
        return np.bincount(self.src, weights=self.weight, minlength=self.n_nodes)

    def with_parameters(self, weight=None, intake=None, excretion=None) -> "Network":
        """Same topology, new parameter values (for parameter scans)."""
        return Network(self.nodes, self.src, self.dst,
                       self.weight if weight is None else weight,
                       self.intake if intake is None else intake,
                       self.excretion if excretion is None else excretion, name=self.name)

    # ------------------------------------------------------------------ matrices
    def weight_matrix(self, sparse: bool = False):
        """W with W[i, j] = rate constant of edge i->j (dense numpy or scipy CSR)."""
        n = self.n_nodes
        if sparse:
            from scipy.sparse import csr_matrix

            return csr_matrix((self.weight, (self.src, self.dst)), shape=(n, n))
        w = np.zeros((n, n))
        w[self.src, self.dst] = self.weight
        return w

    def system_matrix(self, sparse: bool = False):
        """J with dx/dt = J x + intake, i.e. J = W^T - diag(out_rate + excretion)."""
        loss = self.out_rate() + self.excretion
        if sparse:
            from scipy.sparse import diags

            return (self.weight_matrix(sparse=True).T - diags(loss)).tocsr()
        return self.weight_matrix().T - np.diag(loss)

    def rhs(self, x: np.ndarray) -> np.ndarray:
        """The ODE right-hand side dx/dt at concentrations ``x``."""
        x = np.asarray(x, dtype=np.float64)
        inflow = np.bincount(self.dst, weights=self.weight * x[self.src], minlength=self.n_nodes)
        return self.intake + inflow - (self.out_rate() + self.excretion) * x

    # ------------------------------------------------------------------ conversions
    def to_networkx(self):
        """A ``networkx.DiGraph``: edge attribute ``weight``, node attributes ``intake``/``excretion``."""
        import networkx as nx

        g = nx.DiGraph(name=self.name)
        for k, node in enumerate(self.nodes):
            g.add_node(node, intake=float(self.intake[k]), excretion=float(self.excretion[k]))
        for s, t, w in zip(self.src, self.dst, self.weight):
            g.add_edge(self.nodes[s], self.nodes[t], weight=float(w))
        return g

    @classmethod
    def from_networkx(cls, graph, name: str | None = None) -> "Network":
        """Inverse of :meth:`to_networkx` (missing ``weight`` means 1, missing intake/excretion 0)."""
        nodes = [str(n) for n in graph.nodes]
        edges = [(str(s), str(t), float(d.get("weight", 1.0))) for s, t, d in graph.edges(data=True)]
        intake = {str(n): float(d.get("intake", 0.0)) for n, d in graph.nodes(data=True)}
        excretion = {str(n): float(d.get("excretion", 0.0)) for n, d in graph.nodes(data=True)}
        return cls.from_edges(edges, intake, excretion, nodes=nodes,
                              name=graph.graph.get("name", "") if name is None else name)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON schema documented in docs/network-json.md."""
        return {
            "schema": "sbmleq.core.network",
            "version": JSON_SCHEMA_VERSION,
            "name": self.name,
            "nodes": list(self.nodes),
            "edges": [[self.nodes[s], self.nodes[t], float(w)]
                      for s, t, w in zip(self.src, self.dst, self.weight)],
            "intake": {self.nodes[k]: float(self.intake[k]) for k in self.intake_nodes},
            "excretion": {self.nodes[k]: float(self.excretion[k]) for k in self.excreting_nodes},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Network":
        if data.get("schema") != "sbmleq.core.network":
            raise NetworkError("not an sbmleq network JSON object (schema key missing)")
        if int(data.get("version", 0)) > JSON_SCHEMA_VERSION:
            raise NetworkError(f"network JSON version {data.get('version')} is newer than "
                               f"this sbmleq understands ({JSON_SCHEMA_VERSION})")
        try:
            return cls.from_edges([tuple(e) for e in data["edges"]], data.get("intake", {}),
                                  data.get("excretion", {}), nodes=data["nodes"],
                                  name=data.get("name", ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise NetworkError(f"malformed network JSON: {exc}") from None

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> "Network":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NetworkError(f"malformed network JSON: {exc}") from None
        return cls.from_dict(data)

    # ------------------------------------------------------------------ identity
    def _key(self) -> tuple:
        return (self.nodes, self.src.tobytes(), self.dst.tobytes(), self.weight.tobytes(),
                self.intake.tobytes(), self.excretion.tobytes())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        if not self._hash:
            object.__setattr__(self, "_hash", hash(self._key()) or 1)
        return self._hash

    def structure_digest(self) -> str:
        """A short stable digest of nodes count, edges and parameters (ids ignored): for de-dup."""
        h = hashlib.blake2b(digest_size=12)
        h.update(np.int64(self.n_nodes).tobytes())
        for a in (self.src, self.dst, self.weight, self.intake, self.excretion):
            h.update(a.tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return (f"Network{label}(nodes={self.n_nodes}, edges={self.n_edges}, "
                f"intakes={len(self.intake_nodes)}, excretions={len(self.excreting_nodes)})")
