"""Building blocks and general families of random reaction networks.

:class:`NetworkBuilder` assembles a :class:`~sbmleq.core.reactions.ReactionNetwork` one reaction
at a time, with rate laws built from :mod:`sbmleq.core.expr` constructors. Every numeric
constant of a rate law (rate constants, Michaelis constants, Hill exponents, ...) is a local
parameter ``reaction_id.name``, so the network's parameter vector holds them all and networks of
one *structure* differ only in their parameter vector and initial state (what lets the labeller
compile a structure once and solve its members as one batch).

A builder draws from two random streams: *structure* choices (which species, which reaction
kinds, which Hill exponent range) from ``structure``, and every value (constants, initial values)
from ``values``. Family code never lets a value decide structure, so rebuilding with the same
structure stream and a new value stream gives a sibling network of the same structure.

Values are log-uniform over ``decades`` decades centred on 1 (:meth:`NetworkBuilder.rand`).
Motifs whose outcome needs a parameter regime instead draw a dimensionless base value and scale
it by the network's concentration unit and time unit (:meth:`NetworkBuilder.scaled`), which
changes neither the outcome nor the trajectory's shape.

The general families (mass action, Michaelis-Menten, Hill, modifiers, zero-order, enzyme
complexes, phosphorylation cycles, intakes and degradation, mixed) are registered in
:data:`FAMILIES`; the motifs with a known outcome are in :mod:`sbmleq.core.rn_motifs`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sbmleq.core.expr import Expr, Sym, add, div, mul, power, sub, sym, symbols
from sbmleq.core.reactions import Reaction, ReactionNetwork, Species

__all__ = ["NetworkBuilder", "FamilyFn", "FAMILIES", "register"]

COMPARTMENT = "cell"


class NetworkBuilder:
    """Accumulates species, reactions and their local parameters (see the module docstring)."""

    def __init__(self, structure: np.random.Generator, values: np.random.Generator,
                 decades: float = 3.0, name: str = "") -> None:
        self.s, self.v = structure, values
        self.decades = float(decades)
        self.name = name
        self.species: list[Species] = []
        self.reactions: list[Reaction] = []
        self.parameters: dict[str, float] = {}
        quarter = self.decades / 4.0
        self.conc_unit = 10.0 ** self.v.uniform(-quarter, quarter)
        self.rate_unit = 10.0 ** self.v.uniform(-quarter, quarter)  # 1 / time unit

    # -------------------------------------------------------------- species and values
    @property
    def floating(self) -> list[str]:
        return [s.id for s in self.species if s.floating]

    def add_species(self, prefix: str = "S", initial: float | None = None,
                    boundary: bool = False) -> str:
        """A new species ``prefix<k>`` (initial value log-uniform over 0.1-10 when None)."""
        sid = f"{prefix}{sum(1 for s in self.species if s.id.startswith(prefix))}"
        while any(s.id == sid for s in self.species):
            sid += "_"
        x0 = 10.0 ** self.v.uniform(-1.0, 1.0) if initial is None else float(initial)
        self.species.append(Species(sid, COMPARTMENT, x0, boundary=boundary))
        return sid

    def rand(self, decades: float | None = None) -> float:
        """Log-uniform over ``decades`` (default: the builder's) centred on 1."""
        half = (self.decades if decades is None else decades) / 2.0
        return float(10.0 ** self.v.uniform(-half, half))

    def scaled(self, base: float, conc: float = 0.0, rate: float = 0.0,
               jitter: float = 0.05) -> float:
        """``base`` (a dimensionless regime value, jittered by +-``jitter`` decades) in the
        network's units: times conc_unit**conc * rate_unit**rate."""
        j = 10.0 ** self.v.uniform(-jitter, jitter) if jitter else 1.0
        return float(base * j * self.conc_unit ** conc * self.rate_unit ** rate)

    def param(self, rid: str, name: str, value: float) -> Sym:
        key = f"{rid}.{name}"
        self.parameters[key] = float(value)
        return sym(key)

    def next_id(self) -> str:
        return f"R{len(self.reactions)}"

    def pick(self, items: Sequence, k: int | None = None) -> list:
        """Structure choice: ``k`` distinct items (one when None)."""
        idx = self.s.choice(len(items), size=1 if k is None else min(k, len(items)),
                            replace=False)
        return [items[i] for i in idx]

    # -------------------------------------------------------------- reactions
    def add(self, rid: str, reactants: Sequence[tuple[str, float]],
            products: Sequence[tuple[str, float]], body: Expr, family: str,
            reversible: bool = False) -> str:
        """Reaction ``rid`` with rate ``cell * body`` (substance per time); species the law reads
        that are neither reactants nor products become modifiers."""
        merged = lambda side: tuple(sorted({s: sum(c for t, c in side if t == s)  # noqa: E731
                                            for s, _ in side}.items()))
        r, p = merged(reactants), merged(products)
        ids = {s.id for s in self.species}
        mods = tuple(sorted((symbols(body) & ids) - {s for s, _ in r} - {s for s, _ in p}))
        self.reactions.append(Reaction(rid, r, p, mul(sym(COMPARTMENT), body), mods,
                                       reversible=reversible, family=family))
        return rid

    def mass_action(self, reactants: Sequence[tuple[str, float]],
                    products: Sequence[tuple[str, float]], reversible: bool = False,
                    k: float | None = None, kr: float | None = None) -> str:
        rid = self.next_id()
        fwd = mul(self.param(rid, "kf" if reversible else "k", self.rand() if k is None else k),
                  *(power(sym(s), c) for s, c in reactants))
        if reversible:
            back = mul(self.param(rid, "kr", self.rand() if kr is None else kr),
                       *(power(sym(s), c) for s, c in products))
            fwd = sub(fwd, back)
        return self.add(rid, reactants, products, fwd,
                        "mass_action_reversible" if reversible else "mass_action", reversible)

    def michaelis_menten(self, substrate: str, products: Sequence[tuple[str, float]],
                         enzyme: str | None = None, vmax: float | None = None,
                         km: float | None = None, factors: Sequence[Expr] = ()) -> str:
        """``Vmax S/(Km + S)``, or ``kcat E S/(Km + S)`` with an enzyme species (a modifier)."""
        rid = self.next_id()
        s = sym(substrate)
        top = (mul(self.param(rid, "kcat", self.rand() if vmax is None else vmax), sym(enzyme))
               if enzyme else self.param(rid, "Vmax", self.rand() if vmax is None else vmax))
        body = div(mul(top, s), add(self.param(rid, "Km", self.rand() if km is None else km), s))
        return self.add(rid, [(substrate, 1)], products, mul(body, *factors), "michaelis_menten")

    def hill(self, substrate: str, products: Sequence[tuple[str, float]],
             n_range: tuple[int, int] = (1, 4)) -> str:
        """``Vmax S^n/(K^n + S^n)``, n an integer parameter drawn in ``n_range``."""
        rid = self.next_id()
        s = sym(substrate)
        n = self.param(rid, "n", float(self.v.integers(n_range[0], n_range[1] + 1)))
        body = div(mul(self.param(rid, "Vmax", self.rand()), power(s, n)),
                   add(power(self.param(rid, "K", self.rand()), n), power(s, n)))
        return self.add(rid, [(substrate, 1)], products, body, "hill")

    def factor(self, rid: str, species: str, kind: str, tag: str = "",
               hill: tuple[int, int] | None = None, k: float | None = None,
               n: float | None = None) -> Expr:
        """A multiplicative modifier factor of reaction ``rid``: ``A/(Ka + A)`` (activator) or
        ``Ki/(Ki + I)`` (inhibitor); with ``hill``, the same with powers n."""
        x = sym(species)
        kk = self.param(rid, f"K{'a' if kind == 'act' else 'i'}{tag}",
                        self.rand() if k is None else k)
        if hill is not None:
            nn = self.param(rid, f"n{tag}", float(self.v.integers(hill[0], hill[1] + 1))
                            if n is None else n)
            x, kk = power(x, nn), power(kk, nn)
        return div(x if kind == "act" else kk, add(kk, x))

    def regulated_production(self, target: str, regulators: Sequence[tuple[str, str]],
                             hill: tuple[int, int] | None = (1, 4), v: float | None = None,
                             family: str = "hill", k: float | None = None,
                             n: float | None = None) -> str:
        """``-> target`` at ``v * prod(factors)`` (activation / repression by other species;
        ``k``, ``n``: the factors' constants, drawn when None)."""
        rid = self.next_id()
        vmax = self.param(rid, "V", self.rand() if v is None else v)
        fs = [self.factor(rid, sp, kind, str(i), hill, k, n)
              for i, (sp, kind) in enumerate(regulators)]
        return self.add(rid, [], [(target, 1)], mul(vmax, *fs), family)

    def intake(self, species: str, k: float | None = None) -> str:
        rid = self.next_id()
        return self.add(rid, [], [(species, 1)], self.param(rid, "k", self.rand()
                                                            if k is None else k), "intake")

    def zero_order(self, products: Sequence[tuple[str, float]]) -> str:
        """A zero-order law: production at a constant rate, or conversion of a boundary
        (constant) species at ``k * B``, zero order in every state variable."""
        rid = self.next_id()
        if self.s.random() < 0.5:
            return self.add(rid, [], products, self.param(rid, "k0", self.rand()), "zero_order")
        b = self.add_species("B", boundary=True)
        return self.add(rid, [(b, 1)], products, mul(self.param(rid, "k", self.rand()), sym(b)),
                        "zero_order")

    def degradation(self, species: str, saturable: bool = False,
                    k: float | None = None) -> str:
        if saturable:
            return self.michaelis_menten(species, [], vmax=k)
        rid = self.next_id()
        return self.add(rid, [(species, 1)], [], mul(self.param(rid, "k", self.rand()
                                                                if k is None else k),
                                                     sym(species)), "degradation")

    # -------------------------------------------------------------- motifs with pools
    def enzyme_complex(self, substrate: str, product: str, enzyme: str | None = None) -> str:
        """E + S <-> ES -> E + P by mass action: E + ES is a conserved pool. Returns E."""
        e = enzyme or self.add_species("E")
        es = self.add_species("C", initial=0.0 if self.s.random() < 0.5 else None)
        self.mass_action([(e, 1), (substrate, 1)], [(es, 1)], reversible=True)
        self.mass_action([(es, 1)], [(e, 1), (product, 1)])
        return e

    def phospho_cycle(self, x: str, xp: str, kinase: str, phosphatase: str) -> None:
        """X -> Xp catalysed by a kinase, Xp -> X by a phosphatase (Michaelis-Menten with the
        enzymes as modifiers): X + Xp is a conserved pool."""
        self.michaelis_menten(x, [(xp, 1)], enzyme=kinase)
        self.michaelis_menten(xp, [(x, 1)], enzyme=phosphatase)

    # -------------------------------------------------------------- the network
    def build(self) -> ReactionNetwork:
        return ReactionNetwork(tuple(self.species), tuple(self.reactions), self.parameters,
                               {COMPARTMENT: 1.0}, name=self.name)


FamilyFn = Callable[[NetworkBuilder, int, "str | None"], None]
FAMILIES: dict[str, FamilyFn] = {}


def register(name: str) -> Callable[[FamilyFn], FamilyFn]:
    def deco(fn: FamilyFn) -> FamilyFn:
        FAMILIES[name] = fn
        return fn

    return deco


# ------------------------------------------------------------------ shared pieces
def _species(b: NetworkBuilder, n: int, prefix: str = "S") -> list[str]:
    return [b.add_species(prefix) for _ in range(n)]


def _inputs_outputs(b: NetworkBuilder, names: Sequence[str], target: str | None,
                    p_degrade: float = 0.8, p_saturable: float = 0.2) -> None:
    """One to three intakes, and a (linear or saturable) degradation on most species; for the
    ``settles`` target a linear one on every species (a species without a drain, or with a
    saturable one, is what makes these networks grow)."""
    if target == "settles":
        p_degrade, p_saturable = 1.0, 0.0
    for s in b.pick(names, int(b.s.integers(1, min(3, len(names)) + 1))):
        b.intake(s)
    for s in names:
        if b.s.random() < p_degrade:
            b.degradation(s, saturable=b.s.random() < p_saturable)


def _edges(b: NetworkBuilder, names: Sequence[str], factor: tuple[float, float] = (1.0, 2.0)
           ) -> list[tuple[str, str]]:
    """A random connected-ish set of (source, target) pairs: a random spanning path plus
    extra random pairs, about ``U(factor) * n`` in all."""
    n = len(names)
    order = [names[i] for i in b.s.permutation(n)]
    pairs = list(zip(order[:-1], order[1:]))
    extra = int(round(b.s.uniform(*factor) * n)) - len(pairs)
    for _ in range(max(extra, 0)):
        i, j = b.s.choice(n, 2, replace=False)
        pairs.append((names[i], names[j]))
    return pairs


def _ma_reaction(b: NetworkBuilder, a: str, c: str, names: Sequence[str]) -> None:
    """A mass-action reaction of order 1 or 2 from ``a`` towards ``c`` (sometimes reversible)."""
    kind = b.s.integers(0, 4)
    other = b.pick([x for x in names if x not in (a, c)] or [a])[0]
    reactants, products = {0: ([(a, 1)], [(c, 1)]), 1: ([(a, 1), (other, 1)], [(c, 1)]),
                           2: ([(a, 2)], [(c, 1)]), 3: ([(a, 1)], [(c, 1), (other, 1)])}[kind]
    b.mass_action(reactants, products, reversible=b.s.random() < 0.3)


# ------------------------------------------------------------------ general families
@register("mass_action")
def mass_action_family(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Random mass-action reactions of order 1-2 (30% reversible), intakes and degradation."""
    names = _species(b, n)
    for a, c in _edges(b, names):
        _ma_reaction(b, a, c, names)
    _inputs_outputs(b, names, target, p_saturable=0.0)


@register("michaelis_menten")
def michaelis_menten_family(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Michaelis-Menten conversions (some catalysed by another species), intakes, degradation."""
    names = _species(b, n)
    for a, c in _edges(b, names):
        enzyme = b.pick(names)[0] if b.s.random() < 0.3 else None
        b.michaelis_menten(a, [(c, 1)], enzyme=enzyme if enzyme not in (a, c) else None)
    _inputs_outputs(b, names, target)


@register("hill")
def hill_family(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Hill conversions (n = 1-4) and Hill-regulated production (gene-regulation style)."""
    names = _species(b, n)
    for a, c in _edges(b, names, (0.5, 1.0)):
        b.hill(a, [(c, 1)])
    for s in names:
        if b.s.random() < 0.6:
            regs = b.pick([x for x in names if x != s] or names, int(b.s.integers(1, 3)))
            b.regulated_production(s, [(r, "act" if b.s.random() < 0.5 else "inh")
                                       for r in regs])
    _inputs_outputs(b, names, target, p_degrade=0.95, p_saturable=0.0)


@register("modifiers")
def modifier_family(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Mass-action and Michaelis-Menten conversions times activator / inhibitor factors."""
    names = _species(b, n)
    for a, c in _edges(b, names):
        mods = b.pick([x for x in names if x not in (a, c)] or [c], int(b.s.integers(1, 3)))
        rid = b.next_id()
        fs = [b.factor(rid, m, "act" if b.s.random() < 0.5 else "inh", str(i),
                       (1, 2) if b.s.random() < 0.3 else None) for i, m in enumerate(mods)]
        s = sym(a)
        if b.s.random() < 0.5:
            body = mul(b.param(rid, "k", b.rand()), s, *fs)
        else:
            body = mul(div(mul(b.param(rid, "Vmax", b.rand()), s),
                           add(b.param(rid, "Km", b.rand()), s)), *fs)
        b.add(rid, [(a, 1)], [(c, 1)], body, "modifiers")
    _inputs_outputs(b, names, target)


@register("zero_order")
def zero_order_family(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Zero-order productions (constant, or from boundary species) drained by first-order and
    saturable removal, with first-order conversions in between."""
    names = _species(b, n)
    for s in b.pick(names, max(1, n // 3)):
        b.zero_order([(s, 1)])
    for a, c in _edges(b, names, (0.5, 1.0)):
        b.mass_action([(a, 1)], [(c, 1)])
    _inputs_outputs(b, names, target, p_degrade=0.9, p_saturable=0.3)


@register("intake_degradation")
def intake_degradation_family(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Linear: intakes, first-order conversions and degradation (the LIFE class)."""
    names = _species(b, n)
    for a, c in _edges(b, names):
        b.mass_action([(a, 1)], [(c, 1)])
    _inputs_outputs(b, names, target, p_degrade=0.5, p_saturable=0.0)


@register("enzyme_complex")
def enzyme_complex_family(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Chains of explicit E + S <-> ES -> E + P steps (conserved enzyme pools), fed at the start,
    drained at the end; enzymes are sometimes shared between steps."""
    steps = max(1, (n - 1) // 3)
    chain = [b.add_species("S")]
    enzymes: list[str] = []
    for _ in range(steps):
        chain.append(b.add_species("S"))
        shared = enzymes and b.s.random() < 0.2
        enzymes.append(b.enzyme_complex(chain[-2], chain[-1],
                                        b.pick(enzymes)[0] if shared else None))
    while len(b.floating) < n:
        chain.append(b.add_species("S"))
        b.mass_action([(chain[-2], 1)], [(chain[-1], 1)])
    b.intake(chain[0])
    settle = target == "settles"  # then every species of the chain drains linearly
    b.degradation(chain[-1], saturable=b.s.random() < 0.3 and not settle)
    for s in chain[:-1]:
        if b.s.random() < 0.3 or settle:
            b.degradation(s)


@register("phosphorylation")
def phosphorylation_family(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Kinase / phosphatase cycles (conserved X + Xp pools) in a cascade: each level's
    phosphorylated form is the kinase of the next (MAPK-like); the first kinase is fed and
    degraded, phosphatases are constant-total species."""
    kinase = b.add_species("K")
    b.intake(kinase)
    b.degradation(kinase)
    while len(b.floating) + 3 <= max(n, 4):
        x, xp = b.add_species("X"), b.add_species("Xp", initial=0.0)
        phosphatase = b.add_species("P") if b.s.random() < 0.7 or len(b.floating) < 5 else \
            b.pick([s for s in b.floating if s.startswith("P")] or [kinase])[0]
        b.phospho_cycle(x, xp, kinase, phosphatase)
        kinase = xp
    while len(b.floating) < n:
        b.regulated_production(b.add_species("Y"), [(kinase, "act")], (1, 2))
        b.degradation(b.floating[-1])


@register("mixed")
def mixed_family(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """A mixture of every reaction kind above over one species set, with intakes and
    degradation; enzyme complexes and phosphorylation cycles add their own pool species."""
    names = _species(b, max(2, n - 2 * int(b.s.integers(0, max(1, n // 6) + 1))))
    for a, c in _edges(b, names):
        kind = int(b.s.integers(0, 7))
        if kind <= 1:
            _ma_reaction(b, a, c, names)
        elif kind == 2:
            b.michaelis_menten(a, [(c, 1)])
        elif kind == 3:
            b.hill(a, [(c, 1)])
        elif kind == 4:
            mod = b.pick([x for x in names if x not in (a, c)] or [c])[0]
            rid = b.next_id()
            f = b.factor(rid, mod, "act" if b.s.random() < 0.5 else "inh")
            b.add(rid, [(a, 1)], [(c, 1)], mul(b.param(rid, "k", b.rand()), sym(a), f),
                  "modifiers")
        elif kind == 5:
            b.zero_order([(c, 1)])
        else:
            b.regulated_production(c, [(a, "act" if b.s.random() < 0.5 else "inh")])
    while len(b.floating) + 2 <= n:  # pools: enzyme complexes and phosphorylation cycles
        a, c = b.pick(names, 2) if len(names) > 1 else (names[0], names[0])
        if b.s.random() < 0.5 and a != c:
            b.enzyme_complex(a, c)
        else:
            x, xp = b.add_species("X"), b.add_species("Xp", initial=0.0)
            b.phospho_cycle(x, xp, a, c)
    while len(b.floating) < n:
        names.append(b.add_species("S"))
        b.mass_action([(b.pick(names[:-1])[0], 1)], [(names[-1], 1)])
    _inputs_outputs(b, names, target)
