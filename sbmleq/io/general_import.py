"""Read SBML into a general :class:`~sbmleq.core.reactions.ReactionNetwork`, whatever its kinetics.

Every model without events, delays, algebraic rules or explicit time dependence imports, with its
rate laws as :mod:`sbmleq.core.expr` trees (:mod:`sbmleq.io.general_math`): function definitions
expanded, assignment rules substituted recursively (on parameters, species and, when they are
constant, compartments), reaction ids used as symbols replaced by their laws, local parameters
renamed ``reaction_id.parameter_id``. Parameters and compartment sizes stay symbols (their values
in ``parameters`` / ``compartments``), so scans can vary them. Initial values follow SBML as
roadrunner 2.10 reads it (:mod:`sbmleq.io.general_values`): initial assignments in dependency order,
assignment rules at t = 0, amounts and concentrations converted by ``hasOnlySubstanceUnits``,
unset compartment sizes 1, unset species 0.

Rate rules on parameters and species become state (:class:`~sbmleq.core.reactions.RateRule`);
``rateOf(x)`` becomes the expression of dx/dt; constant conversion factors scale stoichiometries.
What a reaction network cannot express is a :class:`~sbmleq.io.reasons.Reason`, never an
exception: events, algebraic rules, delays, time, compartments whose size changes,
stoichiometries that change, conversion factors that are not constants, reactions without a
kinetic law, fast reactions (roadrunner 2.10 refuses them), values a network cannot hold
(NaN, infinite), models without state. A species with a negative initial value (a membrane
potential) is imported as *signed* (``Species.signed``): the solver lets it be negative.
Invalid SBML (an undefined symbol, species or function, a circular definition) raises :class:`~sbmleq.errors.InputError` naming the file and element.
Import time is linear in the size of the model. See docs/import-coverage.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbmleq.core.expr import Expr, substitute, symbols
from sbmleq.core.families import classify
from sbmleq.core.reactions import RateRule, Reaction, ReactionNetwork, Species
from sbmleq.errors import InputError, NetworkError, OutOfClassError
from sbmleq.io.general_math import RATE, TIME, RateOfResolver
from sbmleq.io.general_values import InitialValues, ModelTables
from sbmleq.io.import_checks import _check_identifiers
from sbmleq.io.reasons import NotInClass, Reason
from sbmleq.io.reasons import ReasonCode as R
from sbmleq.io.sources import (
    _is_sbml_document,
    error_detail,
    ignorable_read_errors,
    load_sbml_text,
    parse_sbml_text,
)

if TYPE_CHECKING:
    import libsbml

__all__ = ["GeneralImport", "import_reaction_network", "import_reaction_network_from"]


@dataclass
class GeneralImport:
    """The result of one import: the network (None when a reason says it cannot be one)."""

    network: ReactionNetwork | None
    reasons: list[Reason] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    families: dict[str, str] = field(default_factory=dict)  # reaction id -> family
    source_name: str = ""
    model_id: str = ""

    @property
    def importable(self) -> bool:
        return self.network is not None

    def require(self) -> ReactionNetwork:
        """The network, or :class:`OutOfClassError` with every reason."""
        if self.network is None:
            text = "; ".join(f"[{r.code.value}] {r}" for r in self.reasons[:5])
            more = f" (and {len(self.reasons) - 5} more)" if len(self.reasons) > 5 else ""
            raise OutOfClassError(f"not a reaction network: {text}{more}",
                                  source=self.source_name, element=self.reasons[0].element)
        return self.network

    def to_dict(self) -> dict[str, Any]:
        net = self.network
        out: dict[str, Any] = {
            "source": self.source_name, "model_id": self.model_id,
            "importable": net is not None,
            "reasons": [r.to_dict() for r in self.reasons], "warnings": list(self.warnings),
            "families": dict(self.families),
        }
        if net is not None:
            out.update({"n_species": len(net.species), "n_reactions": len(net.reactions),
                        "n_state": net.n_state, "state_ids": list(net.state_ids),
                        "n_parameters": len(net.parameter_ids),
                        "n_rate_rules": len(net.rate_rules)})
        return out


_ROUNDING = 1e-12  # negative initial values above -_ROUNDING are rounding errors: 0


def _reason(code: R, message: str, element: str | None = None,
            reaction: str | None = None) -> Reason:
    return Reason(code, message, element, reaction)


class _Importer:
    def __init__(self, doc: "libsbml.SBMLDocument", source_name: str,
                 fast_as_ordinary: bool) -> None:
        self.source_name, self.fast_as_ordinary = source_name, fast_as_ordinary
        self.fast: list[str] = []  # fast reactions (a reason unless fast_as_ordinary)
        self.warnings = [f"ignored read error at line {e.getLine()}: {error_detail(e)}"
                         for e in ignorable_read_errors(doc)]
        validators = doc.getApplicableValidators()
        try:
            _check_identifiers(doc, source_name)
        finally:  # the caller's document keeps its own consistency-check settings
            doc.setApplicableValidators(validators)
        self.model = m = doc.getModel()
        self.t = ModelTables(m, source_name)
        self.reasons: list[Reason] = []
        self.values = InitialValues(self.t)
        self.resolved: dict[str, Expr | NotInClass] = {}
        self._visiting: list[str] = []

    # -------------------------------------------------------------- substitution
    def definition(self, name: str) -> Expr:
        """The expanded expression a substitutable name stands for (an assignment-ruled
        parameter or species, a reaction id, a species reference id)."""
        if name not in self.resolved:
            if name in self._visiting:
                cycle = " -> ".join(self._visiting[self._visiting.index(name):] + [name])
                raise InputError(f"invalid SBML: circular assignment rules ({cycle})",
                                 source=self.source_name, element=name)
            raw = self.t.definitions[name]
            self._visiting.append(name)
            try:
                self.resolved[name] = raw if isinstance(raw, NotInClass) else self.expand(raw)
            except NotInClass as exc:
                self.resolved[name] = exc
            finally:
                self._visiting.pop()
        value = self.resolved[name]
        if isinstance(value, NotInClass):
            raise value
        return value

    def expand(self, e: Expr) -> Expr:
        defs = self.t.definitions
        names = [n for n in symbols(e) if n in defs]
        return substitute(e, {n: self.definition(n) for n in names}) if names else e

    def final(self, raw: Expr | NotInClass, element: str) -> Expr:
        """A law or rate rule ready for the network; NotInClass for time, delay, ..."""
        if isinstance(raw, NotInClass):
            raise raw
        e = self.expand(raw)
        bad = symbols(e) & self.t.variable_compartments
        if TIME in symbols(e):
            raise NotInClass(R.TIME_DEPENDENCE, f"{element} depends on time")
        if bad:
            raise NotInClass(R.VARIABLE_COMPARTMENT, f"{element} reads the size of compartment "
                             f"{sorted(bad)[0]}, which changes in time")
        return e

    # -------------------------------------------------------------- the model
    def model_reasons(self) -> None:
        m, t = self.model, self.t
        if m.getNumEvents():
            ids = ", ".join(e.getId() or "(unnamed)" for e in m.getListOfEvents())
            self.reasons.append(_reason(R.EVENTS, f"the model has {m.getNumEvents()} event(s) "
                                        f"({ids[:120]})", "model"))
        n_alg = sum(1 for r in m.getListOfRules() if r.isAlgebraic())
        if n_alg:
            self.reasons.append(_reason(R.ALGEBRAIC_RULE, f"the model has {n_alg} algebraic "
                                        "rule(s)", "model"))
        for cid in sorted(t.rate_ruled & set(t.compartments)):
            self.reasons.append(_reason(R.VARIABLE_COMPARTMENT, f"compartment {cid} has a rate "
                                        "rule", cid))
        for cid in sorted(set(t.assignment) & set(t.compartments)):
            try:
                e = self.expand(t.assignment[cid]) if not isinstance(
                    t.assignment[cid], NotInClass) else None
            except NotInClass:
                e = None
            if e is None or symbols(e) & (t.state_symbols | {TIME}):
                t.variable_compartments.add(cid)
        holders = {s.getCompartment() for s in t.species.values()}
        for cid in sorted(t.variable_compartments - t.rate_ruled):
            if cid in holders:
                self.reasons.append(_reason(R.VARIABLE_COMPARTMENT, f"the size of compartment "
                                            f"{cid} changes in time (an assignment rule)", cid))

    def stoichiometry(self, ref: "libsbml.SpeciesReference", rid: str,
                      key: tuple[str, int, int]) -> float:
        t = self.t
        sid = ref.getSpecies()
        if ref.isSetId() and ref.getId() in t.references:
            if ref.getId() in t.rate_ruled or ref.getId() in t.assignment:
                raise NotInClass(R.VARIABLE_STOICHIOMETRY, f"the stoichiometry {ref.getId()} of "
                                 f"{sid} is set by a rule")
            return self.values[ref.getId()]  # its value, initial assignment included
        if t.level < 3 and ref.isSetStoichiometryMath():
            e = self.final(t.stoichiometry_math[key], f"the stoichiometry of {sid} in {rid}")
            if symbols(e) & t.state_symbols:
                raise NotInClass(R.VARIABLE_STOICHIOMETRY, f"the stoichiometry of {sid} changes "
                                 "in time (stoichiometryMath)")
            return self.values.evaluate(e)
        if not ref.isSetStoichiometry() and t.level >= 3:
            self.warnings.append(f"{rid}: stoichiometry of {sid} not set: 1 assumed")
            return 1.0
        return float(ref.getStoichiometry())

    def conversion(self, sid: str) -> float:
        """The conversion factor of a species (1 when none)."""
        t = self.t
        s = t.species[sid]
        cf = s.getConversionFactor() if s.isSetConversionFactor() else (
            self.model.getConversionFactor() if t.level >= 3 and self.model.isSetConversionFactor()
            else "")
        if not cf:
            return 1.0
        if cf in t.rate_ruled or cf in t.assignment or cf not in t.parameters:
            raise NotInClass(R.CONVERSION_FACTOR, f"the conversion factor {cf} of species {sid} "
                             "is not a constant parameter")
        value = self.values[cf]
        if not (math.isfinite(value) and value > 0):
            raise NotInClass(R.CONVERSION_FACTOR, f"the conversion factor {cf} of species {sid} "
                             f"is {value!r}, not a positive number")
        return value

    def reaction(self, index: int, rxn: "libsbml.Reaction") -> Reaction:
        t = self.t
        rid = rxn.getId()
        if rxn.isSetFast() and rxn.getFast():
            if not self.fast_as_ordinary:
                self.fast.append(rid)
            else:
                self.warnings.append(f"{rid}: fast reaction treated as an ordinary one (the "
                                     "same steady states)")
        raw = t.laws[index]
        if raw is None:
            raise NotInClass(R.NO_KINETIC_LAW, f"reaction {rid} has no kinetic law")
        sides: dict[int, list[tuple[str, float]]] = {-1: [], 1: []}
        for group, sign in ((rxn.getListOfReactants(), -1), (rxn.getListOfProducts(), 1)):
            for k, ref in enumerate(group):
                sid = ref.getSpecies()
                st = self.stoichiometry(ref, rid, (rid, sign, k))
                if not math.isfinite(st):
                    raise NotInClass(R.INVALID_VALUE, f"the stoichiometry of {sid} is {st!r}")
                if sid in t.state_species:
                    st *= self.conversion(sid)
                if st == 0:
                    continue
                sides[sign if st > 0 else -sign].append((sid, abs(st)))
        rate = self.final(raw, f"the kinetic law of {rid}")
        modifiers = tuple(dict.fromkeys(r.getSpecies() for r in rxn.getListOfModifiers()))
        return Reaction(rid, tuple(sides[-1]), tuple(sides[1]), rate, modifiers,
                        bool(rxn.getReversible()), name=rxn.getName())

    def run(self) -> GeneralImport:
        t = self.t
        self.model_reasons()
        reactions: list[Reaction] = []
        for index, rxn in enumerate(t.reactions):
            try:
                reactions.append(self.reaction(index, rxn))
            except NotInClass as exc:
                self.reasons.append(Reason(exc.code, exc.message, rxn.getId(), rxn.getId(),
                                           exc.species))
        rules: list[RateRule] = []
        for var in t.rate_rule_order:
            if var in t.compartments or var in t.references:
                continue
            try:
                rules.append(RateRule(var, self.final(t.rate_raw[var], f"the rate rule of {var}")))
            except NotInClass as exc:
                self.reasons.append(Reason(exc.code, exc.message, var, None, exc.species))
        if self.fast:
            self.reasons.append(_reason(
                R.FAST_REACTION, f"{len(self.fast)} fast reaction(s) ({', '.join(self.fast[:5])}"
                f"{', ...' if len(self.fast) > 5 else ''}): roadrunner 2.10 refuses them "
                "(fast_as_ordinary=True imports them as ordinary ones: the same steady states)",
                self.fast[0], self.fast[0]))
        reactions, rules = self.rates_of(reactions, rules)
        if not t.state_species and not rules and not any(
                r.code in (R.EVENTS, R.ALGEBRAIC_RULE) for r in self.reasons):
            self.reasons.append(_reason(R.NO_FLOATING_SPECIES, "the model has no state: no "
                                        "floating species and no rate rule", "model"))
        network = None
        families: dict[str, str] = {}
        if not self.reasons:
            network, families = self.network(reactions, rules)
        return GeneralImport(network, self.reasons, self.warnings + t.warnings, families,
                             self.source_name, self.model.getId())

    def rates_of(self, reactions: list[Reaction],
                 rules: list[RateRule]) -> tuple[list[Reaction], list[RateRule]]:
        """Replace ``rateOf(x)`` in the laws and rate rules by the expression of dx/dt."""
        t = self.t
        exprs = [r.rate for r in reactions] + [r.rate for r in rules]
        if not any(n.startswith(RATE) for e in exprs for n in symbols(e)):
            return reactions, rules
        movers: dict[str, list[tuple[str, float]]] = {s: [] for s in t.state_species}
        for r in reactions:
            for sid, st, sign in [(s, v, -1.0) for s, v in r.reactants] + [
                    (s, v, 1.0) for s, v in r.products]:
                if sid in movers:
                    movers[sid].append((r.id, sign * st))
        volume = {sid: None if t.species[sid].getHasOnlySubstanceUnits()
                  else t.species[sid].getCompartment() for sid in t.species}
        assigned: dict[str, Expr] = {}
        for var in t.definitions:
            if var in t.assignment:
                try:
                    assigned[var] = self.definition(var)
                except NotInClass:
                    pass
        failed = {x.reaction for x in self.reasons if x.reaction} | {
            x.element for x in self.reasons}
        unknown = frozenset(set(t.reaction_ids) | set(t.references) | t.variable_compartments
                            | (failed & (set(t.rate_raw) | set(t.assignment))))
        resolver = RateOfResolver({r.id: r.rate for r in reactions}, movers, volume,
                                  {r.variable: r.rate for r in rules}, assigned, unknown)
        self.values.rate_at_zero = lambda x: self.values.evaluate(resolver.rate_of(x))
        out_r, out_rules = [], []
        for r in reactions:
            try:
                out_r.append(replace(r, rate=resolver.law(r.id)))
            except NotInClass as exc:
                self.reasons.append(Reason(exc.code, exc.message, r.id, r.id))
        for rule in rules:
            try:
                out_rules.append(replace(rule, rate=resolver.resolve(rule.rate)))
            except NotInClass as exc:
                self.reasons.append(Reason(exc.code, exc.message, rule.variable))
        return out_r, out_rules

    def network(self, reactions: list[Reaction],
                rules: list[RateRule]) -> tuple[ReactionNetwork | None, dict[str, str]]:
        t, values = self.t, self.values
        used: set[str] = set()
        for e in [r.rate for r in reactions] + [r.rate for r in rules]:
            used |= symbols(e)
        params: dict[str, float] = {}
        ruled = {r.variable for r in rules}
        for pid in t.parameters:
            if pid in t.assignment and pid not in ruled:
                continue
            params[pid] = values[pid]
        for pid in t.local_ids:
            params[pid] = values[pid]
        comps = {cid: values[cid] for cid in t.compartments}
        species = []
        for sid, s in t.species.items():
            x0 = values[sid]
            if -_ROUNDING < x0 < 0:  # an initial assignment's rounding error (total - parts)
                self.warnings.append(f"species {sid}: initial value {x0!r} set to 0")
                x0 = 0.0
            # a negative initial value (a membrane potential held as a species): the species
            # is signed, allowed negative by the solver (roadrunner has no sign constraint)
            species.append(Species(sid, s.getCompartment(), x0,
                                   bool(s.getHasOnlySubstanceUnits()),
                                   bool(s.getBoundaryCondition()) or sid in t.assignment,
                                   bool(s.getConstant()), s.getName(), signed=x0 < 0))
        holders = {s.compartment for s in species} | used
        for what, table in (("parameter", params), ("compartment", comps)):
            for key, value in list(table.items()):
                ok = math.isfinite(value) and (value > 0 if what == "compartment" else True)
                if ok:
                    continue
                if key in holders or key in ruled:
                    self.reasons.append(_reason(
                        R.MISSING_VALUE if math.isnan(value) and what == "parameter"
                        else R.INVALID_VALUE, f"{what} {key} has the value {value!r}", key))
                else:
                    del table[key]
                    self.warnings.append(f"unused {what} {key} ({value!r}) left out")
        for s in species:
            if not math.isfinite(s.initial):
                self.reasons.append(_reason(R.INVALID_VALUE, f"species {s.id} has the initial "
                                            f"value {s.initial!r}", s.id))
        if self.reasons:
            return None, {}
        names = frozenset(t.species)
        classified = [Reaction(r.id, r.reactants, r.products, r.rate, r.modifiers, r.reversible,
                               classify(r, names), r.name) for r in reactions]
        name = self.model.getName() or self.model.getId() or Path(self.source_name).stem
        known = set(t.species) | set(params) | set(comps)
        assigned: dict[str, Expr] = {}
        for sid in t.species:
            if sid in t.assignment:
                try:
                    e = self.definition(sid)
                except (NotInClass, InputError):
                    continue
                if symbols(e) <= known:
                    assigned[sid] = e
        try:
            net = ReactionNetwork(tuple(species), tuple(classified), params, comps, tuple(rules),
                                  name, assigned)
        except NetworkError as exc:
            raise NetworkError(exc.message, source=self.source_name,
                               element=exc.element) from None
        return net, {r.id: r.family for r in classified}


def import_reaction_network(doc: "libsbml.SBMLDocument", source_name: str, *,
                            fast_as_ordinary: bool = False) -> GeneralImport:
    """Import a parsed SBML document (read and checked by :func:`sbmleq.io.sources.read_document`
    or :func:`~sbmleq.io.sources.parse_sbml_text`) as a reaction network, with the reasons it
    cannot be one. The document is not modified (libsbml's identifier checks add to its error
    log, nothing else). Fast reactions are a reason (``FAST_REACTION``: roadrunner 2.10 refuses
    them) unless ``fast_as_ordinary``."""
    if doc.getModel() is None:
        raise InputError("the SBML document has no model", source=source_name, element="model")
    return _Importer(doc, source_name, fast_as_ordinary).run()


def import_reaction_network_from(source: Any, *, source_name: str | None = None,
                                 fast_as_ordinary: bool = False) -> GeneralImport:
    """:func:`import_reaction_network` for anything :func:`~sbmleq.io.sources.load_sbml_text`
    reads: a path, SBML or Antimony text, a BioModels id, a RoadRunner, an SBMLDocument."""
    if _is_sbml_document(source):
        return import_reaction_network(source, source_name or "<SBMLDocument>",
                                       fast_as_ordinary=fast_as_ordinary)
    text, name = load_sbml_text(source, name=source_name)
    return import_reaction_network(parse_sbml_text(text, name), name,
                                   fast_as_ordinary=fast_as_ordinary)
