"""Compile a reaction network's rate laws into vectorised NumPy and torch functions, with Jacobians.

Each model's laws are turned once into Python source in single-assignment form (one line per
distinct operation; shared subtrees computed once), compiled with :func:`compile`, and run over
arrays: a state ``x`` of shape ``(..., n_state)`` and parameters ``p`` of shape
``(..., n_params)`` broadcast against each other, so one call evaluates a batch of states and a
batch of parameter sets. There is no tree walking at run time. The Jacobian ``d rhs / d x`` is
built from exact symbolic derivatives (:func:`sbmleq.core.expr.diff`) compiled the same way;
torch versions of the same source give GPU execution and autograd.

    rhs_i = sum_j N_ij v_j / V_i      (species; V_i the compartment size, 1 for amounts)
    rhs_k = rate rule k               (rate-rule variables)

Compartment sizes are read from ``p`` at run time, so a scan may set them. The code generator
and the array namespaces are :mod:`sbmleq.core.codegen`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sbmleq.core.codegen import NumpyOps, compile_expressions, torch_ops
from sbmleq.core.expr import Num, diff, symbols
from sbmleq.core.reactions import ReactionNetwork

__all__ = ["CompiledNetwork", "compile_network", "compile_expressions", "NumpyOps", "SPARSE_FROM"]


SPARSE_FROM = 256  # unbatched Jacobians of more state variables are assembled sparse


# ------------------------------------------------------------------ the compiled network
@dataclass(eq=False)
class CompiledNetwork:
    """Vectorised rates, right-hand side and Jacobian of one :class:`ReactionNetwork`."""

    network: ReactionNetwork
    source: str
    _rates: Callable[..., list[Any]] = field(repr=False)
    _jac: Callable[..., list[Any]] = field(repr=False)
    _entries: tuple[np.ndarray, np.ndarray] = field(repr=False)  # (row j, state column i)
    _torch: Any = field(default=None, repr=False)
    _assembly: Any = field(default=None, repr=False)
    _volume_plan: Any = field(default=None, repr=False)  # (columns, unit mask) or False

    @property
    def state_ids(self) -> tuple[str, ...]:
        return self.network.state_ids

    @property
    def parameter_ids(self) -> tuple[str, ...]:
        return self.network.parameter_ids

    @property
    def n_state(self) -> int:
        return self.network.n_state

    @property
    def n_reactions(self) -> int:
        return len(self.network.reactions)

    @property
    def x0(self) -> np.ndarray:
        return self.network.initial_state()

    @property
    def p0(self) -> np.ndarray:
        return self.network.parameter_vector()

    # -------------------------------------------------------------- NumPy
    def _args(self, x: Any, p: Any) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
        x = np.asarray(x, dtype=np.float64)
        p = self.p0 if p is None else np.asarray(p, dtype=np.float64)
        shape = np.broadcast_shapes(x.shape[:-1], p.shape[:-1])
        return x, p, shape

    def _stack(self, values: list[Any], shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape + (len(values),))
        for k, v in enumerate(values):
            out[..., k] = v
        return out

    def _volumes(self, p: np.ndarray, shape: tuple[int, ...], xp: Any = np) -> Any:
        """Each species' compartment size from ``p`` (1 for rate-rule state), or None when
        every species lives in a unit volume; the plan is worked out once."""
        if self._volume_plan is None:
            index = {c: i for i, c in enumerate(self.parameter_ids)}
            k = len(self.network.state_species)
            cols = [index[c] if c is not None else -1 for c in self.network.volume_ids[:k]]
            safe = np.array([max(c, 0) for c in cols], dtype=np.int64)
            ones = np.array([c < 0 for c in cols])
            self._volume_plan = False if ones.all() else (safe, ones)
        if self._volume_plan is False:
            return None
        safe, ones = self._volume_plan
        if xp is np:
            vol = p[..., safe]
            return np.where(ones, 1.0, vol) if ones.any() else vol
        vol = p[..., safe.tolist()]
        return xp.where(xp.as_tensor(ones, device=vol.device), 1.0, vol)

    def rates(self, x: Any, p: Any = None) -> np.ndarray:
        """Reaction rates (substance per time) then rate-rule values, ``(..., R + n_rules)``."""
        x, p, shape = self._args(x, p)
        with np.errstate(all="ignore"):
            return self._stack(self._rates(x, p, NumpyOps), shape)

    def rhs(self, x: Any, p: Any = None) -> np.ndarray:
        """``dx/dt`` in each state variable's own unit, ``(..., n_state)``."""
        x, p, shape = self._args(x, p)
        v = self.rates(x, p)
        return self._combine(v, p, shape)

    def _combine(self, v: np.ndarray, p: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        net = self.network
        n = net.stoichiometry
        R = n.shape[1]
        species = v[..., :R] @ n.T
        vol = self._volumes(p, shape)
        if vol is not None:
            species = species / vol
        return np.concatenate([species, v[..., R:]], axis=-1)

    def jacobian(self, x: Any, p: Any = None, sparse: bool | None = None) -> Any:
        """``d rhs / d x``, ``(..., n_state, n_state)``; a ``scipy.sparse`` CSR matrix for one
        state when ``sparse`` (default: one state of more than :data:`SPARSE_FROM` variables)."""
        x, p, shape = self._args(x, p)
        rows, cols = self._entries
        n_x, n_v = self.n_state, self.n_reactions + len(self.network.rate_rules)
        with np.errstate(all="ignore"):
            values = self._jac(x, p, NumpyOps)
        if sparse is None:
            sparse = shape == () and n_x > SPARSE_FROM
        net = self.network
        nm = np.asarray(net.stoichiometry)
        R = nm.shape[1]
        vol = self._volumes(p, shape)
        if sparse:
            if shape != ():
                raise ValueError("a sparse Jacobian is for one state (x of shape (n_state,))")
            import scipy.sparse as sp  # only for large single-state Jacobians

            d = sp.csr_matrix((np.array([float(v) for v in values]), (rows, cols)),
                              shape=(n_v, n_x))
            top = sp.csr_matrix(nm) @ d[:R]
            if vol is not None:
                top = sp.diags(1.0 / vol) @ top
            return sp.vstack([top, d[R:]]).tocsr()
        flat_index, coeff = self._assemble()
        out = np.zeros(shape + (n_x * n_x,))
        if values:
            out[..., flat_index] = self._stack(values, shape) @ coeff
        out = out.reshape(shape + (n_x, n_x))
        if vol is not None:
            k = len(net.state_species)
            out[..., :k, :] /= vol[..., :, None]
        return out

    def _assemble(self) -> tuple[np.ndarray, Any]:
        """(flat positions of the Jacobian's structural nonzeros, the matrix taking the law
        derivatives to them): ``J_flat[nz] = dv_entries @ coeff`` (volumes applied after)."""
        if self._assembly is None:
            rows, cols = self._entries
            nm = np.asarray(self.network.stoichiometry)
            n_sp, R = nm.shape
            n_x = self.n_state
            target: dict[int, int] = {}
            triples: list[tuple[int, int, float]] = []
            for k, (j, i) in enumerate(zip(rows.tolist(), cols.tolist())):
                if j < R:
                    hits = [(s, float(nm[s, j])) for s in np.flatnonzero(nm[:, j])]
                else:  # a rate rule: its own row
                    hits = [(n_sp + j - R, 1.0)]
                for srow, c in hits:
                    pos = target.setdefault(srow * n_x + i, len(target))
                    triples.append((k, pos, c))
            coeff: Any = np.zeros((len(rows), len(target)))
            if len(rows) * len(target) > 4_000_000:
                import scipy.sparse as sp  # large models: the assembly matrix is sparse

                coeff = sp.csr_matrix(([c for *_, c in triples],
                                       ([k for k, *_ in triples], [q for _, q, _ in triples])),
                                      shape=(len(rows), len(target)))
            else:
                for k, q, c in triples:
                    coeff[k, q] += c
            self._assembly = (np.array(list(target), dtype=np.int64), coeff)
        return self._assembly

    # -------------------------------------------------------------- torch
    def torch_rates(self, x: Any, p: Any = None) -> Any:
        """``rates`` on torch tensors, ``(..., R + n_rules)`` (any device, autograd through it)."""
        import torch  # the torch path is opt-in

        F = self._torch_ns()
        if p is None:
            p = torch.as_tensor(self.p0, dtype=x.dtype, device=x.device)
        shape = torch.broadcast_shapes(x.shape[:-1], p.shape[:-1])
        vals = [torch.as_tensor(v, dtype=x.dtype, device=x.device).expand(shape)
                for v in self._rates(x, p, F)]
        if not vals:
            return torch.zeros(shape + (0,), dtype=x.dtype, device=x.device)
        return torch.stack(vals, dim=-1)

    def torch_rhs(self, x: Any, p: Any = None) -> Any:
        """``rhs`` on torch tensors (any device, autograd through it)."""
        import torch  # the torch path is opt-in

        F = self._torch_ns()
        if p is None:
            p = torch.as_tensor(self.p0, dtype=x.dtype, device=x.device)
        shape = torch.broadcast_shapes(x.shape[:-1], p.shape[:-1])
        vals = [torch.as_tensor(v, dtype=x.dtype, device=x.device).expand(shape)
                for v in self._rates(x, p, F)]
        v = torch.stack(vals, dim=-1) if vals else torch.zeros(shape + (0,), dtype=x.dtype,
                                                                 device=x.device)
        nm = torch.as_tensor(np.array(self.network.stoichiometry), dtype=x.dtype,
                             device=x.device)
        R = nm.shape[1]
        species = v[..., :R] @ nm.T
        vol = self._volumes(p, tuple(shape), xp=torch)
        if vol is not None:
            species = species / vol
        return torch.cat([species, v[..., R:]], dim=-1)

    def torch_jacobian(self, x: Any, p: Any = None) -> Any:
        """``d rhs / d x`` on torch tensors, by autograd, ``(..., n_state, n_state)``."""
        import torch  # the torch path is opt-in

        def f(xs: Any) -> Any:
            return self.torch_rhs(xs, p)

        flat = x.reshape(-1, x.shape[-1])
        if p is not None and p.dim() > 1:
            pf = torch.broadcast_to(p, x.shape[:-1] + p.shape[-1:]).reshape(-1, p.shape[-1])
            jac = torch.func.vmap(torch.func.jacrev(lambda a, b: self.torch_rhs(a, b)))(flat, pf)
        else:
            jac = torch.func.vmap(torch.func.jacrev(f))(flat)
        return jac.reshape(x.shape[:-1] + (x.shape[-1], x.shape[-1]))

    def _torch_ns(self) -> Any:
        if self._torch is None:
            self._torch = torch_ops()
        return self._torch


def compile_network(net: ReactionNetwork) -> CompiledNetwork:
    """Compile ``net``'s rate laws, rate rules and their derivatives (once per network)."""
    exprs = [r.rate for r in net.reactions] + [rule.rate for rule in net.rate_rules]
    x_names, p_names = net.state_ids, net.parameter_ids
    source, rates = compile_expressions(exprs, x_names, p_names)
    state = set(x_names)
    rows, cols, derivs = [], [], []
    index = {s: i for i, s in enumerate(x_names)}
    for j, e in enumerate(exprs):
        for s in sorted(symbols(e) & state, key=index.__getitem__):
            d = diff(e, s)
            if d != Num(0.0):
                rows.append(j)
                cols.append(index[s])
                derivs.append(d)
    jsource, jac = compile_expressions(derivs, x_names, p_names)
    return CompiledNetwork(net, source + "\n" + jsource, rates, jac,
                           (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)))


_NumpyOps = NumpyOps  # the earlier private name, still used inside sbmleq.core.solve
