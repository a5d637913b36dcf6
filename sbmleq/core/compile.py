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

Compartment sizes are read from ``p`` at run time, so a scan may set them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sbmleq.core.expr import Expr, Num, Op, Sym, diff, symbols
from sbmleq.core.reactions import ReactionNetwork

__all__ = ["CompiledNetwork", "compile_network", "compile_expressions", "NumpyOps", "SPARSE_FROM"]


SPARSE_FROM = 256  # unbatched Jacobians of more state variables are assembled sparse


# ------------------------------------------------------------------ array namespaces
class NumpyOps:
    """What the generated code calls, in NumPy (floats for booleans)."""

    exp, ln, log10, abs, floor, ceil = np.exp, np.log, np.log10, np.abs, np.floor, np.ceil
    sin, cos, tan, sinh, cosh, tanh = np.sin, np.cos, np.tan, np.sinh, np.cosh, np.tanh
    arcsin, arccos, arctan, sqrt, power = np.arcsin, np.arccos, np.arctan, np.sqrt, np.power

    @staticmethod
    def where(c: Any, a: Any, b: Any) -> Any:
        return np.where(np.asarray(c) != 0, a, b)

    @staticmethod
    def rel(op: str, a: Any, b: Any) -> Any:
        return getattr(np, _NP_REL[op])(a, b).astype(np.float64)

    @staticmethod
    def logic(op: str, *args: Any) -> Any:
        vals = [np.asarray(a) != 0 for a in args]
        if op == "not":
            return (~vals[0]).astype(np.float64)
        out = vals[0]
        for v in vals[1:]:
            out = (out & v) if op == "and" else (out | v) if op == "or" else (out ^ v)
        return np.asarray(out, dtype=np.float64)

    @staticmethod
    def minimum(*args: Any) -> Any:
        out = args[0]
        for a in args[1:]:
            out = np.minimum(out, a)
        return out

    @staticmethod
    def maximum(*args: Any) -> Any:
        out = args[0]
        for a in args[1:]:
            out = np.maximum(out, a)
        return out


_NP_REL = {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
           "eq": "equal", "ne": "not_equal"}


def _torch_ops() -> type:
    import torch  # ~1 s: only when a torch function is asked for

    def t(a: Any, like: Any = None) -> Any:
        return a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=torch.float64)

    class _TorchOps:
        exp, ln, log10, abs, floor, ceil = (torch.exp, torch.log, torch.log10, torch.abs,
                                            torch.floor, torch.ceil)
        sin, cos, tan, sinh, cosh, tanh = (torch.sin, torch.cos, torch.tan, torch.sinh,
                                           torch.cosh, torch.tanh)
        arcsin, arccos, arctan, sqrt = torch.asin, torch.acos, torch.atan, torch.sqrt

        @staticmethod
        def power(a: Any, b: Any) -> Any:
            return torch.pow(a, b) if isinstance(a, torch.Tensor) else torch.pow(t(a), b)

        @staticmethod
        def where(c: Any, a: Any, b: Any) -> Any:
            c = t(c)
            return torch.where(c != 0, t(a).to(c.device), t(b).to(c.device))

        @staticmethod
        def rel(op: str, a: Any, b: Any) -> Any:
            return getattr(torch, _NP_REL[op])(t(a), t(b)).to(torch.float64)

        @staticmethod
        def logic(op: str, *args: Any) -> Any:
            vals = [t(a) != 0 for a in args]
            if op == "not":
                return (~vals[0]).to(torch.float64)
            out = vals[0]
            for v in vals[1:]:
                out = (out & v) if op == "and" else (out | v) if op == "or" else (out ^ v)
            return out.to(torch.float64)

        @staticmethod
        def minimum(*args: Any) -> Any:
            out = t(args[0])
            for a in args[1:]:
                out = torch.minimum(out, t(a))
            return out

        @staticmethod
        def maximum(*args: Any) -> Any:
            out = t(args[0])
            for a in args[1:]:
                out = torch.maximum(out, t(a))
            return out

    return _TorchOps


# ------------------------------------------------------------------ code generation
class _Emitter:
    """Single-assignment source for a set of expressions; identical objects computed once."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # symbol -> local variable holding it
        self.lines: list[str] = []
        self.memo: dict[int, str] = {}
        self.keep: list[Expr] = []  # keeps ids valid while emitting

    def value(self, e: Expr) -> str:
        if isinstance(e, Num):
            return repr(e.value) if math.isfinite(e.value) else f"float({str(e.value)!r})"
        if isinstance(e, Sym):
            return self.names[e.name]
        key = id(e)
        if key in self.memo:
            return self.memo[key]
        # iterative post-order so that deep trees do not hit the recursion limit
        stack: list[tuple[Op, bool]] = [(e, False)]
        while stack:
            node, ready = stack.pop()
            if id(node) in self.memo:
                continue
            if not ready:
                stack.append((node, True))
                for a in node.args:
                    if isinstance(a, Op) and id(a) not in self.memo:
                        stack.append((a, False))
                continue
            args = [self.value(a) for a in node.args]
            name = f"t{len(self.memo)}"
            self.lines.append(f"    {name} = {_op_source(node, args)}")
            self.memo[id(node)] = name
            self.keep.append(node)
        return self.memo[key]


def _op_source(node: Op, a: list[str]) -> str:
    op = node.op
    if op == "add":
        return " + ".join(a)
    if op == "mul":
        return " * ".join(a)
    if op == "pow":
        ex = node.args[1]
        if isinstance(ex, Num):
            if ex.value == -1.0:
                return f"1.0 / {a[0]}"
            if ex.value == 2.0:
                return f"{a[0]} * {a[0]}"
            if ex.value == 0.5:
                return f"F.sqrt({a[0]})"
        return f"F.power({a[0]}, {a[1]})"
    if op in ("lt", "le", "gt", "ge", "eq", "ne"):
        return f"F.rel({op!r}, {a[0]}, {a[1]})"
    if op in ("and", "or", "xor", "not"):
        return f"F.logic({op!r}, {', '.join(a)})"
    if op == "min":
        return f"F.minimum({', '.join(a)})"
    if op == "max":
        return f"F.maximum({', '.join(a)})"
    if op == "piecewise":
        out = a[-1] if len(a) % 2 else "float('nan')"
        for k in range(len(a) - (1 if len(a) % 2 else 0) - 2, -1, -2):
            out = f"F.where({a[k + 1]}, {a[k]}, {out})"
        return out
    return f"F.{op}({a[0]})"


def compile_expressions(exprs: Sequence[Expr], x_names: Sequence[str],
                        p_names: Sequence[str]) -> tuple[str, Callable[..., list[Any]]]:
    """Source and function ``f(x, p, F) -> [value per expression]`` (values may be floats)."""
    used = set().union(*(symbols(e) for e in exprs)) if exprs else set()
    names: dict[str, str] = {}
    lines = ["def _f(x, p, F):"]
    for k, s in enumerate(x_names):
        if s in used:
            names[s] = f"x{k}"
            lines.append(f"    x{k} = x[..., {k}]")
    for k, s in enumerate(p_names):
        if s in used and s not in names:
            names[s] = f"p{k}"
            lines.append(f"    p{k} = p[..., {k}]")
    missing = used - set(names)
    if missing:
        raise ValueError(f"expressions read unknown symbols: {', '.join(sorted(missing)[:5])}")
    em = _Emitter(names)
    outs = [em.value(e) for e in exprs]
    lines += em.lines
    lines.append(f"    return [{', '.join(outs)}]")
    source = "\n".join(lines) + "\n"
    scope: dict[str, Any] = {}
    exec(compile(source, "<sbmleq compiled laws>", "exec"), scope)  # noqa: S102 - our own code
    return source, scope["_f"]


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
            self._torch = _torch_ops()
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
