"""The SBML math walker: libsbml ASTs to sympy expressions, with one model's symbol tables.

:class:`_Scope` expands function definitions and assignment rules, evaluates initial assignments
and substitutes parameter values, and raises :class:`~sbmleq.io.reasons.NotInClass` for math outside the LIFE class
(delay, rateOf, time-dependent switches, undefined symbols, ...). Used by
:mod:`sbmleq.io.sbml_import`; libsbml and sympy are imported only when a scope is built.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sbmleq.errors import InputError
from sbmleq.io.reasons import NotInClass
from sbmleq.io.reasons import ReasonCode as R

if TYPE_CHECKING:
    import libsbml
    import sympy

AVOGADRO = 6.02214179e23  # the value libsbml and roadrunner use


class _Scope:
    """Symbol tables of one model and the walker from libsbml ASTs to sympy expressions."""

    def __init__(self, model: "libsbml.Model", source_name: str) -> None:
        import libsbml
        import sympy as sp

        self.sp, self.lib, self.model, self.source_name = sp, libsbml, model, source_name
        self.time = sp.Dummy("t")
        self.species = {s.getId(): s for s in model.getListOfSpecies()}
        self.compartments = {c.getId(): c for c in model.getListOfCompartments()}
        self.parameters = {p.getId(): p for p in model.getListOfParameters()}
        self.functions = {f.getId(): f for f in model.getListOfFunctionDefinitions()}
        self.reaction_ids = {r.getId() for r in model.getListOfReactions()}
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
        self.state: set[str] = set()  # set by _Importer: floating species that reactions change
        self.symbols = {i: sp.Symbol(i) for i in list(self.species) + list(self.compartments)}
        self.used: dict[str, float] = {}  # parameter values read while walking one kinetic law
        self.cache: dict[str, tuple[Any, dict[str, float]]] = {}

    def number(self, value: float, name: str, where: str) -> "sympy.Expr":
        if not math.isfinite(value):
            raise InputError(f"value must be finite, got {value!r} (used in {where})",
                             source=self.source_name, element=name)
        self.used[name] = value
        return self.sp.Float(value)

    def constant(self, name: str, where: str, stack: tuple[str, ...]) -> "sympy.Expr":
        """A value that must not depend on species or time (initial assignment or rule).

        Initial assignments are evaluated here (at time 0, with the species' initial values)
        rather than by libsbml's initial-assignment converter, which crashes on some models.
        """
        for table, what in ((self.assigned, "assignment rule"),
                            (self.initial, "initial assignment")):
            if name in table:
                value = self.expr(table[name], {}, None, stack + (name,), where)
                if table is self.initial:
                    at_zero = {self.symbols[s]: self.initial_value(s, where, stack + (name,))
                               for s in self.state if self.symbols[s] in value.free_symbols}
                    value = value.xreplace({**at_zero, self.time: self.sp.Integer(0)})
                if value.free_symbols - {self.symbols.get(c) for c in self.compartments}:
                    raise NotInClass(R.NON_CONSTANT_ASSIGNMENT, f"the {what} of {name} is not a constant")
                return value
        raise KeyError(name)

    def initial_value(self, sid: str, where: str, stack: tuple[str, ...]) -> "sympy.Expr":
        if sid in stack:
            raise NotInClass(R.UNSUPPORTED_MATH, f"circular definition of {sid}")
        if sid in self.initial:
            return self.constant(sid, where, stack)
        return self.species_value(self.species[sid])

    def name(self, name: str, local: dict[str, float | None], where: str,
             stack: tuple[str, ...]) -> "sympy.Expr":
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
            except NotInClass as exc:
                self.cache[name] = (exc, self.used)
            finally:
                self.used = outer
        value, used = self.cache[name]
        self.used.update(used)
        if isinstance(value, NotInClass):
            raise value
        return value

    def global_name(self, name: str, where: str, stack: tuple[str, ...]) -> "sympy.Expr":
        if name in self.state:
            return self.symbols[name]
        if name in self.changing:
            raise NotInClass(R.TIME_VARYING_PARAMETER, f"{name} changes in time ({self.changing[name]})")
        if name in self.compartments:
            if name in self.assigned or name in self.initial:
                return self.constant(name, where, stack)
            return self.symbols[name]
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
        raise NotInClass(R.UNSUPPORTED_MATH, f"uses the undefined symbol {name}")

    def species_value(self, s: "libsbml.Species") -> "sympy.Expr":
        """A species held constant (boundary or constant): its initial value."""
        size = self.symbols.get(s.getCompartment(), self.sp.Integer(1))
        if s.isSetInitialAmount():
            amount = self.sp.Float(s.getInitialAmount())
            return amount if s.getHasOnlySubstanceUnits() else amount / size
        if s.isSetInitialConcentration():
            conc = self.sp.Float(s.getInitialConcentration())
            return conc * size if s.getHasOnlySubstanceUnits() else conc
        raise NotInClass(R.MISSING_VALUE, f"species {s.getId()} is held constant but has no initial value")

    def expr(self, node: "libsbml.ASTNode", local: dict[str, float | None],
             bound: dict[str, Any] | None, stack: tuple[str, ...], where: str) -> "sympy.Expr":
        sp, L = self.sp, self.lib
        t = node.getType()
        if t == L.AST_NAME:
            nm = node.getName()
            if bound is not None and nm in bound:
                return bound[nm]
            return self.name(nm, local, where, stack)
        if t == L.AST_INTEGER:
            return sp.Integer(node.getInteger())
        if t in (L.AST_REAL, L.AST_REAL_E):
            return sp.Float(node.getReal())
        if t == L.AST_RATIONAL:
            return sp.Rational(node.getNumerator(), node.getDenominator())
        simple = {L.AST_NAME_TIME: self.time, L.AST_NAME_AVOGADRO: sp.Float(AVOGADRO),
                  L.AST_CONSTANT_E: sp.E, L.AST_CONSTANT_PI: sp.pi, L.AST_CONSTANT_TRUE: sp.true,
                  L.AST_CONSTANT_FALSE: sp.false}
        if t in simple:
            return simple[t]
        if t == L.AST_FUNCTION_DELAY:
            raise NotInClass(R.DELAY, "uses delay()")
        if t == L.AST_FUNCTION_RATE_OF:
            raise NotInClass(R.UNSUPPORTED_MATH, "uses rateOf()")
        kids = [self.expr(node.getChild(i), local, bound, stack, where)
                for i in range(node.getNumChildren())]
        if t == L.AST_FUNCTION:
            fd = self.functions.get(node.getName())
            if fd is None or fd.getBody() is None:
                raise NotInClass(R.UNSUPPORTED_MATH, f"calls the undefined function {node.getName()}")
            args = [fd.getArgument(i).getName() for i in range(fd.getNumArguments())]
            if len(args) != len(kids):
                raise NotInClass(R.UNSUPPORTED_MATH, f"calls {node.getName()} with {len(kids)} arguments, not {len(args)}")
            return self.expr(fd.getBody(), {}, dict(zip(args, kids)), stack, where)
        return self.operator(t, node, kids)

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
