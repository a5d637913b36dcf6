"""The residual scale: what "relative residual" means everywhere in the solver.

Each rate law (and rate rule) is split into its additive terms (:func:`flux_terms`: a
reversible law ``kf*S*E - kr*ES`` into its forward and backward fluxes), and its *gross flux*
``g_j`` is the sum of the terms' magnitudes. For a species row ``s_i = sum_j |N_ij| g_j / V_i``,
everything that flows in and out; for a rate-rule row, its own gross value. The relative
residual is

    max_i |f_i| / (s_i + 1e-6 max(max_k s_k, S0) + 1e-300)      (S0: max_k s_k at x0)

each balance relative to its own throughput, with a floor at a millionth of the largest
throughput (at ``x`` or at the initial state, whichever is larger) so that a species with
negligible flux does not demand more digits than floating point gives, and a state where every
flux has died out (everything consumed) is measured against the fluxes there were at the start.
Measuring against the net rates instead would make every reversible reaction at equilibrium a
relative residual of 1. Everything broadcasts over leading batch dimensions.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from sbmleq.core.compile import CompiledNetwork, NumpyOps, compile_expressions
from sbmleq.core.expr import Expr, Op, mul

__all__ = ["ResidualScale", "flux_terms", "SCALE_FLOOR", "TERM_LIMIT"]

SCALE_FLOOR = 1e-6  # of the largest throughput: the smallest scale a balance is measured against
TERM_LIMIT = 64  # a rate law is split into at most this many terms for its gross flux


def flux_terms(e: Expr, limit: int = TERM_LIMIT) -> list[Expr]:
    """``e`` as a sum of terms: sums split, products distributed over the sums among their
    factors (``c * (kf*S*E - kr*ES) / K`` gives ``c*kf*S*E/K`` and ``-c*kr*ES/K``), unless that
    would make more than ``limit`` terms."""
    if isinstance(e, Op) and e.op == "add":
        out = [t for a in e.args for t in flux_terms(a, limit)]
        return out if len(out) <= limit else [e]
    if isinstance(e, Op) and e.op == "mul":
        lists = [flux_terms(f, limit) for f in e.args]
        if math.prod(len(x) for x in lists) > limit:
            return [e]
        return [mul(*combo) for combo in itertools.product(*lists)]
    return [e]


class ResidualScale:
    """The throughput each balance is measured against (module docstring)."""

    def __init__(self, compiled: CompiledNetwork) -> None:
        net = compiled.network
        self.compiled = compiled
        self.abs_n = np.abs(np.asarray(net.stoichiometry))
        self.k = len(net.state_species)
        laws = [r.rate for r in net.reactions] + [rule.rate for rule in net.rate_rules]
        terms: list[Expr] = []
        owner: list[int] = []
        for j, law in enumerate(laws):
            parts = flux_terms(law)
            terms += parts
            owner += [j] * len(parts)
        self.sum_terms = np.zeros((len(terms), len(laws)))  # term -> its law
        self.sum_terms[np.arange(len(terms)), owner] = 1.0
        self._terms = compile_expressions(terms, net.state_ids, net.parameter_ids)[1]

    def gross(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Per law (reactions, then rate rules) the sum of its terms' magnitudes."""
        shape = np.broadcast_shapes(x.shape[:-1], p.shape[:-1])
        with np.errstate(all="ignore"):
            vals = self._terms(x, p, NumpyOps)
        out = np.empty(shape + (len(vals),))
        for k, v in enumerate(vals):
            out[..., k] = np.abs(v)
        return out @ self.sum_terms

    def scale(self, x: np.ndarray, p: np.ndarray, vol: np.ndarray) -> np.ndarray:
        x, p = np.asarray(x, dtype=np.float64), np.asarray(p, dtype=np.float64)
        g = self.gross(x, p)
        r = self.abs_n.shape[1]
        species = (g[..., :r] @ self.abs_n.T) / vol[..., :self.k]
        return np.concatenate([species, g[..., r:]], axis=-1)

    @staticmethod
    def floor(s: np.ndarray, ref: np.ndarray | float = 0.0) -> np.ndarray:
        """``SCALE_FLOOR`` times the larger of the largest throughput and ``ref`` (the
        throughput at the initial state), keeping the last axis."""
        top = np.maximum(np.max(s, axis=-1, initial=0.0), ref)
        return (SCALE_FLOOR * top + 1e-300)[..., None]

    @staticmethod
    def relative(f: np.ndarray, s: np.ndarray, ref: np.ndarray | float = 0.0) -> np.ndarray:
        """``max_i |f_i| / (s_i + floor)`` per item (inf when ``f`` is not finite)."""
        if f.shape[-1] == 0:
            return np.zeros(f.shape[:-1])
        with np.errstate(invalid="ignore"):
            r = np.max(np.abs(f) / (s + ResidualScale.floor(s, ref)), axis=-1)
        return np.where(np.all(np.isfinite(f), axis=-1), r, np.inf)
