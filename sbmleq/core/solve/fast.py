"""The rates of *one* state with Python floats: the integrator's hot path.

The compiled laws of :mod:`sbmleq.core.compile` run over arrays; for a single state every
operation is a NumPy call on a 0-d array (about a microsecond each), so a law of a hundred
operations costs 100-200 us, and a trajectory of 100 000 steps spends most of its time there
(measured: BIOMD330, 5 rate rules, 143 us per rhs with NumPy, 12 us with floats, the
Jacobian 104 -> 15 us; BIOMD239's Jacobian 4.5 -> 0.26 ms; BIOMD330's oscillation was found
after 49 s with NumPy, 9 s now). :class:`ScalarRates` runs the compiled network's own
generated functions (``CompiledNetwork._rates`` / ``_jac`` and its Jacobian assembly, or
:func:`~sbmleq.core.compile.compile_expressions` when they are missing) on Python floats
with :mod:`math`.

The residual scale (:class:`~sbmleq.core.solve.scale.ResidualScale`: every law's flux terms,
another generated function) is evaluated the same way by :meth:`ScalarRates.scale`: Newton
computes it at every iteration and every verification once per candidate, and with NumPy it
was the costliest part of a Newton iteration (measured on 17 random networks of 17-32 species:
0.84 ms per state with NumPy, 0.15 ms with floats, the same values to the last bit; the staged
chain 7 % faster, median of 34 networks, every answer unchanged).

Python floats raise where NumPy returns inf or NaN (a division by zero, ``exp`` overflow, the
log of a negative number, a fractional power of a negative base): :meth:`ScalarRates.rates`
(and ``jacobian``, ``scale``) then return None and the caller evaluates the state with NumPy,
so the values (inf, NaN) and what the solver does with them are unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sbmleq.core.compile import CompiledNetwork, compile_expressions
from sbmleq.core.solve.scale import ResidualScale

__all__ = ["ScalarOps", "ScalarRates"]

_REL = {"lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b}


def _nan_or(f: Any, args: tuple[float, ...]) -> float:
    """``min``/``max`` that propagate NaN like ``np.minimum``/``np.maximum``."""
    if any(a != a for a in args):
        return math.nan
    return float(f(args))


class ScalarOps:
    """The generated code's namespace (``F``) for Python floats (booleans as 0.0 / 1.0)."""

    exp, ln, log10, floor, ceil = (staticmethod(math.exp), staticmethod(math.log),
                                   staticmethod(math.log10), staticmethod(math.floor),
                                   staticmethod(math.ceil))
    sin, cos, tan = staticmethod(math.sin), staticmethod(math.cos), staticmethod(math.tan)
    sinh, cosh, tanh = staticmethod(math.sinh), staticmethod(math.cosh), staticmethod(math.tanh)
    arcsin, arccos, arctan = (staticmethod(math.asin), staticmethod(math.acos),
                              staticmethod(math.atan))
    sqrt, power, abs = staticmethod(math.sqrt), staticmethod(math.pow), staticmethod(abs)

    @staticmethod
    def where(c: float, a: float, b: float) -> float:
        return a if c != 0 else b

    @staticmethod
    def rel(op: str, a: float, b: float) -> float:
        return 1.0 if _REL[op](a, b) else 0.0

    @staticmethod
    def logic(op: str, *args: float) -> float:
        vals = [a != 0 for a in args]
        if op == "not":
            return 0.0 if vals[0] else 1.0
        if op == "and":
            return 1.0 if all(vals) else 0.0
        if op == "or":
            return 1.0 if any(vals) else 0.0
        return 1.0 if sum(vals) % 2 else 0.0  # xor

    @staticmethod
    def minimum(*args: float) -> float:
        return _nan_or(min, args)

    @staticmethod
    def maximum(*args: float) -> float:
        return _nan_or(max, args)


def _keys(n: int) -> list[tuple[Any, int]]:
    """The generated code reads ``x[..., k]``: a dict keyed by ``(Ellipsis, k)`` answers that
    in C (a Python ``__getitem__`` cost a quarter of the evaluation)."""
    return [(Ellipsis, k) for k in range(n)]


def _values(keys: list[tuple[Any, int]], values: Sequence[float]) -> dict[tuple[Any, int], float]:
    return dict(zip(keys, values))


class ScalarRates:
    """The network's rates (reactions, then rate rules) at one state, with floats; ``p`` is
    fixed (one solve's parameter vector)."""

    def __init__(self, compiled: CompiledNetwork, p: np.ndarray,
                 volumes: np.ndarray | None = None) -> None:
        net = compiled.network
        self.compiled = compiled
        self._vol = None if volumes is None else np.asarray(volumes, dtype=np.float64)
        laws = [r.rate for r in net.reactions] + [rule.rate for rule in net.rate_rules]
        # the compiled network's own rate function (the same generated source) when it has one
        f = getattr(compiled, "_rates", None)
        self._f = f if callable(f) else compile_expressions(laws, net.state_ids,
                                                            net.parameter_ids)[1]
        p_list = [float(v) for v in np.asarray(p, dtype=np.float64)]
        self._p = _values(_keys(len(p_list)), p_list)
        self._x_keys = _keys(net.n_state)
        self.n = len(laws)

    def rates(self, x: np.ndarray) -> np.ndarray | None:
        """The rates at ``x`` (one state), or None where floats raise (evaluate with NumPy)."""
        try:
            vals = self._f(_values(self._x_keys, x.tolist()), self._p, ScalarOps)
            return np.array(vals, dtype=np.float64) if self.n else np.zeros(0)
        except (ArithmeticError, ValueError, TypeError, AttributeError):
            return None

    def jacobian(self, x: np.ndarray) -> np.ndarray | None:
        """The dense Jacobian ``d rhs / d x`` at ``x`` (one state), assembled as
        :meth:`CompiledNetwork.jacobian` does; None where floats raise or when the compiled
        network has no generated derivative function (then use NumPy). Needs ``volumes``
        (per state variable, 1 for amounts and rate-rule variables)."""
        jac = getattr(self.compiled, "_jac", None)
        assemble = getattr(self.compiled, "_assemble", None)
        if self._vol is None or not callable(jac) or not callable(assemble):
            return None
        try:
            vals = jac(_values(self._x_keys, x.tolist()), self._p, ScalarOps)
        except (ArithmeticError, ValueError, TypeError, AttributeError):
            return None
        n = len(self._x_keys)
        out = np.zeros(n * n)
        if vals:
            flat_index, coeff = assemble()
            out[flat_index] = np.asarray(np.array(vals, dtype=np.float64) @ coeff).ravel()
        return out.reshape(n, n) / self._vol[:, None]

    def scale(self, scaler: ResidualScale, x: np.ndarray) -> np.ndarray | None:
        """:meth:`ResidualScale.scale` at ``x`` (one state; ``scaler`` of the same compiled
        network) with floats, in the same order of operations; None where floats raise or
        without ``volumes`` (then use NumPy)."""
        if self._vol is None:
            return None
        try:
            vals = scaler._terms(_values(self._x_keys, x.tolist()), self._p, ScalarOps)
        except (ArithmeticError, ValueError, TypeError, AttributeError):
            return None
        g = np.abs(np.array(vals, dtype=np.float64)) @ scaler.sum_terms if vals else \
            np.zeros(scaler.sum_terms.shape[1])
        r = scaler.abs_n.shape[1]
        species = (g[:r] @ scaler.abs_n.T) / self._vol[:scaler.k]
        return np.concatenate([species, g[r:]])
