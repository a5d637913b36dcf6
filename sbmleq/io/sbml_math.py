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

import functools
import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from sbmleq.errors import InputError
from sbmleq.io.lin import Lin, Opaque, _norm, _number_function
from sbmleq.io.reasons import NotInClass
from sbmleq.io.reasons import ReasonCode as R

if TYPE_CHECKING:
    import libsbml

AVOGADRO = 6.02214179e23  # the value libsbml and roadrunner use
TIME = "\x00time"  # the name of time in Lin monomials (never an SBML id)


@functools.cache
def _libsbml() -> Any:
    """libsbml, imported on first use (~0.2 s)."""
    import libsbml

    return libsbml


@functools.cache
def leaf_types() -> frozenset[int]:
    """AST node types that are numbers or constants."""
    L = _libsbml()
    return frozenset({L.AST_INTEGER, L.AST_REAL, L.AST_REAL_E, L.AST_RATIONAL, L.AST_NAME_TIME,
                      L.AST_NAME_AVOGADRO, L.AST_CONSTANT_E, L.AST_CONSTANT_PI,
                      L.AST_CONSTANT_TRUE, L.AST_CONSTANT_FALSE})


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
        if t in leaf_types():
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
