"""The general reaction network: species, reactions with rate laws, parameters, rate rules.

State and units follow SBML as roadrunner reads it:

- the *state* is every species that is neither ``boundary`` nor ``constant`` (in declaration
  order), followed by every parameter or compartment-free variable with a rate rule;
- a species' value is in the unit it is declared in: an amount when ``amount`` is True
  (``hasOnlySubstanceUnits``), else a concentration in its compartment; a species' name in a rate
  law means that value;
- a reaction's rate is in substance per time, so its contribution to a concentration species is
  divided by the compartment size: ``dx_i/dt = sum_j N_ij v_j / V_i`` (``V_i = 1`` for amounts);
- a rate rule gives ``dx/dt`` directly, in the variable's own unit.

Rate laws are :mod:`sbmleq.core.expr` trees over species ids, parameter ids and compartment ids
(assignment rules and function definitions already substituted by the importer). A reaction's
local parameters are named ``reaction_id.parameter_id`` (a dot never occurs in an SBML id).
Every constant lives in ``parameters`` (global parameters, local ones, compartment sizes), so a
scan can set any of them by name.

Conservation laws come from the stoichiometric matrix of the species in the state (rate-rule
variables excluded): :meth:`ReactionNetwork.conservation` (an exact integer basis in amounts),
and their totals from any state in its own units (:meth:`ReactionNetwork.conserved_totals`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from sbmleq.core.conservation import ConservationLaws, conservation_laws
from sbmleq.core.expr import Expr, symbols
from sbmleq.errors import NetworkError

__all__ = ["Species", "Reaction", "RateRule", "ReactionNetwork"]


@dataclass(frozen=True)
class Species:
    id: str
    compartment: str
    initial: float  # in the declared unit (amount when ``amount`` else concentration)
    amount: bool = False  # hasOnlySubstanceUnits
    boundary: bool = False
    constant: bool = False
    name: str = ""
    # allowed negative (a membrane potential held as a species): the solver neither clips it
    # at zero nor rejects a negative value; the importer sets it for a negative initial value
    signed: bool = False

    @property
    def floating(self) -> bool:
        return not (self.boundary or self.constant)


@dataclass(frozen=True)
class Reaction:
    id: str
    reactants: tuple[tuple[str, float], ...]  # (species id, stoichiometry > 0)
    products: tuple[tuple[str, float], ...]
    rate: Expr  # substance per time
    modifiers: tuple[str, ...] = ()
    reversible: bool = False
    family: str = ""  # set by sbmleq.core.families.classify (importer, generators)
    name: str = ""


@dataclass(frozen=True)
class RateRule:
    variable: str  # a parameter (or a species) whose value is state with dx/dt = rate
    rate: Expr


@dataclass(frozen=True, eq=False)
class ReactionNetwork:
    """A validated reaction network (see the module docstring for the state and units)."""

    species: tuple[Species, ...]
    reactions: tuple[Reaction, ...]
    parameters: Mapping[str, float]
    compartments: Mapping[str, float] = field(default_factory=dict)
    rate_rules: tuple[RateRule, ...] = ()
    name: str = ""
    # species set by an assignment rule: their value as an expression of the state and the
    # constants (reported beside the state; the laws already have them substituted)
    assigned: Mapping[str, Expr] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = self.name or "network"
        object.__setattr__(self, "species", tuple(self.species))
        object.__setattr__(self, "reactions", tuple(self.reactions))
        object.__setattr__(self, "rate_rules", tuple(self.rate_rules))
        object.__setattr__(self, "parameters", {str(k): float(v)
                                                for k, v in dict(self.parameters).items()})
        object.__setattr__(self, "compartments", {str(k): float(v)
                                                  for k, v in dict(self.compartments).items()})
        ids: dict[str, str] = {}
        for kind, names in (("species", [s.id for s in self.species]),
                            ("reaction", [r.id for r in self.reactions]),
                            ("parameter", list(self.parameters))):
            for x in names:
                if x in ids and not (kind == "parameter" and ids[x] == "compartment"):
                    raise NetworkError(f"id {x!r} is used twice ({ids[x]} and {kind})",
                                       source=where, element=f"{kind} {x}")
                ids[x] = kind
        for c, size in self.compartments.items():
            if not (math.isfinite(size) and size > 0):
                raise NetworkError(f"compartment size must be finite and > 0, got {size!r}",
                                   source=where, element=f"compartment {c}")
        for p, value in self.parameters.items():
            if math.isnan(value):
                raise NetworkError("parameter value is NaN", source=where,
                                   element=f"parameter {p}")
        for s in self.species:
            if s.compartment not in self.compartments:
                raise NetworkError(f"unknown compartment {s.compartment!r}", source=where,
                                   element=f"species {s.id}")
            if not math.isfinite(s.initial) or (s.initial < 0 and not s.signed):
                raise NetworkError(f"initial value must be finite and >= 0 (or the species "
                                   f"signed), got {s.initial!r}", source=where,
                                   element=f"species {s.id}")
        species = {s.id for s in self.species}
        known = species | set(self.parameters) | set(self.compartments)
        for r in self.reactions:
            for sid, st in (*r.reactants, *r.products):
                if sid not in species:
                    raise NetworkError(f"unknown species {sid!r}", source=where,
                                       element=f"reaction {r.id}")
                if not (math.isfinite(st) and st > 0):
                    raise NetworkError(f"stoichiometry of {sid} must be finite and > 0, got "
                                       f"{st!r}", source=where, element=f"reaction {r.id}")
            for m in r.modifiers:
                if m not in species:
                    raise NetworkError(f"unknown modifier {m!r}", source=where,
                                       element=f"reaction {r.id}")
            missing = sorted(symbols(r.rate) - known)
            if missing:
                raise NetworkError(f"rate law reads undefined symbol(s) {', '.join(missing[:5])}",
                                   source=where, element=f"reaction {r.id}")
        object.__setattr__(self, "assigned", dict(self.assigned))
        for sid, e in self.assigned.items():
            if sid not in species:
                raise NetworkError(f"assigned value for unknown species {sid!r}", source=where,
                                   element=f"assignment rule {sid}")
            missing = sorted(symbols(e) - known)
            if missing:
                raise NetworkError(f"assignment rule reads undefined symbol(s) "
                                   f"{', '.join(missing[:5])}", source=where,
                                   element=f"assignment rule {sid}")
        for rule in self.rate_rules:
            if rule.variable not in self.parameters and rule.variable not in species:
                raise NetworkError(f"rate rule on unknown variable {rule.variable!r}",
                                   source=where, element=f"rate rule {rule.variable}")
            missing = sorted(symbols(rule.rate) - known)
            if missing:
                raise NetworkError(f"rate rule reads undefined symbol(s) "
                                   f"{', '.join(missing[:5])}", source=where,
                                   element=f"rate rule {rule.variable}")

    # ------------------------------------------------------------------ the state
    @cached_property
    def state_species(self) -> tuple[Species, ...]:
        ruled = {r.variable for r in self.rate_rules}
        return tuple(s for s in self.species if s.floating and s.id not in ruled)

    @cached_property
    def state_ids(self) -> tuple[str, ...]:
        """Floating species (no rate rule), then rate-rule variables, in that order."""
        return tuple(s.id for s in self.state_species) + tuple(r.variable
                                                               for r in self.rate_rules)

    @property
    def n_state(self) -> int:
        return len(self.state_ids)

    @cached_property
    def nonnegative(self) -> np.ndarray:
        """Per state variable: True for a species that must stay >= 0 (not ``signed``); False
        for signed species and rate-rule variables (read-only)."""
        out = np.array([not s.signed for s in self.state_species]
                       + [False] * len(self.rate_rules), dtype=bool)
        out.setflags(write=False)
        return out

    @cached_property
    def parameter_ids(self) -> tuple[str, ...]:
        """Constants read by the compiled laws: parameters, then compartment sizes, then
        boundary/constant species values (their initial values), excluding state variables."""
        state = set(self.state_ids)
        fixed = [s.id for s in self.species if s.id not in state]
        out = [p for p in self.parameters if p not in state]
        out += [c for c in self.compartments if c not in self.parameters]
        return tuple(out + fixed)

    def parameter_vector(self, overrides: Mapping[str, float] | None = None) -> np.ndarray:
        values = {**self.compartments, **self.parameters,
                  **{s.id: s.initial for s in self.species}}
        if overrides:
            unknown = sorted(set(overrides) - set(self.parameter_ids))
            if unknown:
                raise NetworkError(f"unknown parameter(s) {', '.join(unknown[:5])}",
                                   source=self.name or "network")
            values.update({k: float(v) for k, v in overrides.items()})
        return np.array([values[p] for p in self.parameter_ids], dtype=np.float64)

    def initial_state(self) -> np.ndarray:
        values = {**self.parameters, **{s.id: s.initial for s in self.species}}
        return np.array([values[x] for x in self.state_ids], dtype=np.float64)

    @cached_property
    def volumes(self) -> np.ndarray:
        """Per state variable: the compartment size a rate is divided by (1 for amounts and
        rate-rule variables)."""
        out = [1.0 if s.amount else self.compartments[s.compartment] for s in self.state_species]
        return np.array(out + [1.0] * len(self.rate_rules), dtype=np.float64)

    @cached_property
    def volume_ids(self) -> tuple[str | None, ...]:
        """Per state variable: the compartment id whose size divides its rate (None: none)."""
        out: list[str | None] = [None if s.amount else s.compartment for s in self.state_species]
        return tuple(out + [None] * len(self.rate_rules))

    # ------------------------------------------------------------------ stoichiometry
    @cached_property
    def stoichiometry(self) -> np.ndarray:
        """(state species x reactions), in amounts: products minus reactants (read-only).
        Rate-rule variables have no row."""
        index = {s.id: i for i, s in enumerate(self.state_species)}
        n = np.zeros((len(index), len(self.reactions)))
        for j, r in enumerate(self.reactions):
            for sid, st in r.reactants:
                if sid in index:
                    n[index[sid], j] -= st
            for sid, st in r.products:
                if sid in index:
                    n[index[sid], j] += st
        n.setflags(write=False)
        return n

    @cached_property
    def conservation(self) -> ConservationLaws:
        """Conservation laws over the state species (amounts). An empty matrix when none."""
        return conservation_laws(self.stoichiometry)

    def conserved_totals(self, state: np.ndarray | None = None) -> np.ndarray:
        """Each law's total for ``state`` (default: the initial state), in amounts."""
        x = self.initial_state() if state is None else np.asarray(state, dtype=np.float64)
        k = len(self.state_species)
        amounts = x[..., :k] * self.volumes[:k]
        return self.conservation.totals(amounts)

    def describe_conservation(self, state: np.ndarray | None = None) -> list[dict[str, Any]]:
        """``[{"species": {id: coefficient}, "total": value}, ...]`` (JSON-ready)."""
        laws = self.conservation.describe([s.id for s in self.state_species])
        totals = self.conserved_totals(state)
        return [{**law, "total": float(t)} for law, t in zip(laws, np.atleast_1d(totals))]

    # ------------------------------------------------------------------ queries
    def species_by_id(self) -> dict[str, Species]:
        return {s.id: s for s in self.species}

    def families(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.reactions:
            out[r.family or "unclassified"] = out.get(r.family or "unclassified", 0) + 1
        return out

    def replace(self, **changes: Any) -> "ReactionNetwork":
        fields = {"species": self.species, "reactions": self.reactions,
                  "parameters": self.parameters, "compartments": self.compartments,
                  "rate_rules": self.rate_rules, "name": self.name,
                  "assigned": self.assigned}
        fields.update(changes)
        return ReactionNetwork(**fields)

    def with_initial(self, values: Mapping[str, float] | Sequence[float]) -> "ReactionNetwork":
        """A copy with new initial values (by species id, or a full state vector)."""
        if not isinstance(values, Mapping):
            values = dict(zip(self.state_ids, map(float, values)))
        species = tuple(Species(s.id, s.compartment, float(values.get(s.id, s.initial)),
                                s.amount, s.boundary, s.constant, s.name, s.signed)
                        for s in self.species)
        params = {**self.parameters,
                  **{k: float(v) for k, v in values.items() if k in self.parameters}}
        return self.replace(species=species, parameters=params)
