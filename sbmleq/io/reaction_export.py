"""Write a general :class:`~sbmleq.core.reactions.ReactionNetwork` as SBML Level 3 Version 2.

What is written:

- compartments (3-d, constant unless a rate rule changes them), with their sizes;
- species with ``hasOnlySubstanceUnits`` (``amount``), ``boundaryCondition``, ``constant`` and the
  initial value in the declared unit (``initialAmount`` for amounts, else
  ``initialConcentration``); species names are kept;
- global parameters (constant unless a rate rule changes them);
- a parameter ``rid.pid`` whose reaction ``rid`` is the only one reading it becomes the local
  parameter ``pid`` of that kinetic law (renamed only when ``pid`` clashes with a name the law
  or the model uses); one read anywhere else stays global;
- reactions with their reactants, products and modifiers; a species the law reads that the
  reaction does not list becomes a modifier (SBML requires it), after the declared ones;
- species defined by an assignment rule (``ReactionNetwork.assigned``) with their
  ``assignmentRule`` (the parameters it reads stay global); such a species is written with
  ``boundaryCondition="true"`` and ``constant="false"`` (what SBML requires of a species with a
  rule that a reaction may list, and how the importer reads it back);
- kinetic laws and rate rules as MathML, built from the expression trees. SBML math is typed:
  a relation or logic node used as a number is written ``piecewise(1, node, 0)``, a number used as
  a condition ``number != 0`` (exactly what :mod:`sbmleq.core.expr` means by them).

Ids that are not valid SBML SIds are mapped as :mod:`sbmleq.io.sbml_export` maps node ids
(``to_sid``/``unique_sid``); :func:`reaction_network_to_document` returns that map. Every double is
written with full precision (``repr``): libsbml writes 15 significant digits, so attribute values
are rewritten after writing and numbers in math are written through placeholders. A subnormal
value, which libsbml cannot read as an attribute, is written as an initial assignment (MathML
reads it exactly); a subnormal stoichiometry is refused.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sbmleq.core.expr import LOGIC, RELATIONS, Expr, Num, Op, Sym, symbols
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.errors import InputError
from sbmleq.io.sbml_export import is_valid_sid, unique_sid, to_sid

if TYPE_CHECKING:
    import libsbml

__all__ = ["reaction_network_to_sbml", "reaction_network_to_document", "ExportIds"]

_PLACEHOLDER = "__sbmleq_num_"
_BOOLEAN = frozenset(RELATIONS) | frozenset(LOGIC)
_INT_MAX = 2 ** 31 - 1


@dataclass(frozen=True)
class ExportIds:
    """How the network's ids became SIds: ``global_ids`` for compartments, species, global
    parameters and reactions; ``local_ids`` maps ``rid.pid`` to (reaction SId, local SId)."""

    global_ids: dict[str, str]
    local_ids: dict[str, tuple[str, str]]


_OPS = {"add": "AST_PLUS", "mul": "AST_TIMES", "pow": "AST_POWER", "exp": "AST_FUNCTION_EXP",
        "ln": "AST_FUNCTION_LN", "log10": "AST_FUNCTION_LOG", "abs": "AST_FUNCTION_ABS",
        "floor": "AST_FUNCTION_FLOOR", "ceil": "AST_FUNCTION_CEILING",
        "sin": "AST_FUNCTION_SIN", "cos": "AST_FUNCTION_COS", "tan": "AST_FUNCTION_TAN",
        "sinh": "AST_FUNCTION_SINH", "cosh": "AST_FUNCTION_COSH", "tanh": "AST_FUNCTION_TANH",
        "arcsin": "AST_FUNCTION_ARCSIN", "arccos": "AST_FUNCTION_ARCCOS",
        "arctan": "AST_FUNCTION_ARCTAN", "min": "AST_FUNCTION_MIN", "max": "AST_FUNCTION_MAX",
        "piecewise": "AST_FUNCTION_PIECEWISE", "lt": "AST_RELATIONAL_LT",
        "le": "AST_RELATIONAL_LEQ", "gt": "AST_RELATIONAL_GT", "ge": "AST_RELATIONAL_GEQ",
        "eq": "AST_RELATIONAL_EQ", "ne": "AST_RELATIONAL_NEQ", "and": "AST_LOGICAL_AND",
        "or": "AST_LOGICAL_OR", "xor": "AST_LOGICAL_XOR", "not": "AST_LOGICAL_NOT"}


class _MathWriter:
    """Expression trees -> libsbml ASTs. With ``placeholders``, finite numbers become names
    that :meth:`fill` replaces by full-precision ``<cn>`` elements in the written text."""

    def __init__(self, used: set[str], placeholders: bool) -> None:
        self.numbers: list[float] = []
        self.placeholders = placeholders
        self.prefix = _PLACEHOLDER
        while any(u.startswith(self.prefix) for u in used):
            self.prefix += "_"

    def _leaf(self, e: Num | Sym, names: dict[str, str]) -> "libsbml.ASTNode":
        import libsbml

        if isinstance(e, Sym):
            node = libsbml.ASTNode(libsbml.AST_NAME)
            node.setName(names[e.name])
            return node
        v = e.value
        if not (self.placeholders and math.isfinite(v)):
            node = libsbml.ASTNode(libsbml.AST_REAL)
            node.setValue(v)  # NaN, +-inf: <notanumber/>, <infinity/>, exactly
            return node
        node = libsbml.ASTNode(libsbml.AST_NAME)
        node.setName(f"{self.prefix}{len(self.numbers)}")
        self.numbers.append(v)
        return node

    def _node(self, x: Expr, boolean: bool, names: dict[str, str]
              ) -> tuple["libsbml.ASTNode", "libsbml.ASTNode", list[tuple[Expr, bool]]]:
        """(node to attach to the parent, node that takes ``x``'s children, the children with
        whether each is in a boolean context)."""
        import libsbml

        if isinstance(x, Op):
            inner = libsbml.ASTNode(getattr(libsbml, _OPS[x.op]))
            if x.op == "log10":  # <log/> with <logbase> 10 (libsbml wants the base)
                base = libsbml.ASTNode(libsbml.AST_INTEGER)
                base.setValue(10)
                inner.addChild(base)
            if x.op == "piecewise":  # value, condition, value, condition, ..., [otherwise]
                children = [(a, k % 2 == 1) for k, a in enumerate(x.args)]
            else:
                children = [(a, x.op in LOGIC) for a in x.args]
        else:
            inner, children = self._leaf(x, names), []
        if (isinstance(x, Op) and x.op in _BOOLEAN) == boolean:
            return inner, inner, children
        if boolean:  # a number as a condition: x != 0
            outer = libsbml.ASTNode(libsbml.AST_RELATIONAL_NEQ)
            parts = [inner, self._leaf(Num(0.0), names)]
        else:  # a condition as a number: piecewise(1, x, 0)
            outer = libsbml.ASTNode(libsbml.AST_FUNCTION_PIECEWISE)
            parts = [self._leaf(Num(1.0), names), inner, self._leaf(Num(0.0), names)]
        for part in parts:
            outer.addChild(part)
        return outer, inner, children

    def ast(self, e: Expr, names: dict[str, str]) -> "libsbml.ASTNode":
        """A numeric-valued AST of ``e``, names mapped through ``names``. Iterative (any depth):
        nodes are created top-down and attached to their parent in order."""
        root, holder, kids = self._node(e, False, names)
        stack = [(x, b, holder) for x, b in reversed(kids)]
        while stack:
            x, boolean, parent = stack.pop()
            node, holder, kids = self._node(x, boolean, names)
            parent.addChild(node)
            stack.extend((c, b, holder) for c, b in reversed(kids))
        return root

    def fill(self, text: str) -> str:
        """Replace the placeholders by the numbers, with full precision."""

        def cn(match: re.Match[str]) -> str:
            v = self.numbers[int(match.group(1))]
            if v.is_integer() and abs(v) <= _INT_MAX:
                return f'<cn type="integer"> {int(v)} </cn>'
            return f"<cn> {v!r} </cn>"

        return re.sub(rf"<ci>\s*{re.escape(self.prefix)}(\d+)\s*</ci>", cn, text)


# ------------------------------------------------------------------ ids
def _local_parameters(rn: ReactionNetwork) -> dict[str, list[str]]:
    """Reaction id -> its parameters ``rid.pid`` that no other law or rule reads."""
    rids = {r.id for r in rn.reactions}
    readers: dict[str, set[str]] = {}
    for r in rn.reactions:
        for name in symbols(r.rate):
            readers.setdefault(name, set()).add(r.id)
    for e in [*(rule.rate for rule in rn.rate_rules), *rn.assigned.values()]:
        for name in symbols(e):
            readers.setdefault(name, set()).add("")  # not a reaction: stays global
    ruled = {rule.variable for rule in rn.rate_rules}
    out: dict[str, list[str]] = {}
    for p in rn.parameters:
        rid, dot, pid = p.partition(".")
        if dot and rid in rids and pid and p not in ruled and p not in rn.compartments \
                and readers.get(p, {rid}) <= {rid}:
            out.setdefault(rid, []).append(p)
    return out


def _sid(x: str, used: set[str]) -> str:
    if is_valid_sid(x) and x not in used:
        used.add(x)
        return x
    return unique_sid(x, used)


def _export_ids(rn: ReactionNetwork, local: dict[str, list[str]]) -> ExportIds:
    used: set[str] = set()
    local_set = {p for ps in local.values() for p in ps}
    ids: dict[str, str] = {}
    for x in [*rn.compartments, *(s.id for s in rn.species),
              *(p for p in rn.parameters if p not in local_set and p not in rn.compartments),
              *(r.id for r in rn.reactions)]:
        ids[x] = _sid(x, used)
    local_ids: dict[str, tuple[str, str]] = {}
    for rid, params in local.items():
        reaction = next(r for r in rn.reactions if r.id == rid)
        taken = used | {ids[n] for n in symbols(reaction.rate) if n in ids}
        for p in params:
            pid = p.partition(".")[2]
            sid = pid if is_valid_sid(pid) and pid not in taken else unique_sid(to_sid(pid), taken)
            taken.add(sid)
            local_ids[p] = (ids[rid], sid)
    return ExportIds(ids, local_ids)


# ------------------------------------------------------------------ the document
def _is_subnormal(v: float) -> bool:
    return 0 < abs(v) < sys.float_info.min


class _Values:
    """The doubles written as attributes, per element tag in document order (to rewrite them
    with full precision after libsbml has written 15 digits)."""

    TAGS = {"compartment": ("size",), "species": ("initialAmount", "initialConcentration"),
            "parameter": ("value",), "localParameter": ("value",),
            "speciesReference": ("stoichiometry",)}

    def __init__(self) -> None:
        self.queues: dict[str, list[float | None]] = {t: [] for t in self.TAGS}

    def add(self, tag: str, value: float | None) -> None:
        self.queues[tag].append(None if value is None else float(value))

    def rewrite(self, text: str) -> str:
        pattern = re.compile(r"<(" + "|".join(self.TAGS) + r")\b[^>]*>")
        position = {t: 0 for t in self.TAGS}

        def fix(match: re.Match[str]) -> str:
            tag = match.group(1)
            value = self.queues[tag][position[tag]]
            position[tag] += 1
            if value is None or not math.isfinite(value):
                return match.group(0)
            attrs = "|".join(self.TAGS[tag])
            return re.sub(rf'\b({attrs})="[^"]*"', rf'\1="{value!r}"', match.group(0), count=1)

        out = pattern.sub(fix, text)
        if any(position[t] != len(q) for t, q in self.queues.items()):
            raise AssertionError("sbml export: element count mismatch while rewriting values")
        return out


def reaction_network_to_document(rn: ReactionNetwork, *, model_id: str | None = None
                                 ) -> tuple["libsbml.SBMLDocument", ExportIds]:
    """The libsbml document of ``rn`` and how its ids were mapped. Written by libsbml, its
    doubles have 15 significant digits; :func:`reaction_network_to_sbml` writes all 17."""
    doc, ids, _, _ = _build(rn, model_id, placeholders=False)
    return doc, ids


def _build(rn: ReactionNetwork, model_id: str | None, placeholders: bool
           ) -> tuple["libsbml.SBMLDocument", ExportIds, _MathWriter, _Values]:
    import libsbml

    where = rn.name or "network"
    local = _local_parameters(rn)
    ids = _export_ids(rn, local)
    gid = ids.global_ids
    writer = _MathWriter(set(gid.values()) | {s for _, s in ids.local_ids.values()},
                         placeholders)
    values = _Values()
    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    _check(model.setId(to_sid(model_id or rn.name or "sbmleq_network")), "the model id", where)
    model.setName(rn.name or model.getId())
    ruled = {rule.variable for rule in rn.rate_rules}

    def initial_assignment(sid: str, v: float) -> None:
        ia = model.createInitialAssignment()
        ia.setSymbol(sid)
        _check(ia.setMath(writer.ast(Num(v), {})), f"the initial assignment of {sid}", where)

    for c, size in rn.compartments.items():
        if rn.parameters.get(c, size) != size:
            raise InputError(f"compartment size {size!r} differs from parameter {c} = "
                             f"{rn.parameters[c]!r}", source=where, element=f"compartment {c}")
        comp = model.createCompartment()
        comp.setId(gid[c])
        comp.setSpatialDimensions(3)
        comp.setConstant(c not in ruled)
        if _is_subnormal(size):
            initial_assignment(gid[c], size)
            values.add("compartment", None)
        else:
            comp.setSize(size)
            values.add("compartment", size)
    for s in rn.species:
        sp = model.createSpecies()
        sp.setId(gid[s.id])
        if s.name:
            sp.setName(s.name)
        sp.setCompartment(gid[s.compartment])
        sp.setHasOnlySubstanceUnits(s.amount)
        sp.setBoundaryCondition(s.boundary or s.id in rn.assigned)
        sp.setConstant(s.constant and s.id not in rn.assigned)
        if _is_subnormal(s.initial):
            initial_assignment(gid[s.id], s.initial)
            values.add("species", None)
        else:
            (sp.setInitialAmount if s.amount else sp.setInitialConcentration)(s.initial)
            values.add("species", s.initial)
    for p, v in rn.parameters.items():
        if p not in gid or p in rn.compartments:
            continue  # a local parameter, or a compartment's size
        par = model.createParameter()
        par.setId(gid[p])
        par.setConstant(p not in ruled)
        if _is_subnormal(v):
            initial_assignment(gid[p], v)
            values.add("parameter", None)
        else:
            par.setValue(v)
            values.add("parameter", v)
    for rule in rn.rate_rules:
        rr = model.createRateRule()
        rr.setVariable(gid[rule.variable])
        _check(rr.setMath(writer.ast(rule.rate, gid)), f"the rate rule of {rule.variable}", where)
    for sid, e in rn.assigned.items():
        ar = model.createAssignmentRule()
        ar.setVariable(gid[sid])
        _check(ar.setMath(writer.ast(e, gid)), f"the assignment rule of {sid}", where)
    for r in rn.reactions:
        rxn = model.createReaction()
        rxn.setId(gid[r.id])
        if r.name:
            rxn.setName(r.name)
        rxn.setReversible(r.reversible)
        for side, make in ((r.reactants, rxn.createReactant), (r.products, rxn.createProduct)):
            for sid, st in side:
                if _is_subnormal(st):
                    raise InputError(f"stoichiometry {st!r} of {sid} is subnormal: SBML readers "
                                     "(libsbml) cannot read it", source=where,
                                     element=f"reaction {r.id}")
                ref = make()
                ref.setSpecies(gid[sid])
                ref.setStoichiometry(st)
                ref.setConstant(True)
                values.add("speciesReference", st)
        listed = {sid for sid, _ in (*r.reactants, *r.products)} | set(r.modifiers)
        read = [s.id for s in rn.species if s.id not in listed and s.id in symbols(r.rate)]
        for m in (*r.modifiers, *read):  # SBML: every species a law reads is declared in it
            rxn.createModifier().setSpecies(gid[m])
        law = rxn.createKineticLaw()
        names = dict(gid)
        for p in local.get(r.id, []):
            lp = law.createLocalParameter()
            lp.setId(ids.local_ids[p][1])
            v = rn.parameters[p]
            if _is_subnormal(v):
                raise InputError(f"local parameter value {v!r} is subnormal: SBML readers "
                                 "(libsbml) cannot read it", source=where, element=f"parameter {p}")
            lp.setValue(v)
            values.add("localParameter", v)
            names[p] = ids.local_ids[p][1]
        _check(law.setMath(writer.ast(r.rate, names)), f"the kinetic law of {r.id}", where)
    return doc, ids, writer, values


def _check(rc: int, what: str, where: str) -> None:
    import libsbml

    if rc != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise InputError(f"libsbml refused to set {what}: "
                         f"{libsbml.OperationReturnValue_toString(rc)}", source=where)


def reaction_network_to_sbml(rn: ReactionNetwork, *, model_id: str | None = None) -> str:
    """``rn`` as SBML L3V2 text (see the module docstring), every double at full precision."""
    import libsbml

    doc, _, writer, values = _build(rn, model_id, placeholders=True)
    return writer.fill(values.rewrite(libsbml.writeSBMLToString(doc)))
