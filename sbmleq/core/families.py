"""Rate-law families: one name per reaction, from the shape of its law (not from its text).

:func:`classify` reads a reaction's :mod:`sbmleq.core.expr` law as a rational function of the
species (every other name is a constant) and returns one of :data:`FAMILIES`:

- ``zero_order``: no species (``k``, ``k*V``);
- ``mass_action_1``, ``mass_action_2``, ``mass_action_3+``: a constant times a product of species
  to positive integer powers (``k*A*B``), by total order;
- ``reversible_mass_action``: two such terms of opposite signs (``kf*A*B - kr*C``);
- ``michaelis_menten``: a polynomial over products of polynomials with a constant term, every
  species to the power 1 (``V*S/(K + S)``, reversible and multi-substrate forms);
- ``hill``: the same with a species to another power in both the numerator and a denominator
  (``V*S^n/(K^n + S^n)``);
- ``modifier``: one of the above multiplied by activator or inhibitor factors of species that the
  core law does not saturate (``1/(1 + I/Ki)``, ``A/(Ka + A)``, ``(1 + a*A)``), or a saturable law
  with another species in its denominator (competitive inhibition);
- ``other``: anything else (power laws, exponentials, piecewise, sums of unlike terms).

The species the core law is about are the reaction's reactants and products that the law reads;
a law reading none of them (gene expression driven by a transcription factor) is read with every
species it uses as its own. This module only reads expression trees (sbmleq.core).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Union

from sbmleq.core.expr import Expr, Num, Op, Sym, add, mul, power, symbols
from sbmleq.core.reactions import Reaction, ReactionNetwork

__all__ = ["FAMILIES", "classify", "classify_rate", "family_table", "family_counts"]

FAMILIES = ("zero_order", "mass_action_1", "mass_action_2", "mass_action_3+",
            "reversible_mass_action", "michaelis_menten", "hill", "modifier", "other")

Context = Union[ReactionNetwork, Collection[str]]
Monomial = tuple[tuple[str, Expr], ...]  # sorted (species, exponent)
Poly = dict[Monomial, Expr]
_MAX_TERMS = 64
_ONE = Num(1.0)


# ------------------------------------------------------------------ polynomials in species
def _mono_mul(a: Monomial, b: Monomial) -> Monomial:
    out = dict(a)
    for s, e in b:
        out[s] = add(out[s], e) if s in out else e
    return tuple(sorted((s, e) for s, e in out.items() if e != Num(0.0)))


def _accumulate(out: Poly, m: Monomial, c: Expr) -> None:
    out[m] = add(out[m], c) if m in out else c


def _clean(p: Poly) -> Poly:
    return {m: c for m, c in p.items() if c != Num(0.0)}


def _poly_mul(a: Poly, b: Poly) -> Poly | None:
    if len(a) * len(b) > _MAX_TERMS:
        return None
    out: Poly = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            _accumulate(out, _mono_mul(ma, mb) if ma and mb else ma or mb, mul(ca, cb))
    return _clean(out)


def poly(e: Expr, species: Collection[str]) -> Poly | None:
    """``e`` as a sum of constant coefficients times products of species to constant powers
    (symbolic powers allowed, as in Hill laws; negative ones too, so that ``S*(1 - P/(K*S))``
    is ``S - P/K``), or None when it is not one."""
    if symbols(e).isdisjoint(species):
        return {} if e == Num(0.0) else {(): e}
    if isinstance(e, Sym):
        return {((e.name, _ONE),): _ONE}
    if not isinstance(e, Op):
        return None
    if e.op == "add":
        out: Poly = {}
        for t in e.args:
            p = poly(t, species)
            if p is None:
                return None
            for m, c in p.items():
                _accumulate(out, m, c)
            if len(out) > _MAX_TERMS:
                return None
        return _clean(out)
    if e.op == "mul":
        acc: Poly | None = {(): _ONE}
        for f in e.args:
            p = poly(f, species)
            if p is None or acc is None:
                return None
            acc = _poly_mul(acc, p)
        return acc
    if e.op == "pow":
        base, ex = e.args
        if not symbols(ex).isdisjoint(species):
            return None
        p = poly(base, species)
        if p is None:
            return None
        if len(p) == 1:  # a monomial to a constant power (negative ones cancel later or not)
            (m, c), = p.items()
            return {tuple((s, mul(x, ex)) for s, x in m): power(c, ex)}
        if isinstance(ex, Num) and ex.value.is_integer() and 0 <= ex.value <= 4:
            acc = {(): _ONE}
            for _ in range(int(ex.value)):
                if acc is None:
                    return None
                acc = _poly_mul(acc, p)
            return acc
    return None


def _sign(c: Expr) -> float:
    if isinstance(c, Num):
        return -1.0 if c.value < 0 else 1.0
    if isinstance(c, Op) and c.op == "mul" and isinstance(c.args[0], Num):
        return -1.0 if c.args[0].value < 0 else 1.0
    return 1.0


def _order(m: Monomial) -> int | None:
    """The total degree of a monomial with positive integer powers, else None."""
    total = 0
    for _, e in m:
        if not (isinstance(e, Num) and e.value > 0 and e.value.is_integer()):
            return None
        total += int(e.value)
    return total


def _order_family(order: int) -> str:
    if order == 0:
        return "zero_order"
    return f"mass_action_{order}" if order < 3 else "mass_action_3+"


def _poly_family(p: Poly) -> str:
    terms = list(p.items())
    if not terms:
        return "zero_order"
    orders = [_order(m) for m, _ in terms]
    if any(o is None for o in orders):
        return "other"
    if len(terms) == 1:
        return _order_family(orders[0] or 0)
    if len(terms) == 2 and _sign(terms[0][1]) != _sign(terms[1][1]) and min(orders) > 0:  # type: ignore[type-var]
        return "reversible_mass_action"
    return "other"


# ------------------------------------------------------------------ rational laws
def _factors(e: Expr) -> tuple[list[Expr], list[Expr]]:
    """(numerator factors, denominator bases) of a product (``pow(x, -k)`` gives ``x`` k times
    when k is an integer, ``x^k`` otherwise)."""
    num_f: list[Expr] = []
    den: list[Expr] = []
    stack = list(e.args) if isinstance(e, Op) and e.op == "mul" else [e]
    while stack:
        f = stack.pop()
        if isinstance(f, Op) and f.op == "pow" and isinstance(f.args[1], Num) \
                and f.args[1].value < 0:
            base, k = f.args[0], -f.args[1].value
            inner = list(base.args) if isinstance(base, Op) and base.op == "mul" else [base]
            for b in inner:
                den.append(b if k == 1 else power(b, k))
        else:
            num_f.append(f)
    return num_f, den


def _exponents(p: Poly) -> dict[str, set[Expr]]:
    out: dict[str, set[Expr]] = {}
    for m in p:
        for s, e in m:
            out.setdefault(s, set()).add(e)
    return out


def _monomial_order(e: Expr, names: Collection[str]) -> int | None:
    """The order of a plain mass-action product (numbers, names, integer powers of names), or
    None: the fast path for the most common laws."""
    total = 0
    for f in (e.args if isinstance(e, Op) and e.op == "mul" else (e,)):
        if isinstance(f, Num):
            continue
        if isinstance(f, Sym):
            total += f.name in names
            continue
        if isinstance(f, Op) and f.op == "pow" and isinstance(f.args[0], Sym) \
                and isinstance(f.args[1], Num):
            k = f.args[1].value
            if f.args[0].name not in names:
                continue
            if k > 0 and k.is_integer():
                total += int(k)
                continue
        return None
    return total


def classify_rate(rate: Expr, species: Collection[str],
                  substrates: Iterable[str] | None = None) -> str:
    """The family of a law over ``species`` (see the module docstring); ``substrates`` are the
    reaction's reactants and products (default: every species)."""
    names = species if isinstance(species, (set, frozenset)) else frozenset(species)
    order = _monomial_order(rate, names)
    if order is not None:
        return _order_family(order)
    used = symbols(rate) & names
    core_species = (set(substrates) & used) if substrates is not None else set(used)
    if not core_species:
        core_species = used
    num_f, den = _factors(rate)
    constant = [f for f in den if not symbols(f) & names]
    den = [d for d in den if symbols(d) & names]
    num_species = set().union(*(symbols(f) & names for f in num_f)) if num_f else set()
    core_den, reg_den = [], []
    for d in den:
        (core_den if symbols(d) & core_species & num_species else reg_den).append(d)
    reg_species = set().union(*(symbols(d) & names for d in reg_den)) - core_species \
        if reg_den else set()
    core_num, regulated = [], bool(reg_den)
    for f in num_f:
        fs = symbols(f) & names
        if fs and not fs & core_species:
            p = poly(f, names)
            saturating = p is not None and len(p) > 1 and () in p
            if fs <= reg_species or p is None or saturating:
                regulated = True
                continue
        core_num.append(f)
    numerator = mul(*core_num, *(power(c, -1.0) for c in constant)) if core_num else _ONE
    pn = poly(numerator, names)
    if pn is None:
        return "other"
    if not core_den:
        family = _poly_family(pn)
    else:
        family = _saturable(pn, [poly(d, names) for d in core_den])
        if family != "other" and set().union(*(symbols(d) & names for d in core_den)) \
                - core_species:
            regulated = True  # another species competes in the denominator
    if family == "other":
        return "other"
    return "modifier" if regulated else family


def _saturable(pn: Poly, pds: list[Poly | None]) -> str:
    if not pn or any(p is None or () not in p for p in pds):
        return "other"
    den_exp: dict[str, set[Expr]] = {}
    for p in pds:
        for s, es in _exponents(p).items():  # type: ignore[arg-type]
            den_exp.setdefault(s, set()).update(es)
    num_exp = _exponents(pn)
    powers = {e for es in (*den_exp.values(), *num_exp.values()) for e in es}
    if any(isinstance(e, Num) and e.value <= 0 for e in powers):
        return "other"  # a species left in a denominator of a term
    if powers <= {_ONE}:
        return "michaelis_menten"
    if any(e != _ONE and e in den_exp.get(s, set()) for s, es in num_exp.items() for e in es):
        return "hill"
    return "other"


# ------------------------------------------------------------------ reactions and networks
def _species_of(context: Context) -> frozenset[str]:
    if isinstance(context, ReactionNetwork):
        return frozenset(s.id for s in context.species)
    return context if isinstance(context, frozenset) else frozenset(context)


def classify(reaction: Reaction, context: Context) -> str:
    """The family of ``reaction``'s law; ``context`` is its network or the set of species ids
    (every other name in the law is a constant)."""
    substrates = [s for s, _ in (*reaction.reactants, *reaction.products)]
    return classify_rate(reaction.rate, _species_of(context), substrates)


def family_table(network: ReactionNetwork) -> dict[str, str]:
    """Reaction id -> family, for every reaction of ``network`` (classified afresh)."""
    names = _species_of(network)
    return {r.id: classify(r, names) for r in network.reactions}


def family_counts(families: Mapping[str, str] | ReactionNetwork) -> dict[str, int]:
    """How many reactions per family, in :data:`FAMILIES` order (families with none left out)."""
    table = family_table(families) if isinstance(families, ReactionNetwork) else families
    counts = {f: 0 for f in FAMILIES}
    for f in table.values():
        counts[f] = counts.get(f, 0) + 1
    return {f: n for f, n in counts.items() if n}
