"""Rate-law templates: a law written as a family name and the few leaves that fill it.

A :class:`LawTemplate` rebuilds a reaction's law from the reaction itself (its reactants with
their stoichiometries, its products, its modifiers) and a short tuple of *refs*, the leaves that
are not species: parameter and compartment symbols or numbers (``Sym`` / ``Num``). The token
format v2.1 (:mod:`sbmleq.model.tokens_v2`) writes ``LAW T:<name> ref*`` instead of the whole
prefix expression when a template fits, so that a family law costs a handful of tokens.

Matching is exact by construction: :meth:`LawTemplate.match` returns refs only when
``build(reaction, refs) == law`` holds structurally (the same :mod:`sbmleq.core.expr` tree, node
for node, every number equal), so decoding gives back the very tree that was encoded; a law that
no template rebuilds exactly stays a prefix expression. ``match`` builds the template once with
placeholder leaves (*holes*) through the same simplifying constructors, unifies that pattern with
the law to read the refs off it, then rebuilds with the refs and compares.

The templates (:data:`TEMPLATES`, tried in this order by :func:`match_law`) are the laws the
generators of :mod:`sbmleq.core.rn_families` write (``cell * body``, constructors flattening the
product) and the common orderings of SBML files; ``X`` are the reactants to their stoichiometric
powers in the reaction's order, ``S`` the sole reactant (stoichiometry 1), ``M`` the sole modifier,
``E`` the sole modifier as an enzyme:

- ``ma``: ``c1*...*ck * X...`` (k = 1-3: rate constant, optional volume and further factors);
  ``ma.s``: ``X... * c1*...*ck`` (species first); ``ma.1``: ``c1 * X... * c2...``;
  ``ma.r``: ``c... * X...`` with the reactants in reverse order; ``ma.c``: ``c... * X... * M...``
  (every modifier a first-order catalyst);
- ``rma``: ``[V *] (kf*X... - kr*Y...)`` (Y: the products), refs ``[V] kf kr``; ``rma.v``:
  ``kf*X...*V - kr*Y...*V``, refs ``V kf kr``; ``rma.r``: ``rma`` with the reactants reversed;
- ``mm``: ``c... * S/(Km + S)``, refs ``[V] Vmax Km``; ``mm.e``: ``c... * E*S/(Km + S)``, refs
  ``[V] kcat Km``;
- ``hill``: ``c... * S^n/(K^n + S^n)``, refs ``[V] Vmax K n``; ``hill.a`` / ``hill.i``:
  production activated / repressed by the sole modifier, ``c... * M^n/(K^n + M^n)`` /
  ``c... * K^n/(K^n + M^n)``;
- ``ma+f`` and ``mm+f`` for ``f`` in ``a i ha hi``: ``ma`` / ``mm`` times a factor of the sole
  modifier (the generators' activator ``M/(K + M)``, inhibitor ``K/(K + M)``, and their Hill forms
  ``M^n/(K^n + M^n)``, ``K^n/(K^n + M^n)``), the factor's ``K [n]`` the last refs.

A ref is never one of the reaction's own species (reactants, products, modifiers): those the
template places itself.

This module only reads and builds expression trees (sbmleq.core; no imports outside it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from sbmleq.core.expr import Expr, Num, Op, Sym, add, mul, power, sub, symbols
from sbmleq.core.reactions import Reaction

__all__ = ["LawTemplate", "TEMPLATES", "template_names", "match_law", "build_law"]

Refs = tuple[Expr, ...]
_HOLE = "\x00hole"


@dataclass(frozen=True)
class _Hole(Sym):
    """A placeholder leaf: never equal to a Sym of the same name (dataclass equality compares
    classes), so a pattern never matches a law's own leaf by accident."""


class NotApplicable(ValueError):
    """The template does not fit this reaction (wrong number of reactants, no modifier...)."""


@dataclass(frozen=True)
class LawTemplate:
    """One template: ``make(reaction, refs)`` builds the law with the simplifying constructors;
    ``arities`` are the numbers of refs it takes."""

    name: str
    arities: tuple[int, ...]
    make: Callable[[Reaction, Refs], Expr]
    description: str = ""

    def build(self, reaction: Reaction, refs: Sequence[Expr]) -> Expr:
        """The law of ``reaction`` filled with ``refs``; ``ValueError`` when the refs or the
        reaction do not fit (a wrong count, a ref that is not a leaf, no sole reactant...)."""
        refs = tuple(refs)
        if len(refs) not in self.arities:
            raise ValueError(f"template {self.name} takes {' or '.join(map(str, self.arities))} "
                             f"refs, got {len(refs)}")
        own = {s for s, _ in (*reaction.reactants, *reaction.products)} | set(reaction.modifiers)
        for r in refs:
            if not isinstance(r, (Num, Sym)) or isinstance(r, _Hole):
                raise ValueError(f"template {self.name}: a ref is a symbol or a number, got {r!r}")
            if isinstance(r, Sym) and r.name in own:
                raise ValueError(f"template {self.name}: a ref is not one of the reaction's "
                                 f"species, got {r.name!r}")
        return self.make(reaction, refs)

    def match(self, reaction: Reaction, law: Expr | None = None) -> Refs | None:
        """The refs with ``build(reaction, refs) == law`` (default law: ``reaction.rate``), or
        None when this template does not rebuild the law exactly."""
        law = reaction.rate if law is None else law
        for n in self.arities:
            try:
                pattern = self.make(reaction, tuple(_Hole(f"{_HOLE}{k}") for k in range(n)))
            except NotApplicable:
                return None
            refs = _unify(pattern, law, n)
            if refs is None:
                continue
            try:
                if self.build(reaction, refs) == law:
                    return refs
            except ValueError:  # a ref that is one of the reaction's species
                continue
        return None


def _unify(pattern: Expr, law: Expr, n: int) -> Refs | None:
    """The leaves of ``law`` where ``pattern`` has its holes (a hole seen twice binds one leaf),
    or None when the trees differ elsewhere. Iterative: any depth."""
    bound: list[Expr | None] = [None] * n
    stack = [(pattern, law)]
    while stack:
        p, x = stack.pop()
        if isinstance(p, _Hole):
            if not isinstance(x, (Num, Sym)):
                return None
            k = int(p.name[len(_HOLE):])
            if bound[k] is None:
                bound[k] = x
            elif bound[k] != x:
                return None
        elif isinstance(p, Op):
            if not isinstance(x, Op) or x.op != p.op or len(x.args) != len(p.args):
                return None
            stack.extend(zip(p.args, x.args))
        elif p != x:
            return None
    if any(b is None for b in bound):
        return None
    return tuple(bound)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the reaction's species
def _powers(side: Sequence[tuple[str, float]]) -> list[Expr]:
    return [power(Sym(s), c) for s, c in side]


def _sole_reactant(r: Reaction) -> Sym:
    if len(r.reactants) != 1 or r.reactants[0][1] != 1.0:
        raise NotApplicable("needs one reactant of stoichiometry 1")
    return Sym(r.reactants[0][0])


def _sole_modifier(r: Reaction) -> Sym:
    if len(r.modifiers) != 1:
        raise NotApplicable("needs exactly one modifier")
    return Sym(r.modifiers[0])


# ------------------------------------------------------------------ the templates
def _ma(r: Reaction, c: Refs) -> Expr:
    return mul(*c, *_powers(r.reactants))


def _ma_species_first(r: Reaction, c: Refs) -> Expr:
    if not r.reactants:
        raise NotApplicable("no reactants: the same as ma")
    return mul(*_powers(r.reactants), *c)


def _ma_split(r: Reaction, c: Refs) -> Expr:
    if not r.reactants:
        raise NotApplicable("no reactants: the same as ma")
    return mul(c[0], *_powers(r.reactants), *c[1:])


def _ma_reversed(r: Reaction, c: Refs) -> Expr:
    if len(r.reactants) < 2:
        raise NotApplicable("needs two reactants or more")
    return mul(*c, *reversed(_powers(r.reactants)))


def _ma_catalysed(r: Reaction, c: Refs) -> Expr:
    if not r.modifiers:
        raise NotApplicable("needs modifiers")
    return mul(*c, *_powers(r.reactants), *map(Sym, r.modifiers))


def _rma(r: Reaction, c: Refs) -> Expr:
    *volume, kf, kr = c
    return mul(*volume, sub(mul(kf, *_powers(r.reactants)), mul(kr, *_powers(r.products))))


def _rma_reversed(r: Reaction, c: Refs) -> Expr:
    if len(r.reactants) < 2:
        raise NotApplicable("needs two reactants or more")
    *volume, kf, kr = c
    return mul(*volume, sub(mul(kf, *reversed(_powers(r.reactants))),
                            mul(kr, *_powers(r.products))))


def _rma_volume_inside(r: Reaction, c: Refs) -> Expr:
    v, kf, kr = c
    return sub(mul(kf, *_powers(r.reactants), v), mul(kr, *_powers(r.products), v))


def _mm(r: Reaction, c: Refs) -> Expr:
    s = _sole_reactant(r)
    return mul(*c[:-1], s, power(add(c[-1], s), -1.0))


def _mm_enzyme(r: Reaction, c: Refs) -> Expr:
    s, e = _sole_reactant(r), _sole_modifier(r)
    return mul(*c[:-1], e, s, power(add(c[-1], s), -1.0))


def _hill_of(x: Expr, c: Refs, repressed: bool = False) -> Expr:
    *head, k, n = c
    kn, xn = power(k, n), power(x, n)
    return mul(*head, kn if repressed else xn, power(add(kn, xn), -1.0))


def _hill(r: Reaction, c: Refs) -> Expr:
    return _hill_of(_sole_reactant(r), c)


def _hill_activated(r: Reaction, c: Refs) -> Expr:
    return _hill_of(_sole_modifier(r), c)


def _hill_repressed(r: Reaction, c: Refs) -> Expr:
    return _hill_of(_sole_modifier(r), c, repressed=True)


def _factor(kind: str, m: Expr, c: Refs) -> Expr:
    """A modifier factor of the generators (``NetworkBuilder.factor``): activator ``M/(K + M)``,
    inhibitor ``K/(K + M)``, or their Hill forms with ``M^n``, ``K^n`` (refs ``K [n]``)."""
    k = c[0]
    if kind.startswith("h"):
        k, m = power(k, c[1]), power(m, c[1])
    return mul(m if kind.endswith("a") else k, power(add(k, m), -1.0))


_FACTOR_REFS = {"a": 1, "i": 1, "ha": 2, "hi": 2}


def _with_factor(core: Callable[[Reaction, Refs], Expr], kind: str
                 ) -> Callable[[Reaction, Refs], Expr]:
    """``core`` (built on the reactants) times a factor of the sole modifier, whose constants are
    the last refs."""
    nf = _FACTOR_REFS[kind]

    def make(r: Reaction, c: Refs) -> Expr:
        return mul(core(r, c[:-nf]), _factor(kind, _sole_modifier(r), c[-nf:]))

    return make


def _factored(core: str, make: Callable[[Reaction, Refs], Expr], arities: tuple[int, ...]
              ) -> list[LawTemplate]:
    words = {"a": "activator M/(K + M)", "i": "inhibitor K/(K + M)",
             "ha": "Hill activator M^n/(K^n + M^n)", "hi": "Hill inhibitor K^n/(K^n + M^n)"}
    return [LawTemplate(f"{core}+{kind}", tuple(a + nf for a in arities), _with_factor(make, kind),
                        f"{core} times the sole modifier's {words[kind]}")
            for kind, nf in _FACTOR_REFS.items()]


def _registry(*templates: LawTemplate) -> Mapping[str, LawTemplate]:
    return MappingProxyType({t.name: t for t in templates})


TEMPLATES: Mapping[str, LawTemplate] = _registry(
    LawTemplate("ma", (1, 2, 3), _ma, "irreversible mass action: c... * X..."),
    LawTemplate("ma.s", (1, 2), _ma_species_first, "mass action, species first: X... * c..."),
    LawTemplate("ma.1", (2, 3), _ma_split, "mass action: c1 * X... * c2..."),
    LawTemplate("ma.r", (1, 2, 3), _ma_reversed, "mass action, reactants in reverse order"),
    LawTemplate("ma.c", (1, 2, 3), _ma_catalysed, "mass action with the modifiers as catalysts"),
    LawTemplate("rma", (2, 3), _rma, "reversible mass action: [V *] (kf*X... - kr*Y...)"),
    LawTemplate("rma.r", (2, 3), _rma_reversed, "reversible mass action, reactants reversed"),
    LawTemplate("rma.v", (3,), _rma_volume_inside, "reversible mass action: kf*X*V - kr*Y*V"),
    LawTemplate("mm", (2, 3), _mm, "Michaelis-Menten: [V *] Vmax*S/(Km + S)"),
    LawTemplate("mm.e", (2, 3), _mm_enzyme, "Michaelis-Menten with an enzyme: kcat*E*S/(Km + S)"),
    LawTemplate("hill", (3, 4), _hill, "Hill: [V *] Vmax*S^n/(K^n + S^n)"),
    LawTemplate("hill.a", (3, 4), _hill_activated, "production activated: V*M^n/(K^n + M^n)"),
    LawTemplate("hill.i", (3, 4), _hill_repressed, "production repressed: V*K^n/(K^n + M^n)"),
    *_factored("ma", _ma, (1, 2, 3)),
    *_factored("mm", _mm, (2, 3)),
)


def template_names() -> tuple[str, ...]:
    """The registered names, in matching order (for a token vocabulary)."""
    return tuple(TEMPLATES)


def match_law(reaction: Reaction, law: Expr | None = None,
              templates: Mapping[str, LawTemplate] = TEMPLATES) -> tuple[str, Refs] | None:
    """The first template (in registry order) that rebuilds ``law`` (default: the reaction's)
    exactly, with its refs; None when none does (the law stays a prefix expression)."""
    law = reaction.rate if law is None else law
    if any(name.startswith(_HOLE) for name in symbols(law)):
        return None  # a name that looks like a hole: never matched
    for name, template in templates.items():
        refs = template.match(reaction, law)
        if refs is not None:
            return name, refs
    return None


def build_law(name: str, reaction: Reaction, refs: Sequence[Expr],
              templates: Mapping[str, LawTemplate] = TEMPLATES) -> Expr:
    """``templates[name].build(reaction, refs)``; ``ValueError`` for an unknown name."""
    if name not in templates:
        raise ValueError(f"unknown law template {name!r}")
    return templates[name].build(reaction, refs)

