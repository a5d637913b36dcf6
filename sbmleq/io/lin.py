"""Exact Laurent polynomials over SBML names: the fast walker's algebra (no sympy).

:class:`Lin` is a sum of monomials in species, compartments and time with numeric coefficients.
Numbers follow sympy's own arithmetic (integers and rationals exact, floats rounded operation by
operation), so a mass-action law and its coefficients come out exactly as the sympy walker gives
them. Anything outside this algebra raises :class:`Opaque` and the importer falls back to sympy.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any


class Opaque(Exception):
    """The fast walker cannot represent this math exactly: use the sympy walker."""


@functools.cache
def _libsbml() -> Any:
    """libsbml, imported on first use (~0.2 s)."""
    import libsbml

    return libsbml


Number = Any  # int (sympy Integer), Fraction (Rational) or float (Float)
_MAX_TERMS = 64  # a product with more terms than this goes to sympy
_MAX_INT_POWER = 64


def _norm(x: Any) -> Number:
    if isinstance(x, Fraction) and x.denominator == 1:
        return int(x.numerator)
    return x


def _finite(x: float) -> float:
    if not math.isfinite(x):
        raise Opaque("a number overflows double precision")
    return x


def num_add(a: Number, b: Number) -> Number:
    """``a + b`` as sympy computes it for two numbers (a float makes the result a float)."""
    if isinstance(a, float) or isinstance(b, float):
        return _finite(float(a) + float(b))
    return _norm(a + b)


def num_mul(a: Number, b: Number) -> Number:
    if isinstance(a, float) or isinstance(b, float):
        return _finite(float(a) * float(b))
    return _norm(a * b)


def num_inv(a: Number) -> Number:
    """sympy's ``Pow(a, -1)``: exact for integers and rationals, one rounding for a float."""
    if a == 0:
        raise Opaque("division by zero")
    if isinstance(a, float):
        return _finite(1.0 / a)
    if a == 1 or a == -1:
        return a
    return _norm(Fraction(1) / a)


def num_div(a: Number, b: Number) -> Number:
    """``a / b`` for two sympy numbers: a Float numerator divides once; an Integer or Rational
    numerator over a Float is ``a * (1/b)`` (sympy's Rational.__truediv__)."""
    if b == 0:
        raise Opaque("division by zero")
    if isinstance(a, float):
        return _finite(a / float(b))
    if isinstance(b, float):
        return num_mul(a, num_inv(b))
    return _norm(Fraction(a) / b)


def num_pow_int(a: Number, n: int) -> Number:
    if n == 0:
        return 1
    if n == 1:
        return a
    if a == 0 and n < 0:
        raise Opaque("zero to a negative power")
    if isinstance(a, float):
        if n == -1:
            return _finite(1.0 / a)
        if n == 2:
            return _finite(a * a)
        try:
            return _finite(a ** n)
        except (OverflowError, ZeroDivisionError):
            raise Opaque("power overflows") from None
    if abs(n) > _MAX_INT_POWER:
        raise Opaque("large integer power")
    return _norm(Fraction(a) ** n)


def _as_int(x: Number) -> int | None:
    """The integer value of an exponent, as sympy reads it (an integral Float becomes an
    Integer), or None."""
    if isinstance(x, int):
        return x
    if isinstance(x, float) and x.is_integer() and abs(x) < 2 ** 62:
        return int(x)
    return None


Mono = tuple  # ((name, exponent), ...) sorted by name; () is the constant term


def _mono_mul(a: Mono, b: Mono) -> Mono:
    if not a:
        return b
    if not b:
        return a
    exps = dict(a)
    for name, e in b:
        total = exps.get(name, 0) + e
        if total:
            exps[name] = total
        else:
            del exps[name]
    return tuple(sorted(exps.items()))


class Lin:
    """A sum of monomials (species, compartments and time to integer powers) with numeric
    coefficients: ``{((name, exponent), ...): coefficient}``. Zero coefficients are dropped."""

    __slots__ = ("terms",)

    def __init__(self, terms: dict[Mono, Number]) -> None:
        self.terms = terms

    @classmethod
    def number(cls, value: Number) -> "Lin":
        return cls({(): value} if value != 0 else {})

    @classmethod
    def symbol(cls, name: str) -> "Lin":
        return cls({((name, 1),): 1})

    def __repr__(self) -> str:
        return f"Lin({self.terms!r})"

    # -------------------------------------------------------------- queries
    def is_number(self) -> bool:
        return not self.terms or (len(self.terms) == 1 and () in self.terms)

    def value(self) -> Number:
        """The number this is (``is_number()``)."""
        return self.terms.get((), 0)

    def free(self) -> set[str]:
        return {name for mono in self.terms for name, _ in mono}

    def evaluate(self, env: dict[str, float]) -> float:
        """Float value with every name given in ``env`` (raises like plain float math)."""
        total = 0.0
        for mono, c in self.terms.items():
            term = float(c)
            for name, e in mono:
                term *= env[name] ** e
            total += term
        return total

    # -------------------------------------------------------------- arithmetic
    def add(self, other: "Lin") -> "Lin":
        if not other.terms:
            return self
        if not self.terms:
            return other
        terms = dict(self.terms)
        for mono, c in other.terms.items():
            if mono in terms:
                s = num_add(terms[mono], c)
                if s == 0:
                    del terms[mono]
                else:
                    terms[mono] = s
            else:
                terms[mono] = c
        return Lin(terms)

    def neg(self) -> "Lin":
        return Lin({m: -c for m, c in self.terms.items()})

    def mul(self, other: "Lin") -> "Lin":
        if len(other.terms) == 1 and () in other.terms:  # times a number
            c2 = other.terms[()]
            return Lin({m: c for m, c1 in self.terms.items() if (c := num_mul(c1, c2)) != 0})
        if len(self.terms) == 1 and () in self.terms:
            c1 = self.terms[()]
            return Lin({m: c for m, c2 in other.terms.items() if (c := num_mul(c1, c2)) != 0})
        if len(self.terms) * len(other.terms) > _MAX_TERMS:
            raise Opaque("a product with too many terms")
        terms: dict[Mono, Number] = {}
        for m1, c1 in self.terms.items():
            for m2, c2 in other.terms.items():
                mono, c = _mono_mul(m1, m2), num_mul(c1, c2)
                if mono in terms:
                    c = num_add(terms[mono], c)
                terms[mono] = c
        return Lin({m: c for m, c in terms.items() if c != 0})

    def inverse(self) -> "Lin":
        if len(self.terms) != 1:
            raise Opaque("a division by a sum (or by zero)")
        ((mono, c),) = self.terms.items()
        return Lin({tuple((n, -e) for n, e in mono): num_inv(c)})

    def div(self, other: "Lin") -> "Lin":
        if self.is_number() and other.is_number():
            return Lin.number(num_div(self.value(), other.value()))
        return self.mul(other.inverse())

    def pow(self, exponent: "Lin") -> "Lin":
        if not exponent.is_number():
            raise Opaque("a power with a variable exponent")
        e = exponent.value()
        n = _as_int(e)
        if n is None:
            if not self.is_number():
                raise Opaque("a non-integer power of a variable")
            base = self.value()
            if base == 0:
                if float(e) > 0:
                    return Lin.number(0)
                raise Opaque("zero to a non-positive power")
            if base < 0:
                raise Opaque("a negative number to a non-integer power")
            try:
                return Lin.number(_finite(float(base) ** float(e)))
            except OverflowError:
                raise Opaque("power overflows") from None
        if n == 0:
            return Lin.number(1)
        if n == 1:
            return self
        if len(self.terms) == 1:
            ((mono, c),) = self.terms.items()
            return Lin({tuple((name, k * n) for name, k in mono): num_pow_int(c, n)})
        if not self.terms:
            if n < 0:
                raise Opaque("zero to a negative power")
            return self
        if n < 0 or n > 8:
            raise Opaque("a power of a sum")
        out = self
        for _ in range(n - 1):
            out = out.mul(self)
        return out

    def diff(self, name: str) -> "Lin":
        terms: dict[Mono, Number] = {}
        for mono, c in self.terms.items():
            exps = dict(mono)
            e = exps.get(name, 0)
            if not e:
                continue
            if e == 1:
                del exps[name]
            else:
                exps[name] = e - 1
            key = tuple(sorted(exps.items()))
            value = num_mul(c, e)
            terms[key] = num_add(terms[key], value) if key in terms else value
        return Lin({m: c for m, c in terms.items() if c != 0})

    def at_zero(self, names: set[str]) -> "Lin":
        """Every name in ``names`` set to 0."""
        terms = {}
        for mono, c in self.terms.items():
            hit = [e for n, e in mono if n in names]
            if any(e < 0 for e in hit):
                raise Opaque("a negative power at zero")
            if not hit:
                terms[mono] = c
        return Lin(terms)


def _number_function(t: int, kids: list[Lin]) -> Lin:
    """Elementary functions of numbers (any variable argument: :class:`Opaque`)."""
    if not all(k.is_number() for k in kids):
        raise Opaque("a function of a variable")
    L = _libsbml()
    x = [k.value() for k in kids]
    try:
        if t == L.AST_FUNCTION_ABS:
            return Lin.number(abs(x[0]))
        if t == L.AST_FUNCTION_FLOOR:
            return Lin.number(math.floor(x[0]))
        if t == L.AST_FUNCTION_CEILING:
            return Lin.number(math.ceil(x[0]))
        if t == L.AST_FUNCTION_QUOTIENT:
            return Lin.number(math.floor(num_div(x[0], x[1])))
        if t == L.AST_FUNCTION_MAX and x:
            return Lin.number(max(x))
        if t == L.AST_FUNCTION_MIN and x:
            return Lin.number(min(x))
        if t == L.AST_FUNCTION_ROOT:
            degree, value = (x[0], x[1]) if len(x) == 2 else (2, x[0])
            if value < 0:
                raise Opaque("root of a negative number")
            if degree == 2:
                return Lin.number(math.sqrt(value))
            return Lin.number(_finite(float(value) ** (1.0 / float(degree))))
        if t == L.AST_FUNCTION_LOG:
            base, value = (x[0], x[1]) if len(x) == 2 else (10, x[0])
            if value <= 0 or base <= 0 or base == 1:
                raise Opaque("log of a non-positive number")
            return Lin.number(math.log10(value) if base == 10 else math.log(value, base))
        unary = {L.AST_FUNCTION_EXP: math.exp, L.AST_FUNCTION_LN: math.log,
                 L.AST_FUNCTION_SIN: math.sin, L.AST_FUNCTION_COS: math.cos,
                 L.AST_FUNCTION_TAN: math.tan, L.AST_FUNCTION_SINH: math.sinh,
                 L.AST_FUNCTION_COSH: math.cosh, L.AST_FUNCTION_TANH: math.tanh,
                 L.AST_FUNCTION_ARCSIN: math.asin, L.AST_FUNCTION_ARCCOS: math.acos,
                 L.AST_FUNCTION_ARCTAN: math.atan}
        if t in unary and len(x) == 1:
            if t == L.AST_FUNCTION_LN and x[0] <= 0:
                raise Opaque("log of a non-positive number")
            if t == L.AST_FUNCTION_EXP and x[0] == 0:
                return Lin.number(1)
            return Lin.number(_finite(unary[t](float(x[0]))))
    except (ValueError, OverflowError, TypeError, ZeroDivisionError):
        raise Opaque("a function outside its domain") from None
    raise Opaque("a function the fast walker does not evaluate")
