"""Model-level import steps: identifiers and references, state species, compartments, units.

:class:`ModelChecks` is mixed into the importer (:mod:`sbmleq.io.sbml_import`); its methods read
the importer's tables and fill its warnings and reasons.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sbmleq.errors import InputError
from sbmleq.io.import_result import SBMLEQ_NS
from sbmleq.io.lin import Lin, Opaque
from sbmleq.io.reasons import Reason
from sbmleq.io.reasons import ReasonCode as R
from sbmleq.io.sources import error_detail

if TYPE_CHECKING:
    import libsbml


def _check_identifiers(doc: "libsbml.SBMLDocument", source_name: str) -> None:
    """libsbml's identifier checks (duplicate ids, duplicate local parameters, ids that are not
    SBML ids...): :class:`InputError` for the first error. Only this category runs: it is linear
    in the model (about 4 ms for 10,000 reactions), while libsbml's MathML and general checks
    grow faster than linearly (seconds on large models); undefined references are found by the
    importer itself (:meth:`_Importer._check_references`, :meth:`_Importer._check_names`)."""
    import libsbml

    for name in dir(libsbml):
        if name.startswith("LIBSBML_CAT_"):
            doc.setConsistencyChecks(getattr(libsbml, name),
                                     name == "LIBSBML_CAT_IDENTIFIER_CONSISTENCY")
    before = doc.getNumErrors()
    doc.checkConsistency()
    errors = [doc.getError(i) for i in range(before, doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if errors:
        e = errors[0]
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        raise InputError(f"invalid SBML: {error_detail(e)}{more}", source=source_name,
                         element=f"line {e.getLine()}")


class ModelChecks:
    """The importer's model-level steps (see the module docstring)."""

    def _state_species(self) -> set[str]:
        tables, m = self.tables, self.model
        changed: set[str] = set()
        for rxn in self.reactions:
            rid = rxn.getId()
            if rxn.isSetFast() and rxn.getFast():
                self.warnings.append(f"{rid}: fast reaction treated as an ordinary one "
                                     "(the same equilibrium)")
            net: dict[str, float] = {}
            refs = []
            for group, sign in ((rxn.getListOfReactants(), -1.0), (rxn.getListOfProducts(), 1.0)):
                for ref in group:
                    sid = ref.getSpecies()
                    if sid not in tables.species:
                        raise InputError(f"invalid SBML: reaction {rid} refers to the undefined "
                                         f"species {sid}", source=self.source_name, element=rid)
                    if ref.isSetId():
                        tables.reference_ids.add(ref.getId())
                    refs.append((sid, ref, sign))
                    stoich = ref.getStoichiometry() if ref.isSetStoichiometry() else 1.0
                    net[sid] = net.get(sid, 0.0) + sign * stoich
            for ref in rxn.getListOfModifiers():
                if ref.getSpecies() not in tables.species:
                    raise InputError(f"invalid SBML: reaction {rid} refers to the undefined "
                                     f"species {ref.getSpecies()} (a modifier)",
                                     source=self.source_name, element=rid)
                if ref.isSetId():
                    tables.reference_ids.add(ref.getId())
            self.refs.append(refs)
            changed.update(s for s, v in net.items() if v != 0 or math.isnan(v))
        if m.getNumEvents():
            ids = ", ".join(e.getId() or "(unnamed)" for e in m.getListOfEvents())
            self.reasons.append(Reason(R.EVENTS, f"the model has {m.getNumEvents()} event(s) ({ids[:120]}): "
                                "discrete changes at event times are outside LIFE"))
        algebraic = [r for r in m.getListOfRules() if r.isAlgebraic()]
        if algebraic:
            self.reasons.append(Reason(R.ALGEBRAIC_RULE, f"the model has {len(algebraic)} algebraic rule(s): "
                                       "LIFE networks are ODEs given by reactions only"))
        state: set[str] = set()
        for sid, s in tables.species.items():
            if s.getCompartment() not in tables.compartments:
                raise InputError(f"invalid SBML: species {sid} lives in the undefined compartment "
                                 f"{s.getCompartment() or '(none)'}", source=self.source_name,
                                 element=sid)
            if tables.changing.get(sid) == "a rate rule" and sid not in tables.assigned:
                self.reasons.append(Reason(R.RATE_RULE, f"species {sid} is governed by a rate rule, not by "
                                           "reactions", sid))
            if (not s.getBoundaryCondition() and not s.getConstant()
                    and sid not in tables.assigned and sid not in tables.changing):
                state.add(sid)
                if sid not in changed:
                    self.warnings.append(f"species {sid} is changed by no reaction: an isolated node "
                                         "(it keeps its initial value)")
        for sid in sorted(state):
            comp = tables.species[sid].getCompartment()
            if comp in tables.changing:
                self.reasons.append(Reason(R.VARIABLE_COMPARTMENT, f"species {sid} lives in compartment "
                                           f"{comp}, whose size changes ({tables.changing[comp]})",
                                           sid))
        return state

    def _check_references(self) -> None:
        """Invalid SBML outside the kinetic laws: a rule, initial or event assignment for an
        undefined id, or math (rules, assignments, events, function bodies) that uses an
        undefined symbol or function. Kinetic laws are checked as they are walked."""
        tables, m = self.tables, self.model
        targets = (set(tables.species) | set(tables.compartments) | set(tables.parameters)
                   | tables.reference_ids)
        checks: list[tuple[str, str, Any, set[str]]] = []  # (what, element, math, bound names)
        for rule in m.getListOfRules():
            var = rule.getVariable() if not rule.isAlgebraic() else ""
            kind = "assignment rule" if rule.isAssignment() else (
                "rate rule" if rule.isRate() else "algebraic rule")
            if var and var not in targets:
                raise InputError(f"invalid SBML: the {kind} of {var} sets an undefined id",
                                 source=self.source_name, element=var)
            if rule.isSetMath():
                checks.append((f"the {kind}" + (f" of {var}" if var else ""),
                               var or "algebraic rule", rule.getMath(), set()))
        for ia in m.getListOfInitialAssignments():
            if ia.getSymbol() not in targets:
                raise InputError(f"invalid SBML: the initial assignment of {ia.getSymbol()} sets an "
                                 "undefined id", source=self.source_name, element=ia.getSymbol())
            if ia.isSetMath():
                checks.append((f"the initial assignment of {ia.getSymbol()}", ia.getSymbol(),
                               ia.getMath(), set()))
        for event in m.getListOfEvents():
            eid = event.getId() or "(unnamed event)"
            for part in (event.getTrigger(), event.getDelay(), event.getPriority()):
                if part is not None and part.isSetMath():
                    checks.append((f"event {eid}", eid, part.getMath(), set()))
            for ea in event.getListOfEventAssignments():
                if ea.getVariable() not in targets:
                    raise InputError(f"invalid SBML: event {eid} assigns the undefined id "
                                     f"{ea.getVariable()}", source=self.source_name, element=eid)
                if ea.isSetMath():
                    checks.append((f"event {eid}", eid, ea.getMath(), set()))
        for fid, fd in tables.functions.items():
            if fd.getBody() is not None:
                args = {fd.getArgument(i).getName() for i in range(fd.getNumArguments())}
                checks.append((f"function {fid}", fid, fd.getBody(), args))
        for what, element, node, bound in checks:
            self._check_names(node, bound, what, element)

    def _check_names(self, node: Any, bound: set[str], what: str, element: str) -> None:
        """InputError for an undefined symbol or function in ``node``."""
        L, tables = self.lib, self.tables
        stack = [node]
        while stack:
            n = stack.pop()
            t = n.getType()
            if t == L.AST_NAME:
                name = n.getName()
                if name not in bound and not tables.defined(name):
                    raise InputError(f"invalid SBML: {what} uses the undefined symbol {name} (no "
                                     "species, compartment, parameter or reaction has that id)",
                                     source=self.source_name, element=element)
            elif t == L.AST_FUNCTION and n.getName() not in tables.functions:
                raise InputError(f"invalid SBML: {what} calls the undefined function "
                                 f"{n.getName()}", source=self.source_name, element=element)
            stack.extend(n.getChild(i) for i in range(n.getNumChildren()))

    def _node_ids(self) -> dict[str, str]:
        tables = self.tables
        order = [sid for sid in tables.species if sid in tables.state]
        node_of = {sid: sid for sid in order}
        if SBMLEQ_NS in (self.model.getAnnotationString() or ""):
            names = {sid: tables.species[sid].getName() or sid for sid in order}
            if len(set(names.values())) == len(names):
                node_of = names
            else:
                self.warnings.append("species names are not unique: node ids are the species ids")
        return node_of

    def _compartment_values(self) -> dict[str, float]:
        """Every compartment's size as a float (NaN when it is not a constant)."""
        tables = self.tables
        used = {tables.species[s].getCompartment() for s in tables.state}
        sizes: dict[str, float] = {}
        for cid, comp in tables.compartments.items():
            known = True
            try:
                if cid in tables.assigned or cid in tables.initial:
                    value = self._constant_size(cid, sizes)
                elif comp.isSetSize():
                    value = comp.getSize()
                else:
                    value = 1.0
                    if cid in used:
                        self.warnings.append(f"compartment {cid} has no size: 1 assumed")
            except InputError:
                raise
            except Exception:  # noqa: BLE001 - NotInClass, or a rule sympy cannot evaluate
                value, known = math.nan, False
                if cid in used and cid not in tables.changing:
                    self.reasons.append(Reason(R.VARIABLE_COMPARTMENT,
                                               f"the size of compartment {cid} is not a constant",
                                               cid))
            if cid in used and cid not in tables.changing and known and not 0 < value < math.inf:
                raise InputError(f"compartment size must be finite and > 0, got {value!r}",
                                 source=self.source_name, element=cid)
            sizes[cid] = float(value)
        return sizes

    def _constant_size(self, cid: str, sizes: dict[str, float]) -> float:
        where = f"compartment {cid}"
        self.fast.owner = cid
        try:
            value = self.fast.constant(cid, where, ())
            if value.is_number():
                return float(value.value())
        except Opaque:
            pass
        slow = self.slow  # a size in terms of other compartments: sympy, as before
        slow.owner = cid
        known = {slow.symbols[c]: slow.sp.Float(v) for c, v in sizes.items()}
        return float(slow.constant(cid, where, ()).xreplace(known))

    def _factor(self, sid: str) -> Lin | None:
        """Species quantity = amount / factor: the compartment for concentrations, else 1.
        None when a conversion factor applies (the sympy path then handles the species)."""
        s = self.tables.species[sid]
        factor = Lin.number(1) if s.getHasOnlySubstanceUnits() else Lin.symbol(s.getCompartment())
        cf = self._conversion_factor(s)
        if not cf:
            return factor
        where = f"conversion factor of {sid}"
        try:
            try:
                self.fast.owner = sid
                self.fast.name(cf, {}, where, ())
            except Opaque:
                self.slow.owner = sid
                self.slow.name(cf, {}, where, ())
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - NotInClass, or math sympy cannot evaluate
            self.reasons.append(Reason(R.CONVERSION_FACTOR, f"species {sid}: conversion factor {cf}: "
                                       f"{exc}", sid))
        return None

    def _conversion_factor(self, s: "libsbml.Species") -> str:
        return s.getConversionFactor() if s.isSetConversionFactor() else (
            self.model.getConversionFactor() if self.model.isSetConversionFactor() else "")

    def _slow_factor(self, sid: str) -> Any:
        """The sympy factor of a species (as the fast :meth:`_factor`, with the conversion)."""
        if sid not in self._slow_factors:
            scope = self.slow
            s = scope.species[sid]
            factor = (scope.sp.Integer(1) if s.getHasOnlySubstanceUnits()
                      else scope.symbols[s.getCompartment()])
            cf = self._conversion_factor(s)
            if cf:
                try:
                    factor = factor / scope.name(cf, {}, f"conversion factor of {sid}", ())
                except InputError:
                    raise
                except Exception:  # noqa: BLE001 - reported by _factor
                    pass
            self._slow_factors[sid] = factor
        return self._slow_factors[sid]

    # -------------------------------------------------------------- reactions

    def species_units(self) -> dict[str, str]:
        m, level = self.model, self.model.getLevel()
        units: dict[str, str] = {}
        for sid, s in self.tables.species.items():
            sub = s.getSubstanceUnits() or (m.getSubstanceUnits() if level >= 3 else "substance")
            comp = self.tables.compartments.get(s.getCompartment())
            vol = comp.getUnits() if comp is not None and comp.isSetUnits() else ""
            if not vol and comp is not None and (level < 3 or comp.getSpatialDimensions() == 3):
                vol = m.getVolumeUnits() if level >= 3 else "volume"
            if s.getHasOnlySubstanceUnits():
                text = f"amount ({sub or 'units not declared'})"
            elif sub or vol:
                text = f"concentration ({sub or '?'}/{vol or '?'})"
            else:
                text = "concentration (units not declared)"
            units[self.node_of.get(sid, sid)] = text
        return units
