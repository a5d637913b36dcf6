"""The physics arm's rate evaluations for the NumPy general model (no torch):
:class:`NumpyPhysicsRHS` is :class:`~sbmleq.model.general_model.PhysicsRHS` on
:meth:`~sbmleq.core.compile.CompiledNetwork.rates` (one item of a structure: Python floats,
:class:`~sbmleq.core.solve.fast.ScalarRates`), in float64.

Compiled networks are reused by :func:`compile_key` (the structure digest plus the order of the
state and parameter vectors), never by the digest alone, and each item's rates read its own
parameter vector; :func:`physics_compile` checks a caller's compile before the physics steps
use it (``predict(net, compiled=...)`` of both predictors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sbmleq.core.compile import CompiledNetwork, compile_network
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve.fast import ScalarRates
from sbmleq.errors import InputError
from sbmleq.model.general_features import GraphBatch, compile_key

__all__ = ["NumpyPhysicsRHS", "compile_key", "physics_compile", "symmetric_clip"]


def physics_compile(net: ReactionNetwork, compiled: CompiledNetwork | None, source: str,
                    cache: dict[str, CompiledNetwork]
                    ) -> tuple[dict[str, CompiledNetwork], list[str]]:
    """The ``(cache, keys)`` the physics steps of ``net`` get (both predictors): without a
    caller's ``compiled``, the predictor's ``cache`` under :func:`compile_key`; otherwise a
    one-entry cache holding ``compiled``, which must be a compile of ``net``'s structure with
    the same state and parameter order (an InputError naming ``source`` otherwise), so
    ``net``'s own parameter vector is read at the right positions."""
    if compiled is None:
        return cache, [compile_key(net)]
    if (compiled.network is not net and (tuple(compiled.state_ids), tuple(compiled.parameter_ids))
            != (tuple(net.state_ids), tuple(net.parameter_ids))):
        raise InputError("the compiled network given to predict() has other state or parameter "
                         "ids than the network predicted", source=net.name or "network",
                         element=source or None)
    return {"given": compiled}, ["given"]


def symmetric_clip(x: np.ndarray, bound: float) -> np.ndarray:
    """``np.clip(x, -bound, bound)`` (NaN stays NaN) without its Python-level dispatch."""
    return np.minimum(np.maximum(x, -bound), bound)


class NumpyPhysicsRHS:
    """:class:`~sbmleq.model.general_model.PhysicsRHS` in NumPy: the network's own rate laws
    at a batch of estimates ``y`` (one :meth:`CompiledNetwork.rates` call per group of items
    with one key; ``cache``: key -> CompiledNetwork, shared across calls; ``keys``: per item,
    :func:`compile_key` by default). Each item's rates read its own parameter vector."""

    def __init__(self, nets: Sequence[ReactionNetwork], batch: GraphBatch,
                 cache: dict[str, CompiledNetwork] | None = None,
                 keys: Sequence[str] | None = None):
        cache = {} if cache is None else cache
        keys = [compile_key(net) for net in nets] if keys is None else keys
        self.reference = np.asarray(batch.reference, dtype=np.float64)
        groups: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        self.groups: list[dict[str, Any]] = []
        for key, rows in groups.items():
            if key not in cache:
                cache[key] = compile_network(nets[rows[0]])
            net = nets[rows[0]]
            idx = batch.state_index[rows[0]]
            nodes = np.flatnonzero(idx >= 0)
            k = len(net.state_species)
            species_nodes = nodes[idx[nodes] < k]  # nodes of state species (not rate rules)
            laws = net.conservation.matrix.astype(np.float64) if k else np.zeros((0, 0))
            keep = [j for j in range(laws.shape[0]) if (laws[j] >= 0).all()]
            totals = np.stack([np.atleast_1d(nets[i].conserved_totals())[keep] for i in rows]) \
                if keep else np.zeros((len(rows), 0))
            p = np.stack([nets[i].parameter_vector() for i in rows]).astype(np.float64)
            self.groups.append({
                "compiled": cache[key], "rows": np.asarray(rows, dtype=np.int64),
                # one item: its rates with Python floats (~3x faster than NumPy on one state)
                "scalar": ScalarRates(cache[key], p[0]) if len(rows) == 1 else None,
                "nodes": nodes, "pos": idx[nodes], "snodes": species_nodes,
                "spos": idx[species_nodes],
                "p": p,
                "vol": np.stack([np.asarray(nets[i].volumes[:k], dtype=np.float64)
                                 for i in rows]),
                "n": np.asarray(net.stoichiometry, dtype=np.float64), "laws": laws[keep],
                "totals": totals.astype(np.float64)})
        self.has_laws = any(g["laws"].shape[0] for g in self.groups)

    @staticmethod
    def _state(g: dict[str, Any], logx: np.ndarray) -> np.ndarray:
        x = np.zeros((len(g["rows"]), g["compiled"].n_state))
        x[:, g["pos"]] = 10.0 ** logx[g["rows"]][:, g["nodes"]]
        return x

    @staticmethod
    def _rates(g: dict[str, Any], x: np.ndarray) -> np.ndarray:
        """The group's rates at states ``x``: with floats for one item (NumPy where floats
        raise: overflow, division by zero; the values are NumPy's either way, to rounding)."""
        if g["scalar"] is not None:
            v = g["scalar"].rates(x[0])
            if v is not None:
                return v[None]
        return g["compiled"].rates(x, g["p"])

    def _logx(self, y: np.ndarray) -> np.ndarray:
        return symmetric_clip(y + self.reference[:, None], 30.0)

    def balance(self, y: np.ndarray) -> np.ndarray:
        """``log10(P_i / C_i)`` per state species node (0 elsewhere), clipped to +-3."""
        out = np.zeros(y.shape)
        logx = self._logx(y)
        tiny = 1e-300
        with np.errstate(all="ignore"):
            for g in self.groups:
                v = self._rates(g, self._state(g, logx))[..., :g["n"].shape[1]]
                flux = g["n"][None] * v[:, None, :]  # (g, k, R) amounts per time
                prod = np.maximum(flux, 0.0).sum(-1)
                cons = np.maximum(-flux, 0.0).sum(-1)
                b = symmetric_clip(np.log10(prod + tiny) - np.log10(cons + tiny), 3.0)
                b = np.where((prod > 0) | (cons > 0), b, 0.0)
                out[g["rows"][:, None], g["snodes"][None, :]] = b[:, g["spos"]]
        out[np.isnan(out)] = 0.0
        return out

    def project(self, y: np.ndarray) -> np.ndarray:
        """``y`` with each kept conservation law's species scaled to its initial total."""
        if not self.has_laws:
            return y + 0.0
        shift = np.zeros(y.shape)
        logx = self._logx(y)
        with np.errstate(all="ignore"):
            for g in self.groups:
                if not g["laws"].shape[0]:
                    continue
                lx = logx[g["rows"]][:, g["snodes"]]  # (g, m) of the state species nodes
                d = np.zeros_like(lx)
                for j in range(g["laws"].shape[0]):
                    coef = g["laws"][j][g["spos"]]  # (m,)
                    amount = (coef * g["vol"][:, g["spos"]] * 10.0 ** (lx + d)).sum(-1)
                    total = g["totals"][:, j]
                    ratio = np.log10(np.maximum(total, 1e-300) / np.maximum(amount, 1e-300))
                    ratio = np.where(total > 0, ratio, 0.0)
                    d = d + ratio[:, None] * (coef > 0)
                shift[g["rows"][:, None], g["snodes"][None, :]] = d
        shift[np.isnan(shift)] = 0.0
        return y + symmetric_clip(shift, 30.0)
