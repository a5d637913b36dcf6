"""The model's initial state: each species' initial value in the units it declares, at t = 0.

``initial_values(model)`` evaluates, with plain floats, what SBML defines as the initial state:
initial assignments (they override ``initialAmount``/``initialConcentration``/``size``/``value``),
assignment rules (they hold at t = 0 too), function definitions, compartment sizes (1 when unset,
as the importer assumes), and the conversion between amounts and concentrations
(``hasOnlySubstanceUnits``: an amount species is reported as an amount, any other species as a
concentration, amount / compartment size). A value that cannot be evaluated (a construct this
evaluator does not know, a circular definition, a missing value) is NaN; callers decide whether
they need it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sbmleq.io.sbml_math import AVOGADRO

if TYPE_CHECKING:
    import libsbml


class _Unknown(Exception):
    pass


def _piecewise(kids: list[Callable[[], float]]) -> float:
    for k in range(0, len(kids) - 1, 2):
        if kids[k + 1]():
            return kids[k]()
    if len(kids) % 2:
        return kids[-1]()
    raise _Unknown("piecewise without a true branch")


class _Evaluator:
    def __init__(self, model: "libsbml.Model") -> None:
        import libsbml  # lazy: ~0.15 s to import, and callers have it loaded already

        self.lib = libsbml
        self.model = model
        self.species = {s.getId(): s for s in model.getListOfSpecies()}
        self.compartments = {c.getId(): c for c in model.getListOfCompartments()}
        self.parameters = {p.getId(): p for p in model.getListOfParameters()}
        self.functions = {f.getId(): f for f in model.getListOfFunctionDefinitions()}
        self.math = {a.getSymbol(): a.getMath() for a in model.getListOfInitialAssignments()
                     if a.isSetMath()}
        for rule in model.getListOfRules():
            if rule.isAssignment() and rule.isSetMath():
                self.math[rule.getVariable()] = rule.getMath()
        self.cache: dict[str, float] = {}
        self.stack: set[str] = set()
        lib = libsbml
        self.binary: dict[int, Callable[[float, float], float]] = {
            lib.AST_DIVIDE: operator.truediv, lib.AST_POWER: operator.pow,
            lib.AST_FUNCTION_POWER: operator.pow,
            lib.AST_RELATIONAL_EQ: operator.eq, lib.AST_RELATIONAL_NEQ: operator.ne,
            lib.AST_RELATIONAL_GT: operator.gt, lib.AST_RELATIONAL_GEQ: operator.ge,
            lib.AST_RELATIONAL_LT: operator.lt, lib.AST_RELATIONAL_LEQ: operator.le,
        }
        self.unary: dict[int, Callable[[float], float]] = {
            lib.AST_FUNCTION_EXP: math.exp, lib.AST_FUNCTION_LN: math.log,
            lib.AST_FUNCTION_ABS: abs, lib.AST_FUNCTION_FLOOR: math.floor,
            lib.AST_FUNCTION_CEILING: math.ceil, lib.AST_FUNCTION_SIN: math.sin,
            lib.AST_FUNCTION_COS: math.cos, lib.AST_FUNCTION_TAN: math.tan,
            lib.AST_FUNCTION_TANH: math.tanh, lib.AST_LOGICAL_NOT: operator.not_,
        }

    # ------------------------------------------------------------------ symbols
    def value(self, sid: str) -> float:
        if sid in self.cache:
            return self.cache[sid]
        if sid in self.stack:
            raise _Unknown(f"circular definition of {sid}")
        self.stack.add(sid)
        try:
            out = self._value(sid)
        finally:
            self.stack.discard(sid)
        self.cache[sid] = out
        return out

    def _value(self, sid: str) -> float:
        if sid in self.math:  # a species is assigned in its own unit (amount or concentration)
            return self.eval(self.math[sid], {})
        if sid in self.species:
            s = self.species[sid]
            if s.isSetInitialConcentration():
                conc = s.getInitialConcentration()
                return conc * self.size(s.getCompartment()) if s.getHasOnlySubstanceUnits() else conc
            if s.isSetInitialAmount():
                amount = s.getInitialAmount()
                return amount if s.getHasOnlySubstanceUnits() else amount / self.size(s.getCompartment())
            raise _Unknown(f"species {sid} has no initial value")
        if sid in self.compartments:
            c = self.compartments[sid]
            return c.getSize() if c.isSetSize() else 1.0
        if sid in self.parameters:
            p = self.parameters[sid]
            if p.isSetValue():
                return p.getValue()
        raise _Unknown(f"{sid} has no value")

    def size(self, cid: str) -> float:
        return self.value(cid)

    # ------------------------------------------------------------------ math
    def eval(self, node: Any, bound: dict[str, float]) -> float:
        lib, t = self.lib, node.getType()
        if t in (lib.AST_INTEGER,):
            return float(node.getInteger())
        if t in (lib.AST_REAL, lib.AST_REAL_E, lib.AST_RATIONAL):
            return float(node.getValue())
        if t == lib.AST_NAME:
            name = node.getName()
            return bound[name] if name in bound else self.value(name)
        if t == lib.AST_NAME_TIME:
            return 0.0
        if t == lib.AST_NAME_AVOGADRO:
            return AVOGADRO
        if t == lib.AST_CONSTANT_PI:
            return math.pi
        if t == lib.AST_CONSTANT_E:
            return math.e
        if t in (lib.AST_CONSTANT_TRUE, lib.AST_CONSTANT_FALSE):
            return float(t == lib.AST_CONSTANT_TRUE)
        kids = [node.getChild(i) for i in range(node.getNumChildren())]
        if t == lib.AST_FUNCTION_PIECEWISE:
            return _piecewise([lambda k=k: self.eval(k, bound) for k in kids])
        args = [self.eval(k, bound) for k in kids]
        if t == lib.AST_PLUS:
            return math.fsum(args)
        if t == lib.AST_MINUS:
            return -args[0] if len(args) == 1 else args[0] - args[1]
        if t == lib.AST_TIMES:
            return math.prod(args)
        if t in self.binary and len(args) == 2:
            return float(self.binary[t](args[0], args[1]))
        if t in self.unary and len(args) == 1:
            return float(self.unary[t](args[0]))
        if t == lib.AST_FUNCTION_LOG:
            return math.log(args[-1], args[0]) if len(args) == 2 else math.log10(args[0])
        if t == lib.AST_FUNCTION_ROOT:
            return args[-1] ** (1.0 / args[0]) if len(args) == 2 else math.sqrt(args[0])
        if t == lib.AST_LOGICAL_AND:
            return float(all(args))
        if t == lib.AST_LOGICAL_OR:
            return float(any(args))
        if t == lib.AST_FUNCTION:
            fd = self.functions.get(node.getName())
            if fd is None or fd.getBody() is None or fd.getNumArguments() != len(args):
                raise _Unknown(f"cannot call {node.getName()}")
            names = [fd.getArgument(i).getName() for i in range(fd.getNumArguments())]
            return self.eval(fd.getBody(), dict(zip(names, args)))
        if t in (lib.AST_FUNCTION_MAX, lib.AST_FUNCTION_MIN) and args:
            return max(args) if t == lib.AST_FUNCTION_MAX else min(args)
        raise _Unknown(f"unsupported math ({node.getName() or t})")


def _evaluate(ev: _Evaluator, ids: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for sid in ids:
        try:
            value = float(ev.value(sid))
        except (_Unknown, ArithmeticError, ValueError, TypeError, KeyError):
            value = math.nan
        out[sid] = value if math.isfinite(value) else math.nan
    return out


def initial_values(model: "libsbml.Model", species: list[str] | None = None) -> dict[str, float]:
    """Initial value of each species (all, or ``species``) in its declared unit; NaN if unknown."""
    ev = _Evaluator(model)
    return _evaluate(ev, list(ev.species) if species is None else list(species))


def compartment_sizes(model: "libsbml.Model") -> dict[str, float]:
    """Size of each compartment at t = 0 (initial assignments included; 1 when unset)."""
    ev = _Evaluator(model)
    return _evaluate(ev, list(ev.compartments))
