"""libsbml math (ASTs) to :mod:`sbmleq.core.expr` trees, for the general importer.

:class:`MathConverter` turns one model's MathML into expression trees: every MathML operator the
expression module has, the others rewritten into it (``sec csc cot sech csch coth``, the inverse
trigonometric and hyperbolic functions, ``root``, ``log`` with a base, ``implies``, ``rem``,
``quotient``, n-ary relations), the constants (``pi``, ``e``, ``avogadro``, ``true``/``false``,
``INF``/``NaN``) as numbers, and calls of function definitions expanded (each body is converted
once, into a template whose arguments are substituted at every call). Names become
:class:`~sbmleq.core.expr.Sym` nodes, renamed through an optional mapping (a reaction's local
parameters become ``reaction_id.parameter_id``); the ``time`` csymbol becomes the symbol
:data:`TIME`, which the importer reports (a law depending on time) or sets to 0 (initial values).

Constructs outside ODE networks raise :class:`~sbmleq.io.reasons.NotInClass` (``delay`` as
``DELAY``, ``rateOf`` as ``RATE_OF``, ``factorial`` of a variable and the MathML the expression
module cannot express as ``UNSUPPORTED_MATH``); invalid SBML (a call to an undefined function, a
wrong number of arguments, a recursive function) raises :class:`~sbmleq.errors.InputError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sbmleq.core.expr import (
    Expr,
    Num,
    Sym,
    add,
    call,
    diff,
    div,
    mul,
    neg,
    power,
    sub,
    substitute,
    symbols,
)
from sbmleq.errors import InputError
from sbmleq.io.reasons import NotInClass
from sbmleq.io.reasons import ReasonCode as R
from sbmleq.io.sbml_math import AVOGADRO

if TYPE_CHECKING:
    import libsbml

__all__ = ["TIME", "RATE", "MathConverter", "RateOfResolver"]

TIME = "\x00time"  # the symbol of the time csymbol (never an SBML id)
RATE = "\x00rateOf:"  # RATE + id: the symbol of rateOf(id), replaced by the importer
_DERIVATIVE = "wiki/Derivative"  # COPASI's annotation of a function definition meaning rateOf
_ARG = "\x01arg{}"  # a function definition's argument in its template


def _ln(x: Expr) -> Expr:
    return call("ln", x)


def _sqrt(x: Expr) -> Expr:
    return power(x, 0.5)


def _trunc(x: Expr) -> Expr:
    """Rounding towards zero (``quotient`` and ``rem``)."""
    return call("piecewise", call("floor", x), call("ge", x, 0.0), call("ceil", x))


def _arcsinh(x: Expr) -> Expr:
    return _ln(add(x, _sqrt(add(power(x, 2.0), 1.0))))


def _arccosh(x: Expr) -> Expr:
    return _ln(add(x, _sqrt(sub(power(x, 2.0), 1.0))))


def _arctanh(x: Expr) -> Expr:
    return mul(0.5, _ln(div(add(1.0, x), sub(1.0, x))))


def _inv(x: Expr) -> Expr:
    return power(x, -1.0)


def _chain(op: str, xs: list[Expr]) -> Expr:
    """An n-ary MathML relation ``a < b < c``: every adjacent pair."""
    pairs = [call(op, a, b) for a, b in zip(xs, xs[1:])]
    return pairs[0] if len(pairs) == 1 else call("and", *pairs)


def _tables(lib: Any) -> tuple[dict[int, Callable[[Expr], Expr]], dict[int, str]]:
    """(unary rewrites, relation names) keyed by libsbml AST type."""
    direct = {lib.AST_FUNCTION_EXP: "exp", lib.AST_FUNCTION_LN: "ln", lib.AST_FUNCTION_ABS: "abs",
              lib.AST_FUNCTION_FLOOR: "floor", lib.AST_FUNCTION_CEILING: "ceil",
              lib.AST_FUNCTION_SIN: "sin", lib.AST_FUNCTION_COS: "cos",
              lib.AST_FUNCTION_TAN: "tan", lib.AST_FUNCTION_SINH: "sinh",
              lib.AST_FUNCTION_COSH: "cosh", lib.AST_FUNCTION_TANH: "tanh",
              lib.AST_FUNCTION_ARCSIN: "arcsin", lib.AST_FUNCTION_ARCCOS: "arccos",
              lib.AST_FUNCTION_ARCTAN: "arctan", lib.AST_LOGICAL_NOT: "not"}
    unary: dict[int, Callable[[Expr], Expr]] = {
        t: (lambda x, op=op: call(op, x)) for t, op in direct.items()}
    unary.update({
        lib.AST_FUNCTION_SEC: lambda x: _inv(call("cos", x)),
        lib.AST_FUNCTION_CSC: lambda x: _inv(call("sin", x)),
        lib.AST_FUNCTION_COT: lambda x: _inv(call("tan", x)),
        lib.AST_FUNCTION_SECH: lambda x: _inv(call("cosh", x)),
        lib.AST_FUNCTION_CSCH: lambda x: _inv(call("sinh", x)),
        lib.AST_FUNCTION_COTH: lambda x: _inv(call("tanh", x)),
        lib.AST_FUNCTION_ARCSEC: lambda x: call("arccos", _inv(x)),
        lib.AST_FUNCTION_ARCCSC: lambda x: call("arcsin", _inv(x)),
        lib.AST_FUNCTION_ARCCOT: lambda x: call("arctan", _inv(x)),
        lib.AST_FUNCTION_ARCSINH: _arcsinh,
        lib.AST_FUNCTION_ARCCOSH: _arccosh,
        lib.AST_FUNCTION_ARCTANH: _arctanh,
        lib.AST_FUNCTION_ARCSECH: lambda x: _arccosh(_inv(x)),
        lib.AST_FUNCTION_ARCCSCH: lambda x: _arcsinh(_inv(x)),
        lib.AST_FUNCTION_ARCCOTH: lambda x: _arctanh(_inv(x)),
    })
    relations = {lib.AST_RELATIONAL_EQ: "eq", lib.AST_RELATIONAL_NEQ: "ne",
                 lib.AST_RELATIONAL_GT: "gt", lib.AST_RELATIONAL_GEQ: "ge",
                 lib.AST_RELATIONAL_LT: "lt", lib.AST_RELATIONAL_LEQ: "le"}
    return unary, relations


class MathConverter:
    """One model's AST-to-expression conversion (function definitions shared by all math)."""

    def __init__(self, functions: Mapping[str, "libsbml.FunctionDefinition"],
                 source_name: str) -> None:
        import libsbml  # the caller has it loaded; lazy so that importing this module is free

        self.lib = libsbml
        self.functions = dict(functions)
        self.source_name = source_name
        self.unary, self.relations = _tables(libsbml)
        self.derivatives = {fid for fid, fd in self.functions.items()
                            if _DERIVATIVE in (fd.getAnnotationString() or "")}
        self.templates: dict[str, tuple[int, Expr | NotInClass, frozenset[int]]] = {}
        self._building: list[str] = []

    # ---------------------------------------------------------------- public
    def convert(self, node: "libsbml.ASTNode", element: str,
                rename: Mapping[str, str] | None = None) -> Expr:
        """The expression of ``node`` (math of ``element``, named in errors)."""
        return self._walk(node, element, rename or {}, None)

    # ---------------------------------------------------------------- function definitions
    def _template(self, name: str, element: str) -> tuple[int, Expr, frozenset[int]]:
        if name not in self.templates:
            fd = self.functions.get(name)
            if fd is None or fd.getBody() is None:
                raise InputError(f"invalid SBML: {element} calls the undefined function {name}",
                                 source=self.source_name, element=element)
            if name in self._building:
                raise InputError(f"invalid SBML: function {name} calls itself (through "
                                 f"{' -> '.join(self._building)})", source=self.source_name,
                                 element=f"function {name}")
            n = fd.getNumArguments()
            bound = {fd.getArgument(i).getName(): Sym(_ARG.format(i)) for i in range(n)}
            self._building.append(name)
            try:
                body: Expr | NotInClass = self._walk(fd.getBody(), f"function {name}", {}, bound)
            except NotInClass as exc:  # reported where the function is called
                body = exc
            finally:
                self._building.pop()
            names = symbols(body) if not isinstance(body, NotInClass) else frozenset()
            rated = frozenset(i for i in range(n) if RATE + _ARG.format(i) in names)
            self.templates[name] = (n, body, rated)
        n, body, rated = self.templates[name]
        if isinstance(body, NotInClass):
            raise NotInClass(body.code, f"{body.message} (in function {name})", body.species)
        return n, body, rated

    def _call(self, node: "libsbml.ASTNode", kids: list[Expr], element: str) -> Expr:
        name = node.getName()
        n, body, rated = self._template(name, element)
        if n != len(kids):
            raise InputError(f"invalid SBML: {element} calls {name} with {len(kids)} arguments, "
                             f"not {n}", source=self.source_name, element=element)
        mapping: dict[str, Expr] = {_ARG.format(i): k for i, k in enumerate(kids)}
        for i in rated:  # rateOf(argument) inside the body
            k = kids[i]
            if not isinstance(k, Sym) or k.name.startswith("\x00"):
                raise NotInClass(R.RATE_OF, f"{element} calls {name}, which takes rateOf() of "
                                 "an argument that is not a name")
            mapping[RATE + _ARG.format(i)] = Sym(RATE + k.name)
        return substitute(body, mapping)

    # ---------------------------------------------------------------- the walk
    def _walk(self, node: "libsbml.ASTNode", element: str, rename: Mapping[str, str],
              bound: Mapping[str, Expr] | None) -> Expr:
        L = self.lib
        t = node.getType()
        if t == L.AST_NAME:
            name = node.getName()
            if bound is not None and name in bound:
                return bound[name]
            return Sym(rename.get(name, name))
        leaf = self._leaf(node, t)
        if leaf is not None:
            return leaf
        if t == L.AST_FUNCTION_DELAY:
            raise NotInClass(R.DELAY, f"{element} uses delay()")
        if t == L.AST_FUNCTION_RATE_OF or (t == L.AST_FUNCTION
                                          and node.getName() in self.derivatives):
            return self._rate_of(node, element, rename, bound)
        if t == L.AST_LAMBDA:  # a bare lambda outside a function definition: its body
            return self._walk(node.getChild(node.getNumChildren() - 1), element, rename, bound)
        kids = [self._walk(node.getChild(i), element, rename, bound)
                for i in range(node.getNumChildren())]
        if t == L.AST_FUNCTION:
            return self._call(node, kids, element)
        return self._operator(node, t, kids, element)

    def _rate_of(self, node: "libsbml.ASTNode", element: str, rename: Mapping[str, str],
                 bound: Mapping[str, Expr] | None) -> Expr:
        """``rateOf(x)`` (the csymbol, or COPASI's function annotated as the derivative) of a
        name: the symbol ``RATE + x``."""
        if node.getNumChildren() == 1:
            arg = self._walk(node.getChild(0), element, rename, bound)
            if isinstance(arg, Sym) and not arg.name.startswith("\x00"):
                return Sym(RATE + arg.name)
        raise NotInClass(R.RATE_OF, f"{element} uses rateOf() of something other than a name")

    def _leaf(self, node: "libsbml.ASTNode", t: int) -> Expr | None:
        L = self.lib
        if t == L.AST_INTEGER:
            return Num(float(node.getInteger()))
        if t in (L.AST_REAL, L.AST_REAL_E, L.AST_RATIONAL):
            return Num(float(node.getValue()))
        if t == L.AST_NAME_TIME:
            return Sym(TIME)
        if t == L.AST_NAME_AVOGADRO:
            return Num(AVOGADRO)
        if t == L.AST_CONSTANT_PI:
            return Num(math.pi)
        if t == L.AST_CONSTANT_E:
            return Num(math.e)
        if t == L.AST_CONSTANT_TRUE:
            return Num(1.0)
        if t == L.AST_CONSTANT_FALSE:
            return Num(0.0)
        return None

    def _operator(self, node: "libsbml.ASTNode", t: int, kids: list[Expr],
                  element: str) -> Expr:
        L = self.lib
        n = len(kids)
        if t == L.AST_PLUS:
            return add(*kids) if kids else Num(0.0)
        if t == L.AST_TIMES:
            return mul(*kids) if kids else Num(1.0)
        if t == L.AST_MINUS and n in (1, 2):
            return neg(kids[0]) if n == 1 else sub(kids[0], kids[1])
        if t == L.AST_DIVIDE and n == 2:
            return div(kids[0], kids[1])
        if t in (L.AST_POWER, L.AST_FUNCTION_POWER) and n == 2:
            return power(kids[0], kids[1])
        if t == L.AST_FUNCTION_ROOT and n in (1, 2):
            return _sqrt(kids[0]) if n == 1 else power(kids[1], div(1.0, kids[0]))
        if t == L.AST_FUNCTION_LOG and n in (1, 2):
            return call("log10", kids[0]) if n == 1 else div(_ln(kids[1]), _ln(kids[0]))
        if t in self.unary and n == 1:
            return self.unary[t](kids[0])
        if t in self.relations and n >= 2:
            return _chain(self.relations[t], kids)
        if t in (L.AST_LOGICAL_AND, L.AST_LOGICAL_OR, L.AST_LOGICAL_XOR):
            op = {L.AST_LOGICAL_AND: "and", L.AST_LOGICAL_OR: "or", L.AST_LOGICAL_XOR: "xor"}[t]
            if not kids:  # MathML: and() is true, or() and xor() are false
                return Num(1.0 if op == "and" else 0.0)
            return call(op, *kids)
        if t == L.AST_LOGICAL_IMPLIES and n == 2:
            return call("or", call("not", kids[0]), kids[1])
        if t == L.AST_FUNCTION_PIECEWISE and n >= 1:
            return call("piecewise", *kids)
        if t in (L.AST_FUNCTION_MIN, L.AST_FUNCTION_MAX) and n >= 1:
            return call("min" if t == L.AST_FUNCTION_MIN else "max", *kids)
        if t == L.AST_FUNCTION_QUOTIENT and n == 2:
            return _trunc(div(kids[0], kids[1]))
        if t == L.AST_FUNCTION_REM and n == 2:
            return sub(kids[0], mul(kids[1], _trunc(div(kids[0], kids[1]))))
        if t == L.AST_FUNCTION_FACTORIAL and n == 1 and isinstance(kids[0], Num):
            return Num(math.gamma(kids[0].value + 1.0))
        what = node.getName() or f"AST type {t}"
        raise NotInClass(R.UNSUPPORTED_MATH, f"{element} uses {what} with {n} argument(s), "
                         "which the expression module cannot represent")


class RateOfResolver:
    """Replaces every ``rateOf(x)`` symbol (:data:`RATE` + x) by the expression of dx/dt.

    A species changed by reactions: ``sum_j N_xj v_j`` (over its compartment ``V`` when it is a
    concentration); a rate-rule variable: its rate; an assigned variable ``x = f(y)``: the chain
    rule ``sum_i df/dy_i rateOf(y_i)``; any other name (a constant): 0. A rateOf that depends on
    itself, or of a name in ``unknown``, raises :class:`NotInClass` (``RATE_OF``).
    """

    def __init__(self, laws: Mapping[str, Expr], movers: Mapping[str, list[tuple[str, float]]],
                 volume: Mapping[str, str | None], rules: Mapping[str, Expr],
                 assigned: Mapping[str, Expr], unknown: frozenset[str]) -> None:
        self.laws, self.movers, self.volume = laws, movers, volume
        self.rules, self.assigned, self.unknown = rules, assigned, unknown
        self.memo: dict[str, Expr] = {}
        self.visiting: list[str] = []

    def resolve(self, e: Expr) -> Expr:
        names = [n for n in symbols(e) if n.startswith(RATE)]
        return substitute(e, {n: self.rate_of(n[len(RATE):]) for n in names}) if names else e

    def _guarded(self, key: str, build: Callable[[], Expr]) -> Expr:
        if key not in self.memo:
            if key in self.visiting:
                cycle = " -> ".join(self.visiting[self.visiting.index(key):] + [key])
                raise NotInClass(R.RATE_OF, f"rateOf() depends on itself ({cycle})")
            self.visiting.append(key)
            try:
                self.memo[key] = build()
            finally:
                self.visiting.pop()
        return self.memo[key]

    def law(self, rid: str) -> Expr:
        return self._guarded("law " + rid, lambda: self.resolve(self.laws[rid]))

    def rate_of(self, x: str) -> Expr:
        return self._guarded(x, lambda: self._rate_of(x))

    def _rate_of(self, x: str) -> Expr:
        if x in self.unknown:
            raise NotInClass(R.RATE_OF, f"uses rateOf({x}), which is not defined here")
        if x in self.movers:
            total = add(*(mul(st, self.law(rid)) for rid, st in self.movers[x])) \
                if self.movers[x] else Num(0.0)
            v = self.volume.get(x)
            return div(total, Sym(v)) if v else total
        if x in self.rules:
            return self.resolve(self.rules[x])
        if x in self.assigned:
            f = self.assigned[x]
            if TIME in symbols(f):
                raise NotInClass(R.TIME_DEPENDENCE, f"uses rateOf({x}), which depends on time")
            if any(n.startswith(RATE) for n in symbols(f)):
                raise NotInClass(R.RATE_OF, f"uses rateOf({x}), whose rule uses rateOf()")
            terms = [mul(diff(f, y), self.rate_of(y)) for y in sorted(symbols(f))]
            return add(*terms) if terms else Num(0.0)
        return Num(0.0)
