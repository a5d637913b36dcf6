"""Rate-law expressions to Python source: the array namespaces and the code generator.

:func:`compile_expressions` turns :mod:`sbmleq.core.expr` trees into one function
``f(x, p, F)`` in single-assignment form (one line per distinct operation; shared subtrees
computed once) that runs over arrays; ``F`` is the array namespace: :class:`NumpyOps`, or the
torch one (:func:`torch_ops`) for GPU execution and autograd. :mod:`sbmleq.core.compile` builds
the compiled network (rates, right-hand side, Jacobian) on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sbmleq.core.expr import Expr, Num, Op, Sym, symbols

__all__ = ["NumpyOps", "torch_ops", "compile_expressions"]


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


def torch_ops() -> type:
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
