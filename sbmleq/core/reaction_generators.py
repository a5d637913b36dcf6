"""Seeded random general reaction networks, in a registry, grouped by structure.

:data:`GENERATORS` maps a family name to a function ``fn(builder, n_species, target)`` that fills
a :class:`~sbmleq.core.rn_families.NetworkBuilder`: the general families of
:mod:`sbmleq.core.rn_families` (mass action, Michaelis-Menten, Hill, modifiers, zero order,
enzyme complexes, phosphorylation cycles, intake/degradation, mixed) and the motifs with a known
outcome of :mod:`sbmleq.core.rn_motifs` (oscillators, growth, bistable switches).
:func:`build_network` turns a (family, size, structure seed, value seed) into a validated
:class:`~sbmleq.core.reactions.ReactionNetwork` whose reactions carry their family
(:func:`sbmleq.core.families.classify`).

Networks come in *groups*: members share one structure seed (same species, reactions and rate
laws: the same :func:`structure_key`) and differ in their value seed (parameter values and
initial state), so a labeller compiles each structure once and solves the group as a batch.
:class:`RNConfig` says what to draw; ``target`` asks for an outcome (``settles``, ``oscillates``,
``grows``): only families able to produce it are drawn, in their regime for it.
:func:`balanced_sample` labels as it goes and rebalances towards equal outcome counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from sbmleq.core.expr import ARITY, Expr, Num, Op, Sym
from sbmleq.core.families import classify
from sbmleq.core.reactions import RateRule, Reaction, ReactionNetwork, Species
from sbmleq.core.rn_families import FAMILIES, FamilyFn, NetworkBuilder
from sbmleq.core.rn_motifs import MOTIF_MIN_SIZE, MOTIF_OUTCOMES, MOTIFS
from sbmleq.errors import NetworkError

__all__ = ["GENERATORS", "OUTCOMES", "FAMILY_OUTCOMES", "RNConfig", "build_network", "min_size",
           "sample_group", "sample_networks", "generate_networks", "structure_key",
           "families_for", "balanced_sample", "BalanceReport", "network_to_dict",
           "network_from_dict", "expr_to_json", "expr_from_json"]

OUTCOMES = ("settles", "oscillates", "grows")
GENERATORS: dict[str, FamilyFn] = {**FAMILIES, **MOTIFS}
# what ``target`` may ask of each family; general families mostly settle (labels say)
FAMILY_OUTCOMES: dict[str, tuple[str, ...]] = {**{f: ("settles",) for f in FAMILIES},
                                               **MOTIF_OUTCOMES}
MIN_SIZE: dict[str, int] = {**{f: 2 for f in FAMILIES}, "enzyme_complex": 4,
                            "phosphorylation": 4, **MOTIF_MIN_SIZE}
MAX_SPECIES = 64


def min_size(family: str, target: str | None = None) -> int:
    """The fewest floating species ``family`` builds (for ``target``)."""
    if family == "goodwin" and target != "settles":  # oscillating loops need 6 stages
        return 6
    return MIN_SIZE[family]


def families_for(target: str | None, families: Sequence[str] | None = None,
                 n_max: int = MAX_SPECIES) -> tuple[str, ...]:
    """The families (of ``families``, default all) that can be asked for ``target`` within
    ``n_max`` species."""
    pool = tuple(GENERATORS) if families is None else tuple(families)
    if target is not None and target not in OUTCOMES:
        raise ValueError(f"unknown target outcome {target!r}; known: {OUTCOMES}")
    return tuple(f for f in pool if (target is None or target in FAMILY_OUTCOMES[f])
                 and min_size(f, target) <= n_max)


@dataclass(frozen=True)
class RNConfig:
    """What to generate: families drawn uniformly (from those able to reach ``target``),
    sizes ``n_min..n_max`` floating species (clipped to each family's minimum), constants
    log-uniform over ``decades`` decades, ``group_size`` networks per structure."""

    families: tuple[str, ...] = tuple(GENERATORS)
    n_min: int = 2
    n_max: int = 64
    decades: float = 3.0
    target: str | None = None
    group_size: int = 8

    def __post_init__(self) -> None:
        unknown = sorted(set(self.families) - set(GENERATORS))
        if unknown:
            raise ValueError(f"unknown reaction-network families {unknown}; known: "
                             f"{sorted(GENERATORS)}")
        if not 2 <= self.n_min <= self.n_max <= MAX_SPECIES:
            raise ValueError(f"need 2 <= n_min <= n_max <= {MAX_SPECIES}")
        if not (self.decades >= 0 and math.isfinite(self.decades)):
            raise ValueError("decades must be finite and >= 0")
        if self.group_size < 1:
            raise ValueError("group_size must be >= 1")
        if not families_for(self.target, self.families, self.n_max):
            raise ValueError(f"none of {self.families} can target {self.target!r} within "
                             f"{self.n_max} species")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_network(family: str, n_species: int, structure_seed: int, value_seed: int,
                  decades: float = 3.0, target: str | None = None,
                  laws: Sequence[str] | None = None) -> ReactionNetwork:
    """One network: ``family``'s structure from ``structure_seed``, its values from
    ``value_seed``, ``max(n_species, min_size(family, target))`` floating species; reactions
    labelled by :func:`~sbmleq.core.families.classify` (or with ``laws``, one family per
    reaction, known from a network of the same structure)."""
    if family not in GENERATORS:
        raise ValueError(f"unknown reaction-network family {family!r}")
    n = max(int(n_species), MIN_SIZE[family])
    name = f"{family}:{target or '-'}:n{n}:s{structure_seed}:v{value_seed}"
    b = NetworkBuilder(np.random.default_rng(structure_seed), np.random.default_rng(value_seed),
                       decades, name)
    GENERATORS[family](b, n, target)
    ids = frozenset(s.id for s in b.species)
    labels = [classify(r, ids) for r in b.reactions] if laws is None else laws
    b.reactions = [replace(r, family=f) for r, f in zip(b.reactions, labels)]
    return b.build()


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**62))


def sample_group(cfg: RNConfig, rng: np.random.Generator,
                 size: int | None = None) -> list[ReactionNetwork]:
    """``size`` (default ``cfg.group_size``) networks of one random structure."""
    pool = families_for(cfg.target, cfg.families, cfg.n_max)
    family = pool[int(rng.integers(len(pool)))]
    n = int(rng.integers(max(cfg.n_min, min_size(family, cfg.target)), cfg.n_max + 1))
    size = cfg.group_size if size is None else size
    if size <= 0:
        return []
    structure = _seed(rng)
    first = build_network(family, n, structure, _seed(rng), cfg.decades, cfg.target)
    known = [r.family for r in first.reactions]  # the same laws: classified once
    return [first] + [build_network(family, n, structure, _seed(rng), cfg.decades, cfg.target,
                                    known)
                      for _ in range(size - 1)]


def sample_networks(cfg: RNConfig, rng: np.random.Generator,
                    count: int) -> list[ReactionNetwork]:
    """``count`` networks in groups of ``cfg.group_size`` (the last group may be smaller)."""
    out: list[ReactionNetwork] = []
    while len(out) < count:
        out += sample_group(cfg, rng, min(cfg.group_size, count - len(out)))
    return out


def generate_networks(cfg: RNConfig, count: int, seed: int) -> list[ReactionNetwork]:
    """``count`` networks, reproducible from ``seed``."""
    return sample_networks(cfg, np.random.default_rng(seed), count)


def structure_key(net: ReactionNetwork) -> Hashable:
    """Equal for networks that differ only in parameter values and initial values (so one
    compiled network serves them all)."""
    return (tuple((s.id, s.compartment, s.amount, s.boundary, s.constant) for s in net.species),
            tuple((r.id, r.reactants, r.products, r.rate) for r in net.reactions),
            tuple(net.parameters), tuple(net.compartments),
            tuple((rule.variable, rule.rate) for rule in net.rate_rules))


# ------------------------------------------------------------------ balancing over outcomes
@dataclass
class BalanceReport:
    """What :func:`balanced_sample` drew: per target, how many networks were proposed and
    which outcomes their labels gave."""

    quota: int
    proposed: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)  # target -> outcome -> n
    kept: dict[str, int] = field(default_factory=dict)

    def hit_rate(self, target: str) -> float:
        seen = self.proposed.get(target, 0)
        hits = self.outcomes.get(target, {}).get(target, 0)
        return (hits + 0.75) / (seen + 1.0)  # a prior of 3 in 4: never 0, not too timid


def balanced_sample(cfg: RNConfig, count: int, rng: np.random.Generator,
                    labeller: Callable[[Sequence[ReactionNetwork]], Sequence[Any]],
                    outcomes: Sequence[str] = OUTCOMES, max_rounds: int = 30,
                    max_batch: int = 512) -> tuple[list[ReactionNetwork], list[Any],
                                                   BalanceReport]:
    """About ``count`` labelled networks, ``count / len(outcomes)`` per outcome.

    Each round proposes, for every outcome still short of its quota, networks targeted at it
    (as many as its deficit over the hit rate seen so far), labels them with ``labeller``
    (networks -> labels with an ``outcome`` attribute) and keeps each network under the outcome
    its *label* gives, while that outcome has room; so the targets only steer the proposals,
    the labels decide. Stops after ``max_rounds`` (the report says what was reached)."""
    quota = -(-count // len(outcomes))
    report = BalanceReport(quota)
    kept: dict[str, list[tuple[ReactionNetwork, Any]]] = {o: [] for o in outcomes}
    for _ in range(max_rounds):
        short = [o for o in outcomes if len(kept[o]) < quota]
        if not short:
            break
        for target in short:
            deficit = quota - len(kept[target])
            if deficit <= 0:
                continue
            m = int(min(max_batch, math.ceil(deficit / report.hit_rate(target))))
            m = max(cfg.group_size, -(-m // cfg.group_size) * cfg.group_size)
            aim = target if families_for(target, cfg.families, cfg.n_max) else None
            nets = sample_networks(replace(cfg, target=aim), rng, m)
            labels = list(labeller(nets))
            report.proposed[target] = report.proposed.get(target, 0) + len(nets)
            seen = report.outcomes.setdefault(target, {})
            for net, lab in zip(nets, labels):
                o = lab.outcome
                seen[o] = seen.get(o, 0) + 1
                if o in kept and len(kept[o]) < quota:
                    kept[o].append((net, lab))
    report.kept = {o: len(v) for o, v in kept.items()}
    pairs = [p for o in outcomes for p in kept[o]]
    return [p[0] for p in pairs], [p[1] for p in pairs], report


# ------------------------------------------------------------------ token-free JSON
SCHEMA = "sbmleq.core.reaction_network"


def expr_to_json(e: Expr) -> Any:
    """A number, a name (string) or ``[op, arg, ...]``: the tree as it is (no re-simplifying)."""
    if isinstance(e, Num):
        return e.value
    if isinstance(e, Sym):
        return e.name
    return [e.op, *(expr_to_json(a) for a in e.args)]


def expr_from_json(x: Any) -> Expr:
    if isinstance(x, str):
        return Sym(x)
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return Num(float(x))
    if isinstance(x, list) and x and x[0] in ARITY:
        return Op(x[0], tuple(expr_from_json(a) for a in x[1:]))
    raise NetworkError(f"not a rate-law expression: {str(x)[:60]}", source=SCHEMA)


def network_to_dict(net: ReactionNetwork) -> dict[str, Any]:
    """A JSON-ready dict of ``net`` (round trip exact with :func:`network_from_dict`)."""
    return {
        "schema": SCHEMA, "version": 1, "name": net.name,
        "compartments": dict(net.compartments), "parameters": dict(net.parameters),
        "species": [[s.id, s.compartment, s.initial, s.amount, s.boundary, s.constant]
                    for s in net.species],
        "reactions": [{"id": r.id, "reactants": [list(x) for x in r.reactants],
                       "products": [list(x) for x in r.products], "rate": expr_to_json(r.rate),
                       "modifiers": list(r.modifiers), "reversible": r.reversible,
                       "family": r.family} for r in net.reactions],
        "rate_rules": [[rule.variable, expr_to_json(rule.rate)] for rule in net.rate_rules],
    }


def network_from_dict(d: dict[str, Any]) -> ReactionNetwork:
    if d.get("schema") != SCHEMA:
        raise NetworkError(f"not a {SCHEMA} object", source=str(d.get("name") or SCHEMA))
    species = tuple(Species(i, c, float(x0), bool(a), bool(b), bool(k))
                    for i, c, x0, a, b, k in d["species"])
    reactions = tuple(Reaction(r["id"], tuple((s, float(c)) for s, c in r["reactants"]),
                               tuple((s, float(c)) for s, c in r["products"]),
                               expr_from_json(r["rate"]), tuple(r.get("modifiers", ())),
                               bool(r.get("reversible", False)), r.get("family", ""))
                      for r in d["reactions"])
    rules = tuple(RateRule(v, expr_from_json(e)) for v, e in d.get("rate_rules", ()))
    return ReactionNetwork(species, reactions, d["parameters"], d.get("compartments", {}),
                           rules, name=d.get("name", ""))
