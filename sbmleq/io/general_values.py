"""The general importer's symbol tables and initial values (t = 0), as roadrunner 2.10 reads SBML.

:class:`ModelTables` reads one model once: its species, compartments, parameters, reactions and
species references, and all of its math converted to expression trees
(:class:`~sbmleq.io.general_math.MathConverter`): assignment rules, rate rules, initial
assignments, kinetic laws (local parameters renamed ``reaction_id.parameter_id``) and L2
``stoichiometryMath``. Math that uses a name the model does not define raises
:class:`~sbmleq.errors.InputError`; math outside ODE networks (delay, rateOf...) is stored as the
:class:`~sbmleq.io.reasons.NotInClass` it raised, and reported only where it is used.

:class:`InitialValues` is the value of every name at t = 0, computed on demand in dependency
order: initial assignments first (they override ``value``, ``size`` and initial amounts or
concentrations), then assignment rules, then the declared values. A species' value is in its own
unit: ``initialAmount`` of a concentration species (``hasOnlySubstanceUnits`` false) is divided
by its compartment's size, ``initialConcentration`` of an amount species multiplied by it.
Unset compartment sizes are 1 and unset species 0 (roadrunner's defaults); an unset parameter is
NaN (roadrunner refuses such a model; the importer reports it when the value is used).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from sbmleq.core.expr import Expr, Num, evaluate, symbols
from sbmleq.errors import InputError
from sbmleq.io.general_math import RATE, TIME, MathConverter
from sbmleq.io.reasons import NotInClass
from sbmleq.io.reasons import ReasonCode as R

if TYPE_CHECKING:
    import libsbml

__all__ = ["ModelTables", "InitialValues"]

Math = Expr | NotInClass


class ModelTables:
    """One model's ids and converted math (see the module docstring)."""

    def __init__(self, model: "libsbml.Model", source_name: str) -> None:
        self.model, self.source_name, self.level = model, source_name, model.getLevel()
        self.species = {s.getId(): s for s in model.getListOfSpecies()}
        self.compartments = {c.getId(): c for c in model.getListOfCompartments()}
        self.parameters = {p.getId(): p for p in model.getListOfParameters()}
        self.functions = {f.getId(): f for f in model.getListOfFunctionDefinitions()}
        self.reactions = list(model.getListOfReactions())
        self.reaction_ids = {r.getId(): i for i, r in enumerate(self.reactions)}
        self.conv = MathConverter(self.functions, source_name)
        self.warnings: list[str] = []
        self.references: dict[str, str] = {}  # species reference id -> reaction id
        self.reference_values: dict[str, float] = {}
        self._read_reactions()
        self.known = (set(self.species) | set(self.compartments) | set(self.parameters)
                      | set(self.reaction_ids) | set(self.references) | {TIME})
        self.assignment: dict[str, Math] = {}
        self.rate_raw: dict[str, Math] = {}
        self.rate_rule_order: list[str] = []
        self.initial: dict[str, Math] = {}
        self._read_rules()
        self.local_ids: dict[str, float | None] = {}
        self.laws: list[Math | None] = [self._law(r) for r in self.reactions]
        self.stoichiometry_math: dict[tuple[str, int, int], Math] = {}  # (rid, side, index)
        if self.level < 3:
            self._read_stoichiometry_math()
        self.rate_ruled = set(self.rate_raw)
        self.state_species = {
            sid for sid, s in self.species.items()
            if not (s.getBoundaryCondition() or s.getConstant() or sid in self.assignment
                    or sid in self.rate_ruled)}
        self.state_symbols = self.state_species | (self.rate_ruled - set(self.compartments))
        self.variable_compartments = self.rate_ruled & set(self.compartments)
        self.definitions: dict[str, Math] = {
            k: v for k, v in self.assignment.items() if k not in self.compartments}
        for rid, i in self.reaction_ids.items():
            law = self.laws[i]
            self.definitions[rid] = law if law is not None else NotInClass(
                R.NO_KINETIC_LAW, f"uses the rate of reaction {rid}, which has no kinetic law")
        for ref, rid in self.references.items():
            if ref in self.rate_ruled or ref in self.assignment:
                self.definitions[ref] = NotInClass(
                    R.VARIABLE_STOICHIOMETRY, f"uses the stoichiometry {ref}, set by a rule")
            elif ref in self.initial:
                self.definitions[ref] = self.initial[ref]
            else:
                self.definitions[ref] = Num(self.reference_values[ref])

    # -------------------------------------------------------------- reading
    def _error(self, message: str, element: str) -> InputError:
        return InputError(f"invalid SBML: {message}", source=self.source_name, element=element)

    def _read_reactions(self) -> None:
        for sid, s in self.species.items():
            if s.getCompartment() not in self.compartments:
                raise self._error(f"species {sid} lives in the undefined compartment "
                                  f"{s.getCompartment() or '(none)'}", sid)
        for rxn in self.reactions:
            rid = rxn.getId()
            for what, group in (("species", rxn.getListOfReactants()),
                                ("species", rxn.getListOfProducts()),
                                ("modifier", rxn.getListOfModifiers())):
                for ref in group:
                    if ref.getSpecies() not in self.species:
                        raise self._error(f"reaction {rid} refers to the undefined {what} "
                                          f"{ref.getSpecies()}", rid)
                    if ref.isSetId() and what == "species" and self.level >= 3:
                        self.references[ref.getId()] = rid
                        self.reference_values[ref.getId()] = (
                            float(ref.getStoichiometry()) if ref.isSetStoichiometry() else 1.0)

    def convert(self, node: "libsbml.ASTNode", element: str, known: set[str] | frozenset[str],
                rename: Mapping[str, str] | None = None) -> Math:
        """``node`` as an expression (or the NotInClass it raised), its names checked."""
        try:
            e = self.conv.convert(node, element, rename)
        except NotInClass as exc:
            self._check_ast(node, element, known | set(rename or {}))
            return exc
        names = {n[len(RATE):] if n.startswith(RATE) else n for n in symbols(e)}
        missing = sorted(names - known - self.known)
        if missing:
            raise self._error(f"{element} uses the undefined symbol {missing[0]} (no species, "
                              "compartment, parameter or reaction has that id)", element)
        return e

    def _check_ast(self, node: "libsbml.ASTNode", element: str, known: set[str]) -> None:
        lib = self.conv.lib
        stack = [node]
        while stack:
            n = stack.pop()
            if n.getType() == lib.AST_NAME and n.getName() not in known | self.known:
                raise self._error(f"{element} uses the undefined symbol {n.getName()}", element)
            stack.extend(n.getChild(i) for i in range(n.getNumChildren()))

    def _read_rules(self) -> None:
        targets = set(self.species) | set(self.compartments) | set(self.parameters) | set(
            self.references)
        for rule in self.model.getListOfRules():
            if rule.isAlgebraic():
                continue
            var = rule.getVariable()
            kind = "assignment rule" if rule.isAssignment() else "rate rule"
            if var not in targets:
                raise self._error(f"the {kind} of {var} sets an undefined id", var)
            if not rule.isSetMath():
                raise self._error(f"the {kind} of {var} has no math", var)
            e = self.convert(rule.getMath(), f"the {kind} of {var}", set())
            if rule.isAssignment():
                self.assignment[var] = e
            else:
                self.rate_raw[var] = e
                self.rate_rule_order.append(var)
        for ia in self.model.getListOfInitialAssignments():
            var = ia.getSymbol()
            if var not in targets:
                raise self._error(f"the initial assignment of {var} sets an undefined id", var)
            if ia.isSetMath():
                self.initial[var] = self.convert(ia.getMath(), f"the initial assignment of {var}",
                                                 set())

    def _law(self, rxn: "libsbml.Reaction") -> Math | None:
        kl = rxn.getKineticLaw()
        if kl is None or not kl.isSetMath():
            return None
        rid = rxn.getId()
        plist = kl.getListOfLocalParameters() if self.level >= 3 else kl.getListOfParameters()
        rename = {}
        for p in plist:
            name = f"{rid}.{p.getId()}"
            rename[p.getId()] = name
            self.local_ids[name] = p.getValue() if p.isSetValue() else None
        return self.convert(kl.getMath(), f"the kinetic law of {rid}", set(rename.values()),
                            rename)

    def _read_stoichiometry_math(self) -> None:
        for rxn in self.reactions:
            rid = rxn.getId()
            for side, group in ((-1, rxn.getListOfReactants()), (1, rxn.getListOfProducts())):
                for index, ref in enumerate(group):
                    sm = ref.getStoichiometryMath() if ref.isSetStoichiometryMath() else None
                    if sm is not None and sm.isSetMath():
                        key = (rid, side, index)
                        self.stoichiometry_math[key] = self.convert(
                            sm.getMath(), f"the stoichiometry of {ref.getSpecies()} in {rid}",
                            set())


class InitialValues(Mapping[str, float]):
    """The value of every name at t = 0 (see the module docstring); a mapping for
    :func:`sbmleq.core.expr.evaluate`."""

    def __init__(self, tables: ModelTables) -> None:
        self.t = tables
        self.cache: dict[str, float] = {TIME: 0.0}
        self._visiting: list[str] = []
        self.rate_at_zero: Callable[[str], float] | None = None  # rateOf(x) at t = 0

    def __iter__(self) -> Iterator[str]:
        return iter(self.t.known | set(self.t.local_ids))

    def __len__(self) -> int:
        return len(self.t.known | set(self.t.local_ids))

    def __getitem__(self, name: str) -> float:
        if name in self.cache:
            return self.cache[name]
        if name in self._visiting:
            cycle = " -> ".join(self._visiting[self._visiting.index(name):] + [name])
            raise InputError(f"invalid SBML: circular definition of initial values ({cycle})",
                             source=self.t.source_name, element=name)
        self._visiting.append(name)
        try:
            value = float(self._compute(name))
        finally:
            self._visiting.pop()
        self.cache[name] = value
        return value

    def evaluate(self, e: Expr) -> float:
        return evaluate(e, self)

    def _math(self, name: str, e: Math | None, what: str) -> float:
        if e is None or isinstance(e, NotInClass):
            detail = e.message if isinstance(e, NotInClass) else "no math"
            self.t.warnings.append(f"the {what} of {name} cannot be evaluated at t = 0 "
                                   f"({detail}): NaN")
            return math.nan
        return self.evaluate(e)

    def _compute(self, name: str) -> float:
        t = self.t
        if name in t.local_ids:
            value = t.local_ids[name]
            return math.nan if value is None else value
        if name in t.initial:
            return self._math(name, t.initial[name], "initial assignment")
        if name in t.assignment:
            return self._math(name, t.assignment[name], "assignment rule")
        if name in t.species:
            return self._species(t.species[name])
        if name in t.compartments:
            c = t.compartments[name]
            return c.getSize() if c.isSetSize() else 1.0
        if name in t.parameters:
            p = t.parameters[name]
            return p.getValue() if p.isSetValue() else math.nan
        if name in t.references:
            return t.reference_values[name]
        if name in t.reaction_ids:
            return self._math(name, t.laws[t.reaction_ids[name]], "kinetic law")
        if name.startswith(RATE) and self.rate_at_zero is not None:
            try:
                return self.rate_at_zero(name[len(RATE):])
            except NotInClass as exc:
                t.warnings.append(f"rateOf({name[len(RATE):]}) at t = 0: {exc.message}: NaN")
                return math.nan
        if name.startswith(RATE):
            t.warnings.append(f"rateOf({name[len(RATE):]}) is not known yet at t = 0: NaN")
            return math.nan
        raise KeyError(name)

    def _species(self, s: "libsbml.Species") -> float:
        amount_unit = bool(s.getHasOnlySubstanceUnits())
        if s.isSetInitialAmount():
            value = s.getInitialAmount()
            return value if amount_unit else value / self[s.getCompartment()]
        if s.isSetInitialConcentration():
            value = s.getInitialConcentration()
            return value * self[s.getCompartment()] if amount_unit else value
        self.t.warnings.append(f"species {s.getId()} has no initial value: 0 assumed (as "
                               "roadrunner does)")
        return 0.0

