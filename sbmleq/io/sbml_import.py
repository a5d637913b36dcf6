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

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbmleq.core.network import Network
from sbmleq.errors import InputError, NetworkError
from sbmleq.io.general_math import MathConverter
from sbmleq.io.import_checks import ModelChecks, _check_identifiers
from sbmleq.io.import_laws import LawDecisions
from sbmleq.io.import_result import (  # noqa: F401 - ImportResult, ReactionReport, result_from_network: re-exported
    Flux,
    ImportResult,
    ReactionReport,
    _fmt,
    _strip_prefix,
    result_from_network,
)
from sbmleq.io.lin import Opaque
from sbmleq.io.reasons import NotInClass, Reason
from sbmleq.io.reasons import ReasonCode as R
from sbmleq.io.sbml_math import _FastScope, _Tables
from sbmleq.io.sources import error_detail, ignorable_read_errors, read_document
from sbmleq.io.sympy_walker import _Scope

if TYPE_CHECKING:
    import libsbml


class _Importer(ModelChecks, LawDecisions):
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
        self._converter: MathConverter | None = None  # expression trees, before sympy
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
            self._screen_opaque(kl.getMath(), local, rid, law_text, moved, reactants + products)
            return self._decide_sympy(*args)

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
    return import_document(read_document(source, source_name), source_name=source_name)


def import_document(doc: "libsbml.SBMLDocument", *, source_name: str) -> ImportResult:
    """:func:`import_sbml` for a document already read and checked (``read_document`` or
    ``parse_sbml_text``) that the caller owns: no second copy, no second check."""
    model = doc.getModel()
    if model.getNumSpecies() == 0:
        raise InputError("the model has no species", source=source_name,
                         element=f"model {model.getId()}" if model.getId() else "model")
    return _Importer(doc, source_name).run()

