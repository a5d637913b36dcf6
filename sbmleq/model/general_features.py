"""Scale-free graph features of a general reaction network (pure NumPy; torch only in the model).

A :class:`~sbmleq.core.reactions.ReactionNetwork` becomes a bipartite graph: one *species node*
per species (then one per rate-rule variable), one *reaction node* per reaction, and a dense
species x reaction edge tensor with the roles (reactant / product / modifier / read by the law)
and the stoichiometries.

Scale-free: every log10 value the model sees (initial values, compartment sizes, conserved
totals, rate-law parameters) is taken relative to one per-network *reference*
``r = mean log10`` of the positive initial values, parameter values and compartment sizes.
Multiplying all of them by ``10**k`` shifts every log value and ``r`` by ``k``, so the features
are unchanged and only ``r`` moves. The model predicts ``y = log10(x) - r`` per species;
:func:`to_concentrations` maps it back with the example's reference.

:func:`collate` pads examples of different sizes into one :class:`GraphBatch` with masks.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sbmleq.core.expr import symbols
from sbmleq.core.families import FAMILIES
from sbmleq.core.reaction_generators import expr_to_json
from sbmleq.core.reactions import ReactionNetwork

__all__ = ["FEATURE_VERSION", "SPECIES_FEATURES", "REACTION_FEATURES", "EDGE_FEATURES",
           "Y_CLIP", "GraphExample", "GraphBatch", "network_features", "targets",
           "collate", "collate_targets", "to_concentrations", "structure_digest", "compile_key"]

FEATURE_VERSION = 1
FAMILY_SLOTS = tuple(FAMILIES) + ("unclassified",)
SPECIES_FEATURES = ("log_initial", "initial_zero", "log_compartment", "amount", "boundary",
                    "constant", "state", "rate_rule", "n_laws", "dependent", "log_pool_total",
                    "in_pool", "n_as_reactant", "n_as_product", "n_as_modifier")
REACTION_FEATURES = tuple(f"family:{f}" for f in FAMILY_SLOTS) + (
    "reversible", "n_params", "log_param_mean", "log_param_min", "log_param_max",
    "zero_params", "n_reactants", "n_products", "n_modifiers", "reactant_order",
    "product_order")
EDGE_FEATURES = ("reactant", "product", "modifier", "read_by_law", "reactant_stoich",
                 "product_stoich", "net_stoich")
Y_CLIP = 12.0  # targets are clipped to r +- 12 decades
DYNAMIC_RANGE = 8.0  # and floored 8 decades below the network's largest state value


@dataclass(frozen=True)
class GraphExample:
    """One network's features. ``node_ids``: species ids then rate-rule variables;
    ``state_index[i]``: node i's position in the network's state vector (-1: not state)."""

    node_ids: tuple[str, ...]
    state_index: np.ndarray  # (S,) int64
    species_x: np.ndarray  # (S, len(SPECIES_FEATURES)) float32
    reaction_x: np.ndarray  # (R, len(REACTION_FEATURES)) float32
    edges: np.ndarray  # (S, R, len(EDGE_FEATURES)) float32
    reference: float  # per-network log10 scale (see the module docstring)
    decades: float  # spread (max - min) of the log10 values the reference is taken over
    families: tuple[str, ...]  # rate-law families of the reactions

    @property
    def n_species(self) -> int:
        return len(self.node_ids)

    @property
    def n_reactions(self) -> int:
        return int(self.reaction_x.shape[0])


@dataclass
class GraphBatch:
    """Padded examples: ``*_mask`` True at real positions."""

    species_x: np.ndarray  # (B, S, FS)
    species_mask: np.ndarray  # (B, S) bool
    state_mask: np.ndarray  # (B, S) bool: the node is a state variable
    state_index: np.ndarray  # (B, S) int64, -1 at padding / non-state
    reaction_x: np.ndarray  # (B, R, FR)
    reaction_mask: np.ndarray  # (B, R) bool
    edges: np.ndarray  # (B, S, R, FE)
    reference: np.ndarray  # (B,) float64

    def __len__(self) -> int:
        return int(self.species_x.shape[0])


def _log(v: float) -> float:
    return math.log10(v) if v > 0 else 0.0


def structure_digest(net: ReactionNetwork) -> str:
    """A stable digest of the structure (species, reactions, laws, parameter names; no values):
    equal for the networks of one generated group, used to split train/val by structure."""
    d = {"species": [[s.id, s.compartment, s.amount, s.boundary, s.constant] for s in net.species],
         "reactions": [[r.id, [list(x) for x in r.reactants], [list(x) for x in r.products],
                        expr_to_json(r.rate), list(r.modifiers)] for r in net.reactions],
         "parameters": sorted(net.parameters), "compartments": sorted(net.compartments),
         "rules": [[rule.variable, expr_to_json(rule.rate)] for rule in net.rate_rules]}
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def network_features(net: ReactionNetwork,
                     x0: Mapping[str, float] | Sequence[float] | None = None) -> GraphExample:
    """The scale-free graph of ``net`` (initial values from ``x0`` when given: by state id or a
    full state vector)."""
    if x0 is not None:
        net = net.with_initial(x0)
    ruled = [rule.variable for rule in net.rate_rules]
    node_ids = tuple(s.id for s in net.species if s.id not in set(ruled)) + tuple(ruled)
    state_pos = {sid: k for k, sid in enumerate(net.state_ids)}
    species = net.species_by_id()
    species_ids = set(species)
    values = {s.id: s.initial for s in net.species}
    values.update({v: net.parameters.get(v, 0.0) for v in ruled})

    # the reference: mean log10 over every positive value the features are made of
    read_params: list[list[float]] = []
    for r in net.reactions:
        names = sorted(symbols(r.rate) - species_ids - set(net.compartments) - set(ruled))
        read_params.append([net.parameters[p] for p in names if p in net.parameters])
    pool = ([values[i] for i in node_ids] + [p for ps in read_params for p in ps]
            + list(net.compartments.values()))
    logs = np.log10(np.array([v for v in pool if v > 0 and math.isfinite(v)] or [1.0]))
    ref = float(logs.mean())
    decades = float(logs.max() - logs.min())

    # conserved pools: per species, laws containing it and the largest total among them
    k_state = len(net.state_species)
    laws = net.conservation.matrix if k_state else np.zeros((0, 0))
    totals = np.atleast_1d(net.conserved_totals()) if laws.size else np.zeros(0)
    law_index = {s.id: j for j, s in enumerate(net.state_species)}
    dependent = ({net.state_species[j].id for j in net.conservation.dependent} if laws.size
                 else set())

    n_s, n_r = len(node_ids), len(net.reactions)
    sx = np.zeros((n_s, len(SPECIES_FEATURES)), dtype=np.float32)
    rx = np.zeros((n_r, len(REACTION_FEATURES)), dtype=np.float32)
    ex = np.zeros((n_s, n_r, len(EDGE_FEATURES)), dtype=np.float32)
    node = {sid: i for i, sid in enumerate(node_ids)}
    for j, r in enumerate(net.reactions):
        read = symbols(r.rate)
        for sid, st in r.reactants:
            ex[node[sid], j, 0] = 1.0
            ex[node[sid], j, 4] += st
        for sid, st in r.products:
            ex[node[sid], j, 1] = 1.0
            ex[node[sid], j, 5] += st
        for sid in r.modifiers:
            ex[node[sid], j, 2] = 1.0
        for sid in read:
            if sid in node:
                ex[node[sid], j, 3] = 1.0
        fam = r.family if r.family in FAMILIES else "unclassified"
        rx[j, FAMILY_SLOTS.index(fam)] = 1.0
        ps = read_params[j]
        pos = [math.log10(p) - ref for p in ps if p > 0]
        rx[j, len(FAMILY_SLOTS):] = [
            float(r.reversible), math.log1p(len(ps)),
            float(np.mean(pos)) if pos else 0.0, min(pos, default=0.0), max(pos, default=0.0),
            (len(ps) - len(pos)) / max(len(ps), 1), math.log1p(len(r.reactants)),
            math.log1p(len(r.products)), math.log1p(len(r.modifiers)),
            sum(st for _, st in r.reactants), sum(st for _, st in r.products)]
    ex[..., 6] = ex[..., 5] - ex[..., 4]

    state_index = np.full(n_s, -1, dtype=np.int64)
    for i, sid in enumerate(node_ids):
        value = values[sid]
        sp = species.get(sid)
        is_rule = sp is None or sid in ruled
        comp = net.compartments.get(sp.compartment, 1.0) if sp is not None else 1.0
        in_laws = (np.flatnonzero(laws[:, law_index[sid]]) if sid in law_index and laws.size
                   else np.zeros(0, dtype=int))
        # in the species' own unit (amount totals over its volume): scales like its value
        vol = net.volumes[law_index[sid]] if sid in law_index else 1.0
        pool_total = max((totals[k] / vol for k in in_laws), default=0.0)
        sx[i] = [_log(value) - ref if value > 0 else 0.0, float(value <= 0),
                 math.log10(comp) - ref, float(bool(sp and sp.amount)),
                 float(bool(sp and sp.boundary)), float(bool(sp and sp.constant)),
                 float(sid in state_pos), float(is_rule), math.log1p(len(in_laws)),
                 float(sid in dependent), _log(pool_total) - ref if pool_total > 0 else 0.0,
                 float(len(in_laws) > 0), math.log1p(float(ex[i, :, 0].sum())),
                 math.log1p(float(ex[i, :, 1].sum())), math.log1p(float(ex[i, :, 2].sum()))]
        state_index[i] = state_pos.get(sid, -1)
    return GraphExample(node_ids, state_index, sx, rx, ex, ref, decades,
                        tuple(r.family or "unclassified" for r in net.reactions))


def targets(example: GraphExample, state: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
    """(y, mask) per node: ``log10(state) - reference`` at state nodes (floored
    :data:`DYNAMIC_RANGE` decades below the largest, clipped to +-:data:`Y_CLIP`: a species
    driven to ~0 stays a finite target); mask False elsewhere or when there is no state."""
    n = example.n_species
    y, mask = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=bool)
    if state is None:
        return y, mask
    x = np.asarray(state, dtype=np.float64)
    ok = example.state_index >= 0
    vals = x[example.state_index[ok]]
    finite = np.isfinite(vals) & (vals >= 0)
    with np.errstate(divide="ignore"):
        logs = np.log10(np.maximum(vals, 1e-300)) - example.reference
    if finite.any():  # a species ~0 at steady state: floored DYNAMIC_RANGE below the largest
        logs = np.maximum(logs, logs[finite].max() - DYNAMIC_RANGE)
    idx = np.flatnonzero(ok)
    y[idx] = np.clip(np.where(finite, logs, 0.0), -Y_CLIP, Y_CLIP)
    mask[idx] = finite
    return y, mask


def collate(examples: Sequence[GraphExample]) -> GraphBatch:
    """Pad ``examples`` to the largest species and reaction counts among them."""
    b = len(examples)
    s = max((e.n_species for e in examples), default=1) or 1
    r = max((e.n_reactions for e in examples), default=1) or 1
    out = GraphBatch(np.zeros((b, s, len(SPECIES_FEATURES)), np.float32),
                     np.zeros((b, s), bool), np.zeros((b, s), bool),
                     np.full((b, s), -1, np.int64),
                     np.zeros((b, r, len(REACTION_FEATURES)), np.float32),
                     np.zeros((b, r), bool),
                     np.zeros((b, s, r, len(EDGE_FEATURES)), np.float32),
                     np.array([e.reference for e in examples], dtype=np.float64))
    for k, e in enumerate(examples):
        ns, nr = e.n_species, e.n_reactions
        out.species_x[k, :ns] = e.species_x
        out.species_mask[k, :ns] = True
        out.state_index[k, :ns] = e.state_index
        out.state_mask[k, :ns] = e.state_index >= 0
        out.reaction_x[k, :nr] = e.reaction_x
        out.reaction_mask[k, :nr] = True
        out.edges[k, :ns, :nr] = e.edges
    return out


def collate_targets(pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                    n_species: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad per-example ``(y, mask)`` from :func:`targets` to ``n_species`` nodes."""
    y = np.zeros((len(pairs), n_species), np.float32)
    m = np.zeros((len(pairs), n_species), bool)
    for k, (yk, mk) in enumerate(pairs):
        y[k, :len(yk)], m[k, :len(mk)] = yk, mk
    return y, m


def to_concentrations(example: GraphExample, y: np.ndarray, n_state: int) -> np.ndarray:
    """The predicted state vector (per state id, in the network's units) from node outputs
    ``y`` (normalised log10, at least ``example.n_species`` long)."""
    x = np.full(n_state, np.nan)
    y = np.asarray(y, dtype=np.float64)[:example.n_species]
    ok = example.state_index >= 0
    x[example.state_index[ok]] = 10.0 ** (y[ok] + example.reference)
    return x


def compile_key(net: ReactionNetwork) -> str:
    """The key under which a compiled network may be reused for ``net``'s rates:
    :func:`~sbmleq.model.general_features.structure_digest` plus the order of the state and
    parameter vectors. The digest sorts parameter and compartment names, so two networks of one
    structure can have one digest and differently ordered ``parameter_vector()`` s; a compile
    shared between them would read each parameter at the other's position."""
    order = "\x1f".join(net.state_ids) + "\x1e" + "\x1f".join(net.parameter_ids)
    return structure_digest(net) + hashlib.sha1(order.encode()).hexdigest()[:8]
