"""Read SBML into a LIFE :class:`~sbmleq.core.network.Network`, reaction by reaction, with a report.

Each reaction is decided on its math: the kinetic law is walked into an exact expression (function
definitions expanded, assignment rules, parameters, compartment sizes and boundary species
substituted), then it must be affine in the floating species the reaction moves and depend on no
other species or on time. The walk is an exact Laurent polynomial when the law is one (mass action,
reversible, sources and sinks: no sympy import at all) and a sympy expression otherwise
(:mod:`sbmleq.io.sbml_math`); both give the same result. SBML rate laws are in substance per time;
the contribution to a species' ODE is divided by its compartment volume when the species is a
concentration (``hasOnlySubstanceUnits="false"``), so ``k*S*V`` gives dS/dt = -k*S. Network values
stay in the units the SBML declares for each species (``ImportResult.species_units``): never
converted. Import time is linear in the size of the model.

A model outside the class is not an exception: ``ImportResult.in_class`` is False and every
reason is listed (``require_in_class`` raises :class:`~sbmleq.errors.OutOfClassError`).
Unreadable or invalid input (duplicate ids, undefined species, symbols or functions) raises
:class:`~sbmleq.errors.InputError`. See docs/sbml-import.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbmleq.errors import InputError, NetworkError, OutOfClassError
from sbmleq.io.sources import error_detail, ignorable_read_errors, read_document
from sbmleq.core.network import Network
from sbmleq.io.reasons import NotInClass, Reason
from sbmleq.io.reasons import ReasonCode as R
from sbmleq.io.sbml_math import (AVOGADRO, TIME, Lin, Opaque, _FastScope, _Scope,  # noqa: F401
                                 _Tables, num_mul, num_pow_int)  # AVOGADRO re-exported

if TYPE_CHECKING:
    import libsbml
    import pandas

SBMLEQ_NS = "https://sbmleq.invalid/ns/network/1"  # same as sbml_export.SBMLEQ_NS


@dataclass(frozen=True)
class ReactionReport:
    """What one reaction became: ``as_`` when mapped, else ``reason`` (prefixed by its id)."""

    reaction_id: str
    mapped: bool
    as_: str = ""
    reason: str | None = None
    law: str = ""
    code: str | None = None  # a ReasonCode value when not mapped
    species: tuple[str, ...] = ()  # the species the reason names (see Reason.species)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["as"] = data.pop("as_")
        data.pop("species")  # in ImportResult.reasons (Reason.species)
        return data


@dataclass
class ImportResult:
    """An imported model: the network (None when out of class), one report entry per reaction,
    every out-of-class reason, warnings, and each species' declared units (by node id)."""

    network: Network | None
    report: list[ReactionReport]
    in_class: bool
    species_units: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)  # str(reason) is the sentence
    source_name: str = ""
    model_id: str = ""
    node_species: dict[str, str] = field(default_factory=dict)  # node id -> SBML species id

    def to_frame(self) -> "pandas.DataFrame":
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.report],
                            columns=["reaction_id", "mapped", "as", "reason", "law"])

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source_name, "model_id": self.model_id, "in_class": self.in_class,
                "reasons": [str(r) for r in self.reasons],
                "reason_codes": [r.to_dict() for r in self.reasons],
                "warnings": list(self.warnings),
                "species_units": dict(self.species_units), "node_species": dict(self.node_species),
                "report": [r.to_dict() for r in self.report],
                "network": None if self.network is None else self.network.to_dict()}

    def require_in_class(self) -> Network:
        """The network, or :class:`OutOfClassError` with the first reasons."""
        if self.in_class and self.network is not None:
            return self.network
        shown = "; ".join(map(str, self.reasons[:3])) or "not a LIFE network"
        more = f" (and {len(self.reasons) - 3} more)" if len(self.reasons) > 3 else ""
        raise OutOfClassError(f"outside the LIFE class: {shown}{more}", source=self.source_name)


# ---------------------------------------------------------------------------- the model
Flux = tuple[str, str, str, float]  # (edge/intake/excretion, node, target node or "", value)


def _strip_prefix(reason: str, rid: str) -> str:
    prefix = f"{rid}: "
    return reason[len(prefix):] if rid and reason.startswith(prefix) else reason


def _fmt(x: float) -> str:
    return f"{x:.6g}"


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


def _screen(at_raw, movers: list[str]) -> list[str]:
    """Cheap numeric screen before differentiating: the movers in which the law is clearly not
    affine (all of them for a cross term); empty when it looks affine or is undecided.
    ``at_raw(values)`` is the law's value with the movers at ``values``."""

    def at(*values: float) -> float:
        out = at_raw(values)
        if not math.isfinite(out):
            raise ValueError(out)
        return out

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * (abs(a) + abs(b) + abs(zero)))

    n = len(movers)
    try:
        zero = at(*[0.0] * n)
        unit = [[0.7 * (i == j) for j in range(n)] for i in range(n)]
        singles = [at(*p) - zero for p in unit]
        bad = [m for m, p, s1 in zip(movers, unit, singles)
               if not close(at(*[2.9 * v for v in p]) - zero, 2.9 * s1)]
        if not bad and n > 1 and not close(at(*[0.7] * n) - zero, sum(singles)):
            bad = list(movers)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return []
    return bad


def _fast_value(value: Lin, sizes: dict[str, float]) -> float:
    """A coefficient (compartments only) as sympy gives it: ``c * V**e`` with the size
    substituted, one rounding per operation. Anything that sympy would round differently (a
    sum of terms, two compartments, a power other than -1, 1, 2) is :class:`Opaque`."""
    if not value.terms:
        return 0.0
    if len(value.terms) != 1:
        raise Opaque("a coefficient with several terms")
    ((mono, c),) = value.terms.items()
    if len(mono) > 1:
        raise Opaque("a coefficient with several compartments")
    out = c
    if mono:
        ((name, e),) = mono
        size = sizes[name]
        if e not in (-1, 1, 2) or not math.isfinite(size):
            raise Opaque("a compartment power sympy rounds differently")
        out = num_mul(c, num_pow_int(size, e))
    out = float(out)
    if not math.isfinite(out):
        raise Opaque("a coefficient that is not finite")
    return out


class _Importer:
    def __init__(self, doc: "libsbml.SBMLDocument", source_name: str) -> None:
        import libsbml

        self.lib, self.doc, self.source_name = libsbml, doc, source_name
        self.warnings = [f"ignored read error at line {e.getLine()}: {error_detail(e)}"
                         for e in ignorable_read_errors(doc)]
        self.reasons: list[Reason] = []
        _check_identifiers(doc, source_name)
        # Function calls and initial assignments are expanded by the walkers, not by libsbml's
        # converters: the initial-assignment converter segfaults on some curated models
        # (BIOMD0000000429) and the function-definition one takes seconds on large ones.
        self.model = doc.getModel()
        self.tables = _Tables(self.model, source_name)
        self.reactions = list(self.model.getListOfReactions())
        self.formulas = [self._formula(r) for r in self.reactions]
        self.refs: list[list[tuple[str, "libsbml.SpeciesReference", float]]] = []
        self.tables.state = self._state_species()
        self._check_references()
        self.fast = _FastScope(self.tables)
        self._slow: _Scope | None = None  # the sympy walker, built on first use
        self._comp_values: dict[Any, Any] | None = None
        self._state_syms: set[Any] | None = None
        self.node_of = self._node_ids()
        self.comp_size = self._compartment_values()
        self.fast_factor = {s: self._factor(s) for s in sorted(self.tables.state)}
        self._slow_factors: dict[str, Any] = {}

    @property
    def slow(self) -> _Scope:
        """The sympy walker (imports sympy): only for math the fast walker cannot represent."""
        if self._slow is None:
            self._slow = _Scope(self.tables)
        return self._slow

    def _state_symbols(self) -> set[Any]:
        """The sympy symbols of the state species (built once, not per reaction)."""
        if self._state_syms is None:
            self._state_syms = {self.slow.symbols[s] for s in self.tables.state}
        return self._state_syms

    @property
    def comp_values(self) -> dict[Any, Any]:
        """Compartment sizes for the sympy walker (symbol -> Float)."""
        if self._comp_values is None:
            slow = self.slow
            self._comp_values = {slow.symbols[c]: slow.sp.Float(v)
                                 for c, v in self.comp_size.items()}
        return self._comp_values

    def _formula(self, rxn: "libsbml.Reaction") -> str:
        kl = rxn.getKineticLaw()
        if kl is None or not kl.isSetMath():
            return ""
        text = self.lib.formulaToL3String(kl.getMath()) or ""
        return text if len(text) <= 160 else text[:157] + "..."

    # -------------------------------------------------------------- model-level checks
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
    def _stoichiometry(self, ref: "libsbml.SpeciesReference", rid: str) -> float:
        if self.model.getLevel() < 3 and ref.isSetStoichiometryMath():
            math_ = ref.getStoichiometryMath().getMath()
            try:
                self.fast.owner = rid
                value = self.fast.expr(math_, {}, None, (), rid)
                number = value.value() if value.is_number() else None
            except Opaque:
                self.slow.owner = rid
                value = self.slow.expr(math_, {}, None, (), rid)
                number = value if value.is_number else None
            if number is None:
                raise NotInClass(R.VARIABLE_STOICHIOMETRY,
                                 f"the stoichiometry of {ref.getSpecies()} changes in time")
            return float(number)
        if ref.isSetId() and (ref.getId() in self.tables.changing
                              or ref.getId() in self.tables.assigned):
            raise NotInClass(R.VARIABLE_STOICHIOMETRY,
                                 f"the stoichiometry of {ref.getSpecies()} changes in time")
        if not ref.isSetStoichiometry():
            self.warnings.append(f"{rid}: stoichiometry of {ref.getSpecies()} not set: 1 assumed")
            return 1.0
        return ref.getStoichiometry()

    def reaction(self, index: int) -> tuple[ReactionReport, list[Flux]]:
        rxn = self.reactions[index]
        rid = rxn.getId()
        law_text = self.formulas[index]
        try:
            text, fluxes = self._reaction(index, rxn, rid, law_text)
        except NotInClass as exc:
            self._check_law(rxn, rid)
            return ReactionReport(rid, False, "", f"{rid}: {exc.message}", law_text,
                                  exc.code.value, exc.species), []
        except InputError:
            raise
        except Exception as exc:  # sympy can fail on exotic math: report, never crash
            self._check_law(rxn, rid)
            detail = " ".join(str(exc).split())[:80]
            reason = (f"{rid}: kinetic law {law_text} could not be analysed with the model's values "
                      f"({type(exc).__name__}{': ' + detail if detail else ''})")
            return ReactionReport(rid, False, "", reason, law_text, R.UNSUPPORTED_MATH.value), []
        return ReactionReport(rid, True, text, None, law_text), fluxes

    def _check_law(self, rxn: "libsbml.Reaction", rid: str) -> None:
        """A reaction found out of class may not have had its whole law walked: check that the
        law is valid SBML (no undefined symbol or function) before reporting it."""
        kl = rxn.getKineticLaw()
        if kl is None or not kl.isSetMath():
            return
        plist = (kl.getListOfLocalParameters() if self.model.getLevel() >= 3
                 else kl.getListOfParameters())
        self._check_names(kl.getMath(), {p.getId() for p in plist}, f"the kinetic law of {rid}", rid)

    def _reaction(self, index: int, rxn: "libsbml.Reaction", rid: str,
                  law_text: str) -> tuple[str, list[Flux]]:
        state = self.tables.state
        net: dict[str, float] = {}
        boundary: list[str] = []
        for sid, ref, sign in self.refs[index]:
            stoich = self._stoichiometry(ref, rid)
            if sid in state:
                net[sid] = net.get(sid, 0.0) + sign * stoich
            else:
                boundary.append(sid)
        moved = {s: v for s, v in net.items() if v != 0}
        for sid, v in moved.items():
            if abs(v) != 1:
                raise NotInClass(R.STOICHIOMETRY_NOT_ONE, f"stoichiometry of {sid} is {abs(v):g}, not 1: a LIFE flux moves one "
                               "molecule of one species into one other species")
        reactants = [s for s, v in moved.items() if v < 0]
        products = [s for s, v in moved.items() if v > 0]
        for group, what in ((reactants, "reactants"), (products, "products")):
            if len(group) > 1:
                raise NotInClass(R.MULTI_REACTANT if what == "reactants" else R.MULTI_PRODUCT,
                                 f"has {len(group)} {what} ({', '.join(group)}): a LIFE flux "
                               "leaves one species and enters at most one other")
        kl = rxn.getKineticLaw()
        if kl is None or not kl.isSetMath():
            raise NotInClass(R.NO_KINETIC_LAW, "has no kinetic law")
        plist = (kl.getListOfLocalParameters() if self.model.getLevel() >= 3
                 else kl.getListOfParameters())
        local = {p.getId(): (p.getValue() if p.isSetValue() else None) for p in plist}
        via = f" from boundary species {', '.join(boundary)}" if boundary else ""
        args = (kl.getMath(), local, rid, law_text, moved, reactants, products, via)
        try:
            return self._decide_fast(*args)
        except Opaque:
            return self._decide_sympy(*args)

    def _modifiers(self, free: set[str], moved: dict[str, float], law_text: str) -> None:
        state = self.tables.state
        others = sorted(x for x in free if x in state and x not in moved)
        if others:
            names = ", ".join(others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
            raise NotInClass(R.MODIFIER, f"kinetic law {law_text} depends on {names}, which the "
                           "reaction does not convert (a modifier, enzyme or catalyst; declare it "
                           "constant or boundary if it is held fixed)", tuple(others))

    def _decide_fast(self, math_: Any, local: dict[str, float | None], rid: str, law_text: str,
                     moved: dict[str, float], reactants: list[str], products: list[str],
                     via: str) -> tuple[str, list[Flux]]:
        """The reaction decided on its exact polynomial form (no sympy); :class:`Opaque` when
        the law is not one (a rational function, piecewise, ...)."""
        scope = self.fast
        scope.used, scope.owner = {}, rid
        law = scope.expr(math_, local, None, (), f"the kinetic law of {rid}")
        free = law.free()
        if TIME in free:
            raise NotInClass(R.TIME_DEPENDENCE, f"kinetic law {law_text} depends on time")
        self._modifiers(free, moved, law_text)
        if not moved:
            return "no effect on the network (only constant or boundary species take part)", []
        movers = reactants + products
        sizes = self.comp_size
        env = {name: sizes[name] for name in free if name in sizes}
        offenders = _screen(lambda values: law.evaluate({**env, **dict(zip(movers, values))}),
                            movers)
        if offenders:
            raise NotInClass(R.NOT_FIRST_ORDER,
                             f"kinetic law {law_text} is not first-order in {', '.join(offenders)}",
                             tuple(offenders))
        state = self.tables.state
        coef = {}
        for sid in movers:
            d = law.diff(sid)
            if d.free() & state:
                raise NotInClass(R.NOT_FIRST_ORDER,
                                 f"kinetic law {law_text} is not first-order in {sid}", (sid,))
            coef[sid] = d
        const = law.at_zero(set(movers))

        def rate(term: Lin, species: str) -> float:  # contribution to d(species)/dt
            factor = self.fast_factor[species]
            if factor is None:
                raise Opaque("a conversion factor")
            value = term.mul(Lin.number(moved[species])).div(factor)
            return _fast_value(value, sizes)

        return self._classify(rid, law_text, reactants, products, coef, const, rate, via,
                              scope.used)

    def _decide_sympy(self, math_: Any, local: dict[str, float | None], rid: str, law_text: str,
                      moved: dict[str, float], reactants: list[str], products: list[str],
                      via: str) -> tuple[str, list[Flux]]:
        """The reaction decided with sympy (what the fast walker cannot represent)."""
        scope = self.slow
        sp = scope.sp
        scope.used, scope.owner = {}, rid
        law = scope.expr(math_, local, None, (), f"the kinetic law of {rid}")
        free = law.free_symbols
        if scope.time in free:
            raise NotInClass(R.TIME_DEPENDENCE, f"kinetic law {law_text} depends on time")
        self._modifiers({scope.names[x] for x in free if x in scope.names}, moved, law_text)
        if not moved:
            return "no effect on the network (only constant or boundary species take part)", []
        movers = reactants + products
        syms = [scope.symbols[m] for m in movers]
        base = law.xreplace(self.comp_values)
        offenders = _screen(lambda values: float(base.xreplace(
            {x: sp.Float(v) for x, v in zip(syms, values)})), movers)
        if offenders:
            raise NotInClass(R.NOT_FIRST_ORDER,
                             f"kinetic law {law_text} is not first-order in {', '.join(offenders)}",
                             tuple(offenders))
        state_syms = self._state_symbols()
        coef = {}
        for sid in movers:
            d = sp.diff(law, scope.symbols[sid])
            if d.free_symbols & state_syms and sp.count_ops(d) < 400:
                d = sp.cancel(sp.together(d))
            if d.free_symbols & state_syms:
                raise NotInClass(R.NOT_FIRST_ORDER,
                                 f"kinetic law {law_text} is not first-order in {sid}", (sid,))
            coef[sid] = d
        const = law.xreplace({scope.symbols[s]: sp.Integer(0) for s in movers})

        def rate(term: Any, species: str) -> float:  # contribution to d(species)/dt
            value = term * moved[species] / self._slow_factor(species)
            value = value.xreplace(self.comp_values)
            try:
                out = float(value)
            except TypeError:
                raise NotInClass(R.UNSUPPORTED_MATH,
                                 f"kinetic law {law_text} does not evaluate to a number") from None
            if not math.isfinite(out):
                raise NotInClass(R.UNSUPPORTED_MATH, f"kinetic law {law_text} evaluates to {out}")
            return out

        return self._classify(rid, law_text, reactants, products, coef, const, rate, via,
                              scope.used)

    def _classify(self, rid: str, law_text: str, reactants: list[str], products: list[str],
                  coef: dict[str, Any], const: Any, rate, via: str,
                  used: dict[str, float]) -> tuple[str, list[Flux]]:
        """Edges, intake and excretion from the law's coefficients (``rate`` evaluates one)."""
        node = self.node_of
        fluxes: list[Flux] = []
        parts: list[str] = []
        if reactants and products:
            r, p = reactants[0], products[0]
            if rate(const, p) != 0:
                raise NotInClass(R.ZERO_ORDER_TRANSFER, f"kinetic law {law_text} has a term that does not depend on {r} "
                               "or on the product (a zero-order flux between two species)")
            for a, b in ((r, p), (p, r)):
                out, inflow = -rate(coef[a], a), rate(coef[a], b)
                if not math.isclose(out, inflow, rel_tol=1e-12, abs_tol=0.0):
                    raise NotInClass(R.VOLUME_MISMATCH, self._volume_reason(a, b))
                if out < 0:
                    self._negative(rid, law_text, f"gives a negative rate constant for {a}->{b}", used)
                if out > 0:
                    fluxes.append(("edge", node[a], node[b], out))
            if len(fluxes) == 2:
                return (f"reversible: edges {node[r]}->{node[p]} (k={_fmt(fluxes[0][3])}) and "
                        f"{node[p]}->{node[r]} (k={_fmt(fluxes[1][3])})"), fluxes
            if not fluxes:
                return "zero flux (no effect)", []
            return f"edge {fluxes[0][1]}->{fluxes[0][2]} k={_fmt(fluxes[0][3])}", fluxes
        x = (reactants + products)[0]
        intake, excretion = rate(const, x), -rate(coef[x], x)
        if intake < 0:
            self._negative(rid, law_text, f"drains {x} at a constant rate (a zero-order outflow; "
                           "LIFE outflows are first-order)", used)
        if excretion < 0:
            self._negative(rid, law_text, f"makes {x} grow in proportion to itself (autocatalytic "
                           "growth; LIFE has only first-order losses)", used)
        if intake > 0:
            fluxes.append(("intake", node[x], "", intake))
            parts.append(f"intake into {node[x]} ({_fmt(intake)}){via}")
        if excretion > 0:
            fluxes.append(("excretion", node[x], "", excretion))
            parts.append(f"excretion of {node[x]} (rate {_fmt(excretion)})")
        return ("; ".join(parts) or "zero flux (no effect)"), fluxes

    def _negative(self, rid: str, law_text: str, what: str, used: dict[str, float]) -> None:
        negative = [(k, v) for k, v in used.items() if v < 0]
        if negative:
            name, value = negative[0]
            raise InputError(f"parameter value must be >= 0, got {value!r} (the kinetic law of "
                             f"{rid} {what})", source=self.source_name, element=name)
        raise NotInClass(R.NEGATIVE_RATE, f"kinetic law {law_text} {what}")

    def _volume_reason(self, a: str, b: str) -> str:
        sa, sb = self.tables.species[a], self.tables.species[b]
        return (f"moves {a} (in {sa.getCompartment()}) to {b} (in {sb.getCompartment()}) but the "
                f"outflow of {a} and the inflow to {b} differ per unit of {a} (compartment volumes "
                "or amount/concentration units differ): not a LIFE edge in the declared units")

    # -------------------------------------------------------------- the result
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

    def run(self) -> ImportResult:
        report: list[ReactionReport] = []
        fluxes: list[tuple[int, Flux]] = []
        for index in range(len(self.reactions)):
            entry, found = self.reaction(index)
            fluxes.extend((len(report), f) for f in found)
            report.append(entry)
        reasons = self.reasons + [
            Reason(R(r.code or R.UNSUPPORTED_MATH.value), _strip_prefix(r.reason, r.reaction_id),
                   r.reaction_id, r.reaction_id, r.species)
            for r in report if not r.mapped and r.reason]
        nodes = list(self.node_of.values())
        if not nodes and not reasons:
            reasons.append(Reason(R.NO_FLOATING_SPECIES, "the model has no floating species (all are "
                                  "boundary, constant or set by rules): nothing to map"))
        totals: dict[tuple[str, str, str], float] = {}
        sources: dict[tuple[str, str, str], list[int]] = {}
        for k, (kind, a, b, value) in fluxes:
            key = (kind, a, b)
            totals[key] = totals.get(key, 0.0) + value
            sources.setdefault(key, []).append(k)
        for key, rows in sources.items():
            if len(rows) > 1:
                ids = [report[k].reaction_id for k in rows]
                what = f"edge {key[1]}->{key[2]}" if key[0] == "edge" else f"{key[0]} of {key[1]}"
                self.warnings.append(f"parallel reactions {', '.join(ids)} summed into {what} "
                                     f"({_fmt(totals[key])})")
                for k in rows:
                    others = ", ".join(i for i in ids if i != report[k].reaction_id)
                    report[k] = ReactionReport(report[k].reaction_id, True,
                                               f"{report[k].as_} ({what} summed with parallel "
                                               f"{others}: {_fmt(totals[key])})",
                                               None, report[k].law)
        network = None
        if not reasons:
            network = self._network(nodes, totals)
        return ImportResult(network, report, not reasons, self.species_units(), self.warnings,
                            reasons, self.source_name, self.model.getId(),
                            {n: s for s, n in self.node_of.items()})

    def _network(self, nodes: list[str], totals: dict[tuple[str, str, str], float]) -> Network:
        import numpy as np

        index = {n: i for i, n in enumerate(nodes)}
        edges = [(index[a], index[b], w) for (kind, a, b), w in totals.items() if kind == "edge"]
        phi, ex = np.zeros(len(nodes)), np.zeros(len(nodes))
        for (kind, a, _), value in totals.items():
            if kind == "intake":
                phi[index[a]] = value
            elif kind == "excretion":
                ex[index[a]] = value
        name = self.model.getName() or self.model.getId() or Path(self.source_name).stem
        try:
            return Network(tuple(nodes), np.array([e[0] for e in edges], dtype=np.int64),
                           np.array([e[1] for e in edges], dtype=np.int64),
                           np.array([e[2] for e in edges], dtype=np.float64), phi, ex, name=name)
        except NetworkError as exc:
            raise NetworkError(exc.message, source=self.source_name, element=exc.element) from None


def import_sbml(source: Any, *, source_name: str) -> ImportResult:
    """Import SBML (an ``SBMLDocument``, SBML text, or a path) as a LIFE network with a report.

    Raises :class:`InputError` for a missing file, malformed XML, XML that is not SBML, SBML with
    read errors, invalid SBML (duplicate ids; a species, symbol or function that is not defined),
    a model without species, and parameters that are NaN/infinite or negative where they set a
    rate. A model outside the class is returned with ``in_class=False``.
    """
    doc = read_document(source, source_name)
    model = doc.getModel()
    if model.getNumSpecies() == 0:
        raise InputError("the model has no species", source=source_name,
                         element=f"model {model.getId()}" if model.getId() else "model")
    return _Importer(doc, source_name).run()


def result_from_network(net: Network, source_name: str | None = None) -> ImportResult:
    """An in-class :class:`ImportResult` that describes a network directly (no SBML involved)."""
    name = source_name or net.name or "network"
    report = [ReactionReport(f"intake_{net.nodes[k]}", True,
                             f"intake into {net.nodes[k]} ({_fmt(float(net.intake[k]))})")
              for k in net.intake_nodes]
    report += [ReactionReport(f"edge_{net.nodes[s]}_{net.nodes[t]}", True,
                              f"edge {net.nodes[s]}->{net.nodes[t]} k={_fmt(float(w))}")
               for s, t, w in zip(net.src, net.dst, net.weight)]
    report += [ReactionReport(f"excretion_{net.nodes[k]}", True,
                              f"excretion of {net.nodes[k]} (rate {_fmt(float(net.excretion[k]))})")
               for k in net.excreting_nodes]
    units = {n: "concentration (network units)" for n in net.nodes}
    return ImportResult(net, report, True, units, [], [], name, net.name, {n: n for n in net.nodes})
