"""Kinetics labels for out-of-class reactions: which kind of rate law keeps a reaction out.

The importer's reasons carry a code (:class:`~sbmleq.io.reasons.ReasonCode`) and the reaction
they concern; for ``NOT_FIRST_ORDER`` and ``MODIFIER`` reasons :func:`kinetics_labels` reads the
reaction's rate law (function definitions expanded, assignment rules substituted) and
:func:`classify_law` names its shape (Michaelis-Menten, Hill, mass action of order >= 2, ...).
The labels are hints for the report (which kinetics to support next), never a decision.

sympy and libsbml are imported inside the functions (heavy; only out-of-class models need them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sbmleq.io.reasons import Reason, ReasonCode

__all__ = ["classify_law", "kinetics_labels"]


def classify_law(formula: str, species: str, movers: Iterable[str] = ()) -> str:
    """A label for a rate law that is not first-order in ``species`` (``movers``: all species
    the reaction converts): ``michaelis-menten`` (saturating: a mover in the denominator, degree
    1), ``hill`` (a mover to a power >= 2, or a symbolic power, in the denominator),
    ``mass-action-order-2+`` (a polynomial of degree >= 2 in the movers, e.g. k*A*A or k*A*B),
    ``linear`` (degree 1: for a rate driven by a modifier, k*M), ``power-law`` (a non-integer
    power), ``other``."""
    if not formula or len(formula) > 3000:
        return "other"
    try:
        import sympy as sp
        from sympy.parsing.sympy_parser import parse_expr

        reserved = r"\b(and|or|not|lambda|if|else|in|is|def|class|None|True|False)\b"
        text = re.sub(reserved, r"\1_", formula.replace("^", "**"))
        names = set(re.findall(r"[A-Za-z_]\w*", text))
        if names & {"piecewise", "floor", "ceil", "ceiling", "min", "max", "gt", "lt", "geq", "leq",
                    "eq", "neq", "and_", "or_", "not_"}:
            return "other"
        funcs = {"exp": sp.exp, "ln": sp.log, "log": sp.log, "sqrt": sp.sqrt, "pow": sp.Pow,
                 "abs": sp.Abs}
        local: dict[str, Any] = {n: sp.Symbol(n) for n in names if n not in funcs}
        local.update({n: f for n, f in funcs.items() if n in names})
        expr = parse_expr(text, local_dict=local, evaluate=True)
        ids = [re.sub(reserved, r"\1_", m) for m in {species, *movers}]
        xs = [sp.Symbol(i) for i in ids if sp.Symbol(i) in expr.free_symbols]
        if not xs:
            return "other"
        num, den = sp.fraction(sp.together(expr))

        def degree(e: Any) -> float | None:
            try:
                return float(sp.Poly(e, *xs).total_degree())
            except Exception:  # noqa: BLE001 - not a polynomial in the movers
                return None

        if den.free_symbols & set(xs):
            d = degree(den)
            return "michaelis-menten" if d == 1 else "hill"
        d = degree(num)
        if d is not None and d >= 2:
            return "mass-action-order-2+"
        if d == 1:
            return "linear"
        if d is None and any(isinstance(a, sp.Pow) and a.base in xs
                             for a in sp.preorder_traversal(num)):
            return "power-law"
        return "other"
    except Exception:  # noqa: BLE001 - classification is a hint only
        return "other"


def kinetics_labels(doc: Any, reasons: Iterable[Reason]) -> dict[str, str]:
    """reaction id -> kinetics label, for reasons about non-first-order laws and modifiers."""
    wanted: dict[str, tuple[str, str]] = {}
    for reason in reasons:
        if not reason.reaction or not reason.species:
            continue
        if reason.code is ReasonCode.NOT_FIRST_ORDER:
            wanted[reason.reaction] = ("nonlinear", reason.species[0])
        elif reason.code is ReasonCode.MODIFIER:
            wanted.setdefault(reason.reaction, ("modifier", " ".join(reason.species)))
    if not wanted:
        return {}
    import libsbml

    clone = doc.clone()
    props = libsbml.ConversionProperties()
    props.addOption("expandFunctionDefinitions", True)
    clone.convert(props)
    model = clone.getModel()
    rules = {r.getVariable(): r.getMath() for r in model.getListOfRules()
             if r.isAssignment() and r.isSetMath()}
    labels: dict[str, str] = {}
    for rid, (kind, species) in wanted.items():
        rxn = model.getReaction(rid)
        kl = rxn.getKineticLaw() if rxn is not None else None
        formula = ""
        if kl is not None and kl.isSetMath():
            math_ = kl.getMath().deepCopy()
            for _ in range(8):  # substitute assignment rules (nested ones too)
                names = _ast_names(math_) & set(rules)
                if not names:
                    break
                for name in names:
                    math_.replaceArgument(name, rules[name])
            formula = libsbml.formulaToL3String(math_) or ""
        movers = [ref.getSpecies() for ref in (*rxn.getListOfReactants(),
                                               *rxn.getListOfProducts())] if rxn is not None else []
        if kind == "nonlinear":
            labels[rid] = classify_law(formula, species, movers)
        else:  # how the rate depends on the modifiers and the species it converts
            modifiers = species.split()
            labels[rid] = "modifier:" + classify_law(formula, modifiers[0] if modifiers else "",
                                                     movers + modifiers)
    return labels


def _ast_names(node: Any) -> set[str]:
    import libsbml

    names, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n.getType() == libsbml.AST_NAME:
            names.add(n.getName())
        stack.extend(n.getChild(i) for i in range(n.getNumChildren()))
    return names
