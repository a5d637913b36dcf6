"""Conversions between the LIFE :class:`Network` and the general :class:`ReactionNetwork`.

LIFE dynamics (concentrations ``x``)::

    dx_j/dt = phi_j + sum_i w_ij x_i - (sum_k w_jk) x_j - e_j x_j

:func:`reaction_network_from_life` writes that as reactions in one compartment of size 1, every
species a concentration, with laws in substance per time as SBML wants them (the same mapping as
:mod:`sbmleq.io.sbml_export`):

- intake into ``S``: ``-> S`` with law ``phi_S * compartment`` (family :data:`ZERO_ORDER`);
- edge ``S -> T``: ``S -> T`` with law ``k_S_T * S * compartment`` (:data:`MASS_ACTION_1`);
- excretion of ``S``: ``S ->`` with law ``e_S * S * compartment`` (:data:`MASS_ACTION_1`).

Rate constants are global parameters; species ids are the node ids, unchanged.

:func:`life_from_reaction_network` goes back, for any network in the LIFE class, however it is
written: every law is read on its value, with the constants (parameters, compartment sizes,
boundary and constant species) substituted, so ``k*S*V``, ``k*S`` or ``(k1 - k2)*S/V*V`` are all
first order. The class (:func:`why_not_life` says which condition fails): no rate rules; per
reaction, at most one floating species consumed and one produced, each with net stoichiometry 1
(boundary and constant species do not count); a law that is a constant >= 0 when nothing floating
is consumed (an intake) and ``c * S`` with ``c >= 0`` when ``S`` is consumed (an edge, or an
excretion when nothing floating is produced); an edge's two species divided by the same volume (so
that what leaves one arrives in the other). Parallel reactions add up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from sbmleq.core.expr import Expr, Num, Op, Sym, mul, substitute
from sbmleq.core.network import Network
from sbmleq.core.reactions import Reaction, ReactionNetwork, Species
from sbmleq.errors import NetworkError

__all__ = ["reaction_network_from_life", "life_from_reaction_network", "why_not_life",
           "MASS_ACTION_1", "ZERO_ORDER"]

MASS_ACTION_1 = "mass_action_1"  # first-order mass action: k * S (* compartment)
ZERO_ORDER = "zero_order"  # a constant flux: k (* compartment)


def _unique(stem: str, used: set[str]) -> str:
    """``stem``, or ``stem_2``, ``stem_3``... when taken; reserves the result in ``used``."""
    out, k = stem, 1
    while out in used:
        k += 1
        out = f"{stem}_{k}"
    used.add(out)
    return out


def _initial_values(net: Network, initial: Mapping[str, float] | Sequence[float] | None
                    ) -> list[float]:
    if initial is None:
        return [0.0] * net.n_nodes
    if isinstance(initial, Mapping):
        unknown = sorted(set(map(str, initial)) - set(net.nodes))
        if unknown:
            raise NetworkError(f"initial values for unknown node(s) {', '.join(unknown[:5])}",
                               source=net.name or "network")
        return [float(initial.get(node, 0.0)) for node in net.nodes]
    values = [float(v) for v in np.asarray(initial, dtype=np.float64).reshape(-1)]
    if len(values) != net.n_nodes:
        raise NetworkError(f"{len(values)} initial values for {net.n_nodes} nodes",
                           source=net.name or "network")
    return values


def reaction_network_from_life(net: Network, initial: Mapping[str, float] | Sequence[float]
                               | None = None) -> ReactionNetwork:
    """``net`` as reactions (see the module docstring). ``initial``: concentrations by node id or
    in node order (default 0)."""
    x0 = _initial_values(net, initial)
    used = set(net.nodes)
    comp = _unique("compartment", used)
    species = tuple(Species(node, comp, x) for node, x in zip(net.nodes, x0))
    params: dict[str, float] = {}
    reactions: list[Reaction] = []

    def add(stem: str, pstem: str, value: float, reactant: str | None, product: str | None) -> None:
        pid = _unique(pstem, used)
        params[pid] = float(value)
        rid = _unique(stem, used)
        law: Expr = mul(Sym(pid), Sym(reactant), Sym(comp)) if reactant else mul(Sym(pid),
                                                                               Sym(comp))
        reactions.append(Reaction(rid, ((reactant, 1.0),) if reactant else (),
                                  ((product, 1.0),) if product else (), law,
                                  family=MASS_ACTION_1 if reactant else ZERO_ORDER))

    nodes = net.nodes
    for k in net.intake_nodes:
        add(f"intake_{nodes[k]}", f"phi_{nodes[k]}", net.intake[k], None, nodes[k])
    for s, t, w in zip(net.src, net.dst, net.weight):
        a, b = nodes[int(s)], nodes[int(t)]
        add(f"edge_{a}_{b}", f"k_{a}_{b}", w, a, b)
    for k in net.excreting_nodes:
        add(f"excretion_{nodes[k]}", f"e_{nodes[k]}", net.excretion[k], nodes[k], None)
    return ReactionNetwork(species, tuple(reactions), params, {comp: 1.0}, name=net.name)


# ------------------------------------------------------------------ back to LIFE
def _first_order(law: Expr) -> tuple[float, str | None] | None:
    """``(c, None)`` for a constant law, ``(c, S)`` for ``c * S``; None for anything else."""
    if isinstance(law, Num):
        return law.value, None
    if isinstance(law, Sym):
        return 1.0, law.name
    if isinstance(law, Op) and law.op == "mul" and len(law.args) == 2:
        c, s = law.args
        if isinstance(c, Num) and isinstance(s, Sym):
            return c.value, s.name
    return None


def _life_parts(rn: ReactionNetwork) -> Network | str:
    """The LIFE network, or the reason why ``rn`` is not one."""
    where = rn.name or "network"
    if rn.rate_rules:
        return f"it has rate rules ({rn.rate_rules[0].variable})"
    nodes = [s.id for s in rn.state_species]
    if not nodes:
        return "it has no floating species"
    index = {x: i for i, x in enumerate(nodes)}
    by_id = rn.species_by_id()
    constants: dict[str, float] = {**rn.compartments, **rn.parameters,
                                   **{s.id: s.initial for s in rn.species if s.id not in index}}
    volume = [1.0 if by_id[x].amount else constants[by_id[x].compartment] for x in nodes]
    edges: dict[tuple[int, int], float] = {}
    intake = np.zeros(len(nodes))
    excretion = np.zeros(len(nodes))
    for r in rn.reactions:
        net_st: dict[str, float] = {}
        for sid, st in r.reactants:
            net_st[sid] = net_st.get(sid, 0.0) - st
        for sid, st in r.products:
            net_st[sid] = net_st.get(sid, 0.0) + st
        movers = {s: v for s, v in net_st.items() if s in index and v != 0.0}
        if any(v not in (-1.0, 1.0) for v in movers.values()):
            return f"reaction {r.id}: a stoichiometry other than 1"
        lost = [s for s, v in movers.items() if v < 0]
        gained = [s for s, v in movers.items() if v > 0]
        if len(lost) > 1 or len(gained) > 1:
            return f"reaction {r.id}: more than one floating reactant or product"
        if not movers:
            continue  # changes no state variable
        form = _first_order(substitute(r.rate, constants))
        src = lost[0] if lost else None
        if form is not None and form[0] == 0.0:
            continue  # a law that is identically 0
        if form is None or form[1] != src:
            return (f"reaction {r.id}: the law is not first order in its reactant"
                    if src else f"reaction {r.id}: the law of an inflow is not constant")
        c = form[0]
        if not (math.isfinite(c) and c > 0.0):
            return f"reaction {r.id}: a negative or non-finite rate constant ({c!r})"
        if src is None:
            t = index[gained[0]]
            intake[t] += c / volume[t]
            continue
        s = index[src]
        if not gained:
            excretion[s] += c / volume[s]
            continue
        t = index[gained[0]]
        if volume[s] != volume[t]:
            return (f"reaction {r.id}: {src} and {gained[0]} are divided by different volumes "
                    f"({volume[s]!r} and {volume[t]!r})")
        edges[s, t] = edges.get((s, t), 0.0) + c / volume[s]
    keys = sorted(edges)
    try:
        return Network(tuple(nodes), np.array([k[0] for k in keys], dtype=np.int64),
                       np.array([k[1] for k in keys], dtype=np.int64),
                       np.array([edges[k] for k in keys], dtype=np.float64), intake, excretion,
                       name=rn.name)
    except NetworkError as exc:
        return f"not a valid LIFE network ({exc.message}) in {where}"


def life_from_reaction_network(rn: ReactionNetwork) -> Network | None:
    """The LIFE network with the same dynamics as ``rn`` (nodes: its floating species, in
    order), or None when ``rn`` is not in the LIFE class (see :func:`why_not_life`)."""
    out = _life_parts(rn)
    return out if isinstance(out, Network) else None


def why_not_life(rn: ReactionNetwork) -> str | None:
    """None when ``rn`` is in the LIFE class, else the first condition that fails (one line)."""
    out = _life_parts(rn)
    return None if isinstance(out, Network) else out
