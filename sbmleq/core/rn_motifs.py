"""Reaction-network motifs with a known outcome: oscillators, growth, multistability.

Each motif draws its constants from a regime where its outcome is known (a Hopf condition, a
loop-gain condition, a growth rate), in dimensionless form, and scales them by the network's
concentration and time units (:meth:`~sbmleq.core.rn_families.NetworkBuilder.scaled`; the
exponents say each constant's dimension: ``conc`` for concentration, ``rate`` for 1/time), so
the outcome survives any choice of units. ``target`` picks the regime: an oscillator can be asked
to settle (its stable side of the bifurcation), a growth motif to settle (enough degradation).
Sizes beyond the motif's own species are filled with downstream species that read the motif
without acting back on it (:func:`pad_downstream`).

:data:`MOTIF_OUTCOMES` lists, per motif, the outcomes ``target`` can ask for (the first is its
default); multistable motifs (Schloegl, toggle switch) settle, on a state that depends on the
initial values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from sbmleq.core.expr import mul, sym
from sbmleq.core.rn_families import FamilyFn, NetworkBuilder

__all__ = ["MOTIFS", "MOTIF_OUTCOMES", "MOTIF_MIN_SIZE", "pad_downstream"]

MOTIFS: dict[str, FamilyFn] = {}
MOTIF_OUTCOMES: dict[str, tuple[str, ...]] = {}
MOTIF_MIN_SIZE: dict[str, int] = {}


def motif(name: str, outcomes: tuple[str, ...], min_size: int = 2
          ) -> Callable[[FamilyFn], FamilyFn]:
    def deco(fn: FamilyFn) -> FamilyFn:
        MOTIFS[name] = fn
        MOTIF_OUTCOMES[name] = outcomes
        MOTIF_MIN_SIZE[name] = min_size
        return fn

    return deco


def _lu(b: NetworkBuilder, lo: float, hi: float) -> float:
    """Log-uniform on [lo, hi] (a value draw)."""
    return float(math.exp(b.v.uniform(math.log(lo), math.log(hi))))


def _x0(b: NetworkBuilder, scale: float = 1.0) -> float:
    return b.scaled(scale, conc=1.0, jitter=1.0)


def pad_downstream(b: NetworkBuilder, n: int, sources: Sequence[str]) -> None:
    """Add species driven by ``sources`` (read as modifiers, never consumed) until ``n``
    floating species: each new species is produced under the control of an existing one,
    sometimes converted onwards, and always degraded linearly, so the motif's own dynamics
    and outcome are unchanged and the padding follows them."""
    pool = list(sources)
    while len(b.floating) < n:
        d = b.add_species("D")
        up = b.pick(pool)[0]
        kind = int(b.s.integers(0, 3))
        if kind == 0:
            rid = b.next_id()
            b.add(rid, [], [(d, 1)], mul(b.param(rid, "k", b.rand()), sym(up)), "mass_action")
        else:
            b.regulated_production(d, [(up, "act" if kind == 1 else "inh")], (1, 4))
        if len(pool) > len(sources) and b.s.random() < 0.3:
            src = b.pick(pool[len(sources):])[0]
            b.michaelis_menten(src, [(d, 1)])
        b.degradation(d)
        pool.append(d)


@motif("brusselator", ("oscillates", "settles"))
def brusselator(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """-> X (a), X -> Y (b), 2X + Y -> 3X, X -> : oscillates iff b > 1 + a^2."""
    osc = target != "settles"
    a = _lu(b, 0.5, 2.0)
    bb = (1 + a * a) * (_lu(b, 1.3, 3.0) if osc else _lu(b, 0.2, 0.8))
    x, y = b.add_species("X", _x0(b, a)), b.add_species("Y", _x0(b, bb / a))
    b.intake(x, k=b.scaled(a, conc=1, rate=1, jitter=0))
    b.mass_action([(x, 1)], [(y, 1)], k=b.scaled(bb, rate=1, jitter=0))
    b.mass_action([(x, 2), (y, 1)], [(x, 3)], k=b.scaled(1.0, conc=-2, rate=1))
    b.degradation(x, k=b.scaled(1.0, rate=1, jitter=0))
    pad_downstream(b, n, [x, y])


@motif("selkov", ("oscillates", "settles"))
def selkov(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Substrate-depletion oscillator (Sel'kov glycolysis): -> Y (b), Y -> X (a),
    Y + 2X -> 3X, X -> . Oscillates iff b^4 + (2a - 1) b^2 + a + a^2 < 0 (needs a < 1/8)."""
    a = _lu(b, 0.01, 0.09)
    disc = math.sqrt(1 - 8 * a)
    u1, u2 = (1 - 2 * a - disc) / 2, (1 - 2 * a + disc) / 2  # b^2 between them: oscillates
    if target != "settles":
        u = u1 + (u2 - u1) * b.v.uniform(0.25, 0.75)
    else:
        u = u2 * _lu(b, 1.5, 4.0) if b.v.random() < 0.7 else u1 * _lu(b, 0.1, 0.5)
    bb = math.sqrt(u)
    x, y = b.add_species("X", _x0(b, bb)), b.add_species("Y", _x0(b, bb / (a + u)))
    b.intake(y, k=b.scaled(bb, conc=1, rate=1, jitter=0))
    b.mass_action([(y, 1)], [(x, 1)], k=b.scaled(a, rate=1, jitter=0))
    b.mass_action([(y, 1), (x, 2)], [(x, 3)], k=b.scaled(1.0, conc=-2, rate=1, jitter=0))
    b.degradation(x, k=b.scaled(1.0, rate=1, jitter=0))
    pad_downstream(b, n, [x, y])


@motif("repressilator", ("oscillates", "settles"), min_size=6)
def repressilator(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """An odd ring of genes (3 or 5; mRNA and protein), each repressed by the previous protein
    with Hill kinetics: oscillates for strong repression (Hill n >= 2, high transcription)."""
    genes = 3 if n < 10 or b.s.random() < 0.5 else 5
    osc = target != "settles"
    weak = not osc and b.v.random() < 0.5  # settles by n = 1, else by weak transcription
    beta = _lu(b, 1.0, 10.0)
    ms = [b.add_species("M", _x0(b)) for _ in range(genes)]
    ps = [b.add_species("P", _x0(b, 10.0)) for _ in range(genes)]
    for i in range(genes):
        hill_n = float(b.v.integers(2, 5)) if osc or not weak else 1.0
        alpha = _lu(b, 100.0, 1000.0) if osc or weak else _lu(b, 0.3, 1.5)
        b.regulated_production(ms[i], [(ps[i - 1], "inh")], (2, 4),
                               v=b.scaled(alpha, conc=1, rate=1), k=b.scaled(1.0, conc=1),
                               n=hill_n)
        b.intake(ms[i], k=b.scaled(alpha * 1e-3, conc=1, rate=1))
        b.degradation(ms[i], k=b.scaled(1.0, rate=1))
        rid = b.next_id()
        b.add(rid, [], [(ps[i], 1)], mul(b.param(rid, "k", b.scaled(beta, rate=1)),
                                           sym(ms[i])), "mass_action")
        b.degradation(ps[i], k=b.scaled(beta, rate=1))
    pad_downstream(b, n, ms + ps)


@motif("goodwin", ("oscillates", "settles"), min_size=3)
def goodwin(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Goodwin loop: X1 produced under Hill repression by X_L, each X_i made from X_{i-1} and
    degraded. Oscillates when the loop gain n exceeds sec(pi/L)^L (L = 6-10, n = 3-4 with
    strong production: 2.37 at L = 6); settles with n = 1."""
    osc = target != "settles"
    length = int(b.s.integers(6, 11)) if osc else int(b.s.integers(3, 11))
    length = max(min(length, n), 6 if osc else 3)
    xs = [b.add_species("G", _x0(b)) for _ in range(length)]
    hill_n = float(b.v.integers(3, 5)) if osc else 1.0
    gain = math.cos(math.pi / length) ** (-length)
    v = _lu(b, 30.0, 300.0) if osc or hill_n > gain else _lu(b, 0.5, 50.0)
    b.regulated_production(xs[0], [(xs[-1], "inh")], (1, 4), v=b.scaled(v, conc=1, rate=1),
                           k=b.scaled(1.0, conc=1), n=hill_n)
    for i, x in enumerate(xs):
        if i:
            rid = b.next_id()
            b.add(rid, [], [(x, 1)], mul(b.param(rid, "k", b.scaled(1.0, rate=1, jitter=0.1)),
                                         sym(xs[i - 1])), "mass_action")
        b.degradation(x, k=b.scaled(1.0, rate=1, jitter=0.1))
    pad_downstream(b, n, xs)


@motif("autocatalysis", ("grows", "settles"))
def autocatalysis(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """X + F -> 2X (F a constant food species) against X -> : grows iff k F > d; or quadratic
    autocatalysis 2X -> 3X with intake s and degradation d: runs away iff d^2 < 4 s k."""
    grow = target != "settles"
    x = b.add_species("X", _x0(b))
    b.intake(x, k=b.scaled(1.0, conc=1, rate=1))
    if b.s.random() < 0.5:
        food = b.add_species("F", initial=b.scaled(1.0, conc=1), boundary=True)
        ratio = _lu(b, 1.5, 5.0) if grow else _lu(b, 0.1, 0.7)
        b.mass_action([(x, 1), (food, 1)], [(x, 2), (food, 1)],
                      k=b.scaled(ratio, conc=-1, rate=1, jitter=0))
        b.degradation(x, k=b.scaled(1.0, rate=1, jitter=0))
    else:  # dx/dt = s + k x^2 - d x with s = 1 (units), d = 1: runs away iff k > 1/4
        k = 0.25 * (_lu(b, 1.5, 6.0) if grow else _lu(b, 0.05, 0.5))
        b.mass_action([(x, 2)], [(x, 3)], k=b.scaled(k, conc=-1, rate=1, jitter=0))
        b.degradation(x, k=b.scaled(1.0, rate=1, jitter=0))
    pad_downstream(b, n, [x])


@motif("saturated_drain", ("grows", "settles"))
def saturated_drain(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """-> S at v, S -> by Michaelis-Menten with Vmax: S grows without bound iff v > Vmax."""
    s = b.add_species("S", _x0(b))
    ratio = _lu(b, 0.2, 0.7) if target != "settles" else _lu(b, 1.5, 5.0)
    b.intake(s, k=b.scaled(1.0, conc=1, rate=1, jitter=0))
    b.degradation(s, saturable=True, k=b.scaled(ratio, conc=1, rate=1, jitter=0))
    pad_downstream(b, n, [s])


@motif("schlogl", ("settles",))
def schlogl(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Schloegl: A + 2X <-> 3X, B <-> X (A, B constant), built from three positive roots
    r1 < r2 < r3 of its cubic: bistable (r1 and r3 stable), the state reached depends on x0."""
    r1 = 1.0
    r2 = r1 * _lu(b, 2.0, 5.0)
    r3 = r2 * _lu(b, 2.0, 5.0)
    x = b.add_species("X", b.scaled(1.0, conc=1, jitter=0) * _lu(b, r1 / 3, 3 * r3))
    a = b.add_species("A", initial=b.scaled(1.0, conc=1, jitter=0), boundary=True)
    bs = b.add_species("B", initial=b.scaled(1.0, conc=1, jitter=0), boundary=True)
    b.mass_action([(a, 1), (x, 2)], [(x, 3)], reversible=True,
                  k=b.scaled(r1 + r2 + r3, conc=-2, rate=1, jitter=0),
                  kr=b.scaled(1.0, conc=-2, rate=1, jitter=0))
    b.mass_action([(bs, 1)], [(x, 1)], reversible=True,
                  k=b.scaled(r1 * r2 * r3, rate=1, jitter=0),
                  kr=b.scaled(r1 * r2 + r1 * r3 + r2 * r3, rate=1, jitter=0))
    pad_downstream(b, n, [x])


@motif("toggle_switch", ("settles",))
def toggle_switch(b: NetworkBuilder, n: int, target: str | None = None) -> None:
    """Two genes repressing each other with Hill n >= 2 and strong production: bistable."""
    u, w = b.add_species("U", _x0(b, 3.0)), b.add_species("V", _x0(b, 3.0))
    for this, other in ((u, w), (w, u)):
        b.regulated_production(this, [(other, "inh")], (2, 4),
                               v=b.scaled(_lu(b, 4.0, 40.0), conc=1, rate=1),
                               k=b.scaled(1.0, conc=1))
        b.degradation(this, k=b.scaled(1.0, rate=1))
    pad_downstream(b, n, [u, w])
