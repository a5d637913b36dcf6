"""The SBML math walkers: libsbml ASTs to exact Laurent polynomials (fast) or sympy (fallback).

:class:`_Tables` holds one model's symbol tables. Two walkers share its name resolution
(:class:`_Walker`): function definitions expanded, assignment rules substituted, initial
assignments evaluated, parameter values read, and :class:`~sbmleq.io.reasons.NotInClass` raised
for math outside the LIFE class (delay, rateOf, time-dependent switches...). Math that is not
valid SBML (an undefined symbol or function, a call with the wrong number of arguments) raises
:class:`~sbmleq.errors.InputError`.

- :class:`_FastScope` builds :class:`Lin` values: sums of monomials in species, compartments and
  time with numeric coefficients. Numbers follow sympy's own arithmetic (integers and rationals
  exact, floats rounded operation by operation), so mass-action laws and their coefficients come
  out as the sympy walker gives them, without importing sympy (~0.4 s). Anything outside that
  algebra (a division by a sum, a power of a species that is not an integer, piecewise, logic)
  raises :class:`Opaque`.
- :class:`_Scope` builds sympy expressions; the importer uses it only where the fast walker
  raised :class:`Opaque` (sympy is imported then, not before).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from sbmleq.errors import InputError
from sbmleq.io.reasons import NotInClass
from sbmleq.io.reasons import ReasonCode as R

if TYPE_CHECKING:
    import libsbml
    import sympy

AVOGADRO = 6.02214179e23  # the value libsbml and roadrunner use
TIME = "\x00time"  # the name of time in Lin monomials (never an SBML id)


class Opaque(Exception):
    """The fast walker cannot represent this math exactly: use the sympy walker."""


class _Tables:
    """One model's symbol tables, built once and shared by both walkers."""

    def __init__(self, model: "libsbml.Model", source_name: str) -> None:
        self.model, self.source_name = model, source_name
        self.species = {s.getId(): s for s in model.getListOfSpecies()}
        self.compartments = {c.getId(): c for c in model.getListOfCompartments()}
        self.parameters = {p.getId(): p for p in model.getListOfParameters()}
        self.functions = {f.getId(): f for f in model.getListOfFunctionDefinitions()}
        self.reaction_ids = {r.getId() for r in model.getListOfReactions()}
        self.reference_ids: set[str] = set()  # species reference ids (set by the importer)
        self.initial = {a.getSymbol(): a.getMath() for a in model.getListOfInitialAssignments()
                        if a.isSetMath()}
        self.assigned: dict[str, Any] = {}
        self.changing: dict[str, str] = {}
        for rule in model.getListOfRules():
            if rule.isAssignment() and rule.isSetMath():
                self.assigned[rule.getVariable()] = rule.getMath()
            elif rule.isRate():
                self.changing[rule.getVariable()] = "a rate rule"
        for event in model.getListOfEvents():
            for ea in event.getListOfEventAssignments():
                self.changing.setdefault(ea.getVariable(), f"event {event.getId() or '(unnamed)'}")
        self.state: set[str] = set()  # set by the importer: floating species reactions change

    def defined(self, name: str) -> bool:
        """Whether ``name`` is an id math may use (outside function definitions)."""
        return (name in self.species or name in self.compartments or name in self.parameters
                or name in self.reaction_ids or name in self.reference_ids)


class _Walker:
    """Name resolution shared by the two walkers; subclasses build the values."""

    def __init__(self, tables: _Tables) -> None:
        t = self.tables = tables
        self.model, self.source_name = t.model, t.source_name
        self.species, self.compartments, self.parameters = t.species, t.compartments, t.parameters
        self.functions, self.reaction_ids = t.functions, t.reaction_ids
        self.initial, self.assigned, self.changing = t.initial, t.assigned, t.changing
        self.used: dict[str, float] = {}  # parameter values read while walking one kinetic law
        self.cache: dict[str, tuple[Any, dict[str, float]]] = {}
        self.owner = ""  # the element whose math is being walked (for InputError)

    @property
    def state(self) -> set[str]:
        return self.tables.state

    # ---------------------------------------------------------------- value constructors
    def _float(self, value: float) -> Any:
        raise NotImplementedError

    def _symbol(self, name: str) -> Any:
        raise NotImplementedError

    def _free_names(self, value: Any) -> set[str]:
        """Species and compartment ids (and :data:`TIME`) that ``value`` depends on."""
        raise NotImplementedError

    def _at_time_zero(self, value: Any, species: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _scaled(self, value: float, compartment: str | None, how: str) -> Any:
        """``value`` ("same"), ``value / size`` ("divide") or ``value * size`` ("multiply")."""
        raise NotImplementedError

    def leaf(self, node: "libsbml.ASTNode", t: int) -> Any:
        raise NotImplementedError

    def operator(self, t: int, node: "libsbml.ASTNode", kids: list[Any]) -> Any:
        raise NotImplementedError

    # ---------------------------------------------------------------- errors
    def _context(self, stack: tuple[str, ...], where: str) -> tuple[str, str]:
        """(the math being walked, its element) for an InputError."""
        if stack:
            name = stack[-1]
            what = ("the assignment rule of" if name in self.assigned
                    else "the initial assignment of")
            return f"{what} {name}", name
        return where, self.owner or where

    def _invalid(self, message: str, stack: tuple[str, ...], where: str) -> InputError:
        context, element = self._context(stack, where)
        return InputError(f"invalid SBML: {context} {message}", source=self.source_name,
                          element=element)

    # ---------------------------------------------------------------- names
    def number(self, value: float, name: str, where: str) -> Any:
        if not math.isfinite(value):
            raise InputError(f"value must be finite, got {value!r} (used in {where})",
                             source=self.source_name, element=name)
        self.used[name] = value
        return self._float(value)

    def constant(self, name: str, where: str, stack: tuple[str, ...]) -> Any:
        """A value that must not depend on species or time (initial assignment or rule).

        Initial assignments are evaluated here (at time 0, with the species' initial values)
        rather than by libsbml's initial-assignment converter, which crashes on some models.
        """
        for table, what in ((self.assigned, "assignment rule"),
                            (self.initial, "initial assignment")):
            if name in table:
                value = self.expr(table[name], {}, None, stack + (name,), where)
                if table is self.initial:
                    names = self._free_names(value)
                    at_zero = {s: self.initial_value(s, where, stack + (name,))
                               for s in sorted(names) if s in self.state}
                    value = self._at_time_zero(value, at_zero)
                if self._free_names(value) - set(self.compartments):
                    raise NotInClass(R.NON_CONSTANT_ASSIGNMENT,
                                     f"the {what} of {name} is not a constant")
                return value
        raise KeyError(name)

    def initial_value(self, sid: str, where: str, stack: tuple[str, ...]) -> Any:
        if sid in stack:
            raise NotInClass(R.UNSUPPORTED_MATH, f"circular definition of {sid}")
        if sid in self.initial:
            return self.constant(sid, where, stack)
        return self.species_value(self.species[sid])

    def name(self, name: str, local: dict[str, float | None], where: str,
             stack: tuple[str, ...]) -> Any:
        if name in local:
            if local[name] is None:
                raise NotInClass(R.MISSING_VALUE, f"local parameter {name} has no value")
            return self.number(float(local[name]), name, where)
        if name in stack:
            raise NotInClass(R.UNSUPPORTED_MATH, f"circular definition of {name}")
        if name not in self.cache:  # rules are walked once per import, not once per reaction
            outer, self.used = self.used, {}
            try:
                self.cache[name] = (self.global_name(name, where, stack), self.used)
            except (NotInClass, Opaque) as exc:
                self.cache[name] = (exc, self.used)
            finally:
                self.used = outer
        value, used = self.cache[name]
        self.used.update(used)
        if isinstance(value, (NotInClass, Opaque)):
            raise value
        return value

    def global_name(self, name: str, where: str, stack: tuple[str, ...]) -> Any:
        if name in self.state:
            return self._symbol(name)
        if name in self.changing:
            raise NotInClass(R.TIME_VARYING_PARAMETER, f"{name} changes in time ({self.changing[name]})")
        if name in self.compartments:
            if name in self.assigned or name in self.initial:
                return self.constant(name, where, stack)
            return self._symbol(name)
        if name in self.assigned:
            return self.expr(self.assigned[name], {}, None, stack + (name,), where)
        if name in self.initial and (name in self.parameters or name in self.species):
            return self.constant(name, where, stack)
        if name in self.parameters:
            par = self.parameters[name]
            if not par.isSetValue():
                raise NotInClass(R.MISSING_VALUE, f"parameter {name} has no value")
            return self.number(par.getValue(), name, where)
        if name in self.species:
            return self.initial_value(name, where, stack)
        if name in self.reaction_ids:
            raise NotInClass(R.UNSUPPORTED_MATH, f"uses the rate of reaction {name} as a symbol")
        if name in self.tables.reference_ids:
            raise NotInClass(R.UNSUPPORTED_MATH,
                             f"uses the stoichiometry of species reference {name} as a symbol")
        raise self._invalid(f"uses the undefined symbol {name} (no species, compartment, "
                            "parameter or reaction has that id)", stack, where)

    def species_value(self, s: "libsbml.Species") -> Any:
        """A species held constant (boundary or constant): its initial value, in the species'
        own quantity (an amount over the compartment for a concentration species)."""
        comp = s.getCompartment() if s.getCompartment() in self.compartments else None
        if s.isSetInitialAmount():
            return self._scaled(s.getInitialAmount(), comp,
                                "same" if s.getHasOnlySubstanceUnits() else "divide")
        if s.isSetInitialConcentration():
            return self._scaled(s.getInitialConcentration(), comp,
                                "multiply" if s.getHasOnlySubstanceUnits() else "same")
        raise NotInClass(R.MISSING_VALUE, f"species {s.getId()} is held constant but has no initial value")

    def expr(self, node: "libsbml.ASTNode", local: dict[str, float | None],
             bound: dict[str, Any] | None, stack: tuple[str, ...], where: str) -> Any:
        L = _libsbml()
        t = node.getType()
        if t == L.AST_NAME:
            nm = node.getName()
            if bound is not None and nm in bound:
                return bound[nm]
            return self.name(nm, local, where, stack)
        if t in _LEAVES:
            return self.leaf(node, t)
        if t == L.AST_FUNCTION_DELAY:
            raise NotInClass(R.DELAY, "uses delay()")
        if t == L.AST_FUNCTION_RATE_OF:
            raise NotInClass(R.UNSUPPORTED_MATH, "uses rateOf()")
        kids = [self.expr(node.getChild(i), local, bound, stack, where)
                for i in range(node.getNumChildren())]
        if t == L.AST_FUNCTION:
            fd = self.functions.get(node.getName())
            if fd is None or fd.getBody() is None:
                raise self._invalid(f"calls the undefined function {node.getName()}", stack, where)
            args = [fd.getArgument(i).getName() for i in range(fd.getNumArguments())]
            if len(args) != len(kids):
                raise self._invalid(f"calls {node.getName()} with {len(kids)} arguments, not "
                                    f"{len(args)}", stack, where)
            return self.expr(fd.getBody(), {}, dict(zip(args, kids)), stack, where)
        return self.operator(t, node, kids)


_LIB: Any = None
_LEAVES: set[int] = set()


def _libsbml() -> Any:
    global _LIB
    if _LIB is None:
        import libsbml as L

        _LEAVES.update({L.AST_INTEGER, L.AST_REAL, L.AST_REAL_E, L.AST_RATIONAL, L.AST_NAME_TIME,
                        L.AST_NAME_AVOGADRO, L.AST_CONSTANT_E, L.AST_CONSTANT_PI,
                        L.AST_CONSTANT_TRUE, L.AST_CONSTANT_FALSE})
        _LIB = L
    return _LIB


# ============================================================================ the fast algebra
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


class _FastScope(_Walker):
    """The walker to :class:`Lin` (no sympy)."""

    def _float(self, value: float) -> Lin:
        return Lin.number(float(value))

    def _symbol(self, name: str) -> Lin:
        return Lin.symbol(name)

    def _free_names(self, value: Lin) -> set[str]:
        return value.free()

    def _at_time_zero(self, value: Lin, species: dict[str, Lin]) -> Lin:
        if species:
            raise Opaque("an initial assignment that reads species")
        return value.at_zero({TIME})

    def _scaled(self, value: float, compartment: str | None, how: str) -> Lin:
        out = Lin.number(float(value))
        if how == "same":
            return out
        size = Lin.symbol(compartment) if compartment is not None else Lin.number(1)
        return out.div(size) if how == "divide" else out.mul(size)

    def leaf(self, node: "libsbml.ASTNode", t: int) -> Lin:
        L = _libsbml()
        if t == L.AST_INTEGER:
            return Lin.number(int(node.getInteger()))
        if t in (L.AST_REAL, L.AST_REAL_E):
            value = node.getReal()
            if not math.isfinite(value):
                raise Opaque("a non-finite literal")
            return Lin.number(float(value))
        if t == L.AST_RATIONAL:
            if node.getDenominator() == 0:
                raise Opaque("a rational with denominator 0")
            return Lin.number(_norm(Fraction(node.getNumerator(), node.getDenominator())))
        if t == L.AST_NAME_TIME:
            return Lin.symbol(TIME)
        if t == L.AST_NAME_AVOGADRO:
            return Lin.number(AVOGADRO)
        raise Opaque("e, pi or a boolean (sympy keeps e and pi exact)")

    def operator(self, t: int, node: "libsbml.ASTNode", kids: list[Lin]) -> Lin:
        L = _libsbml()
        n = len(kids)
        if t == L.AST_PLUS:
            out = Lin({})
            for k in kids:
                out = out.add(k)
            return out
        if t == L.AST_TIMES:
            out = Lin.number(1)
            for k in kids:
                out = out.mul(k)
            return out
        if t == L.AST_MINUS:
            return kids[0].neg() if n == 1 else kids[0].add(kids[1].neg())
        if t == L.AST_DIVIDE:
            return kids[0].div(kids[1])
        if t in (L.AST_POWER, L.AST_FUNCTION_POWER):
            return kids[0].pow(kids[1])
        return _number_function(t, kids)


# ============================================================================ sympy (fallback)
class _Scope(_Walker):
    """The walker to sympy expressions: what the importer falls back to."""

    def __init__(self, tables: _Tables) -> None:
        import sympy as sp

        super().__init__(tables)
        self.sp, self.lib = sp, _libsbml()
        self.time = sp.Dummy("t")
        self.symbols = {i: sp.Symbol(i) for i in list(self.species) + list(self.compartments)}
        self.names = {sym: name for name, sym in self.symbols.items()}

    def _float(self, value: float) -> "sympy.Expr":
        return self.sp.Float(value)

    def _symbol(self, name: str) -> "sympy.Expr":
        return self.symbols[name]

    def _free_names(self, value: Any) -> set[str]:
        free = getattr(value, "free_symbols", set())
        return {TIME if x == self.time else self.names.get(x, str(x)) for x in free}

    def _at_time_zero(self, value: Any, species: dict[str, Any]) -> Any:
        at_zero = {self.symbols[s]: v for s, v in species.items()}
        return value.xreplace({**at_zero, self.time: self.sp.Integer(0)})

    def _scaled(self, value: float, compartment: str | None, how: str) -> Any:
        out = self.sp.Float(value)
        if how == "same":
            return out
        size = self.symbols[compartment] if compartment is not None else self.sp.Integer(1)
        return out / size if how == "divide" else out * size

    def leaf(self, node: "libsbml.ASTNode", t: int) -> Any:
        sp, L = self.sp, self.lib
        if t == L.AST_INTEGER:
            return sp.Integer(node.getInteger())
        if t in (L.AST_REAL, L.AST_REAL_E):
            return sp.Float(node.getReal())
        if t == L.AST_RATIONAL:
            return sp.Rational(node.getNumerator(), node.getDenominator())
        return {L.AST_NAME_TIME: self.time, L.AST_NAME_AVOGADRO: sp.Float(AVOGADRO),
                L.AST_CONSTANT_E: sp.E, L.AST_CONSTANT_PI: sp.pi, L.AST_CONSTANT_TRUE: sp.true,
                L.AST_CONSTANT_FALSE: sp.false}[t]

    def operator(self, t: int, node: "libsbml.ASTNode", kids: list[Any]) -> "sympy.Expr":
        sp, L = self.sp, self.lib
        n = len(kids)
        if t == L.AST_PLUS:
            return sp.Add(*kids)
        if t == L.AST_TIMES:
            return sp.Mul(*kids)
        if t == L.AST_MINUS:
            return -kids[0] if n == 1 else kids[0] - kids[1]
        if t == L.AST_DIVIDE:
            return kids[0] / kids[1]
        if t in (L.AST_POWER, L.AST_FUNCTION_POWER):
            base, power = kids
            if power.is_Float and power == int(power):
                power = sp.Integer(int(power))
            return sp.Pow(base, power)
        if t == L.AST_FUNCTION_ROOT:
            return kids[-1] ** (1 / kids[0]) if n == 2 else sp.sqrt(kids[0])
        if t == L.AST_FUNCTION_LOG:
            return sp.log(kids[1], kids[0]) if n == 2 else sp.log(kids[0], 10)
        if t == L.AST_FUNCTION_PIECEWISE:  # collapsed by hand: sympy's own can take minutes
            pieces = [(kids[i], kids[i + 1]) for i in range(0, n - 1, 2)]
            kept = []
            for value, cond in pieces + ([(kids[-1], sp.true)] if n % 2 else []):
                if self.time in getattr(cond, "free_symbols", ()):
                    raise NotInClass(R.TIME_DEPENDENCE, "depends on time (a piecewise switch on time)")
                if cond == sp.true and not kept:
                    return value
                if cond != sp.false:
                    kept.append((value, cond))
                if cond == sp.true:
                    break
            return sp.Piecewise(*kept, evaluate=False) if kept else sp.nan
        if t == L.AST_FUNCTION_QUOTIENT:
            return sp.floor(kids[0] / kids[1])
        table = {
            L.AST_FUNCTION_EXP: sp.exp, L.AST_FUNCTION_LN: sp.log, L.AST_FUNCTION_ABS: sp.Abs,
            L.AST_FUNCTION_FLOOR: sp.floor, L.AST_FUNCTION_CEILING: sp.ceiling,
            L.AST_FUNCTION_FACTORIAL: sp.factorial, L.AST_FUNCTION_SIN: sp.sin,
            L.AST_FUNCTION_COS: sp.cos, L.AST_FUNCTION_TAN: sp.tan, L.AST_FUNCTION_SEC: sp.sec,
            L.AST_FUNCTION_CSC: sp.csc, L.AST_FUNCTION_COT: sp.cot, L.AST_FUNCTION_SINH: sp.sinh,
            L.AST_FUNCTION_COSH: sp.cosh, L.AST_FUNCTION_TANH: sp.tanh,
            L.AST_FUNCTION_ARCSIN: sp.asin, L.AST_FUNCTION_ARCCOS: sp.acos,
            L.AST_FUNCTION_ARCTAN: sp.atan, L.AST_FUNCTION_ARCSINH: sp.asinh,
            L.AST_FUNCTION_ARCCOSH: sp.acosh, L.AST_FUNCTION_ARCTANH: sp.atanh,
            L.AST_LOGICAL_NOT: sp.Not, L.AST_LOGICAL_AND: sp.And, L.AST_LOGICAL_OR: sp.Or,
            L.AST_LOGICAL_XOR: sp.Xor, L.AST_LOGICAL_IMPLIES: sp.Implies,
            L.AST_FUNCTION_MAX: sp.Max, L.AST_FUNCTION_MIN: sp.Min, L.AST_FUNCTION_REM: sp.Mod,
        }
        if t in table:
            return table[t](*kids)
        relations = {L.AST_RELATIONAL_EQ: sp.Eq, L.AST_RELATIONAL_NEQ: sp.Ne,
                     L.AST_RELATIONAL_GT: sp.Gt, L.AST_RELATIONAL_GEQ: sp.Ge,
                     L.AST_RELATIONAL_LT: sp.Lt, L.AST_RELATIONAL_LEQ: sp.Le}
        if t in relations:
            return sp.And(*[relations[t](a, b) for a, b in zip(kids, kids[1:])])
        raise NotInClass(R.UNSUPPORTED_MATH, f"uses the MathML construct {node.getName() or f'of type {t}'}, "
                       "which sbmleq does not interpret")
